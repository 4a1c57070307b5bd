//! The BPF LSM backend, for real, in a virtual machine: this machine's kernel refuses BPF LSM,
//! so the test boots Debian's kernel (`linux-image-amd64`, fetched with `apt-get download`, not
//! installed) under qemu with `lsm=...,bpf`, shares this filesystem read-only over 9p and runs
//! this same test executable inside (`MAMORI_LSM_VM_GUEST=1`). The guest starts real runc
//! containers, starts the agent with the LSM backend forced (`ExecBackend::Lsm`) and checks that
//! the kernel refuses, with "Operation not permitted" and a `block` decision each:
//! - `runc exec` of a shell into a container whose policy blocks exec sessions (while `ls` and
//!   `/bin/date`, on the allowed list, run);
//! - a drifted binary run by the container's own loop;
//! - reading a blocked file; writing, truncating, creating, removing, renaming, chmod-ing and
//!   mkdir-ing under a read-only path (reads there still work, and nothing is left behind);
//! - a reverse shell (`nc -e /bin/sh` on a socket);
//! - blocked executables, by name (`whoami`) and by path (`/bin/id`);
//! - a fileless exec: a program in the image copies busybox into a memfd and `execveat`s it
//!   (`tests/data/memfd_exec.c`, built on the host with `cc -static` before the VM boots);
//!
//! and that an audit policy lets the same exec (and the same fileless exec) run and reports
//! `detect`. It also measures the cost
//! of an exec with the LSM programs attached against the same loop without them, in the same VM.
//!
//! Without root, qemu, runc or a static busybox it prints `SKIPPED:`; with
//! `MAMORI_REQUIRE_PRIVILEGED=1` that is a failure, and so is a kernel that cannot be fetched.

#[path = "common/agent.rs"]
mod agent;
#[path = "common/memfd.rs"]
mod memfd;
#[path = "common/runc.rs"]
mod runc;
#[path = "common/vm.rs"]
mod vm;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mamori_policy::RuntimePolicySet;
use mamori_rules::Alert;
use mamori_sensor::agent::ExecBackend;

use agent::{start_agent, wait_for};

const GUEST: &str = "MAMORI_LSM_VM_GUEST";
/// The memfd-exec program built on the host, for the guest's images.
const MEMFD_PROG: &str = "MAMORI_LSM_VM_MEMFD";

#[test]
fn lsm_backend_enforces_runtime_policies_in_a_vm() {
    if std::env::var_os(GUEST).is_some() {
        guest();
        return;
    }
    if !mamori_testkit::require_root("booting a VM with BPF LSM") {
        return;
    }
    for t in ["qemu-system-x86_64", "apt-get", "apt-cache", "dpkg-deb"] {
        if mamori_testkit::tool(t).is_none() {
            return;
        }
    }
    if !runc::available() {
        return;
    }
    let kernel = match vm::fetch_kernel() {
        Ok(k) => k,
        Err(e) => {
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                &format!("cannot fetch Debian's kernel: {e}"),
            );
            return;
        }
    };
    let out = vm::cache_dir().join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    // Built here: the guest's compiler would run under TCG.
    let prog = match memfd::build(&out) {
        None => return,
        Some(r) => r.unwrap_or_else(|e| panic!("building the memfd program: {e}")),
    };
    let exe = std::env::current_exe().unwrap();
    let payload = format!(
        "exec {} --exact lsm_backend_enforces_runtime_policies_in_a_vm --nocapture --test-threads=1\n",
        exe.display()
    );
    let env = [
        (GUEST, "1".to_string()),
        ("MAMORI_REQUIRE_PRIVILEGED", "1".to_string()),
        ("MAMORI_LSM_VM_OUT", out.display().to_string()),
        (MEMFD_PROG, prog.display().to_string()),
        ("RUST_BACKTRACE", "1".to_string()),
    ];
    // TCG (no usable KVM) boots in about 12 s here; the payload takes the rest.
    let timeout = Duration::from_secs(170);
    let run = vm::boot(&kernel, &out, &out, &payload, &env, timeout)
        .unwrap_or_else(|e| panic!("the VM run failed: {e}"));
    println!(
        "VM: kernel {} under {} in {:.1} s\n--- console ---\n{}\n--- end ---",
        kernel.version,
        if run.kvm {
            "KVM"
        } else {
            "TCG (no usable KVM)"
        },
        run.elapsed.as_secs_f64(),
        run.console
    );
    assert_eq!(
        run.status,
        Some(0),
        "the guest payload failed (console above)"
    );
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap_or_default();
    assert!(summary.contains("backend=lsm"), "{summary}");
    assert!(summary.contains("guest=ok"), "{summary}");
    assert!(
        summary.contains("control=fileless-exec") && summary.contains("by BPF LSM"),
        "{summary}"
    );
    println!("{summary}");
    let _ = std::fs::remove_dir_all(&out);
}

// ---- inside the VM --------------------------------------------------------------------------

fn text(o: &std::process::Output) -> String {
    format!(
        "rc={:?} stdout={} stderr={}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const DRIFT_LOOP: &str = "while true; do if [ -f /tmp/go ]; then rm -f /tmp/go; \
     if /tmp/true 2>/tmp/err; then echo ran >/tmp/result; else cat /tmp/err >/tmp/result; fi; fi; \
     sleep 0.1; done";

const POLICIES: &str = "apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: exec-enforce}
spec:
  mode: enforce
  scope: {namespaces: [shop]}
  controls:
    blockContainerExec: {allowedExecutables: [ls, /bin/date]}
    driftPrevention: {}
---
apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: files-enforce}
spec:
  mode: enforce
  scope: {namespaces: [files]}
  controls:
    blockedFiles: [/etc/shadow]
    readOnlyPaths: [/srv/ro/*]
    reverseShell: {}
    blockedExecutables: [whoami, /bin/id]
    filelessExec: {}
    blockedOutbound: {ports: [4444]}
---
apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: exec-audit}
spec:
  mode: audit
  scope: {namespaces: [audit]}
  controls:
    blockContainerExec: {}
    filelessExec: {}
";

fn container(
    name: &str,
    ns: &str,
    state: &Path,
    args: &[&str],
    memfd_prog: &[u8],
) -> runc::TestContainer {
    let mut o = runc::Options::new(name)
        .annotation("io.kubernetes.cri.container-type", "container")
        .annotation("io.kubernetes.cri.sandbox-name", &format!("{name}-pod"))
        .annotation("io.kubernetes.cri.sandbox-namespace", ns)
        .annotation("io.kubernetes.cri.container-name", name)
        .annotation(
            "io.kubernetes.cri.image-name",
            "docker.io/library/busybox:1.36",
        )
        .file("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600)
        .file("/srv/ro/keep.txt", "keep\n", 0o644)
        // In the image layer: running it is not drift; what it runs from memory is fileless.
        .file("/bin/memfd_exec", memfd_prog.to_vec(), 0o755)
        .args(args);
    o.state_root = Some(state.to_path_buf());
    // /dev/shm without `noexec`: a tmpfs (not the overlay, so not drift) where a deleted copy can
    // be executed through its fd. A private cgroup namespace, as containerd gives pods on a pure
    // cgroup v2 node (EKS): the guest mounts only cgroup2, so outbound blocking keyed by the
    // container's cgroup is checked in that shape.
    o.edit_config = Some(|spec| {
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            if !ns.iter().any(|n| n["type"] == "cgroup") {
                ns.push(serde_json::json!({"type": "cgroup"}));
            }
        }
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "noexec");
                }
            }
        }
    });
    o.applets.push("date".into());
    runc::TestContainer::start(o).unwrap_or_else(|e| panic!("container {name}: {e}"))
}

/// Milliseconds per `/bin/true` exec in a container: the loop is timed inside it with
/// `/proc/uptime` (10 ms resolution, shell builtins only), so `runc exec`'s own cost is out.
fn exec_ms(c: &runc::TestContainer, n: u32) -> f64 {
    let script = format!(
        "read a _ < /proc/uptime; i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done; \
         read b _ < /proc/uptime; echo ${{a%.*}}${{a#*.}} ${{b%.*}}${{b#*.}}"
    );
    let o = c.exec(&["sh", "-c", &script]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: Vec<f64> = out
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 2, "{out}");
    (v[1] - v[0]) * 10.0 / f64::from(n)
}

fn decisions(alerts: &[Alert], container: &str, control: &str, status: &str) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| {
            let f = &a.output_fields;
            f.get("policy.control").and_then(|v| v.as_str()) == Some(control)
                && f.get("policy.status").and_then(|v| v.as_str()) == Some(status)
                && f.get("container.id")
                    .and_then(|v| v.as_str())
                    .is_some_and(|id| container.starts_with(id))
        })
        .cloned()
        .collect()
}

fn guest() {
    let out = PathBuf::from(std::env::var("MAMORI_LSM_VM_OUT").unwrap_or_else(|_| "/tmp".into()));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    println!("guest kernel {} lsm={}", release.trim(), lsms.trim());
    assert!(runc::available());
    let prog_path = std::env::var(MEMFD_PROG).expect("the host passes the memfd program");
    let prog = std::fs::read(&prog_path).unwrap_or_else(|e| panic!("read {prog_path}: {e}"));
    let state = tempfile::tempdir().unwrap();
    let shop = container(
        "shop",
        "shop",
        state.path(),
        &["sh", "-c", DRIFT_LOOP],
        &prog,
    );
    let files = container(
        "files",
        "files",
        state.path(),
        &["sh", "-c", "while true; do sleep 1; done"],
        &prog,
    );
    let audit = container(
        "audit",
        "audit",
        state.path(),
        &["sh", "-c", "while true; do sleep 1; done"],
        &prog,
    );
    // Before the agent: the program runs busybox from memory.
    let o = files.exec(&["/bin/memfd_exec", "echo", "fileless-ran"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "fileless-ran\n",
        "{}",
        text(&o)
    );
    let mut summary = format!("kernel={} lsm={}\n", release.trim(), lsms.trim());
    let t0 = Instant::now();
    let mark = |what: &str| println!("[{:.1} s] {what}", t0.elapsed().as_secs_f64());
    mark("containers started");

    // Exec cost without any LSM program, then with the LSM programs attached and the container
    // in their maps (no sensor tracepoints: the LSM object alone).
    let n = 150;
    let policies = RuntimePolicySet::from_str_named(POLICIES, "vm-policies.yaml").unwrap();
    let w = mamori_policy::runtime::Workload {
        namespace: Some("files"),
        pod_labels: None,
        image: Some("docker.io/library/busybox:1.36"),
        container_name: Some("files"),
    };
    let plan = mamori_sensor::lsm::plan_for(&policies, &w, time::OffsetDateTime::now_utc());
    assert!(!plan.is_empty());
    let files_ns =
        mamori_sensor::ebpf::ns_inode(Path::new(&format!("/proc/{}/ns/pid", files.init_pid())))
            .unwrap();
    // Alternate without and with the LSM programs attached (and the container in their maps),
    // after a warm-up round; best of each.
    let _ = exec_ms(&files, n);
    let (mut base_c, mut lsm_c) = (f64::MAX, f64::MAX);
    let mut checks = 0;
    for _ in 0..3 {
        base_c = base_c.min(exec_ms(&files, n));
        let mut lsm = mamori_sensor::lsm::LsmEnforcer::start()
            .unwrap_or_else(|e| panic!("BPF LSM did not start: {}", e.chain()));
        lsm.set_container(files_ns, &plan).unwrap();
        lsm_c = lsm_c.min(exec_ms(&files, n));
        checks += lsm.stats().checks;
    }
    let line = format!(
        "exec cost under {} ({n} execs of /bin/true per loop, best of 3 alternated rounds): in a container with a BPF LSM plan {base_c:.3} ms -> {lsm_c:.3} ms per exec ({:.2}x); kernel checks {checks}\n",
        // Under KVM the guest's clock is kvm-clock; under TCG it is not.
        if std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|c| c.trim() == "kvm-clock")
        {
            "KVM"
        } else {
            "TCG (emulated CPU: absolute figures are inflated)"
        },
        lsm_c / base_c.max(1e-9),
    );
    print!("{line}");
    summary.push_str(&line);
    assert!(
        checks >= u64::from(n),
        "the LSM programs did not see the container's execs"
    );
    mark("exec cost measured");
    let agent = start_agent(policies, state.path(), ExecBackend::Lsm, "vm");
    mark("agent started");
    println!("backend: {:?}", agent.backend);
    assert_eq!(agent.backend.exec, "lsm", "{:?}", agent.backend);
    summary.push_str(&format!("backend={}\n", agent.backend.exec));
    // Let the agent put the three containers in the kernel's maps.
    std::thread::sleep(Duration::from_millis(1500));

    // blockContainerExec: a shell is refused; allowed names and paths run.
    let sh = shop.exec(&["sh", "-c", "echo hi"]);
    assert!(
        !sh.status.success() && text(&sh).contains("operation not permitted"),
        "{}",
        text(&sh)
    );
    let ls = shop.exec(&["ls", "/"]);
    assert!(ls.status.success(), "ls is allowed: {}", text(&ls));
    let date = shop.exec(&["/bin/date"]);
    assert!(
        date.status.success(),
        "/bin/date is allowed: {}",
        text(&date)
    );
    wait_for(&agent.alerts, "blockContainerExec block", |a| {
        decisions(a, shop.id(), "block-container-exec", "block")
            .iter()
            .any(|d| {
                d.output_fields.get("proc.exepath").and_then(|v| v.as_str()) == Some("/bin/sh")
            })
    });

    // driftPrevention: the container's own loop runs a binary written after start.
    let root = shop.rootfs();
    std::fs::copy(runc::busybox().unwrap(), root.join("tmp/true")).unwrap();
    std::fs::write(root.join("tmp/go"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let drift = loop {
        if let Ok(s) = std::fs::read_to_string(root.join("tmp/result")) {
            if !s.is_empty() {
                break s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the container loop never ran /tmp/true"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(drift.contains("Operation not permitted"), "drift: {drift}");
    wait_for(&agent.alerts, "driftPrevention block", |a| {
        !decisions(a, shop.id(), "drift-prevention", "block").is_empty()
    });

    // blockedFiles and readOnlyPaths.
    let shadow = files.exec(&["cat", "/etc/shadow"]);
    assert!(
        !shadow.status.success() && text(&shadow).contains("Operation not permitted"),
        "{}",
        text(&shadow)
    );
    let read = files.exec(&["cat", "/srv/ro/keep.txt"]);
    assert!(
        read.status.success() && text(&read).contains("keep"),
        "{}",
        text(&read)
    );
    for (what, cmd) in [
        ("write", "echo x > /srv/ro/keep.txt"),
        ("append", "echo x >> /srv/ro/keep.txt"),
        ("create", "touch /srv/ro/new.txt"),
        ("unlink", "rm /srv/ro/keep.txt"),
        ("rename", "mv /srv/ro/keep.txt /srv/ro/moved.txt"),
        ("rename out", "mv /srv/ro/keep.txt /tmp/moved.txt"),
        ("chmod", "chmod 777 /srv/ro/keep.txt"),
        ("mkdir", "mkdir /srv/ro/dir"),
    ] {
        let o = files.exec(&["sh", "-c", cmd]);
        assert!(
            !o.status.success() && text(&o).contains("Operation not permitted"),
            "{what}: {}",
            text(&o)
        );
    }
    let after = files.exec(&[
        "sh",
        "-c",
        "cat /srv/ro/keep.txt; ls /srv/ro; stat -c %a /srv/ro/keep.txt",
    ]);
    let after_t = text(&after);
    assert!(after.status.success(), "{after_t}");
    assert!(
        after_t.contains("keep\nkeep.txt\n644"),
        "the read-only folder changed: {after_t}"
    );
    let tmp = files.exec(&[
        "sh",
        "-c",
        "echo ok > /tmp/ok && mkdir /tmp/d && mv /tmp/ok /tmp/d/ok && cat /tmp/d/ok",
    ]);
    assert!(
        tmp.status.success(),
        "writes elsewhere work: {}",
        text(&tmp)
    );
    wait_for(&agent.alerts, "blockedFiles block", |a| {
        decisions(a, files.id(), "blocked-files", "block")
            .iter()
            .any(|d| d.output_fields.get("fd.name").and_then(|v| v.as_str()) == Some("/etc/shadow"))
    });
    wait_for(&agent.alerts, "readOnlyPaths block for 8 changes", |a| {
        decisions(a, files.id(), "read-only-paths", "block").len() >= 8
    });

    // blockedExecutables: by name and by path; other executables run. (Run by runc itself: busybox
    // sh runs some applets, whoami among them, in-process without any exec.)
    for cmd in ["whoami", "/bin/id"] {
        let o = files.exec(&[cmd]);
        assert!(
            !o.status.success() && text(&o).to_lowercase().contains("operation not permitted"),
            "{cmd}: {}",
            text(&o)
        );
    }
    let echo = files.exec(&["sh", "-c", "/bin/echo fine"]);
    assert!(echo.status.success(), "{}", text(&echo));
    wait_for(&agent.alerts, "blockedExecutables block", |a| {
        decisions(a, files.id(), "blocked-executables", "block").len() >= 2
    });

    // reverseShell: sh on a socket is refused; a plain shell runs.
    let rs = files.exec(&[
        "sh",
        "-c",
        "(echo 'echo pwned > /tmp/pwned'; sleep 1) | nc -l -p 9000 & sleep 0.3; \
         nc 127.0.0.1 9000 -e /bin/sh; echo rc=$?; wait",
    ]);
    assert!(
        text(&rs).contains("Operation not permitted"),
        "{}",
        text(&rs)
    );
    assert!(!files.rootfs().join("tmp/pwned").exists(), "{}", text(&rs));
    wait_for(&agent.alerts, "reverseShell block", |a| {
        !decisions(a, files.id(), "reverse-shell", "block").is_empty()
    });

    // filelessExec: the memfd exec is refused by bprm_check_security; the loader is still there
    // and reports EPERM (exit 126), and the memfd'd busybox never prints.
    let fl = files.exec(&["sh", "-c", "/bin/memfd_exec echo fileless-ran; echo rc=$?"]);
    let fl_t = text(&fl);
    println!("fileless: {fl_t}");
    assert!(
        !fl_t.contains("fileless-ran"),
        "the memfd program ran: {fl_t}"
    );
    assert!(
        fl_t.contains("memfd_exec: execveat: Operation not permitted") && fl_t.contains("rc=126"),
        "{fl_t}"
    );
    wait_for(&agent.alerts, "filelessExec block", |a| {
        decisions(a, files.id(), "fileless-exec", "block")
            .iter()
            .any(|d| d.output.contains("by BPF LSM"))
    });

    // A copy deleted before it runs through its fd (on /dev/shm, a tmpfs: not drift) has no links
    // left: fileless too, refused the same way.
    let dl = files.exec(&[
        "sh",
        "-c",
        "MEMFD_EXEC_DIR=/dev/shm /bin/memfd_exec --deleted echo deleted-ran; echo rc=$?",
    ]);
    let dl_t = text(&dl);
    println!("fileless (deleted copy): {dl_t}");
    assert!(
        !dl_t.contains("deleted-ran"),
        "the deleted copy ran: {dl_t}"
    );
    assert!(
        dl_t.contains("memfd_exec: execveat: Operation not permitted") && dl_t.contains("rc=126"),
        "{dl_t}"
    );
    wait_for(&agent.alerts, "filelessExec block of a deleted copy", |a| {
        decisions(a, files.id(), "fileless-exec", "block").len() >= 2
    });

    // blockedOutbound: cgroup connect programs keyed by the container's cgroup v2 directory, with
    // the container in its own cgroup namespace on a cgroup2-only host.
    let own = std::fs::read_to_string(format!("/proc/{}/cgroup", files.init_pid())).unwrap();
    let inside = files.exec(&["cat", "/proc/self/cgroup"]);
    println!(
        "files cgroup from the host: {own:?}; inside: {:?}",
        text(&inside)
    );
    assert!(
        String::from_utf8_lossy(&inside.stdout).trim() == "0::/",
        "the container has no private cgroup namespace: {}",
        text(&inside)
    );
    let nb = files.exec(&["nc", "127.0.0.1", "4444"]);
    let nb_t = text(&nb);
    println!("blockedOutbound: {nb_t}");
    assert!(
        !nb.status.success() && nb_t.contains("Operation not permitted"),
        "{nb_t}"
    );
    let other = text(&files.exec(&["nc", "127.0.0.1", "5555"]));
    assert!(!other.contains("Operation not permitted"), "{other}");
    wait_for(&agent.alerts, "blockedOutbound block", |a| {
        !decisions(a, files.id(), "blocked-outbound", "block").is_empty()
    });

    mark("exec, drift, file, reverse-shell, fileless and outbound checks done");
    // Audit: the exec runs and is reported as detect.
    let a = audit.exec(&["sh", "-c", "echo audited"]);
    assert!(
        a.status.success() && text(&a).contains("audited"),
        "{}",
        text(&a)
    );
    wait_for(&agent.alerts, "blockContainerExec detect (audit)", |al| {
        !decisions(al, audit.id(), "block-container-exec", "detect").is_empty()
    });
    assert!(decisions(
        &agent.alerts.lock().unwrap(),
        audit.id(),
        "block-container-exec",
        "block"
    )
    .is_empty());
    // Audit: the fileless exec runs too, reported as detect.
    let a = audit.exec(&["sh", "-c", "/bin/memfd_exec echo fileless-ran; echo rc=$?"]);
    assert!(text(&a).contains("fileless-ran\nrc=0"), "{}", text(&a));
    wait_for(&agent.alerts, "filelessExec detect (audit)", |al| {
        !decisions(al, audit.id(), "fileless-exec", "detect").is_empty()
    });
    assert!(decisions(
        &agent.alerts.lock().unwrap(),
        audit.id(),
        "fileless-exec",
        "block"
    )
    .is_empty());

    agent.stop.store(true, Ordering::Relaxed);
    agent.thread.join().unwrap();
    let alerts = agent.alerts.lock().unwrap();
    let blocks = alerts
        .iter()
        .filter(|a| a.status.as_deref() == Some("block"))
        .count();
    let sample = alerts
        .iter()
        .find(|a| a.status.as_deref() == Some("block"))
        .map(|a| a.output.clone())
        .unwrap_or_default();
    let fileless = decisions(&alerts, files.id(), "fileless-exec", "block");
    assert_eq!(
        fileless.len(),
        2,
        "one memfd exec and one deleted copy, two blocks: {fileless:#?}"
    );
    assert_eq!(
        fileless[0].output_fields.get("proc.is_exe_from_memfd"),
        Some(&serde_json::Value::Bool(true)),
        "{}",
        fileless[0].output
    );
    summary.push_str(&format!(
        "blocks={blocks}\nsample={sample}\nfileless={}\nguest=ok\n",
        fileless[0].output
    ));
    print!("{summary}");
    std::fs::write(out.join("summary.txt"), summary).unwrap();
    drop((shop, files, audit));
}
