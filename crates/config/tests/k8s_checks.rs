//! Kubernetes checks on self-written manifests.

use mamori_config::{scan_paths, scan_source, Settings};

fn ids(path: &str, text: &str) -> Vec<String> {
    let r = scan_source(path, text, &Settings::default());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.findings.into_iter().map(|f| f.rule_id).collect()
}

const BAD_DEPLOY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        env:
        - name: DB_PASSWORD
          value: "Sup3rS3cret!"
        - name: AWS_ACCESS_KEY_ID
          value: AKIAIOSFODNN7EXAMPLE
        - name: API_TOKEN
          valueFrom:
            secretKeyRef: {name: api, key: token}
"#;

const GOOD_DEPLOY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      automountServiceAccountToken: false
      containers:
      - name: app
        image: registry.example/web:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 200m, memory: 128Mi}
        livenessProbe: {httpGet: {path: /, port: 80}}
        readinessProbe: {httpGet: {path: /, port: 80}}
        securityContext:
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-imds, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}
"#;

#[test]
fn bad_workload_trips_every_container_rule() {
    let got = ids("deploy.yaml", BAD_DEPLOY);
    for id in [
        "MK-K8S-001",
        "MK-K8S-002",
        "MK-K8S-003",
        "MK-K8S-004",
        "MK-K8S-005",
        "MK-K8S-006",
        "MK-K8S-007",
        "MK-K8S-008",
        "MK-K8S-009",
        "MK-K8S-010",
        "MK-K8S-030",
        "MK-K8S-031",
    ] {
        assert!(got.contains(&id.to_string()), "{id} missing from {got:?}");
    }
    // The literal password and the AWS key, not the secretKeyRef.
    assert_eq!(got.iter().filter(|i| *i == "MK-K8S-009").count(), 2);
}

#[test]
fn hardened_workload_is_clean() {
    let got = ids("deploy.yaml", GOOD_DEPLOY);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn secret_findings_are_redacted_and_positioned() {
    let r = scan_source("d.yaml", BAD_DEPLOY, &Settings::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.rule_id == "MK-K8S-009")
        .unwrap();
    assert_eq!((f.location.line, f.location.column), (Some(14), Some(18)));
    assert!(!f.message.contains("Sup3rS3cret"), "{}", f.message);
}

#[test]
fn typed_and_plain_lists_are_expanded() {
    let t = "apiVersion: v1\nkind: RoleBindingList\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRoleBinding\n  metadata: {name: x}\n  roleRef: {kind: ClusterRole, name: cluster-admin}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p, namespace: a}\n    spec: {containers: [{name: c, image: busybox:latest, securityContext: {privileged: true}}]}\n";
    let got = ids("lists.yaml", t);
    assert!(got.contains(&"MK-K8S-021".to_string()), "{got:?}");
    assert!(got.contains(&"MK-K8S-005".to_string()), "{got:?}");
}

#[test]
fn rbac_rules() {
    let t = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules:\n- apiGroups: ['']\n  resources: [secrets]\n  verbs: [get, list]\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n  verbs: [bind, escalate]\n- apiGroups: ['']\n  resources: [users]\n  verbs: [impersonate]\n- apiGroups: ['']\n  resources: [secrets]\n  resourceNames: [one]\n  verbs: [get]\n";
    let r = scan_source("r.yaml", t, &Settings::default());
    let count = |id: &str| r.findings.iter().filter(|f| f.rule_id == id).count();
    assert_eq!(count("MK-K8S-023"), 2, "core secrets read, plus * on *");
    assert_eq!(count("MK-K8S-020"), 1);
    assert_eq!(count("MK-K8S-022"), 2);
    let lines: Vec<u32> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "MK-K8S-022")
        .filter_map(|f| f.location.line)
        .collect();
    assert_eq!(lines, vec![11, 14]);
}

#[test]
fn services_and_namespaces() {
    let t = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\nspec: {type: LoadBalancer}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n";
    let r = scan_source("s.yaml", t, &Settings::default());
    let got: Vec<(&str, Option<u32>)> = r
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.location.line))
        .collect();
    assert_eq!(got, vec![("MK-K8S-011", Some(4)), ("MK-K8S-032", Some(6))]);
}

#[test]
fn irsa_on_service_account_changes_the_message_not_the_verdict() {
    let t = format!("{BAD_DEPLOY}---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: default\n  annotations: {{eks.amazonaws.com/role-arn: arn:aws:iam::1:role/x}}\nautomountServiceAccountToken: false\n");
    let r = scan_source("d.yaml", &t, &Settings::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.rule_id == "MK-K8S-031")
        .unwrap();
    assert!(f.message.contains("even though"), "{}", f.message);
    assert!(
        !r.findings.iter().any(|f| f.rule_id == "MK-K8S-008"),
        "automount disabled on the SA"
    );
}

#[test]
fn imds_policy_is_matched_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = GOOD_DEPLOY.split("---").next().unwrap().to_string();
    app = app.replace("namespace: shop", "namespace: pay");
    std::fs::write(dir.path().join("app.yaml"), &app).unwrap();
    let settings = Settings::default();
    let alone = scan_paths(&[dir.path().to_path_buf()], &settings).unwrap();
    assert!(alone.findings.iter().any(|f| f.rule_id == "MK-K8S-030"));
    let policy = GOOD_DEPLOY
        .split("---")
        .nth(1)
        .unwrap()
        .replace("namespace: shop", "namespace: pay");
    std::fs::write(dir.path().join("policy.json.yaml"), policy).unwrap();
    let both = scan_paths(&[dir.path().to_path_buf()], &settings).unwrap();
    assert!(
        !both.findings.iter().any(|f| f.rule_id == "MK-K8S-030"),
        "{:?}",
        both.findings
    );
}

#[test]
fn json_manifests_have_positions() {
    let t = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Service\",\n  \"metadata\": {\"name\": \"s\", \"namespace\": \"x\"},\n  \"spec\": {\"type\": \"NodePort\"}\n}\n";
    let r = scan_source("svc.json", t, &Settings::default());
    let f = &r.findings[0];
    assert_eq!(
        (f.rule_id.as_str(), f.location.line, f.location.column),
        ("MK-K8S-011", Some(5), Some(20))
    );
}

#[test]
fn yaml_suppression_comment() {
    let t = format!("# mamori:ignore=MK-K8S-009 demo credentials\n{BAD_DEPLOY}");
    let r = scan_source("d.yaml", &t, &Settings::default());
    assert!(!r.findings.iter().any(|f| f.rule_id == "MK-K8S-009"));
    assert_eq!(r.suppressed, 2);
}

#[test]
fn pod_security_standards_via_the_policy_crate() {
    let t = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: x:1\n    securityContext:\n      privileged: true\n";
    let r = scan_source("p.yaml", t, &Settings::default());
    let base: Vec<(Option<u32>, &str)> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "MK-K8S-040")
        .map(|f| (f.location.line, f.message.as_str()))
        .collect();
    assert!(
        base.iter()
            .any(|(l, m)| *l == Some(5) && m.contains("hostNamespaces")),
        "{base:?}"
    );
    assert!(
        base.iter()
            .any(|(l, m)| *l == Some(10) && m.contains("privileged")),
        "{base:?}"
    );
    let restricted: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "MK-K8S-041")
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        restricted.iter().any(|m| m.contains("runAsNonRoot")),
        "{restricted:?}"
    );
    assert!(
        !restricted.iter().any(|m| m.contains(" privileged:")),
        "baseline findings are not repeated: {restricted:?}"
    );
}
