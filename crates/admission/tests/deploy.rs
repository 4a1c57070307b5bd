//! `deploy/`: every plain manifest parses, has the properties the issue asks for, and passes
//! Pod Security restricted; the Helm chart renders (with a small renderer for the template
//! subset the chart uses, `support/helm.rs`: helm is not installable here) into objects that
//! parse and have the same properties.

use std::path::{Path, PathBuf};

#[path = "support/helm.rs"]
mod helm;

use mamori_policy::manifest::{self, ManifestObject};
use mamori_policy::{Engine, Policy};
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The admission webhook's manifests: the YAML files directly in deploy/manifests (the node
/// sensor and console live in deploy/manifests/node and run at other Pod Security levels).
fn objects() -> Vec<ManifestObject> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(deploy().join("manifests"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    manifest::load_paths(&files).unwrap_or_else(|e| panic!("{e}"))
}

fn by_kind<'a>(objs: &'a [ManifestObject], kind: &str) -> &'a Value {
    &objs
        .iter()
        .find(|o| o.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
        .value
}

#[test]
fn plain_manifests_have_what_the_webhook_needs() {
    let objs = objects();
    let kinds: Vec<&str> = objs.iter().map(ManifestObject::kind).collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ValidatingWebhookConfiguration",
    ] {
        assert!(kinds.contains(&k), "missing {k} in {kinds:?}");
    }
    // The namespace watch: read-only access to namespaces, nothing else, and a token to use it.
    let role = by_kind(&objs, "ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}])
    );
    assert_eq!(
        by_kind(&objs, "ClusterRoleBinding")["subjects"][0]["name"],
        "mamori-admission"
    );
    let d = by_kind(&objs, "Deployment");
    assert_eq!(
        d["spec"]["template"]["spec"]["automountServiceAccountToken"],
        true
    );
    assert_eq!(d["spec"]["replicas"], 2);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
        true
    );

    let w = by_kind(&objs, "ValidatingWebhookConfiguration");
    let hooks = w["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2);
    for h in hooks {
        assert_eq!(h["timeoutSeconds"], 5);
        assert_eq!(h["sideEffects"], "None");
        let excluded = &h["namespaceSelector"]["matchExpressions"][0]["values"];
        assert!(excluded
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "kube-system"));
        assert!(excluded
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "mamori-system"));
    }
    let rules = hooks[0]["rules"].to_string();
    for r in [
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "pods/ephemeralcontainers",
        "CONNECT",
    ] {
        assert!(rules.contains(r), "pods webhook lacks {r}");
    }
    assert!(hooks[1]["rules"].to_string().contains("cronjobs"));

    // The shipped policy loads.
    let cm = by_kind(&objs, "ConfigMap");
    let text = cm["data"]["policy.yaml"].as_str().unwrap();
    Policy::from_str_named(text, "20-policy.yaml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn own_deployment_passes_pod_security_restricted() {
    let objs = objects();
    let engine = Engine::new(Policy::pod_security_only(
        "restricted:latest".parse().unwrap(),
    ));
    let checked = manifest::check_objects(&engine, &objs, time::OffsetDateTime::now_utc());
    assert_eq!(checked.len(), 1);
    assert!(checked[0].decision.allowed(), "{:?}", checked[0].decision);
}

fn chart_values() -> Value {
    let chart = deploy().join("helm/mamori-admission");
    serde_saphyr::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap()).unwrap()
}

fn render(values: &Value, namespace: &str) -> Vec<(String, Value)> {
    let chart = helm::Chart::load(&deploy().join("helm/mamori-admission/templates"))
        .unwrap_or_else(|e| panic!("{e}"));
    let rendered = chart
        .render(values, "mamori", namespace)
        .unwrap_or_else(|e| panic!("{e}"));
    helm::documents(&rendered).unwrap_or_else(|e| panic!("{e}"))
}

fn doc<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    &docs
        .iter()
        .find(|(_, v)| v["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
        .1
}

#[test]
fn helm_chart_renders_to_valid_objects() {
    let chart = deploy().join("helm/mamori-admission");
    let chart_yaml: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(chart_yaml["apiVersion"], "v2");
    let values = chart_values();
    assert_eq!(values["replicas"], 2);
    assert_eq!(values["webhook"]["timeoutSeconds"], 5);

    let docs = render(&values, "sec-tools");
    let mut kinds: Vec<&str> = docs
        .iter()
        .filter_map(|(_, v)| v["kind"].as_str())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceAccount",
            "ValidatingWebhookConfiguration"
        ]
    );
    for (file, v) in &docs {
        assert!(v["metadata"]["name"].is_string(), "{file}: no name");
        if !matches!(
            v["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "ValidatingWebhookConfiguration")
        ) {
            assert_eq!(v["metadata"]["namespace"], "sec-tools", "{file}");
        }
    }
    // The policy in the ConfigMap loads, with the release namespace in its bypass list.
    let cm = doc(&docs, "ConfigMap");
    let text = cm["data"]["policy.yaml"].as_str().unwrap();
    let policy = Policy::from_str_named(text, "configmap.yaml#policy.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(policy.bypass.namespaces.iter().any(|n| n == "sec-tools"));
    assert!(policy.bypass.namespaces.iter().any(|n| n == "kube-system"));
    assert_eq!(policy.rules.len(), 2);
    // The webhook: both hooks exclude the bypass list, point at the release's service, and
    // carry the generated CA.
    let w = doc(&docs, "ValidatingWebhookConfiguration");
    let secret = doc(&docs, "Secret");
    for h in w["webhooks"].as_array().unwrap() {
        assert_eq!(h["clientConfig"]["service"]["namespace"], "sec-tools");
        assert_eq!(h["clientConfig"]["caBundle"], secret["data"]["ca.crt"]);
        let excluded = h["namespaceSelector"]["matchExpressions"][0]["values"].to_string();
        assert!(excluded.contains("sec-tools") && excluded.contains("kube-system"));
        assert_eq!(h["timeoutSeconds"], 5);
    }
    assert_eq!(w["webhooks"][0]["failurePolicy"], "Fail");
    assert_eq!(w["webhooks"][1]["failurePolicy"], "Ignore");
    // RBAC: namespaces, read-only, bound to the chart's service account.
    assert_eq!(
        doc(&docs, "ClusterRole")["rules"][0]["verbs"],
        serde_json::json!(["get", "list", "watch"])
    );
    assert_eq!(
        doc(&docs, "ClusterRoleBinding")["subjects"][0]["namespace"],
        "sec-tools"
    );
    // The Deployment passes Pod Security restricted and runs the namespace watch.
    let d = doc(&docs, "Deployment");
    let args = d["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--namespace-labels=auto"), "{args}");
    let text = serde_json::to_string(d).unwrap();
    let objs = manifest::parse(&text, "deployment.yaml").unwrap();
    let engine = Engine::new(Policy::pod_security_only(
        "restricted:latest".parse().unwrap(),
    ));
    let checked = manifest::check_objects(&engine, &objs, time::OffsetDateTime::now_utc());
    assert!(checked[0].decision.allowed(), "{:?}", checked[0].decision);
}

#[test]
fn helm_chart_renders_with_an_existing_secret_and_fail_open() {
    let mut values = chart_values();
    values["tls"]["mode"] = "existingSecret".into();
    values["tls"]["existingSecret"] = "my-cert".into();
    values["tls"]["caBundle"] = "Q0E=".into();
    values["webhook"]["failurePolicy"] = "Ignore".into();
    values["namespaceLabels"] = "off".into();
    let docs = render(&values, "mamori-system");
    assert!(docs.iter().all(|(_, v)| v["kind"] != "Secret"));
    let w = doc(&docs, "ValidatingWebhookConfiguration");
    assert_eq!(w["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=");
    assert_eq!(w["webhooks"][0]["failurePolicy"], "Ignore");
    let d = doc(&docs, "Deployment");
    let vols = d["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(vols.contains("my-cert"), "{vols}");
    assert!(d.to_string().contains("--namespace-labels=off"));
}

#[test]
fn the_test_renderer_refuses_what_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "x: {{ .Values.a | upper }}\n").unwrap();
    let chart = helm::Chart::load(dir.path()).unwrap();
    let e = chart
        .render(&serde_json::json!({"a": "b"}), "r", "n")
        .unwrap_err();
    assert!(e.contains("function upper is not supported"), "{e}");
    std::fs::write(dir.path().join("a.yaml"), "{{ if .Values.a }}x\n").unwrap();
    assert!(helm::Chart::load(dir.path()).is_err());
}
