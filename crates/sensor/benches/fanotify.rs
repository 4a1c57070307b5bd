//! Exec latency through the fanotify guard, against the same exec on an unmarked mount in the
//! same run; open+close latency on a mount marked for opens (`mark_mount_files`, what blocked
//! files / read-only paths cost), with an allow-all decider and with one that also reads the
//! open mode of every open (`open_intent`, the worst case of the policy decider); and the cost
//! of one drift lookup (`drift::layer_of`).
//!
//! Each exec iteration is fork + exec + wait of a static busybox (`busybox true`) copied onto a
//! tmpfs. Both copies are on their own tmpfs; only one of them is marked, with an allow-all
//! decider. The exec benches need root (they mount tmpfs and use fanotify); without it they are
//! skipped with a note. The `layer_of` bench runs anywhere (an upper directory is a directory).
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use mamori_sensor::drift::{layer_of, UpperDir};
use mamori_sensor::fanotify::{
    open_intent, Access, ExecDecider, ExecGuard, ExecRequest, GuardSettings, Verdict,
};

struct AllowAll;

/// Allows everything after reading the open mode of each open, as the policy decider does for a
/// path a read-only rule matches.
struct ReadIntent;

impl ExecDecider for ReadIntent {
    fn decide(&self, req: &ExecRequest) -> Verdict {
        if req.access == Access::Open {
            std::hint::black_box(open_intent(req.pid));
        }
        Verdict::Allow
    }
}

impl ExecDecider for AllowAll {
    fn decide(&self, _req: &ExecRequest) -> Verdict {
        Verdict::Allow
    }
}

/// A tmpfs on a temporary folder, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn with_busybox() -> Option<(Tmpfs, PathBuf)> {
        let dir = tempfile::Builder::new()
            .prefix("mamori-bench-")
            .tempdir()
            .ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let t = Tmpfs(dir);
        let bb = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).is_file())?;
        let dest = t.0.path().join("busybox");
        std::fs::copy(bb, &dest).ok()?;
        Some((t, dest))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

fn run_true(prog: &Path) {
    let st = Command::new(prog)
        .arg0("busybox")
        .arg("true")
        .stdin(Stdio::null())
        .status()
        .expect("exec busybox true");
    assert!(st.success());
}

fn exec_latency(c: &mut Criterion) {
    if !mamori_testkit::is_root() {
        eprintln!("SKIPPED: the exec benches need root (tmpfs mounts and fanotify)");
        return;
    }
    let (Some((_plain_fs, plain)), Some((marked_fs, marked))) =
        (Tmpfs::with_busybox(), Tmpfs::with_busybox())
    else {
        eprintln!("SKIPPED: could not mount tmpfs or copy busybox");
        return;
    };
    let guard = ExecGuard::start(Arc::new(AllowAll), GuardSettings::default()).expect("guard");
    guard.mark_mount(marked_fs.0.path()).expect("mark");

    let mut group = c.benchmark_group("exec_busybox_true");
    group.sample_size(30);
    group.bench_function("unmarked", |b| b.iter(|| run_true(&plain)));
    group.bench_function("marked_allow_all", |b| b.iter(|| run_true(&marked)));
    group.finish();

    // Criterion runs the two benches one after the other, and the load of the other builders on
    // this machine changes in between. Also measure them interleaved (marked, unmarked, marked,
    // ...) and compare medians, which share the same load.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..1500 {
        let t = Instant::now();
        run_true(&plain);
        a.push(t.elapsed());
        let t = Instant::now();
        run_true(&marked);
        b.push(t.elapsed());
    }
    a.sort();
    b.sort();
    let (ma, mb) = (a[a.len() / 2], b[b.len() / 2]);
    eprintln!(
        "interleaved medians over {} pairs: unmarked {:?}, marked allow-all {:?}, ratio {:.2}, added {:?}",
        a.len(),
        ma,
        mb,
        mb.as_secs_f64() / ma.as_secs_f64(),
        mb.saturating_sub(ma)
    );

    let counters = guard.shutdown();
    eprintln!("guard counters after the bench: {counters:?}");
    assert_eq!(counters.timed_out + counters.errors, 0);
}

fn open_close(path: &Path) {
    std::hint::black_box(std::fs::File::open(path).expect("open"));
}

fn open_latency(c: &mut Criterion) {
    if !mamori_testkit::is_root() {
        eprintln!("SKIPPED: the open benches need root (tmpfs mounts and fanotify)");
        return;
    }
    let (Some((_plain_fs, plain)), Some((allow_fs, allow)), Some((intent_fs, intent))) = (
        Tmpfs::with_busybox(),
        Tmpfs::with_busybox(),
        Tmpfs::with_busybox(),
    ) else {
        eprintln!("SKIPPED: could not mount tmpfs or copy busybox");
        return;
    };
    // Two guards, as two sensors would be: one per decider.
    let g1 = ExecGuard::start(Arc::new(AllowAll), GuardSettings::default()).expect("guard");
    g1.mark_mount_files(allow_fs.0.path()).expect("mark");
    let g2 = ExecGuard::start(Arc::new(ReadIntent), GuardSettings::default()).expect("guard");
    g2.mark_mount_files(intent_fs.0.path()).expect("mark");
    let mut group = c.benchmark_group("open_close");
    group.bench_function("unmarked", |b| b.iter(|| open_close(&plain)));
    group.bench_function("marked_allow_all", |b| b.iter(|| open_close(&allow)));
    group.bench_function("marked_read_intent", |b| b.iter(|| open_close(&intent)));
    group.finish();
    let (mut a, mut b, mut i) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5000 {
        let t = Instant::now();
        open_close(&plain);
        a.push(t.elapsed());
        let t = Instant::now();
        open_close(&allow);
        b.push(t.elapsed());
        let t = Instant::now();
        open_close(&intent);
        i.push(t.elapsed());
    }
    for v in [&mut a, &mut b, &mut i] {
        v.sort();
    }
    let m = |v: &Vec<std::time::Duration>| v[v.len() / 2];
    eprintln!(
        "open+close interleaved medians over {} rounds: unmarked {:?}, marked allow-all {:?} ({:.1}x), marked + open mode read {:?} ({:.1}x)",
        a.len(),
        m(&a),
        m(&b),
        m(&b).as_secs_f64() / m(&a).as_secs_f64(),
        m(&i),
        m(&i).as_secs_f64() / m(&a).as_secs_f64(),
    );
    for g in [g1, g2] {
        let counters = g.shutdown();
        eprintln!("guard counters after the open bench: {counters:?}");
        assert_eq!(counters.timed_out + counters.errors, 0);
    }
}

fn drift_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let upper = dir.path();
    std::fs::create_dir_all(upper.join("usr/local/bin")).unwrap();
    std::fs::write(upper.join("usr/local/bin/dropped"), b"x").unwrap();
    let mut group = c.benchmark_group("layer_of");
    group.bench_function("upper_hit", |b| {
        b.iter(|| layer_of(upper, "/usr/local/bin/dropped").unwrap())
    });
    group.bench_function("lower_miss", |b| {
        b.iter(|| layer_of(upper, "/usr/bin/python3").unwrap())
    });
    let kept = UpperDir::open(upper).unwrap();
    group.bench_function("upper_hit_kept_open", |b| {
        b.iter(|| kept.layer_of("/usr/local/bin/dropped").unwrap())
    });
    group.bench_function("lower_miss_kept_open", |b| {
        b.iter(|| kept.layer_of("/usr/bin/python3").unwrap())
    });
    group.finish();
}

criterion_group!(benches, exec_latency, open_latency, drift_lookup);
criterion_main!(benches);
