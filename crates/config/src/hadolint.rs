//! hadolint compatibility: the keys of a `.hadolint.yaml` that change what the Dockerfile rules
//! report, read into [`DockerfileSettings`].
//!
//! ```yaml
//! ignored: [DL3008]                 # never report these ids in Dockerfiles
//! override:                         # re-rate ids (and switch on DL3057 / DL1001)
//!   error: [DL3015]
//!   warning: [DL3057]
//!   info: []
//!   style: []
//! trustedRegistries: [docker.io, "*.gcr.io"]   # DL3026
//! label-schema: {maintainer: email, org.opencontainers.image.source: url}  # DL3049–DL3058
//! strict-labels: true               # DL3050
//! failure-threshold: warning        # Dockerfile findings below it do not fail the run
//! no-fail: false                    # Dockerfile findings never fail the run
//! disable-ignore-pragma: false      # `# hadolint ignore=` comments are not honoured
//! ```
//!
//! hadolint's levels map to mamori severities as `error` → high, `warning` → medium,
//! `info` → low, `style` → info. Keys hadolint accepts that only affect its own output
//! (`format`, `output-format`, `no-color`, `verbose`) are accepted and ignored; other keys are
//! reported as warnings (hadolint ignores them silently, but a typo should not go unnoticed).

use std::collections::{BTreeMap, BTreeSet};

use mamori_core::Severity;

use crate::node::{Node, Pos, Value};
use crate::{yaml, Limits, ReadError};

/// The format a label of the label schema must have (hadolint's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelType {
    /// Any non-empty text.
    Text,
    /// An absolute URI (DL3052).
    Url,
    /// A semantic version (DL3056).
    Semver,
    /// A 7 or 40 character git commit id (DL3055).
    Hash,
    /// An RFC 3339 date-time (DL3053).
    Rfc3339,
    /// An SPDX license identifier (DL3054).
    Spdx,
    /// An e-mail address (DL3058).
    Email,
}

impl LabelType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => LabelType::Text,
            "url" => LabelType::Url,
            "semver" => LabelType::Semver,
            "hash" => LabelType::Hash,
            "rfc3339" => LabelType::Rfc3339,
            "spdx" => LabelType::Spdx,
            "email" => LabelType::Email,
            _ => return None,
        })
    }
}

/// When Dockerfile findings fail the run (`failure-threshold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureThreshold {
    /// Findings at or above this severity fail the run.
    AtLeast(Severity),
    /// No Dockerfile finding fails the run (`ignore` / `none`).
    Never,
}

/// Dockerfile settings: hadolint's configuration keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerfileSettings {
    /// Allowed registries for `FROM` (DL3026; empty = rule off). `*` matches any text.
    pub trusted_registries: Vec<String>,
    /// Labels every stage must carry, with their format (DL3049, DL3051–DL3058).
    pub label_schema: BTreeMap<String, LabelType>,
    /// Labels outside the schema are reported (DL3050).
    pub strict_labels: bool,
    /// Rule ids re-rated for Dockerfile findings.
    pub severity_overrides: BTreeMap<String, Severity>,
    /// Rule ids never reported in Dockerfiles.
    pub ignored: BTreeSet<String>,
    /// `# hadolint ignore=` pragmas are not honoured (mamori's own comments still are).
    pub disable_ignore_pragma: bool,
    /// Which Dockerfile findings fail the run; `None` = all of them.
    pub failure_threshold: Option<FailureThreshold>,
    /// Dockerfile findings never fail the run.
    pub no_fail: bool,
}

impl DockerfileSettings {
    /// Whether a Dockerfile finding of this severity fails the run.
    pub fn fails(&self, severity: Severity) -> bool {
        if self.no_fail {
            return false;
        }
        match self.failure_threshold {
            None => true,
            Some(FailureThreshold::Never) => false,
            Some(FailureThreshold::AtLeast(t)) => severity >= t,
        }
    }
}

/// Why a `.hadolint.yaml` was rejected.
#[derive(Debug, thiserror::Error)]
pub enum HadolintConfigError {
    /// Not valid YAML.
    #[error("invalid yaml")]
    Yaml(#[source] ReadError),
    /// Valid YAML with a wrong value.
    #[error("{}:{}: {message}", pos.line, pos.col)]
    Invalid {
        /// Where.
        pos: Pos,
        /// What is wrong.
        message: String,
    },
}

/// A warning about a key that was read but not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

fn invalid(node: &Node, message: impl Into<String>) -> HadolintConfigError {
    HadolintConfigError::Invalid {
        pos: node.pos,
        message: message.into(),
    }
}

fn strings(node: &Node, what: &str) -> Result<Vec<String>, HadolintConfigError> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .map(|i| {
                i.scalar_text()
                    .map(String::from)
                    .ok_or_else(|| invalid(i, format!("expected a {what}")))
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(invalid(node, format!("expected a list ({what} per item)"))),
    }
}

fn boolean(node: &Node) -> Result<bool, HadolintConfigError> {
    match &node.value {
        Value::Null => Ok(false),
        _ => node
            .as_bool()
            .ok_or_else(|| invalid(node, "expected true or false")),
    }
}

/// hadolint's level names.
fn level(node: &Node) -> Result<Option<Severity>, HadolintConfigError> {
    let s = node
        .as_str()
        .ok_or_else(|| invalid(node, "expected error, warning, info, style or ignore"))?;
    Ok(Some(match s {
        "error" => Severity::High,
        "warning" => Severity::Medium,
        "info" => Severity::Low,
        "style" => Severity::Info,
        "ignore" | "none" => return Ok(None),
        other => {
            return Err(invalid(
                node,
                format!("unknown level {other:?} (error, warning, info, style, ignore or none)"),
            ))
        }
    }))
}

/// Reads a `.hadolint.yaml`; returns the settings and warnings for keys that were ignored.
pub fn read_hadolint_config(
    text: &str,
) -> Result<(DockerfileSettings, Vec<ConfigWarning>), HadolintConfigError> {
    let docs = yaml::read_yaml(text, &Limits::default()).map_err(HadolintConfigError::Yaml)?;
    let mut out = DockerfileSettings::default();
    let mut warnings = Vec::new();
    let Some(doc) = docs.first() else {
        return Ok((out, warnings));
    };
    if doc.value == Value::Null {
        return Ok((out, warnings));
    }
    if !doc.is_map() {
        return Err(invalid(doc, "expected a mapping"));
    }
    for (k, v) in doc.entries() {
        let Some(key) = k.as_str() else {
            return Err(invalid(k, "expected a string key"));
        };
        match key {
            "ignored" => out.ignored.extend(strings(v, "rule id")?),
            "override" => {
                if v.value == Value::Null {
                    continue;
                }
                if !v.is_map() {
                    return Err(invalid(v, "expected a mapping of levels to rule ids"));
                }
                for (lk, lv) in v.entries() {
                    let sev = level(lk)?;
                    for id in strings(lv, "rule id")? {
                        match sev {
                            Some(s) => {
                                out.severity_overrides.insert(id, s);
                            }
                            None => {
                                out.ignored.insert(id);
                            }
                        }
                    }
                }
            }
            "trustedRegistries" => out.trusted_registries.extend(strings(v, "registry")?),
            "label-schema" => {
                if v.value == Value::Null {
                    continue;
                }
                if !v.is_map() {
                    return Err(invalid(v, "expected a mapping of label names to formats"));
                }
                for (lk, lv) in v.entries() {
                    let name = lk
                        .scalar_text()
                        .ok_or_else(|| invalid(lk, "expected a label name"))?;
                    let ty = lv.as_str().and_then(LabelType::parse).ok_or_else(|| {
                        invalid(
                            lv,
                            "expected a label format: text, url, semver, hash, rfc3339, spdx or email",
                        )
                    })?;
                    out.label_schema.insert(name.to_string(), ty);
                }
            }
            "strict-labels" => out.strict_labels = boolean(v)?,
            "no-fail" => out.no_fail = boolean(v)?,
            "disable-ignore-pragma" => out.disable_ignore_pragma = boolean(v)?,
            "failure-threshold" => {
                out.failure_threshold = Some(match level(v)? {
                    Some(s) => FailureThreshold::AtLeast(s),
                    None => FailureThreshold::Never,
                })
            }
            "format" | "output-format" | "no-color" | "verbose" => {}
            other => warnings.push(ConfigWarning {
                pos: k.pos,
                message: format!("unknown key {other:?} ignored"),
            }),
        }
    }
    Ok((out, warnings))
}

/// Whether `registry` matches a `trustedRegistries` pattern (`*` matches any text, dots too).
pub(crate) fn registry_matches(pattern: &str, registry: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == registry;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !registry.starts_with(first) || registry.len() < first.len() + last.len() {
        return false;
    }
    if !registry[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &registry[first.len()..registry.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let (s, w) = read_hadolint_config(
            "ignored: [DL3008]\noverride:\n  error: [DL3015]\n  warning: [DL3057]\n  style: [DL3059]\ntrustedRegistries: [docker.io, '*.gcr.io']\nlabel-schema:\n  maintainer: email\n  version: semver\nstrict-labels: true\nfailure-threshold: warning\nno-fail: false\ndisable-ignore-pragma: true\nno-color: true\nbogus: 1\n",
        )
        .unwrap();
        assert!(s.ignored.contains("DL3008"));
        assert_eq!(s.severity_overrides["DL3015"], Severity::High);
        assert_eq!(s.severity_overrides["DL3057"], Severity::Medium);
        assert_eq!(s.severity_overrides["DL3059"], Severity::Info);
        assert_eq!(s.trusted_registries, ["docker.io", "*.gcr.io"]);
        assert_eq!(s.label_schema["maintainer"], LabelType::Email);
        assert!(s.strict_labels && s.disable_ignore_pragma && !s.no_fail);
        assert_eq!(
            s.failure_threshold,
            Some(FailureThreshold::AtLeast(Severity::Medium))
        );
        assert!(s.fails(Severity::High) && !s.fails(Severity::Low));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].to_string(), "15:1: unknown key \"bogus\" ignored");
    }

    #[test]
    fn rejects_wrong_values_with_positions() {
        let e = read_hadolint_config("trustedRegistries: docker.io\n").unwrap_err();
        assert_eq!(e.to_string(), "1:20: expected a list (registry per item)");
        let e = read_hadolint_config("label-schema:\n  a: number\n").unwrap_err();
        assert!(
            e.to_string().starts_with("2:6: expected a label format"),
            "{e}"
        );
        let e = read_hadolint_config("override:\n  fatal: [DL3000]\n").unwrap_err();
        assert!(e.to_string().starts_with("2:3: unknown level"), "{e}");
        assert!(read_hadolint_config("ignored: [\n").is_err());
        assert!(read_hadolint_config("- a\n").is_err());
        assert!(read_hadolint_config("").is_ok());
    }

    #[test]
    fn ignore_level_and_no_fail() {
        let (s, _) =
            read_hadolint_config("override:\n  ignore: [DL3006]\nfailure-threshold: none\n")
                .unwrap();
        assert!(s.ignored.contains("DL3006"));
        assert!(!s.fails(Severity::Critical));
        let (s, _) = read_hadolint_config("no-fail: true\n").unwrap();
        assert!(!s.fails(Severity::High));
        assert!(DockerfileSettings::default().fails(Severity::Info));
    }

    #[test]
    fn registry_globs_like_hadolint() {
        // Probed against hadolint 2.15.1.
        assert!(registry_matches("*.gcr.io", "eu.gcr.io"));
        assert!(registry_matches("*.gcr.io", "a.b.gcr.io"));
        assert!(!registry_matches("*.gcr.io", "gcr.io"));
        assert!(!registry_matches("*.gcr.io", "mygcr.io"));
        assert!(registry_matches("*gcr.io", "mygcr.io"));
        assert!(registry_matches("gcr.*", "gcr.io"));
        assert!(!registry_matches("gcr.*", "eu.gcr.io"));
        assert!(registry_matches("docker.io", "docker.io"));
        assert!(!registry_matches("docker.io", "hub.docker.com"));
        assert!(registry_matches("a*b*c", "aXbYc"));
        assert!(!registry_matches("a*b*c", "acb"));
    }
}
