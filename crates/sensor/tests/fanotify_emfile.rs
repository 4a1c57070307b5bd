//! What happens when the guard's process has no file descriptor left for an event: the kernel
//! cannot hand the event over and denies the exec itself (fail-closed), and the guard counts an
//! error. This is its own test binary because it lowers the whole process's `RLIMIT_NOFILE`.
//! Needs root and `prlimit` (util-linux).
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mamori_sensor::fanotify::{ExecDecider, ExecGuard, ExecRequest, GuardSettings, Verdict};

struct AllowAll;

impl ExecDecider for AllowAll {
    fn decide(&self, _req: &ExecRequest) -> Verdict {
        Verdict::Allow
    }
}

/// The lowest free descriptor number: `open` always returns the lowest free number, so open and
/// close one file. `RLIMIT_NOFILE` bounds descriptor *numbers*, so a limit equal to this leaves
/// no room for another descriptor.
fn lowest_free_fd() -> i32 {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/proc/self/status").unwrap();
    f.as_raw_fd()
}

#[test]
fn out_of_fds_the_kernel_denies_the_exec() {
    if !mamori_testkit::require_root("fanotify permission events") {
        return;
    }
    let Some(prlimit) = mamori_testkit::tool("prlimit") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("mamori-fan-emfile-")
        .tempdir()
        .unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox");
    let prog = dir.path().join("true");
    std::fs::copy(bb, &prog).unwrap();

    let guard = ExecGuard::start(Arc::new(AllowAll), GuardSettings::default()).expect("start");
    guard.mark_mount(dir.path()).expect("mark");

    // A shell waits for a line, then execs the marked binary and restores our limit.
    let me = std::process::id().to_string();
    let script = format!(
        "read x; {prog} ; echo rc=$?; {prlimit} --pid {me} --nofile=4096:4096",
        prog = prog.display(),
        prlimit = prlimit.display()
    );
    let mut sh = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = sh.stdin.take().unwrap();
    let mut stdout = sh.stdout.take().unwrap();
    let mut stderr = sh.stderr.take().unwrap();

    // No room for one more descriptor in this process.
    let limit = lowest_free_fd();
    let st = Command::new(&prlimit)
        .args(["--pid", &me, &format!("--nofile={limit}:4096")])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        std::fs::File::open("/proc/self/status").is_err(),
        "the limit is in force"
    );

    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    let status = sh.wait().unwrap();
    assert!(status.success(), "{out} {err}");
    assert!(
        std::fs::File::open("/proc/self/status").is_ok(),
        "the limit was restored"
    );

    assert!(out.contains("rc=126"), "stdout={out:?} stderr={err:?}");
    assert!(err.contains("Operation not permitted"), "stderr={err:?}");
    std::thread::sleep(Duration::from_millis(50));
    let c = guard.shutdown();
    assert!(c.errors >= 1, "{c:?}");
    assert_eq!((c.allowed, c.denied), (0, 0), "{c:?}");
    let ok = Command::new("umount")
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let _ = Command::new("umount").arg("-l").arg(dir.path()).status();
    }
}
