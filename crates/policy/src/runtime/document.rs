//! The runtime policy document (`apiVersion: mamori.dev/v1`, `kind: RuntimePolicy`) and its
//! validated form.
//!
//! Every leaf that can be wrong (a glob, a CIDR, a port, a timestamp, a control name) has its
//! own `Deserialize` that validates it, so the error carries the line and column of that very
//! node; document-level checks (apiVersion, kind, name) use the node positions kept with
//! [`serde_saphyr::Spanned`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::cidr::Cidr;
use super::glob::Glob;
use super::Control;
use crate::document::API_VERSION;

/// The `kind` of a runtime policy document.
pub const KIND: &str = "RuntimePolicy";

/// The namespace bypassed when `bypass.namespaces` is not written.
pub const DEFAULT_BYPASS_NAMESPACE: &str = "kube-system";

/// Loading runtime policies failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimePolicyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The document is not a valid runtime policy; `at` is `file:line:col` where known.
    #[error("{at}: {message}")]
    Invalid {
        /// `file:line:col` (or just the file when the position is unknown).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// Two policies have the same name (in one file or across files).
    #[error("{second}: duplicate runtime policy name {name:?} (first defined at {first})")]
    Duplicate {
        /// The name.
        name: String,
        /// `file:line:col` of the first definition.
        first: String,
        /// `file:line:col` of the second one.
        second: String,
    },
}

/// What a policy does when a control is violated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Report only (decisions have status `detect`).
    #[default]
    Audit,
    /// Block (status `block`), once `enforceAfter` has passed.
    Enforce,
}

impl Mode {
    /// `"audit"` or `"enforce"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        }
    }
}

/// One validated runtime policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimePolicy {
    /// `metadata.name`, unique in a [`super::RuntimePolicySet`].
    pub name: String,
    /// `file:line:col` of `metadata.name` (for messages).
    pub origin: String,
    /// The configured mode.
    pub mode: Mode,
    /// Before this instant an `enforce` policy only detects.
    pub enforce_after: Option<OffsetDateTime>,
    /// Which containers the policy applies to.
    pub scope: WorkloadScope,
    /// Containers the policy never applies to.
    pub bypass: Bypass,
    /// The controls.
    pub controls: Controls,
}

impl RuntimePolicy {
    /// Whether the policy blocks at `now`: mode `enforce` and `enforceAfter` absent or passed.
    pub fn is_blocking_at(&self, now: OffsetDateTime) -> bool {
        self.mode == Mode::Enforce && self.enforce_after.is_none_or(|t| now >= t)
    }
}

/// `spec.scope`: every criterion written must hold; an absent or empty criterion holds for all.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadScope {
    /// Namespace globs (any). A container outside Kubernetes (no namespace) does not match.
    #[serde(default)]
    pub namespaces: Vec<Glob>,
    /// Pod labels that must all be present with these exact values. When the sensor does not
    /// know the pod's labels, a scope with `podLabels` does not match.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
    /// Globs on the full image reference as the runtime reports it (any).
    #[serde(default)]
    pub images: Vec<Glob>,
    /// Container name globs (any).
    #[serde(default)]
    pub container_names: Vec<Glob>,
}

/// `spec.bypass`: containers no control of the policy applies to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bypass {
    /// Namespace globs; when not written, `[kube-system]`. Containers without a namespace are
    /// never bypassed by namespace.
    #[serde(default = "default_bypass_namespaces")]
    pub namespaces: Vec<Glob>,
    /// Globs on the full image reference.
    #[serde(default)]
    pub images: Vec<Glob>,
}

fn default_bypass_namespaces() -> Vec<Glob> {
    // ok: a constant literal pattern always compiles
    Glob::new(DEFAULT_BYPASS_NAMESPACE).into_iter().collect()
}

impl Default for Bypass {
    fn default() -> Self {
        Bypass {
            namespaces: default_bypass_namespaces(),
            images: Vec::new(),
        }
    }
}

/// `spec.controls`: each present control is enabled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    /// `blockContainerExec`.
    pub block_container_exec: Option<ExecAllowList>,
    /// `driftPrevention`.
    pub drift_prevention: Option<ExecAllowList>,
    /// `blockedExecutables`.
    pub blocked_executables: Option<ExecPatterns>,
    /// `blockedFiles`.
    pub blocked_files: Option<Vec<PathGlob>>,
    /// `readOnlyPaths`.
    pub read_only_paths: Option<Vec<PathGlob>>,
    /// `blockedOutbound`.
    pub blocked_outbound: Option<BlockedOutbound>,
    /// `reverseShell`.
    pub reverse_shell: Option<ExecAllowList>,
    /// `filelessExec`.
    pub fileless_exec: Option<FilelessExec>,
}

impl Controls {
    /// Whether `control` is enabled.
    pub fn has(&self, control: Control) -> bool {
        match control {
            Control::BlockContainerExec => self.block_container_exec.is_some(),
            Control::DriftPrevention => self.drift_prevention.is_some(),
            Control::BlockedExecutables => self.blocked_executables.is_some(),
            Control::BlockedFiles => self.blocked_files.is_some(),
            Control::ReadOnlyPaths => self.read_only_paths.is_some(),
            Control::BlockedOutbound => self.blocked_outbound.is_some(),
            Control::ReverseShell => self.reverse_shell.is_some(),
            Control::FilelessExec => self.fileless_exec.is_some(),
        }
    }

    /// Whether no control is enabled.
    pub fn is_empty(&self) -> bool {
        !Control::ALL.iter().any(|c| self.has(*c))
    }
}

/// A control with exceptions: `{allowedExecutables: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecAllowList {
    /// Executables the control lets through.
    #[serde(default)]
    pub allowed_executables: ExecPatterns,
}

/// A list of executables: entries with a `/` are globs on the resolved path, others globs on
/// the process name (the basename of the path, or the name the sensor reports).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecPatterns {
    /// Path globs.
    pub paths: Vec<Glob>,
    /// Name globs.
    pub names: Vec<Glob>,
}

impl ExecPatterns {
    /// The first entry matching an executable: a path glob on `path`, or a name glob on
    /// `name` or on the basename of `path` (so a `comm` truncated to 15 characters still
    /// matches by its file name).
    pub fn find(&self, path: &str, name: &str) -> Option<&Glob> {
        if let Some(g) = self.paths.iter().find(|g| g.is_match(path)) {
            return Some(g);
        }
        if self.names.is_empty() {
            return None;
        }
        let base = basename(path);
        self.names
            .iter()
            .find(|g| g.is_match(name) || (base != name && g.is_match(base)))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.names.is_empty()
    }
}

/// The part of `path` after its last `/`.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, b)| b)
}

/// A glob that must be able to match an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob(pub Glob);

/// `blockedOutbound`: a connect is blocked when its port is listed (any address) or its
/// address is in a listed network (any port).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockedOutbound {
    /// Destination ports, 1..=65535.
    pub ports: Vec<u16>,
    /// Destination networks.
    pub addresses: Vec<Cidr>,
}

/// `filelessExec`: no settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilelessExec {}

// ---- Leaf deserializers (each validates its own node) ----

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Glob::new(&s).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let g = Glob::deserialize(d)?;
        if !g.can_match_absolute() {
            return Err(de::Error::custom(format!(
                "path glob {:?} must start with '/' (or a wildcard): paths are absolute",
                g.as_str()
            )));
        }
        Ok(PathGlob(g))
    }
}

impl<'de> Deserialize<'de> for ExecPatterns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry(Glob);
        impl<'de> Deserialize<'de> for Entry {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let g = Glob::deserialize(d)?;
                if g.has_slash() && !g.can_match_absolute() {
                    return Err(de::Error::custom(format!(
                        "executable {:?} has a '/' so it is a path glob, and must start with '/' (or a wildcard)",
                        g.as_str()
                    )));
                }
                Ok(Entry(g))
            }
        }
        let entries = Option::<Vec<Entry>>::deserialize(d)?.unwrap_or_default();
        let (paths, names) = entries.into_iter().map(|e| e.0).partition(Glob::has_slash);
        Ok(ExecPatterns { paths, names })
    }
}

struct Port(u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u16::try_from(n) {
            Ok(p) if p != 0 => Ok(Port(p)),
            _ => Err(de::Error::custom(format!("port {n} is not in 1..=65535"))),
        }
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for BlockedOutbound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            ports: Vec<Port>,
            #[serde(default)]
            addresses: Vec<Cidr>,
        }
        let raw = Option::<Raw>::deserialize(d)?.unwrap_or(Raw {
            ports: Vec::new(),
            addresses: Vec::new(),
        });
        if raw.ports.is_empty() && raw.addresses.is_empty() {
            return Err(de::Error::custom(
                "blockedOutbound lists no ports and no addresses, so it would block nothing",
            ));
        }
        Ok(BlockedOutbound {
            ports: raw.ports.into_iter().map(|p| p.0).collect(),
            addresses: raw.addresses,
        })
    }
}

struct Timestamp(OffsetDateTime);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OffsetDateTime::parse(&s, &Rfc3339)
            .map(Timestamp)
            .map_err(|e| {
                de::Error::custom(format!(
                    "enforceAfter {s:?} is not an RFC 3339 timestamp ({e}); write e.g. \"2026-12-01T00:00:00Z\""
                ))
            })
    }
}

/// `null` (a key written with no value, `filelessExec:`) enables a control with its defaults,
/// like `{}`.
fn enabled<'de, T: Deserialize<'de> + Default, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<T>, A::Error> {
    Ok(Some(map.next_value::<Option<T>>()?.unwrap_or_default()))
}

impl<'de> Deserialize<'de> for Controls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Controls;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of controls")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Controls, E> {
                Ok(Controls::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Controls, A::Error> {
                let mut c = Controls::default();
                while let Some(key) = map.next_key::<String>()? {
                    let Some(control) = Control::from_yaml_key(&key) else {
                        let known: Vec<&str> = Control::ALL.iter().map(|c| c.yaml_key()).collect();
                        return Err(de::Error::custom(format!(
                            "unknown control {key:?} (known controls: {})",
                            known.join(", ")
                        )));
                    };
                    if c.has(control) {
                        return Err(de::Error::custom(format!("control {key:?} given twice")));
                    }
                    match control {
                        Control::BlockContainerExec => c.block_container_exec = enabled(&mut map)?,
                        Control::DriftPrevention => c.drift_prevention = enabled(&mut map)?,
                        Control::BlockedExecutables => {
                            c.blocked_executables = enabled(&mut map)?;
                        }
                        Control::BlockedFiles => c.blocked_files = enabled(&mut map)?,
                        Control::ReadOnlyPaths => c.read_only_paths = enabled(&mut map)?,
                        Control::BlockedOutbound => {
                            // An empty blockedOutbound is an error, so null goes through its
                            // own validation rather than to a default.
                            c.blocked_outbound = Some(map.next_value()?);
                        }
                        Control::ReverseShell => c.reverse_shell = enabled(&mut map)?,
                        Control::FilelessExec => c.fileless_exec = enabled(&mut map)?,
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_any(V)
    }
}

// ---- Document ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDoc {
    api_version: Spanned<String>,
    kind: Spanned<String>,
    metadata: RawMetadata,
    spec: Spanned<RawSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpec {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    enforce_after: Option<Timestamp>,
    #[serde(default)]
    scope: Option<WorkloadScope>,
    #[serde(default)]
    bypass: Option<Bypass>,
    #[serde(default)]
    controls: Controls,
}

fn at(file: &str, l: &serde_saphyr::Location) -> String {
    if l.line() > 0 {
        format!("{file}:{}:{}", l.line(), l.column())
    } else {
        file.to_string()
    }
}

/// Parses every document of `src` (YAML, several documents allowed; or one JSON document).
pub(super) fn parse(src: &str, file: &str) -> Result<Vec<RuntimePolicy>, RuntimePolicyError> {
    let docs: Vec<RawDoc> = serde_saphyr::from_multiple(src).map_err(|e| {
        match crate::document::yaml_error(file, &e) {
            crate::document::LoadError::Invalid { at, message } => RuntimePolicyError::Invalid {
                at,
                // The parser's advice names its own API, which means nothing to a policy author.
                message: message
                    .trim_end_matches(", set DuplicateKeyPolicy in Options if acceptable")
                    .to_string(),
            },
            crate::document::LoadError::Read { path, source } => {
                RuntimePolicyError::Read { path, source }
            }
        }
    })?;
    let mut out = Vec::with_capacity(docs.len());
    for raw in docs {
        let invalid = |l: &serde_saphyr::Location, message: String| RuntimePolicyError::Invalid {
            at: at(file, l),
            message,
        };
        if raw.api_version.value != API_VERSION {
            return Err(invalid(
                &raw.api_version.referenced,
                format!(
                    "unsupported apiVersion {:?} (expected {API_VERSION:?})",
                    raw.api_version.value
                ),
            ));
        }
        if raw.kind.value != KIND {
            return Err(invalid(
                &raw.kind.referenced,
                format!(
                    "unsupported kind {:?} (expected {KIND:?}; admission policies are loaded separately)",
                    raw.kind.value
                ),
            ));
        }
        let name = raw.metadata.name;
        if name.value.trim().is_empty() || name.value.trim() != name.value {
            return Err(invalid(
                &name.referenced,
                format!(
                    "metadata.name {:?} must be non-empty without surrounding spaces",
                    name.value
                ),
            ));
        }
        let spec = raw.spec.value;
        if spec.controls.is_empty() {
            return Err(invalid(
                &raw.spec.referenced,
                format!(
                    "runtime policy {:?} has no controls (spec.controls)",
                    name.value
                ),
            ));
        }
        let origin = at(file, &name.referenced);
        if let Some(prev) = out.iter().find(|p: &&RuntimePolicy| p.name == name.value) {
            return Err(RuntimePolicyError::Duplicate {
                name: name.value,
                first: prev.origin.clone(),
                second: origin,
            });
        }
        out.push(RuntimePolicy {
            name: name.value,
            origin,
            mode: spec.mode,
            enforce_after: spec.enforce_after.map(|t| t.0),
            scope: spec.scope.unwrap_or_default(),
            bypass: spec.bypass.unwrap_or_default(),
            controls: spec.controls,
        });
    }
    Ok(out)
}
