//! Criterion benchmark of the image inventory.
//!
//! Inventory of an image built in memory (one gzip layer: a realistic dpkg status with 400
//! packages, Python and npm packages, and 12,000 files of mixed sizes) against a baseline of
//! just decompressing and walking the same layer tar in the same run; the same image pulled
//! from a registry on the loopback (plain HTTP, served by a thread of the benchmark).

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use std::io::{Read, Write};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest as _, Sha256};

fn lcg_text(seed: &mut u64, len: usize) -> Vec<u8> {
    const WORDS: [&[u8]; 12] = [
        b"lorem ",
        b"ipsum ",
        b"shared ",
        b"library ",
        b"0x7f3a ",
        b"config ",
        b"\n",
        b"void ",
        b"int ",
        b"return ",
        b"static ",
        b"{}; ",
    ];
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(WORDS[(*seed >> 33) as usize % WORDS.len()]);
        if (*seed >> 20) % 7 == 0 {
            out.push((*seed >> 8) as u8);
        }
    }
    out.truncate(len);
    out
}

fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(0);
    b.append_data(&mut h, path, data).expect("append"); // ok: bench input
}

fn build_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut seed = 42u64;
    let mut status = String::new();
    for i in 0..400 {
        status.push_str(&format!(
            "Package: pkg{i}\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: {}\n\
Maintainer: Debian Maintainers <debian@example.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: src{} (1:{i}.0-{})\n\
Version: 1:{i}.0-{}+b1\nDepends: libc6 (>= 2.34), pkg{}\nDescription: package number {i}\n",
            i * 13,
            i / 3,
            i % 5,
            i % 5,
            (i + 1) % 400
        ));
        for _ in 0..6 {
            status.push(' ');
            status.push_str(&String::from_utf8_lossy(&lcg_text(&mut seed, 70)).replace('\n', " "));
            status.push('\n');
        }
        status.push('\n');
    }
    add(
        &mut b,
        "etc/os-release",
        0o644,
        b"ID=debian\nVERSION_ID=\"12\"\n",
    );
    add(&mut b, "var/lib/dpkg/status", 0o644, status.as_bytes());
    for i in 0..40 {
        add(
            &mut b,
            &format!("usr/lib/python3/dist-packages/py{i}-1.{i}.dist-info/METADATA"),
            0o644,
            format!("Metadata-Version: 2.1\nName: py{i}\nVersion: 1.{i}\n\nlong description")
                .as_bytes(),
        );
        add(
            &mut b,
            &format!("app/node_modules/n{i}/package.json"),
            0o644,
            format!("{{\"name\":\"n{i}\",\"version\":\"2.{i}.0\"}}").as_bytes(),
        );
    }
    for i in 0..12_000 {
        let size = match i % 10 {
            0 => 32 * 1024,
            1..=3 => 4 * 1024,
            _ => 600,
        };
        let mode = if i % 9 == 0 { 0o755 } else { 0o644 };
        add(
            &mut b,
            &format!("usr/share/d{}/f{i}", i % 300),
            mode,
            &lcg_text(&mut seed, size),
        );
    }
    let tar = b.into_inner().expect("tar"); // ok: bench input
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&tar).expect("gzip"); // ok: bench input
    e.finish().expect("gzip") // ok: bench input
}

fn blob(dir: &std::path::Path, data: &[u8]) -> String {
    let d = format!("sha256:{}", hex::encode(Sha256::digest(data)));
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir"); // ok: bench setup
    std::fs::write(dir.join("blobs/sha256").join(&d[7..]), data).expect("write"); // ok: bench setup
    d
}

/// A registry serving the layout in `dir` anonymously over plain HTTP (one request per
/// connection): `manifests/latest` is the manifest `md`, `blobs/sha256:HEX` the blob files.
fn serve_registry(dir: std::path::PathBuf, md: String) -> u16 {
    use std::io::BufRead;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind"); // ok: bench setup
    let port = l.local_addr().expect("addr").port(); // ok: bench setup
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut r = std::io::BufReader::new(s.try_clone().expect("clone")); // ok
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let digest = match path.rsplit('/').next().unwrap_or("") {
                "latest" => md.clone(),
                d => d.to_string(),
            };
            let body = std::fs::read(
                dir.join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    port
}

fn bench(c: &mut Criterion) {
    let layer = build_layer();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut plain)
        .expect("gunzip"); // ok
    let dir = tempfile::tempdir().expect("tempdir"); // ok: bench setup
    let ld = blob(dir.path(), &layer);
    let cfg = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","config":{},
        "rootfs":{"type":"layers","diff_ids":[format!("sha256:{}", hex::encode(Sha256::digest(&plain)))]}}))
    .expect("json"); // ok
    let cd = blob(dir.path(), &cfg);
    let m = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":cd,"size":cfg.len()},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":ld,"size":layer.len()}]}))
    .expect("json"); // ok
    let md = blob(dir.path(), &m);
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(
            &serde_json::json!({"schemaVersion":2,"manifests":[{"digest":md,"size":m.len()}]}),
        )
        .expect("json"), // ok
    )
    .expect("write"); // ok
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write"); // ok
    let src: mamori_image::SourceRef = format!("oci:{}", dir.path().display())
        .parse()
        .expect("ref"); // ok
    let opts = mamori_image::ScanOptions::default();
    let inv = mamori_image::scan(&src, &opts).expect("scan"); // ok
    assert_eq!(inv.packages.len(), 480);
    eprintln!(
        "bench image: {} bytes gzip, {} bytes tar, {} files, {} packages",
        layer.len(),
        plain.len(),
        inv.files,
        inv.packages.len()
    );

    let mut g = c.benchmark_group("image");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("baseline_gunzip_and_walk_tar", |b| {
        b.iter(|| {
            let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
            let mut n = 0usize;
            for e in ar.entries().expect("tar") {
                let e = e.expect("entry"); // ok
                n += e.path_bytes().len();
            }
            n
        })
    });
    g.bench_function("inventory_scan_oci_layout", |b| {
        b.iter(|| {
            mamori_image::scan(&src, &opts)
                .expect("scan")
                .packages
                .len()
        }) // ok
    });
    // The same image pulled from a registry on the loopback: the layer is read through the
    // HTTP client (and its resumable body reader) instead of a file.
    let port = serve_registry(dir.path().to_path_buf(), md.clone());
    let remote: mamori_image::SourceRef = format!("127.0.0.1:{port}/bench/image:latest")
        .parse()
        .expect("ref"); // ok
    let pull = mamori_image::ScanOptions {
        registry: mamori_image::RegistryOptions {
            insecure: true,
            ..mamori_image::RegistryOptions::default()
        },
        ..mamori_image::ScanOptions::default()
    };
    assert_eq!(
        mamori_image::scan(&remote, &pull)
            .expect("pull")
            .packages
            .len(), // ok
        480
    );
    g.bench_function("inventory_scan_registry_pull", |b| {
        b.iter(|| {
            mamori_image::scan(&remote, &pull)
                .expect("pull")
                .packages
                .len()
        }) // ok
    });
    let with_secrets = mamori_image::ScanOptions {
        secrets: true,
        ..mamori_image::ScanOptions::default()
    };
    let inv = mamori_image::scan(&src, &with_secrets).expect("scan"); // ok
    eprintln!(
        "secret search: {} text files read, {} secrets",
        inv.secret_files_scanned,
        inv.secrets.len()
    );
    g.bench_function("inventory_and_secrets_scan_oci_layout", |b| {
        b.iter(|| {
            mamori_image::scan(&src, &with_secrets)
                .expect("scan")
                .secrets
                .len()
        }) // ok
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
