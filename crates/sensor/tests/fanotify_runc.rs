//! The exec guard on a real runc container: a mount mark on `/proc/<init>/root`, a drift decider
//! built on `drift::layer_of`, and a volume marked through `extra_mounts`. Needs root, runc and
//! busybox-static (prints `SKIPPED:` otherwise).
#![cfg(target_os = "linux")]

#[path = "common/runc.rs"]
mod runc;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mamori_sensor::drift::{layer_of, overlay_upperdir_of, Layer};
use mamori_sensor::fanotify::{ExecDecider, ExecGuard, ExecRequest, GuardSettings, Verdict};

/// Denies execs of upper-layer files (drift), of files under `/data/`, and of anything whose path
/// cannot be trusted (unlinked, unreadable).
struct DriftDecider {
    upper: PathBuf,
    seen: Mutex<Vec<(ExecRequest, Result<Layer, String>)>>,
}

impl ExecDecider for DriftDecider {
    fn decide(&self, req: &ExecRequest) -> Verdict {
        let layer = layer_of(&self.upper, &req.path).map_err(|e| e.to_string());
        let verdict = if !req.path_exact || req.path.starts_with("/data/") {
            Verdict::Deny
        } else {
            match layer {
                Ok(Layer::Lower) => Verdict::Allow,
                _ => Verdict::Deny,
            }
        };
        self.seen.lock().unwrap().push((req.clone(), layer));
        verdict
    }
}

fn with_data_volume(cfg: &mut serde_json::Value) {
    let mounts = cfg["mounts"].as_array_mut().expect("runc spec has mounts");
    mounts.push(serde_json::json!({
        "destination": "/data",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["rw", "nosuid", "nodev", "mode=1777", "size=16m"]
    }));
}

fn text(out: &std::process::Output) -> String {
    format!(
        "rc={:?} stdout={:?} stderr={:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn drift_in_a_runc_container_is_denied_and_image_binaries_run() {
    if !runc::available() {
        return;
    }
    let mut opts = runc::Options::new("fan-drift");
    opts.edit_config = Some(with_data_volume);
    let c = runc::TestContainer::start(opts).expect("container");
    let upper = overlay_upperdir_of(c.init_pid())
        .expect("mountinfo")
        .expect("overlay root");
    let decider = Arc::new(DriftDecider {
        upper,
        seen: Mutex::new(Vec::new()),
    });
    let guard = ExecGuard::start(decider.clone(), GuardSettings::default()).expect("start");
    let mark = guard
        .mark_container(c.init_pid(), &[PathBuf::from("/data")])
        .expect("mark container");

    // An image binary (busybox applet from the lower layer) runs.
    let out = c.exec(&["sh", "-c", "echo lower-ok; whoami"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lower-ok\nroot\n");

    // A binary copied into /tmp (upper layer) is refused before it runs.
    let out = c.exec(&[
        "sh",
        "-c",
        "cp /bin/busybox /tmp/x && /tmp/x echo drift-ran",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(126), "{all}");
    assert!(all.contains("/tmp/x: Operation not permitted"), "{all}");
    assert!(!all.contains("drift-ran"), "{all}");

    // `runc exec` of an upper binary as the session's first process fails in runc itself.
    let out = c.exec(&["/tmp/x", "echo", "drift-ran"]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("operation not permitted"), "{all}");

    // An image file that was copied up (touched) is drift too.
    let out = c.exec(&[
        "sh",
        "-c",
        "touch /bin/busybox; /bin/busybox echo copied-up-ran",
    ]);
    let all = text(&out);
    assert!(!all.contains("copied-up-ran"), "{all}");
    assert!(all.contains("Operation not permitted"), "{all}");

    let seen = decider.seen.lock().unwrap().clone();
    let c_counters = guard.counters();
    assert!(c_counters.denied >= 3, "{c_counters:?}");
    assert_eq!(
        c_counters.timed_out + c_counters.errors,
        0,
        "{c_counters:?}"
    );

    let tmp_x: Vec<_> = seen.iter().filter(|(r, _)| r.path == "/tmp/x").collect();
    assert!(!tmp_x.is_empty(), "no event for /tmp/x: {seen:?}");
    for (r, layer) in &tmp_x {
        assert_eq!(*layer, Ok(Layer::UpperNew));
        assert_eq!(r.mark, mark, "event attributed to the container's mark");
    }
    assert!(
        seen.iter()
            .any(|(r, l)| r.path == "/bin/busybox" && *l == Ok(Layer::UpperCopiedUp)),
        "{seen:?}"
    );
    drop(guard);
}

#[test]
fn volume_marks_and_unlinked_executables() {
    if !runc::available() {
        return;
    }
    let mut opts = runc::Options::new("fan-vol");
    opts.edit_config = Some(with_data_volume);
    let c = runc::TestContainer::start(opts).expect("container");
    // Prepare before marking: a binary on the volume.
    let out = c.exec(&["cp", "/bin/busybox", "/data/echo"]);
    assert!(out.status.success(), "{}", text(&out));
    let upper = overlay_upperdir_of(c.init_pid()).unwrap().unwrap();
    let decider = Arc::new(DriftDecider {
        upper,
        seen: Mutex::new(Vec::new()),
    });
    let guard = ExecGuard::start(decider.clone(), GuardSettings::default()).expect("start");

    // Root mount only: the volume is another mount, so its exec is not even seen.
    let root_only = guard.mark_container(c.init_pid(), &[]).expect("mark root");
    let out = c.exec(&["/data/echo", "volume-ran"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "volume-ran\n",
        "{}",
        text(&out)
    );
    assert!(
        !decider
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|(r, _)| r.path == "/data/echo"),
        "the volume is not covered by the root mark"
    );
    guard.unmark(root_only).expect("unmark");

    let vol = guard
        .mark_container(c.init_pid(), &[PathBuf::from("/data")])
        .expect("mark root and volume");
    let out = c.exec(&["sh", "-c", "/data/echo volume-ran"]);
    let all = text(&out);
    assert!(all.contains("/data/echo: Operation not permitted"), "{all}");
    let seen = decider.seen.lock().unwrap().clone();
    let ev = seen
        .iter()
        .find(|(r, _)| r.path == "/data/echo")
        .expect("volume exec seen");
    assert_eq!(ev.0.mark, vol);
    // Not in the upper dir: the drift check alone would have said Lower. Volumes need their own
    // rule (here: everything under /data is denied).
    assert_eq!(ev.1, Ok(Layer::Lower));

    // An upper binary, opened, deleted, then executed through /proc/self/fd: the path ends in
    // " (deleted)" and is flagged, so a path-based check cannot be fooled into "Lower".
    let out = c.exec(&[
        "sh",
        "-c",
        "cp /bin/busybox /tmp/y && exec 3</tmp/y && rm /tmp/y && /proc/self/fd/3 echo unlinked-ran",
    ]);
    let all = text(&out);
    assert!(!all.contains("unlinked-ran"), "{all}");
    assert!(all.contains("Operation not permitted"), "{all}");
    let seen = decider.seen.lock().unwrap().clone();
    let ev = seen
        .iter()
        .find(|(r, _)| r.unlinked)
        .unwrap_or_else(|| panic!("no unlinked exec seen: {seen:?} / {all}"));
    assert!(!ev.0.path_exact, "{ev:?}");
    assert!(ev.0.path.starts_with("/tmp/y"), "{ev:?}");
    assert_eq!(
        ev.1,
        Ok(Layer::Lower),
        "what a naive drift check would conclude"
    );
    let end = guard.shutdown();
    assert_eq!(end.timed_out + end.errors, 0, "{end:?}");
}

#[test]
fn unmark_after_the_container_is_gone_is_fine() {
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(runc::Options::new("fan-gone")).expect("container");
    let decider = Arc::new(DriftDecider {
        upper: c.upperdir(),
        seen: Mutex::new(Vec::new()),
    });
    let guard = ExecGuard::start(decider, GuardSettings::default()).expect("start");
    let mark = guard.mark_container(c.init_pid(), &[]).expect("mark");
    let pid = c.init_pid();
    drop(c); // runc delete --force, umount
             // The init is killed; wait until it is reaped (or at least a zombie, whose root is gone).
    let t = std::time::Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            break;
        }
        assert!(t.elapsed().as_secs() < 10, "init {pid} still alive");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    guard.unmark(mark).expect("unmark of a gone container");
    let err = guard.mark_container(pid, &[]).expect_err("gone");
    assert!(err.to_string().contains("does not exist"), "{err}");
}
