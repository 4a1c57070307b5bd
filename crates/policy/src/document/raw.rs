//! Raw serde shapes of the policy document and their conversion to validated types.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{
    first_duplicate, Action, Bypass, ContainerRule, FailurePolicy, ImageRule, KubectlAccessRule,
    PodRule, PodSecurityRule, RuleKind, ScanResultRule, TemplateMode, API_VERSION,
};
use crate::scope::Scope;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Policy {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    bypass: Bypass,
    #[serde(default)]
    templates: TemplateMode,
    #[serde(default)]
    failure_policy: FailurePolicy,
    #[serde(default)]
    rules: Vec<super::Rule>,
}

impl TryFrom<Policy> for super::Policy {
    type Error = String;
    fn try_from(raw: Policy) -> Result<Self, Self::Error> {
        if raw.api_version != API_VERSION {
            return Err(format!(
                "unsupported apiVersion {:?} (expected {API_VERSION:?})",
                raw.api_version
            ));
        }
        if raw.kind != "Policy" {
            return Err(format!(
                "unsupported kind {:?} (expected \"Policy\")",
                raw.kind
            ));
        }
        if let Some(dup) = first_duplicate(raw.spec.rules.iter().map(|r| r.id.as_str())) {
            return Err(format!("duplicate rule id {dup:?}"));
        }
        Ok(super::Policy {
            name: raw.metadata.name,
            bypass: raw.spec.bypass,
            templates: raw.spec.templates,
            failure_policy: raw.spec.failure_policy,
            rules: raw.spec.rules,
        })
    }
}

impl From<super::Policy> for Policy {
    fn from(p: super::Policy) -> Self {
        Policy {
            api_version: API_VERSION.to_string(),
            kind: "Policy".to_string(),
            metadata: Metadata { name: p.name },
            spec: Spec {
                bypass: p.bypass,
                templates: p.templates,
                failure_policy: p.failure_policy,
                rules: p.rules,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Rule {
    id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enforce_after: Option<String>,
    #[serde(default, skip_serializing_if = "Scope::is_everything")]
    scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod_security: Option<PodSecurityRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod: Option<PodRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container: Option<ContainerRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<ImageRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scan_result: Option<ScanResultRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kubectl_access: Option<KubectlAccessRule>,
}

impl<'de> Deserialize<'de> for super::Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Rule::deserialize(d)?;
        super::Rule::try_from(raw).map_err(serde::de::Error::custom)
    }
}

impl Serialize for super::Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Rule::from(self.clone()).serialize(s)
    }
}

impl TryFrom<Rule> for super::Rule {
    type Error = String;
    fn try_from(raw: Rule) -> Result<Self, Self::Error> {
        if raw.id.is_empty()
            || !raw
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(format!(
                "rule id {:?} must be non-empty letters, digits, '-', '_' or '.'",
                raw.id
            ));
        }
        let mut kinds = Vec::new();
        if let Some(r) = raw.pod_security {
            if r.level == crate::pss::Level::Privileged {
                return Err(format!(
                    "rule {:?}: podSecurity level privileged checks nothing; use baseline or restricted",
                    raw.id
                ));
            }
            kinds.push(RuleKind::PodSecurity(r));
        }
        if let Some(r) = raw.pod {
            kinds.push(RuleKind::Pod(r));
        }
        if let Some(r) = raw.container {
            kinds.push(RuleKind::Container(r));
        }
        if let Some(r) = raw.image {
            kinds.push(RuleKind::Image(r));
        }
        if let Some(r) = raw.scan_result {
            kinds.push(RuleKind::ScanResult(r));
        }
        if let Some(r) = raw.kubectl_access {
            kinds.push(RuleKind::KubectlAccess(r));
        }
        if kinds.len() != 1 {
            return Err(format!(
                "rule {:?} must have exactly one of podSecurity, pod, container, image, scanResult, kubectlAccess (found {})",
                raw.id,
                kinds.len()
            ));
        }
        let enforce_after = match raw.enforce_after {
            None => None,
            Some(s) => Some(OffsetDateTime::parse(&s, &Rfc3339).map_err(|e| {
                format!(
                    "rule {:?}: enforceAfter {s:?} is not an RFC 3339 timestamp: {e}",
                    raw.id
                )
            })?),
        };
        let kind = kinds.remove(0);
        Ok(super::Rule {
            id: raw.id,
            description: raw.description,
            action: raw.action,
            enforce_after,
            scope: raw.scope,
            kind,
        })
    }
}

impl From<super::Rule> for Rule {
    fn from(r: super::Rule) -> Self {
        let mut raw = Rule {
            id: r.id,
            description: r.description,
            action: r.action,
            enforce_after: r.enforce_after.and_then(|t| t.format(&Rfc3339).ok()),
            scope: r.scope,
            pod_security: None,
            pod: None,
            container: None,
            image: None,
            scan_result: None,
            kubectl_access: None,
        };
        match r.kind {
            RuleKind::PodSecurity(k) => raw.pod_security = Some(k),
            RuleKind::Pod(k) => raw.pod = Some(k),
            RuleKind::Container(k) => raw.container = Some(k),
            RuleKind::Image(k) => raw.image = Some(k),
            RuleKind::ScanResult(k) => raw.scan_result = Some(k),
            RuleKind::KubectlAccess(k) => raw.kubectl_access = Some(k),
        }
        raw
    }
}
