//! Self-contained tests: hand-written OSV records in the real Debian, Alpine, Go and PyPI shapes,
//! malformed records, zip and URL import, atomicity and corruption handling.

use std::io::{Read, Write};
use std::path::Path;

use mamori_core::{Ecosystem, Package, Severity};
use mamori_vulndb::{import, Database, ImportError, ImportOptions, OpenError, Source};

const DEBIAN_CVE: &str = r#"{
  "id": "DEBIAN-CVE-2024-0001",
  "modified": "2024-05-01T10:00:00Z",
  "published": "2024-02-01T10:00:00Z",
  "upstream": ["CVE-2024-0001"],
  "summary": "util-linux: wall escape sequences",
  "affected": [
    {"package": {"ecosystem": "Debian:12", "name": "util-linux",
                 "purl": "pkg:deb/debian/util-linux?arch=source&distro=bookworm"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.38.1-5+deb12u1"}]}],
     "ecosystem_specific": {"urgency": "low"}},
    {"package": {"ecosystem": "Debian:13", "name": "util-linux"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.39.3-11"}]}]}
  ]
}"#;

const DEBIAN_DSA: &str = r#"{
  "id": "DSA-5999-1",
  "modified": "2024-05-02T10:00:00Z",
  "aliases": ["CVE-2024-0001"],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:H/I:N/A:N"}],
  "affected": [
    {"package": {"ecosystem": "Debian:12", "name": "util-linux"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.38.1-5+deb12u1"}]}]}
  ]
}"#;

const DEBIAN_UNFIXED_EPOCH: &str = r#"{
  "id": "DEBIAN-CVE-2024-0002",
  "modified": "2024-06-01T10:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Debian:12", "name": "openssh"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
     "ecosystem_specific": {"urgency": "not yet assigned"}},
    {"package": {"ecosystem": "Debian:12", "name": "shadow"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:4.13+dfsg1-1+deb12u1"}]}]}
  ]
}"#;

const ALPINE_CVE: &str = r#"{
  "id": "ALPINE-CVE-2024-0003",
  "modified": "2024-04-01T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Alpine:v3.19", "name": "openssl", "purl": "pkg:apk/alpine/openssl?arch=source"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4-r5"}]}]}
  ]
}"#;

const ALPINE_NEVER: &str = r#"{
  "id": "ALPINE-CVE-2024-0004",
  "modified": "2024-04-01T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Alpine:v3.19", "name": "busybox"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0"}]}]}
  ]
}"#;

const GO_WITHDRAWN: &str = r#"{
  "id": "GO-2099-0001",
  "modified": "2024-01-01T00:00:00Z",
  "withdrawn": "2024-01-02T00:00:00Z",
  "affected": [{"package": {"ecosystem": "Go", "name": "example.com/mod"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]
}"#;

const GO_RECORD: &str = r#"{
  "id": "GO-2099-0002",
  "modified": "2024-01-01T00:00:00Z",
  "aliases": ["GHSA-xxxx-yyyy-zzzz"],
  "affected": [{"package": {"ecosystem": "Go", "name": "example.com/mod"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.2.0"}, {"fixed": "1.4.1"}]}]}]
}"#;

const CRATE_RECORD: &str = r#"{
  "id": "RUSTSEC-2099-0001",
  "modified": "2024-01-01T00:00:00Z",
  "affected": [{"package": {"ecosystem": "crates.io", "name": "demo-crate"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.0.0-0"}, {"fixed": "0.3.2"}]}]}]
}"#;

const MAVEN_RECORD: &str = r#"{
  "id": "GHSA-mvn0-0000-0001",
  "modified": "2024-01-01T00:00:00Z",
  "affected": [{"package": {"ecosystem": "Maven:https://repo.example.invalid/maven2", "name": "org.example:demo"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta1"}, {"fixed": "2.17.1"}]}]}]
}"#;

const PYPI_YAML: &str = "id: PYSEC-2099-1\nmodified: '2024-03-01T00:00:00Z'\naliases:\n- CVE-2099-1\naffected:\n- package:\n    name: Demo_Pkg\n    ecosystem: PyPI\n  ranges:\n  - type: GIT\n    repo: https://example.invalid/demo\n    events:\n    - introduced: '0'\n    - fixed: 0123456789abcdef0123456789abcdef01234567\n  - type: ECOSYSTEM\n    events:\n    - introduced: '1.0'\n    - fixed: '2.0'\n  versions:\n  - '0.9'\n";

const MALFORMED: [(&str, &str); 5] = [
    ("bad-json.json", "{\"id\": \"X-1\", \"modified\": "),
    (
        "bad-range.json",
        r#"{"id":"X-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"WEIRD","events":[{"introduced":"0"}]}]}]}"#,
    ),
    (
        "bad-version.json",
        r#"{"id":"X-3","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"not a version"}]}]}]}"#,
    ),
    ("no-modified.json", r#"{"id":"X-4"}"#),
    ("bad-yaml.yaml", "id: [unclosed\n"),
];

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap(); // ok: test
    std::fs::write(dir.join(name), text).unwrap(); // ok: test
}

fn good_tree(root: &Path) {
    write(
        &root.join("debian"),
        "DEBIAN-CVE-2024-0001.json",
        DEBIAN_CVE,
    );
    write(&root.join("debian"), "DSA-5999-1.json", DEBIAN_DSA);
    write(
        &root.join("debian"),
        "DEBIAN-CVE-2024-0002.json",
        DEBIAN_UNFIXED_EPOCH,
    );
    write(
        &root.join("alpine"),
        "ALPINE-CVE-2024-0003.json",
        ALPINE_CVE,
    );
    write(
        &root.join("alpine"),
        "ALPINE-CVE-2024-0004.json",
        ALPINE_NEVER,
    );
    write(&root.join("go"), "GO-2099-0001.json", GO_WITHDRAWN);
    write(&root.join("go"), "GO-2099-0002.json", GO_RECORD);
    write(&root.join("crates"), "RUSTSEC-2099-0001.json", CRATE_RECORD);
    write(
        &root.join("maven"),
        "GHSA-mvn0-0000-0001.json",
        MAVEN_RECORD,
    );
    write(&root.join("pypi/demo"), "PYSEC-2099-1.yaml", PYPI_YAML);
    write(root, "README.md", "not a record");
}

fn imported(root: &Path, db: &Path) -> Database {
    import(
        &[Source::Dir(root.to_path_buf())],
        db,
        &ImportOptions::default(),
    )
    .unwrap(); // ok: test
    Database::open(db).unwrap() // ok: test
}

fn deb(bin: &str, ver: &str, src: Option<(&str, &str)>, release: &str) -> Package {
    let mut p = Package::new(Ecosystem::Debian, bin, ver);
    p.release = Some(release.into());
    if let Some((n, v)) = src {
        p.source_name = Some(n.into());
        p.source_version = Some(v.into());
    }
    p
}

fn ids(db: &Database, p: &Package) -> Vec<String> {
    db.match_package(p)
        .unwrap() // ok: test
        .into_iter()
        .map(|m| m.advisory_id)
        .collect()
}

#[test]
fn debian_matches_through_source_package_and_merges_cve_duplicates() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let db = imported(&t.path().join("src"), &{
        good_tree(&t.path().join("src"));
        t.path().join("db")
    });
    // bsdutils is built from util-linux; a binNMU-free source version below the fix.
    let p = deb(
        "bsdutils",
        "1:2.38.1-5",
        Some(("util-linux", "2.38.1-5")),
        "12",
    );
    let ms = db.match_package(&p).unwrap(); // ok: test
    assert_eq!(
        ms.len(),
        1,
        "DEBIAN-CVE and DSA share CVE-2024-0001: {ms:#?}"
    );
    let m = &ms[0];
    assert_eq!(m.advisory_id, "DEBIAN-CVE-2024-0001");
    assert_eq!(m.merged_ids, vec!["DSA-5999-1"]);
    assert!(m.aliases.contains(&"CVE-2024-0001".to_string()));
    assert_eq!(m.package, "util-linux");
    assert_eq!(m.fixed_versions, vec!["2.38.1-5+deb12u1"]);
    assert!(m.fix_available);
    // The DSA's CVSS vector outranks the DEBIAN-CVE's textual urgency.
    let sev = m.severity.as_ref().unwrap(); // ok: test
    assert_eq!(sev.rating, Severity::Medium);
    // CVSS 3.1: impact 6.42*0.56 = 3.60, exploitability 8.22*0.55*0.77*0.62*0.62 = 1.34 -> 5.0.
    assert_eq!(sev.score, Some(5.0));
    // Fixed version and a later one do not match; another release does not match.
    assert!(ids(
        &db,
        &deb(
            "bsdutils",
            "1:2.38.1-5+deb12u1",
            Some(("util-linux", "2.38.1-5+deb12u1")),
            "12"
        )
    )
    .is_empty());
    assert!(
        ids(&db, &deb("util-linux", "2.38.1-5+deb12u1~bpo", None, "12"))
            == vec!["DEBIAN-CVE-2024-0001"]
    );
    assert!(ids(&db, &deb("util-linux", "2.39.3-11", None, "13")).is_empty());
    assert_eq!(
        ids(&db, &deb("util-linux", "2.39.3-10", None, "13")),
        vec!["DEBIAN-CVE-2024-0001"]
    );
    // Looking up the binary name alone finds nothing: Debian records name source packages.
    let mut by_binary = deb("bsdutils", "2.38.1-5", None, "12");
    by_binary.source_name = None;
    assert!(ids(&db, &by_binary).is_empty());
}

#[test]
fn debian_unfixed_and_epoch_rules() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    good_tree(&t.path().join("src"));
    let db = imported(&t.path().join("src"), &t.path().join("db"));
    let ms = db
        .match_package(&deb(
            "openssh-client",
            "1:9.2p1-2+deb12u3",
            Some(("openssh", "1:9.2p1-2+deb12u3")),
            "12",
        ))
        .unwrap(); // ok: test
    assert_eq!(ms.len(), 1);
    assert!(!ms[0].fix_available);
    assert!(ms[0].fixed_versions.is_empty());
    assert_eq!(ms[0].severity, None, "`not yet assigned` is not a rating");
    // shadow: fixed 1:4.13+dfsg1-1+deb12u1 — without the epoch 4.99 is still older.
    assert_eq!(
        ids(
            &db,
            &deb("passwd", "4.99-1", Some(("shadow", "4.99-1")), "12")
        ),
        vec!["DEBIAN-CVE-2024-0002"]
    );
    assert!(ids(
        &db,
        &deb(
            "passwd",
            "1:4.13+dfsg1-1+deb12u1",
            Some(("shadow", "1:4.13+dfsg1-1+deb12u1")),
            "12"
        )
    )
    .is_empty());
}

#[test]
fn alpine_origin_release_and_never_affected() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    good_tree(&t.path().join("src"));
    let db = imported(&t.path().join("src"), &t.path().join("db"));
    let apk = |name: &str, origin: &str, ver: &str, rel: &str| {
        let mut p = Package::new(Ecosystem::Alpine, name, ver);
        p.release = Some(rel.into());
        p.source_name = Some(origin.into());
        p
    };
    assert_eq!(
        ids(&db, &apk("libcrypto3", "openssl", "3.1.4-r4", "v3.19")),
        vec!["ALPINE-CVE-2024-0003"]
    );
    // Release written without the `v` (from /etc/alpine-release) still matches.
    assert_eq!(
        ids(&db, &apk("libssl3", "openssl", "3.1.4-r1", "3.19")),
        vec!["ALPINE-CVE-2024-0003"]
    );
    assert!(ids(&db, &apk("libcrypto3", "openssl", "3.1.4-r5", "v3.19")).is_empty());
    assert!(ids(&db, &apk("libcrypto3", "openssl", "3.1.4-r4", "v3.20")).is_empty());
    // `fixed: "0"`: never affected.
    assert!(ids(&db, &apk("busybox", "busybox", "1.36.1-r15", "v3.19")).is_empty());
}

#[test]
fn language_ecosystems_withdrawn_and_counts() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    good_tree(&t.path().join("src"));
    let report = import(
        &[Source::Dir(t.path().join("src"))],
        &t.path().join("db"),
        &ImportOptions::default(),
    )
    .unwrap(); // ok: test
    assert_eq!(report.files, 10);
    assert_eq!(report.metadata.withdrawn, 1);
    assert_eq!(report.metadata.advisories, 9);
    assert_eq!(report.metadata.git_ranges_skipped, 1);
    assert_eq!(report.metadata.ecosystems.get("Debian:12"), Some(&3));
    assert_eq!(
        report.metadata.newest_modified.as_deref(),
        Some("2024-06-01T10:00:00Z")
    );
    let db = Database::open(&t.path().join("db")).unwrap(); // ok: test
                                                            // Go: v prefix on the installed version, SEMVER range without it; the withdrawn record
                                                            // (introduced 0, no fix) never matches.
    let go = |v: &str| ids(&db, &Package::new(Ecosystem::Go, "example.com/mod", v));
    assert_eq!(go("v1.3.0"), vec!["GO-2099-0002"]);
    assert_eq!(
        go("v1.4.1-0.20240101000000-abcdefabcdef"),
        vec!["GO-2099-0002"]
    );
    assert!(go("v1.4.1").is_empty());
    assert!(go("v1.1.9").is_empty());
    // Rust crates.
    assert_eq!(
        ids(
            &db,
            &Package::new(Ecosystem::CratesIo, "demo-crate", "0.3.1")
        ),
        vec!["RUSTSEC-2099-0001"]
    );
    assert!(ids(
        &db,
        &Package::new(Ecosystem::CratesIo, "demo-crate", "0.3.2")
    )
    .is_empty());
    // Maven: the repository suffix is not a release; ComparableVersion ordering.
    let mvn = |v: &str| ids(&db, &Package::new(Ecosystem::Maven, "org.example:demo", v));
    assert_eq!(mvn("2.17.0"), vec!["GHSA-mvn0-0000-0001"]);
    assert_eq!(mvn("2.0"), vec!["GHSA-mvn0-0000-0001"]);
    assert_eq!(mvn("2.17.1-SNAPSHOT"), vec!["GHSA-mvn0-0000-0001"]);
    assert!(mvn("2.17.1").is_empty());
    assert!(mvn("2.0-alpha1").is_empty());
    // PyPI: PEP 503 name normalisation, ranges and versions[].
    let py = |n: &str, v: &str| ids(&db, &Package::new(Ecosystem::PyPI, n, v));
    assert_eq!(py("demo-pkg", "1.5"), vec!["PYSEC-2099-1"]);
    assert_eq!(py("DEMO.pkg", "2.0rc1"), vec!["PYSEC-2099-1"]);
    assert!(py("demo_pkg", "2.0").is_empty());
    assert_eq!(
        py("demo_pkg", "0.9"),
        vec!["PYSEC-2099-1"],
        "listed in versions[]"
    );
    assert_eq!(
        py("demo_pkg", "0.9.0"),
        vec!["PYSEC-2099-1"],
        "equal to a listed version"
    );
    assert!(py("demo_pkg", "0.8").is_empty());
    // A version that does not parse is an error naming the package, not a silent miss.
    let err = db
        .match_package(&Package::new(Ecosystem::PyPI, "demo-pkg", "not a version"))
        .unwrap_err(); // ok: test
    assert!(err.to_string().contains("demo-pkg"), "{err}");
}

#[test]
fn malformed_records_are_skipped_and_counted_or_fail_in_strict_mode() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let src = t.path().join("src");
    good_tree(&src);
    for (name, text) in MALFORMED {
        write(&src.join("bad"), name, text);
    }
    let db_dir = t.path().join("db");
    let report = import(
        &[Source::Dir(src.clone())],
        &db_dir,
        &ImportOptions::default(),
    )
    .unwrap(); // ok: test
    assert_eq!(report.skipped.len(), 5, "{:#?}", report.skipped);
    let reason = |f: &str| {
        report
            .skipped
            .iter()
            .find(|s| s.file.ends_with(f))
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("bad-json.json").contains("line 1"),
        "{}",
        reason("bad-json.json")
    );
    assert!(reason("bad-range.json").contains("unknown range type \"WEIRD\""));
    assert!(reason("bad-version.json").contains("invalid pep440 version \"not a version\""));
    assert!(reason("no-modified.json").contains("missing field `modified`"));
    assert!(reason("bad-yaml.yaml").contains("YAML"));
    assert_eq!(Database::open(&db_dir).unwrap().metadata().skipped, 5); // ok: test
    let before = std::fs::read(db_dir.join("vulndb.bin")).unwrap(); // ok: test

    // Strict: error, and the previous database is byte-for-byte unchanged.
    let strict = ImportOptions {
        strict: true,
        update: false,
        progress: None,
    };
    let err = import(&[Source::Dir(src)], &db_dir, &strict).unwrap_err(); // ok: test
    assert!(matches!(err, ImportError::Strict { count: 5, .. }), "{err}");
    assert_eq!(std::fs::read(db_dir.join("vulndb.bin")).unwrap(), before); // ok: test
    let leftovers: Vec<_> = std::fs::read_dir(&db_dir).unwrap().collect(); // ok: test
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

fn zip_of(root: &Path) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path(); // ok: test
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned(); // ok: test
                    w.start_file(name, opts).unwrap(); // ok: test
                    w.write_all(&std::fs::read(&p).unwrap()).unwrap(); // ok: test
                }
            }
        }
        w.finish().unwrap(); // ok: test
    }
    buf.into_inner()
}

#[test]
fn zip_import_and_corrupt_zip_keeps_previous_db() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    good_tree(&t.path().join("src"));
    let bytes = zip_of(&t.path().join("src"));
    let zip_path = t.path().join("all.zip");
    std::fs::write(&zip_path, &bytes).unwrap(); // ok: test
    let db_dir = t.path().join("db");
    let r = import(
        &[Source::parse(zip_path.to_str().unwrap())],
        &db_dir,
        &ImportOptions::default(),
    )
    .unwrap(); // ok: test
    assert_eq!(r.metadata.advisories, 9);
    assert_eq!(r.metadata.sources[0].kind, "zip");
    let before = std::fs::read(db_dir.join("vulndb.bin")).unwrap(); // ok: test
                                                                    // Truncated zip: clear error, old DB intact.
    let bad = t.path().join("truncated.zip");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap(); // ok: test
    let err = import(&[Source::Zip(bad)], &db_dir, &ImportOptions::default()).unwrap_err(); // ok: test
    assert!(err.to_string().contains("not a readable zip"), "{err}");
    assert_eq!(std::fs::read(db_dir.join("vulndb.bin")).unwrap(), before); // ok: test
                                                                           // A missing path is an I/O error, an empty directory says so.
    let err = import(
        &[Source::parse("/nonexistent/all.zip")],
        &db_dir,
        &ImportOptions::default(),
    )
    .unwrap_err(); // ok: test
    assert!(err.to_string().contains("/nonexistent/all.zip"), "{err}");
    std::fs::create_dir_all(t.path().join("empty")).unwrap(); // ok: test
    let err = import(
        &[Source::Dir(t.path().join("empty"))],
        &db_dir,
        &ImportOptions::default(),
    )
    .unwrap_err(); // ok: test
    assert!(matches!(err, ImportError::Empty(_)), "{err}");
}

/// Serves `body` for one GET per connection on 127.0.0.1 (never reaches outside the machine).
fn serve(body: Vec<u8>, status: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); // ok: test
    let addr = listener.local_addr().unwrap(); // ok: test
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}/PyPI/all.zip")
}

#[test]
fn url_import_from_local_server() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    good_tree(&t.path().join("src"));
    let url = serve(zip_of(&t.path().join("src")), "200 OK");
    let db_dir = t.path().join("db");
    let r = import(&[Source::parse(&url)], &db_dir, &ImportOptions::default()).unwrap(); // ok: test
    assert_eq!(r.metadata.advisories, 9);
    assert_eq!(r.metadata.sources[0].location, url);
    let db = Database::open(&db_dir).unwrap(); // ok: test
    assert_eq!(
        ids(
            &db,
            &Package::new(Ecosystem::Go, "example.com/mod", "1.2.0")
        ),
        vec!["GO-2099-0002"]
    );
    let url404 = serve(b"nope".to_vec(), "404 Not Found");
    let err = import(
        &[Source::parse(&url404)],
        &db_dir,
        &ImportOptions::default(),
    )
    .unwrap_err(); // ok: test
    assert!(matches!(err, ImportError::Http { .. }), "{err}");
    assert!(Database::open(&db_dir).is_ok());
}

#[test]
fn corrupt_or_foreign_database_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    good_tree(&t.path().join("src"));
    let db_dir = t.path().join("db");
    imported(&t.path().join("src"), &db_dir);
    let file = db_dir.join("vulndb.bin");
    let good = std::fs::read(&file).unwrap(); // ok: test
    assert!(matches!(
        Database::open(&t.path().join("nothing")),
        Err(OpenError::Missing(_))
    ));
    let check = |bytes: &[u8], want: &str| {
        std::fs::write(&file, bytes).unwrap(); // ok: test
        let err = Database::open(&db_dir).unwrap_err(); // ok: test
        assert!(err.to_string().contains(want), "{err}");
    };
    check(&good[..good.len() - 10], "checksum");
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    check(&flipped, "checksum");
    check(b"hello", "bad magic");
    let mut schema = good.clone();
    schema[8] = 99;
    check(&schema, "schema version 99");
}
