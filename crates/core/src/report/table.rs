//! The human table: one row per finding, most severe first, and a summary line.

use std::io::{self, Write};

use super::Report;
use crate::severity::Severity;

const HEADERS: [&str; 5] = ["SEVERITY", "RULE", "TARGET", "LOCATION", "MESSAGE"];

/// Writes `report` as a table. With `color`, severities are coloured with ANSI escapes.
pub fn write(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        writeln!(out, "No findings.")?;
        return Ok(());
    }
    let rows: Vec<[String; 5]> = report
        .findings
        .iter()
        .map(|f| {
            let message = if f.message.is_empty() {
                f.title.clone()
            } else {
                f.message.clone()
            };
            [
                f.severity.as_str().to_uppercase(),
                f.rule_id.clone(),
                f.target.display_name(),
                location_cell(f),
                one_line(&message),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(width(cell));
        }
    }
    let header: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    write_row(out, &header, &widths, None, color)?;
    let rule: Vec<String> = widths[..4]
        .iter()
        .map(|w| "-".repeat(*w))
        .chain(std::iter::once("-".repeat(HEADERS[4].len())))
        .collect();
    write_row(out, &rule, &widths, None, false)?;
    for (row, finding) in rows.iter().zip(&report.findings) {
        write_row(out, row, &widths, Some(finding.severity), color)?;
    }
    writeln!(out)?;
    let parts: Vec<String> = report
        .counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let total = report.findings.len();
    let noun = if total == 1 { "finding" } else { "findings" };
    writeln!(out, "{total} {noun}: {}", parts.join(", "))
}

fn write_row(
    out: &mut dyn Write,
    cells: &[String],
    widths: &[usize; 5],
    severity: Option<Severity>,
    color: bool,
) -> io::Result<()> {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let last = i == cells.len() - 1;
        let pad = if last {
            0
        } else {
            widths[i].saturating_sub(width(cell))
        };
        match (i, severity, color) {
            (0, Some(sev), true) => {
                line.push_str(ansi(sev));
                line.push_str(cell);
                line.push_str("\x1b[0m");
            }
            _ => line.push_str(cell),
        }
        if !last {
            line.push_str(&" ".repeat(pad + 2));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// The location, without repeating the path when it is the target's own file.
fn location_cell(f: &crate::finding::Finding) -> String {
    let full = f.location.display();
    match (&f.target, &f.location.path) {
        (crate::finding::Target::File { path }, Some(p)) if p == path => full
            .strip_prefix(path.as_str())
            .map(|rest| format!("line {}", rest.trim_start_matches(':')))
            .filter(|s| s != "line ")
            .unwrap_or(full),
        _ => full,
    }
}

fn ansi(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[34m",
        Severity::Info | Severity::Unknown => "\x1b[2m",
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
