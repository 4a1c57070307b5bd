//! Configuration scanner of mamori: Kubernetes manifests, Dockerfiles and CloudFormation
//! templates, checked against NIST SP 800-190, the CIS benchmarks and the EKS best practices.
//!
//! The crate is pure (it reads the files it is given and nothing else) and reports
//! [`mamori_core::Finding`]s with a rule id, severity, `file:line:col`, NIST risk ids, CIS ids and
//! the equivalent hadolint/checkov id.
//!
//! Main types and functions:
//! - [`scan_paths`]: walks files and directories, detects each file's kind, runs every check;
//! - [`scan_source`] / [`scan_sources`]: the same for in-memory files (tests, fuzzing, editors);
//! - [`Settings`] / [`Limits`]: which checks run, severity floor, input bounds;
//! - [`read_hadolint_config`] → [`DockerfileSettings`]: a `.hadolint.yaml` (ignored rules,
//!   severity overrides, trusted registries, label schema, failure threshold);
//! - [`ScanReport`]: findings plus per-file [`Diagnostic`]s (unreadable or invalid input never
//!   aborts a scan);
//! - [`yaml::read_yaml`], [`json::read_json`], [`dockerfile::parse`]: the readers;
//! - [`rules::RULES`]: the rule catalogue.
//!
//! ```
//! use mamori_config::{scan_source, Settings};
//!
//! let report = scan_source("Dockerfile", "FROM debian:latest\nRUN apt-get install -y curl\n", &Settings::default());
//! let ids: Vec<&str> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
//! assert!(ids.contains(&"DL3007"));
//! assert!(ids.contains(&"DL3008"));
//! assert!(ids.contains(&"MK-DF-001"));
//! ```

pub mod cfn;
pub mod config_file;
pub mod detect;
pub mod dockerfile;
pub mod hadolint;
pub mod json;
pub mod k8s;
pub mod node;
pub mod rules;
mod scan;
pub mod suppress;
pub mod yaml;

use std::collections::BTreeSet;
use std::path::PathBuf;

use mamori_core::{Finding, Severity};

pub use config_file::{apply_config_file, ConfigFileError};
pub use detect::FileKind;
pub use hadolint::{read_hadolint_config, DockerfileSettings};
pub use node::{Node, Pos, Value};
pub use scan::{scan_paths, scan_source, scan_sources};

/// Bounds on hostile input.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Files larger than this are skipped with a diagnostic.
    pub max_bytes: u64,
    /// Maximum nesting depth of a YAML/JSON document.
    pub max_depth: usize,
    /// Maximum number of nodes in one file, alias expansion included.
    pub max_nodes: usize,
    /// Maximum number of YAML documents in one file.
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_depth: 128,
            max_nodes: 2_000_000,
            max_documents: 10_000,
        }
    }
}

/// What to check and report.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Input bounds.
    pub limits: Limits,
    /// When non-empty, only these rule ids are reported.
    pub only: BTreeSet<String>,
    /// Rule ids never reported.
    pub skip: BTreeSet<String>,
    /// Findings below this severity are dropped.
    pub min_severity: Option<Severity>,
    /// Dockerfile rule settings (a `.hadolint.yaml`).
    pub dockerfile: DockerfileSettings,
}

impl Settings {
    /// Whether a finding passes the id and severity filters.
    pub fn keeps(&self, f: &Finding) -> bool {
        let off = rules::OFF_BY_DEFAULT.contains(&f.rule_id.as_str())
            && !self.only.contains(&f.rule_id)
            && !self.dockerfile.severity_overrides.contains_key(&f.rule_id);
        !off && (self.only.is_empty() || self.only.contains(&f.rule_id))
            && !self.skip.contains(&f.rule_id)
            && self.min_severity.is_none_or(|s| f.severity >= s)
    }
}

/// A read or syntax error with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{}: {message}", pos.line, pos.col)]
pub struct ReadError {
    /// Where.
    pub pos: Pos,
    /// What went wrong, lowercase.
    pub message: String,
}

impl ReadError {
    /// A new error.
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        ReadError {
            pos,
            message: message.into(),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagnosticLevel {
    /// Part of a file was skipped (an unknown resource type, a pre-processor construct).
    Warning,
    /// A whole file could not be read or parsed.
    Error,
}

/// A per-file problem that did not stop the scan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Warning or error.
    pub level: DiagnosticLevel,
    /// The file.
    pub path: String,
    /// Where in the file, if known.
    pub pos: Option<Pos>,
    /// What happened.
    pub message: String,
}

impl serde::Serialize for Pos {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Pos", 2)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("col", &self.col)?;
        st.end()
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            DiagnosticLevel::Warning => "warning",
            DiagnosticLevel::Error => "error",
        };
        match self.pos {
            Some(p) => write!(
                f,
                "{level}: {}:{}:{}: {}",
                self.path, p.line, p.col, self.message
            ),
            None => write!(f, "{level}: {}: {}", self.path, self.message),
        }
    }
}

/// Counts of scanned files by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileCounts {
    /// Kubernetes manifests.
    pub kubernetes: usize,
    /// Dockerfiles.
    pub dockerfile: usize,
    /// CloudFormation templates.
    pub cloudformation: usize,
    /// `.env` files scanned for secrets.
    pub env: usize,
    /// YAML/JSON files that were none of the above.
    pub other: usize,
}

/// The result of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Findings that passed the filters, sorted by path, line, column, rule.
    pub findings: Vec<Finding>,
    /// Per-file warnings and errors.
    pub diagnostics: Vec<Diagnostic>,
    /// Files scanned by kind.
    pub files: FileCounts,
    /// Findings removed by inline suppressions.
    pub suppressed: usize,
    /// Findings that fail the run: all of them, except Dockerfile findings below a
    /// `.hadolint.yaml` `failure-threshold` or under `no-fail`.
    pub failing: usize,
}

/// Errors that stop a scan before it starts.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A path given on the command line does not exist or cannot be read.
    #[error("cannot read {path}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
