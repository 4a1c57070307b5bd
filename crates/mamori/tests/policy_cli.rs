//! `mamori policy check` end to end on manifests written here.

use std::process::Command;

fn mamori() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
}

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - {name: web, image: "nginx:1.27", securityContext: {privileged: true}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: job, image: "busybox:1.36"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
"#;

#[test]
fn pod_security_on_workloads() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("w.yaml");
    std::fs::write(&f, WORKLOADS).unwrap();
    let out = mamori()
        .args([
            "policy",
            "check",
            "--pod-security",
            "baseline:v1.25",
            "--format",
            "json",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2, "ConfigMap is not checked");
    assert_eq!(arr[0]["decision"]["kind"], "denied");
    assert_eq!(
        arr[0]["decision"]["results"][0]["pointer"],
        "/spec/template/spec/containers/0/securityContext/privileged"
    );
    assert_eq!(arr[1]["decision"]["kind"], "allowed");

    // restricted denies the CronJob too; table output names both.
    let out = mamori()
        .args(["policy", "check", "--pod-security", "restricted"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DENIED   CronJob default/nightly"), "{text}");
    assert!(text.contains("2 objects, 2 denied"), "{text}");
}

#[test]
fn allowed_manifests_exit_zero_and_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.yaml");
    std::fs::write(
        &ok,
        "kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n",
    )
    .unwrap();
    let out = mamori()
        .args(["policy", "check", "--pod-security", "baseline"])
        .arg(&ok)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let bad = dir.path().join("policy.yaml");
    std::fs::write(
        &bad,
        "apiVersion: mamori.dev/v1\nkind: Policy\nspec:\n  rules: []\n  extra: 1\n",
    )
    .unwrap();
    let out = mamori()
        .args(["policy", "check", "--policy"])
        .arg(&bad)
        .arg(&ok)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy.yaml:5:"), "{err}");

    let out = mamori()
        .args(["policy", "check", "--pod-security", "strict"])
        .arg(&ok)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn example_policies_load_and_decide() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.yaml");
    std::fs::write(&f, "kind: Pod\nmetadata: {name: p, namespace: kube-system}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n").unwrap();
    for p in ["pss-restricted.yaml", "seed-cloudone.yaml"] {
        let out = mamori()
            .args(["policy", "check", "--policy"])
            .arg(root.join("examples/policies").join(p))
            .arg(&f)
            .output()
            .unwrap();
        // kube-system is bypassed by both example policies.
        assert_eq!(out.status.code(), Some(0), "{p}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("BYPASSED"));
    }
}
