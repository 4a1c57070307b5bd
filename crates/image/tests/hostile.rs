//! Hostile layers and images: each must give a clear error or warning, bounded, never a panic.

#[path = "support/image_builder.rs"]
mod support;

use mamori_image::layer::{walk_layer, Event, Limits};
use mamori_image::{scan, LayerError, ScanOptions, SourceRef};
use serde_json::json;
use support::*;

fn events(data: &[u8], limits: &Limits) -> Result<Vec<Event>, LayerError> {
    let mut out = Vec::new();
    walk_layer(data, "test", None, None, limits, |ev, _| {
        out.push(ev);
        Ok(())
    })?;
    Ok(out)
}

fn layout_with(layer: Layer) -> (tempfile::TempDir, SourceRef) {
    let dir = tempfile::tempdir().expect("tempdir");
    oci_layout(dir.path(), "t", &[layer], json!({}));
    let src = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("ref");
    (dir, src)
}

#[test]
fn traversal_and_absolute_names() {
    let t = tar(&[
        E::File("../../etc/evil", 0o644, b"x"),
        E::File("a/../../escape", 0o644, b"x"),
        E::File("/etc/abs", 0o644, b"x"),
        E::File("./ok/../fine", 0o644, b"x"),
        E::Hardlink("link", "../../../etc/shadow"),
    ]);
    let evs = events(&t, &Limits::default()).expect("walks");
    let entries: Vec<String> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Entry(e) => Some(e.path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(entries, ["etc/abs", "fine"]);
    let warnings = evs
        .iter()
        .filter(|e| matches!(e, Event::Warning(_)))
        .count();
    assert_eq!(warnings, 4, "{evs:?}");
}

#[test]
fn decompression_bomb_is_capped() {
    let zeros = vec![0u8; 4 << 20];
    let layer = gz(tar(&[E::File("bomb", 0o644, &zeros)]));
    assert!(
        layer.blob.len() < zeros.len() / 100,
        "gzip of zeros is small: {}",
        layer.blob.len()
    );
    let limits = Limits {
        max_layer_bytes: 512 << 10,
        ..Limits::default()
    };
    let err = events(&layer.blob, &limits).expect_err("bomb");
    assert!(matches!(err, LayerError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("more than 524288 bytes uncompressed"),
        "{err}"
    );
    // Through a whole scan, and with zstd.
    let (_d, src) = layout_with(zst(tar(&[E::File("bomb", 0o644, &zeros)])));
    let opts = ScanOptions {
        limits,
        ..ScanOptions::default()
    };
    assert!(scan(&src, &opts)
        .expect_err("bomb")
        .to_string()
        .contains("uncompressed"));
}

#[test]
fn per_file_cap_skips_with_warning() {
    let big = vec![b'a'; 4096];
    let layer = gz(tar(&[E::File("var/lib/dpkg/status", 0o644, &big)]));
    let (_d, src) = layout_with(layer);
    let opts = ScanOptions {
        limits: Limits {
            max_file_bytes: 1024,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let inv = scan(&src, &opts).expect("scan");
    assert!(
        inv.warnings
            .iter()
            .any(|w| w.contains("over the per-file limit")),
        "{:?}",
        inv.warnings
    );
}

#[test]
fn lying_sizes_are_tar_errors() {
    let t = tar(&[
        E::File("a", 0o644, b"ok"),
        E::Lying("liar", 100_000, b"short"),
    ]);
    let err = events(&t, &Limits::default()).expect_err("truncated");
    assert!(matches!(err, LayerError::Tar { .. }), "{err}");
    // Reading the content (as catalogers do) fails cleanly too.
    let t = tar(&[E::Lying(
        "var/lib/dpkg/status",
        100_000,
        b"Package: a\nVersion: 1\n",
    )]);
    let (_d, src) = layout_with(plain(t));
    let err = scan(&src, &ScanOptions::default()).expect_err("truncated");
    assert!(err.to_string().contains("malformed tar"), "{err}");
}

#[test]
fn garbage_layers_never_panic() {
    for data in [
        &b""[..],
        b"\x1f\x8b garbage",
        b"\x28\xb5\x2f\xfd garbage",
        &[0xffu8; 2048],
        &[0u8; 10],
    ] {
        let _ = events(data, &Limits::default());
    }
}

#[test]
fn too_many_tiny_files() {
    let names: Vec<String> = (0..500).map(|i| format!("f{i}")).collect();
    let entries: Vec<E<'_>> = names.iter().map(|n| E::File(n, 0o644, b"")).collect();
    let layer = gz(tar(&entries));
    let limits = Limits {
        max_layer_entries: 100,
        ..Limits::default()
    };
    let err = events(&layer.blob, &limits).expect_err("too many");
    assert!(matches!(err, LayerError::TooManyEntries { .. }), "{err}");
    assert!(events(&layer.blob, &Limits::default()).is_ok());
}

#[test]
fn blob_digest_mismatch_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = plain(tar(&[E::File("a", 0o644, b"original")]));
    let blob = layer.blob.clone();
    oci_layout(dir.path(), "t", &[layer], json!({}));
    // Same name, other content.
    let d = sha(&blob);
    let mut tampered = blob.clone();
    let pos = tampered
        .windows(8)
        .position(|w| w == b"original")
        .expect("content");
    tampered[pos] = b'O';
    std::fs::write(dir.path().join("blobs/sha256").join(&d[7..]), &tampered).expect("write");
    let src: SourceRef = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("ref");
    let err = scan(&src, &ScanOptions::default()).expect_err("mismatch");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn manifest_digest_mismatch_and_bad_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    oci_layout(
        dir.path(),
        "t",
        &[plain(tar(&[E::File("a", 0o644, b"x")]))],
        json!({}),
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).expect("read"))
            .expect("json");
    let md = index["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let path = dir.path().join("blobs/sha256").join(&md[7..]);
    let mut m = std::fs::read(&path).expect("read");
    m.push(b' ');
    std::fs::write(&path, &m).expect("write");
    let src: SourceRef = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("ref");
    let err = scan(&src, &ScanOptions::default()).expect_err("mismatch");
    assert!(
        err.to_string()
            .contains(&format!("digest mismatch for blobs/sha256/{}", &md[7..])),
        "{err}"
    );

    std::fs::write(dir.path().join("index.json"), b"{\n \"manifests\": [,]}").expect("write");
    let err = scan(&src, &ScanOptions::default()).expect_err("bad json");
    assert!(err.to_string().starts_with("index.json:2:"), "{err}");

    // A digest that tries to walk out of the layout.
    std::fs::write(
        dir.path().join("index.json"),
        br#"{"manifests":[{"digest":"sha256:../../../../etc/passwd","size":1}]}"#,
    )
    .expect("write");
    let err = scan(
        &format!("oci:{}", dir.path().display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect_err("bad digest");
    assert!(err.to_string().contains("malformed digest"), "{err}");
}

#[test]
fn symlink_loops_and_duplicates() {
    let t = tar(&[
        E::Symlink("etc/os-release", "../loop/a"),
        E::Symlink("loop/a", "b"),
        E::Symlink("loop/b", "a"),
        E::File(
            "var/lib/dpkg/status",
            0o644,
            &dpkg_status(&[("first", "1")]),
        ),
        E::File(
            "var/lib/dpkg/status",
            0o644,
            &dpkg_status(&[("second", "2")]),
        ),
        E::File("usr/lib/os-release", 0o644, OS_RELEASE),
        E::Hardlink("var/lib/dpkg/status.d/copy", "var/lib/dpkg/status"),
    ]);
    let (_d, src) = layout_with(gz(t));
    let inv = scan(&src, &ScanOptions::default()).expect("scan");
    let names: Vec<&str> = inv
        .packages
        .iter()
        .map(|p| p.package.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["second", "second"],
        "the later duplicate wins; the hard link has the same content"
    );
    assert_eq!(
        inv.packages[1].package.path.as_deref(),
        Some("var/lib/dpkg/status.d/copy")
    );
    // etc/os-release loops; usr/lib/os-release is the fallback.
    assert_eq!(
        inv.os.as_ref().map(|o| o.source.as_str()),
        Some("usr/lib/os-release")
    );
}

#[test]
fn broken_package_databases_are_warnings() {
    let t = tar(&[
        E::File("app/node_modules/x/package.json", 0o644, b"{\"name\": "),
        E::File("app/lib/x.jar", 0o644, b"PK\x03\x04nope"),
        E::File(
            "var/lib/rpm/rpmdb.sqlite",
            0o644,
            b"SQLite format 3\0garbage",
        ),
        E::File("var/lib/rpm/Packages", 0o644, b"\0\0\0\0bdb"),
    ]);
    let (_d, src) = layout_with(gz(t));
    let inv = scan(&src, &ScanOptions::default()).expect("scan");
    assert!(inv.packages.is_empty());
    assert_eq!(inv.warnings.len(), 3, "{:?}", inv.warnings);
    assert!(
        inv.warnings[0].contains("app/node_modules/x/package.json:1:"),
        "{:?}",
        inv.warnings
    );
    assert!(inv.notices.iter().any(
        |n| n.contains("rpm database var/lib/rpm/Packages (BerkeleyDB/NDB) found but not read")
    ));
}

#[test]
fn missing_end_of_archive_is_tolerated_only_after_complete_content() {
    // umoci 0.4 writes layers that stop right after the last file's content.
    let mut t = tar(&[E::File("a", 0o644, b"abc")]);
    t.truncate(512 + 3);
    let evs = events(&t, &Limits::default()).expect("accepted");
    assert_eq!(evs.len(), 1);
    // Cut inside the content: an error.
    t.truncate(512 + 2);
    assert!(events(&t, &Limits::default()).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Flipping bytes of a valid gzip or plain layer: an error or events, never a panic.
        #[test]
        fn mutated_layers_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), gzipped in any::<bool>()) {
            let t = tar(&[
                E::File("var/lib/dpkg/status", 0o644, &dpkg_status(&[("a", "1")])),
                E::Symlink("etc/os-release", "../usr/lib/os-release"),
                E::File("usr/lib/python3/x.dist-info/METADATA", 0o644, b"Name: x\nVersion: 1\n"),
            ]);
            let mut data = if gzipped { gzip(&t) } else { t };
            let i = pos.index(data.len());
            data[i] = byte;
            let _ = events(&data, &Limits::default());
        }
    }
}

#[test]
fn endless_bytes_after_a_compressed_stream_are_bounded() {
    // A complete zstd layer followed by a stream that never ends (a registry can send that):
    // the bytes after the frame are read for the blob digest, but only up to the layer limit.
    let layer = zst(tar(&[E::File("etc/hostname", 0o644, b"box\n")]));
    let limits = Limits {
        max_layer_bytes: 1 << 20,
        ..Limits::default()
    };
    let endless = std::io::Read::chain(&layer.blob[..], std::io::repeat(0x42));
    let start = std::time::Instant::now();
    let err = walk_layer(endless, "test", None, None, &limits, |_, _| Ok(())).expect_err("bounded");
    assert!(matches!(err, LayerError::TrailingData { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("after the end of the compressed stream"),
        "{err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // The same layer with a little padding after the frame is still read.
    let padded = [&layer.blob[..], &[0u8; 512][..]].concat();
    assert_eq!(events(&padded, &limits).expect("padded").len(), 1);
}

#[test]
fn layer_size_that_disagrees_with_the_blob_is_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = gz(tar(&[E::File("etc/hostname", 0o644, b"box\n")]));
    let cfg = config_json(std::slice::from_ref(&layer), json!({}));
    let cfg_d = write_blob(dir.path(), &cfg);
    let layer_d = write_blob(dir.path(), &layer.blob);
    let manifest = |size: usize| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cfg_d, "size": cfg.len()},
            "layers": [{"mediaType": layer.media_type, "digest": layer_d, "size": size}]}))
        .expect("json")
    };
    let scan_with = |m: Vec<u8>| {
        let md = write_blob(dir.path(), &m);
        std::fs::write(
            dir.path().join("index.json"),
            json!({"schemaVersion": 2, "manifests": [{"digest": md, "size": m.len()}]}).to_string(),
        )
        .expect("write");
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("write");
        let src: SourceRef = format!("oci:{}", dir.path().display())
            .parse()
            .expect("ref");
        scan(&src, &ScanOptions::default()).expect("scans")
    };
    let honest = scan_with(manifest(layer.blob.len()));
    assert!(honest.warnings.is_empty(), "{:?}", honest.warnings);
    let lying = scan_with(manifest(layer.blob.len() + 7));
    let want = format!(
        "the manifest declares {} bytes, the blob has {}",
        layer.blob.len() + 7,
        layer.blob.len()
    );
    assert!(
        lying.warnings.iter().any(|w| w.contains(&want)),
        "{:?}",
        lying.warnings
    );
}
