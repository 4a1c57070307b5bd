//! What the CRI lookup adds to resolving a container, against a fake runtime on a unix socket
//! (the fake answers at once, so `cold` is the client's own cost plus one local gRPC round trip
//! per call; a real runtime adds its own time). The baseline is `load_container` of a containerd
//! fixture: what resolving a container costs without the CRI.
//!
//! `cargo bench -p mamori-sensor --bench cri`

#![allow(missing_docs)] // criterion's macros generate undocumented items

#[path = "../tests/common/fake_cri.rs"]
mod fake_cri;

use std::fs;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mamori_sensor::container::{load_container, CriClient, CriConfig, RuntimeKind};

const ID: &str = "9c3f5b7e2a1d4c6b8e0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b";

/// The containerd fixture of the tests, live (its init pid is this process).
fn install_fixture(root: &Path) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/container/containerd");
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let bundle = root.join(format!("{ID}.bundle"));
    fs::create_dir_all(&bundle).unwrap();
    fs::copy(data.join("bundle/config.json"), bundle.join("config.json")).unwrap();
    let text = fs::read_to_string(data.join("state/state.json"))
        .unwrap()
        .replace("@PID@", &std::process::id().to_string())
        .replace("@START@", &start.to_string())
        .replace("@BUNDLE@", bundle.to_str().unwrap())
        .replace("\"id\":\"web.1\"", &format!("\"id\":\"{ID}\""));
    fs::create_dir_all(root.join(ID)).unwrap();
    fs::write(root.join(ID).join("state.json"), text).unwrap();
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    install_fixture(tmp.path());
    let sock = tmp.path().join("cri.sock");
    fake_cri::serve(&sock, fake_cri::Fake::new(fake_cri::Mode::Echo));
    let cfg = CriConfig {
        sockets: vec![sock],
        timeout: Duration::from_millis(200),
        ..CriConfig::default()
    };
    let dir = tmp.path().join(ID);
    let proc_root = Path::new("/proc");

    let mut g = c.benchmark_group("cri");
    g.bench_function("load_container (baseline)", |b| {
        b.iter(|| load_container(&dir, RuntimeKind::Runc, proc_root).unwrap())
    });
    // Cold: a container and pod never seen, two calls (ListContainers + PodSandboxStatus).
    let mut cri = CriClient::new(cfg.clone());
    let mut n = 0u64;
    g.bench_function("load_container + cri cold", |b| {
        b.iter(|| {
            let mut info = load_container(&dir, RuntimeKind::Runc, proc_root).unwrap();
            n += 1;
            info.id = format!("c{n}");
            cri.enrich(&mut info).unwrap();
            info
        })
    });
    // Warm: the answer comes from the cache.
    let mut cri = CriClient::new(cfg);
    g.bench_function("load_container + cri warm", |b| {
        b.iter(|| {
            let mut info = load_container(&dir, RuntimeKind::Runc, proc_root).unwrap();
            cri.enrich(&mut info).unwrap();
            info
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
