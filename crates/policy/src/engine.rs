//! The engine: a policy plus a verdict source, deciding one admission request at a time.

mod decision;
mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

pub use decision::{Decision, DecisionKind, RuleResult};

use crate::document::{Action, Labels, Policy, RuleKind, TemplateMode};
use crate::pss::{PodDecodeError, PodLike};
use crate::verdict::{NoVerdicts, VerdictSource};
use crate::workload;

/// An admission operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CREATE.
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CONNECT (exec, attach, port-forward).
    Connect,
}

impl Operation {
    /// The upper-case name used in AdmissionReview.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// The requesting user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// Username.
    pub username: String,
    /// Groups.
    pub groups: Vec<String>,
}

/// One request to decide: the parts of an AdmissionReview request the engine reads.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The operation.
    pub operation: Operation,
    /// Kind of `object` (`Pod`, `Deployment`, `PodExecOptions`).
    pub kind: &'a str,
    /// Resource (`pods`, `deployments`).
    pub resource: &'a str,
    /// Subresource (`exec`, `ephemeralcontainers`, or empty).
    pub sub_resource: &'a str,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: &'a str,
    /// Object name (may be empty on CREATE).
    pub name: &'a str,
    /// The requester.
    pub user: &'a UserInfo,
    /// The new object (CREATE/UPDATE) or connect options (CONNECT).
    pub object: Option<&'a Value>,
    /// The old object (UPDATE/DELETE).
    pub old_object: Option<&'a Value>,
    /// Labels of the namespace, when known.
    pub namespace_labels: Option<&'a Labels>,
}

/// Pod subresources Pod Security never evaluates.
const IGNORED_POD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

/// The engine. Cheap to share between threads (`Arc`).
pub struct Engine {
    policy: Policy,
    verdicts: Arc<dyn VerdictSource>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.policy.name)
            .finish_non_exhaustive()
    }
}

/// What the engine found in the request's object.
pub(crate) struct Subject<'a> {
    pub pod: Option<PodLike>,
    pub old_pod: Option<PodLike>,
    pub pointer_prefix: &'static str,
    pub is_template: bool,
    pub labels: &'a Labels,
}

impl Engine {
    /// An engine for `policy` with no verdict source (every image counts as unscanned).
    pub fn new(policy: Policy) -> Engine {
        Engine {
            policy,
            verdicts: Arc::new(NoVerdicts),
        }
    }

    /// Uses `source` for scan-result rules.
    pub fn with_verdicts(mut self, source: Arc<dyn VerdictSource>) -> Engine {
        self.verdicts = source;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides `req` at instant `now` (used for `enforceAfter` and scan ages).
    pub fn evaluate(&self, req: &Request<'_>, now: OffsetDateTime) -> Decision {
        let mut d = Decision::new(req);
        if let Some(why) = self.bypassed(req) {
            d.kind = DecisionKind::Bypassed;
            d.audit_annotations.insert("bypass".into(), why);
            return d;
        }
        if req.operation == Operation::Delete {
            return d;
        }
        let empty = BTreeMap::new();
        let labels = req
            .object
            .and_then(|o| o.get("metadata"))
            .and_then(|m| <crate::pss::ObjectMeta as serde::Deserialize>::deserialize(m).ok())
            .map(|m| m.labels);
        let labels_ref = labels.as_ref().unwrap_or(&empty);
        let subject = match self.subject(req, labels_ref) {
            Ok(s) => s,
            Err(e) => return self.undecodable(d, req, e),
        };
        for rule in &self.policy.rules {
            if !rule
                .scope
                .applies(req.namespace, req.namespace_labels, subject.labels)
            {
                continue;
            }
            let mut action = rule.action_at(now);
            if subject.is_template
                && self.policy.templates == TemplateMode::Advisory
                && action == Action::Enforce
            {
                action = Action::Warn;
            }
            let ctx = rules::Ctx {
                req,
                subject: &subject,
                action,
                now,
                verdicts: self.verdicts.as_ref(),
            };
            let results = match &rule.kind {
                RuleKind::PodSecurity(r) => rules::pod_security(&ctx, rule, r),
                RuleKind::Pod(r) => rules::pod_props(&ctx, rule, r),
                RuleKind::Container(r) => rules::container_props(&ctx, rule, r),
                RuleKind::Image(r) => rules::image(&ctx, rule, r),
                RuleKind::ScanResult(r) => rules::scan_result(&ctx, rule, r),
                RuleKind::KubectlAccess(r) => rules::kubectl_access(&ctx, rule, r),
            };
            for r in results {
                d.add(r);
            }
        }
        d.finish();
        d
    }

    fn bypassed(&self, req: &Request<'_>) -> Option<String> {
        let b = &self.policy.bypass;
        if !req.namespace.is_empty()
            && b.namespaces
                .iter()
                .any(|g| crate::scope::glob_match(g, req.namespace))
        {
            return Some(format!(
                "namespace {:?} is in the bypass list",
                req.namespace
            ));
        }
        if !b.opt_out_label.is_empty() {
            if let Some(v) = req.namespace_labels.and_then(|l| l.get(&b.opt_out_label)) {
                if v != "false" {
                    return Some(format!(
                        "namespace {:?} has label {}",
                        req.namespace, b.opt_out_label
                    ));
                }
            }
        }
        None
    }

    fn subject<'l>(
        &self,
        req: &Request<'_>,
        labels: &'l Labels,
    ) -> Result<Subject<'l>, PodDecodeError> {
        let mut s = Subject {
            pod: None,
            old_pod: None,
            pointer_prefix: "",
            is_template: false,
            labels,
        };
        let is_pod_resource = req.resource == "pods" || req.kind == "Pod";
        if is_pod_resource && IGNORED_POD_SUBRESOURCES.contains(&req.sub_resource) {
            return Ok(s);
        }
        let Some(obj) = req.object else { return Ok(s) };
        let Some((pod, prefix)) = workload::pod_of(req.kind, obj) else {
            return Ok(s);
        };
        s.pod = Some(PodLike::from_value(pod)?);
        s.pointer_prefix = prefix;
        s.is_template = req.kind != "Pod";
        if let Some((old, _)) = req.old_object.and_then(|o| workload::pod_of(req.kind, o)) {
            s.old_pod = PodLike::from_value(old).ok();
        }
        Ok(s)
    }

    fn undecodable(&self, mut d: Decision, req: &Request<'_>, e: PodDecodeError) -> Decision {
        use crate::document::FailurePolicy;
        d.audit_annotations.insert("error".into(), e.to_string());
        let deny = match self.policy.failure_policy {
            FailurePolicy::Deny => true,
            FailurePolicy::Allow => false,
        };
        if deny {
            d.kind = DecisionKind::Denied;
            d.code = 400;
            d.message = Some(format!(
                "{} {:?} could not be decoded: {e}",
                d.resource_phrase(),
                req.name
            ));
        } else {
            d.warnings.push(format!(
                "mamori could not decode the object and allowed it: {e}"
            ));
            d.kind = DecisionKind::Warned;
        }
        d
    }
}
