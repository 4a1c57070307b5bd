//! Conformance: every upstream Pod Security Admission fixture, directory by directory.
//!
//! `pss-fixtures/<level>/<version>/pass/*.yaml` must be allowed and `fail/*.yaml` denied by
//! [`check_pod`] at that level and version.

use std::fs;
use std::path::Path;

use mamori_policy::pss::{check_pod, Level, PodLike, Version};

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_fixture_at_every_level_and_version() {
    let Some(root) = mamori_testkit::shared_data("pss-fixtures") else {
        return;
    };
    let mut checked = 0usize;
    let mut dirs = 0usize;
    let mut wrong = Vec::new();
    for level_name in ["baseline", "restricted"] {
        let level: Level = level_name.parse().unwrap();
        let mut versions: Vec<_> = fs::read_dir(root.join(level_name))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        versions.sort();
        for vname in versions {
            let version: Version = vname.parse().unwrap();
            for (expect_pass, sub) in [(true, "pass"), (false, "fail")] {
                let dir = root.join(level_name).join(&vname).join(sub);
                let files = yaml_files(&dir);
                assert!(!files.is_empty(), "no fixtures in {}", dir.display());
                dirs += 1;
                for f in files {
                    let text = fs::read_to_string(&f).unwrap();
                    let value: serde_json::Value = serde_saphyr::from_str(&text)
                        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                    let pod = PodLike::from_value(&value)
                        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                    let v = check_pod(level, version, &pod);
                    checked += 1;
                    if v.is_empty() != expect_pass {
                        wrong.push(format!("{}: {:?}", f.display(), v));
                    }
                    for x in &v {
                        assert!(!x.reason.is_empty() && !x.pointer.is_empty(), "{x:?}");
                    }
                }
            }
        }
    }
    eprintln!("checked {checked} fixtures in {dirs} directories");
    assert_eq!(dirs, 2 * 38 * 2, "expected 38 versions per level");
    assert!(checked >= 4537, "only {checked} fixtures");
    assert!(
        wrong.is_empty(),
        "{} of {checked} fixtures decided wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
