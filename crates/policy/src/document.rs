//! The policy document: `apiVersion: mamori.dev/v1`, `kind: Policy`, in YAML or JSON.
//!
//! Raw serde types (`deny_unknown_fields`) are converted into validated types with `TryFrom`
//! while deserializing, so every error — an unknown key, a bad value, a rule with two types —
//! carries the file, line and column where it was found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mamori_core::Severity;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::pss::{Level, Version};
use crate::scope::{ImageMatch, Scope};

/// The `apiVersion` a policy document must have.
pub const API_VERSION: &str = "mamori.dev/v1";
/// The namespace mamori runs in by default (bypassed unless the policy says otherwise).
pub const DEFAULT_NAMESPACE: &str = "mamori-system";
/// The namespace label that opts a namespace out of every rule, by default.
pub const DEFAULT_OPT_OUT_LABEL: &str = "mamori.dev/ignore";

/// Loading a policy document failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The document is not a valid policy; `at` is `file:line:col` where known.
    #[error("{at}: {message}")]
    Invalid {
        /// `file:line:col` (or just the file when the position is unknown).
        at: String,
        /// What is wrong.
        message: String,
    },
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Record only (audit annotation and event).
    Audit,
    /// Allow, with a Kubernetes warning shown to the client.
    Warn,
    /// Deny the request.
    Enforce,
}

impl Action {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Audit => "audit",
            Action::Warn => "warn",
            Action::Enforce => "enforce",
        }
    }
}

/// How workload resources (Deployment, Job, …) are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateMode {
    /// Like Pod Security Admission: an `enforce` rule only warns on pod templates; the pods the
    /// controller creates are enforced.
    #[default]
    Advisory,
    /// Rules act on pod templates exactly as on pods.
    Enforce,
}

/// What the webhook answers when the review decodes but its object does not (wrong field types).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Deny (fail closed, as Pod Security Admission does for pods).
    #[default]
    Deny,
    /// Allow with an audit annotation naming the error (fail open).
    Allow,
}

/// A validated policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "raw::Policy", into = "raw::Policy")]
pub struct Policy {
    /// `metadata.name`.
    pub name: String,
    /// Global bypass.
    pub bypass: Bypass,
    /// Treatment of workload pod templates.
    pub templates: TemplateMode,
    /// Answer for undecodable objects.
    pub failure_policy: FailurePolicy,
    /// The rules, in document order.
    pub rules: Vec<Rule>,
}

/// Global bypass: namespaces and a namespace label no rule applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bypass {
    /// Namespace name globs (default `kube-system`, `mamori-system`).
    #[serde(default = "default_bypass_namespaces")]
    pub namespaces: Vec<String>,
    /// A namespace with this label (any value but `"false"`) is bypassed; empty string disables.
    #[serde(default = "default_opt_out_label")]
    pub opt_out_label: String,
}

fn default_bypass_namespaces() -> Vec<String> {
    vec!["kube-system".to_string(), DEFAULT_NAMESPACE.to_string()]
}

fn default_opt_out_label() -> String {
    DEFAULT_OPT_OUT_LABEL.to_string()
}

impl Default for Bypass {
    fn default() -> Self {
        Bypass {
            namespaces: default_bypass_namespaces(),
            opt_out_label: default_opt_out_label(),
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id (used in messages, events and annotations).
    pub id: String,
    /// Free text.
    pub description: String,
    /// What to do on a match.
    pub action: Action,
    /// Before this instant an `enforce` rule only audits.
    pub enforce_after: Option<OffsetDateTime>,
    /// Where the rule applies.
    pub scope: Scope,
    /// What the rule checks.
    pub kind: RuleKind,
}

impl Rule {
    /// The action in force at `now` (an `enforce` rule audits until `enforceAfter`).
    pub fn action_at(&self, now: OffsetDateTime) -> Action {
        match (self.action, self.enforce_after) {
            (Action::Enforce, Some(t)) if now < t => Action::Audit,
            (a, _) => a,
        }
    }
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Pod Security Standards.
    PodSecurity(PodSecurityRule),
    /// Pod-level properties.
    Pod(PodRule),
    /// Container-level properties.
    Container(ContainerRule),
    /// Image references.
    Image(ImageRule),
    /// Scan results through a [`crate::VerdictSource`].
    ScanResult(ScanResultRule),
    /// kubectl exec / attach / port-forward / debug.
    KubectlAccess(KubectlAccessRule),
}

impl RuleKind {
    /// The document key naming the rule type.
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleKind::PodSecurity(_) => "podSecurity",
            RuleKind::Pod(_) => "pod",
            RuleKind::Container(_) => "container",
            RuleKind::Image(_) => "image",
            RuleKind::ScanResult(_) => "scanResult",
            RuleKind::KubectlAccess(_) => "kubectlAccess",
        }
    }
}

/// `podSecurity`: a Pod Security Standards level at a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodSecurityRule {
    /// The level (`baseline` or `restricted`; `privileged` checks nothing).
    pub level: Level,
    /// The version (default `latest`).
    #[serde(default = "latest")]
    pub version: Version,
    /// Let namespace labels `pod-security.kubernetes.io/{enforce,audit,warn}[-version]` set the
    /// level and version per mode (default true).
    #[serde(default = "yes")]
    pub namespace_labels: bool,
    /// Upstream-style exemptions.
    #[serde(default)]
    pub exemptions: Exemptions,
}

fn latest() -> Version {
    Version::Latest
}

fn yes() -> bool {
    true
}

/// Pod Security exemptions, as in the upstream PodSecurityConfiguration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exemptions {
    /// Requesting usernames (exact).
    #[serde(default)]
    pub usernames: Vec<String>,
    /// `spec.runtimeClassName` values (exact).
    #[serde(default)]
    pub runtime_class_names: Vec<String>,
    /// Namespace names (exact).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// `pod`: forbidden pod-level settings (each `true` forbids it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodRule {
    /// `hostNetwork: true`.
    #[serde(default)]
    pub host_network: bool,
    /// `hostPID: true`.
    #[serde(default, rename = "hostPID")]
    pub host_pid: bool,
    /// `hostIPC: true`.
    #[serde(default, rename = "hostIPC")]
    pub host_ipc: bool,
    /// Any `hostPath` volume.
    #[serde(default)]
    pub host_path: bool,
    /// Any container `hostPort`.
    #[serde(default)]
    pub host_port: bool,
    /// Service account token automounted (`automountServiceAccountToken` not `false`).
    #[serde(default)]
    pub automount_service_account_token: bool,
}

/// Capability restriction levels, as in Cloud One.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapabilityRestriction {
    /// No capability may be added.
    RestrictNondefaults,
    /// No capability may be added and `drop` must contain `ALL`.
    RestrictAll,
    /// Only the Pod Security baseline set may be added.
    Baseline,
    /// Pod Security restricted: drop `ALL`, add at most `NET_BIND_SERVICE`.
    Restricted,
}

/// `container`: forbidden container settings (each `true` forbids it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerRule {
    /// `privileged: true`.
    #[serde(default)]
    pub privileged: bool,
    /// `allowPrivilegeEscalation` not set to `false`.
    #[serde(default)]
    pub allow_privilege_escalation: bool,
    /// May run as root: `runAsNonRoot: false` or `runAsUser: 0` (pod or container level).
    #[serde(default)]
    pub run_as_root: bool,
    /// `readOnlyRootFilesystem` not `true`.
    #[serde(default)]
    pub writable_root_filesystem: bool,
    /// Capability restriction.
    #[serde(default)]
    pub capabilities: Option<CapabilityRestriction>,
    /// No `resources.limits.cpu` or `resources.limits.memory`.
    #[serde(default)]
    pub resource_limits_missing: bool,
}

/// `image`: image reference conditions; any condition that holds is a match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageRule {
    /// Matches images tagged `latest` or without tag or digest.
    #[serde(default)]
    pub latest_tag: bool,
    /// Matches images not pinned by digest.
    #[serde(default)]
    pub digest_required: bool,
    /// Matches images whose registry is not in this list (globs); empty = no restriction.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// Matches images for which any of these conditions holds.
    #[serde(default, rename = "match")]
    pub matches: Vec<ImageMatch>,
}

/// `scanResult`: conditions on the image's scan verdict; any condition that holds is a match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanResultRule {
    /// Vulnerabilities of this severity or higher.
    #[serde(default)]
    pub vulnerabilities: Option<VulnerabilityCondition>,
    /// Vulnerabilities with this CVSS attack vector (and optional complexity) at a severity.
    #[serde(default)]
    pub cvss: Option<CvssCondition>,
    /// Secrets found in the image.
    #[serde(default)]
    pub secrets: bool,
    /// Malware found in the image.
    #[serde(default)]
    pub malware: bool,
    /// The image was never scanned, or its last scan is older than `maxScanAgeDays`.
    #[serde(default)]
    pub unscanned: Option<UnscannedCondition>,
}

/// Vulnerabilities of a severity or higher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VulnerabilityCondition {
    /// Minimum severity.
    pub severity: Severity,
    /// Count only vulnerabilities with a fix available.
    #[serde(default)]
    pub fixable_only: bool,
}

/// CVSS attack vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttackVector {
    /// AV:N.
    Network,
    /// AV:A.
    Adjacent,
    /// AV:L.
    Local,
    /// AV:P.
    Physical,
}

/// CVSS attack complexity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttackComplexity {
    /// AC:L.
    Low,
    /// AC:H.
    High,
}

/// CVSS-based condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CvssCondition {
    /// Required attack vector.
    #[serde(default)]
    pub attack_vector: Option<AttackVector>,
    /// Required attack complexity.
    #[serde(default)]
    pub attack_complexity: Option<AttackComplexity>,
    /// Minimum severity (default `low`).
    #[serde(default = "low")]
    pub severity: Severity,
}

fn low() -> Severity {
    Severity::Low
}

/// Unscanned images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnscannedCondition {
    /// A scan older than this many days counts as no scan (0 = any age is fine).
    #[serde(default)]
    pub max_scan_age_days: u32,
}

/// `kubectlAccess`: which interactive access to block, and who may still use it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubectlAccessRule {
    /// `pods/exec` (CONNECT).
    #[serde(default)]
    pub exec: bool,
    /// `pods/attach` (CONNECT).
    #[serde(default)]
    pub attach: bool,
    /// `pods/portforward` (CONNECT).
    #[serde(default)]
    pub port_forward: bool,
    /// `pods/ephemeralcontainers` (UPDATE, `kubectl debug`).
    #[serde(default)]
    pub ephemeral_containers: bool,
    /// Usernames still allowed (globs).
    #[serde(default)]
    pub allowed_users: Vec<String>,
    /// Groups still allowed (exact).
    #[serde(default)]
    pub allowed_groups: Vec<String>,
}

mod raw;

impl Policy {
    /// Parses a policy from YAML (JSON is YAML too, but JSON files get serde_json's positions).
    /// `origin` names the source in errors.
    pub fn from_str_named(text: &str, origin: &str) -> Result<Policy, LoadError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            serde_json::from_str::<Policy>(text).map_err(|e| LoadError::Invalid {
                at: format!("{origin}:{}:{}", e.line(), e.column()),
                message: strip_json_position(&e.to_string()),
            })
        } else {
            serde_saphyr::from_str::<Policy>(text).map_err(|e| yaml_error(origin, &e))
        }
    }

    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::from_str_named(&text, &path.display().to_string())
    }

    /// The policy as JSON (export; importable again with [`Policy::from_str_named`]).
    pub fn to_json(&self) -> String {
        // ok: serializing plain data to a String cannot fail
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A policy that only checks the Pod Security Standards at `lv`, enforced on pods and pod
    /// templates alike, with no bypass and no namespace labels (`mamori policy check
    /// --pod-security`).
    pub fn pod_security_only(lv: crate::pss::LevelVersion) -> Policy {
        let rule = Rule {
            id: "pod-security".to_string(),
            description: format!("Pod Security Standards {lv}"),
            action: Action::Enforce,
            enforce_after: None,
            scope: crate::scope::Scope::default(),
            kind: RuleKind::PodSecurity(PodSecurityRule {
                level: lv.level,
                version: lv.version,
                namespace_labels: false,
                exemptions: Exemptions::default(),
            }),
        };
        Policy {
            name: format!("pod-security-{lv}"),
            bypass: Bypass {
                namespaces: Vec::new(),
                opt_out_label: String::new(),
            },
            templates: TemplateMode::Enforce,
            failure_policy: FailurePolicy::Deny,
            rules: vec![rule],
        }
    }

    /// A policy with the given rules and default settings.
    pub fn with_rules(name: &str, rules: Vec<Rule>) -> Policy {
        Policy {
            name: name.to_string(),
            bypass: Bypass::default(),
            templates: TemplateMode::default(),
            failure_policy: FailurePolicy::default(),
            rules,
        }
    }
}

fn strip_json_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Formats a serde-saphyr error as `origin:line:col: message`.
pub(crate) fn yaml_error(origin: &str, e: &serde_saphyr::Error) -> LoadError {
    let at = match e.location() {
        Some(l) if l.line() > 0 => format!("{origin}:{}:{}", l.line(), l.column()),
        _ => origin.to_string(),
    };
    let text = e.to_string();
    // The rendered error may carry a source snippet after the first line; keep the message only.
    let mut message = text.lines().next().unwrap_or("invalid document").trim();
    message = message.strip_prefix("error: ").unwrap_or(message);
    if let Some(rest) = message.strip_prefix("line ") {
        // Drop the position prefix: it is already in `at`.
        if let Some((_, tail)) = rest.split_once(": ") {
            message = tail;
        }
    }
    let message = message.to_string();
    LoadError::Invalid { at, message }
}

/// Rule ids must be unique; returns the first duplicate.
pub(crate) fn first_duplicate<'a>(ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = BTreeSet::new();
    ids.into_iter().find(|id| !seen.insert(*id))
}

/// Labels of an object or namespace.
pub type Labels = BTreeMap<String, String>;
