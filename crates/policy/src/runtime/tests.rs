//! Evaluation and loading tests for runtime policies.

use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

fn set(yaml: &str) -> RuntimePolicySet {
    RuntimePolicySet::from_str_named(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn err(yaml: &str) -> String {
    match RuntimePolicySet::from_str_named(yaml, "bad.yaml") {
        Ok(_) => panic!("loaded but should not:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// One policy named `p` with the given `spec` body (indented by the caller to 2 spaces).
fn one(spec: &str) -> RuntimePolicySet {
    set(&format!(
        "apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {{name: p}}\nspec:\n{spec}"
    ))
}

fn pod<'a>(ns: &'a str) -> Workload<'a> {
    Workload {
        namespace: Some(ns),
        pod_labels: None,
        image: Some("docker.io/library/nginx:1.27"),
        container_name: Some("web"),
    }
}

fn exec<'a>(path: &'a str, name: &'a str) -> Activity<'a> {
    Activity::Exec {
        path,
        name,
        is_exec_session: false,
        is_upper_layer: false,
        is_fileless: false,
        stdio_is_socket: false,
    }
}

fn session<'a>(path: &'a str, name: &'a str) -> Activity<'a> {
    Activity::Exec {
        path,
        name,
        is_exec_session: true,
        is_upper_layer: false,
        is_fileless: false,
        stdio_is_socket: false,
    }
}

fn controls(d: &[Decision]) -> Vec<(&str, Control, Status)> {
    d.iter()
        .map(|d| (d.policy.as_str(), d.control, d.status))
        .collect()
}

const BLOCK_EXEC: &str = "  mode: enforce\n  controls:\n    blockContainerExec: {}\n";

#[test]
fn kube_system_is_bypassed_by_default() {
    let s = one(BLOCK_EXEC);
    assert!(s
        .evaluate(&pod("kube-system"), &session("/bin/sh", "sh"), NOW)
        .is_empty());
    assert_eq!(
        s.evaluate(&pod("shop"), &session("/bin/sh", "sh"), NOW)
            .len(),
        1
    );
    assert!(!s.watches(&pod("kube-system"), Control::BlockContainerExec, NOW));
    // `bypass: {}` keeps the default namespace; only an explicit list replaces it.
    let s =
        one("  mode: enforce\n  bypass: {images: []}\n  controls:\n    blockContainerExec: {}\n");
    assert!(s
        .evaluate(&pod("kube-system"), &session("/bin/sh", "sh"), NOW)
        .is_empty());
}

#[test]
fn kube_system_bypass_is_removable() {
    let s = one(
        "  mode: enforce\n  bypass: {namespaces: []}\n  controls:\n    blockContainerExec: {}\n",
    );
    let d = s.evaluate(&pod("kube-system"), &session("/bin/sh", "sh"), NOW);
    assert_eq!(
        controls(&d),
        [("p", Control::BlockContainerExec, Status::Block)]
    );
}

#[test]
fn bypass_by_namespace_glob_and_image() {
    let s = one(
        "  bypass: {namespaces: [\"ops-*\"], images: [\"*/debug-tools:*\"]}\n  controls:\n    blockContainerExec: {}\n",
    );
    assert!(s
        .evaluate(&pod("ops-a"), &session("/bin/sh", "sh"), NOW)
        .is_empty());
    // Writing `namespaces` replaced the default, so kube-system is no longer bypassed.
    assert_eq!(
        s.evaluate(&pod("kube-system"), &session("/bin/sh", "sh"), NOW)
            .len(),
        1
    );
    let dbg = Workload {
        image: Some("ghcr.io/acme/debug-tools:1"),
        ..pod("shop")
    };
    assert!(s.evaluate(&dbg, &session("/bin/sh", "sh"), NOW).is_empty());
    // A container outside Kubernetes is never bypassed by namespace.
    let plain = Workload {
        namespace: None,
        ..pod("x")
    };
    let s = one("  bypass: {namespaces: [\"*\"]}\n  controls:\n    blockContainerExec: {}\n");
    assert_eq!(s.evaluate(&plain, &session("/bin/sh", "sh"), NOW).len(), 1);
}

#[test]
fn scope_criteria() {
    let s = one(
        "  scope:\n    namespaces: [\"prod-*\"]\n    podLabels: {app: web}\n    images: [\"docker.io/library/nginx*\"]\n    containerNames: [web]\n  controls:\n    blockContainerExec: {}\n",
    );
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    let other: BTreeMap<String, String> = [("app".to_string(), "db".to_string())].into();
    let w = Workload {
        pod_labels: Some(&labels),
        ..pod("prod-eu")
    };
    let a = session("/bin/sh", "sh");
    assert_eq!(s.evaluate(&w, &a, NOW).len(), 1);
    assert!(s.watches(&w, Control::BlockContainerExec, NOW));
    for (why, w2) in [
        (
            "namespace",
            Workload {
                namespace: Some("staging"),
                ..w
            },
        ),
        (
            "no namespace",
            Workload {
                namespace: None,
                ..w
            },
        ),
        (
            "labels unknown",
            Workload {
                pod_labels: None,
                ..w
            },
        ),
        (
            "label value",
            Workload {
                pod_labels: Some(&other),
                ..w
            },
        ),
        (
            "image",
            Workload {
                image: Some("docker.io/library/redis:7"),
                ..w
            },
        ),
        ("no image", Workload { image: None, ..w }),
        (
            "container",
            Workload {
                container_name: Some("sidecar"),
                ..w
            },
        ),
    ] {
        assert!(s.evaluate(&w2, &a, NOW).is_empty(), "{why}");
        assert!(!s.watches(&w2, Control::BlockContainerExec, NOW), "{why}");
    }
    // No scope: every container, even one the sensor knows nothing about.
    let s = one(BLOCK_EXEC);
    assert_eq!(s.evaluate(&Workload::default(), &a, NOW).len(), 1);
}

#[test]
fn enforce_after_future_detects_past_blocks() {
    let s = one("  mode: enforce\n  enforceAfter: \"2026-12-01T00:00:00Z\"\n  controls:\n    blockContainerExec: {}\n");
    let a = session("/bin/sh", "sh");
    let before = s.evaluate(&pod("shop"), &a, NOW);
    assert_eq!(
        controls(&before),
        [("p", Control::BlockContainerExec, Status::Detect)]
    );
    assert_eq!(before[0].mode, Mode::Enforce);
    assert!(!s.enforces(&pod("shop"), Control::BlockContainerExec, NOW));
    assert!(s.watches(&pod("shop"), Control::BlockContainerExec, NOW));
    let later = datetime!(2026-12-01 00:00 UTC);
    let after = s.evaluate(&pod("shop"), &a, later);
    assert_eq!(
        controls(&after),
        [("p", Control::BlockContainerExec, Status::Block)]
    );
    assert!(s.enforces(&pod("shop"), Control::BlockContainerExec, later));
}

#[test]
fn audit_mode_only_detects() {
    let s = one("  controls:\n    blockContainerExec: {}\n");
    let d = s.evaluate(&pod("shop"), &session("/bin/sh", "sh"), NOW);
    assert_eq!(
        controls(&d),
        [("p", Control::BlockContainerExec, Status::Detect)]
    );
    assert_eq!(d[0].mode, Mode::Audit);
    assert!(!s.enforces(&pod("shop"), Control::BlockContainerExec, NOW));
    assert!(s.watches(&pod("shop"), Control::BlockContainerExec, NOW));
}

#[test]
fn allowed_list_by_name_and_by_path_glob() {
    let s = one(
        "  mode: enforce\n  controls:\n    blockContainerExec:\n      allowedExecutables: [\"/usr/bin/ls\", healthcheck, \"/opt/probe/*\", \"python3*\"]\n",
    );
    let w = pod("shop");
    let allowed = [
        ("/usr/bin/ls", "ls"),
        ("/app/bin/healthcheck", "healthcheck"),
        // Names also match the basename when the reported name is truncated (comm).
        ("/app/bin/healthcheck", "healthcheck-lo"),
        ("/opt/probe/a/b", "b"),
        ("/usr/bin/python3.12", "python3.12"),
    ];
    for (path, name) in allowed {
        assert!(
            s.evaluate(&w, &session(path, name), NOW).is_empty(),
            "{path}"
        );
    }
    let denied = [
        // A path entry is not a name entry: /bin/ls is not /usr/bin/ls.
        ("/bin/ls", "ls"),
        ("/bin/sh", "sh"),
        ("/usr/bin/healthcheck2", "healthcheck2"),
        ("/opt/probes/x", "x"),
    ];
    for (path, name) in denied {
        let d = s.evaluate(&w, &session(path, name), NOW);
        assert_eq!(d.len(), 1, "{path}");
        assert_eq!(
            d[0].message,
            format!("exec of {path} in an exec session is not in the allowed list")
        );
    }
    // Outside an exec session the control does not apply.
    assert!(s.evaluate(&w, &exec("/bin/sh", "sh"), NOW).is_empty());
}

#[test]
fn drift_prevention_and_blocked_executables() {
    let s = one(
        "  mode: enforce\n  controls:\n    driftPrevention: {allowedExecutables: [\"/tmp/build/*\"]}\n    blockedExecutables: [\"/usr/bin/nc\", nmap, \"/tmp/*\"]\n",
    );
    let w = pod("shop");
    let drifted = |path| Activity::Exec {
        path,
        name: "x",
        is_exec_session: false,
        is_upper_layer: true,
        is_fileless: false,
        stdio_is_socket: false,
    };
    let d = s.evaluate(&w, &drifted("/usr/local/bin/miner"), NOW);
    assert_eq!(
        controls(&d),
        [("p", Control::DriftPrevention, Status::Block)]
    );
    // Allowed by drift prevention, still blocked by blockedExecutables ("/tmp/*").
    let d = s.evaluate(&w, &drifted("/tmp/build/tool"), NOW);
    assert_eq!(
        controls(&d),
        [("p", Control::BlockedExecutables, Status::Block)]
    );
    assert_eq!(
        d[0].message,
        "exec of /tmp/build/tool matches blocked executable \"/tmp/*\""
    );
    // Both controls fire, in Control order.
    let d = s.evaluate(&w, &drifted("/tmp/x"), NOW);
    assert_eq!(
        controls(&d),
        [
            ("p", Control::DriftPrevention, Status::Block),
            ("p", Control::BlockedExecutables, Status::Block)
        ]
    );
    assert_eq!(s.evaluate(&w, &exec("/usr/bin/nc", "nc"), NOW).len(), 1);
    assert_eq!(s.evaluate(&w, &exec("/opt/nmap", "nmap"), NOW).len(), 1);
    assert!(s
        .evaluate(&w, &exec("/usr/bin/ncat", "ncat"), NOW)
        .is_empty());
    assert!(s.evaluate(&w, &exec("/usr/bin/ls", "ls"), NOW).is_empty());
}

#[test]
fn blocked_files_and_read_only_paths() {
    let s = one(
        "  mode: enforce\n  controls:\n    blockedFiles: [\"/etc/shadow\", \"/root/.ssh/*\"]\n    readOnlyPaths: [\"/etc/*\", \"/usr/*\"]\n",
    );
    let w = pod("shop");
    let open = |path, write| Activity::Open { path, write };
    // Read of a read-only path: fine.
    assert!(s.evaluate(&w, &open("/etc/passwd", false), NOW).is_empty());
    // Write to it: read-only.
    let d = s.evaluate(&w, &open("/etc/passwd", true), NOW);
    assert_eq!(controls(&d), [("p", Control::ReadOnlyPaths, Status::Block)]);
    assert_eq!(
        d[0].message,
        "write to /etc/passwd under read-only path \"/etc/*\""
    );
    // Blocked file: any open; a write is both.
    let d = s.evaluate(&w, &open("/etc/shadow", false), NOW);
    assert_eq!(controls(&d), [("p", Control::BlockedFiles, Status::Block)]);
    let d = s.evaluate(&w, &open("/etc/shadow", true), NOW);
    assert_eq!(
        controls(&d),
        [
            ("p", Control::BlockedFiles, Status::Block),
            ("p", Control::ReadOnlyPaths, Status::Block)
        ]
    );
    assert_eq!(
        s.evaluate(&w, &open("/root/.ssh/id_ed25519", false), NOW)
            .len(),
        1
    );
    assert!(s.evaluate(&w, &open("/var/lib/data", true), NOW).is_empty());
    // Modify operations are writes for readOnlyPaths.
    let d = s.evaluate(
        &w,
        &Activity::Modify {
            path: "/usr/bin/ls",
            op: "unlink",
        },
        NOW,
    );
    assert_eq!(controls(&d), [("p", Control::ReadOnlyPaths, Status::Block)]);
    assert_eq!(
        d[0].message,
        "unlink of /usr/bin/ls under read-only path \"/usr/*\""
    );
    assert!(s
        .evaluate(
            &w,
            &Activity::Modify {
                path: "/tmp/x",
                op: "mkdir"
            },
            NOW
        )
        .is_empty());
}

#[test]
fn blocked_outbound_v4_v6_and_ports() {
    let s = one(
        "  mode: enforce\n  controls:\n    blockedOutbound:\n      ports: [4444, 6667]\n      addresses: [\"169.254.169.254/32\", \"10.0.0.0/8\", \"fd00::/8\"]\n",
    );
    let w = pod("shop");
    let conn = |a: &str, port| Activity::Connect {
        addr: a.parse().expect("test address"),
        port,
    };
    let blocked = [
        ("169.254.169.254", 80),
        ("::ffff:169.254.169.254", 80),
        ("10.20.30.40", 443),
        ("fd12::1", 443),
        ("93.184.216.34", 4444),
        ("2001:db8::1", 6667),
    ];
    for (a, p) in blocked {
        let d = s.evaluate(&w, &conn(a, p), NOW);
        assert_eq!(
            controls(&d),
            [("p", Control::BlockedOutbound, Status::Block)],
            "{a}:{p}"
        );
    }
    for (a, p) in [
        ("169.254.169.253", 80),
        ("11.0.0.1", 443),
        ("fe80::1", 443),
        ("2001:db8::1", 443),
    ] {
        assert!(s.evaluate(&w, &conn(a, p), NOW).is_empty(), "{a}:{p}");
    }
    assert_eq!(
        s.evaluate(&w, &conn("fd12::1", 443), NOW)[0].message,
        "connect to [fd12::1]:443: network fd00::/8 is blocked"
    );
    let b = s.blocked_outbound();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].policy, "p");
    assert_eq!(b[0].ports, &[4444, 6667]);
    assert_eq!(b[0].addresses.len(), 3);
    // Audit policies are not in the in-kernel list.
    let audit = one("  controls:\n    blockedOutbound: {ports: [22]}\n");
    assert!(audit.blocked_outbound().is_empty());
}

#[test]
fn reverse_shell_needs_a_shell_on_a_socket() {
    let s = one("  mode: enforce\n  controls:\n    reverseShell: {allowedExecutables: [\"/usr/local/bin/sh-gateway\"]}\n");
    let w = pod("shop");
    let rs = |path, name, socket| Activity::Exec {
        path,
        name,
        is_exec_session: false,
        is_upper_layer: false,
        is_fileless: false,
        stdio_is_socket: socket,
    };
    for (path, name) in [
        ("/bin/sh", "sh"),
        ("/bin/bash", "bash"),
        ("/bin/dash", "dash"),
        ("/bin/busybox", "sh"),
        ("/usr/bin/zsh", "zsh"),
        ("/bin/busybox", "busybox"),
    ] {
        let d = s.evaluate(&w, &rs(path, name, true), NOW);
        assert_eq!(
            controls(&d),
            [("p", Control::ReverseShell, Status::Block)],
            "{path}"
        );
        // The same shell with ordinary stdio is fine.
        assert!(
            s.evaluate(&w, &rs(path, name, false), NOW).is_empty(),
            "{path}"
        );
    }
    // A socket on stdio alone is not enough: a server piping to a non-shell.
    assert!(s
        .evaluate(&w, &rs("/usr/bin/python3", "python3", true), NOW)
        .is_empty());
    // Allowed.
    assert!(s
        .evaluate(&w, &rs("/usr/local/bin/sh-gateway", "sh", true), NOW)
        .is_empty());
}

#[test]
fn fileless_exec() {
    let s = one("  mode: enforce\n  controls:\n    filelessExec: {}\n");
    let w = pod("shop");
    let a = Activity::Exec {
        path: "/memfd:x (deleted)",
        name: "x",
        is_exec_session: false,
        is_upper_layer: false,
        is_fileless: true,
        stdio_is_socket: false,
    };
    let d = s.evaluate(&w, &a, NOW);
    assert_eq!(controls(&d), [("p", Control::FilelessExec, Status::Block)]);
    assert_eq!(
        d[0].message,
        "exec of /memfd:x (deleted) from memory (memfd or deleted file)"
    );
    assert!(s.evaluate(&w, &exec("/bin/ls", "ls"), NOW).is_empty());
    // `filelessExec:` with no value enables the control too.
    let s = one("  controls:\n    filelessExec:\n");
    assert_eq!(s.evaluate(&w, &a, NOW).len(), 1);
}

#[test]
fn decisions_in_load_order_across_files() {
    let a = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: first}\nspec:\n  controls: {blockContainerExec: {}}\n---\napiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: second}\nspec:\n  mode: enforce\n  controls: {blockContainerExec: {}, blockedExecutables: [sh]}\n");
    let mut s = a.clone();
    let b = RuntimePolicySet::from_str_named(
        r#"{"apiVersion": "mamori.dev/v1", "kind": "RuntimePolicy", "metadata": {"name": "third"},
	"spec": {"mode": "enforce", "controls": {"blockContainerExec": {"allowedExecutables": ["sh"]}}}}"#,
        "third.json",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    s.merge(b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.policies().len(), 3);
    let d = s.evaluate(&pod("shop"), &session("/bin/sh", "sh"), NOW);
    assert_eq!(
        controls(&d),
        [
            ("first", Control::BlockContainerExec, Status::Detect),
            ("second", Control::BlockContainerExec, Status::Block),
            ("second", Control::BlockedExecutables, Status::Block),
        ]
    );
    // A duplicate name across files is an error naming both places; the set is unchanged.
    let e = s.merge(a).expect_err("duplicate");
    assert_eq!(
        e.to_string(),
        "test.yaml:3:18: duplicate runtime policy name \"first\" (first defined at test.yaml:3:18)"
    );
    assert_eq!(s.policies().len(), 3);
}

#[test]
fn controls_used_and_watches() {
    let s = set("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: a}\nspec:\n  scope: {namespaces: [prod]}\n  controls: {driftPrevention: {}, blockedFiles: [/etc/shadow]}\n---\napiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: b}\nspec:\n  mode: enforce\n  controls: {blockedOutbound: {ports: [4444]}}\n");
    assert_eq!(
        s.controls_used().into_iter().collect::<Vec<_>>(),
        [
            Control::DriftPrevention,
            Control::BlockedFiles,
            Control::BlockedOutbound
        ]
    );
    assert!(s.watches(&pod("prod"), Control::DriftPrevention, NOW));
    assert!(!s.watches(&pod("dev"), Control::DriftPrevention, NOW));
    assert!(!s.enforces(&pod("prod"), Control::DriftPrevention, NOW));
    assert!(s.enforces(&pod("dev"), Control::BlockedOutbound, NOW));
    assert!(!s.enforces(&pod("kube-system"), Control::BlockedOutbound, NOW));
    assert!(!s.watches(&pod("prod"), Control::ReverseShell, NOW));
    assert!(RuntimePolicySet::new().controls_used().is_empty());
    assert!(RuntimePolicySet::new().is_empty());
}

#[test]
fn control_names_are_stable() {
    let names: Vec<(&str, &str)> = Control::ALL
        .iter()
        .map(|c| (c.as_str(), c.yaml_key()))
        .collect();
    assert_eq!(
        names,
        [
            ("block-container-exec", "blockContainerExec"),
            ("drift-prevention", "driftPrevention"),
            ("blocked-executables", "blockedExecutables"),
            ("blocked-files", "blockedFiles"),
            ("read-only-paths", "readOnlyPaths"),
            ("blocked-outbound", "blockedOutbound"),
            ("reverse-shell", "reverseShell"),
            ("fileless-exec", "filelessExec"),
        ]
    );
    for c in Control::ALL {
        assert_eq!(Control::from_yaml_key(c.yaml_key()), Some(c));
    }
}

#[test]
fn decision_to_event() {
    let s = one(BLOCK_EXEC);
    let d = s.evaluate(&pod("shop"), &session("/bin/sh", "sh"), NOW);
    let base = Event::new(EventSource::Syscall, 42).with("proc.name", EventValue::Str("sh".into()));
    let e = d[0].to_event(&base);
    assert_eq!(e.source, EventSource::Policy);
    assert_eq!(e.time_ns, 42);
    let f = |k: &str| match e.field(k) {
        Some(EventValue::Str(s)) => s.clone(),
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(f("proc.name"), "sh");
    assert_eq!(f("policy.name"), "p");
    assert_eq!(f("policy.control"), "block-container-exec");
    assert_eq!(f("policy.status"), "block");
    assert_eq!(f("policy.mode"), "enforce");
    assert_eq!(
        f("policy.message"),
        "exec of /bin/sh in an exec session is not in the allowed list"
    );
}

// ---- Load errors ----

const HEAD: &str = "apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: p}\nspec:\n";

#[test]
fn bad_yaml_has_line_and_col() {
    for (yaml, want) in [
        (
            format!("{HEAD}  controls: {{filelessExec: {{}}\n"),
            "bad.yaml:5:13: unclosed bracket",
        ),
        (format!("{HEAD}  mode: 'enforce\n"), "bad.yaml:5:"),
        (
            format!("{HEAD}  controls:\n    blockedFiles: [/x]\n   bad: indent\n"),
            "bad.yaml:7:",
        ),
    ] {
        let e = err(&yaml);
        assert!(e.starts_with(want), "want {want}: {e}");
    }
    // The wrong shape for controls.
    let e = err(&format!("{HEAD}  controls: [filelessExec]\n"));
    assert_eq!(
        e,
        "bad.yaml:5:3: invalid type: sequence, expected a map of controls"
    );
    // A key given twice.
    let e = err(&format!(
        "{HEAD}  controls:\n    blockedFiles: [/x]\n    blockedFiles: [/y]\n"
    ));
    assert_eq!(e, "bad.yaml:7:5: duplicate mapping key: blockedFiles");
}

#[test]
fn unknown_control_is_named_with_the_known_ones() {
    let e = err(&format!("{HEAD}  controls:\n    blockExec: {{}}\n"));
    assert!(e.starts_with("bad.yaml:6:"), "{e}");
    assert!(e.contains("unknown control \"blockExec\""), "{e}");
    for c in Control::ALL {
        assert!(e.contains(c.yaml_key()), "{e}");
    }
}

#[test]
fn unknown_field_is_an_error() {
    let e = err(&format!(
        "{HEAD}  mood: enforce\n  controls: {{filelessExec: {{}}}}\n"
    ));
    assert!(e.starts_with("bad.yaml:5:"), "{e}");
    assert!(e.contains("mood"), "{e}");
    let e = err(&format!(
        "{HEAD}  controls:\n    blockContainerExec: {{allowed: [ls]}}\n"
    ));
    assert!(e.starts_with("bad.yaml:6:"), "{e}");
    assert!(e.contains("allowed"), "{e}");
}

#[test]
fn bad_cidr() {
    let e = err(&format!("{HEAD}  controls:\n    blockedOutbound:\n      addresses: [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"));
    assert!(e.starts_with("bad.yaml:7:"), "{e}");
    assert!(
        e.contains("invalid CIDR \"10.0.0.0/33\": prefix length must be 0..=32"),
        "{e}"
    );
}

#[test]
fn bad_port() {
    for p in ["0", "65536", "-1"] {
        let e = err(&format!(
            "{HEAD}  controls:\n    blockedOutbound:\n      ports: [{p}]\n"
        ));
        assert!(e.starts_with("bad.yaml:7:"), "{e}");
        assert!(e.contains(&format!("port {p} is not in 1..=65535")), "{e}");
    }
    let e = err(&format!("{HEAD}  controls:\n    blockedOutbound: {{}}\n"));
    assert!(
        e.contains("blockedOutbound lists no ports and no addresses"),
        "{e}"
    );
}

#[test]
fn unknown_mode() {
    let e = err(&format!(
        "{HEAD}  mode: block\n  controls: {{filelessExec: {{}}}}\n"
    ));
    assert!(e.starts_with("bad.yaml:5:"), "{e}");
    assert!(
        e.contains("block") && e.contains("audit") && e.contains("enforce"),
        "{e}"
    );
}

#[test]
fn bad_timestamp() {
    let e = err(&format!(
        "{HEAD}  enforceAfter: \"2026-13-01\"\n  controls: {{filelessExec: {{}}}}\n"
    ));
    assert!(e.starts_with("bad.yaml:5:"), "{e}");
    assert!(
        e.contains("enforceAfter \"2026-13-01\" is not an RFC 3339 timestamp"),
        "{e}"
    );
}

#[test]
fn bad_globs() {
    let e = err(&format!(
        "{HEAD}  controls:\n    blockedFiles: [\"/etc/[abc\"]\n"
    ));
    assert!(e.starts_with("bad.yaml:6:"), "{e}");
    assert!(
        e.contains("invalid glob \"/etc/[abc\": unterminated [...]"),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}  controls:\n    readOnlyPaths: [\"etc/*\"]\n"
    ));
    assert!(e.contains("path glob \"etc/*\" must start with '/'"), "{e}");
    let e = err(&format!(
        "{HEAD}  controls:\n    blockedExecutables: [\"bin/nc\"]\n"
    ));
    assert!(e.contains("executable \"bin/nc\" has a '/'"), "{e}");
    let e = err(&format!(
        "{HEAD}  scope: {{namespaces: [\"\"]}}\n  controls: {{filelessExec: {{}}}}\n"
    ));
    assert!(e.contains("invalid glob \"\": empty pattern"), "{e}");
}

#[test]
fn document_level_errors() {
    let e = err("apiVersion: mamori.dev/v2\nkind: RuntimePolicy\nmetadata: {name: p}\nspec: {controls: {filelessExec: {}}}\n");
    assert_eq!(
        e,
        "bad.yaml:1:13: unsupported apiVersion \"mamori.dev/v2\" (expected \"mamori.dev/v1\")"
    );
    let e = err("apiVersion: mamori.dev/v1\nkind: Policy\nmetadata: {name: p}\nspec: {controls: {filelessExec: {}}}\n");
    assert!(
        e.starts_with("bad.yaml:2:7: unsupported kind \"Policy\""),
        "{e}"
    );
    let e = err("apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: \"\"}\nspec: {controls: {filelessExec: {}}}\n");
    assert!(e.starts_with("bad.yaml:3:"), "{e}");
    assert!(e.contains("must be non-empty"), "{e}");
    let e = err(&format!("{HEAD}  mode: enforce\n"));
    assert!(e.contains("runtime policy \"p\" has no controls"), "{e}");
    // Duplicate names in one file point at the second one.
    let doc = format!("{HEAD}  controls: {{filelessExec: {{}}}}\n");
    let e = err(&format!("{doc}---\n{doc}"));
    assert_eq!(
        e,
        "bad.yaml:9:18: duplicate runtime policy name \"p\" (first defined at bad.yaml:3:18)"
    );
}

#[test]
fn empty_input_is_an_empty_set() {
    assert!(set("").is_empty());
    assert!(set("# nothing yet\n").is_empty());
}

mod no_panic {
    use proptest::prelude::*;

    use super::super::RuntimePolicySet;

    const VALID: &str = "apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: p}\nspec:\n  mode: enforce\n  enforceAfter: \"2026-12-01T00:00:00Z\"\n  scope: {namespaces: [\"prod-*\"], podLabels: {app: web}}\n  bypass: {namespaces: [], images: [\"x/*\"]}\n  controls:\n    blockContainerExec: {allowedExecutables: [ls, /bin/date]}\n    blockedOutbound: {ports: [1, 65535], addresses: [\"::/0\", 10.0.0.0/8]}\n    blockedFiles: [\"/etc/[a-z]*\"]\n";

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = RuntimePolicySet::from_str_named(&s, "fuzz.yaml");
        }

        /// Cutting a valid document anywhere, or replacing one character, gives a policy or an
        /// error, never a panic; an error always names the file.
        #[test]
        fn mangled_valid_document_never_panics(cut in 0usize..600, at in 0usize..600, c in "\\PC") {
            let cut = cut.min(VALID.len());
            let _ = RuntimePolicySet::from_str_named(&VALID[..cut], "fuzz.yaml");
            let at = at.min(VALID.len() - 1); // VALID is ASCII: every index is a char boundary
            let mut s = VALID.to_string();
            s.replace_range(at..at + 1, &c);
            if let Err(e) = RuntimePolicySet::from_str_named(&s, "fuzz.yaml") {
                prop_assert!(e.to_string().starts_with("fuzz.yaml"), "{}", e);
            }
        }
    }

    #[test]
    fn the_valid_document_is_valid() {
        assert!(VALID.is_ascii(), "the mangling test slices by byte");
        let s =
            RuntimePolicySet::from_str_named(VALID, "fuzz.yaml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.policies().len(), 1);
    }
}
