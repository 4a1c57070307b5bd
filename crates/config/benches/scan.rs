//! Scanning the shared corpus, against a baseline of only parsing the same YAML/JSON files.
//!
//! Needs `../shared/data/corpus` (or `MAMORI_SHARED_DATA`); does nothing without it.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use mamori_config::{detect, json, scan_sources, yaml, Limits, Settings};

fn collect(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else if detect::kind_by_name(&p) != detect::FileKind::Unknown {
            if let Ok(text) = std::fs::read_to_string(&p) {
                out.push((p.display().to_string(), text));
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let Some(root) = mamori_testkit::shared_data("corpus") else {
        return;
    };
    let mut group = c.benchmark_group("corpus");
    group.sample_size(10);
    for sub in ["k8s", "dockerfiles", "cloudformation"] {
        let mut files = Vec::new();
        collect(&root.join(sub), &mut files);
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let settings = Settings::default();
        group.bench_function(format!("{sub}/scan"), |b| {
            b.iter(|| scan_sources(&refs, &settings).findings.len())
        });
        if sub != "dockerfiles" {
            let limits = Limits::default();
            group.bench_function(format!("{sub}/parse-only-baseline"), |b| {
                b.iter(|| {
                    refs.iter()
                        .map(|(p, t)| {
                            if p.ends_with(".json") {
                                json::read_json(t, &limits).map(|_| 1).unwrap_or(0)
                            } else {
                                yaml::read_yaml(t, &limits).map(|d| d.len()).unwrap_or(0)
                            }
                        })
                        .sum::<usize>()
                })
            });
        } else {
            group.bench_function(format!("{sub}/parse-only-baseline"), |b| {
                b.iter(|| {
                    refs.iter()
                        .map(|(_, t)| {
                            mamori_config::dockerfile::parse(t)
                                .map(|d| d.instructions.len())
                                .unwrap_or(0)
                        })
                        .sum::<usize>()
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
