//! `deploy/`: every plain manifest parses, has the properties the issue asks for, and passes
//! Pod Security restricted; the Helm chart's static files parse and its policy loads. (Helm
//! itself is not installed here, so templates are only checked for balanced delimiters.)

use std::path::{Path, PathBuf};

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
    let d = by_kind(&objs, "Deployment");
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

#[test]
fn helm_chart_static_files_parse_and_templates_are_balanced() {
    let chart = deploy().join("helm/mamori-admission");
    let chart_yaml: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(chart_yaml["apiVersion"], "v2");
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
            .unwrap();
    assert_eq!(values["replicas"], 2);
    assert_eq!(values["webhook"]["timeoutSeconds"], 5);
    // The default policy in values.yaml is a valid mamori policy.
    let policy = serde_json::to_string(&values["policy"]).unwrap();
    Policy::from_str_named(&policy, "values.yaml#policy").unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    for e in std::fs::read_dir(chart.join("templates")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text.matches("{{").count(),
            text.matches("}}").count(),
            "unbalanced template delimiters in {}",
            p.display()
        );
        n += 1;
    }
    assert!(n >= 8, "expected the chart's templates, found {n}");
}
