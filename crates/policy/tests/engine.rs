//! The engine on requests built by hand, with the example policies and small inline ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use mamori_core::Severity;
use mamori_policy::document::Labels;
use mamori_policy::verdict::StaticVerdicts;
use mamori_policy::{
    Action, DecisionKind, Engine, ImageVerdict, Operation, Policy, Request, UserInfo,
    VerdictVulnerability,
};
use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

fn example(name: &str) -> Policy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name);
    Policy::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn policy(rules_yaml: &str) -> Policy {
    let text = format!(
        "apiVersion: mamori.dev/v1\nkind: Policy\nmetadata: {{name: t}}\nspec:\n  rules:\n{rules_yaml}"
    );
    Policy::from_str_named(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}}, "spec": spec})
}

fn restricted_ok() -> Value {
    pod(json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "registry.example.com/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
    }))
}

struct Req {
    op: Operation,
    kind: &'static str,
    resource: &'static str,
    sub: &'static str,
    ns: &'static str,
    user: UserInfo,
    object: Option<Value>,
    old: Option<Value>,
    ns_labels: Option<Labels>,
}

impl Req {
    fn create(kind: &'static str, resource: &'static str, object: Value) -> Req {
        Req {
            op: Operation::Create,
            kind,
            resource,
            sub: "",
            ns: "team-a",
            user: UserInfo {
                username: "alice".into(),
                groups: vec!["dev".into()],
            },
            object: Some(object),
            old: None,
            ns_labels: None,
        }
    }

    fn run(&self, engine: &Engine) -> mamori_policy::Decision {
        let name = self
            .object
            .as_ref()
            .and_then(|o| o.pointer("/metadata/name"))
            .and_then(Value::as_str)
            .unwrap_or("web");
        let r = Request {
            operation: self.op,
            kind: self.kind,
            resource: self.resource,
            sub_resource: self.sub,
            namespace: self.ns,
            name,
            user: &self.user,
            object: self.object.as_ref(),
            old_object: self.old.as_ref(),
            namespace_labels: self.ns_labels.as_ref(),
        };
        engine.evaluate(&r, NOW)
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn pss_restricted_example_denies_pods_and_warns_on_templates() {
    let engine = Engine::new(example("pss-restricted.yaml"));
    let bad = pod(json!({"containers": [{"name": "app", "image": "nginx"}]}));
    let d = Req::create("Pod", "pods", bad.clone()).run(&engine);
    assert_eq!(d.kind, DecisionKind::Denied);
    assert_eq!(d.code, 403);
    let msg = d.message.unwrap();
    assert!(msg.starts_with("pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"app\" must set securityContext.allowPrivilegeEscalation=false)"), "{msg}");

    let ok = Req::create("Pod", "pods", restricted_ok()).run(&engine);
    assert_eq!(ok.kind, DecisionKind::Allowed, "{ok:?}");

    let deploy =
        json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": bad}});
    let d = Req::create("Deployment", "deployments", deploy).run(&engine);
    assert_eq!(d.kind, DecisionKind::Warned);
    assert!(d.allowed());
    assert!(d.warnings[0].starts_with("would violate PodSecurity \"restricted:latest\": "));
    assert_eq!(
        d.results[0].pointer.as_deref(),
        Some("/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation")
    );
}

#[test]
fn bypass_and_opt_out_label() {
    let engine = Engine::new(example("pss-restricted.yaml"));
    let bad = pod(json!({"hostNetwork": true, "containers": [{"name": "c", "image": "x"}]}));
    let mut r = Req::create("Pod", "pods", bad);
    r.ns = "kube-system";
    assert_eq!(r.run(&engine).kind, DecisionKind::Bypassed);
    r.ns = "team-b";
    r.ns_labels = Some(labels(&[("mamori.dev/ignore", "true")]));
    assert_eq!(r.run(&engine).kind, DecisionKind::Bypassed);
    r.ns_labels = Some(labels(&[("mamori.dev/ignore", "false")]));
    assert_eq!(r.run(&engine).kind, DecisionKind::Denied);
}

#[test]
fn namespace_labels_choose_level_and_mode() {
    let engine = Engine::new(example("pss-restricted.yaml"));
    let baseline_ok = pod(json!({"containers": [{"name": "c", "image": "x"}]}));
    let mut r = Req::create("Pod", "pods", baseline_ok);
    r.ns_labels = Some(labels(&[
        ("pod-security.kubernetes.io/enforce", "baseline"),
        ("pod-security.kubernetes.io/enforce-version", "v1.30"),
        ("pod-security.kubernetes.io/warn", "restricted"),
    ]));
    let d = r.run(&engine);
    assert_eq!(d.kind, DecisionKind::Warned, "{d:?}");
    assert!(d.warnings[0].starts_with("would violate PodSecurity \"restricted:latest\""));
}

#[test]
fn enforce_after_audits_until_then() {
    let p = policy(
        "  - id: later\n    action: enforce\n    enforceAfter: 2027-01-01T00:00:00Z\n    pod: {hostPID: true}\n",
    );
    assert_eq!(p.rules[0].action_at(NOW), Action::Audit);
    let engine = Engine::new(p);
    let d = Req::create(
        "Pod",
        "pods",
        pod(json!({"hostPID": true, "containers": []})),
    )
    .run(&engine);
    assert_eq!(d.kind, DecisionKind::Audited);
    assert!(d.audit_annotations["audit-violations"].contains("hostPID=true"));
}

#[test]
fn exemptions_and_scope() {
    let p = policy(concat!(
        "  - id: pss\n    action: enforce\n    scope:\n      namespaces: {include: [\"team-*\"], exclude: [team-x]}\n",
        "      objectSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}\n",
        "    podSecurity:\n      level: baseline\n      exemptions: {usernames: [ci-bot], runtimeClassNames: [kata]}\n",
    ));
    let engine = Engine::new(p);
    let bad = pod(json!({"hostIPC": true, "containers": []}));
    let mut r = Req::create("Pod", "pods", bad.clone());
    assert_eq!(r.run(&engine).kind, DecisionKind::Denied);
    r.ns = "team-x";
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
    r.ns = "prod";
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
    r.ns = "team-a";
    r.user.username = "ci-bot".into();
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
    r.user.username = "alice".into();
    let mut kata = bad.clone();
    kata["spec"]["runtimeClassName"] = json!("kata");
    r.object = Some(kata);
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
    let mut other = bad;
    other["metadata"]["labels"]["app"] = json!("db");
    r.object = Some(other);
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
}

#[test]
fn insignificant_pod_updates_are_not_reevaluated() {
    let engine = Engine::new(policy(
        "  - id: pss\n    action: enforce\n    podSecurity: {level: baseline}\n",
    ));
    let bad = pod(json!({"hostIPC": true, "containers": [{"name": "c", "image": "a:1"}]}));
    let mut r = Req::create("Pod", "pods", bad.clone());
    r.op = Operation::Update;
    r.old = Some(bad.clone());
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
    let mut changed = bad;
    changed["spec"]["containers"][0]["image"] = json!("a:2");
    r.object = Some(changed);
    assert_eq!(r.run(&engine).kind, DecisionKind::Denied);
}

#[test]
fn seed_policy_exec_and_debug() {
    let engine = Engine::new(example("seed-cloudone.yaml"));
    let opts = json!({"kind": "PodExecOptions", "apiVersion": "v1", "command": ["/bin/sh"]});
    let mut r = Req::create("PodExecOptions", "pods", opts);
    r.op = Operation::Connect;
    r.sub = "exec";
    let d = r.run(&engine);
    assert_eq!(d.kind, DecisionKind::Denied);
    assert!(d.message.as_deref().unwrap().starts_with("pods/exec \"web\" is forbidden: violates mamori rule \"no-kubectl-exec\": user \"alice\" may not exec into pod"), "{d:?}");
    r.user.groups.push("system:masters".into());
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
    r.user.groups.pop();
    r.sub = "portforward";
    assert_eq!(r.run(&engine).kind, DecisionKind::Denied);
    r.sub = "log";
    assert_eq!(r.run(&engine).kind, DecisionKind::Allowed);
}

#[test]
fn seed_policy_scan_results() {
    let digest_img = "registry.example.com/app:1.0";
    let mut verdicts = BTreeMap::new();
    verdicts.insert(
        digest_img.to_string(),
        ImageVerdict {
            scanned_at: datetime!(2026-05-30 00:00 UTC),
            vulnerabilities: vec![VerdictVulnerability {
                id: "CVE-2026-0001".into(),
                severity: Severity::Critical,
                fixable: true,
                attack_vector: None,
                attack_complexity: None,
            }],
            secrets: 0,
            malware: 0,
        },
    );
    verdicts.insert(
        "registry.example.com/clean:1.0".to_string(),
        ImageVerdict {
            scanned_at: datetime!(2026-05-30 00:00 UTC),
            vulnerabilities: vec![],
            secrets: 0,
            malware: 0,
        },
    );
    verdicts.insert(
        "registry.example.com/old:1.0".to_string(),
        ImageVerdict {
            scanned_at: datetime!(2026-01-01 00:00 UTC),
            vulnerabilities: vec![],
            secrets: 0,
            malware: 0,
        },
    );
    let engine = Engine::new(example("seed-cloudone.yaml"))
        .with_verdicts(Arc::new(StaticVerdicts(verdicts)));
    let with = |img: &str| pod(json!({"containers": [{"name": "c", "image": img}]}));
    let d = Req::create("Pod", "pods", with(digest_img)).run(&engine);
    assert_eq!(d.kind, DecisionKind::Denied);
    assert!(d.message.unwrap().contains("CVE-2026-0001"));
    let d = Req::create("Pod", "pods", with("registry.example.com/clean:1.0")).run(&engine);
    assert_eq!(d.kind, DecisionKind::Allowed, "{d:?}");
    let d = Req::create("Pod", "pods", with("registry.example.com/old:1.0")).run(&engine);
    assert!(d.message.unwrap().contains("has not been scanned"));
    let d = Req::create("Pod", "pods", with("registry.example.com/never:1.0")).run(&engine);
    assert_eq!(d.kind, DecisionKind::Denied);
    // latest is audited (the clean image is scanned but referenced as :latest is another image)
    let d = Req::create("Pod", "pods", with("nginx")).run(&engine);
    assert!(
        d.audit_annotations["audit-violations"].contains("uses the latest tag"),
        "{d:?}"
    );
    let ev = d.to_event(1);
    assert_eq!(
        ev.field("admission.decision"),
        Some(&mamori_core::event::Value::Str("denied".into()))
    );
}

#[test]
fn image_and_container_rules() {
    let engine = Engine::new(policy(concat!(
        "  - id: img\n    action: warn\n    scope: {imageExceptions: [{field: registry, operator: equals, values: [trusted.io]}]}\n",
        "    image: {digestRequired: true, allowedRegistries: [\"*.example.com\", trusted.io]}\n",
        "  - id: ctr\n    action: enforce\n    container: {runAsRoot: true, capabilities: restricted, resourceLimitsMissing: true}\n",
    )));
    let p = pod(
        json!({"securityContext": {"runAsUser": 0}, "initContainers": [{"name": "i", "image": "trusted.io/x:1"}],
        "containers": [{"name": "c", "image": "docker.io/x:1", "resources": {"limits": {"cpu": "1"}},
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]}),
    );
    let d = Req::create("Pod", "pods", p).run(&engine);
    assert_eq!(d.kind, DecisionKind::Denied);
    assert_eq!(d.warnings.len(), 1, "{d:?}");
    assert!(d.warnings[0].contains("\"docker.io/x:1\" of container \"c\" is not pinned by digest"));
    assert!(!d.warnings[0].contains("trusted.io"));
    let m = d.message.unwrap();
    assert!(m.contains("container \"i\" runs as user 0"), "{m}");
    assert!(m.contains("adds capabilities [\"NET_ADMIN\"]"), "{m}");
    assert!(
        m.contains("container \"c\" has no resources.limits.memory"),
        "{m}"
    );
    assert!(
        m.contains("container \"i\" has no resources.limits.cpu/memory"),
        "{m}"
    );
}

#[test]
fn undecodable_objects_follow_failure_policy() {
    let bad = pod(json!({"containers": [{"name": "c", "securityContext": {"privileged": "yes"}}]}));
    let engine = Engine::new(example("seed-cloudone.yaml"));
    let d = Req::create("Pod", "pods", bad.clone()).run(&engine);
    assert_eq!(d.kind, DecisionKind::Denied);
    assert_eq!(d.code, 400);
    assert!(d.audit_annotations.contains_key("error"));
    let mut p = example("seed-cloudone.yaml");
    p.failure_policy = mamori_policy::document::FailurePolicy::Allow;
    let d = Req::create("Pod", "pods", bad).run(&Engine::new(p));
    assert!(d.allowed());
    assert!(d.warnings[0].contains("could not decode"));
}

#[test]
fn policy_errors_have_positions() {
    let cases = [
        ("apiVersion: mamori.dev/v1\nkind: Policy\nspec:\n  rulez: []\n", "t.yaml:4:"),
        (
            "apiVersion: mamori.dev/v1\nkind: Policy\nspec:\n  rules:\n  - id: a\n    action: enforce\n    podSecurity: {level: restricted, version: v9}\n",
            "t.yaml:7:",
        ),
        (
            "apiVersion: mamori.dev/v1\nkind: Policy\nspec:\n  rules:\n  - id: a\n    action: block\n    pod: {}\n",
            "t.yaml:6:",
        ),
    ];
    for (text, at) in cases {
        let e = Policy::from_str_named(text, "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(at), "{e:?} should start with {at}");
    }
    let two = "apiVersion: mamori.dev/v1\nkind: Policy\nspec:\n  rules:\n  - id: a\n    action: enforce\n    pod: {}\n    image: {}\n";
    let e = Policy::from_str_named(two, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("exactly one of"), "{e}");
    assert!(e.starts_with("t.yaml:"), "{e}");
    let dup = "apiVersion: mamori.dev/v1\nkind: Policy\nspec:\n  rules:\n  - {id: a, action: audit, pod: {}}\n  - {id: a, action: audit, pod: {}}\n";
    let e = Policy::from_str_named(dup, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate rule id \"a\""), "{e}");
    let json =
        "{\"apiVersion\": \"mamori.dev/v1\", \"kind\": \"Policy\",\n \"spec\": {\"bogus\": 1}}";
    let e = Policy::from_str_named(json, "p.json")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("p.json:2:"), "{e}");
}

#[test]
fn json_export_round_trips() {
    let p = example("seed-cloudone.yaml");
    let json = p.to_json();
    let back = Policy::from_str_named(&json, "export.json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.rules, p.rules);
    assert_eq!(back.bypass, p.bypass);
}
