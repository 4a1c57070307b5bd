//! OCI layouts, docker archives, oci archives and root directories built by the test: layer
//! merging, whiteouts, attribution, OS detection, config checks and SBOMs.

#[path = "support/image_builder.rs"]
mod support;

use mamori_image::{checks, scan, ScanError, ScanOptions, SourceRef};
use serde_json::json;
use support::*;

fn base_layers() -> Vec<Layer> {
    let status1 = dpkg_status(&[
        ("adduser", "3.134"),
        ("apt", "2.6.1"),
        ("libc6", "2.36-9+deb12u4"),
    ]);
    let status3 = dpkg_status(&[
        ("adduser", "3.134+mamori1"),
        ("apt", "2.6.1"),
        ("libc6", "2.36-9+deb12u4"),
    ]);
    let l1 = gz(tar(&[
        E::Dir("etc"),
        E::Symlink("etc/os-release", "../usr/lib/os-release"),
        E::File("usr/lib/os-release", 0o644, OS_RELEASE),
        E::File("var/lib/dpkg/status", 0o644, &status1),
        E::File("usr/share/doc/apt/copyright", 0o644, b"x"),
        E::File("opt/d/old", 0o644, b"old"),
        E::File("usr/bin/su", 0o4755, b"base setuid"),
    ]));
    let l2 = plain(tar(&[
        E::File("usr/share/doc/.wh.apt", 0, b""),
        E::File("opt/d/.wh..wh..opq", 0, b""),
        E::File("opt/d/new", 0o644, b"new"),
        E::File(
            "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA",
            0o644,
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n",
        ),
        E::File("usr/local/bin/helper", 0o4755, b"added setuid"),
        E::File("tmp/open", 0o666, b"world writable"),
    ]));
    let l3 = zst(tar(&[E::File("var/lib/dpkg/status", 0o644, &status3)]));
    vec![l1, l2, l3]
}

fn pkg_layer(inv: &mamori_image::Inventory, name: &str) -> (String, usize) {
    let p = inv
        .packages
        .iter()
        .find(|p| p.package.name == name)
        .unwrap_or_else(|| panic!("{name} missing"));
    let layer = p.package.layer.clone().unwrap_or_default();
    let idx = inv
        .layers
        .iter()
        .position(|l| l.digest == layer)
        .unwrap_or(usize::MAX);
    (p.package.version.clone(), idx)
}

#[test]
fn oci_layout_merges_layers_and_attributes_packages() {
    let dir = tempfile::tempdir().expect("tempdir");
    oci_layout(dir.path(), "v1", &base_layers(), json!({}));
    let src: SourceRef = format!("oci:{}:v1", dir.path().display())
        .parse()
        .expect("ref");
    let inv = scan(&src, &ScanOptions::default()).expect("scan");
    let os = inv.os.clone().expect("os");
    assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12"));
    assert_eq!(inv.layers.len(), 3);
    assert_eq!(pkg_layer(&inv, "apt"), ("2.6.1".into(), 0));
    assert_eq!(pkg_layer(&inv, "adduser"), ("3.134+mamori1".into(), 2));
    assert_eq!(pkg_layer(&inv, "requests"), ("2.25.0".into(), 1));
    let adduser = inv
        .packages
        .iter()
        .find(|p| p.package.name == "adduser")
        .expect("adduser");
    assert_eq!(
        adduser.package.purl.as_deref(),
        Some(
            "pkg:deb/debian/adduser@3.134%2Bmamori1?arch=amd64&distro=debian-12"
                .replace("%2B", "+")
                .as_str()
        )
    );
    assert_eq!(inv.packages.len(), 4, "{:#?}", inv.packages);
    // Whiteout and opaque directory.
    let paths: Vec<&str> = inv.special_files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["tmp/open", "usr/bin/su", "usr/local/bin/helper"]);
    let findings = checks::check(&inv);
    let ids: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(
        ids,
        ["MK-IMG-001", "MK-IMG-005", "MK-IMG-006", "MK-IMG-007"],
        "{findings:#?}"
    );
    let suid = &findings[2];
    assert_eq!(suid.location.path.as_deref(), Some("/usr/local/bin/helper"));
    assert_eq!(
        suid.location.layer.as_deref(),
        Some(inv.layers[1].digest.as_str())
    );
}

#[test]
fn whiteouts_hide_lower_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A package database hidden by a whiteout in a later layer disappears from the inventory.
    let l1 = gz(tar(&[
        E::File("var/lib/dpkg/status", 0o644, &dpkg_status(&[("a", "1")])),
        E::File("opt/x/y", 0o644, b""),
        E::File("keep", 0o644, b""),
    ]));
    let l2 = gz(tar(&[
        E::File("var/lib/dpkg/.wh.status", 0, b""),
        E::File("opt/.wh.x", 0, b""),
    ]));
    oci_layout(dir.path(), "t", &[l1, l2], json!({}));
    let inv = scan(
        &format!("oci:{}", dir.path().display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);
    let left: Vec<_> = inv.layers.iter().map(|l| l.entries).collect();
    assert_eq!(left, [3, 2]);
    assert_eq!(inv.files, 1, "only `keep` remains");
}

#[test]
fn config_checks_from_config_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = json!({
        "config": {"User": "app", "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2", "TOKEN_FILE=/run/t"],
                   "ExposedPorts": {"22/tcp": {}, "8080/tcp": {}},
                   "Healthcheck": {"Test": ["CMD", "true"]}},
        "history": [
            {"created_by": "ADD https://example.com/tool.tgz /opt/ # buildkit"},
            {"created_by": "ARG API_TOKEN=abc123", "empty_layer": true},
        ]
    });
    oci_layout(
        dir.path(),
        "t",
        &[gz(tar(&[E::File("a", 0o644, b"")]))],
        cfg,
    );
    let inv = scan(
        &format!("oci:{}:t", dir.path().display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    let findings = checks::check(&inv);
    let ids: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(
        ids,
        ["MK-IMG-002", "MK-IMG-003", "MK-IMG-002", "MK-IMG-004"],
        "{findings:#?}"
    );
    let text = serde_json::to_string(&findings).expect("json");
    assert!(
        !text.contains("hunter2") && !text.contains("abc123"),
        "secret leaked: {text}"
    );
}

#[test]
fn docker_archive_follows_in_archive_symlinks_and_checks_diff_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("img.tar");
    docker_archive(&file, &base_layers()[..2], json!({}));
    let inv = scan(
        &format!("docker-archive:{}", file.display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert_eq!(inv.tags, ["test/image:1"]);
    assert_eq!(pkg_layer(&inv, "adduser"), ("3.134".into(), 0));
    assert_eq!(pkg_layer(&inv, "requests"), ("2.25.0".into(), 1));
    assert!(inv
        .image_id
        .as_deref()
        .is_some_and(|d| d.starts_with("sha256:")));

    // Tamper with a layer: the config's diff id no longer matches.
    let mut bytes = std::fs::read(&file).expect("read");
    let pos = bytes
        .windows(11)
        .position(|w| w == b"base setuid")
        .expect("content present");
    bytes[pos] = b'O';
    std::fs::write(&file, &bytes).expect("write");
    let err = scan(
        &format!("docker-archive:{}", file.display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect_err("tampered");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn oci_archive_and_dir_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).expect("mkdir");
    oci_layout(&layout, "v2", &base_layers(), json!({}));
    let file = dir.path().join("oci.tar");
    tar_dir(&layout, &file);
    let inv = scan(
        &format!("oci-archive:{}:v2", file.display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert_eq!(inv.packages.len(), 4);

    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("var/lib/dpkg")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        dpkg_status(&[("bash", "5.2.15-2+b7")]),
    )
    .expect("write");
    std::fs::write(root.join("etc/os-release"), OS_RELEASE).expect("write");
    // A link out of the root must not be followed.
    std::os::unix::fs::symlink("/etc", root.join("hostetc")).expect("symlink");
    let inv = scan(
        &format!("dir:{}", root.display()).parse().expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(inv.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
    assert_eq!(inv.files, 7);
}

#[test]
fn platform_selection_from_nested_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let amd = write_manifest(
        dir.path(),
        &[gz(tar(&[E::File(
            "var/lib/dpkg/status",
            0o644,
            &dpkg_status(&[("amd", "1")]),
        )]))],
        json!({}),
    );
    let arm = write_manifest(
        dir.path(),
        &[gz(tar(&[E::File(
            "var/lib/dpkg/status",
            0o644,
            &dpkg_status(&[("arm", "1")]),
        )]))],
        json!({}),
    );
    let nested = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm.0, "size": arm.1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd.0, "size": amd.1, "platform": {"os": "linux", "architecture": "amd64"}},
    ]});
    let nb = serde_json::to_vec(&nested).expect("json");
    let nd = write_blob(dir.path(), &nb);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": nd, "size": nb.len(), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write");
    let src: SourceRef = format!("oci:{}:multi", dir.path().display())
        .parse()
        .expect("ref");
    let names = |opts: &ScanOptions| -> Vec<String> {
        scan(&src, opts)
            .expect("scan")
            .packages
            .iter()
            .map(|p| p.package.name.clone())
            .collect()
    };
    assert_eq!(names(&ScanOptions::default()), ["amd"]);
    let arm_opts = ScanOptions {
        platform: "linux/arm64".parse().expect("platform"),
        ..ScanOptions::default()
    };
    assert_eq!(names(&arm_opts), ["arm"]);
    let s390 = ScanOptions {
        platform: "linux/s390x".parse().expect("platform"),
        ..ScanOptions::default()
    };
    let err = scan(&src, &s390).expect_err("no such platform");
    assert!(
        err.to_string().contains("linux/arm64/v8, linux/amd64"),
        "{err}"
    );
    let missing: SourceRef = format!("oci:{}:nope", dir.path().display())
        .parse()
        .expect("ref");
    assert!(scan(&missing, &ScanOptions::default())
        .expect_err("no tag")
        .to_string()
        .contains("multi"));
}

#[test]
fn unreachable_registry_is_a_clear_error() {
    // Nothing listens on port 9 (discard) of the loopback; TLS is used without --insecure.
    let src: SourceRef = "127.0.0.1:9/mamori/debian:bookworm".parse().expect("ref");
    let err = scan(&src, &ScanOptions::default()).expect_err("unreachable");
    assert!(matches!(err, ScanError::Open(_)));
    assert!(
        err.to_string().starts_with(
            "registry request https://127.0.0.1:9/v2/mamori/debian/manifests/bookworm: "
        ),
        "{err}"
    );
}

#[test]
fn skip_files_and_dirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    oci_layout(dir.path(), "v1", &base_layers(), json!({}));
    let src: SourceRef = format!("oci:{}:v1", dir.path().display())
        .parse()
        .expect("ref");
    let opts = ScanOptions {
        skip_dirs: vec![mamori_image::glob::Glob::new("usr/lib/python3")],
        skip_files: vec![mamori_image::glob::Glob::new("**/status")],
        ..ScanOptions::default()
    };
    let inv = scan(&src, &opts).expect("scan");
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);
}

#[test]
fn rpm_sqlite_database_in_a_rocky_image() {
    use mamori_catalog::rpm::{
        build_header, TAG_ARCH, TAG_NAME, TAG_RELEASE, TAG_SOURCERPM, TAG_VERSION,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let dbfile = dir.path().join("rpmdb.sqlite");
    {
        let db = rusqlite::Connection::open(&dbfile).expect("open");
        db.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .expect("schema");
        let h = build_header(
            &[
                (TAG_NAME, "openssl-libs"),
                (TAG_VERSION, "3.0.7"),
                (TAG_RELEASE, "27.el9"),
                (TAG_ARCH, "x86_64"),
                (TAG_SOURCERPM, "openssl-3.0.7-27.el9.src.rpm"),
            ],
            Some(1),
        );
        db.execute("INSERT INTO Packages (blob) VALUES (?1)", [h])
            .expect("insert");
    }
    let db = std::fs::read(&dbfile).expect("read");
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).expect("mkdir");
    let l = gz(tar(&[
        E::File(
            "etc/os-release",
            0o644,
            b"NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
        ),
        E::Symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm"),
        E::File("usr/lib/sysimage/rpm/rpmdb.sqlite", 0o644, &db),
    ]));
    oci_layout(&layout, "9", &[l], json!({}));
    let inv = scan(
        &format!("oci:{}:9", layout.display()).parse().expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert_eq!(
        inv.packages.len(),
        1,
        "{:?} {:?}",
        inv.packages,
        inv.warnings
    );
    let p = &inv.packages[0].package;
    assert_eq!(p.ecosystem, mamori_core::Ecosystem::RockyLinux);
    assert_eq!(p.release.as_deref(), Some("9"));
    assert_eq!(p.source_name.as_deref(), Some("openssl"));
    assert_eq!(
        p.purl.as_deref(),
        Some("pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1")
    );
}
