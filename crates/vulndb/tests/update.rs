//! Update imports: a newer source merged into the existing database (newer `modified` replaces,
//! equal is unchanged, older is ignored, withdrawn removes), written atomically like a full
//! import.

use std::path::Path;

use mamori_core::{Ecosystem, Package};
use mamori_vulndb::{import, Database, ImportError, ImportOptions, Source, UpdateReport};

fn record(id: &str, modified: &str, name: &str, fixed: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"{modified}","aliases":["CVE-{id}"],
"affected":[{{"package":{{"ecosystem":"PyPI","name":"{name}"}},
"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
    )
}

fn withdrawn(id: &str, modified: &str, name: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"{modified}","withdrawn":"{modified}",
"affected":[{{"package":{{"ecosystem":"PyPI","name":"{name}"}},
"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}}]}}]}}]}}"#
    )
}

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-02-01T00:00:00Z";
const T2: &str = "2024-03-01T00:00:00.5+01:00"; // later than T1 as an instant

fn tree(dir: &Path, files: &[(&str, String)]) {
    std::fs::create_dir_all(dir).unwrap(); // ok: test
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap(); // ok: test
    }
}

fn base(dir: &Path) {
    tree(
        dir,
        &[
            ("A.json", record("PYSEC-A", T1, "alpha", "2.0")),
            ("B.json", record("PYSEC-B", T1, "beta", "1.0")),
            ("C.json", record("PYSEC-C", T1, "gamma", "1.0")),
            ("F.json", record("PYSEC-F", T1, "phi", "5.0")),
        ],
    );
}

fn delta(dir: &Path) {
    tree(
        dir,
        &[
            // A revised: the fix moved to 3.0.
            ("A.json", record("PYSEC-A", T2, "alpha", "3.0")),
            // B as stored.
            ("B.json", record("PYSEC-B", T1, "beta", "1.0")),
            // C withdrawn.
            ("C.json", withdrawn("PYSEC-C", T2, "gamma")),
            // D new.
            ("D.json", record("PYSEC-D", T0, "delta", "1.0")),
            // An older revision of F: ignored.
            ("F.json", record("PYSEC-F", T0, "phi", "4.0")),
        ],
    );
}

fn ids(db: &Database, name: &str, v: &str) -> Vec<String> {
    db.match_package(&Package::new(Ecosystem::PyPI, name, v))
        .unwrap() // ok: test
        .into_iter()
        .map(|m| m.advisory_id)
        .collect()
}

fn update() -> ImportOptions<'static> {
    ImportOptions {
        update: true,
        ..ImportOptions::default()
    }
}

#[test]
fn update_merges_newer_records_and_withdrawals() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (b, d, db_dir) = (
        t.path().join("base"),
        t.path().join("delta"),
        t.path().join("db"),
    );
    base(&b);
    delta(&d);
    import(&[Source::Dir(b)], &db_dir, &ImportOptions::default()).unwrap(); // ok: test
    let before = Database::open(&db_dir).unwrap(); // ok: test
    assert_eq!(ids(&before, "alpha", "2.5"), Vec::<String>::new());
    assert_eq!(ids(&before, "gamma", "0.5"), ["PYSEC-C"]);

    let report = import(&[Source::Dir(d)], &db_dir, &update()).unwrap(); // ok: test
    assert_eq!(
        report.update,
        Some(UpdateReport {
            previous: 4,
            added: 1,
            updated: 1,
            unchanged: 1,
            stale: 1,
            withdrawn: 1,
        })
    );
    let db = Database::open(&db_dir).unwrap(); // ok: test
    let m = db.metadata();
    assert_eq!(m.advisories, 4, "A, B, D, F");
    assert_eq!(m.updates, 1);
    assert_eq!(
        m.sources.len(),
        2,
        "the full import's source and the update's"
    );
    assert_eq!(m.withdrawn, 1);
    assert_eq!(m.newest_modified.as_deref(), Some(T2));
    // A's revision is in effect, C is gone, D is new, F keeps its stored (newer) data.
    assert_eq!(ids(&db, "alpha", "2.5"), ["PYSEC-A"]);
    assert!(ids(&db, "alpha", "3.0").is_empty());
    assert!(ids(&db, "gamma", "0.5").is_empty());
    assert_eq!(ids(&db, "delta", "0.9"), ["PYSEC-D"]);
    assert_eq!(
        ids(&db, "phi", "4.5"),
        ["PYSEC-F"],
        "the older revision fixed 4.0"
    );
    // Unchanged advisories read back intact (aliases, fixed versions).
    let b = db
        .match_package(&Package::new(Ecosystem::PyPI, "beta", "0.1"))
        .unwrap(); // ok: test
    assert_eq!(b[0].aliases, ["CVE-PYSEC-B"]);
    assert_eq!(b[0].fixed_versions, ["1.0"]);

    // Applying the same delta again changes nothing.
    let again = import(&[Source::Dir(t.path().join("delta"))], &db_dir, &update()).unwrap(); // ok: test
    let u = again.update.unwrap(); // ok: test
    assert_eq!((u.added, u.updated, u.withdrawn), (0, 0, 0), "{u:?}");
    assert_eq!((u.unchanged, u.stale), (3, 1), "A, B and D equal, F older");
    assert_eq!(Database::open(&db_dir).unwrap().metadata().advisories, 4); // ok: test
}

#[test]
fn update_failures_leave_the_database_as_it_was() {
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (b, d, db_dir) = (
        t.path().join("base"),
        t.path().join("delta"),
        t.path().join("db"),
    );
    base(&b);
    delta(&d);
    std::fs::write(d.join("broken.json"), "{ nope").unwrap(); // ok: test
    import(
        &[Source::Dir(b.clone())],
        &db_dir,
        &ImportOptions::default(),
    )
    .unwrap(); // ok: test
    let file = db_dir.join("vulndb.bin");
    let bytes = std::fs::read(&file).unwrap(); // ok: test

    // Strict update with a malformed record: nothing written.
    let strict = ImportOptions {
        strict: true,
        update: true,
        progress: None,
    };
    let err = import(&[Source::Dir(d.clone())], &db_dir, &strict).unwrap_err(); // ok: test
    assert!(matches!(err, ImportError::Strict { count: 1, .. }), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes); // ok: test

    // A damaged database is not silently replaced by the delta alone.
    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    std::fs::write(&file, &damaged).unwrap(); // ok: test
    let err = import(&[Source::Dir(d.clone())], &db_dir, &update()).unwrap_err(); // ok: test
    assert!(matches!(err, ImportError::Existing(_)), "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), damaged); // ok: test

    // No database yet: an update is a full import of the sources.
    let fresh = t.path().join("fresh");
    let r = import(&[Source::Dir(b)], &fresh, &update()).unwrap(); // ok: test
    assert!(r.update.is_none());
    assert_eq!(r.metadata.advisories, 4);
    assert_eq!(r.metadata.updates, 0);
}

#[test]
fn update_matches_a_full_import_of_the_same_records() {
    // Rebuilding from the stored advisories must not lose anything matching uses: an update
    // with one new record answers like a full import of everything.
    let t = tempfile::tempdir().unwrap(); // ok: test
    let (b, extra) = (t.path().join("base"), t.path().join("extra"));
    base(&b);
    tree(
        &extra,
        &[("E.json", record("PYSEC-E", T0, "epsilon", "0.2"))],
    );
    let (upd, full) = (t.path().join("upd"), t.path().join("full"));
    import(&[Source::Dir(b.clone())], &upd, &ImportOptions::default()).unwrap(); // ok: test
    import(&[Source::Dir(extra.clone())], &upd, &update()).unwrap(); // ok: test
    import(
        &[Source::Dir(b), Source::Dir(extra)],
        &full,
        &ImportOptions::default(),
    )
    .unwrap(); // ok: test
    let (u, f) = (
        Database::open(&upd).unwrap(),
        Database::open(&full).unwrap(),
    ); // ok: test
    for (name, v) in [
        ("alpha", "1.0"),
        ("alpha", "2.0"),
        ("beta", "0.9"),
        ("gamma", "0.9"),
        ("phi", "4.9"),
        ("epsilon", "0.1"),
        ("epsilon", "0.2"),
    ] {
        let p = Package::new(Ecosystem::PyPI, name, v);
        assert_eq!(
            u.match_package(&p).unwrap(), // ok: test
            f.match_package(&p).unwrap(), // ok: test
            "{name} {v}"
        );
    }
    assert_eq!(u.metadata().ecosystems, f.metadata().ecosystems);
}
