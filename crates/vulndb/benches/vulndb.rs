//! Benchmarks on the shared OSV set (skipped without it):
//! - import of the whole set vs. a baseline that only reads and JSON/YAML-parses every file;
//! - opening the database vs. a baseline that only reads the file;
//! - matching a 1,000-package mixed inventory (warm): borrowed views (`Database::matches`, every
//!   field of every match read) and owned `Match` values (`Database::match_all`), vs. a baseline
//!   of 1,000 hash-map lookups.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_main, Criterion};
use mamori_core::{Ecosystem, Package};
use mamori_vulndb::osv::{parse_record, Event};
use mamori_vulndb::{import, Database, ImportOptions, Source};

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json" || x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// 1,000 packages: every 25th affected entry of the shared set at its first fixed version or
/// an introduced version (about 40% of them vulnerable), plus packages no advisory names.
fn inventory(all: &[PathBuf]) -> Vec<Package> {
    let mut pkgs = Vec::new();
    for (i, f) in all.iter().enumerate().filter(|(i, _)| i % 25 == 0) {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let yaml = f.extension().is_some_and(|x| x == "yaml");
        let Ok(adv) = parse_record(&bytes, yaml) else {
            continue;
        };
        let Some(a) = adv.affected.first() else {
            continue;
        };
        let version = a
            .ranges
            .first()
            .and_then(|r| {
                r.events.iter().find_map(|e| match e {
                    Event::Fixed(v) if i % 2 == 0 => Some(v.clone()),
                    Event::Introduced(v) if i % 2 == 1 && v != "0" => Some(v.clone()),
                    _ => None,
                })
            })
            .unwrap_or_else(|| "1.0.0".into());
        let mut p = Package::new(
            a.ecosystem.name.parse().unwrap_or(Ecosystem::PyPI),
            &a.name,
            version,
        );
        p.release = a.ecosystem.release.clone();
        pkgs.push(p);
        if pkgs.len() == 400 {
            break;
        }
    }
    let mut n = 0;
    while pkgs.len() < 1000 {
        let eco = [Ecosystem::PyPI, Ecosystem::Go, Ecosystem::AlmaLinux][n % 3].clone();
        let mut p = Package::new(eco.clone(), format!("unlisted-package-{n}"), "1.2.3");
        if eco == Ecosystem::AlmaLinux {
            p.version = "1.2.3-1.el9".into();
            p.release = Some("9".into());
        }
        pkgs.push(p);
        n += 1;
    }
    pkgs
}

fn benches() {
    let Some(root) = mamori_testkit::shared_data("osv") else {
        return;
    };
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let all = files(&root);
    let tmp = tempfile::tempdir().expect("temp dir"); // ok: bench setup
    let db_dir = tmp.path().join("db");
    // Setup (also when only some groups are selected): one import to create the database.
    import(
        &[Source::Dir(root.clone())],
        &db_dir,
        &ImportOptions::default(),
    )
    .expect("import");

    let mut g = c.benchmark_group("import");
    g.bench_function("import-shared-set", |b| {
        b.iter(|| {
            import(
                &[Source::Dir(root.clone())],
                &db_dir,
                &ImportOptions::default(),
            )
            .expect("import")
        })
    });
    g.bench_function("baseline-read-and-parse-only", |b| {
        b.iter(|| {
            for f in &all {
                let bytes = std::fs::read(f).expect("read");
                if f.extension().is_some_and(|x| x == "yaml") {
                    let s = String::from_utf8_lossy(&bytes);
                    black_box(serde_saphyr::from_str::<serde_json::Value>(&s).ok());
                } else {
                    black_box(serde_json::from_slice::<serde_json::Value>(&bytes).ok());
                }
            }
        })
    });
    g.finish();
    let size = std::fs::metadata(db_dir.join("vulndb.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!("database size: {:.1} MB", size as f64 / 1e6);

    let mut g = c.benchmark_group("open");
    g.bench_function("open", |b| {
        b.iter(|| Database::open(&db_dir).expect("open"))
    });
    g.bench_function("baseline-read-file", |b| {
        b.iter(|| std::fs::read(db_dir.join("vulndb.bin")).expect("read"))
    });
    g.finish();

    let db = Database::open(&db_dir).expect("open");
    let inv = inventory(&all);
    let (hits, errors) = db.match_all(&inv);
    eprintln!(
        "inventory: {} packages, {} vulnerable, {} matches, {} version errors",
        inv.len(),
        hits.len(),
        hits.iter().map(|(_, m)| m.len()).sum::<usize>(),
        errors.len()
    );
    let map: HashMap<(String, String), usize> = inv
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.ecosystem.to_string(), p.name.clone()), i))
        .collect();
    let mut g = c.benchmark_group("match");
    g.bench_function("match-1000-packages-cold", |b| {
        b.iter_batched(
            || Database::open(&db_dir).expect("open"),
            |fresh| black_box(fresh.match_all(black_box(&inv)).0.len()),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("match-1000-packages-warm", |b| {
        b.iter(|| black_box(db.match_all(black_box(&inv))))
    });
    // The same answers read in place: every field a report uses is visited.
    g.bench_function("match-1000-packages-warm-borrowed", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for p in black_box(&inv) {
                let Ok(ms) = db.matches(p) else { continue };
                for m in ms.iter() {
                    n += m.advisory_id().len()
                        + m.aliases().count()
                        + m.merged_ids().count()
                        + m.fixed_versions().count()
                        + usize::from(m.fix_available())
                        + usize::from(m.severity().is_some())
                        + m.matched_by().count()
                        + m.summary().map_or(0, str::len);
                }
            }
            black_box(n)
        })
    });
    g.bench_function("baseline-1000-hashmap-lookups", |b| {
        b.iter(|| {
            for p in &inv {
                black_box(map.get(&(p.ecosystem.to_string(), p.name.clone())));
            }
        })
    });
    g.finish();
    c.final_summary();
}

criterion_main!(benches);
