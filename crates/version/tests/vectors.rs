//! Conformance: every row of the shared version vectors, in both directions.

use std::cmp::Ordering;
use std::fs;

use mamori_version::{compare, Scheme};

fn scheme_for_file(stem: &str) -> Scheme {
    match stem {
        "dpkg" => Scheme::Dpkg,
        "rpm" => Scheme::Rpm,
        "apk" => Scheme::Apk,
        "semver" => Scheme::Semver,
        "go" => Scheme::Go,
        "pep440" => Scheme::Pep440,
        "maven" => Scheme::Maven,
        "rubygems" => Scheme::RubyGems,
        other => panic!("no scheme for vector file {other}.tsv"),
    }
}

#[test]
fn every_vector_row_both_directions() {
    let Some(dir) = mamori_testkit::shared_data("version-vectors") else {
        return;
    };
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("read version-vectors") // ok: test
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected 8 vector files, found {}",
        files.len()
    );
    let mut rows = 0;
    let mut failures = Vec::new();
    for path in &files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let scheme = scheme_for_file(stem);
        let text = fs::read_to_string(path).expect("read tsv"); // ok: test
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let (a, rel, b) = (cols[0], cols[1], cols[2]);
            let want = match rel {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                ">" => Ordering::Greater,
                other => panic!("{}:{}: bad relation {other:?}", path.display(), n + 1),
            };
            rows += 1;
            for (x, y, w) in [(a, b, want), (b, a, want.reverse())] {
                match compare(scheme, x, y) {
                    Ok(got) if got == w => {}
                    Ok(got) => failures.push(format!(
                        "{stem}.tsv:{}: {x} vs {y}: want {w:?}, got {got:?}",
                        n + 1
                    )),
                    Err(e) => failures.push(format!("{stem}.tsv:{}: {e}", n + 1)),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(rows >= 100, "only {rows} rows read");
    eprintln!("{rows} vector rows agree in both directions");
}
