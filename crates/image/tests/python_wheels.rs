//! Real wheels of old, vulnerable PyPI packages, fetched with pip from the package registry
//! (cached in `target/pypi-wheels`), installed by pip into a `site-packages` folder, packed into
//! an image layer, scanned, and matched against the shared OSV data (PyPA advisories).
//!
//! Needs python3 with pip and PyPI on the first run (else SKIPPED, a failure under
//! `MAMORI_REQUIRE_PRIVILEGED=1`), and the shared data (else SKIPPED, a failure under
//! `MAMORI_REQUIRE_SHARED=1`).

#[path = "support/image_builder.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_image::findings::{vulnerabilities, VulnOptions};
use mamori_image::{scan, ScanOptions, SourceRef};
use mamori_vulndb::{import, Database, ImportOptions, Source, Suppressions};
use serde_json::json;
use support::*;

/// Pure-Python wheels with known advisories (each fixed in a later release).
const WHEELS: [&str; 3] = ["urllib3==1.24.1", "jinja2==2.10", "requests==2.19.0"];

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The wheel files, downloaded once.
fn wheels(python: &Path) -> Option<PathBuf> {
    let dir = mamori_testkit::workspace_root().join("target/pypi-wheels");
    let have = |d: &Path| {
        std::fs::read_dir(d)
            .map(|r| {
                r.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "whl"))
                    .count()
            })
            .unwrap_or(0)
    };
    if have(&dir) == WHEELS.len() {
        return Some(dir);
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let fetched = run(Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
        ])
        .arg(&tmp)
        .args(WHEELS))
    .and_then(|()| {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| e.to_string())
    });
    match fetched {
        Ok(()) if have(&dir) == WHEELS.len() => Some(dir),
        other => {
            let _ = std::fs::remove_dir_all(&tmp);
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                &format!("cannot download {WHEELS:?} from PyPI with pip: {other:?}"),
            );
            None
        }
    }
}

/// Every file under `root`, as (path relative to `root`, contents), sorted.
fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.is_file() {
                let rel = p.strip_prefix(root).expect("under root");
                out.push((
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(&p).expect("read"),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn pip_installed_wheels_are_listed_and_matched() {
    let Some(osv) = mamori_testkit::shared_data("osv") else {
        return;
    };
    let Some(python) = mamori_testkit::tool("python3") else {
        return;
    };
    let Some(wheel_dir) = wheels(&python) else {
        return;
    };
    // pip itself installs the wheels (offline, from the files) into a site-packages folder.
    let root = tempfile::tempdir().expect("tempdir");
    let site = "usr/local/lib/python3.11/site-packages";
    let mut wheel_files: Vec<PathBuf> = std::fs::read_dir(&wheel_dir)
        .expect("wheels")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    wheel_files.sort();
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            "--no-compile",
            "--target",
        ])
        .arg(root.path().join(site))
        .args(&wheel_files))
    .unwrap_or_else(|e| panic!("{e}"));

    let installed = files(root.path());
    assert!(installed.len() > 20, "{} files", installed.len());
    let entries: Vec<E<'_>> = installed
        .iter()
        .map(|(p, b)| E::File(p.as_str(), 0o644, b.as_slice()))
        .collect();
    let layout = tempfile::tempdir().expect("tempdir");
    oci_layout(layout.path(), "t", &[gz(tar(&entries))], json!({}));
    let src: SourceRef = format!("oci:{}:t", layout.path().display())
        .parse()
        .expect("ref");
    let inv = scan(&src, &ScanOptions::default()).expect("scans");
    let mut found: Vec<(String, String)> = inv
        .packages
        .iter()
        .map(|p| {
            assert!(
                p.package
                    .path
                    .as_deref()
                    .is_some_and(|path| path.starts_with(site)),
                "{:?}",
                p.package.path
            );
            (
                p.package.purl.clone().unwrap_or_default(),
                p.package.version.clone(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("pkg:pypi/jinja2@2.10".to_string(), "2.10".to_string()),
            ("pkg:pypi/requests@2.19.0".to_string(), "2.19.0".to_string()),
            ("pkg:pypi/urllib3@1.24.1".to_string(), "1.24.1".to_string()),
        ]
    );

    // Matched against the PyPA advisories of the shared OSV data.
    let db_dir = tempfile::tempdir().expect("tempdir");
    import(
        &[Source::Dir(osv.join("pypa"))],
        db_dir.path(),
        &ImportOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let db = Database::open(db_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let vulns = vulnerabilities(
        &inv,
        &db,
        &Suppressions::new(),
        &VulnOptions {
            ignore_unfixed: false,
            today: time::OffsetDateTime::now_utc().date(),
        },
    );
    assert!(vulns.errors.is_empty(), "{:?}", vulns.errors);
    let ids: Vec<&str> = vulns.findings.iter().map(|f| f.rule_id.as_str()).collect();
    // urllib3 < 1.24.3, requests < 2.20.0, jinja2 < 2.10.1.
    for want in ["PYSEC-2019-132", "PYSEC-2018-28", "PYSEC-2019-217"] {
        assert!(ids.contains(&want), "{want} not in {ids:?}");
    }
    // Fixed long before these releases: requests < 2.3.0, jinja2 < 2.7.2.
    for not in ["PYSEC-2014-13", "PYSEC-2014-8"] {
        assert!(!ids.contains(&not), "{not} in {ids:?}");
    }
}
