//! In-process evaluation cost: Pod Security restricted alone, and restricted plus image rules
//! through the engine, against the baseline of only parsing the pod's JSON.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mamori_policy::pss::{check_pod, Level, PodLike, Version};
use mamori_policy::{Engine, Operation, Policy, Request, UserInfo};

const POLICY: &str = r#"
apiVersion: mamori.dev/v1
kind: Policy
metadata: {name: bench}
spec:
  rules:
  - id: pss
    action: enforce
    podSecurity: {level: restricted, version: latest}
  - id: images
    action: enforce
    image:
      latestTag: true
      allowedRegistries: ["registry.example.com", "*.corp.example"]
      match: [{field: name, operator: contains, values: [miner]}]
"#;

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"team-a","labels":{"app":"web"}},
"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"initContainers":[{"name":"init","image":"registry.example.com/init:1.2","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],
"containers":[{"name":"web","image":"registry.example.com/web:2.0","ports":[{"containerPort":8080}],
"resources":{"limits":{"cpu":"1","memory":"256Mi"}},
"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}},
{"name":"sidecar","image":"registry.example.com/proxy:1.0","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],
"volumes":[{"name":"tmp","emptyDir":{}},{"name":"cfg","configMap":{"name":"web"}}]}}"#;

fn bench(c: &mut Criterion) {
    let pod: serde_json::Value = serde_json::from_str(POD).expect("bench pod is valid JSON"); // ok: constant
    let engine = Engine::new(Policy::from_str_named(POLICY, "bench").expect("bench policy")); // ok: constant
    let user = UserInfo {
        username: "alice".into(),
        groups: vec!["dev".into()],
    };
    let now = time::OffsetDateTime::now_utc();

    // The benchmarked pod passes every rule: the full evaluation path runs.
    let check = Request {
        operation: Operation::Create,
        kind: "Pod",
        resource: "pods",
        sub_resource: "",
        namespace: "team-a",
        name: "web",
        user: &user,
        object: Some(&pod),
        old_object: None,
        namespace_labels: None,
    };
    assert!(engine.evaluate(&check, now).results.is_empty());

    c.bench_function("baseline_parse_pod_json", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(POD)).map(|v| v.is_object()))
    });
    c.bench_function("pss_restricted_decode_and_check", |b| {
        b.iter(|| {
            let p = PodLike::from_value(black_box(&pod))
                .map(|p| check_pod(Level::Restricted, Version::Latest, &p).len());
            black_box(p)
        })
    });
    c.bench_function("engine_restricted_plus_image_rules", |b| {
        b.iter(|| {
            let req = Request {
                operation: Operation::Create,
                kind: "Pod",
                resource: "pods",
                sub_resource: "",
                namespace: "team-a",
                name: "web",
                user: &user,
                object: Some(black_box(&pod)),
                old_object: None,
                namespace_labels: None,
            };
            black_box(engine.evaluate(&req, now).allowed())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
