//! mamori's JSON report.
//!
//! The document is an object with these members (schema `mamori.report/v1`; a change that removes
//! or renames a member bumps the version, additions do not):
//!
//! | member | type | meaning |
//! |---|---|---|
//! | `schema` | string | `"mamori.report/v1"` |
//! | `tool` | `{name, version}` | the producer |
//! | `targets` | string[] | what was scanned, as given |
//! | `summary` | `{total, critical, high, medium, low, info, unknown}` | counts per severity |
//! | `findings` | Finding[] | see below |
//!
//! A finding has `rule_id`, `title`, `severity` (lowercase), `area` (NIST SP 800-190 area),
//! `nist` (risk ids such as `3.4.3`), `countermeasures` (`4.4.3`), `references`
//! (`{kind: cis|peer|advisory|url, id}`), `target` (one of `{file: {path}}`, `{image:
//! {reference}}`, `{object: {api_version, kind, namespace?, name}}`, `{process: {container_id,
//! pid, cmdline}}`, or `"scan"`), `location` (`path`, `line`, `column`, `pointer`, `layer`, each
//! optional), `message` and `remediation` (optional).

use std::io::{self, Write};

use serde::Serialize;

use super::{Report, Tool};
use crate::finding::Finding;

/// The schema id written in every report.
pub const SCHEMA: &str = "mamori.report/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    tool: &'a Tool,
    targets: &'a [String],
    summary: Summary,
    findings: Vec<FindingOut<'a>>,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
    unknown: usize,
}

#[derive(Serialize)]
struct FindingOut<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    countermeasures: Vec<String>,
}

/// Writes `report` as pretty-printed JSON followed by a newline.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
    use crate::severity::Severity as S;
    let doc = Document {
        schema: SCHEMA,
        tool: &report.tool,
        targets: &report.targets,
        summary: Summary {
            total: report.findings.len(),
            critical: count(S::Critical),
            high: count(S::High),
            medium: count(S::Medium),
            low: count(S::Low),
            info: count(S::Info),
            unknown: count(S::Unknown),
        },
        findings: report
            .findings
            .iter()
            .map(|f| FindingOut {
                finding: f,
                countermeasures: f.countermeasures(),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}
