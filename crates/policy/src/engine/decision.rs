//! The outcome of one request: allowed or not, warnings, audit annotations, matched rules; and
//! its conversion to a [`mamori_core::Event`].

use std::collections::BTreeMap;

use mamori_core::event::{Event, EventSource, Value as EventValue};
use serde::Serialize;

use super::Request;
use crate::document::Action;

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Allowed with nothing to report.
    Allowed,
    /// Allowed; some rule recorded an audit result.
    Audited,
    /// Allowed with warnings.
    Warned,
    /// Denied.
    Denied,
    /// Not evaluated: the namespace is bypassed.
    Bypassed,
}

impl DecisionKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Allowed => "allowed",
            DecisionKind::Audited => "audited",
            DecisionKind::Warned => "warned",
            DecisionKind::Denied => "denied",
            DecisionKind::Bypassed => "bypassed",
        }
    }
}

/// What one rule found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    /// The rule id.
    pub rule_id: String,
    /// The rule type (`podSecurity`, `image`, …).
    pub rule_type: &'static str,
    /// The action taken (after `enforceAfter` and template downgrades).
    pub action: Action,
    /// The violation text (for Pod Security: `violates PodSecurity "…": …`).
    pub message: String,
    /// JSON pointer into the request object of the first offending field, when there is one.
    pub pointer: Option<String>,
}

/// The decision on one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The outcome.
    pub kind: DecisionKind,
    /// HTTP-style status code for a denial (403 forbidden, 400 undecodable).
    pub code: u16,
    /// The denial message (`pods "web" is forbidden: …`).
    pub message: Option<String>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
    /// Audit annotations (keys without prefix; the API server prefixes the webhook name).
    pub audit_annotations: BTreeMap<String, String>,
    /// Every rule that matched.
    pub results: Vec<RuleResult>,
    /// Operation.
    pub operation: String,
    /// Kind of the object.
    pub object_kind: String,
    /// Resource (`pods`).
    pub resource: String,
    /// Subresource.
    pub sub_resource: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Requesting user.
    pub user: String,
}

impl Decision {
    pub(super) fn new(req: &Request<'_>) -> Decision {
        Decision {
            kind: DecisionKind::Allowed,
            code: 200,
            message: None,
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
            results: Vec::new(),
            operation: req.operation.as_str().to_string(),
            object_kind: req.kind.to_string(),
            resource: req.resource.to_string(),
            sub_resource: req.sub_resource.to_string(),
            namespace: req.namespace.to_string(),
            name: req.name.to_string(),
            user: req.user.username.clone(),
        }
    }

    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        self.kind != DecisionKind::Denied
    }

    /// `pods` or `deployments.apps`-style resource word for messages (the resource, or the
    /// lowercased kind + `s` when the resource is unknown).
    pub fn resource_phrase(&self) -> String {
        let base = if self.resource.is_empty() {
            format!("{}s", self.object_kind.to_lowercase())
        } else {
            self.resource.clone()
        };
        if self.sub_resource.is_empty() {
            base
        } else {
            format!("{base}/{}", self.sub_resource)
        }
    }

    pub(super) fn add(&mut self, r: RuleResult) {
        self.results.push(r);
    }

    /// Computes kind, message, warnings and annotations from the results.
    pub(super) fn finish(&mut self) {
        let mut denials = Vec::new();
        let mut audits = Vec::new();
        for r in &self.results {
            match r.action {
                Action::Enforce => denials.push(r.message.clone()),
                Action::Warn => self.warnings.push(format!("would {}", would(&r.message))),
                Action::Audit => audits.push(format!("would {}", would(&r.message))),
            }
        }
        if !audits.is_empty() {
            self.audit_annotations
                .insert("audit-violations".into(), audits.join("; "));
        }
        let ids: Vec<&str> = self.results.iter().map(|r| r.rule_id.as_str()).collect();
        if !ids.is_empty() {
            self.audit_annotations.insert("rules".into(), ids.join(","));
        }
        self.kind = if !denials.is_empty() {
            self.code = 403;
            self.message = Some(format!(
                "{} {:?} is forbidden: {}",
                self.resource_phrase(),
                self.name,
                denials.join("; ")
            ));
            DecisionKind::Denied
        } else if !self.warnings.is_empty() {
            DecisionKind::Warned
        } else if !audits.is_empty() {
            DecisionKind::Audited
        } else {
            DecisionKind::Allowed
        };
        self.audit_annotations
            .insert("decision".into(), self.kind.as_str().to_string());
    }

    /// The decision as an admission event (source `admission`), for the same outputs as runtime
    /// alerts.
    pub fn to_event(&self, time_ns: u64) -> Event {
        let s = |v: &str| EventValue::Str(v.to_string());
        let mut e = Event::new(EventSource::Admission, time_ns)
            .with("admission.decision", s(self.kind.as_str()))
            .with("admission.allowed", EventValue::Bool(self.allowed()))
            .with("admission.operation", s(&self.operation))
            .with("admission.resource", s(&self.resource_phrase()))
            .with("admission.kind", s(&self.object_kind))
            .with("admission.name", s(&self.name))
            .with("admission.user", s(&self.user))
            .with("k8s.ns.name", s(&self.namespace))
            .with(
                "admission.rules",
                EventValue::List(self.results.iter().map(|r| r.rule_id.clone()).collect()),
            )
            .with(
                "admission.actions",
                EventValue::List(
                    self.results
                        .iter()
                        .map(|r| r.action.as_str().to_string())
                        .collect(),
                ),
            );
        if self.object_kind == "Pod" {
            e = e.with("k8s.pod.name", s(&self.name));
        }
        if let Some(m) = &self.message {
            e = e.with("admission.message", s(m));
        }
        if !self.warnings.is_empty() {
            e = e.with(
                "admission.warnings",
                EventValue::List(self.warnings.clone()),
            );
        }
        e
    }
}

/// Turns `violates PodSecurity …` into `violate PodSecurity …` for "would …" phrasing.
fn would(message: &str) -> String {
    match message.strip_prefix("violates ") {
        Some(rest) => format!("violate {rest}"),
        None => format!("violate {message}"),
    }
}
