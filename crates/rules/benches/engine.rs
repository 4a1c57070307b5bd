//! Events/s with Falco's stable + incubating + sandbox rules loaded, over a realistic in-memory
//! mix, against a no-rules baseline in the same run; and load+compile time of the three files.
//!
//! Needs the shared data (`MAMORI_SHARED_DATA` or `../shared/data`); otherwise only the default
//! ruleset is measured.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mamori_core::Event;
use mamori_rules::{load, replay::parse_line, Engine, RulesFile, Settings};

fn falco_files() -> Option<Vec<RulesFile>> {
    let dir = mamori_testkit::shared_data("falco-rules")?;
    Some(
        [
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ]
        .iter()
        .map(|n| {
            let p = dir.join(n);
            RulesFile::new(
                n.to_string(),
                std::fs::read_to_string(p).unwrap_or_default(),
            )
        })
        .collect(),
    )
}

/// A deterministic mix: 40% ordinary opens, 5% sensitive opens, 25% execs, 15% connects,
/// 15% mkdir/unlink/rename; varied processes, containers and paths.
fn mix(n: usize) -> Vec<Event> {
    let procs = [
        "nginx", "python3", "java", "node", "bash", "curl", "postgres", "cat", "ls", "sh",
    ];
    let files = [
        "/var/log/nginx/access.log",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/etc/ld.so.cache",
        "/proc/self/status",
        "/tmp/tmp.1234",
        "/app/config.json",
        "/etc/hosts",
        "/usr/share/zoneinfo/UTC",
        "/var/lib/postgresql/data/base/1",
        "/home/app/.cache/x",
    ];
    let sensitive = ["/etc/shadow", "/etc/sudoers", "/etc/pam.d/common-auth"];
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = procs[(x % procs.len() as u64) as usize];
        let cid = if x % 3 == 0 { "host" } else { "3ad7b26ded6d" };
        let bucket = i % 20;
        let line = if bucket < 8 {
            let f = files[((x >> 8) % files.len() as u64) as usize];
            format!(
                r#"{{"evt.type":"openat","evt.is_open_read":true,"evt.is_open_write":false,"fd.name":"{f}","fd.typechar":"f","fd.num":5,"proc.name":"{p}","proc.cmdline":"{p} run","proc.pname":"bash","proc.exepath":"/usr/bin/{p}","user.name":"app","user.uid":1000,"user.loginuid":-1,"proc.tty":0,"container.id":"{cid}","container.image.repository":"nginx","evt.time":{i}}}"#
            )
        } else if bucket == 8 {
            let f = sensitive[((x >> 8) % sensitive.len() as u64) as usize];
            format!(
                r#"{{"evt.type":"openat","evt.is_open_read":true,"fd.name":"{f}","fd.typechar":"f","fd.num":3,"proc.name":"{p}","proc.cmdline":"{p} {f}","proc.pname":"sh","proc.aname[2]":"runc","user.name":"root","user.uid":0,"user.loginuid":-1,"proc.tty":0,"container.id":"{cid}","evt.time":{i}}}"#
            )
        } else if bucket < 14 {
            let tty = if x % 7 == 0 { 34816 } else { 0 };
            format!(
                r#"{{"evt.type":"execve","proc.name":"{p}","proc.exepath":"/usr/bin/{p}","proc.cmdline":"{p} -c job","proc.args":"-c job","proc.pname":"containerd-shim","proc.pcmdline":"containerd-shim","proc.aname[2]":"containerd","user.name":"app","user.uid":1000,"user.loginuid":-1,"proc.tty":{tty},"evt.arg.flags":"","container.id":"{cid}","container.image.repository":"nginx","evt.time":{i}}}"#
            )
        } else if bucket < 17 {
            format!(
                r#"{{"evt.type":"connect","fd.typechar":"4","fd.type":"ipv4","fd.name":"10.0.0.5:40000->10.96.0.10:53","fd.sip":"10.96.0.10","fd.cip":"10.0.0.5","fd.sport":53,"fd.cport":40000,"fd.rport":53,"fd.lport":40000,"fd.l4proto":"udp","evt.rawres":0,"proc.name":"{p}","proc.cmdline":"{p}","proc.pname":"bash","user.name":"app","user.uid":1000,"container.id":"{cid}","evt.time":{i}}}"#
            )
        } else {
            let ty = ["mkdir", "unlinkat", "renameat2"][(x % 3) as usize];
            format!(
                r#"{{"evt.type":"{ty}","evt.arg.path":"/tmp/work/{i}","evt.arg.name":"/tmp/work/{i}","evt.arg.oldpath":"/tmp/a","evt.arg.newpath":"/tmp/b","evt.rawres":0,"proc.name":"{p}","proc.cmdline":"{p}","proc.pname":"bash","user.name":"app","user.uid":1000,"container.id":"{cid}","evt.time":{i}}}"#
            )
        };
        out.push(parse_line(&line, i + 1).unwrap_or_default());
    }
    out
}

fn run_all(engine: &Engine, events: &[Event]) -> usize {
    let mut n = 0;
    for ev in events {
        n += engine.count_matches(black_box(ev));
    }
    n
}

/// Looks up each event's `evt.type`, as an engine must at least do.
fn type_lookups(events: &[Event]) -> usize {
    let mut n = 0;
    for ev in events {
        let ev = black_box(ev);
        if ev.source == mamori_core::event::EventSource::Syscall {
            if let Some(mamori_core::event::Value::Str(t)) = ev.fields.get("evt.type") {
                n += t.len();
            }
        }
    }
    n
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux; updated at
/// scheduler ticks, so it is only read over windows of a second or more).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU nanoseconds per call of `f` over at least two seconds of CPU time. On a machine shared
/// with other builds, wall-clock samples include time the thread waited for a core; this does
/// not, so it is the figure to compare across runs (criterion's wall figures stay alongside).
/// `f` runs in batches of at least ~10 ms between two reads of the counter, so the cost of
/// reading it (a file read, several microseconds) stays out of the figure.
fn cpu_ns_per(mut f: impl FnMut()) -> Option<f64> {
    f();
    let mut batch = 1u64;
    loop {
        let t = std::time::Instant::now();
        for _ in 0..batch {
            f();
        }
        if t.elapsed() >= std::time::Duration::from_millis(10) {
            break;
        }
        batch *= 2;
    }
    let start = thread_cpu_ns()?;
    let mut calls = 0u64;
    loop {
        for _ in 0..batch {
            f();
        }
        calls += batch;
        let used = thread_cpu_ns()?.saturating_sub(start);
        if used >= 2_000_000_000 {
            return Some(used as f64 / calls as f64);
        }
    }
}

fn report_cpu(what: &str, per_event: Option<f64>) {
    match per_event {
        Some(ns) => eprintln!("cpu-time {what}: {ns:.1} ns/event"),
        None => eprintln!("cpu-time {what}: not measured (/proc/thread-self/schedstat unreadable)"),
    }
}

/// The benchmark name filters given on the command line (option values are numbers).
fn filters() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
        .collect()
}

fn group(c: &mut Criterion, name: &str, events: &[Event]) {
    let filter = filters();
    let wanted = |bench: &str| {
        let id = format!("{name}/{bench}");
        filter.is_empty() || filter.iter().any(|f| id.contains(f.as_str()))
    };
    let per_event = |e: &Engine| {
        cpu_ns_per(|| {
            black_box(run_all(e, events));
        })
        .map(|ns| ns / events.len() as f64)
    };
    let empty = load(&[RulesFile::new("empty.yaml", "")]).map(|l| l.ruleset);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(events.len() as u64));
    // The baseline the ratios are taken against: visiting each event and finding its type,
    // the work the engine with no rules did up to session 3 (it now stops earlier, so that
    // case alone no longer measures the cost of touching an event).
    if wanted("baseline_evt_type_lookup") {
        let per = cpu_ns_per(|| {
            black_box(type_lookups(events));
        })
        .map(|ns| ns / events.len() as f64);
        report_cpu(&format!("{name}/baseline_evt_type_lookup"), per);
    }
    g.bench_function("baseline_evt_type_lookup", |b| {
        b.iter(|| type_lookups(events))
    });
    if let Ok(rs) = empty {
        let e = Engine::new(rs, Settings::default());
        if wanted("no_rules_baseline") {
            report_cpu(&format!("{name}/no_rules_baseline"), per_event(&e));
        }
        g.bench_function("no_rules_baseline", |b| b.iter(|| run_all(&e, events)));
    }
    let default = load(&[RulesFile::new("d", mamori_rules::DEFAULT_RULES)]).map(|l| l.ruleset);
    if let Ok(rs) = default {
        let e = Engine::new(rs, Settings::default());
        if wanted("mamori_default_rules") {
            report_cpu(&format!("{name}/mamori_default_rules"), per_event(&e));
        }
        g.bench_function("mamori_default_rules", |b| b.iter(|| run_all(&e, events)));
    }
    if let Some(files) = falco_files() {
        if let Ok(l) = load(&files) {
            let e = Engine::new(l.ruleset, Settings::default());
            let hits = run_all(&e, events);
            eprintln!(
                "{name}: falco stable+incubating+sandbox: {hits} matches in {} events",
                events.len()
            );
            if wanted("falco_3_files") {
                report_cpu(&format!("{name}/falco_3_files"), per_event(&e));
            }
            g.bench_function("falco_3_files", |b| b.iter(|| run_all(&e, events)));
        }
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    // Hot: a working set of 100 events that stays in cache (a sensor evaluates each event
    // right after building it). Cold: 5000 distinct events, each pass misses the caches.
    group(c, "evaluate_hot", &mix(100));
    group(c, "evaluate_cold", &mix(5_000));
    if let Some(files) = falco_files() {
        let filter = filters();
        if filter.is_empty()
            || filter
                .iter()
                .any(|f| "load/falco_3_files_load_compile".contains(f.as_str()))
        {
            match cpu_ns_per(|| {
                black_box(load(&files).map(|l| l.ruleset.stats().rules).ok());
            }) {
                Some(ns) => eprintln!(
                    "cpu-time load/falco_3_files_load_compile: {:.2} ms",
                    ns / 1e6
                ),
                None => eprintln!("cpu-time load: not measured"),
            }
        }
        let mut g = c.benchmark_group("load");
        g.sample_size(20);
        g.bench_function("falco_3_files_load_compile", |b| {
            b.iter(|| {
                load(black_box(&files))
                    .map(|l| l.ruleset.stats().rules)
                    .unwrap_or(0)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
