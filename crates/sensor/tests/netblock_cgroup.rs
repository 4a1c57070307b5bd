//! Cgroup keys without a container runtime: a rule on a cgroup also holds in its sub-cgroups
//! (the nearest ancestor with a rule decides), and a process outside it is not affected. Needs
//! root, a cgroup v2 mount and busybox (for `nc`).
#![cfg(target_os = "linux")]

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_sensor::netblock::{cgroup2_mount, KeyKind, NetBlocker, NetTarget, Reason};

/// A cgroup folder removed on drop (after its processes have exited).
struct Cg(PathBuf);

impl Drop for Cg {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn cgroup_id(dir: &Path) -> u64 {
    std::fs::metadata(dir).unwrap().ino()
}

/// Runs `busybox nc -w 2 127.0.0.1 <port>` in cgroup `dir`: Ok, or Err(stderr).
fn nc_in(busybox: &Path, dir: &Path, port: u16) -> Result<(), String> {
    let script = format!(
        "echo $$ > '{}/cgroup.procs' && exec '{}' nc -w 2 127.0.0.1 {port} </dev/null",
        dir.display(),
        busybox.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn accept_all(l: TcpListener) {
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
}

#[test]
fn rule_holds_in_sub_cgroups_and_the_deepest_rule_wins() {
    if !mamori_testkit::require_root("cgroup socket programs") {
        return;
    }
    let Some(busybox) = mamori_testkit::tool("busybox") else {
        return;
    };
    let mount = cgroup2_mount(&std::fs::read_to_string("/proc/self/mountinfo").unwrap())
        .expect("no cgroup2 mount");
    let parent = Cg(mount.join(format!("mamori-netblock-{}", std::process::id())));
    std::fs::create_dir(&parent.0).unwrap();
    let inner = Cg(parent.0.join("inner"));
    std::fs::create_dir(&inner.0).unwrap();

    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
    let (p, q) = (
        l1.local_addr().unwrap().port(),
        l2.local_addr().unwrap().port(),
    );
    accept_all(l1);
    accept_all(l2);
    // Before any rule, both connect from both cgroups.
    nc_in(&busybox, &inner.0, p).unwrap();
    nc_in(&busybox, &parent.0, q).unwrap();

    let mut b = NetBlocker::start().unwrap();
    let outer_t = NetTarget {
        kind: KeyKind::Cgroup,
        key: cgroup_id(&parent.0),
    };
    b.block_target(outer_t, &[p], &[]).unwrap();

    // The parent's rule holds in the parent and in its sub-cgroup, and names the parent.
    for dir in [&parent.0, &inner.0] {
        let err = nc_in(&busybox, dir, p).expect_err("blocked port connected");
        assert!(err.contains("Operation not permitted"), "nc said: {err}");
        nc_in(&busybox, dir, q).expect("other port blocked");
    }
    let mut ds = Vec::new();
    b.drain_denials(|d| ds.push(d));
    assert_eq!(ds.len(), 2, "{ds:?}");
    assert!(
        ds.iter()
            .all(|d| d.target == outer_t && d.port == p && d.reason == Reason::Port),
        "{ds:?}"
    );

    // This process sits elsewhere: not affected.
    TcpStream::connect(("127.0.0.1", p)).expect("the test process was blocked");

    // A rule on the sub-cgroup replaces the parent's there (the deepest rule decides).
    let inner_t = NetTarget {
        kind: KeyKind::Cgroup,
        key: cgroup_id(&inner.0),
    };
    b.block_target(inner_t, &[q], &[]).unwrap();
    nc_in(&busybox, &inner.0, p).expect("the parent's port still blocked in the sub-cgroup");
    let err = nc_in(&busybox, &inner.0, q).expect_err("the sub-cgroup's port connected");
    assert!(err.contains("Operation not permitted"), "nc said: {err}");
    assert!(nc_in(&busybox, &parent.0, p).is_err());
    nc_in(&busybox, &parent.0, q).expect("the sub-cgroup's rule leaked to the parent");
    let mut ds = Vec::new();
    b.drain_denials(|d| ds.push(d));
    assert!(
        ds.iter().any(|d| d.target == inner_t && d.port == q),
        "{ds:?}"
    );

    b.unblock(&outer_t).unwrap();
    b.unblock(&inner_t).unwrap();
    nc_in(&busybox, &parent.0, p).expect("still blocked after unblock");
    nc_in(&busybox, &inner.0, q).expect("still blocked after unblock");
    drop(b);
    drop(inner);
}
