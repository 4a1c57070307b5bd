//! mamori's policy engines, admission and runtime: pure and synchronous.
//!
//! - [`pss`]: the Pod Security Standards checks exactly as upstream Pod Security Admission runs
//!   them at every version (`v1.0` … `latest`): [`pss::check_pod`] on a [`pss::PodLike`].
//! - [`Policy`]: the policy document (`apiVersion: mamori.dev/v1`, `kind: Policy`, YAML or JSON)
//!   with rules of six types (`podSecurity`, `pod`, `container`, `image`, `scanResult`,
//!   `kubectlAccess`), each with an [`Action`] (audit / warn / enforce), an optional
//!   `enforceAfter` and a [`Scope`]; plus a global bypass.
//! - [`Engine`]: decides one [`Request`] (the parts of an AdmissionReview request) into a
//!   [`Decision`], which converts to a [`mamori_core::Event`]. Scan-result rules ask a
//!   [`VerdictSource`]; without one every image counts as unscanned.
//! - [`runtime`]: runtime policies for the sensor (`kind: RuntimePolicy`, the Aqua Enforcer
//!   model): [`RuntimePolicySet::evaluate`] decides one exec/open/modify/connect [`Activity`] of a
//!   [`Workload`] into [`RuntimeDecision`]s (`detect` or `block`) for controls such as
//!   `blockContainerExec`, `driftPrevention`, `blockedOutbound` and `reverseShell`.
//! - [`manifest`]: loading Kubernetes manifests (multi-document YAML, JSON, `List`) for
//!   `mamori policy check`.
//!
//! ```
//! use mamori_policy::{Engine, Operation, Policy, Request, UserInfo};
//! let policy = Policy::from_str_named(r#"
//! apiVersion: mamori.dev/v1
//! kind: Policy
//! metadata: {name: demo}
//! spec:
//!   rules:
//!   - id: pss
//!     action: enforce
//!     podSecurity: {level: baseline, version: v1.30}
//! "#, "demo.yaml").unwrap();
//! let engine = Engine::new(policy);
//! let pod = serde_json::json!({"kind": "Pod", "metadata": {"name": "web"},
//!     "spec": {"hostPID": true, "containers": [{"name": "c", "image": "nginx:1.27"}]}});
//! let user = UserInfo::default();
//! let req = Request { operation: Operation::Create, kind: "Pod", resource: "pods",
//!     sub_resource: "", namespace: "team-a", name: "web", user: &user, object: Some(&pod),
//!     old_object: None, namespace_labels: None };
//! let d = engine.evaluate(&req, time::OffsetDateTime::UNIX_EPOCH);
//! assert!(!d.allowed());
//! assert_eq!(d.message.as_deref(), Some("pods \"web\" is forbidden: violates PodSecurity \"baseline:v1.30\": host namespaces (hostPID=true)"));
//! ```

pub mod document;
pub mod engine;
pub mod manifest;
pub mod pss;
pub mod runtime;
pub mod scope;
pub mod verdict;
pub mod workload;

pub use document::{Action, LoadError, Policy, Rule, RuleKind};
pub use engine::{Decision, DecisionKind, Engine, Operation, Request, RuleResult, UserInfo};
pub use runtime::{
    Activity, Control, Decision as RuntimeDecision, Mode as RuntimeMode, RuntimePolicy,
    RuntimePolicyError, RuntimePolicySet, Status as RuntimeStatus, Workload,
};
pub use scope::Scope;
pub use verdict::{ImageVerdict, VerdictError, VerdictSource, VerdictVulnerability};
