//! Runtime policy evaluation on the sensor's hot path: one exec in a marked container against
//! 20 policies (mixed scopes, controls and modes), against the baseline of an empty set.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::collections::BTreeMap;
use std::fmt::Write as _;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mamori_policy::runtime::{Activity, RuntimePolicySet, Workload};

/// 20 policies: every fourth is scoped to another namespace (skipped by scope), every fifth
/// to a label the pod does not have; the rest apply. Each has exec controls with allowed lists
/// of path and name globs, plus file and network controls that an exec never consults.
fn policies() -> String {
    let mut s = String::new();
    for i in 0..20 {
        let scope = match i {
            _ if i % 4 == 0 => format!("scope: {{namespaces: [\"team-{i}-*\"]}}"),
            _ if i % 5 == 0 => "scope: {podLabels: {tier: db}}".to_string(),
            _ => "scope: {namespaces: [\"prod-*\", \"staging\"], images: [\"registry.example.com/*\"]}"
                .to_string(),
        };
        let mode = if i % 2 == 0 { "enforce" } else { "audit" };
        let _ = write!(
            s,
            r#"---
apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {{name: p{i}}}
spec:
  mode: {mode}
  {scope}
  bypass: {{namespaces: [kube-system, "ops-*"], images: ["*/debug:*"]}}
  controls:
    blockContainerExec: {{allowedExecutables: [ls, "/bin/date", "/opt/probe/*", healthcheck{i}]}}
    driftPrevention: {{allowedExecutables: ["/app/bin/*"]}}
    blockedExecutables: ["/usr/bin/nc", nmap, "/tmp/*", "*/xmrig*", "socat"]
    blockedFiles: ["/etc/shadow", "/root/.ssh/*"]
    readOnlyPaths: ["/etc/*", "/usr/*"]
    blockedOutbound: {{ports: [4444, 6667], addresses: ["169.254.169.254/32", "10.0.0.0/8"]}}
    reverseShell: {{}}
    filelessExec: {{}}
"#
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let set = RuntimePolicySet::from_str_named(&policies(), "bench.yaml").expect("bench policies"); // ok: constant
    let empty = RuntimePolicySet::new();
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    let w = Workload {
        namespace: Some("prod-eu"),
        pod_labels: Some(&labels),
        image: Some("registry.example.com/shop/web:2.4.1"),
        container_name: Some("web"),
    };
    // The common case: the image's own binary, not in a session: only blockedExecutables runs.
    let ordinary = Activity::Exec {
        path: "/usr/local/bin/python3.12",
        name: "python3.12",
        is_exec_session: false,
        is_upper_layer: false,
        is_fileless: false,
        stdio_is_socket: false,
    };
    // `kubectl exec … sh` with its stdio on a socket: four controls, decisions allocated.
    let session = Activity::Exec {
        path: "/bin/sh",
        name: "sh",
        is_exec_session: true,
        is_upper_layer: false,
        is_fileless: false,
        stdio_is_socket: true,
    };
    let now = time::OffsetDateTime::now_utc();
    assert!(set.evaluate(&w, &ordinary, now).is_empty());
    let n = set.evaluate(&w, &session, now).len();
    assert!(n > 0);
    eprintln!("20 policies; the session exec yields {n} decisions");

    c.bench_function("runtime_baseline_empty_set_exec", |b| {
        b.iter(|| black_box(empty.evaluate(black_box(&w), black_box(&ordinary), now)))
    });
    c.bench_function("runtime_20_policies_ordinary_exec", |b| {
        b.iter(|| black_box(set.evaluate(black_box(&w), black_box(&ordinary), now)))
    });
    c.bench_function("runtime_20_policies_exec_session_sh", |b| {
        b.iter(|| black_box(set.evaluate(black_box(&w), black_box(&session), now)))
    });
    c.bench_function("runtime_20_policies_enforces_query", |b| {
        b.iter(|| {
            black_box(set.enforces(
                black_box(&w),
                mamori_policy::runtime::Control::BlockContainerExec,
                now,
            ))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
