//! Runtime policies (the Aqua Enforcer model): what a container may execute, open and connect
//! to, decided per activity by a pure, synchronous engine.
//!
//! The eBPF sensor observes exec/open/modify/connect activity in containers and asks a
//! [`RuntimePolicySet`] for [`Decision`]s; each decision is `detect` or `block`
//! ([`Status`]), and converts to a [`mamori_core::Event`] with [`Decision::to_event`].
//!
//! # The document
//!
//! ```yaml
//! apiVersion: mamori.dev/v1
//! kind: RuntimePolicy
//! metadata: {name: block-exec}
//! spec:
//!   mode: enforce            # audit (default) | enforce
//!   enforceAfter: "2026-12-01T00:00:00Z"   # before it, an enforce policy only detects
//!   scope: {namespaces: ["prod-*"]}        # absent = every container
//!   bypass: {namespaces: [kube-system]}    # absent = [kube-system]
//!   controls:
//!     blockContainerExec: {allowedExecutables: [ls, /bin/date]}
//!     driftPrevention: {}
//! ```
//!
//! Several documents may be in one YAML stream (`---`); a single JSON document is accepted too.
//! Errors name `file:line:col`. See `examples/policies/runtime-enforce.yaml` for every key.
//!
//! # Semantics
//!
//! - **Scope** (`spec.scope`): each criterion written must hold. `namespaces`, `images` and
//!   `containerNames` are globs (any may match); `podLabels` must all be present with equal
//!   values. A criterion the sensor cannot answer (no namespace: a plain runc/docker container;
//!   pod labels unknown; no image or container name) does **not** match, so a scoped policy
//!   never applies to a container it cannot place.
//! - **Bypass** (`spec.bypass`): `namespaces` globs (default `[kube-system]` when not written;
//!   `namespaces: []` removes it) and `images` globs. A container without a namespace is never
//!   bypassed by namespace.
//! - **Globs**: `*` (crossing `/`), `?`, `[a-z]`, `[!a-z]`, `\x`; see [`Glob`].
//! - **Executable lists** (`allowedExecutables`, `blockedExecutables`): an entry with a `/` is a
//!   glob on the resolved path; an entry without one is a glob on the process name, matched
//!   against both the name the sensor reports and the basename of the path. Name entries are
//!   weaker: any binary copied to that name matches them (drift prevention catches the copy).
//! - **Status**: [`Status::Block`] only when the policy's mode is `enforce` and `enforceAfter`
//!   (if any) is at or before `now`; otherwise [`Status::Detect`].
//! - **Order**: [`RuntimePolicySet::evaluate`] returns decisions in policy load order (files in
//!   the order merged, documents in file order), and within one policy in [`Control`] order.
//!
//! What each control reacts to:
//!
//! | control | activity | violated when |
//! |---|---|---|
//! | `blockContainerExec` | Exec | `is_exec_session` and the executable is not allowed |
//! | `driftPrevention` | Exec | `is_upper_layer` and the executable is not allowed |
//! | `blockedExecutables` | Exec | the executable matches an entry |
//! | `blockedFiles` | Open (read or write), Modify | the path matches |
//! | `readOnlyPaths` | Open with `write`, Modify | the path matches |
//! | `blockedOutbound` | Connect | the port is listed, or the address is in a listed network |
//! | `reverseShell` | Exec | `stdio_is_socket`, the executable is a shell ([`SHELLS`], by name or path basename) and not allowed |
//! | `filelessExec` | Exec | `is_fileless` |
//!
//! ```
//! use mamori_policy::runtime::{Activity, Control, RuntimePolicySet, Status, Workload};
//! let set = RuntimePolicySet::from_str_named(r#"
//! apiVersion: mamori.dev/v1
//! kind: RuntimePolicy
//! metadata: {name: no-exec}
//! spec:
//!   mode: enforce
//!   controls:
//!     blockContainerExec: {allowedExecutables: [ls]}
//! "#, "no-exec.yaml").unwrap();
//! let w = Workload { namespace: Some("shop"), pod_labels: None, image: Some("nginx:1.27"),
//!     container_name: Some("web") };
//! let sh = Activity::Exec { path: "/bin/sh", name: "sh", is_exec_session: true,
//!     is_upper_layer: false, is_fileless: false, stdio_is_socket: false };
//! let now = time::OffsetDateTime::now_utc();
//! let d = set.evaluate(&w, &sh, now);
//! assert_eq!(d.len(), 1);
//! assert_eq!(d[0].status, Status::Block);
//! assert_eq!(d[0].message, "exec of /bin/sh in an exec session is not in the allowed list");
//! assert!(set.enforces(&w, Control::BlockContainerExec, now));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use mamori_core::event::{Event, EventSource, Value as EventValue};
use time::OffsetDateTime;

mod cidr;
mod document;
mod glob;

pub use cidr::{Cidr, CidrError};
pub use document::{
    BlockedOutbound, Bypass, Controls, ExecAllowList, ExecPatterns, FilelessExec, Mode, PathGlob,
    RuntimePolicy, RuntimePolicyError, WorkloadScope, DEFAULT_BYPASS_NAMESPACE, KIND,
};
pub use glob::{Glob, GlobError};

use document::basename;

/// Process names the `reverseShell` control treats as shells (`busybox` too: `busybox sh`).
pub const SHELLS: &[&str] = &[
    "sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "mksh", "pdksh", "oksh", "yash", "csh",
    "tcsh", "fish", "busybox",
];

/// A runtime control (one key under `spec.controls`).
#[derive(Copy, Clone, Eq, PartialEq, Ord, PartialOrd, Hash, Debug)]
pub enum Control {
    /// Processes entered through `runc exec` / CRI exec (`kubectl exec`).
    BlockContainerExec,
    /// Executables that are not part of the image (written to the overlay upper layer).
    DriftPrevention,
    /// Executables that may never run.
    BlockedExecutables,
    /// Files that may not be opened at all.
    BlockedFiles,
    /// Paths that may not be written, created, removed, renamed or have their mode changed.
    ReadOnlyPaths,
    /// Outbound connections to ports or networks.
    BlockedOutbound,
    /// A shell whose stdin or stdout is a network socket.
    ReverseShell,
    /// Executing from memory (memfd) or a deleted file.
    FilelessExec,
}

impl Control {
    /// Every control, in evaluation order.
    pub const ALL: [Control; 8] = [
        Control::BlockContainerExec,
        Control::DriftPrevention,
        Control::BlockedExecutables,
        Control::BlockedFiles,
        Control::ReadOnlyPaths,
        Control::BlockedOutbound,
        Control::ReverseShell,
        Control::FilelessExec,
    ];

    /// The stable kebab-case name used in events (`block-container-exec`).
    pub fn as_str(self) -> &'static str {
        match self {
            Control::BlockContainerExec => "block-container-exec",
            Control::DriftPrevention => "drift-prevention",
            Control::BlockedExecutables => "blocked-executables",
            Control::BlockedFiles => "blocked-files",
            Control::ReadOnlyPaths => "read-only-paths",
            Control::BlockedOutbound => "blocked-outbound",
            Control::ReverseShell => "reverse-shell",
            Control::FilelessExec => "fileless-exec",
        }
    }

    /// The key under `spec.controls` (`blockContainerExec`).
    pub fn yaml_key(self) -> &'static str {
        match self {
            Control::BlockContainerExec => "blockContainerExec",
            Control::DriftPrevention => "driftPrevention",
            Control::BlockedExecutables => "blockedExecutables",
            Control::BlockedFiles => "blockedFiles",
            Control::ReadOnlyPaths => "readOnlyPaths",
            Control::BlockedOutbound => "blockedOutbound",
            Control::ReverseShell => "reverseShell",
            Control::FilelessExec => "filelessExec",
        }
    }

    /// The control whose [`Control::yaml_key`] is `key`.
    pub fn from_yaml_key(key: &str) -> Option<Control> {
        Control::ALL.into_iter().find(|c| c.yaml_key() == key)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container an activity happened in, as far as the sensor knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Workload<'a> {
    /// Kubernetes namespace; `None` for a container that is not in a pod (plain runc or
    /// docker): namespace scope globs then do not match and namespace bypasses do not apply.
    pub namespace: Option<&'a str>,
    /// Pod labels; `None` when unknown (a scope with `podLabels` then does not match).
    pub pod_labels: Option<&'a BTreeMap<String, String>>,
    /// Full image reference as the runtime reports it.
    pub image: Option<&'a str>,
    /// Container name.
    pub container_name: Option<&'a str>,
}

/// One observed activity.
#[derive(Debug, Clone, Copy)]
pub enum Activity<'a> {
    /// A successful or attempted `execve`.
    Exec {
        /// Resolved executable path inside the container.
        path: &'a str,
        /// Process name (basename or `comm`).
        name: &'a str,
        /// The process descends from a `runc exec` / CRI exec session (`kubectl exec`).
        is_exec_session: bool,
        /// The executable lives in the overlay upper layer (not part of the image).
        is_upper_layer: bool,
        /// The executable is a memfd or a deleted file.
        is_fileless: bool,
        /// stdin or stdout is a network (AF_INET/AF_INET6) socket.
        stdio_is_socket: bool,
    },
    /// An `open`; `write` also covers create and truncate.
    Open {
        /// Path inside the container.
        path: &'a str,
        /// Opened for writing, creating or truncating.
        write: bool,
    },
    /// A change to a path other than writing its contents.
    Modify {
        /// Path inside the container.
        path: &'a str,
        /// The operation (`unlink`, `rename`, `mkdir`, `chmod`, …), used in messages.
        op: &'a str,
    },
    /// An outbound `connect`.
    Connect {
        /// Destination address.
        addr: IpAddr,
        /// Destination port.
        port: u16,
    },
}

/// What a decision asks the sensor to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Report only.
    Detect,
    /// Prevent the activity (and report).
    Block,
}

impl Status {
    /// `"detect"` or `"block"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Detect => "detect",
            Status::Block => "block",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One policy's verdict on one activity: the control it violates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The policy's name.
    pub policy: String,
    /// The violated control.
    pub control: Control,
    /// Block or detect (after `enforceAfter`).
    pub status: Status,
    /// The policy's configured mode.
    pub mode: Mode,
    /// What happened, for humans.
    pub message: String,
}

impl Decision {
    /// An event with `base`'s time and fields (the sensor's event for the activity), source
    /// [`EventSource::Policy`], plus `policy.name`, `policy.control`, `policy.status`,
    /// `policy.mode` and `policy.message`.
    pub fn to_event(&self, base: &Event) -> Event {
        let s = |v: &str| EventValue::Str(v.to_string());
        let mut e = base.clone();
        e.source = EventSource::Policy;
        e.with("policy.name", s(&self.policy))
            .with("policy.control", s(self.control.as_str()))
            .with("policy.status", s(self.status.as_str()))
            .with("policy.mode", s(self.mode.as_str()))
            .with("policy.message", s(&self.message))
    }
}

/// The `blockedOutbound` lists of one `enforce` policy, for an in-kernel connect filter.
///
/// This says nothing about which containers the lists apply to or whether `enforceAfter` has
/// passed: ask [`RuntimePolicySet::enforces`] with [`Control::BlockedOutbound`] per container,
/// and check [`OutboundBlock::enforce_after`] (or re-ask `enforces` when it passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundBlock<'a> {
    /// The policy's name.
    pub policy: &'a str,
    /// Blocked destination ports (any address).
    pub ports: &'a [u16],
    /// Blocked destination networks (any port).
    pub addresses: &'a [Cidr],
    /// Until this instant the policy only detects.
    pub enforce_after: Option<OffsetDateTime>,
}

/// Validated runtime policies, in load order, with unique names.
#[derive(Debug, Clone, Default)]
pub struct RuntimePolicySet {
    policies: Vec<RuntimePolicy>,
    /// Per policy, the bitmask of its controls ([`Control::bit`]), so that a policy without a
    /// control relevant to an activity is skipped before its scope is matched.
    masks: Vec<u8>,
}

impl RuntimePolicySet {
    /// An empty set (evaluates to no decisions).
    pub fn new() -> Self {
        RuntimePolicySet::default()
    }

    /// Parses every `RuntimePolicy` document in `src` (YAML, `---`-separated; or one JSON
    /// document). `file` names the source in errors, which read `file:line:col: message`.
    pub fn from_str_named(src: &str, file: &str) -> Result<Self, RuntimePolicyError> {
        let mut set = RuntimePolicySet::new();
        for p in document::parse(src, file)? {
            set.push(p);
        }
        Ok(set)
    }

    /// Reads and parses one file.
    pub fn from_path(path: &Path) -> Result<Self, RuntimePolicyError> {
        let src = std::fs::read_to_string(path).map_err(|source| RuntimePolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        RuntimePolicySet::from_str_named(&src, &path.display().to_string())
    }

    /// Appends `other`'s policies after this set's. A name already present is an error and
    /// leaves `self` unchanged.
    pub fn merge(&mut self, other: RuntimePolicySet) -> Result<(), RuntimePolicyError> {
        for p in &other.policies {
            if let Some(prev) = self.policies.iter().find(|q| q.name == p.name) {
                return Err(RuntimePolicyError::Duplicate {
                    name: p.name.clone(),
                    first: prev.origin.clone(),
                    second: p.origin.clone(),
                });
            }
        }
        for p in other.policies {
            self.push(p);
        }
        Ok(())
    }

    fn push(&mut self, p: RuntimePolicy) {
        let controls = Control::ALL
            .iter()
            .filter(|c| p.controls.has(**c))
            .fold(0u8, |m, c| m | c.bit());
        self.masks.push(controls);
        self.policies.push(p);
    }

    fn with_control(&self, control: Control) -> impl Iterator<Item = &RuntimePolicy> {
        self.policies
            .iter()
            .zip(&self.masks)
            .filter(move |(_, m)| *m & control.bit() != 0)
            .map(|(p, _)| p)
    }

    /// The policies, in load order.
    pub fn policies(&self) -> &[RuntimePolicy] {
        &self.policies
    }

    /// Whether the set has no policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Decisions for one activity of one workload at `now`: one per violated control of every
    /// policy that applies to the workload (in scope and not bypassed), in load order and then
    /// [`Control`] order. Empty when nothing is violated.
    pub fn evaluate(
        &self,
        w: &Workload<'_>,
        a: &Activity<'_>,
        now: OffsetDateTime,
    ) -> Vec<Decision> {
        let relevant = relevant_controls(a);
        let mut out = Vec::new();
        if relevant == 0 {
            return out;
        }
        for (p, mask) in self.policies.iter().zip(&self.masks) {
            if mask & relevant == 0 || !applies(p, w) {
                continue;
            }
            check(p, a, relevant & mask, &mut |control, message| {
                out.push(Decision {
                    policy: p.name.clone(),
                    control,
                    status: if p.is_blocking_at(now) {
                        Status::Block
                    } else {
                        Status::Detect
                    },
                    mode: p.mode,
                    message,
                });
            });
        }
        out
    }

    /// Whether a policy that applies to `w` effectively enforces `control` at `now` (mode
    /// `enforce`, `enforceAfter` passed): the containers the sensor must be able to block in.
    pub fn enforces(&self, w: &Workload<'_>, control: Control, now: OffsetDateTime) -> bool {
        self.with_control(control)
            .any(|p| p.is_blocking_at(now) && applies(p, w))
    }

    /// Whether a policy that applies to `w` has `control` (audit or enforce). `now` does not
    /// change the answer today (a policy watches whatever its mode); it is taken so that both
    /// questions are asked the same way.
    pub fn watches(&self, w: &Workload<'_>, control: Control, now: OffsetDateTime) -> bool {
        let _ = now;
        self.with_control(control).any(|p| applies(p, w))
    }

    /// Controls enabled in any policy (audit or enforce), whatever its scope.
    pub fn controls_used(&self) -> BTreeSet<Control> {
        Control::ALL
            .into_iter()
            .filter(|c| self.with_control(*c).next().is_some())
            .collect()
    }

    /// The outbound blocks that are in force for one workload at `now`: enforce-mode policies
    /// past their `enforceAfter`, in scope and not bypassed. The sensor installs these in the
    /// kernel for that container.
    pub fn blocked_outbound_for(
        &self,
        w: &Workload<'_>,
        now: OffsetDateTime,
    ) -> Vec<OutboundBlock<'_>> {
        self.policies
            .iter()
            .filter(|p| p.is_blocking_at(now) && applies(p, w))
            .filter_map(|p| {
                p.controls.blocked_outbound.as_ref().map(|b| OutboundBlock {
                    policy: &p.name,
                    ports: &b.ports,
                    addresses: &b.addresses,
                    enforce_after: p.enforce_after,
                })
            })
            .collect()
    }

    /// The `blockedOutbound` lists of every `enforce` policy, in load order (see
    /// [`OutboundBlock`] for what the caller still has to check).
    pub fn blocked_outbound(&self) -> Vec<OutboundBlock<'_>> {
        self.policies
            .iter()
            .filter(|p| p.mode == Mode::Enforce)
            .filter_map(|p| {
                p.controls.blocked_outbound.as_ref().map(|b| OutboundBlock {
                    policy: &p.name,
                    ports: &b.ports,
                    addresses: &b.addresses,
                    enforce_after: p.enforce_after,
                })
            })
            .collect()
    }
}

/// The controls that can be violated by `a` (a bitmask of [`Control::bit`]).
fn relevant_controls(a: &Activity<'_>) -> u8 {
    match *a {
        Activity::Exec {
            is_exec_session,
            is_upper_layer,
            is_fileless,
            stdio_is_socket,
            ..
        } => {
            let mut m = Control::BlockedExecutables.bit();
            if is_exec_session {
                m |= Control::BlockContainerExec.bit();
            }
            if is_upper_layer {
                m |= Control::DriftPrevention.bit();
            }
            if is_fileless {
                m |= Control::FilelessExec.bit();
            }
            if stdio_is_socket {
                m |= Control::ReverseShell.bit();
            }
            m
        }
        Activity::Open { write, .. } => {
            let mut m = Control::BlockedFiles.bit();
            if write {
                m |= Control::ReadOnlyPaths.bit();
            }
            m
        }
        Activity::Modify { .. } => Control::BlockedFiles.bit() | Control::ReadOnlyPaths.bit(),
        Activity::Connect { .. } => Control::BlockedOutbound.bit(),
    }
}

/// Whether `p` applies to `w`: in scope and not bypassed.
fn applies(p: &RuntimePolicy, w: &Workload<'_>) -> bool {
    let any =
        |globs: &[Glob], v: Option<&str>| v.is_some_and(|v| globs.iter().any(|g| g.is_match(v)));
    let s = &p.scope;
    let in_scope = (s.namespaces.is_empty() || any(&s.namespaces, w.namespace))
        && (s.pod_labels.is_empty()
            || w.pod_labels
                .is_some_and(|l| s.pod_labels.iter().all(|(k, v)| l.get(k) == Some(v))))
        && (s.images.is_empty() || any(&s.images, w.image))
        && (s.container_names.is_empty() || any(&s.container_names, w.container_name));
    in_scope && !any(&p.bypass.namespaces, w.namespace) && !any(&p.bypass.images, w.image)
}

fn is_shell(path: &str, name: &str) -> bool {
    SHELLS.contains(&name) || SHELLS.contains(&basename(path))
}

fn first_path<'g>(globs: &'g [PathGlob], path: &str) -> Option<&'g Glob> {
    globs.iter().map(|g| &g.0).find(|g| g.is_match(path))
}

/// The file controls for one path: `blockedFiles` for any access (described as `access`),
/// `readOnlyPaths` only when the access writes (`write`, its description).
fn check_paths(
    c: &Controls,
    path: &str,
    mask: u8,
    access: &str,
    write: Option<&str>,
    hit: &mut dyn FnMut(Control, String),
) {
    let on = |k: Control| mask & k.bit() != 0;
    if on(Control::BlockedFiles) {
        if let Some(g) = c.blocked_files.as_deref().and_then(|f| first_path(f, path)) {
            hit(
                Control::BlockedFiles,
                format!("{access} matches blocked file {:?}", g.as_str()),
            );
        }
    }
    if let (true, Some(write)) = (on(Control::ReadOnlyPaths), write) {
        if let Some(g) = c
            .read_only_paths
            .as_deref()
            .and_then(|f| first_path(f, path))
        {
            hit(
                Control::ReadOnlyPaths,
                format!("{write} under read-only path {:?}", g.as_str()),
            );
        }
    }
}

/// Calls `hit` for every control in `mask` that `a` violates under `p`, in [`Control`] order.
fn check(p: &RuntimePolicy, a: &Activity<'_>, mask: u8, hit: &mut dyn FnMut(Control, String)) {
    let on = |c: Control| mask & c.bit() != 0;
    let c = &p.controls;
    match *a {
        Activity::Exec {
            path,
            name,
            is_upper_layer,
            ..
        } => {
            let allowed = |l: &Option<ExecAllowList>| {
                l.as_ref()
                    .is_some_and(|l| l.allowed_executables.find(path, name).is_some())
            };
            if on(Control::BlockContainerExec) && !allowed(&c.block_container_exec) {
                hit(
                    Control::BlockContainerExec,
                    format!("exec of {path} in an exec session is not in the allowed list"),
                );
            }
            if on(Control::DriftPrevention) && is_upper_layer && !allowed(&c.drift_prevention) {
                hit(
                    Control::DriftPrevention,
                    format!("exec of {path}, which is not part of the image (drift), is not in the allowed list"),
                );
            }
            if on(Control::BlockedExecutables) {
                if let Some(g) = c
                    .blocked_executables
                    .as_ref()
                    .and_then(|b| b.find(path, name))
                {
                    hit(
                        Control::BlockedExecutables,
                        format!("exec of {path} matches blocked executable {:?}", g.as_str()),
                    );
                }
            }
            if on(Control::ReverseShell) && is_shell(path, name) && !allowed(&c.reverse_shell) {
                hit(
                    Control::ReverseShell,
                    format!("shell {name} ({path}) runs with stdin or stdout on a network socket (reverse shell)"),
                );
            }
            if on(Control::FilelessExec) {
                hit(
                    Control::FilelessExec,
                    format!("exec of {path} from memory (memfd or deleted file)"),
                );
            }
        }
        Activity::Open { path, write } => {
            let rw = if write { "writing" } else { "reading" };
            let opened = format!("open of {path} for {rw}");
            let written = write.then(|| format!("write to {path}"));
            check_paths(c, path, mask, &opened, written.as_deref(), hit);
        }
        Activity::Modify { path, op } => {
            let what = format!("{op} of {path}");
            check_paths(c, path, mask, &what, Some(&what), hit);
        }
        Activity::Connect { addr, port } => {
            if let Some(b) = c
                .blocked_outbound
                .as_ref()
                .filter(|_| on(Control::BlockedOutbound))
            {
                let dest = SocketAddr::new(addr, port);
                if b.ports.contains(&port) {
                    hit(
                        Control::BlockedOutbound,
                        format!("connect to {dest}: port {port} is blocked"),
                    );
                } else if let Some(n) = b.addresses.iter().find(|n| n.contains(addr)) {
                    hit(
                        Control::BlockedOutbound,
                        format!("connect to {dest}: network {n} is blocked"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
