//! A real runc container (busybox on overlay, CRI containerd annotations) resolved by host pid
//! and by pid namespace, with its upper dir and the users inside its root.
//! Needs root, runc and a static busybox; prints `SKIPPED:` otherwise.

#[path = "common/runc.rs"]
mod runc;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_sensor::container::{
    container_id_from_proc_cgroup, ContainerResolver, RuntimeKind, RuntimeRoots,
};
use mamori_sensor::users::UserDb;

const POD_UID: &str = "d6c1a2b3-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn start() -> runc::TestContainer {
    let opts = runc::Options::new("ctx")
        .annotation("io.kubernetes.cri.container-type", "container")
        .annotation("io.kubernetes.cri.container-name", "web")
        .annotation("io.kubernetes.cri.sandbox-name", "nginx-7f9")
        .annotation("io.kubernetes.cri.sandbox-namespace", "shop")
        .annotation(
            "io.kubernetes.cri.image-name",
            "docker.io/library/nginx:1.25",
        )
        .annotation("io.kubernetes.cri.sandbox-uid", POD_UID);
    runc::TestContainer::start(opts).expect("start container")
}

fn pidns_of(pid: u32) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .unwrap()
        .ino()
}

/// Host pids of the processes in pid namespace `ns`, other than `except`.
fn pids_in_ns(ns: u64, except: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| p != except)
        .filter(|&p| {
            std::fs::metadata(format!("/proc/{p}/ns/pid"))
                .map(|m| m.ino() == ns)
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn resolves_a_real_runc_container_by_pid_and_pidns() {
    if !runc::available() {
        return;
    }
    let c = start();
    let init = c.init_pid();
    let ns = pidns_of(init);
    let mut r = ContainerResolver::new(RuntimeRoots(vec![c.state_root().to_path_buf()]), 64);

    // First lookup scans the state root.
    let info = r.by_pid(init).expect("container found by host pid");
    assert_eq!(info.id, c.id());
    assert_eq!(info.runtime, RuntimeKind::Containerd);
    assert_eq!(info.name, "web");
    assert_eq!(info.pod_name.as_deref(), Some("nginx-7f9"));
    assert_eq!(info.pod_namespace.as_deref(), Some("shop"));
    assert_eq!(info.pod_uid.as_deref(), Some(POD_UID));
    assert_eq!(
        info.image_repository.as_deref(),
        Some("docker.io/library/nginx")
    );
    assert_eq!(info.image_tag.as_deref(), Some("1.25"));
    assert_eq!(info.init_pid, init);
    assert_eq!(info.bundle, Some(c.bundle()));
    assert_eq!(info.rootfs, Some(c.rootfs()));
    assert_eq!(info.upperdir, Some(c.upperdir()));
    assert_eq!(info.pidns, Some(ns));
    assert_eq!(
        info.mntns,
        Some(
            std::fs::metadata(format!("/proc/{init}/ns/mnt"))
                .unwrap()
                .ino()
        )
    );
    assert!(
        !info.privileged,
        "runc spec's default caps are not privileged"
    );
    assert!(info.started_ns.is_some());

    // The BPF path: pid-namespace inode → the same cached entry.
    let by_ns = r.by_pidns(ns).expect("container found by pidns");
    assert!(Arc::ptr_eq(&info, &by_ns));

    // A process the container did not start itself (runc exec) resolves too.
    let status = c.exec_detached(&["sleep", "30"]).unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let other = loop {
        if let Some(p) = pids_in_ns(ns, init).into_iter().next() {
            break p;
        }
        assert!(Instant::now() < deadline, "exec'd process never showed up");
        std::thread::sleep(Duration::from_millis(20));
    };
    let via_exec = r.by_pid(other).expect("exec'd process resolves");
    assert!(Arc::ptr_eq(&info, &via_exec));

    // The cgroup path alone names it too (plain runc: `/<id>`).
    let cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let m = container_id_from_proc_cgroup(&cg).expect("id from cgroup");
    assert_eq!(m.id, c.id());

    // Host processes stay host processes.
    assert!(r.by_pid(std::process::id()).is_none());

    // Figures: lookups on hits.
    let n = 100_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(r.by_pidns(ns));
    }
    let per_pidns = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(r.by_pid(init));
    }
    let per_pid = t.elapsed() / 1000;
    eprintln!("FIGURE by_pidns hit: {per_pidns:?}/lookup; by_pid hit: {per_pid:?}/lookup");

    // Gone: the resolver forgets it and the namespace no longer answers.
    let id = c.id().to_string();
    drop(c);
    r.forget_dead();
    assert!(r.by_id(&id).is_none());
    assert!(r.by_pidns(ns).is_none());
}

#[test]
fn users_resolve_inside_the_container_root() {
    if !runc::available() {
        return;
    }
    let c = start();
    let root = PathBuf::from(format!("/proc/{}/root", c.init_pid()));
    let mut db = UserDb::new(8);
    assert_eq!(db.user_name(&root, 1000).as_deref(), Some("app"));
    assert_eq!(db.group_name(&root, 1000).as_deref(), Some("app"));
    assert_eq!(db.home_dir(&root, 1000).as_deref(), Some("/home/app"));
    assert_eq!(db.shell(&root, 1000).as_deref(), Some("/bin/sh"));
    assert_eq!(db.user_name(&root, 2000), None);

    // The container adds a user (the file is copied up to the upper layer); the change shows
    // after the re-check interval.
    let out = c.exec(&[
        "sh",
        "-c",
        "echo 'web:x:2000:2000::/srv:/bin/sh' >> /etc/passwd",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(c.upperdir().join("etc/passwd").is_file());
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(db.user_name(&root, 2000).as_deref(), Some("web"));

    // The container turns /etc/passwd into an absolute symlink. Followed from the host it
    // would name the host's /alt/passwd; resolved inside the root it is the container's file.
    assert!(!std::path::Path::new("/alt/passwd").exists());
    let out = c.exec(&[
        "sh",
        "-c",
        "mkdir -p /alt && echo 'alt:x:0:0::/:/bin/sh' > /alt/passwd && ln -sf /alt/passwd /etc/passwd",
    ]);
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(db.user_name(&root, 0).as_deref(), Some("alt"));
}
