//! What the BPF LSM programs must enforce for one container, computed from the runtime
//! policies: per control, which policy slots enforce it (`need`), and the patterns hashed into
//! the kernel's `patterns` map. Pure: no kernel, unit-tested.

use std::collections::BTreeMap;

use mamori_policy::runtime::{Control, ExecPatterns, Glob, PathGlob, RuntimePolicy, Workload};
use mamori_policy::RuntimePolicySet;
use time::OffsetDateTime;

use super::wire::{
    C_BLOCKED_EXE, C_BLOCKED_FILES, C_DRIFT, C_FILELESS, C_READ_ONLY, C_REVERSE_SHELL, C_SESSION,
    C_SHELL, NCTL,
};

/// Most policy slots a set can tell apart (bits of a `u32`).
pub const MAX_SLOTS: usize = 32;
/// Longest pattern (bytes) the kernel matches (`PATH_K - 1` in `bpf/lsm.bpf.c`).
pub const MAX_PATTERN: usize = 255;

/// How a pattern is matched in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKind {
    /// The whole path.
    Exact = 0,
    /// A literal prefix of the path (a glob ending in `*`).
    Prefix = 1,
    /// The basename of the path.
    Name = 2,
}

/// A glob the kernel cannot match, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsupported {
    /// The policy.
    pub policy: String,
    /// The control.
    pub control: Control,
    /// The glob, or why the policy cannot be placed (`more than 32 policies`).
    pub pattern: String,
}

/// The kernel's view of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KernelPlan {
    /// Per control index (`C_*`), the slots (policy index in the set) that enforce it.
    pub need: [u32; NCTL],
    /// (kind, bytes) → per control, the slots that list the pattern.
    pub patterns: BTreeMap<(MatchKind, Vec<u8>), [u32; NCTL]>,
    /// Controls that stay off in the kernel for this container because a pattern cannot be
    /// matched there (those controls go to the fanotify backend, or are only detected).
    pub unsupported: Vec<Unsupported>,
}

impl KernelPlan {
    /// Whether nothing is enforced in the kernel.
    pub fn is_empty(&self) -> bool {
        self.need.iter().all(|n| *n == 0)
    }

    /// Whether the kernel enforces `control` for this container (some policy slot needs it).
    pub fn enforces(&self, control: Control) -> bool {
        control_index(control).is_some_and(|i| self.need[i] != 0)
    }

    /// Prefix lengths present (the kernel's `sets` value).
    pub fn prefix_lengths(&self) -> [bool; 256] {
        let mut b = [false; 256];
        for (kind, bytes) in self.patterns.keys() {
            if *kind == MatchKind::Prefix && !bytes.is_empty() && bytes.len() <= MAX_PATTERN {
                b[bytes.len()] = true;
            }
        }
        b
    }
}

/// The kernel index of a control (`None`: not enforced by the LSM programs).
pub fn control_index(c: Control) -> Option<usize> {
    Some(match c {
        Control::BlockContainerExec => C_SESSION,
        Control::DriftPrevention => C_DRIFT,
        Control::BlockedExecutables => C_BLOCKED_EXE,
        Control::BlockedFiles => C_BLOCKED_FILES,
        Control::ReadOnlyPaths => C_READ_ONLY,
        Control::ReverseShell => C_REVERSE_SHELL,
        Control::FilelessExec => C_FILELESS,
        Control::BlockedOutbound => return None,
    } as usize)
}

/// The control of a kernel index.
pub fn control_of(i: u32) -> Option<Control> {
    Some(match i {
        C_SESSION => Control::BlockContainerExec,
        C_DRIFT => Control::DriftPrevention,
        C_BLOCKED_EXE => Control::BlockedExecutables,
        C_BLOCKED_FILES => Control::BlockedFiles,
        C_READ_ONLY => Control::ReadOnlyPaths,
        C_REVERSE_SHELL => Control::ReverseShell,
        C_FILELESS => Control::FilelessExec,
        _ => return None,
    })
}

/// A glob as the kernel can match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compiled {
    /// Every string.
    All,
    /// Exactly this.
    Exact(Vec<u8>),
    /// Anything starting with this.
    Prefix(Vec<u8>),
}

/// Compiles a glob into an exact string or a literal prefix followed by `*` (any number of
/// trailing `*`); `None` for anything else (`?`, classes, a `*` before the end).
pub fn compile(glob: &str) -> Option<Compiled> {
    let mut lit = Vec::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                let mut b = [0u8; 4];
                lit.extend_from_slice(n.encode_utf8(&mut b).as_bytes());
            }
            '*' => {
                if chars.all(|c| c == '*') {
                    return Some(if lit.is_empty() {
                        Compiled::All
                    } else {
                        Compiled::Prefix(lit)
                    });
                }
                return None;
            }
            '?' | '[' => return None,
            c => {
                let mut b = [0u8; 4];
                lit.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    (lit.len() <= MAX_PATTERN && !lit.is_empty()).then_some(Compiled::Exact(lit))
}

/// Whether `p` applies to `w`: in scope and not bypassed (the policy engine's rule, see
/// `mamori_policy::runtime`; `tests::applies_agrees_with_the_engine` keeps the two in step).
pub fn applies(p: &RuntimePolicy, w: &Workload<'_>) -> bool {
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

struct Builder {
    plan: KernelPlan,
}

impl Builder {
    fn add(&mut self, kind: MatchKind, bytes: Vec<u8>, ctl: u32, slot: u32) {
        let e = self.plan.patterns.entry((kind, bytes)).or_insert([0; NCTL]);
        e[ctl as usize] |= 1 << slot;
    }

    /// Adds an executable list. `Err(glob)` when one entry cannot be matched in the kernel;
    /// `Ok(true)` when an entry matches everything.
    fn exec_list(&mut self, l: &ExecPatterns, ctl: u32, slot: u32) -> Result<bool, String> {
        let mut staged = Vec::new();
        for g in &l.paths {
            match compile(g.as_str()) {
                Some(Compiled::All) => return Ok(true),
                Some(Compiled::Exact(b)) => staged.push((MatchKind::Exact, b)),
                Some(Compiled::Prefix(b)) => staged.push((MatchKind::Prefix, b)),
                None => return Err(g.as_str().to_string()),
            }
        }
        for g in &l.names {
            match compile(g.as_str()) {
                Some(Compiled::All) => return Ok(true),
                Some(Compiled::Exact(b)) => staged.push((MatchKind::Name, b)),
                _ => return Err(g.as_str().to_string()),
            }
        }
        for (k, b) in staged {
            self.add(k, b, ctl, slot);
        }
        Ok(false)
    }

    fn path_list(&mut self, l: &[PathGlob], ctl: u32, slot: u32) -> Result<(), String> {
        let mut staged = Vec::new();
        for g in l {
            match compile(g.0.as_str()) {
                // Every absolute path starts with '/'.
                Some(Compiled::All) => staged.push((MatchKind::Prefix, b"/".to_vec())),
                Some(Compiled::Exact(b)) => staged.push((MatchKind::Exact, b)),
                Some(Compiled::Prefix(b)) => staged.push((MatchKind::Prefix, b)),
                None => return Err(g.0.as_str().to_string()),
            }
        }
        for (k, b) in staged {
            self.add(k, b, ctl, slot);
        }
        Ok(())
    }
}

/// The kernel plan of a workload at `now`: every enforce-mode policy past its `enforceAfter`
/// that applies to it contributes its controls (audit policies stay on the event path).
pub fn plan_for(set: &RuntimePolicySet, w: &Workload<'_>, now: OffsetDateTime) -> KernelPlan {
    let mut b = Builder {
        plan: KernelPlan::default(),
    };
    let mut shells = false;
    for (i, p) in set.policies().iter().enumerate() {
        if !p.is_blocking_at(now) || !applies(p, w) {
            continue;
        }
        let c = &p.controls;
        let unsupported = |b: &mut Builder, control: Control, pattern: String| {
            b.plan.unsupported.push(Unsupported {
                policy: p.name.clone(),
                control,
                pattern,
            });
        };
        if i >= MAX_SLOTS {
            for control in Control::ALL.into_iter().filter(|k| c.has(*k)) {
                if control_index(control).is_some() {
                    unsupported(
                        &mut b,
                        control,
                        format!("policy #{} (more than {MAX_SLOTS} policies)", i + 1),
                    );
                }
            }
            continue;
        }
        let slot = i as u32;
        let allow_lists = [
            (
                Control::BlockContainerExec,
                &c.block_container_exec,
                C_SESSION,
            ),
            (Control::DriftPrevention, &c.drift_prevention, C_DRIFT),
            (Control::ReverseShell, &c.reverse_shell, C_REVERSE_SHELL),
        ];
        for (control, list, ctl) in allow_lists {
            let Some(list) = list else { continue };
            match b.exec_list(&list.allowed_executables, ctl, slot) {
                Ok(true) => {} // everything allowed: nothing to enforce
                Ok(false) => {
                    b.plan.need[ctl as usize] |= 1 << slot;
                    shells |= ctl == C_REVERSE_SHELL;
                }
                Err(g) => unsupported(&mut b, control, g),
            }
        }
        if let Some(l) = &c.blocked_executables {
            match b.exec_list(l, C_BLOCKED_EXE, slot) {
                Ok(true) => {
                    b.add(MatchKind::Prefix, b"/".to_vec(), C_BLOCKED_EXE, slot);
                    b.plan.need[C_BLOCKED_EXE as usize] |= 1 << slot;
                }
                Ok(false) => b.plan.need[C_BLOCKED_EXE as usize] |= 1 << slot,
                Err(g) => unsupported(&mut b, Control::BlockedExecutables, g),
            }
        }
        for (control, list, ctl) in [
            (Control::BlockedFiles, &c.blocked_files, C_BLOCKED_FILES),
            (Control::ReadOnlyPaths, &c.read_only_paths, C_READ_ONLY),
        ] {
            let Some(list) = list else { continue };
            match b.path_list(list, ctl, slot) {
                Ok(()) => b.plan.need[ctl as usize] |= 1 << slot,
                Err(g) => unsupported(&mut b, control, g),
            }
        }
        if c.fileless_exec.is_some() {
            b.plan.need[C_FILELESS as usize] |= 1 << slot;
        }
    }
    if shells {
        for s in mamori_policy::runtime::SHELLS {
            b.add(MatchKind::Name, s.as_bytes().to_vec(), C_SHELL, 0);
        }
    }
    b.plan
}

/// Whether some enforce-mode policy has a control the kernel cannot match (a glob that is not
/// exact, a literal prefix and `*`, or an exact name; or a policy past the 32nd): containers it
/// applies to also need the fanotify backend for that control.
pub fn set_has_unsupported(set: &RuntimePolicySet) -> bool {
    set.policies().iter().enumerate().any(|(i, p)| {
        if p.mode != mamori_policy::runtime::Mode::Enforce {
            return false;
        }
        if i >= MAX_SLOTS {
            return true;
        }
        let mut b = Builder {
            plan: KernelPlan::default(),
        };
        let c = &p.controls;
        let lists = [
            &c.block_container_exec,
            &c.drift_prevention,
            &c.reverse_shell,
        ];
        lists
            .iter()
            .filter_map(|l| l.as_ref())
            .any(|l| b.exec_list(&l.allowed_executables, C_SESSION, 0).is_err())
            || c.blocked_executables
                .as_ref()
                .is_some_and(|l| b.exec_list(l, C_BLOCKED_EXE, 0).is_err())
            || [&c.blocked_files, &c.read_only_paths]
                .iter()
                .filter_map(|l| l.as_ref())
                .any(|l| b.path_list(l, C_BLOCKED_FILES, 0).is_err())
    })
}

/// FNV-1a, 64 bits (what `match_step` in `bpf/lsm.bpf.c` computes).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(yaml: &str) -> RuntimePolicySet {
        RuntimePolicySet::from_str_named(yaml, "t.yaml").unwrap()
    }

    fn w<'a>(ns: Option<&'a str>) -> Workload<'a> {
        Workload {
            namespace: ns,
            pod_labels: None,
            image: Some("busybox:1"),
            container_name: Some("c"),
        }
    }

    #[test]
    fn globs_compile_to_exact_prefix_or_nothing() {
        assert_eq!(
            compile("/etc/shadow"),
            Some(Compiled::Exact(b"/etc/shadow".to_vec()))
        );
        assert_eq!(compile("/etc/*"), Some(Compiled::Prefix(b"/etc/".to_vec())));
        assert_eq!(
            compile("/tmp/evil**"),
            Some(Compiled::Prefix(b"/tmp/evil".to_vec()))
        );
        assert_eq!(compile("*"), Some(Compiled::All));
        assert_eq!(compile("a\\*b"), Some(Compiled::Exact(b"a*b".to_vec())));
        assert_eq!(compile("/etc/*.conf"), None);
        assert_eq!(compile("/bin/?s"), None);
        assert_eq!(compile("/bin/[ab]"), None);
        assert_eq!(compile(&"x".repeat(300)), None);
    }

    #[test]
    fn fnv_matches_the_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn enforce_policy_fills_need_and_patterns() {
        let s = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: a}\nspec:\n  mode: enforce\n  controls:\n    blockContainerExec: {allowedExecutables: [ls, /bin/date]}\n    driftPrevention: {}\n    readOnlyPaths: [/etc/*]\n    reverseShell: {}\n---\napiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: b}\nspec:\n  mode: audit\n  controls:\n    blockedFiles: [/etc/shadow]\n");
        let now = OffsetDateTime::now_utc();
        let p = plan_for(&s, &w(Some("shop")), now);
        assert_eq!(p.need[C_SESSION as usize], 1);
        assert_eq!(p.need[C_DRIFT as usize], 1);
        assert_eq!(p.need[C_READ_ONLY as usize], 1);
        assert_eq!(
            p.need[C_BLOCKED_FILES as usize], 0,
            "audit policies stay out of the kernel"
        );
        assert_eq!(
            p.patterns[&(MatchKind::Name, b"ls".to_vec())][C_SESSION as usize],
            1
        );
        assert_eq!(
            p.patterns[&(MatchKind::Exact, b"/bin/date".to_vec())][C_SESSION as usize],
            1
        );
        assert_eq!(
            p.patterns[&(MatchKind::Prefix, b"/etc/".to_vec())][C_READ_ONLY as usize],
            1
        );
        assert_eq!(
            p.patterns[&(MatchKind::Name, b"sh".to_vec())][C_SHELL as usize],
            1
        );
        assert!(p.unsupported.is_empty());
        let lens = p.prefix_lengths();
        assert!(lens[5] && lens.iter().filter(|b| **b).count() == 1);
        // kube-system is bypassed by default.
        assert!(plan_for(&s, &w(Some("kube-system")), now).is_empty());
    }

    #[test]
    fn patterns_the_kernel_cannot_match_leave_the_control_out() {
        let s = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: a}\nspec:\n  mode: enforce\n  controls:\n    blockedFiles: [/etc/shadow, /etc/*.key]\n    blockContainerExec: {allowedExecutables: ['*']}\n");
        let p = plan_for(&s, &w(None), OffsetDateTime::now_utc());
        assert_eq!(p.need[C_BLOCKED_FILES as usize], 0);
        assert_eq!(
            p.need[C_SESSION as usize], 0,
            "an allow-all list enforces nothing"
        );
        assert_eq!(p.unsupported.len(), 1);
        assert_eq!(p.unsupported[0].pattern, "/etc/*.key");
        assert_eq!(p.unsupported[0].control, Control::BlockedFiles);
        assert!(set_has_unsupported(&s));
        let ok = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: a}\nspec:\n  mode: enforce\n  controls:\n    blockedFiles: [/etc/shadow, /etc/ssl/*]\n");
        assert!(!set_has_unsupported(&ok));
    }

    #[test]
    fn enforce_after_in_the_future_keeps_the_kernel_empty() {
        let s = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: a}\nspec:\n  mode: enforce\n  enforceAfter: \"2099-01-01T00:00:00Z\"\n  controls:\n    driftPrevention: {}\n");
        assert!(plan_for(&s, &w(None), OffsetDateTime::now_utc()).is_empty());
    }

    #[test]
    fn applies_agrees_with_the_engine() {
        let s = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: a}\nspec:\n  mode: enforce\n  scope: {namespaces: [shop*], images: ['busybox*']}\n  bypass: {namespaces: [shop-dev]}\n  controls:\n    driftPrevention: {}\n");
        let now = OffsetDateTime::now_utc();
        for ns in [
            None,
            Some("shop"),
            Some("shop-dev"),
            Some("kube-system"),
            Some("other"),
        ] {
            let wl = w(ns);
            assert_eq!(
                applies(&s.policies()[0], &wl),
                s.enforces(&wl, Control::DriftPrevention, now),
                "{ns:?}"
            );
        }
    }
}
