//! The runc test harness itself works: a container starts on an overlay rootfs, `exec` runs
//! inside it, files written inside land in the upper dir, and drop cleans everything up.

#[path = "common/runc.rs"]
mod runc;

#[test]
fn container_starts_execs_and_cleans_up() {
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(runc::Options::new("harness").file(
        "/etc/motd",
        "hello\n",
        0o644,
    ))
    .expect("start container");
    let pid = c.init_pid();
    assert!(pid > 1);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(c.state_root().join(c.id()).join("state.json").is_file());

    let out = c.exec(&["cat", "/etc/motd"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");

    let out = c.exec_as(1000, 1000, &["whoami"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app");

    let out = c.exec(&["sh", "-c", "echo x > /tmp/new"]);
    assert!(out.status.success(), "{out:?}");
    assert!(c.upperdir().join("tmp/new").is_file());

    let rootfs = c.rootfs();
    drop(c);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid));
    assert!(!rootfs.exists(), "tempdir removed after unmount");
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}
