//! `layer_of` on a real overlay mount (lower/upper/work in a temporary folder), and
//! `overlay_upperdir_of` on a real runc container. Needs root (prints `SKIPPED:` otherwise).
#![cfg(target_os = "linux")]

#[path = "common/runc.rs"]
mod runc;

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_sensor::drift::{layer_of, overlay_upperdir_of, Layer, UpperDir};

/// An overlay mount over a temporary folder; unmounted on drop.
struct Overlay {
    dir: tempfile::TempDir,
}

impl Overlay {
    fn new() -> Overlay {
        let dir = tempfile::Builder::new()
            .prefix("mamori-drift-")
            .tempdir()
            .expect("tempdir");
        for d in ["lower/bin", "lower/etc", "upper", "work", "merged"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        for f in ["bin/tool", "bin/untouched", "bin/gone", "etc/conf"] {
            fs::write(dir.path().join("lower").join(f), b"image file\n").unwrap();
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            dir.path().join("lower").display(),
            dir.path().join("upper").display(),
            dir.path().join("work").display()
        );
        let st = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(dir.path().join("merged"))
            .status()
            .expect("run mount");
        assert!(st.success(), "mount overlay");
        Overlay { dir }
    }

    fn merged(&self, rel: &str) -> PathBuf {
        self.dir.path().join("merged").join(rel)
    }

    fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg(self.dir.path().join("merged"))
            .status();
    }
}

#[test]
fn new_copied_up_untouched_and_deleted_files() {
    if !mamori_testkit::require_root("an overlay mount") {
        return;
    }
    let ov = Overlay::new();
    let up = ov.upper();

    fs::create_dir_all(ov.merged("tmp")).unwrap();
    fs::write(ov.merged("tmp/new"), b"dropped binary").unwrap();
    // `touch` of an image file through the merged view copies it up.
    let st = Command::new("touch")
        .arg(ov.merged("bin/tool"))
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_file(ov.merged("bin/gone")).unwrap();

    assert_eq!(layer_of(&up, "/tmp/new").unwrap(), Layer::UpperNew);
    assert_eq!(layer_of(&up, "/bin/tool").unwrap(), Layer::UpperCopiedUp);
    assert_eq!(layer_of(&up, "/bin/untouched").unwrap(), Layer::Lower);
    assert_eq!(layer_of(&up, "/etc/conf").unwrap(), Layer::Lower);
    assert_eq!(layer_of(&up, "/no/such/dir/file").unwrap(), Layer::Lower);
    // A whiteout (the deleted image file) reads as Lower.
    assert_eq!(layer_of(&up, "/bin/gone").unwrap(), Layer::Lower);
    // Redundant slashes and `.` are fine.
    assert_eq!(layer_of(&up, "//tmp/./new").unwrap(), Layer::UpperNew);
    assert!(Layer::UpperNew.is_upper() && !Layer::Lower.is_upper());

    // The kept-open handle gives the same answers.
    let dir = UpperDir::open(&up).unwrap();
    for (p, want) in [
        ("/tmp/new", Layer::UpperNew),
        ("/bin/tool", Layer::UpperCopiedUp),
        ("/bin/untouched", Layer::Lower),
        ("/bin/gone", Layer::Lower),
    ] {
        assert_eq!(dir.layer_of(p).unwrap(), want, "{p}");
    }
    assert!(UpperDir::open(Path::new("/nonexistent/upper")).is_err());
}

#[test]
fn hostile_paths_do_not_escape_the_upper_dir() {
    if !mamori_testkit::require_root("an overlay mount") {
        return;
    }
    let ov = Overlay::new();
    let up = ov.upper();
    // A symlink the container made, pointing at its `/` — seen from the host, at the host's `/`.
    symlink("/", ov.merged("evil")).unwrap();
    symlink("../../../../../../etc", ov.merged("rel")).unwrap();
    assert!(up
        .join("evil")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());

    // Through a symlink: refused (ELOOP), never resolved to the host's /etc/passwd.
    for p in ["/evil/etc/passwd", "/rel/passwd"] {
        let err = layer_of(&up, p).expect_err(p).to_string();
        // ELOOP, with the path in the message.
        assert!(err.contains("symbolic links"), "{p}: {err}");
        assert!(err.contains(&p[1..]), "{p}: {err}");
    }
    // The symlink itself is an upper entry, classified without being followed.
    assert_eq!(layer_of(&up, "/evil").unwrap(), Layer::UpperNew);
    // `..` and relative paths never reach a syscall.
    for p in [
        "/../etc/passwd",
        "/tmp/../../etc/passwd",
        "etc/passwd",
        "/a\0b",
    ] {
        let err = layer_of(&up, p).expect_err(p);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{p}: {err}");
    }
}

#[test]
fn upper_dir_of_a_runc_container() {
    if !runc::available() {
        return;
    }
    let c = runc::TestContainer::start(runc::Options::new("drift-upper")).expect("container");
    let up = overlay_upperdir_of(c.init_pid())
        .expect("read mountinfo")
        .expect("the container root is an overlay with an upper dir");
    assert_eq!(up, c.upperdir());
    // The host's own root is not an overlay.
    assert_eq!(overlay_upperdir_of(std::process::id()).unwrap(), None);

    let out = c.exec(&["sh", "-c", "cp /bin/busybox /tmp/x && touch /etc/passwd"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(layer_of(&up, "/tmp/x").unwrap(), Layer::UpperNew);
    assert_eq!(layer_of(&up, "/etc/passwd").unwrap(), Layer::UpperCopiedUp);
    assert_eq!(layer_of(&up, "/bin/busybox").unwrap(), Layer::Lower);
    assert!(Path::new(&up).is_dir());
}
