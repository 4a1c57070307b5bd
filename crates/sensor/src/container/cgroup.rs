//! cgroup paths → container ids.
//!
//! Runtimes name a container's cgroup after its id, in a handful of shapes that depend on the
//! runtime, the cgroup driver (cgroupfs or systemd) and the cgroup version:
//!
//! | shape | runtime |
//! |---|---|
//! | `/docker/<64 hex>` | Docker, cgroupfs |
//! | `/system.slice/docker-<64 hex>.scope` | Docker, systemd |
//! | `/kubepods/besteffort/pod<uid>/<64 hex>` | kubelet cgroupfs (containerd, or Docker via dockershim) |
//! | `/kubepods.slice/…/kubepods-…-pod<uid_with_underscores>.slice/cri-containerd-<64 hex>.scope` | containerd, systemd |
//! | `…/crio-<64 hex>.scope`, `…/pod<uid>/crio-<64 hex>` | CRI-O (`crio-conmon-…` is the monitor, not a container) |
//! | `…/libpod-<64 hex>.scope`, `/libpod_parent/libpod-<64 hex>` | Podman (`libpod-conmon-…` is the monitor) |
//! | `/<name>` | plain `runc run`: the default `cgroupsPath` is `/<container id>` |
//!
//! The last shape is ambiguous (a host service could sit in a one-component cgroup too), so it is
//! reported as [`RuntimeKind::Runc`] and only means "a container if a runtime state dir has
//! this id"; the resolver checks that.

use super::RuntimeKind;

/// A container id recognised in a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerIdMatch {
    /// The full container id (64 hex digits, or a runc name for [`RuntimeKind::Runc`]).
    pub id: String,
    /// The runtime the path shape points to ([`RuntimeKind::Cri`] when only "a kubelet-managed
    /// container" is known).
    pub runtime: RuntimeKind,
    /// The pod uid, with systemd's `_` turned back into `-`, when the path holds one.
    pub pod_uid: Option<String>,
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupEntry {
    /// The hierarchy id (`0` for the cgroup v2 unified hierarchy).
    pub hierarchy: u32,
    /// The controllers (`["cpu", "cpuacct"]`, `["name=systemd"]`; empty for v2).
    pub controllers: Vec<String>,
    /// The cgroup path relative to the hierarchy's root (`/`, `/docker/<id>`).
    pub path: String,
}

impl CgroupEntry {
    /// Whether this is the cgroup v2 line (`0::<path>`).
    pub fn is_v2(&self) -> bool {
        self.hierarchy == 0 && self.controllers.is_empty()
    }
}

/// Parses `/proc/<pid>/cgroup`. Lines that are not `number:controllers:path` are skipped.
pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupEntry> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.trim().parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            if !path.starts_with('/') {
                return None;
            }
            Some(CgroupEntry {
                hierarchy,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: path.to_string(),
            })
        })
        .collect()
}

/// The v1 controllers whose paths name containers reliably, best first.
const V1_PREFERENCE: &[&str] = &["name=systemd", "pids", "memory", "cpu"];

/// The cgroup paths worth trying for container-id detection, best first: the v2 path when it
/// is not `/`, then the `name=systemd`, `pids`, `memory` and `cpu` v1 paths that are not `/`.
/// On a hybrid host a runtime may place the container in v1 only (v2 stays `/`), and a host
/// may put every process under some v1 prefix (this is why all candidates are returned).
pub fn cgroup_paths_by_preference(entries: &[CgroupEntry]) -> Vec<&str> {
    let v2 = entries.iter().filter(|e| e.is_v2());
    let v1 = V1_PREFERENCE.iter().flat_map(|want| {
        entries
            .iter()
            .filter(move |e| e.controllers.iter().any(|c| c == want))
    });
    let mut out: Vec<&str> = Vec::new();
    for e in v2.chain(v1) {
        // `out` holds at most 5 entries; the linear check is cheaper than a set.
        if e.path != "/" && !out.contains(&e.path.as_str()) {
            out.push(&e.path);
        }
    }
    out
}

/// The best path for container-id detection (first of [`cgroup_paths_by_preference`]).
pub fn best_cgroup_path(entries: &[CgroupEntry]) -> Option<&str> {
    cgroup_paths_by_preference(entries).into_iter().next()
}

/// The container id in a `/proc/<pid>/cgroup` text: the first candidate path (in the order of
/// [`cgroup_paths_by_preference`]) that names one.
pub fn container_id_from_proc_cgroup(text: &str) -> Option<ContainerIdMatch> {
    let entries = parse_proc_cgroup(text);
    cgroup_paths_by_preference(&entries)
        .into_iter()
        .find_map(container_id_from_cgroup)
}

/// Recognises a container id in a cgroup path, or in a whole `/proc/<pid>/cgroup` line
/// (`4:memory:/docker/<id>`). See the module docs for the shapes. Never panics.
pub fn container_id_from_cgroup(line_or_path: &str) -> Option<ContainerIdMatch> {
    let path = strip_line_prefix(line_or_path.trim());
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let pod_uid = pod_uid(&components);
    let in_kubepods = components.iter().any(|c| c.starts_with("kubepods"));
    // The innermost recognisable component wins (Docker-in-Docker nests `/docker/<a>/docker/<b>`).
    for (i, comp) in components.iter().enumerate().rev() {
        let parent = i.checked_sub(1).map(|p| components[p]);
        match classify(comp, parent, in_kubepods) {
            Component::Container(id, runtime) => {
                return Some(ContainerIdMatch {
                    id: id.to_string(),
                    runtime,
                    pod_uid,
                });
            }
            Component::Monitor => return None,
            Component::Other => {}
        }
    }
    match components.as_slice() {
        [only] if is_runc_id(only) && !is_systemd_unit(only) => Some(ContainerIdMatch {
            id: only.to_string(),
            runtime: RuntimeKind::Runc,
            pod_uid: None,
        }),
        _ => None,
    }
}

enum Component<'a> {
    Container(&'a str, RuntimeKind),
    /// A runtime's monitor process (conmon), which is not a container.
    Monitor,
    Other,
}

fn classify<'a>(comp: &'a str, parent: Option<&str>, in_kubepods: bool) -> Component<'a> {
    let unscoped = comp.strip_suffix(".scope").unwrap_or(comp);
    if unscoped.starts_with("crio-conmon-") || unscoped.starts_with("libpod-conmon-") {
        return Component::Monitor;
    }
    const PREFIXED: &[(&str, RuntimeKind)] = &[
        ("cri-containerd-", RuntimeKind::Containerd),
        ("crio-", RuntimeKind::CriO),
        ("docker-", RuntimeKind::Docker),
        ("libpod-", RuntimeKind::Podman),
    ];
    for (prefix, kind) in PREFIXED {
        if let Some(id) = unscoped.strip_prefix(prefix) {
            if is_hex64(id) {
                return Component::Container(id, *kind);
            }
        }
    }
    if is_hex64(comp) {
        let kind = match parent {
            Some("docker") => RuntimeKind::Docker,
            Some("libpod_parent") => RuntimeKind::Podman,
            _ if in_kubepods => RuntimeKind::Cri,
            _ => RuntimeKind::Unknown,
        };
        return Component::Container(comp, kind);
    }
    Component::Other
}

/// `N:controllers:/path` → `/path`; anything else is taken as a path already.
fn strip_line_prefix(s: &str) -> &str {
    if s.starts_with('/') {
        return s;
    }
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(_), Some(path))
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            path
        }
        _ => s,
    }
}

/// The pod uid from `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid_underscored>.slice`.
fn pod_uid(components: &[&str]) -> Option<String> {
    components.iter().find_map(|c| {
        let c = c.strip_suffix(".slice").unwrap_or(c);
        let rest = if let Some(r) = c.strip_prefix("pod") {
            r
        } else if c.starts_with("kubepods-") {
            &c[c.rfind("-pod")? + 4..]
        } else {
            return None;
        };
        let ok = rest.len() >= 8
            && rest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
        ok.then(|| rest.replace('_', "-"))
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// runc's id rule: `^[\w+-\.]+$` (the class range `+-\.` is `+ , - .`), and not `.` or `..`.
pub(crate) fn is_runc_id(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b',' | b'-' | b'.'))
}

fn is_systemd_unit(s: &str) -> bool {
    const UNITS: &[&str] = &[
        ".scope", ".slice", ".service", ".mount", ".socket", ".swap", ".target",
    ];
    UNITS.iter().any(|u| s.ends_with(u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "3f4c0e1b9a7d2c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6";
    const UID: &str = "5a8b2c1d-3e4f-4a5b-9c6d-7e8f9a0b1c2d";

    fn m(id: &str, runtime: RuntimeKind, pod: Option<&str>) -> Option<ContainerIdMatch> {
        Some(ContainerIdMatch {
            id: id.to_string(),
            runtime,
            pod_uid: pod.map(str::to_string),
        })
    }

    #[test]
    fn recognises_runtime_cgroup_shapes() {
        let uid_ = UID.replace('-', "_");
        let cases: Vec<(String, Option<ContainerIdMatch>)> = vec![
            (format!("/docker/{ID}"), m(ID, RuntimeKind::Docker, None)),
            (format!("12:memory:/docker/{ID}"), m(ID, RuntimeKind::Docker, None)),
            (
                format!("0::/system.slice/docker-{ID}.scope"),
                m(ID, RuntimeKind::Docker, None),
            ),
            (
                format!("/kubepods/besteffort/pod{UID}/{ID}"),
                m(ID, RuntimeKind::Cri, Some(UID)),
            ),
            (
                format!("/kubepods/pod{UID}/{ID}"),
                m(ID, RuntimeKind::Cri, Some(UID)),
            ),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{ID}.scope"),
                m(ID, RuntimeKind::Containerd, Some(UID)),
            ),
            (
                format!("0::/kubepods.slice/kubepods-pod{uid_}.slice/cri-containerd-{ID}.scope"),
                m(ID, RuntimeKind::Containerd, Some(UID)),
            ),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/crio-{ID}.scope"),
                m(ID, RuntimeKind::CriO, Some(UID)),
            ),
            (
                format!("/kubepods/besteffort/pod{UID}/crio-{ID}"),
                m(ID, RuntimeKind::CriO, Some(UID)),
            ),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/crio-conmon-{ID}.scope"),
                None,
            ),
            (
                format!("/machine.slice/libpod-{ID}.scope"),
                m(ID, RuntimeKind::Podman, None),
            ),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
                m(ID, RuntimeKind::Podman, None),
            ),
            (format!("/libpod_parent/libpod-{ID}"), m(ID, RuntimeKind::Podman, None)),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None),
            (
                format!("/docker/{ID}/docker/{}", ID.replace('3', "4")),
                m(&ID.replace('3', "4"), RuntimeKind::Docker, None),
            ),
            (format!("/default/{ID}"), m(ID, RuntimeKind::Unknown, None)),
            ("/c1".to_string(), m("c1", RuntimeKind::Runc, None)),
            ("0::/my-app_1.v2".to_string(), m("my-app_1.v2", RuntimeKind::Runc, None)),
            // Host processes.
            ("0::/".to_string(), None),
            ("/".to_string(), None),
            ("0::/init.scope".to_string(), None),
            ("/system.slice/sshd.service".to_string(), None),
            ("/user.slice/user-0.slice/session-3.scope".to_string(), None),
            ("4:memory:/process_api/9c59b288cabcf958e264006d6e8dd8ce".to_string(), None),
            ("/system.slice".to_string(), None),
            // Near misses: 63 hex, not hex, name with a character runc refuses.
            (format!("/docker/{}", &ID[1..]), None),
            (format!("/system.slice/docker-{}z.scope", &ID[1..]), None),
            ("/bad name".to_string(), None),
            ("/..".to_string(), None),
            (String::new(), None),
        ];
        for (input, want) in cases {
            assert_eq!(container_id_from_cgroup(&input), want, "input {input:?}");
        }
    }

    #[test]
    fn parses_hybrid_proc_cgroup() {
        let text = "9:name=systemd:/c1\n8:pids:/c1\n4:memory:/process_api/9c59/c1\n\
                    2:cpu,cpuacct:/c1\n0::/c1\nnot a line\n7:blkio\n";
        let entries = parse_proc_cgroup(text);
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[3].controllers, vec!["cpu", "cpuacct"]);
        assert!(entries[4].is_v2());
        assert_eq!(best_cgroup_path(&entries), Some("/c1"));
    }

    #[test]
    fn prefers_v2_then_systemd_pids_memory_cpu() {
        // Docker on a hybrid host leaves v2 at `/`.
        let text = format!(
            "9:name=systemd:/docker/{ID}\n8:pids:/docker/{ID}\n4:memory:/process_api/x/docker/{ID}\n0::/\n"
        );
        let entries = parse_proc_cgroup(&text);
        let paths = cgroup_paths_by_preference(&entries);
        assert_eq!(paths[0], format!("/docker/{ID}"));
        assert_eq!(paths.len(), 2, "duplicates removed: {paths:?}");
        assert_eq!(
            container_id_from_proc_cgroup(&text),
            m(ID, RuntimeKind::Docker, None)
        );
        // A host process on this machine: only the memory line is not `/`, and it is no container.
        let host =
            "9:name=systemd:/\n4:memory:/process_api/9c59b288cabcf958e264006d6e8dd8ce\n0::/\n";
        assert_eq!(container_id_from_proc_cgroup(host), None);
        // v2 first when it is set.
        let v2 = format!("1:name=systemd:/other\n0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(
            best_cgroup_path(&parse_proc_cgroup(&v2)),
            Some(format!("/system.slice/docker-{ID}.scope").as_str())
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(s in ".*") {
            let _ = container_id_from_cgroup(&s);
            let _ = container_id_from_proc_cgroup(&s);
        }

        #[test]
        fn never_panics_on_path_like_input(s in "[0-9]{0,2}:[a-z=,]{0,8}:(/[a-z0-9_.:-]{0,70}){0,6}") {
            if let Some(found) = container_id_from_cgroup(&s) {
                prop_assert!(!found.id.is_empty());
            }
        }
    }
}
