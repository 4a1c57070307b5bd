//! The exec guard on a tmpfs mounted for each test: deny, allow, the watchdog, fail-open at
//! shutdown, unmark. Needs root (prints `SKIPPED:` otherwise).
#![cfg(target_os = "linux")]

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mamori_sensor::fanotify::{
    ExecDecider, ExecGuard, ExecRequest, GuardCounters, GuardSettings, MarkId, Verdict,
};

/// A tmpfs mounted on a temporary folder, holding copies of busybox; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn new() -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("mamori-fan-")
            .tempdir()
            .expect("tempdir");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(st.success(), "mount tmpfs on {}", dir.path().display());
        Tmpfs { dir }
    }

    /// Copies the static busybox to `<mount>/<name>`. With `cp`, not `std::fs::copy`: a copy made
    /// in this process has a write fd open for a moment, and a child forked by another test
    /// thread in that moment keeps it until it execs, so our exec could fail with ETXTBSY *after*
    /// the kernel has already sent the permission event (one exec, two events).
    fn busybox(&self, name: &str) -> PathBuf {
        let dest = self.dir.path().join(name);
        let st = Command::new("cp")
            .arg(busybox())
            .arg(&dest)
            .status()
            .expect("run cp");
        assert!(st.success(), "cp busybox {}", dest.display());
        dest
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // A child of a failed test may still run from it: detach instead.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

fn busybox() -> &'static str {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is installed")
}

/// Runs `prog true` (busybox, named by argv[0]) and waits.
fn run_true(prog: &Path) -> io::Result<ExitStatus> {
    Command::new(prog)
        .arg0("busybox")
        .arg("true")
        .stdin(Stdio::null())
        .status()
}

fn assert_eperm(r: io::Result<ExitStatus>, what: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{what}: {e}");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{what}");
        }
        Ok(st) => panic!("{what}: exec was not denied, it exited with {st}"),
    }
}

/// Denies paths ending in `/deny-me`, records every request.
#[derive(Default)]
struct DenyByName {
    seen: Mutex<Vec<ExecRequest>>,
}

impl ExecDecider for DenyByName {
    fn decide(&self, req: &ExecRequest) -> Verdict {
        self.seen.lock().unwrap().push(req.clone());
        if req.path.ends_with("/deny-me") {
            Verdict::Deny
        } else {
            Verdict::Allow
        }
    }
}

/// Sleeps, then allows.
struct Slow(Duration);

impl ExecDecider for Slow {
    fn decide(&self, _req: &ExecRequest) -> Verdict {
        std::thread::sleep(self.0);
        Verdict::Allow
    }
}

fn root() -> bool {
    mamori_testkit::require_root("fanotify permission events")
}

#[test]
fn denied_path_fails_with_eperm_and_others_run() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let deny = fs.busybox("deny-me");
    let allow = fs.busybox("allow-me");
    let decider = Arc::new(DenyByName::default());
    let guard = ExecGuard::start(decider.clone(), GuardSettings::default()).expect("start");
    let mark = guard.mark_mount(fs.path()).expect("mark tmpfs");

    assert_eperm(run_true(&deny), "exec of deny-me");
    assert!(run_true(&allow).expect("exec allow-me").success());
    // Not on the marked mount: no event at all.
    assert!(run_true(Path::new(busybox()))
        .expect("exec host busybox")
        .success());

    let c = guard.counters();
    assert_eq!((c.events, c.denied, c.allowed), (2, 1, 1), "{c:?}");
    assert_eq!((c.timed_out, c.late, c.errors), (0, 0, 0), "{c:?}");

    let seen = decider.seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![deny.to_str().unwrap(), allow.to_str().unwrap()],
        "requests carry the resolved path"
    );
    for r in &seen {
        assert_eq!(r.mark, mark, "event attributed to the mark");
        assert!(r.path_exact && !r.unlinked, "{r:?}");
        assert!(r.pid > 0 && r.ino > 0, "{r:?}");
    }
    let meta = std::fs::metadata(&allow).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((seen[1].dev, seen[1].ino), (meta.dev(), meta.ino()));

    // Once unmarked, nothing waits on the guard any more.
    guard.unmark(mark).expect("unmark");
    assert!(run_true(&deny).expect("exec after unmark").success());
    assert_eq!(guard.counters().events, 2);
    let end = guard.shutdown();
    assert_eq!(end.released, 0, "{end:?}");
}

#[test]
fn request_pid_is_the_exec_ing_process() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let prog = fs.busybox("prog");
    let decider = Arc::new(DenyByName::default());
    let guard = ExecGuard::start(decider.clone(), GuardSettings::default()).expect("start");
    guard.mark_mount(fs.path()).expect("mark");
    let mut child = Command::new(&prog)
        .arg0("busybox")
        .args(["sleep", "0"])
        .spawn()
        .expect("spawn");
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let seen = decider.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].pid, pid);
}

#[test]
fn watchdog_answers_a_slow_decider_allow() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let prog = fs.busybox("slow");
    let settings = GuardSettings {
        deadline: Duration::from_millis(100),
        ..GuardSettings::default()
    };
    let guard = ExecGuard::start(Arc::new(Slow(Duration::from_secs(2))), settings).expect("start");
    guard.mark_mount(fs.path()).expect("mark");
    let t = Instant::now();
    assert!(run_true(&prog).expect("exec").success());
    let took = t.elapsed();
    assert!(took < Duration::from_millis(500), "exec took {took:?}");
    let c = guard.counters();
    assert_eq!(
        (c.events, c.timed_out, c.allowed, c.late),
        (1, 1, 0, 0),
        "{c:?}"
    );
    // The decider's answer arrives after 2 s and is discarded.
    wait_for(&guard, |c| c.late == 1, Duration::from_secs(5));
    let c = guard.shutdown();
    assert_eq!(
        (c.timed_out, c.late, c.allowed, c.denied),
        (1, 1, 0, 0),
        "{c:?}"
    );
}

#[test]
fn watchdog_answers_a_slow_decider_deny_in_strict_mode() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let prog = fs.busybox("slow");
    let settings = GuardSettings {
        deadline: Duration::from_millis(100),
        on_timeout: Verdict::Deny,
        ..GuardSettings::default()
    };
    let guard = ExecGuard::start(Arc::new(Slow(Duration::from_secs(2))), settings).expect("start");
    guard.mark_mount(fs.path()).expect("mark");
    let t = Instant::now();
    assert_eperm(run_true(&prog), "exec past the deadline, strict");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(guard.counters().timed_out, 1);
}

/// Blocks in `decide` until released.
#[derive(Default)]
struct Blocked {
    gate: Mutex<bool>,
    cv: std::sync::Condvar,
    entered: std::sync::atomic::AtomicUsize,
}

impl Blocked {
    fn entered(&self) -> usize {
        self.entered.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl ExecDecider for Blocked {
    fn decide(&self, _req: &ExecRequest) -> Verdict {
        self.entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut open = self.gate.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        Verdict::Deny
    }
}

#[test]
fn shutdown_with_a_blocked_decider_lets_the_exec_proceed() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let prog = fs.busybox("blocked");
    let decider = Arc::new(Blocked::default());
    let settings = GuardSettings {
        deadline: Duration::from_secs(600),
        ..GuardSettings::default()
    };
    let guard = ExecGuard::start(decider.clone(), settings).expect("start");
    guard.mark_mount(fs.path()).expect("mark");
    let runner = std::thread::spawn(move || run_true(&prog));
    wait_for(&guard, |c| c.events == 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!runner.is_finished(), "the exec waits for the decider");
    let t = Instant::now();
    let c = guard.shutdown();
    let st = runner.join().unwrap().expect("exec after shutdown");
    assert!(st.success());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!((c.released, c.denied, c.timed_out), (1, 0, 0), "{c:?}");
    *decider.gate.lock().unwrap() = true;
    decider.cv.notify_all();
}

#[test]
fn a_full_queue_is_answered_at_once() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let progs: Vec<PathBuf> = (0..4).map(|i| fs.busybox(&format!("q{i}"))).collect();
    let settings = GuardSettings {
        deadline: Duration::from_secs(600),
        workers: 1,
        queue: 1,
        ..GuardSettings::default()
    };
    let decider = Arc::new(Blocked::default());
    let guard = ExecGuard::start(decider.clone(), settings).expect("start");
    guard.mark_mount(fs.path()).expect("mark");
    // One exec occupies the worker, one the queue slot; the rest find the queue full and are
    // allowed (on_timeout) at once.
    let mut runners = Vec::new();
    let p0 = progs[0].clone();
    runners.push(std::thread::spawn(move || run_true(&p0)));
    wait_until(|| decider.entered() == 1, "the worker takes the first exec");
    let p1 = progs[1].clone();
    runners.push(std::thread::spawn(move || run_true(&p1)));
    wait_for(&guard, |c| c.events == 2, Duration::from_secs(10));
    for p in &progs[2..] {
        assert!(run_true(p).expect("exec with a full queue").success());
    }
    let c = guard.counters();
    assert_eq!((c.events, c.queue_full), (4, 2), "{c:?}");
    *decider.gate.lock().unwrap() = true;
    decider.cv.notify_all();
    for r in runners {
        let r = r.join().unwrap();
        assert_eperm(r, "queued exec, decided deny");
    }
    let c = guard.shutdown();
    assert_eq!((c.denied, c.queue_full, c.late), (2, 2, 0), "{c:?}");
}

#[test]
fn marking_errors_are_clear() {
    if !root() {
        return;
    }
    let guard =
        ExecGuard::start(Arc::new(DenyByName::default()), GuardSettings::default()).expect("start");
    let err = guard
        .mark_container(u32::MAX - 1, &[])
        .expect_err("no such pid");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let me = std::process::id();
    let err = guard.mark_container(me, &[]).expect_err("the host root");
    assert!(err.to_string().contains("own root mount"), "{err}");
    let err = guard
        .mark_container(me, &[PathBuf::from("relative/dir")])
        .expect_err("relative mount");
    assert!(err.to_string().contains("not an absolute path"), "{err}");
    let err = guard
        .mark_mount(Path::new("/nonexistent/mamori"))
        .expect_err("missing path");
    assert!(err.to_string().contains("/nonexistent/mamori"), "{err}");
    let err = guard.unmark(MarkId::UNKNOWN).expect_err("unknown mark");
    assert!(err.to_string().contains("not a mark"), "{err}");
    let bad = GuardSettings {
        workers: 0,
        ..GuardSettings::default()
    };
    assert!(ExecGuard::start(Arc::new(DenyByName::default()), bad).is_err());
}

fn wait_until(what: impl Fn() -> bool, why: &str) {
    let t = Instant::now();
    while !what() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "timed out waiting: {why}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_for(guard: &ExecGuard, what: impl Fn(&GuardCounters) -> bool, limit: Duration) {
    let t = Instant::now();
    loop {
        let c = guard.counters();
        if what(&c) {
            return;
        }
        assert!(
            t.elapsed() < limit,
            "condition not reached within {limit:?}: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Panics on every request.
struct Panics;

impl ExecDecider for Panics {
    fn decide(&self, _req: &ExecRequest) -> Verdict {
        panic!("decider bug (expected by the test)");
    }
}

#[test]
fn a_panicking_decider_is_answered_with_the_timeout_verdict_and_counted() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let prog = fs.busybox("p");
    for (on_timeout, denied) in [(Verdict::Allow, false), (Verdict::Deny, true)] {
        // A deadline the test never reaches: the answer must come from the worker that caught
        // the panic (printing a panic with a backtrace alone can take 200 ms here).
        let settings = GuardSettings {
            on_timeout,
            deadline: Duration::from_secs(60),
            ..GuardSettings::default()
        };
        let guard = ExecGuard::start(Arc::new(Panics), settings).expect("start");
        guard.mark_mount(fs.path()).expect("mark");
        let t = Instant::now();
        let r = run_true(&prog);
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        if denied {
            assert_eperm(r, "panicking decider, strict");
        } else {
            assert!(r.expect("exec").success());
        }
        // The worker survived the panic: a second exec is answered the same way.
        let _ = run_true(&prog);
        let c = guard.shutdown();
        assert_eq!((c.events, c.errors, c.timed_out), (2, 2, 0), "{c:?}");
    }
}

#[test]
fn the_guard_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<ExecGuard>();
    shareable::<ExecRequest>();
}

#[test]
fn two_ids_on_one_mount_keep_the_mark_until_the_last_is_removed() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new();
    let prog = fs.busybox("deny-me");
    let sub = fs.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let decider = Arc::new(DenyByName::default());
    let guard = ExecGuard::start(decider.clone(), GuardSettings::default()).expect("start");
    // Same mount, reached through two paths: the kernel keeps one mark for both.
    let first = guard.mark_mount(fs.path()).expect("mark 1");
    let second = guard.mark_mount(&sub).expect("mark 2");
    assert_ne!(first, second);
    assert_eperm(run_true(&prog), "both marks");
    // Events go to the most recent id on that mount.
    assert_eq!(decider.seen.lock().unwrap()[0].mark, second);
    guard.unmark(first).expect("unmark 1");
    assert_eperm(run_true(&prog), "one mark left");
    guard.unmark(second).expect("unmark 2");
    assert!(run_true(&prog).expect("no mark left").success());
    assert_eq!(guard.counters().events, 2);
    // Unmarking again is an error: the id is gone.
    assert!(guard.unmark(second).is_err());
}
