//! `mamori runtime --source ebpf` against real runc containers: detection with Falco's rules and
//! mamori's defaults, and runtime policies in enforce, audit, bypassed and not-yet-enforced modes.
//! Root only (eBPF, fanotify, overlay mounts, runc); `SKIPPED:` otherwise.

#[path = "../../sensor/tests/common/runc.rs"]
mod runc;
#[path = "support/console.rs"]
mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One sensor at a time: every sensor sees every container, and fanotify marks are per group.
static SERIAL: Mutex<()> = Mutex::new(());

struct Sensor {
    child: Child,
    dir: tempfile::TempDir,
}

impl Sensor {
    fn start(extra: &[&str], roots: &[&Path]) -> Sensor {
        let dir = tempfile::tempdir().unwrap();
        let alerts = dir.path().join("alerts.jsonl");
        let record = dir.path().join("record.jsonl");
        let err = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mamori"));
        cmd.args(["runtime", "--source", "ebpf", "--containers-only"])
            .arg("--output")
            .arg(format!("file:{}", alerts.display()))
            .arg("--record")
            .arg(&record)
            .args(extra);
        for r in roots {
            cmd.arg("--runtime-root").arg(r);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        let mut s = Sensor { child, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !s.stderr().contains("mamori sensor running") {
            assert!(
                Instant::now() < deadline,
                "sensor did not start: {}",
                s.stderr()
            );
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("sensor exited with {st} at start: {}", s.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("sensor started in {:?}", t0.elapsed());
        // The first container scan happens at start; give marks a moment.
        std::thread::sleep(Duration::from_millis(300));
        s
    }

    fn stderr(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("stderr.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// SIGTERM, wait, and return (alerts, recorded events, stderr).
    fn stop(mut self) -> (Vec<Value>, Vec<Value>, String) {
        // Let the 10 ms drain and the 250 ms tick catch up with the last actions.
        std::thread::sleep(Duration::from_millis(700));
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                assert!(st.success(), "sensor exited with {st}: {}", self.stderr());
                eprintln!("sensor stopped in {:?}", t0.elapsed());
                break;
            }
            if Instant::now() > deadline {
                let dump = Command::new("sh")
                    .arg("-c")
                    .arg(format!("for t in /proc/{}/task/*; do echo $t; cat $t/comm $t/wchan; echo; cat $t/stack; done", self.child.id()))
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                eprintln!("{dump}");
                let _ = self.child.kill();
                panic!("sensor did not stop on SIGTERM: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let lines = |p: PathBuf| -> Vec<Value> {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        };
        (
            lines(self.dir.path().join("alerts.jsonl")),
            lines(self.dir.path().join("record.jsonl")),
            self.stderr(),
        )
    }
}

fn falco(name: &str) -> Option<PathBuf> {
    mamori_testkit::shared_data("falco-rules").map(|d| d.join(name))
}

fn shop_container(name: &str, ns: &str) -> runc::Options {
    runc::Options::new(name)
        .annotation("io.kubernetes.cri.container-type", "container")
        .annotation("io.kubernetes.cri.container-name", "nginx")
        .annotation("io.kubernetes.cri.sandbox-name", "nginx2-7844999d9c-8xgkx")
        .annotation("io.kubernetes.cri.sandbox-namespace", ns)
        .annotation(
            "io.kubernetes.cri.sandbox-uid",
            "0b6f1a9e-2f8c-4a55-9a5e-6f1d2c3b4a59",
        )
        .annotation(
            "io.kubernetes.cri.image-name",
            "docker.io/library/nginx:1.25",
        )
        .file("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600)
}

fn rules_of<'a>(alerts: &'a [Value], container: &str) -> Vec<&'a str> {
    alerts
        .iter()
        .filter(|a| {
            a["output_fields"]["container.id"]
                .as_str()
                .is_none_or(|c| c == container)
        })
        .filter_map(|a| a["rule"].as_str())
        .collect()
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// A shell with a terminal, as `kubectl exec -it` gives one (`runc exec -t` under `script`).
fn tty_shell(c: &runc::TestContainer, cmd: &str) -> std::process::Output {
    let line = format!(
        "runc --root {} exec -t {} sh -c '{}'",
        c.state_root().display(),
        c.id(),
        cmd
    );
    Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn falco_rules_fire_on_real_container_activity_with_pod_context() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let (Some(stable), Some(sandbox)) =
        (falco("falco_rules.yaml"), falco("falco-sandbox_rules.yaml"))
    else {
        return;
    };
    let c = runc::TestContainer::start(shop_container("detect", "default")).unwrap();
    let sensor = Sensor::start(
        &[
            "--rules",
            stable.to_str().unwrap(),
            "--rules",
            sandbox.to_str().unwrap(),
        ],
        &[c.state_root()],
    );
    assert!(c.exec(&["cat", "/etc/shadow"]).status.success());
    assert!(c.exec(&["touch", "/etc/2"]).status.success());
    assert!(c.exec(&["mkdir", "/bin/hello"]).status.success());
    assert!(c.exec(&["whoami"]).status.success());
    let sh = tty_shell(&c, "exit 0");
    assert!(sh.status.success(), "{sh:?}");
    assert!(c
        .exec(&["cp", "/bin/busybox", "/tmp/true"])
        .status
        .success());
    assert!(c.exec(&["/tmp/true"]).status.success());
    let (alerts, events, err) = sensor.stop();
    let id = short(c.id());
    let rules = rules_of(&alerts, &id);
    for want in [
        "Read sensitive file untrusted",
        "Write below etc",
        "Mkdir binary dirs",
        "Terminal shell in container",
        "Drop and execute new binary in container",
    ] {
        assert!(
            rules.contains(&want),
            "{want} missing; got {rules:?}\n{err}"
        );
    }
    // Every alert about this container names it; the recorded events carry the pod context.
    let shadow = events
        .iter()
        .find(|e| e["fd.name"] == "/etc/shadow" && e["container.id"] == id.as_str())
        .unwrap_or_else(|| panic!("no openat of /etc/shadow recorded; {err}"));
    assert_eq!(shadow["k8s.pod.name"], "nginx2-7844999d9c-8xgkx");
    assert_eq!(shadow["k8s.ns.name"], "default");
    assert_eq!(
        shadow["container.image.repository"],
        "docker.io/library/nginx"
    );
    assert_eq!(shadow["proc.name"], "cat");
    assert_eq!(shadow["user.name"], "root");
    let whoami = events
        .iter()
        .find(|e| e["evt.type"] == "execve" && e["proc.name"] == "whoami")
        .expect("whoami exec recorded");
    assert_eq!(whoami["container.id"], id.as_str());
    assert_eq!(whoami["proc.cmdline"], "whoami");
}

#[test]
fn default_rules_fire_on_real_container_activity() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(shop_container("defaults", "default")).unwrap();
    let sensor = Sensor::start(&[], &[c.state_root()]);
    assert!(c.exec(&["cat", "/etc/shadow"]).status.success());
    assert!(c.exec(&["touch", "/etc/2"]).status.success());
    assert!(c.exec(&["mkdir", "/bin/hello"]).status.success());
    assert!(c.exec(&["whoami"]).status.success());
    // `find` looking for private keys, as in the seeds' custom rules.
    let _ = c.exec(&["find", "/", "-name", "id_rsa"]);
    assert!(tty_shell(&c, "exit 0").status.success());
    let (alerts, events, err) = sensor.stop();
    let rules = rules_of(&alerts, &short(c.id()));
    // Session and process group come from the kernel as seen inside the container: `runc
    // exec` makes each session leader of its own session and group.
    let whoami = events
        .iter()
        .find(|e| e["evt.type"] == "execve" && e["proc.name"] == "whoami")
        .unwrap_or_else(|| panic!("no whoami exec recorded\n{err}"));
    assert!(
        whoami["proc.sid"].as_i64().is_some_and(|s| s > 0),
        "{whoami}"
    );
    assert_eq!(whoami["proc.vpgid"], whoami["proc.vpid"], "{whoami}");
    assert_eq!(whoami["proc.is_vpgid_leader"], true, "{whoami}");
    assert_eq!(whoami["proc.sname"], "whoami", "{whoami}");
    // Falco's default rule_matching is `first`: whoami is reconnaissance, find for id_rsa is
    // first a search for private keys.
    for (rule, cmd) in [
        ("Reconnaissance command in web server container", "whoami"),
        (
            "Search for private keys or cloud credentials",
            "find / -name id_rsa",
        ),
    ] {
        assert!(
            alerts
                .iter()
                .any(|a| a["rule"] == rule && a["output"].as_str().unwrap_or("").contains(cmd)),
            "no {rule} alert for {cmd}\n{err}"
        );
    }
    for want in [
        "Sensitive file read",
        "Write below etc",
        "Directory created in binary dir",
        "Terminal shell in container",
        "Reconnaissance command in web server container",
    ] {
        assert!(
            rules.contains(&want),
            "{want} missing; got {rules:?}\n{err}"
        );
    }
    let a = alerts
        .iter()
        .find(|a| a["rule"] == "Sensitive file read")
        .unwrap();
    assert!(
        a["output"]
            .as_str()
            .unwrap()
            .contains("nginx2-7844999d9c-8xgkx"),
        "{a}"
    );
}

/// The init loop of the policy containers: runs `/tmp/true` (written later from the host, so it
/// lands in the overlay upper layer: drift) when `/tmp/go` appears, and records what happened.
const DRIFT_LOOP: &str = "while true; do if [ -f /tmp/go ]; then rm -f /tmp/go; \
     if /tmp/true 2>/tmp/err; then echo ran >/tmp/result; else cat /tmp/err >/tmp/result; fi; fi; \
     sleep 0.1; done";

fn policy_container(name: &str, ns: &str) -> runc::TestContainer {
    runc::TestContainer::start(shop_container(name, ns).args(&["sh", "-c", DRIFT_LOOP])).unwrap()
}

/// Drops a copy of busybox as /tmp/true through the host's view of the overlay, lets the
/// container's own loop run it, and returns what the loop recorded.
fn run_drifted(c: &runc::TestContainer) -> String {
    let root = c.rootfs();
    std::fs::copy(runc::busybox().unwrap(), root.join("tmp/true")).unwrap();
    let _ = std::fs::remove_file(root.join("tmp/result"));
    std::fs::write(root.join("tmp/go"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(root.join("tmp/result")) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the container loop never ran /tmp/true"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn example_policy(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name)
}

fn decisions<'a>(alerts: &'a [Value], container: &str, control: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["source"] == "policy")
        .filter(|a| a["output_fields"]["container.id"] == container)
        .filter(|a| a["output_fields"]["policy.control"] == control)
        .collect()
}

fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn enforce_policy_blocks_exec_sessions_and_drift_but_not_in_bypassed_namespaces() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let shop = policy_container("enforce", "shop");
    let system = policy_container("bypassed", "kube-system");
    let policy = example_policy("runtime-enforce.yaml");
    let sensor = Sensor::start(
        &["--policy", policy.to_str().unwrap()],
        &[shop.state_root(), system.state_root()],
    );
    // kubectl exec of a shell: refused before the shell runs.
    let sh = shop.exec(&["sh", "-c", "echo should-not-run"]);
    let text = output_text(&sh);
    assert!(!sh.status.success(), "exec of a shell ran: {text}");
    assert!(
        text.to_lowercase().contains("operation not permitted"),
        "{text}"
    );
    assert!(!text.contains("should-not-run"));
    // An allowed executable still runs in an exec session.
    let ls = shop.exec(&["ls", "/"]);
    assert!(ls.status.success(), "{}", output_text(&ls));
    // Drift: the container's own process may not run a file that is not in the image.
    let drift = run_drifted(&shop);
    assert!(drift.contains("Operation not permitted"), "{drift}");
    // The same in kube-system: bypassed, everything runs.
    let sh2 = system.exec(&["sh", "-c", "echo ran"]);
    assert!(sh2.status.success(), "{}", output_text(&sh2));
    assert_eq!(run_drifted(&system).trim(), "ran");
    let (alerts, _events, err) = sensor.stop();
    let id = short(shop.id());
    let exec = decisions(&alerts, &id, "block-container-exec");
    assert!(
        exec.iter()
            .any(|a| a["output_fields"]["policy.status"] == "block"
                && a["output_fields"]["k8s.pod.name"] == "nginx2-7844999d9c-8xgkx"
                && a["output_fields"]["k8s.ns.name"] == "shop"
                && a["output_fields"]["proc.exepath"] == "/bin/sh"),
        "no block decision for the shell: {exec:?}\n{err}"
    );
    assert!(
        !exec
            .iter()
            .any(|a| a["output_fields"]["proc.exepath"] == "/bin/ls"),
        "the allowed ls was reported: {exec:?}"
    );
    let drift = decisions(&alerts, &id, "drift-prevention");
    assert!(
        drift
            .iter()
            .any(|a| a["output_fields"]["policy.status"] == "block"
                && a["output_fields"]["proc.exepath"] == "/tmp/true"),
        "no block decision for the drifted binary: {drift:?}\n{err}"
    );
    let sys = short(system.id());
    assert!(
        alerts
            .iter()
            .filter(|a| a["source"] == "policy")
            .all(|a| a["output_fields"]["container.id"] != sys.as_str()),
        "a decision about the bypassed kube-system container: {alerts:?}"
    );
    assert!(err.contains("enforce available"), "{err}");
}

#[test]
fn audit_policy_reports_detect_and_blocks_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = policy_container("audit", "shop");
    let policy = example_policy("runtime-audit.yaml");
    let sensor = Sensor::start(&["--policy", policy.to_str().unwrap()], &[c.state_root()]);
    let sh = c.exec(&["sh", "-c", "echo ran"]);
    assert!(sh.status.success(), "{}", output_text(&sh));
    assert_eq!(run_drifted(&c).trim(), "ran");
    let (alerts, _events, err) = sensor.stop();
    let id = short(c.id());
    for control in ["block-container-exec", "drift-prevention"] {
        let d = decisions(&alerts, &id, control);
        assert!(!d.is_empty(), "no {control} decision\n{err}");
        assert!(
            d.iter()
                .all(|a| a["output_fields"]["policy.status"] == "detect"),
            "{d:?}"
        );
    }
}

#[test]
fn enforce_after_in_the_future_only_audits() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = policy_container("later", "shop");
    let text = std::fs::read_to_string(example_policy("runtime-enforce.yaml")).unwrap();
    let later = text.replace(
        "  # enforceAfter: \"2026-12-01T00:00:00Z\"",
        "  enforceAfter: \"2099-01-01T00:00:00Z\"",
    );
    assert_ne!(later, text, "the example policy changed shape");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("later.yaml");
    std::fs::write(&policy, later).unwrap();
    let sensor = Sensor::start(&["--policy", policy.to_str().unwrap()], &[c.state_root()]);
    let sh = c.exec(&["sh", "-c", "echo ran"]);
    assert!(sh.status.success(), "{}", output_text(&sh));
    let (alerts, _events, err) = sensor.stop();
    let d = decisions(&alerts, &short(c.id()), "block-container-exec");
    assert!(!d.is_empty(), "no decision\n{err}");
    assert!(
        d.iter()
            .all(|a| a["output_fields"]["policy.status"] == "detect"),
        "{d:?}"
    );
}

#[test]
fn mamori_up_stores_sensor_alerts_in_the_console() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(shop_container("up", "default")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = c.state_root().to_str().unwrap().to_string();
    let mut console = support::Console::start_with(
        &["up", "--runtime-root", &root],
        data.path(),
        "test-admin-token-0123456789abcdef",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.exec(&["cat", "/etc/shadow"]).status.success());
    let id = short(c.id());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = console
            .request(
                "GET",
                &format!("/api/v1/events?container={id}&limit=50"),
                "",
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        if body.contains("Sensitive file read") {
            assert!(body.contains("nginx2-7844999d9c-8xgkx"), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no sensor alert reached the console: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    console.kill();
}

#[test]
fn enforce_policy_blocks_outbound_connections_in_the_kernel() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(shop_container("egress", "shop")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("egress.yaml");
    std::fs::write(
        &policy,
        "apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: no-4444}\n\
         spec:\n  mode: enforce\n  controls:\n    blockedOutbound: {ports: [4444]}\n",
    )
    .unwrap();
    let sensor = Sensor::start(&["--policy", policy.to_str().unwrap()], &[c.state_root()]);
    let blocked = c.exec(&["nc", "127.0.0.1", "4444"]);
    let text = output_text(&blocked);
    assert!(!blocked.status.success(), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    // Another port is not blocked: nothing listens, so the connection is refused instead.
    let other = output_text(&c.exec(&["nc", "127.0.0.1", "5555"]));
    assert!(!other.contains("Operation not permitted"), "{other}");
    let (alerts, _events, err) = sensor.stop();
    let d = decisions(&alerts, &short(c.id()), "blocked-outbound");
    assert!(
        d.iter()
            .any(|a| a["output_fields"]["policy.status"] == "block"
                && a["output_fields"]["fd.rport"] == 4444
                && a["output_fields"]["policy.name"] == "no-4444"),
        "{d:?}\n{err}"
    );
    assert!(
        err.contains("outbound connections blocked in the kernel"),
        "{err}"
    );
}

#[test]
fn containers_started_after_the_sensor_are_enforced() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let policy = example_policy("runtime-enforce.yaml");
    let sensor = Sensor::start(&["--policy", policy.to_str().unwrap()], &[state.path()]);
    let mut opts = shop_container("late", "shop");
    opts.state_root = Some(state.path().to_path_buf());
    let c = runc::TestContainer::start(opts).unwrap();
    let started = Instant::now();
    // The sensor watches the runtime's state folder: `runc create` writing the container's
    // state makes it mark the container before it runs anything, so even the first exec
    // session is refused. (Fallbacks: the container's first exec, or the periodic scan.)
    let mut attempts = 0;
    let blocked_after = loop {
        attempts += 1;
        let out = c.exec(&["sh", "-c", "true"]);
        if !out.status.success()
            && output_text(&out)
                .to_lowercase()
                .contains("operation not permitted")
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "exec sessions still run 3 s after the container started: {}",
            output_text(&out)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("enforced {blocked_after:?} after the container started, at attempt {attempts}");
    // On a quiet machine the first attempt is refused (measured: 34–345 ms, the time of the
    // refused `runc exec` itself); under heavy load the agent thread may get the CPU too late
    // for it, so only a bound is asserted.
    assert!(attempts <= 5, "exec sessions ran {attempts} times");
    let (alerts, _events, err) = sensor.stop();
    let d = decisions(&alerts, &short(c.id()), "block-container-exec");
    assert!(
        d.iter()
            .any(|a| a["output_fields"]["policy.status"] == "block"),
        "{d:?}\n{err}"
    );
}

#[test]
fn enforce_policy_blocks_file_reads_writes_and_reverse_shells() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(shop_container("files", "shop").file(
        "/etc/app.conf",
        "v=1\n",
        0o644,
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("files.yaml");
    std::fs::write(
        &policy,
        "apiVersion: mamori.dev/v1\nkind: RuntimePolicy\nmetadata: {name: files}\n\
         spec:\n  mode: enforce\n  controls:\n    blockedFiles: [/etc/shadow]\n    \
         readOnlyPaths: [\"/etc/*\"]\n    reverseShell: {}\n",
    )
    .unwrap();
    let sensor = Sensor::start(&["--policy", policy.to_str().unwrap()], &[c.state_root()]);

    // A blocked file cannot even be read.
    let shadow = c.exec(&["cat", "/etc/shadow"]);
    let text = output_text(&shadow);
    assert!(!shadow.status.success(), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    // A read-only path can be read ...
    let conf = c.exec(&["cat", "/etc/app.conf"]);
    assert!(conf.status.success(), "{}", output_text(&conf));
    assert!(output_text(&conf).contains("v=1"));
    // ... but not written, and the refused open truncated nothing.
    let write = c.exec(&["sh", "-c", "echo v=2 > /etc/app.conf"]);
    let text = output_text(&write);
    assert!(!write.status.success(), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    assert_eq!(
        std::fs::read_to_string(c.rootfs().join("etc/app.conf")).unwrap(),
        "v=1\n"
    );
    // Writes elsewhere go through.
    let tmp = c.exec(&["sh", "-c", "echo ok > /tmp/ok && cat /tmp/ok"]);
    assert!(tmp.status.success(), "{}", output_text(&tmp));

    // A reverse shell: nc connects to a listener in the container and runs sh on the socket.
    // The listener sends one command; had the shell run, /tmp/pwned would exist.
    let rs = c.exec(&[
        "sh",
        "-c",
        "(echo 'echo pwned > /tmp/pwned'; sleep 1) | nc -l -p 9000 & sleep 0.3; \
         nc 127.0.0.1 9000 -e /bin/sh; echo rc=$?; wait",
    ]);
    let text = output_text(&rs);
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(!c.rootfs().join("tmp/pwned").exists(), "{text}");
    // An ordinary shell (stdio not a socket) still runs.
    let sh = c.exec(&["sh", "-c", "echo fine"]);
    assert!(sh.status.success(), "{}", output_text(&sh));

    let (alerts, _events, err) = sensor.stop();
    let id = short(c.id());
    let blocked = |control: &str, check: &dyn Fn(&Value) -> bool| {
        let d = decisions(&alerts, &id, control);
        assert!(
            d.iter()
                .any(|a| a["output_fields"]["policy.status"] == "block" && check(a)),
            "{control}: {d:?}\n{err}"
        );
    };
    blocked("blocked-files", &|a| {
        a["output_fields"]["fd.name"] == "/etc/shadow"
            && a["output_fields"]["evt.is_open_read"] == true
    });
    blocked("read-only-paths", &|a| {
        a["output_fields"]["fd.name"] == "/etc/app.conf"
            && a["output_fields"]["evt.is_open_write"] == true
    });
    blocked("reverse-shell", &|a| {
        a["output_fields"]["proc.name"] == "sh"
    });
    // The allowed read of the read-only file was not reported as blocked.
    assert!(
        !decisions(&alerts, &id, "read-only-paths").iter().any(|a| {
            a["output_fields"]["evt.is_open_read"] == true
                && a["output_fields"]["policy.status"] == "block"
        }),
        "{err}"
    );
}

#[test]
fn a_frozen_sensor_is_killed_by_its_supervisor_and_execs_go_on() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(shop_container("frozen", "shop")).unwrap();
    let policy = example_policy("runtime-enforce.yaml");
    let mut sensor = Sensor::start(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--supervisor-timeout-ms",
            "1000",
        ],
        &[c.state_root()],
    );
    // Enforced while the sensor runs.
    let before = c.exec(&["sh", "-c", "true"]);
    assert!(!before.status.success(), "{}", output_text(&before));
    // Freeze the whole sensor: its fanotify group stops answering, so the next exec in the
    // container waits ... until the supervisor kills the sensor and the kernel lets it go.
    let pid = sensor.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let during = c.exec(&["ls", "/"]);
    let waited = t0.elapsed();
    assert!(during.status.success(), "{}", output_text(&during));
    assert!(
        waited >= Duration::from_millis(700),
        "the exec did not wait for the frozen sensor ({waited:?})"
    );
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(st)) = sensor.child.try_wait() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the frozen sensor was not killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status}");
    let err = sensor.stderr();
    assert!(err.contains("mamori supervisor: the sensor"), "{err}");
    eprintln!("exec released after {waited:?}");
    // With the sensor gone, nothing holds execs any more.
    let after = c.exec(&["sh", "-c", "true"]);
    assert!(after.status.success(), "{}", output_text(&after));
}
