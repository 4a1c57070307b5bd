//! Report writers shared by every scanning subcommand, and the exit-code convention.
//!
//! - [`table`]: a human table, coloured when asked to (the binary asks when stdout is a terminal);
//! - [`json`]: mamori's JSON report, a documented and versioned schema ([`json::SCHEMA`]);
//! - [`sarif`]: SARIF 2.1.0 for code-scanning integrations;
//! - [`ExitPolicy`]: `--exit-code N --severity S` → the process exit code.
//!
//! ```
//! use mamori_core::report::{Format, Report};
//! use mamori_core::{Area, Finding, Severity};
//!
//! let report = Report::new("mamori", "0.1.0")
//!     .with_findings(vec![Finding::new("X1", "An example", Severity::Low, Area::Image)]);
//! let mut out = Vec::new();
//! report.write(Format::Json, false, &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("\"rule_id\": \"X1\""));
//! ```

pub mod json;
pub mod sarif;
pub mod table;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::severity::Severity;

/// An output format of the scanning subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A human table.
    Table,
    /// mamori's JSON report.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

impl Format {
    /// The name accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Sarif => "sarif",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no report format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report format {0:?} (expected table, json or sarif)")]
pub struct ParseFormatError(String);

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            _ => Err(ParseFormatError(s.to_string())),
        }
    }
}

/// The tool that produced a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Tool name (`mamori`).
    pub name: String,
    /// Tool version.
    pub version: String,
}

/// Findings of one scan, ready to be written in any [`Format`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Who produced it.
    pub tool: Tool,
    /// What was scanned, as given on the command line.
    #[serde(default)]
    pub targets: Vec<String>,
    /// The findings, in a stable order (see [`Report::sort`]).
    pub findings: Vec<Finding>,
}

impl Report {
    /// An empty report by the given tool.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Report {
            tool: Tool {
                name: name.into(),
                version: version.into(),
            },
            targets: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Sets the scanned targets.
    pub fn with_targets(mut self, targets: Vec<String>) -> Self {
        self.targets = targets;
        self
    }

    /// Sets the findings and sorts them.
    pub fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.findings = findings;
        self.sort();
        self
    }

    /// Sorts findings: most severe first, then by target, location and rule id, so that output is
    /// stable between runs.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.target.display_name().cmp(&b.target.display_name()))
                .then_with(|| a.location.path.cmp(&b.location.path))
                .then_with(|| a.location.line.cmp(&b.location.line))
                .then_with(|| a.location.column.cmp(&b.location.column))
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
    }

    /// Keeps only findings at or above `min`.
    pub fn retain_at_least(&mut self, min: Severity) {
        self.findings.retain(|f| f.severity >= min);
    }

    /// Counts of findings per severity, most severe first, zero counts included.
    pub fn counts(&self) -> Vec<(Severity, usize)> {
        Severity::ALL
            .iter()
            .rev()
            .map(|s| {
                (
                    *s,
                    self.findings.iter().filter(|f| f.severity == *s).count(),
                )
            })
            .collect()
    }

    /// Writes the report in `format`; `color` applies to the table only.
    pub fn write(&self, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Table => table::write(self, color, out),
            Format::Json => json::write(self, out),
            Format::Sarif => sarif::write(self, out),
        }
    }
}

/// The exit-code convention of every scanning subcommand.
///
/// `--exit-code N` makes the command return `N` when findings at or above `--severity` remain
/// (after suppressions); otherwise it returns 0. Usage errors return 2 and operational errors 1,
/// whatever `N` is, so CI can tell "found problems" from "could not scan".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitPolicy {
    /// The code to return when findings remain (0 = never fail on findings).
    pub code: u8,
    /// The least severity that counts.
    pub threshold: Severity,
}

impl Default for ExitPolicy {
    fn default() -> Self {
        ExitPolicy {
            code: 0,
            threshold: Severity::Unknown,
        }
    }
}

impl ExitPolicy {
    /// Exit code for operational errors.
    pub const OPERATIONAL_ERROR: u8 = 1;
    /// Exit code for usage errors.
    pub const USAGE_ERROR: u8 = 2;

    /// The exit code for these findings.
    pub fn exit_code(&self, findings: &[Finding]) -> u8 {
        if findings.iter().any(|f| f.severity >= self.threshold) {
            self.code
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests;
