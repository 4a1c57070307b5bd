//! The check bodies and their version table.
//!
//! Each check is a list of bodies with the minor version from which each applies; at policy
//! version `v1.N` the body with the highest minimum ≤ N is used, and a check whose lowest minimum
//! is above N does not apply. Restricted bodies may override (replace) baseline checks.

use std::collections::BTreeSet;

use super::pod::{Handler, PodLike, SecurityContext};
use super::{Level, Version, Violation};

type Body = fn(&PodLike) -> Option<Violation>;

struct Versioned {
    min: u32,
    body: Body,
    overrides: &'static [&'static str],
}

struct Check {
    id: &'static str,
    level: Level,
    versions: &'static [Versioned],
}

const fn v(min: u32, body: Body) -> Versioned {
    Versioned {
        min,
        body,
        overrides: &[],
    }
}

const fn vo(min: u32, body: Body, overrides: &'static [&'static str]) -> Versioned {
    Versioned {
        min,
        body,
        overrides,
    }
}

static CHECKS: &[Check] = &[
    Check {
        id: "appArmorProfile",
        level: Level::Baseline,
        versions: &[v(0, app_armor_profile)],
    },
    Check {
        id: "capabilities_baseline",
        level: Level::Baseline,
        versions: &[v(0, capabilities_baseline)],
    },
    Check {
        id: "hostNamespaces",
        level: Level::Baseline,
        versions: &[v(0, host_namespaces)],
    },
    Check {
        id: "hostPathVolumes",
        level: Level::Baseline,
        versions: &[v(0, host_path_volumes)],
    },
    Check {
        id: "hostPorts",
        level: Level::Baseline,
        versions: &[v(0, host_ports)],
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        versions: &[v(34, host_probes_and_lifecycle)],
    },
    Check {
        id: "privileged",
        level: Level::Baseline,
        versions: &[v(0, privileged)],
    },
    Check {
        id: "procMount",
        level: Level::Baseline,
        versions: &[v(0, proc_mount_1_0), v(35, proc_mount_1_35)],
    },
    Check {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        versions: &[v(0, seccomp_baseline_1_0), v(19, seccomp_baseline_1_19)],
    },
    Check {
        id: "seLinuxOptions",
        level: Level::Baseline,
        versions: &[v(0, selinux_1_0), v(31, selinux_1_31)],
    },
    Check {
        id: "sysctls",
        level: Level::Baseline,
        versions: &[
            v(0, sysctls_1_0),
            v(27, sysctls_1_27),
            v(29, sysctls_1_29),
            v(32, sysctls_1_32),
            v(37, sysctls_1_37),
        ],
    },
    Check {
        id: "windowsHostProcess",
        level: Level::Baseline,
        versions: &[v(0, windows_host_process)],
    },
    Check {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        versions: &[
            v(8, allow_privilege_escalation_1_8),
            v(25, allow_privilege_escalation_1_25),
        ],
    },
    Check {
        id: "capabilities_restricted",
        level: Level::Restricted,
        versions: &[
            vo(22, capabilities_restricted_1_22, &["capabilities_baseline"]),
            vo(25, capabilities_restricted_1_25, &["capabilities_baseline"]),
        ],
    },
    Check {
        id: "procMount_restricted",
        level: Level::Restricted,
        versions: &[vo(35, proc_mount_restricted, &["procMount"])],
    },
    Check {
        id: "restrictedVolumes",
        level: Level::Restricted,
        versions: &[vo(0, restricted_volumes, &["hostPathVolumes"])],
    },
    Check {
        id: "runAsNonRoot",
        level: Level::Restricted,
        versions: &[v(0, run_as_non_root_1_0), v(35, run_as_non_root_1_35)],
    },
    Check {
        id: "runAsUser",
        level: Level::Restricted,
        versions: &[v(23, run_as_user_1_23), v(35, run_as_user_1_35)],
    },
    Check {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        versions: &[
            vo(19, seccomp_restricted_1_19, &["seccompProfile_baseline"]),
            vo(25, seccomp_restricted_1_25, &["seccompProfile_baseline"]),
        ],
    },
];

/// Runs every check applicable at `level` and `version`.
pub(super) fn run(level: Level, version: Version, pod: &PodLike) -> Vec<Violation> {
    if level == Level::Privileged {
        return Vec::new();
    }
    let minor = version.minor();
    let mut selected: Vec<(&'static str, &Versioned)> = Vec::new();
    let mut overridden: BTreeSet<&'static str> = BTreeSet::new();
    for check in CHECKS {
        if check.level > level {
            continue;
        }
        if let Some(body) = check.versions.iter().rev().find(|b| b.min <= minor) {
            overridden.extend(body.overrides.iter().copied());
            selected.push((check.id, body));
        }
    }
    selected
        .into_iter()
        .filter(|(id, _)| !overridden.contains(id))
        .filter_map(|(id, body)| {
            (body.body)(pod).map(|mut v| {
                v.check = id;
                v
            })
        })
        .collect()
}

// ---- wording helpers (as PSA words them) ----

fn pluralize(one: &str, many: &str, n: usize) -> String {
    if n == 1 { one } else { many }.to_string()
}

fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("{:?}", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

fn violation(reason: impl Into<String>, detail: impl Into<String>, pointer: String) -> Violation {
    Violation {
        check: "",
        reason: reason.into(),
        detail: detail.into(),
        pointer,
    }
}

/// Containers whose securityContext matches `bad`, with the pointer of the first one.
fn bad_containers(
    pod: &PodLike,
    suffix: &str,
    bad: impl Fn(&SecurityContext) -> bool,
) -> (Vec<String>, Option<String>) {
    let mut names = Vec::new();
    let mut first = None;
    for c in pod.all_containers() {
        if c.container.security_context.as_ref().is_some_and(&bad) {
            names.push(c.container.name.clone());
            first.get_or_insert_with(|| c.pointer(suffix));
        }
    }
    (names, first)
}

// ---- baseline ----

fn host_namespaces(pod: &PodLike) -> Option<Violation> {
    let s = &pod.spec;
    let mut set = Vec::new();
    let mut ptr = None;
    for (on, name, field) in [
        (s.host_network, "hostNetwork=true", "/spec/hostNetwork"),
        (s.host_pid, "hostPID=true", "/spec/hostPID"),
        (s.host_ipc, "hostIPC=true", "/spec/hostIPC"),
    ] {
        if on == Some(true) {
            set.push(name);
            ptr.get_or_insert(field);
        }
    }
    let ptr = ptr?;
    Some(violation(
        "host namespaces",
        set.join(", "),
        ptr.to_string(),
    ))
}

fn privileged(pod: &PodLike) -> Option<Violation> {
    let (names, ptr) = bad_containers(pod, "/securityContext/privileged", |sc| {
        sc.privileged == Some(true)
    });
    Some(violation(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&names)
        ),
        ptr?,
    ))
}

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(pod: &PodLike) -> Option<Violation> {
    let mut names = Vec::new();
    let mut caps = BTreeSet::new();
    let mut ptr = None;
    for c in pod.all_containers() {
        let Some(cap) = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref())
        else {
            continue;
        };
        let mut bad = false;
        for (i, a) in cap.add.iter().enumerate() {
            if !BASELINE_CAPS.contains(&a.as_str()) {
                caps.insert(a.clone());
                bad = true;
                ptr.get_or_insert_with(|| {
                    c.pointer(&format!("/securityContext/capabilities/add/{i}"))
                });
            }
        }
        if bad {
            names.push(c.container.name.clone());
        }
    }
    let caps: Vec<String> = caps.into_iter().collect();
    Some(violation(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&names),
            join_quote(&caps)
        ),
        ptr?,
    ))
}

fn host_path_volumes(pod: &PodLike) -> Option<Violation> {
    let mut names = Vec::new();
    let mut ptr = None;
    for (i, vol) in pod.spec.volumes.iter().enumerate() {
        if vol.set_sources().any(|s| s == "hostPath") {
            names.push(vol.name.clone());
            ptr.get_or_insert_with(|| format!("/spec/volumes/{i}/hostPath"));
        }
    }
    Some(violation(
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
        ptr?,
    ))
}

fn host_ports(pod: &PodLike) -> Option<Violation> {
    let mut names = Vec::new();
    let mut ports = Vec::new();
    let mut ptr = None;
    for c in pod.all_containers() {
        let mut bad = false;
        for (i, p) in c.container.ports.iter().enumerate() {
            if let Some(hp) = p.host_port.filter(|hp| *hp != 0) {
                bad = true;
                ports.push(hp.to_string());
                ptr.get_or_insert_with(|| c.pointer(&format!("/ports/{i}/hostPort")));
            }
        }
        if bad {
            names.push(c.container.name.clone());
        }
    }
    Some(violation(
        "hostPort",
        format!(
            "{} {} {}",
            containers_phrase(&names),
            pluralize("uses hostPort", "use hostPorts", ports.len()),
            ports.join(", ")
        ),
        ptr?,
    ))
}

fn app_armor_allowed_type(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

fn app_armor_allowed_annotation(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

fn app_armor_profile(pod: &PodLike) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut ptr = None;
    if let Some(p) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.as_ref())
    {
        if !app_armor_allowed_type(&p.type_) {
            setters.push("pod".to_string());
            values.insert(p.type_.clone());
            ptr = Some("/spec/securityContext/appArmorProfile/type".to_string());
        }
    }
    let mut names = Vec::new();
    for c in pod.all_containers() {
        if let Some(p) = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.app_armor_profile.as_ref())
        {
            if !app_armor_allowed_type(&p.type_) {
                names.push(c.container.name.clone());
                values.insert(p.type_.clone());
                ptr.get_or_insert_with(|| c.pointer("/securityContext/appArmorProfile/type"));
            }
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let mut values: Vec<String> = values.into_iter().collect();
    let mut annotations = Vec::new();
    for (k, v) in &pod.metadata.annotations {
        if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
            && !app_armor_allowed_annotation(v)
        {
            annotations.push(format!("{k}={v:?}"));
            ptr.get_or_insert_with(|| format!("/metadata/annotations/{}", escape_pointer(k)));
        }
    }
    if !annotations.is_empty() {
        setters.push(pluralize("annotation", "annotations", annotations.len()));
        values.extend(annotations);
    }
    Some(violation(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
        ptr?,
    ))
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub(crate) fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn selinux(pod: &PodLike, allowed: &[&str]) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut types = BTreeSet::new();
    let (mut user, mut role) = (false, false);
    let mut ptr = None;
    let mut bad = |o: &super::pod::SeLinuxOptions| {
        let mut ok = true;
        if !allowed.contains(&o.type_.as_str()) {
            types.insert(o.type_.clone());
            ok = false;
        }
        if !o.user.is_empty() {
            user = true;
            ok = false;
        }
        if !o.role.is_empty() {
            role = true;
            ok = false;
        }
        !ok
    };
    if let Some(o) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.se_linux_options.as_ref())
    {
        if bad(o) {
            setters.push("pod".to_string());
            ptr = Some("/spec/securityContext/seLinuxOptions".to_string());
        }
    }
    let mut names = Vec::new();
    for c in pod.all_containers() {
        if let Some(o) = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.se_linux_options.as_ref())
        {
            if bad(o) {
                names.push(c.container.name.clone());
                ptr.get_or_insert_with(|| c.pointer("/securityContext/seLinuxOptions"));
            }
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let ptr = ptr?;
    let mut data = Vec::new();
    if !types.is_empty() {
        let types: Vec<String> = types.into_iter().collect();
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if user {
        data.push("user may not be set".to_string());
    }
    if role {
        data.push("role may not be set".to_string());
    }
    Some(violation(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
        ptr,
    ))
}

fn selinux_1_0(pod: &PodLike) -> Option<Violation> {
    selinux(
        pod,
        &["", "container_t", "container_init_t", "container_kvm_t"],
    )
}

fn selinux_1_31(pod: &PodLike) -> Option<Violation> {
    selinux(
        pod,
        &[
            "",
            "container_t",
            "container_init_t",
            "container_kvm_t",
            "container_engine_t",
        ],
    )
}

fn proc_mount_check(pod: &PodLike) -> Option<Violation> {
    let mut values = BTreeSet::new();
    let (names, ptr) = bad_containers(pod, "/securityContext/procMount", |sc| {
        sc.proc_mount.as_deref().is_some_and(|p| p != "Default")
    });
    for c in pod.all_containers() {
        if let Some(p) = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.proc_mount.as_deref())
            .filter(|p| *p != "Default")
        {
            values.insert(p.to_string());
        }
    }
    let values: Vec<String> = values.into_iter().collect();
    Some(violation(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&names),
            join_quote(&values)
        ),
        ptr?,
    ))
}

fn proc_mount_1_0(pod: &PodLike) -> Option<Violation> {
    proc_mount_check(pod)
}

fn proc_mount_1_35(pod: &PodLike) -> Option<Violation> {
    if pod.spec.in_user_namespace() {
        return None;
    }
    proc_mount_check(pod)
}

fn proc_mount_restricted(pod: &PodLike) -> Option<Violation> {
    proc_mount_check(pod)
}

fn seccomp_annotation_allowed(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

fn seccomp_baseline_1_0(pod: &PodLike) -> Option<Violation> {
    const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let ann = &pod.metadata.annotations;
    let mut forbidden = BTreeSet::new();
    let mut ptr = None;
    if let Some(v) = ann.get(POD_KEY) {
        if !seccomp_annotation_allowed(v) {
            forbidden.insert(format!("{POD_KEY}={v:?}"));
            ptr = Some(format!("/metadata/annotations/{}", escape_pointer(POD_KEY)));
        }
    }
    for c in pod.all_containers() {
        let key = format!("{CONTAINER_PREFIX}{}", c.container.name);
        if let Some(v) = ann.get(&key) {
            if !seccomp_annotation_allowed(v) {
                forbidden.insert(format!("{key}={v:?}"));
                ptr.get_or_insert_with(|| {
                    format!("/metadata/annotations/{}", escape_pointer(&key))
                });
            }
        }
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    Some(violation(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.join(", ")
        ),
        ptr?,
    ))
}

fn seccomp_type_ok(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

fn seccomp_baseline_1_19(pod: &PodLike) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut ptr = None;
    if let Some(p) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        if !seccomp_type_ok(&p.type_) {
            setters.push("pod".to_string());
            values.insert(p.type_.clone());
            ptr = Some("/spec/securityContext/seccompProfile/type".to_string());
        }
    }
    let mut names = Vec::new();
    for c in pod.all_containers() {
        if let Some(p) = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
        {
            if !seccomp_type_ok(&p.type_) {
                names.push(c.container.name.clone());
                values.insert(p.type_.clone());
                ptr.get_or_insert_with(|| c.pointer("/securityContext/seccompProfile/type"));
            }
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let values: Vec<String> = values.into_iter().collect();
    Some(violation(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
        ptr?,
    ))
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
const SYSCTLS_1_37: &[&str] = &[
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

fn sysctls(pod: &PodLike, allowed: &[&[&str]]) -> Option<Violation> {
    let sc = pod.spec.security_context.as_ref()?;
    let mut bad = Vec::new();
    let mut ptr = None;
    for (i, s) in sc.sysctls.iter().enumerate() {
        if !allowed.iter().any(|set| set.contains(&s.name.as_str())) {
            bad.push(s.name.clone());
            ptr.get_or_insert_with(|| format!("/spec/securityContext/sysctls/{i}/name"));
        }
    }
    Some(violation("forbidden sysctls", bad.join(", "), ptr?))
}

fn sysctls_1_0(pod: &PodLike) -> Option<Violation> {
    sysctls(pod, &[SYSCTLS_1_0])
}
fn sysctls_1_27(pod: &PodLike) -> Option<Violation> {
    sysctls(pod, &[SYSCTLS_1_0, SYSCTLS_1_27])
}
fn sysctls_1_29(pod: &PodLike) -> Option<Violation> {
    sysctls(pod, &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29])
}
fn sysctls_1_32(pod: &PodLike) -> Option<Violation> {
    sysctls(
        pod,
        &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29, SYSCTLS_1_32],
    )
}
fn sysctls_1_37(pod: &PodLike) -> Option<Violation> {
    sysctls(
        pod,
        &[
            SYSCTLS_1_0,
            SYSCTLS_1_27,
            SYSCTLS_1_29,
            SYSCTLS_1_32,
            SYSCTLS_1_37,
        ],
    )
}

fn windows_host_process(pod: &PodLike) -> Option<Violation> {
    let pod_set = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.windows_options.as_ref())
        .and_then(|w| w.host_process)
        == Some(true);
    let (names, cptr) = bad_containers(pod, "/securityContext/windowsOptions/hostProcess", |sc| {
        sc.windows_options.as_ref().and_then(|w| w.host_process) == Some(true)
    });
    let ptr = if pod_set {
        "/spec/securityContext/windowsOptions/hostProcess".to_string()
    } else {
        cptr?
    };
    let who = match (pod_set, names.is_empty()) {
        (true, false) => format!("pod and {}", containers_phrase(&names)),
        (true, true) => "pod".to_string(),
        _ => containers_phrase(&names),
    };
    Some(violation(
        "hostProcess",
        format!("{who} must not set securityContext.windowsOptions.hostProcess=true"),
        ptr,
    ))
}

fn host_probes_and_lifecycle(pod: &PodLike) -> Option<Violation> {
    let mut names = Vec::new();
    let mut hosts = BTreeSet::new();
    let mut ptr = None;
    for c in pod.all_containers() {
        let k = c.container;
        let lc = k.lifecycle.as_ref();
        let handlers: [(&str, Option<&Handler>); 5] = [
            ("/livenessProbe", k.liveness_probe.as_ref()),
            ("/readinessProbe", k.readiness_probe.as_ref()),
            ("/startupProbe", k.startup_probe.as_ref()),
            (
                "/lifecycle/postStart",
                lc.and_then(|l| l.post_start.as_ref()),
            ),
            ("/lifecycle/preStop", lc.and_then(|l| l.pre_stop.as_ref())),
        ];
        let mut bad = false;
        for (path, h) in handlers {
            let Some(h) = h else { continue };
            for (action, f) in [("/httpGet", &h.http_get), ("/tcpSocket", &h.tcp_socket)] {
                if let Some(f) = f.as_ref().filter(|f| !f.host.is_empty()) {
                    bad = true;
                    hosts.insert(f.host.clone());
                    ptr.get_or_insert_with(|| c.pointer(&format!("{path}{action}/host")));
                }
            }
        }
        if bad {
            names.push(k.name.clone());
        }
    }
    let hosts: Vec<String> = hosts.into_iter().collect();
    Some(violation(
        "probe or lifecycle host",
        format!(
            "{} {} {}",
            containers_phrase(&names),
            pluralize(
                "uses probe or lifecycle host",
                "use probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
        ptr?,
    ))
}

// ---- restricted ----

const ALLOWED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn restricted_volumes(pod: &PodLike) -> Option<Violation> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut ptr = None;
    for (i, vol) in pod.spec.volumes.iter().enumerate() {
        let set: Vec<&str> = vol.set_sources().collect();
        // No source at all is defaulted to emptyDir by the API server.
        if set.is_empty() || set.iter().any(|s| ALLOWED_VOLUME_SOURCES.contains(s)) {
            continue;
        }
        names.push(vol.name.clone());
        match set.first() {
            Some(t) => {
                types.insert(t.to_string());
                ptr.get_or_insert_with(|| format!("/spec/volumes/{i}/{}", escape_pointer(t)));
            }
            None => {
                types.insert("unknown".to_string());
                ptr.get_or_insert_with(|| format!("/spec/volumes/{i}"));
            }
        }
    }
    let types: Vec<String> = types.into_iter().collect();
    Some(violation(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
        ptr?,
    ))
}

fn allow_privilege_escalation_1_8(pod: &PodLike) -> Option<Violation> {
    let mut names = Vec::new();
    let mut ptr = None;
    for c in pod.all_containers() {
        let ok = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.allow_privilege_escalation)
            == Some(false);
        if !ok {
            names.push(c.container.name.clone());
            ptr.get_or_insert_with(|| c.pointer("/securityContext/allowPrivilegeEscalation"));
        }
    }
    Some(violation(
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&names)
        ),
        ptr?,
    ))
}

fn allow_privilege_escalation_1_25(pod: &PodLike) -> Option<Violation> {
    if pod.spec.is_windows() {
        return None;
    }
    allow_privilege_escalation_1_8(pod)
}

fn capabilities_restricted_1_22(pod: &PodLike) -> Option<Violation> {
    let mut no_drop = Vec::new();
    let mut bad_add = Vec::new();
    let mut caps = BTreeSet::new();
    let mut ptr = None;
    for c in pod.all_containers() {
        let cap = c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref());
        if !cap.is_some_and(|cap| cap.drop.iter().any(|d| d == "ALL")) {
            no_drop.push(c.container.name.clone());
            ptr.get_or_insert_with(|| c.pointer("/securityContext/capabilities/drop"));
        }
        let mut bad = false;
        for (i, a) in cap
            .map(|c| c.add.as_slice())
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if a != "NET_BIND_SERVICE" {
                bad = true;
                caps.insert(a.clone());
                ptr.get_or_insert_with(|| {
                    c.pointer(&format!("/securityContext/capabilities/add/{i}"))
                });
            }
        }
        if bad {
            bad_add.push(c.container.name.clone());
        }
    }
    let ptr = ptr?;
    let mut details = Vec::new();
    if !no_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&no_drop)
        ));
    }
    if !bad_add.is_empty() {
        let caps: Vec<String> = caps.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad_add),
            join_quote(&caps)
        ));
    }
    Some(violation(
        "unrestricted capabilities",
        details.join("; "),
        ptr,
    ))
}

fn capabilities_restricted_1_25(pod: &PodLike) -> Option<Violation> {
    if pod.spec.is_windows() {
        return None;
    }
    capabilities_restricted_1_22(pod)
}

fn run_as_non_root_1_0(pod: &PodLike) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut ptr = None;
    let mut pod_true = false;
    match pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root)
    {
        Some(false) => {
            setters.push("pod".to_string());
            ptr = Some("/spec/securityContext/runAsNonRoot".to_string());
        }
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_ptr = None;
    for c in pod.all_containers() {
        match c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root)
        {
            Some(false) => {
                explicit.push(c.container.name.clone());
                ptr.get_or_insert_with(|| c.pointer("/securityContext/runAsNonRoot"));
            }
            Some(true) => {}
            None if !pod_true => {
                implicit.push(c.container.name.clone());
                implicit_ptr.get_or_insert_with(|| c.pointer("/securityContext/runAsNonRoot"));
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if let Some(ptr) = ptr {
        return Some(violation(
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
            ptr,
        ));
    }
    Some(violation(
        "runAsNonRoot != true",
        format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        ),
        implicit_ptr?,
    ))
}

fn run_as_non_root_1_35(pod: &PodLike) -> Option<Violation> {
    if pod.spec.in_user_namespace() {
        return None;
    }
    run_as_non_root_1_0(pod)
}

fn run_as_user_1_23(pod: &PodLike) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut ptr = None;
    if pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user)
        == Some(0)
    {
        setters.push("pod".to_string());
        ptr = Some("/spec/securityContext/runAsUser".to_string());
    }
    let (names, cptr) = bad_containers(pod, "/securityContext/runAsUser", |sc| {
        sc.run_as_user == Some(0)
    });
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let ptr = ptr.or(cptr)?;
    Some(violation(
        "runAsUser=0",
        format!("{} must not set runAsUser=0", setters.join(" and ")),
        ptr,
    ))
}

fn run_as_user_1_35(pod: &PodLike) -> Option<Violation> {
    if pod.spec.in_user_namespace() {
        return None;
    }
    run_as_user_1_23(pod)
}

fn seccomp_restricted_1_19(pod: &PodLike) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut ptr = None;
    let mut pod_ok = false;
    if let Some(p) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        if seccomp_type_ok(&p.type_) {
            pod_ok = true;
        } else {
            setters.push("pod".to_string());
            values.insert(p.type_.clone());
            ptr = Some("/spec/securityContext/seccompProfile/type".to_string());
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_ptr = None;
    for c in pod.all_containers() {
        match c
            .container
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
        {
            Some(p) if !seccomp_type_ok(&p.type_) => {
                explicit.push(c.container.name.clone());
                values.insert(p.type_.clone());
                ptr.get_or_insert_with(|| c.pointer("/securityContext/seccompProfile/type"));
            }
            Some(_) => {}
            None if !pod_ok => {
                implicit.push(c.container.name.clone());
                implicit_ptr.get_or_insert_with(|| c.pointer("/securityContext/seccompProfile"));
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if let Some(ptr) = ptr {
        let values: Vec<String> = values.into_iter().collect();
        return Some(violation(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
            ptr,
        ));
    }
    Some(violation(
        "seccompProfile",
        format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            containers_phrase(&implicit)
        ),
        implicit_ptr?,
    ))
}

fn seccomp_restricted_1_25(pod: &PodLike) -> Option<Violation> {
    if pod.spec.is_windows() {
        return None;
    }
    seccomp_restricted_1_19(pod)
}
