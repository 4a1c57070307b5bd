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

/// `mamori admission serve` as a process: a review over TLS is denied, the decision reaches a
/// `--output file:` as an admission alert, `/metrics` shows the certificate expiry, and without
/// a cluster the server says once that namespace labels are unavailable.
#[test]
fn admission_serve_decides_and_writes_decisions_to_outputs() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/pss-restricted.yaml");
    let out_file = dir.path().join("decisions.jsonl");
    let certs = dir.path().join("certs");
    let mut child = mamori()
        .args(["admission", "serve", "--policy"])
        .arg(&policy)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--self-signed",
            "--dns-name",
            "mamori.test",
        ])
        .arg("--cert-dir")
        .arg(&certs)
        .arg(format!("--output=file:{}", out_file.display()))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = Vec::new();
    let addr = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("server ended early: {said:?}");
        }
        if let Some(a) = line.trim().strip_prefix("listening on https://") {
            break a.parse::<std::net::SocketAddr>().unwrap();
        }
        said.push(line);
    };
    let unavailable = said
        .iter()
        .filter(|l| l.starts_with("namespace labels unavailable"))
        .count();
    assert_eq!(unavailable, 1, "{said:?}");
    assert!(said.iter().any(|l| l.contains("not applied")), "{said:?}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (code, body, metrics) = rt.block_on(async {
        let c =
            mamori_admission::client::Connector::new(&certs.join("ca.crt"), "mamori.test").unwrap();
        let mut conn = c.connect(addr).await.unwrap();
        let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview", "request": {"uid": "u-9", "kind": {"kind": "Pod"},
            "resource": {"resource": "pods"}, "name": "web", "namespace": "shop",
            "operation": "CREATE", "userInfo": {"username": "alice"},
            "object": {"kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}});
        let (code, body) = conn
            .send("POST", "/validate", review.to_string().into())
            .await
            .unwrap();
        let (_, metrics) = conn
            .send("GET", "/metrics", Default::default())
            .await
            .unwrap();
        (code, body, metrics)
    });
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false);
    let metrics = String::from_utf8_lossy(&metrics).to_string();
    let expiry = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mamori_admission_certificate_expiry_seconds "))
        .unwrap_or_else(|| panic!("{metrics}"));
    let days = expiry.parse::<f64>().unwrap() / 86400.0;
    assert!((364.0..=366.0).contains(&days), "{days}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let lines = std::fs::read_to_string(&out_file).unwrap();
    let alerts: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{lines}");
    let a = &alerts[0];
    assert_eq!(a["source"], "admission");
    assert_eq!(a["status"], "block");
    assert_eq!(a["priority"], "Critical");
    assert_eq!(a["output_fields"]["admission.decision"], "denied");
    assert_eq!(a["output_fields"]["k8s.ns.name"], "shop");
    assert!(
        a["rule"].as_str().unwrap().starts_with("pss-restricted: "),
        "{a}"
    );
}
