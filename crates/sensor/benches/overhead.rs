//! What the sensor costs the workloads it watches, measured in the same run: an open+close loop
//! and a fork+exec+wait loop, first with nothing attached (baseline), then with the full agent
//! running (eBPF programs attached, events drained, enriched and evaluated against mamori's
//! default rules) in a thread of this process. Root only; prints `SKIPPED:` otherwise.
//!
//! `cargo bench -p mamori-sensor --bench overhead`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mamori_rules::{Engine, RulesFile, Settings};
use mamori_sensor::agent::{Agent, AgentConfig, AgentStats};

fn engine() -> Engine {
    let loaded = mamori_rules::load(&[RulesFile::new(
        mamori_rules::DEFAULT_RULES_NAME,
        mamori_rules::DEFAULT_RULES,
    )])
    .expect("default rules load");
    Engine::new(loaded.ruleset, Settings::default())
}

struct Running {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<AgentStats>,
}

fn start_agent() -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let cfg = AgentConfig {
            trace_self: true,
            ..AgentConfig::default()
        };
        let mut agent = Agent::start(engine(), cfg).expect("agent starts");
        let _ = ready_tx.send(());
        let mut alerts = 0u64;
        agent.run(&s2, &mut |_| alerts += 1);
        agent.shutdown()
    });
    ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("agent ready");
    Running { stop, handle }
}

fn open_close() {
    let f = std::fs::File::open("/etc/hostname").expect("open");
    drop(f);
}

/// A system call no rule asks for: what every syscall pays for the sensor being attached.
fn untraced_syscall() -> u32 {
    std::process::id() ^ std::fs::metadata("/").map(|m| m.len() as u32).unwrap_or(0)
}

fn fork_exec() {
    let st = std::process::Command::new("/bin/true")
        .status()
        .expect("spawn /bin/true");
    assert!(st.success());
}

fn bench(c: &mut Criterion) {
    if !mamori_testkit::is_root() {
        eprintln!("SKIPPED: the overhead benchmark loads eBPF programs (needs root)");
        return;
    }
    let run = |c: &mut Criterion, group: &str, name: &str, samples: usize, f: fn()| {
        let mut g = c.benchmark_group(group);
        g.sample_size(samples);
        g.bench_function(name, |b| b.iter(f));
        g.finish();
    };
    let untraced = || {
        std::hint::black_box(untraced_syscall());
    };
    run(c, "open_close", "baseline", 100, open_close);
    run(c, "untraced_syscall", "baseline", 100, untraced);
    let agent = start_agent();
    run(c, "open_close", "sensor", 100, open_close);
    run(c, "untraced_syscall", "sensor", 100, untraced);
    run(c, "fork_exec", "sensor", 30, fork_exec);
    agent.stop.store(true, Ordering::Relaxed);
    let s = agent.handle.join().expect("agent thread");
    run(c, "fork_exec", "baseline", 30, fork_exec);
    eprintln!(
        "agent: {} events, {} rule alerts; kernel: {} produced, {} dropped",
        s.events, s.rule_alerts, s.kernel.produced, s.kernel.dropped
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
