//! `filelessExec` for real: a program in the container's image (lower layer) copies busybox into a
//! memfd and executes it (`execveat(fd, "", ..., AT_EMPTY_PATH)`), in a real runc container, with
//! the agent running. Whatever backend the agent picks on this node:
//! - BPF LSM: the exec fails with EPERM before it happens;
//! - fanotify or SIGKILL: a memfd is on no mount that fanotify marks, so the exec is stopped by the
//!   sensor's exec tracepoint sending SIGKILL before the new program runs (post-exec).
//!
//! Either way the memfd'd program prints nothing and a `fileless-exec` decision with status
//! `block` and the container's context is emitted. An audit policy lets the same exec run and
//! reports `detect`. Needs root, runc, busybox-static and a C compiler (prints `SKIPPED:`
//! otherwise; fails under `MAMORI_REQUIRE_PRIVILEGED=1`).
#![cfg(target_os = "linux")]

#[path = "common/agent.rs"]
mod agent;
#[path = "common/memfd.rs"]
mod memfd;
#[path = "common/runc.rs"]
mod runc;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mamori_policy::RuntimePolicySet;
use mamori_rules::Alert;
use mamori_sensor::agent::ExecBackend;

use agent::{start_agent, wait_for};

const POLICIES: &str = "apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: fileless-enforce}
spec:
  mode: enforce
  scope: {namespaces: [fl-enforce]}
  controls:
    filelessExec: {}
---
apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: fileless-audit}
spec:
  mode: audit
  scope: {namespaces: [fl-audit]}
  controls:
    filelessExec: {}
";

fn text(o: &std::process::Output) -> String {
    format!(
        "rc={:?} stdout={:?} stderr={:?}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn container(name: &str, ns: &str, state: &Path, prog: &[u8]) -> runc::TestContainer {
    let mut o = runc::Options::new(name)
        .annotation("io.kubernetes.cri.container-type", "container")
        .annotation("io.kubernetes.cri.sandbox-name", &format!("{name}-pod"))
        .annotation("io.kubernetes.cri.sandbox-namespace", ns)
        .annotation("io.kubernetes.cri.container-name", name)
        .annotation(
            "io.kubernetes.cri.image-name",
            "docker.io/library/busybox:1.36",
        )
        // In the image layer: running it is not drift, only what it executes from memory is.
        .file("/bin/memfd_exec", prog.to_vec(), 0o755);
    o.state_root = Some(state.to_path_buf());
    runc::TestContainer::start(o).unwrap_or_else(|e| panic!("container {name}: {e}"))
}

fn decisions(alerts: &[Alert], container: &str, status: &str) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| {
            let f = &a.output_fields;
            f.get("policy.control").and_then(|v| v.as_str()) == Some("fileless-exec")
                && f.get("policy.status").and_then(|v| v.as_str()) == Some(status)
                && f.get("container.id")
                    .and_then(|v| v.as_str())
                    .is_some_and(|id| !id.is_empty() && container.starts_with(id))
        })
        .cloned()
        .collect()
}

fn field<'a>(a: &'a Alert, k: &str) -> Option<&'a serde_json::Value> {
    a.output_fields.get(k)
}

#[test]
fn memfd_exec_is_blocked_in_enforce_and_reported_in_audit() {
    if !runc::available() {
        return;
    }
    let build_dir = tempfile::tempdir().unwrap();
    let prog = match memfd::build(build_dir.path()) {
        None => return,
        Some(r) => r.unwrap_or_else(|e| panic!("building the memfd program: {e}")),
    };
    let prog = std::fs::read(prog).unwrap();
    let state = tempfile::tempdir().unwrap();
    let enforce = container("fl-enf", "fl-enforce", state.path(), &prog);
    let audit = container("fl-aud", "fl-audit", state.path(), &prog);

    // Before any policy is in force the program works: busybox runs from memory.
    let o = enforce.exec(&["/bin/memfd_exec", "echo", "fileless-ran"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "fileless-ran\n",
        "{}",
        text(&o)
    );

    let policies = RuntimePolicySet::from_str_named(POLICIES, "fileless.yaml").unwrap();
    let agent = start_agent(policies, state.path(), ExecBackend::Auto, "fileless");
    println!("backend: {:?}", agent.backend);
    let lsm = agent.backend.exec == "lsm";
    // Let the agent put both containers in the kernel's maps (it syncs every tick).
    std::thread::sleep(Duration::from_millis(1500));

    // Enforce: the memfd'd busybox never prints. The shell reports how the program ended.
    let o = enforce.exec(&["sh", "-c", "/bin/memfd_exec echo fileless-ran; echo rc=$?"]);
    let all = text(&o);
    println!("enforce: {all}");
    assert!(
        !all.contains("fileless-ran"),
        "the memfd program ran: {all}"
    );
    if lsm {
        // Refused before the exec: the loader is still there and reports EPERM.
        assert!(all.contains("rc=126"), "{all}");
        assert!(
            all.contains("memfd_exec: execveat: Operation not permitted"),
            "{all}"
        );
    } else {
        // Killed after the exec, before the new program ran a single instruction: 128 + SIGKILL.
        assert!(all.contains("rc=137"), "{all}");
    }
    // Other execs in the same container still run.
    let o = enforce.exec(&["sh", "-c", "/bin/echo still-fine"]);
    assert!(
        o.status.success() && text(&o).contains("still-fine"),
        "{}",
        text(&o)
    );
    wait_for(&agent.alerts, "fileless-exec block", |a| {
        !decisions(a, enforce.id(), "block").is_empty()
    });

    // A copy whose only name is removed before it runs through its fd is fileless too: the kernel
    // sees no links left. (It is also on the upper layer, but this policy has no drift control.)
    // fanotify, when the container is marked, refuses it before the exec (126, EPERM); otherwise
    // the exec tracepoint kills it (137).
    let o = enforce.exec(&[
        "sh",
        "-c",
        "/bin/memfd_exec --deleted echo deleted-ran; echo rc=$?",
    ]);
    let all = text(&o);
    println!("enforce, deleted copy: {all}");
    assert!(!all.contains("deleted-ran"), "the deleted copy ran: {all}");
    let refused = all.contains("rc=126") && all.contains("execveat: Operation not permitted");
    assert!(refused || (!lsm && all.contains("rc=137")), "{all}");
    wait_for(
        &agent.alerts,
        "fileless-exec block of a deleted file",
        |a| decisions(a, enforce.id(), "block").len() >= 2,
    );

    // Audit: the same program runs and is reported as detect.
    let o = audit.exec(&["sh", "-c", "/bin/memfd_exec echo fileless-ran; echo rc=$?"]);
    let all = text(&o);
    println!("audit: {all}");
    assert!(all.contains("fileless-ran\\nrc=0"), "{all}");
    wait_for(&agent.alerts, "fileless-exec detect (audit)", |a| {
        !decisions(a, audit.id(), "detect").is_empty()
    });

    agent.stop.store(true, Ordering::Relaxed);
    agent.thread.join().unwrap();
    let alerts = agent.alerts.lock().unwrap();
    let blocks = decisions(&alerts, enforce.id(), "block");
    let b = &blocks[0];
    println!("block: {}", b.output);
    assert_eq!(
        blocks.len(),
        2,
        "one memfd exec and one exec of a deleted file, two blocks: {blocks:#?}"
    );
    assert_eq!(
        field(&blocks[1], "proc.is_exe_from_memfd"),
        Some(&serde_json::Value::Bool(false)),
        "{}",
        blocks[1].output
    );
    assert_eq!(b.status.as_deref(), Some("block"));
    assert_eq!(
        field(b, "policy.name").and_then(|v| v.as_str()),
        Some("fileless-enforce"),
        "{}",
        b.output
    );
    assert_eq!(
        field(b, "k8s.ns.name").and_then(|v| v.as_str()),
        Some("fl-enforce"),
        "{}",
        b.output
    );
    assert_eq!(
        field(b, "k8s.pod.name").and_then(|v| v.as_str()),
        Some("fl-enf-pod"),
        "{}",
        b.output
    );
    assert_eq!(
        field(b, "proc.is_exe_from_memfd"),
        Some(&serde_json::Value::Bool(true)),
        "{}",
        b.output
    );
    if lsm {
        assert!(b.output.contains("by BPF LSM"), "{}", b.output);
    } else {
        assert!(
            b.output
                .contains("(blocked after exec: the process was killed with SIGKILL)"),
            "{}",
            b.output
        );
    }
    // Nothing in the enforce container was merely detected, and the audit one blocked nothing.
    assert!(decisions(&alerts, enforce.id(), "detect").is_empty());
    assert!(decisions(&alerts, audit.id(), "block").is_empty());
    let d = &decisions(&alerts, audit.id(), "detect")[0];
    println!("detect: {}", d.output);
    assert_eq!(
        field(d, "k8s.ns.name").and_then(|v| v.as_str()),
        Some("fl-audit"),
        "{}",
        d.output
    );
    drop(alerts);
    drop((enforce, audit));
}

/// A policy whose `enforceAfter` passes while the agent runs: the container is already known (in
/// audit, no kernel flags), and the switch to enforce must reach the kernel on a later tick even
/// though nothing else about the container changes.
#[test]
fn memfd_exec_is_blocked_once_enforce_after_passes() {
    if !runc::available() {
        return;
    }
    let build_dir = tempfile::tempdir().unwrap();
    let prog = match memfd::build(build_dir.path()) {
        None => return,
        Some(r) => r.unwrap_or_else(|e| panic!("building the memfd program: {e}")),
    };
    let prog = std::fs::read(prog).unwrap();
    let state = tempfile::tempdir().unwrap();
    let c = container("fl-later", "fl-later", state.path(), &prog);
    let after = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
    let when = after
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let doc = format!(
        "apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {{name: fileless-later}}
spec:
  mode: enforce
  enforceAfter: \"{when}\"
  scope: {{namespaces: [fl-later]}}
  controls:
    filelessExec: {{}}
"
    );
    let policies = RuntimePolicySet::from_str_named(&doc, "later.yaml").unwrap();
    let agent = start_agent(policies, state.path(), ExecBackend::Auto, "fileless");
    println!("backend: {:?}", agent.backend);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        time::OffsetDateTime::now_utc() < after,
        "the machine was too slow to see the audit phase"
    );

    // Before enforceAfter: audit, it runs.
    let script = "/bin/memfd_exec echo fileless-ran; echo rc=$?";
    let o = c.exec(&["sh", "-c", script]);
    let all = text(&o);
    println!("before: {all}");
    assert!(all.contains("fileless-ran\\nrc=0"), "{all}");
    wait_for(
        &agent.alerts,
        "fileless-exec detect before enforceAfter",
        |a| !decisions(a, c.id(), "detect").is_empty(),
    );

    // After it (plus two ticks for the agent to notice): blocked.
    while time::OffsetDateTime::now_utc() < after {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let o = c.exec(&["sh", "-c", script]);
    let all = text(&o);
    println!("after: {all}");
    let blocks = decisions(&agent.alerts.lock().unwrap(), c.id(), "block");
    let detects: Vec<String> = decisions(&agent.alerts.lock().unwrap(), c.id(), "detect")
        .iter()
        .map(|a| a.output.clone())
        .collect();
    assert!(
        !all.contains("fileless-ran"),
        "the memfd program ran after enforceAfter: {all}; blocks {blocks:#?}; detects {detects:#?}"
    );
    wait_for(
        &agent.alerts,
        "fileless-exec block after enforceAfter",
        |a| !decisions(a, c.id(), "block").is_empty(),
    );
    agent.stop.store(true, Ordering::Relaxed);
    agent.thread.join().unwrap();
    drop(c);
}
