//! The userspace hot path per kernel event: decode the ring-buffer record, enrich it into a
//! Falco-field event (process table, user, container, syscall fields), and evaluate mamori's
//! default rules on it. `decode` alone is the baseline the other steps are compared with.
//!
//! `cargo bench -p mamori-sensor --bench enrich`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_rules::{Engine, RulesFile, Settings};
use mamori_sensor::container::{ContainerResolver, RuntimeRoots};
use mamori_sensor::enrich::{Enricher, FieldMask};
use mamori_sensor::proctable::ProcTable;
use mamori_sensor::users::UserDb;
use mamori_sensor::wire::{RawEvent, OFF0, OFF2, WIRE_VERSION};

/// A ring-buffer record as the BPF program writes it (see `bpf/sensor.bpf.c`).
fn record(
    kind: u32,
    syscall: u32,
    pid: u32,
    comm: &str,
    s0: &[u8],
    s2: &[u8],
    args: [u64; 6],
) -> Vec<u8> {
    let mut b = vec![
        0u8;
        if s2.is_empty() {
            OFF0 + s0.len()
        } else {
            OFF2 + s2.len()
        }
    ];
    for (i, a) in args.iter().enumerate() {
        b[56 + 8 * i..64 + 8 * i].copy_from_slice(&a.to_ne_bytes());
    }
    // A host process: the sensor knows the host's pid namespace and skips container lookups.
    let host =
        mamori_sensor::ebpf::ns_inode(std::path::Path::new("/proc/self/ns/pid")).unwrap_or(0);
    b[8..16].copy_from_slice(&host.to_ne_bytes());
    b[104..108].copy_from_slice(&WIRE_VERSION.to_ne_bytes());
    b[108..112].copy_from_slice(&kind.to_ne_bytes());
    b[112..116].copy_from_slice(&syscall.to_ne_bytes());
    for off in [116, 120] {
        b[off..off + 4].copy_from_slice(&pid.to_ne_bytes());
    }
    b[124..128].copy_from_slice(&1u32.to_ne_bytes());
    b[140..144].copy_from_slice(&u32::MAX.to_ne_bytes());
    b[152..154].copy_from_slice(&(s0.len() as u16).to_ne_bytes());
    b[156..158].copy_from_slice(&(s2.len() as u16).to_ne_bytes());
    b[160..160 + comm.len()].copy_from_slice(comm.as_bytes());
    b[OFF0..OFF0 + s0.len()].copy_from_slice(s0);
    if !s2.is_empty() {
        b[OFF2..OFF2 + s2.len()].copy_from_slice(s2);
    }
    b
}

fn bench(c: &mut Criterion) {
    let me = std::process::id();
    let open = record(
        3,
        257,
        me,
        "cat",
        b"/etc/shadow\0",
        b"",
        [(-100i64) as u64, 0, 0, 0, 0, 0],
    );
    let exec = record(
        1,
        59,
        me,
        "cat",
        b"/usr/bin/cat\0",
        b"cat\0/etc/shadow\0",
        [0; 6],
    );
    let loaded = mamori_rules::load(&[RulesFile::new(
        mamori_rules::DEFAULT_RULES_NAME,
        mamori_rules::DEFAULT_RULES,
    )])
    .expect("default rules load");
    let engine = Engine::new(loaded.ruleset, Settings::default());
    let mut en = Enricher::new(
        ProcTable::new(4096),
        Arc::new(Mutex::new(ContainerResolver::new(
            RuntimeRoots::default(),
            64,
        ))),
        UserDb::new(64),
    );
    en.set_host_pidns(
        mamori_sensor::ebpf::ns_inode(std::path::Path::new("/proc/self/ns/pid")).unwrap_or(0),
    );
    let raw_open = RawEvent::decode(&open).unwrap();
    let raw_exec = RawEvent::decode(&exec).unwrap();
    // Warm the process table and the user cache, as a running sensor has them.
    en.enrich(&raw_exec);

    let mut g = c.benchmark_group("sensor_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_openat", |b| {
        b.iter(|| RawEvent::decode(&open).unwrap())
    });
    g.bench_function("enrich_all_fields_openat", |b| {
        b.iter(|| en.enrich(&raw_open).unwrap())
    });
    // What the agent does: only the fields the loaded rules read.
    en.set_mask(Some(FieldMask::new(engine.ruleset().field_keys())));
    g.bench_function("enrich_openat", |b| {
        b.iter(|| en.enrich(&raw_open).unwrap())
    });
    g.bench_function("enrich_rules_openat", |b| {
        b.iter(|| {
            let e = en.enrich(&raw_open).unwrap();
            engine.count_matches(&e.event)
        })
    });
    g.bench_function("decode_enrich_rules_exec", |b| {
        b.iter(|| {
            let r = RawEvent::decode(&exec).unwrap();
            let e = en.enrich(&r).unwrap();
            engine.count_matches(&e.event)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
