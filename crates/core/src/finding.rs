//! One problem found by a scanner.

use serde::{Deserialize, Serialize};

use crate::nist::{risk_by_id, Area};
use crate::severity::Severity;

/// One problem found by a scanner: a misconfiguration, a vulnerable package, a secret.
///
/// The rule id is stable across releases (`MK-K8S-PRIV-001`, `CVE-2024-1234`, `DL3007`), so that
/// suppressions and dashboards keep working when titles change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id of the rule or advisory.
    pub rule_id: String,
    /// Short human title of the rule.
    pub title: String,
    /// How serious the finding is.
    pub severity: Severity,
    /// The NIST SP 800-190 area the finding belongs to.
    pub area: Area,
    /// NIST SP 800-190 risk section ids (`3.4.3`); countermeasures are derived (`4.4.3`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nist: Vec<String>,
    /// References: CIS ids, equivalent peer ids, advisories, URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// What was scanned.
    pub target: Target,
    /// Where in the target, if known.
    #[serde(default, skip_serializing_if = "Location::is_empty")]
    pub location: Location,
    /// What exactly is wrong, for this occurrence.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

impl Finding {
    /// A finding with the given rule, no target detail and an empty message.
    pub fn new(
        rule_id: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
        area: Area,
    ) -> Self {
        Finding {
            rule_id: rule_id.into(),
            title: title.into(),
            severity,
            area,
            nist: Vec::new(),
            references: Vec::new(),
            target: Target::default(),
            location: Location::default(),
            message: String::new(),
            remediation: None,
        }
    }

    /// Sets the target.
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Sets the location.
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = location;
        self
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Sets the remediation.
    pub fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    /// Adds a NIST SP 800-190 risk id (`3.1.4`).
    pub fn with_nist(mut self, risk_id: impl Into<String>) -> Self {
        self.nist.push(risk_id.into());
        self
    }

    /// Adds a reference.
    pub fn with_reference(mut self, reference: Reference) -> Self {
        self.references.push(reference);
        self
    }

    /// The countermeasure ids (section 4) for the finding's risk ids.
    pub fn countermeasures(&self) -> Vec<String> {
        self.nist
            .iter()
            .filter_map(|id| risk_by_id(id))
            .map(|r| r.countermeasure())
            .collect()
    }
}

/// A reference attached to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Reference {
    /// A CIS benchmark recommendation, e.g. `CIS Kubernetes 5.2.2`.
    Cis(String),
    /// An equivalent check of a peer tool, e.g. `CKV_K8S_16` or `DL3007`.
    Peer(String),
    /// An advisory id or alias, e.g. `CVE-2024-3094`, `GHSA-…`.
    Advisory(String),
    /// A web page.
    Url(String),
}

impl Reference {
    /// The reference's id or URL.
    pub fn id(&self) -> &str {
        match self {
            Reference::Cis(s) | Reference::Peer(s) | Reference::Advisory(s) | Reference::Url(s) => {
                s
            }
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Nothing more specific than the scan itself.
    #[default]
    Scan,
    /// A file on disk (manifest, Dockerfile, template).
    File {
        /// Its path as given to the scanner.
        path: String,
    },
    /// A container image.
    Image {
        /// The reference the image was scanned by.
        reference: String,
    },
    /// A Kubernetes object.
    Object {
        /// `apiVersion` of the object.
        api_version: String,
        /// `kind` of the object.
        kind: String,
        /// Namespace, if namespaced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// Name of the object.
        name: String,
    },
    /// A running process.
    Process {
        /// Container id, or `host`.
        container_id: String,
        /// Process id.
        pid: u32,
        /// Command line.
        cmdline: String,
    },
}

impl Target {
    /// A file target.
    pub fn file(path: impl Into<String>) -> Self {
        Target::File { path: path.into() }
    }

    /// An image target.
    pub fn image(reference: impl Into<String>) -> Self {
        Target::Image {
            reference: reference.into(),
        }
    }

    /// A short human name: the path, the image reference, `Kind/namespace/name`, or `pid N`.
    pub fn display_name(&self) -> String {
        match self {
            Target::Scan => "-".to_string(),
            Target::File { path } => path.clone(),
            Target::Image { reference } => reference.clone(),
            Target::Object {
                kind,
                namespace,
                name,
                ..
            } => match namespace {
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{name}"),
            },
            Target::Process {
                container_id, pid, ..
            } => format!("{container_id} pid {pid}"),
        }
    }
}

/// Where in the target a finding is. Every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// File path (inside an image, or the scanned file when the target is an object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// JSON pointer into the document (`/spec/containers/0/securityContext/privileged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Digest of the image layer that introduced the file or package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

impl Location {
    /// A location at `path:line:column`.
    pub fn at(path: impl Into<String>, line: u32, column: u32) -> Self {
        Location {
            path: Some(path.into()),
            line: Some(line),
            column: Some(column),
            ..Location::default()
        }
    }

    /// Whether no part is set.
    pub fn is_empty(&self) -> bool {
        *self == Location::default()
    }

    /// `path:line:col`, `path:line`, `path`, or the pointer/layer, whichever is known.
    pub fn display(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.path {
            out.push_str(p);
            if let Some(l) = self.line {
                out.push_str(&format!(":{l}"));
                if let Some(c) = self.column {
                    out.push_str(&format!(":{c}"));
                }
            }
        }
        if let Some(ptr) = &self.pointer {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(ptr);
        }
        if let Some(layer) = &self.layer {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("layer ");
            out.push_str(layer.get(..19).unwrap_or(layer));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countermeasures_follow_risks() {
        let f = Finding::new("X", "x", Severity::Low, Area::Image)
            .with_nist("3.1.4")
            .with_nist("3.9.9");
        assert_eq!(f.countermeasures(), vec!["4.1.4".to_string()]);
    }

    #[test]
    fn location_display_uses_what_is_known() {
        assert_eq!(Location::at("a.yaml", 3, 7).display(), "a.yaml:3:7");
        let l = Location {
            pointer: Some("/spec".into()),
            ..Location::default()
        };
        assert_eq!(l.display(), "/spec");
        assert!(Location::default().is_empty());
    }

    #[test]
    fn json_round_trip() {
        let f = Finding::new("DL3007", "latest tag", Severity::Medium, Area::Image)
            .with_target(Target::Object {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("default".into()),
                name: "web".into(),
            })
            .with_reference(Reference::Peer("CKV_K8S_14".into()));
        let text = serde_json::to_string(&f).expect("serializes");
        let back: Finding = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, f);
        assert_eq!(back.target.display_name(), "Pod/default/web");
    }
}
