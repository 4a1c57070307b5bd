//! `mamori db import|status|match` end to end on a small fixture tree.

use std::path::Path;
use std::process::Command;

fn run(args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mamori"));
    cmd.args(args).env_remove("MAMORI_DB");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run mamori"); // ok: test
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const RECORD: &str = r#"{"id":"GHSA-demo-0001","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2099-0001"],
"database_specific":{"severity":"HIGH"},
"affected":[{"package":{"ecosystem":"npm","name":"left-pad"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}"#;

#[test]
fn import_status_match_and_strict() {
    let t = tempfile::tempdir().expect("tempdir"); // ok: test
    let src = t.path().join("osv");
    std::fs::create_dir_all(&src).expect("mkdir"); // ok: test
    std::fs::write(src.join("GHSA-demo-0001.json"), RECORD).expect("write"); // ok: test
    let cache = t.path().join("cache");
    let env = [("XDG_CACHE_HOME", cache.as_path())];

    let (code, out, err) = run(&["db", "import", src.to_str().expect("utf-8")], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 1 advisories from 1 files"), "{out}");
    assert!(
        cache.join("mamori/db/vulndb.bin").is_file(),
        "default location follows XDG"
    );

    let (code, out, _) = run(&["db", "status"], &env);
    assert_eq!(code, 0);
    assert!(out.contains("advisories:      1"), "{out}");
    assert!(out.contains("npm"), "{out}");

    let (code, out, err) = run(&["db", "match", "npm", "left-pad", "1.2.9"], &env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json"); // ok: test
    assert_eq!(v[0]["advisory_id"], "GHSA-demo-0001");
    assert_eq!(v[0]["fixed_versions"][0], "1.3.0");
    assert_eq!(v[0]["severity"]["rating"], "high");
    let (_, out, _) = run(&["db", "match", "npm", "left-pad", "1.3.0"], &env);
    assert_eq!(out.trim(), "[]");

    // Suppressed matches are kept and marked.
    let ignore = t.path().join(".mamoriignore");
    std::fs::write(
        &ignore,
        "CVE-2099-0001 pkg:npm/left-pad reason: build-time only\n",
    )
    .expect("write"); // ok: test
    let (code, out, err) = run(
        &[
            "db",
            "match",
            "npm",
            "left-pad",
            "1.2.9",
            "--ignore",
            ignore.to_str().expect("utf-8"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json"); // ok: test
    assert_eq!(v[0]["suppressed"]["reason"], "build-time only");

    // A malformed record: skipped and reported; --strict fails and keeps the old database.
    std::fs::write(src.join("broken.json"), "{ nope").expect("write"); // ok: test
    let db_file = cache.join("mamori/db/vulndb.bin");
    let before = std::fs::read(&db_file).expect("read"); // ok: test
    let (code, out, _) = run(
        &["db", "import", "--strict", src.to_str().expect("utf-8")],
        &env,
    );
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(std::fs::read(&db_file).expect("read"), before); // ok: test
    let (code, out, _) = run(&["db", "import", src.to_str().expect("utf-8")], &env);
    assert_eq!(code, 0);
    assert!(out.contains("skipped 1 malformed record(s)"), "{out}");
    assert!(out.contains("broken.json: invalid JSON"), "{out}");

    // Status on a missing database is a clear error.
    let (code, _, err) = run(
        &[
            "db",
            "status",
            "--db",
            t.path().join("none").to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no vulnerability database"), "{err}");
}

#[test]
fn update_merges_a_newer_source() {
    let t = tempfile::tempdir().expect("tempdir"); // ok: test
    let (src, delta) = (t.path().join("osv"), t.path().join("delta"));
    std::fs::create_dir_all(&src).expect("mkdir"); // ok: test
    std::fs::create_dir_all(&delta).expect("mkdir"); // ok: test
    std::fs::write(src.join("GHSA-demo-0001.json"), RECORD).expect("write"); // ok: test
                                                                             // The delta moves the fix to 1.4.0 and adds a second package.
    let revised = RECORD
        .replace("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
        .replace("1.3.0", "1.4.0");
    std::fs::write(delta.join("GHSA-demo-0001.json"), revised).expect("write"); // ok: test
    let other = RECORD
        .replace("GHSA-demo-0001", "GHSA-demo-0002")
        .replace("CVE-2099-0001", "CVE-2099-0002")
        .replace("left-pad", "right-pad");
    std::fs::write(delta.join("GHSA-demo-0002.json"), other).expect("write"); // ok: test
    let db = t.path().join("db");
    let db_arg = db.to_str().expect("utf-8");

    let (code, _, err) = run(
        &["db", "import", "--db", db_arg, src.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &[
            "db",
            "import",
            "--update",
            "--db",
            db_arg,
            delta.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 added, 1 updated, 0 unchanged, 0 older than stored (kept), 0 withdrawn (removed); 1 -> 2 advisories"),
        "{out}"
    );
    let (_, out, _) = run(&["db", "status", "--db", db_arg], &[]);
    assert!(out.contains("1 update(s) merged"), "{out}");
    let (_, out, _) = run(
        &["db", "match", "npm", "left-pad", "1.3.5", "--db", db_arg],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json"); // ok: test
    assert_eq!(v[0]["fixed_versions"][0], "1.4.0", "{out}");
}
