//! Ubuntu's OSV shapes, in hand-written records following Ubuntu's published format: release
//! ecosystems with `:LTS`, `Pro:` (ESM) and Pro services (FIPS), source package names with
//! `ecosystem_specific.binaries` and `availability`, the `Ubuntu` severity type, `upstream` on
//! UBUNTU-CVE records (the CVE) and on USNs (the UBUNTU-CVE records fixed), and Livepatch notices.

use std::path::Path;

use mamori_core::{Ecosystem, Package, Severity};
use mamori_vulndb::{import, Database, ImportOptions, Source};

/// Unfixed in the 22.04 archive, fixed through Ubuntu Pro (esm-apps); fixed in 24.04 (binary
/// renamed for t64); fixed only through Pro in 18.04 (ESM-only release).
const UBUNTU_CVE_1: &str = r#"{
  "schema_version": "1.7.0",
  "id": "UBUNTU-CVE-2099-1001",
  "details": "Heap overflow in libexample's parser.",
  "aliases": [],
  "upstream": ["CVE-2099-1001"],
  "related": ["USN-9001-1"],
  "severity": [{"type": "Ubuntu", "score": "high"}],
  "published": "2099-01-10T00:00:00Z",
  "modified": "2099-01-20T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "libexample",
                 "purl": "pkg:deb/ubuntu/libexample@1.2.0-1ubuntu0.1?arch=source&distro=jammy"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
     "versions": ["1.2.0-1", "1.2.0-1ubuntu0.1"],
     "ecosystem_specific": {
       "binaries": [{"binary_name": "libexample3", "binary_version": "1.2.0-1ubuntu0.1"},
                    {"binary_name": "example-tools", "binary_version": "1.2.0-1ubuntu0.1"}],
       "availability": "No subscription required"}},
    {"package": {"ecosystem": "Ubuntu:Pro:22.04:LTS", "name": "libexample",
                 "purl": "pkg:deb/ubuntu/libexample@1.2.0-1ubuntu0.1+esm1?arch=source&distro=esm-apps/jammy"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.0-1ubuntu0.1+esm1"}]}],
     "versions": ["1.2.0-1", "1.2.0-1ubuntu0.1"],
     "ecosystem_specific": {
       "binaries": [{"binary_name": "libexample3", "binary_version": "1.2.0-1ubuntu0.1+esm1"},
                    {"binary_name": "example-tools", "binary_version": "1.2.0-1ubuntu0.1+esm1"}],
       "availability": "Available with Ubuntu Pro: https://ubuntu.com/pro"}},
    {"package": {"ecosystem": "Ubuntu:24.04:LTS", "name": "libexample",
                 "purl": "pkg:deb/ubuntu/libexample@1.4.0-2ubuntu0.2?arch=source&distro=noble"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.4.0-2ubuntu0.2"}]}],
     "versions": ["1.4.0-2", "1.4.0-2ubuntu0.1"],
     "ecosystem_specific": {
       "binaries": [{"binary_name": "libexample3t64", "binary_version": "1.4.0-2ubuntu0.2"}],
       "availability": "No subscription required"}},
    {"package": {"ecosystem": "Ubuntu:Pro:18.04:LTS", "name": "libexample",
                 "purl": "pkg:deb/ubuntu/libexample@1.0.0-1ubuntu0.2+esm3?arch=source&distro=esm-infra/bionic"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.0-1ubuntu0.2+esm3"}]}],
     "ecosystem_specific": {"availability": "Available with Ubuntu Pro: https://ubuntu.com/pro"}}
  ]
}"#;

/// Fixed in the 22.04 archive; CVSS outranks nothing here (no Ubuntu priority).
const UBUNTU_CVE_2: &str = r#"{
  "schema_version": "1.7.0",
  "id": "UBUNTU-CVE-2099-1002",
  "details": "Out-of-bounds read in libexample.",
  "upstream": ["CVE-2099-1002"],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
  "published": "2099-01-11T00:00:00Z",
  "modified": "2099-01-21T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "libexample"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.0-1ubuntu0.1"}]}],
     "versions": ["1.2.0-1"],
     "ecosystem_specific": {
       "binaries": [{"binary_name": "libexample3", "binary_version": "1.2.0-1ubuntu0.1"}],
       "availability": "No subscription required"}}
  ]
}"#;

/// A security notice covering both records (no severity: Ubuntu publishes none on USNs).
const USN: &str = r#"{
  "schema_version": "1.7.0",
  "id": "USN-9001-1",
  "summary": "libexample vulnerabilities",
  "details": "Several security issues were fixed in libexample.",
  "upstream": ["UBUNTU-CVE-2099-1001", "UBUNTU-CVE-2099-1002"],
  "published": "2099-01-20T00:00:00Z",
  "modified": "2099-01-20T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Ubuntu:Pro:22.04:LTS", "name": "libexample"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.0-1ubuntu0.1+esm1"}]}],
     "ecosystem_specific": {
       "binaries": [{"binary_name": "libexample3", "binary_version": "1.2.0-1ubuntu0.1+esm1"}],
       "availability": "Available with Ubuntu Pro: https://ubuntu.com/pro"}}
  ]
}"#;

/// A FIPS build's fix: applies to FIPS machines only.
const FIPS: &str = r#"{
  "id": "UBUNTU-CVE-2099-1003",
  "upstream": ["CVE-2099-1003"],
  "modified": "2099-02-01T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Ubuntu:Pro:FIPS-updates:20.04:LTS", "name": "openssl"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1f-1ubuntu2.fips.24"}]}],
     "ecosystem_specific": {"availability": "Available with Ubuntu Pro: https://ubuntu.com/pro"}}
  ]
}"#;

/// A Livepatch notice: kernel modules by regular expression, not package versions.
const LSN: &str = r#"{
  "id": "LSN-0999-1",
  "upstream": ["UBUNTU-CVE-2099-2001"],
  "modified": "2099-03-01T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Ubuntu:20.04:LTS", "name": "linux"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.1"}]}],
     "ecosystem_specific": {"availability": "Livepatch subscription required",
                            "module_name_regex": "lkp_Ubuntu_5_4_0[_|\\d]+_(?:generic|lowlatency)_(\\d+)"}}
  ]
}"#;

/// `binaries` in a shape Ubuntu never writes: the record is skipped with the reason.
const BAD_BINARIES: &str = r#"{
  "id": "UBUNTU-CVE-2099-1999",
  "modified": "2099-02-01T00:00:00Z",
  "affected": [
    {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "libother"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
     "ecosystem_specific": {"binaries": [{"name": "libother1"}]}}
  ]
}"#;

fn setup(dir: &Path) -> (Database, mamori_vulndb::ImportReport) {
    let src = dir.join("ubuntu");
    std::fs::create_dir_all(&src).unwrap(); // ok: test
    for (name, text) in [
        ("UBUNTU-CVE-2099-1001.json", UBUNTU_CVE_1),
        ("UBUNTU-CVE-2099-1002.json", UBUNTU_CVE_2),
        ("USN-9001-1.json", USN),
        ("UBUNTU-CVE-2099-1003.json", FIPS),
        ("LSN-0999-1.json", LSN),
        ("UBUNTU-CVE-2099-1999.json", BAD_BINARIES),
    ] {
        std::fs::write(src.join(name), text).unwrap(); // ok: test
    }
    let db = dir.join("db");
    let report = import(&[Source::Dir(src)], &db, &ImportOptions::default()).unwrap(); // ok: test
    (Database::open(&db).unwrap(), report) // ok: test
}

fn ubuntu(bin: &str, ver: &str, src: Option<&str>, release: &str) -> Package {
    let mut p = Package::new(Ecosystem::Ubuntu, bin, ver);
    p.release = Some(release.into());
    if let Some(s) = src {
        p.source_name = Some(s.into());
        p.source_version = Some(ver.into());
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
fn import_counts_livepatch_as_unsupported_and_rejects_bad_binaries() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (db, report) = setup(t.path());
    assert_eq!(report.metadata.advisories, 5, "{:#?}", report.skipped);
    assert_eq!(report.metadata.unsupported_affected, 1, "the LSN's entry");
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0]
            .reason
            .contains("affected[0].ecosystem_specific: binaries[0] has no `binary_name`"),
        "{}",
        report.skipped[0].reason
    );
    let eco = &db.metadata().ecosystems;
    assert_eq!(eco.get("Ubuntu:Pro:22.04:LTS"), Some(&2));
    assert_eq!(eco.get("Ubuntu:22.04:LTS"), Some(&2));
    assert_eq!(eco.get("Ubuntu:Pro:FIPS-updates:20.04:LTS"), Some(&1));
}

#[test]
fn pro_fix_and_archive_entry_together_decide() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (db, _) = setup(t.path());
    // Below every fix: both CVE records; the USN covering them is folded in, not counted.
    let ms = db
        .match_package(&ubuntu(
            "libexample3",
            "1.2.0-1",
            Some("libexample"),
            "22.04",
        ))
        .unwrap(); // ok: test
    let got: Vec<&str> = ms.iter().map(|m| m.advisory_id.as_str()).collect();
    assert_eq!(got, ["UBUNTU-CVE-2099-1001", "UBUNTU-CVE-2099-1002"]);
    assert!(ms.iter().all(|m| m.merged_ids == ["USN-9001-1"]), "{ms:#?}");
    let m = &ms[0];
    assert_eq!(
        m.aliases,
        ["CVE-2099-1001"],
        "a single upstream id is an alias"
    );
    assert_eq!(m.fixed_versions, ["1.2.0-1ubuntu0.1+esm1"]);
    assert!(m.fix_available);
    assert!(
        m.matched
            .iter()
            .any(|t| t.contains("[Ubuntu:Pro:22.04:LTS: Available with Ubuntu Pro")),
        "{:?}",
        m.matched
    );
    assert_eq!(m.rating(), Severity::High, "the `Ubuntu` severity type");
    assert_eq!(ms[1].fixed_versions, ["1.2.0-1ubuntu0.1"]);
    assert_eq!(ms[1].rating(), Severity::High, "CVSS 7.5");

    // The archive update fixes 1002; 1001 is unfixed in the archive (introduced 0, no fix)
    // but the Pro entry still has a fix, so it is reported, and the USN folds into it.
    let ms = db
        .match_package(&ubuntu(
            "libexample3",
            "1.2.0-1ubuntu0.1",
            Some("libexample"),
            "22.04",
        ))
        .unwrap(); // ok: test
    assert_eq!(ms.len(), 1, "{ms:#?}");
    assert_eq!(ms[0].advisory_id, "UBUNTU-CVE-2099-1001");
    assert_eq!(ms[0].merged_ids, ["USN-9001-1"]);

    // The Pro build: the archive entry alone (introduced 0, no fix) would call it affected;
    // the Pro entry says fixed, so nothing matches.
    assert!(ids(
        &db,
        &ubuntu(
            "libexample3",
            "1.2.0-1ubuntu0.1+esm1",
            Some("libexample"),
            "22.04"
        )
    )
    .is_empty());
    // `22.04:LTS` as a release string is the same release.
    assert_eq!(
        ids(
            &db,
            &ubuntu("libexample3", "1.2.0-1", Some("libexample"), "22.04:LTS")
        )
        .len(),
        2
    );
}

#[test]
fn binaries_find_the_source_package() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (db, _) = setup(t.path());
    // No source known: the binary names in `ecosystem_specific.binaries` lead to libexample.
    assert_eq!(
        ids(&db, &ubuntu("example-tools", "1.2.0-1", None, "22.04")),
        ["UBUNTU-CVE-2099-1001"],
        "1002 does not list example-tools; the USN has nothing left to fold into and does not \
         list it either"
    );
    assert_eq!(
        ids(&db, &ubuntu("libexample3", "1.2.0-1", None, "22.04")),
        ["UBUNTU-CVE-2099-1001", "UBUNTU-CVE-2099-1002"]
    );
    // 24.04 builds libexample3t64; the 22.04 binary name is not listed there.
    assert_eq!(
        ids(
            &db,
            &ubuntu("libexample3t64", "1.4.0-2ubuntu0.1", None, "24.04")
        ),
        ["UBUNTU-CVE-2099-1001"]
    );
    assert!(ids(
        &db,
        &ubuntu("libexample3t64", "1.4.0-2ubuntu0.2", None, "24.04")
    )
    .is_empty());
    assert!(ids(&db, &ubuntu("libexample3", "1.4.0-2", None, "24.04")).is_empty());
    assert!(ids(&db, &ubuntu("libexample-doc", "1.2.0-1", None, "22.04")).is_empty());
}

#[test]
fn esm_only_release_and_pro_services() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (db, _) = setup(t.path());
    // 18.04 has only a Pro entry: it decides alone.
    let bionic = |v: &str| ids(&db, &ubuntu("libexample3", v, Some("libexample"), "18.04"));
    assert_eq!(bionic("1.0.0-1ubuntu0.2+esm2"), ["UBUNTU-CVE-2099-1001"]);
    assert!(bionic("1.0.0-1ubuntu0.2+esm3").is_empty());
    // A FIPS-updates entry does not apply to a standard 20.04 openssl, only to a package whose
    // release names that service.
    assert!(ids(
        &db,
        &ubuntu("libssl1.1", "1.1.1f-1ubuntu2.22", Some("openssl"), "20.04")
    )
    .is_empty());
    assert_eq!(
        ids(
            &db,
            &ubuntu(
                "libssl1.1",
                "1.1.1f-1ubuntu2.fips.23",
                Some("openssl"),
                "Pro:FIPS-updates:20.04:LTS"
            )
        ),
        ["UBUNTU-CVE-2099-1003"]
    );
    // The Livepatch notice was not stored, so the kernel does not match it.
    assert!(ids(
        &db,
        &ubuntu("linux-image-generic", "5.4.0-1", Some("linux"), "20.04")
    )
    .is_empty());
}

#[test]
fn borrowed_views_agree_with_owned_matches() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (db, _) = setup(t.path());
    let p = ubuntu("libexample3", "1.2.0-1", Some("libexample"), "22.04");
    let owned = db.match_package(&p).unwrap(); // ok: test
    let views = db.matches(&p).unwrap(); // ok: test
    assert_eq!(views.len(), owned.len());
    for (v, o) in views.iter().zip(&owned) {
        assert_eq!(v.advisory_id(), o.advisory_id);
        assert_eq!(v.aliases().collect::<Vec<_>>(), o.aliases);
        assert_eq!(v.merged_ids().collect::<Vec<_>>(), o.merged_ids);
        assert_eq!(v.fixed_versions().collect::<Vec<_>>(), o.fixed_versions);
        assert_eq!(v.severity(), o.severity.as_ref());
        assert_eq!(v.version(), "1.2.0-1");
        assert_eq!(v.package(), "libexample");
    }
}
