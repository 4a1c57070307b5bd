//! Conformance on the real shared OSV set (PyPA, Go vulndb, AlmaLinux 8/9/10): the whole set
//! imports, and known answers established by reading the records hold.

use mamori_core::{Ecosystem, Package, Severity};
use mamori_vulndb::{import, Database, ImportOptions, Source};

fn ids(db: &Database, p: &Package) -> Vec<String> {
    db.match_package(p)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|m| m.advisory_id)
        .collect()
}

fn rpm(name: &str, version: &str, release: &str) -> Package {
    let mut p = Package::new(Ecosystem::AlmaLinux, name, version);
    p.release = Some(release.into());
    p
}

#[test]
fn shared_osv_set_imports_and_known_answers_hold() {
    let Some(root) = mamori_testkit::shared_data("osv") else {
        return;
    };
    let t = tempfile::tempdir().expect("temp dir"); // ok: test
    let db_dir = t.path().join("db");
    let report = import(&[Source::Dir(root)], &db_dir, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let m = &report.metadata;
    // README: ~12.5k records (2522 PyPA + 4291 Go + 5680 AlmaLinux); 17 Go records withdrawn.
    assert!(report.files >= 12_400, "{} files", report.files);
    assert!(m.advisories >= 12_300, "{} advisories", m.advisories);
    assert!(m.withdrawn >= 17, "{} withdrawn", m.withdrawn);
    assert!(
        m.git_ranges_skipped > 1000,
        "PyPA has GIT ranges: {}",
        m.git_ranges_skipped
    );
    // Only a handful of records are malformed, each named with file and reason.
    assert!(report.skipped.len() < 10, "{:#?}", report.skipped);
    for s in &report.skipped {
        assert!(s.file.ends_with(".yaml") || s.file.ends_with(".json"));
        assert!(!s.reason.is_empty());
    }
    assert_eq!(m.ecosystems.get("AlmaLinux:8"), Some(&3237));
    assert_eq!(m.ecosystems.get("AlmaLinux:9"), Some(&1783));
    assert_eq!(m.ecosystems.get("AlmaLinux:10"), Some(&660));
    let size = std::fs::metadata(db_dir.join("vulndb.bin"))
        .map(|x| x.len())
        .unwrap_or(0);
    assert!(size < 50_000_000, "database is {size} bytes");

    let db = Database::open(&db_dir).unwrap_or_else(|e| panic!("{e}"));

    // PYSEC-2021-335 (accesscontrol): ECOSYSTEM 4.0..4.3 and 5.0..5.2.
    let py = |n: &str, v: &str| ids(&db, &Package::new(Ecosystem::PyPI, n, v));
    assert!(py("AccessControl", "4.2").contains(&"PYSEC-2021-335".to_string()));
    assert!(py("accesscontrol", "5.1").contains(&"PYSEC-2021-335".to_string()));
    assert!(!py("accesscontrol", "4.3").contains(&"PYSEC-2021-335".to_string()));
    assert!(!py("accesscontrol", "5.2").contains(&"PYSEC-2021-335".to_string()));
    assert!(!py("accesscontrol", "3.9").contains(&"PYSEC-2021-335".to_string()));

    // PYSEC-2023-221 (werkzeug): introduced 0, fixed 2.3.8; introduced 3.0.0, fixed 3.0.1;
    // CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H = 7.5 High.
    let werk = db
        .match_package(&Package::new(Ecosystem::PyPI, "Werkzeug", "2.3.7"))
        .unwrap_or_else(|e| panic!("{e}"));
    let w = werk
        .iter()
        .find(|m| {
            m.advisory_id == "PYSEC-2023-221" || m.merged_ids.iter().any(|i| i == "PYSEC-2023-221")
        })
        .unwrap_or_else(|| panic!("PYSEC-2023-221 missing: {werk:#?}"));
    assert!(w.aliases.iter().any(|a| a == "CVE-2023-46136"));
    assert_eq!(w.fixed_versions, vec!["2.3.8", "3.0.1"]);
    let sev = w.severity.as_ref().expect("severity"); // ok: test
    assert_eq!((sev.score, sev.rating), (Some(7.5), Severity::High));
    assert!(!py("werkzeug", "2.3.8").contains(&"PYSEC-2023-221".to_string()));
    assert!(py("werkzeug", "3.0.0").contains(&"PYSEC-2023-221".to_string()));
    assert!(!py("werkzeug", "3.0.1").contains(&"PYSEC-2023-221".to_string()));

    // PYSEC-2022-42969 (py): introduced 0, last_affected 1.11.0 (inclusive), no fix.
    let pyp = db
        .match_package(&Package::new(Ecosystem::PyPI, "py", "1.11.0"))
        .unwrap_or_else(|e| panic!("{e}"));
    let p = pyp
        .iter()
        .find(|m| m.advisory_id == "PYSEC-2022-42969")
        .expect("last_affected is inclusive"); // ok: test
    assert!(!p.fix_available);
    assert!(!py("py", "1.11.1").contains(&"PYSEC-2022-42969".to_string()));

    // GO-2024-3228: github.com/coder/coder/v2 2.3.1..2.14.4, 2.15.0..2.15.3, 2.16.0..2.16.1;
    // github.com/coder/coder (v0/v1) introduced 0 without fix.
    let go = |n: &str, v: &str| ids(&db, &Package::new(Ecosystem::Go, n, v));
    assert!(go("github.com/coder/coder/v2", "v2.14.3").contains(&"GO-2024-3228".to_string()));
    assert!(!go("github.com/coder/coder/v2", "v2.14.4").contains(&"GO-2024-3228".to_string()));
    assert!(go("github.com/coder/coder/v2", "v2.15.2").contains(&"GO-2024-3228".to_string()));
    assert!(!go("github.com/coder/coder/v2", "v2.3.0").contains(&"GO-2024-3228".to_string()));
    assert!(go("github.com/coder/coder", "v0.27.3").contains(&"GO-2024-3228".to_string()));
    // GO-2022-0617 is withdrawn (k8s.io/kubernetes, introduced 0): never matches.
    assert!(!go("k8s.io/kubernetes", "v1.20.0").contains(&"GO-2022-0617".to_string()));

    // ALBA-2021:1099: NetworkManager-libnm-devel on AlmaLinux:8 fixed in 1:1.26.0-14.el8_3.
    let nm = |v: &str, rel: &str| ids(&db, &rpm("NetworkManager-libnm-devel", v, rel));
    assert!(nm("1:1.26.0-13.el8", "8").contains(&"ALBA-2021:1099".to_string()));
    assert!(!nm("1:1.26.0-14.el8_3", "8").contains(&"ALBA-2021:1099".to_string()));
    assert!(!nm("1:1.26.0-14.el8_3.1", "8").contains(&"ALBA-2021:1099".to_string()));
    // rpm rules, not string order: epoch 0 loses to epoch 1 however large the version.
    assert!(nm("1.99.0-1.el8", "8").contains(&"ALBA-2021:1099".to_string()));
    // The AlmaLinux:8 record does not apply to AlmaLinux 9.
    assert!(!nm("1:1.26.0-13.el8", "9").contains(&"ALBA-2021:1099".to_string()));
}
