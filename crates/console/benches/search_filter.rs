#![allow(missing_docs)] // criterion macros generate undocumented items
//! Ingest cost of the free-text search index per event: adding an output line to its block's
//! filter (`Filter::add`), for a short line like the store bench's and a longer one like Falco's
//! default rules print, and building a whole block's filter (1,024 lines, the allocation
//! included).
//!
//! `cargo bench -p mamori-console --bench search_filter`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// The module is private to the crate; the bench compiles its source directly.
#[allow(dead_code)]
#[path = "../src/store/sqlite/search.rs"]
mod search;

/// About 120 bytes, as the store bench writes.
fn short_line(i: usize) -> String {
    format!(
        "12:00:{:02}.{:09}: Warning Read sensitive file untrusted (user=root command=cat \
         /etc/shadow pid={} container=3ad7b26ded6d)",
        i % 60,
        i.wrapping_mul(2_654_435_761) % 1_000_000_000,
        4000 + i * 7
    )
}

/// About 330 bytes, as Falco's "Read sensitive file untrusted" prints with a container.
fn long_line(i: usize) -> String {
    format!(
        "12:00:{:02}.{:09}: Warning Sensitive file opened for reading by non-trusted program \
         (file=/etc/shadow gparent=systemd ggparent=<NA> gggparent=<NA> evt_type=openat \
         user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat \
         parent=bash command=cat /etc/shadow terminal=34816 container_id={:012x} \
         container_name=web-{})",
        i % 60,
        i.wrapping_mul(2_654_435_761) % 1_000_000_000,
        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16,
        i % 50
    )
}

fn filter(c: &mut Criterion) {
    for (name, make) in [
        ("line_120b", short_line as fn(usize) -> String),
        ("line_330b", long_line),
    ] {
        let lines: Vec<String> = (0..1024).map(make).collect();
        let bytes: usize = lines.iter().map(String::len).sum();
        let mut g = c.benchmark_group(format!("search_filter_{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("add_one_line", |b| {
            let mut f = search::Filter::new();
            let mut i = 0;
            b.iter(|| {
                f.add(black_box(&lines[i % 1024]));
                i += 1;
            })
        });
        g.throughput(Throughput::Elements(1024));
        g.bench_function("build_block_1024_lines", |b| {
            b.iter(|| {
                let mut f = search::Filter::new();
                for line in &lines {
                    f.add(black_box(line));
                }
                f
            })
        });
        g.finish();
        eprintln!("{name}: average {} bytes", bytes / lines.len());
    }
}

criterion_group!(benches, filter);
criterion_main!(benches);
