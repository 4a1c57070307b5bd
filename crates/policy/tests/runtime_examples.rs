//! The example runtime policies in `examples/policies/` load and decide as their comments say.

use mamori_policy::runtime::{Activity, Control, Mode, RuntimePolicySet, Status, Workload};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

fn example(name: &str) -> RuntimePolicySet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name);
    RuntimePolicySet::from_path(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn pod(ns: &str) -> Workload<'_> {
    Workload {
        namespace: Some(ns),
        pod_labels: None,
        image: Some("docker.io/library/nginx:1.27"),
        container_name: Some("web"),
    }
}

fn exec<'a>(path: &'a str, name: &'a str, session: bool, upper: bool) -> Activity<'a> {
    Activity::Exec {
        path,
        name,
        is_exec_session: session,
        is_upper_layer: upper,
        is_fileless: false,
        stdio_is_socket: false,
    }
}

fn statuses(set: &RuntimePolicySet, w: &Workload<'_>, a: &Activity<'_>) -> Vec<(Control, Status)> {
    set.evaluate(w, a, NOW)
        .iter()
        .map(|d| (d.control, d.status))
        .collect()
}

#[test]
fn runtime_enforce_example() {
    let set = example("runtime-enforce.yaml");
    assert_eq!(set.policies().len(), 1);
    let p = &set.policies()[0];
    assert_eq!(p.name, "runtime-enforce");
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(
        set.controls_used().into_iter().collect::<Vec<_>>(),
        [Control::BlockContainerExec, Control::DriftPrevention]
    );
    let w = pod("shop");
    assert_eq!(
        statuses(&set, &w, &exec("/bin/sh", "sh", true, false)),
        [(Control::BlockContainerExec, Status::Block)]
    );
    // The healthcheck-style allowed list.
    assert!(statuses(&set, &w, &exec("/bin/ls", "ls", true, false)).is_empty());
    assert!(statuses(&set, &w, &exec("/bin/date", "date", true, false)).is_empty());
    assert_eq!(
        statuses(&set, &w, &exec("/usr/bin/date", "date", true, false)).len(),
        1
    );
    // Drift: a dropped binary, even outside an exec session.
    assert_eq!(
        statuses(&set, &w, &exec("/tmp/xmrig", "xmrig", false, true)),
        [(Control::DriftPrevention, Status::Block)]
    );
    // Ordinary process starts of the image's own binaries are untouched.
    assert!(statuses(&set, &w, &exec("/usr/sbin/nginx", "nginx", false, false)).is_empty());
    // kube-system is bypassed.
    assert!(statuses(
        &set,
        &pod("kube-system"),
        &exec("/bin/sh", "sh", true, true)
    )
    .is_empty());
    assert!(set.enforces(&w, Control::BlockContainerExec, NOW));
    assert!(!set.enforces(&pod("kube-system"), Control::BlockContainerExec, NOW));
    // A plain container (no namespace) is covered: the scope is empty.
    assert!(set.enforces(&Workload::default(), Control::DriftPrevention, NOW));
}

#[test]
fn runtime_audit_example() {
    let set = example("runtime-audit.yaml");
    assert_eq!(set.policies()[0].mode, Mode::Audit);
    let w = pod("shop");
    assert_eq!(
        statuses(&set, &w, &exec("/bin/sh", "sh", true, true)),
        [
            (Control::BlockContainerExec, Status::Detect),
            (Control::DriftPrevention, Status::Detect)
        ]
    );
    assert!(statuses(&set, &w, &exec("/bin/ls", "ls", true, false)).is_empty());
    assert!(set.watches(&w, Control::BlockContainerExec, NOW));
    assert!(!set.enforces(&w, Control::BlockContainerExec, NOW));
    assert!(statuses(
        &set,
        &pod("kube-system"),
        &exec("/bin/sh", "sh", true, true)
    )
    .is_empty());
}

#[test]
fn both_examples_merge() {
    let mut set = example("runtime-enforce.yaml");
    set.merge(example("runtime-audit.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let d = set.evaluate(&pod("shop"), &exec("/bin/sh", "sh", true, false), NOW);
    let got: Vec<(&str, Status)> = d.iter().map(|d| (d.policy.as_str(), d.status)).collect();
    assert_eq!(
        got,
        [
            ("runtime-enforce", Status::Block),
            ("runtime-audit", Status::Detect)
        ]
    );
    // Loading the same file twice is a duplicate-name error pointing at both.
    let e = set
        .merge(example("runtime-audit.yaml"))
        .expect_err("duplicate");
    assert!(
        e.to_string()
            .contains("duplicate runtime policy name \"runtime-audit\""),
        "{e}"
    );
}

/// The sensor DaemonSet's shipped policy (deploy/manifests/node) loads and is audit-only.
#[test]
fn deployed_sensor_policy_configmap_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/manifests/node/50-sensor-policies.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let cm: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let policy = cm["data"]["policies.yaml"]
        .as_str()
        .expect("policies.yaml key");
    let set = mamori_policy::RuntimePolicySet::from_str_named(policy, "50-sensor-policies.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!set.is_empty());
    assert!(set
        .policies()
        .iter()
        .all(|p| p.mode == mamori_policy::RuntimeMode::Audit));
}
