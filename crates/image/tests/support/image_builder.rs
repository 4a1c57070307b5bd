//! Builds layers, OCI layouts and docker archives in tests, including hostile ones.
#![allow(dead_code)] // each test file uses a different part

use std::io::Write;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// One tar entry to write, names written raw (no validation), so hostile names are possible.
pub enum E<'a> {
    File(&'a str, u32, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// A header claiming `size` bytes followed by only `data` (a lying tar).
    Lying(&'a str, u64, &'a [u8]),
}

fn header(name: &str, ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let bytes = name.as_bytes();
    let old = h.as_old_mut();
    old.name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(ty);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_cksum();
    h
}

pub fn tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut lying_tail: Option<Vec<u8>> = None;
    for e in entries {
        match e {
            E::File(n, mode, data) => {
                b.append(
                    &header(n, tar::EntryType::Regular, *mode, data.len() as u64),
                    *data,
                )
                .expect("append");
            }
            E::Dir(n) => b
                .append(&header(n, tar::EntryType::Directory, 0o755, 0), &[][..])
                .expect("append"),
            E::Symlink(n, t) | E::Hardlink(n, t) => {
                let ty = if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(n, ty, 0o777, 0);
                h.set_link_name(t).expect("link name");
                h.set_cksum();
                b.append(&h, &[][..]).expect("append");
            }
            E::Lying(n, size, data) => {
                let h = header(n, tar::EntryType::Regular, 0o644, *size);
                let mut raw = h.as_bytes().to_vec();
                raw.extend_from_slice(data);
                lying_tail = Some(raw);
            }
        }
    }
    let mut out = b.into_inner().expect("tar");
    if let Some(raw) = lying_tail {
        // Replace the end-of-archive blocks with the lying entry, then stop.
        out.truncate(out.len() - 1024);
        out.extend_from_slice(&raw);
    }
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

pub fn write_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).expect("mkdir");
    std::fs::write(p.join(&d[7..]), data).expect("write blob");
    d
}

pub struct Layer {
    /// Stored bytes (possibly compressed).
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    /// The uncompressed tar.
    pub tar: Vec<u8>,
}

pub fn plain(t: Vec<u8>) -> Layer {
    Layer {
        blob: t.clone(),
        media_type: "application/vnd.oci.image.layer.v1.tar",
        tar: t,
    }
}

pub fn gz(t: Vec<u8>) -> Layer {
    Layer {
        blob: gzip(&t),
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
        tar: t,
    }
}

pub fn zst(t: Vec<u8>) -> Layer {
    Layer {
        blob: zstd(&t),
        media_type: "application/vnd.oci.image.layer.v1.tar+zstd",
        tar: t,
    }
}

pub fn config_json(layers: &[Layer], extra: serde_json::Value) -> Vec<u8> {
    let mut cfg = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha(&l.tar)).collect::<Vec<_>>()},
        "history": layers.iter().enumerate().map(|(i, _)| serde_json::json!({"created_by": format!("step {i}")})).collect::<Vec<_>>(),
    });
    if let (Some(obj), Some(ext)) = (cfg.as_object_mut(), extra.as_object()) {
        for (k, v) in ext {
            obj.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&cfg).expect("json")
}

/// Writes a manifest for `layers` and returns its digest and size.
pub fn write_manifest(
    dir: &Path,
    layers: &[Layer],
    config_extra: serde_json::Value,
) -> (String, usize) {
    let cfg = config_json(layers, config_extra);
    let cfg_d = write_blob(dir, &cfg);
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d, "size": cfg.len()},
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": l.media_type, "digest": write_blob(dir, &l.blob), "size": l.blob.len()
        })).collect::<Vec<_>>(),
    });
    let mb = serde_json::to_vec(&m).expect("json");
    (write_blob(dir, &mb), mb.len())
}

/// Writes a complete OCI layout with one tagged image.
pub fn oci_layout(dir: &Path, tag: &str, layers: &[Layer], config_extra: serde_json::Value) {
    let (d, size) = write_manifest(dir, layers, config_extra);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": d, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("write");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
}

/// Writes a docker archive (`docker save` layout, legacy `<id>/layer.tar` symlinks included).
pub fn docker_archive(file: &Path, layers: &[Layer], config_extra: serde_json::Value) {
    let cfg = config_json(layers, config_extra);
    let cfg_name = format!("{}.json", &sha(&cfg)[7..]);
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).expect("append");
    };
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let diff = &sha(&l.tar)[7..];
        add(&mut b, &format!("{diff}.tar"), &l.tar);
        let id = format!("{i:064}");
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, format!("{id}/layer.tar"), format!("../{diff}.tar"))
            .expect("link");
        names.push(format!("{id}/layer.tar"));
    }
    add(&mut b, &cfg_name, &cfg);
    let manifest =
        serde_json::json!([{"Config": cfg_name, "RepoTags": ["test/image:1"], "Layers": names}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
    );
    std::fs::write(file, b.into_inner().expect("tar")).expect("write");
}

/// Tars a directory tree (for oci-archive).
pub fn tar_dir(dir: &Path, file: &Path) {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).expect("tar dir");
    std::fs::write(file, b.into_inner().expect("tar")).expect("write");
}

pub const OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

pub fn dpkg_status(pkgs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    for (n, v) in pkgs {
        s.push_str(&format!(
            "Package: {n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {v}\n\n"
        ));
    }
    s.into_bytes()
}
