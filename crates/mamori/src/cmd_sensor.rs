//! `mamori runtime --source ebpf`: the live sensor, rules and runtime policies on this node.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mamori_pipeline::Fanout;
use mamori_policy::RuntimePolicySet;
use mamori_rules::Engine;
use mamori_sensor::agent::{Agent, AgentConfig, ExecBackend};
use mamori_sensor::fanotify::{GuardSettings, Verdict};
use mamori_sensor::supervisor::{self, Supervisor};

use crate::cmd_runtime::{Backend, OnTimeout, RuntimeArgs};

/// Loads the runtime policy files, in order.
pub fn load_policies(files: &[std::path::PathBuf]) -> anyhow::Result<RuntimePolicySet> {
    let mut set = RuntimePolicySet::default();
    for f in files {
        let p = RuntimePolicySet::from_path(f)?;
        set.merge(p)?;
    }
    Ok(set)
}

/// Runs the agent until SIGTERM/SIGINT (or `--duration`), sending alerts to `outputs`.
pub fn run_ebpf(
    args: &RuntimeArgs,
    engine: Engine,
    outputs: &mut Fanout,
    hostname: String,
) -> anyhow::Result<ExitCode> {
    let policies = load_policies(&args.policies)?;
    let n_policies = policies.policies().len();
    let mut roots = mamori_sensor::container::RuntimeRoots::default();
    roots.0.extend(args.runtime_roots.iter().cloned());
    let cfg = AgentConfig {
        policies,
        roots,
        exec_backend: match args.enforcement {
            Backend::Auto => ExecBackend::Auto,
            Backend::Lsm => ExecBackend::Lsm,
            Backend::Fanotify => ExecBackend::Fanotify,
            Backend::Kill => ExecBackend::Kill,
            Backend::None => ExecBackend::None,
        },
        guard: GuardSettings {
            deadline: Duration::from_millis(args.decision_deadline_ms.max(1)),
            on_timeout: match args.on_timeout {
                OnTimeout::Allow => Verdict::Allow,
                OnTimeout::Deny => Verdict::Deny,
            },
            ..GuardSettings::default()
        },
        containers_only: args.containers_only,
        hostname,
        ..AgentConfig::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let mut agent = Agent::start(engine, cfg)?;
    if let Some(path) = &args.record {
        let f = std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot create record file {}: {e}", path.display()))?;
        agent.record_to(Box::new(std::io::BufWriter::new(f)));
    }
    let supervisor = match agent.guard_liveness() {
        Some(liveness) if args.supervisor_timeout_ms > 0 => {
            let timeout = Duration::from_millis(args.supervisor_timeout_ms);
            match std::env::current_exe().and_then(|exe| {
                Supervisor::spawn(exe, &["__supervise".to_string()], liveness, timeout)
            }) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("warning: the sensor's supervisor could not start ({e}); a frozen sensor would hold execs in enforced containers until the decision deadline of each cannot be met");
                    None
                }
            }
        }
        _ => None,
    };
    let b = agent.backend().clone();
    eprintln!(
        "mamori sensor running: {n_policies} runtime polic{}; {}",
        if n_policies == 1 { "y" } else { "ies" },
        b.summary()
    );
    eprintln!("  BPF LSM: {}", b.lsm);
    if n_policies > 0 {
        eprintln!("  network: {}", b.network);
    }
    if let Some(secs) = args.duration {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        });
    }
    agent.run(&stop, &mut |a| outputs.send(&a));
    let s = agent.shutdown();
    if let Some(sup) = supervisor {
        sup.stop();
    }
    for (name, c) in outputs.finish() {
        if c.dropped > 0 {
            eprintln!("warning: output {name}: {} alert(s) dropped", c.dropped);
        }
    }
    eprintln!(
        "sensor stopped: {} event(s), {} rule alert(s), {} policy decision(s); kernel: {} produced, {} dropped, {} filtered, {} killed; exec guard: {} event(s), {} denied, {} answered by watchdog",
        s.events,
        s.rule_alerts,
        s.decisions,
        s.kernel.produced,
        s.kernel.dropped,
        s.kernel.filtered,
        s.kernel.killed,
        s.guard.events,
        s.guard.denied,
        s.guard.timed_out
    );
    if b.exec == "lsm" {
        eprintln!(
            "BPF LSM: {} denied, {} denial record(s) lost, {} path(s) unreadable, {} check(s)",
            s.lsm.denied, s.lsm.lost, s.lsm.path_errors, s.lsm.checks
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The hidden `__supervise` subcommand.
#[derive(Debug, clap::Args)]
pub struct SuperviseArgs {
    /// The sensor's pid.
    #[arg(long)]
    pub pid: u32,
    /// Milliseconds without a heartbeat on stdin before the sensor is killed.
    #[arg(long)]
    pub timeout_ms: u64,
}

/// Runs the supervisor child until the sensor exits (or is killed for being frozen).
pub fn run_supervise(args: SuperviseArgs) -> anyhow::Result<ExitCode> {
    supervisor::ignore_stop_signals();
    supervisor::child_main(
        args.pid,
        Duration::from_millis(args.timeout_ms.max(1)),
        std::io::stdin(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The sensor running inside `mamori up`, writing straight into the console's store.
pub struct ConsoleSensor {
    stop: Arc<AtomicBool>,
    agent: std::thread::JoinHandle<()>,
}

impl ConsoleSensor {
    /// Stops the agent (it drains what the kernel queued) and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.agent.join();
    }
}

/// Starts the agent with the given (or default) rules and policies; its alerts are stored in the
/// console in batches.
pub fn start_for_console(
    rules: &[std::path::PathBuf],
    policy_files: &[std::path::PathBuf],
    runtime_roots: &[std::path::PathBuf],
    store: Arc<dyn mamori_console::store::EventStore>,
) -> anyhow::Result<ConsoleSensor> {
    let sources = crate::cmd_rules::read_rules_files(rules)?;
    let loaded = mamori_rules::load(&sources).map_err(|f| {
        anyhow::anyhow!(
            "rules did not load: {}",
            f.diagnostics
                .iter()
                .filter(|d| d.level == mamori_rules::Level::Error)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let stats = loaded.ruleset.stats();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let engine = Engine::new(
        loaded.ruleset,
        mamori_rules::Settings {
            hostname: hostname.clone(),
            ..mamori_rules::Settings::default()
        },
    );
    let policies = load_policies(policy_files)?;
    let n_policies = policies.policies().len();
    let mut roots = mamori_sensor::container::RuntimeRoots::default();
    roots.0.extend(runtime_roots.iter().cloned());
    let cfg = AgentConfig {
        policies,
        roots,
        hostname,
        ..AgentConfig::default()
    };
    let mut agent = Agent::start(engine, cfg)?;
    println!(
        "runtime sensor: eBPF on this node, {} rules ({} enabled), {n_policies} runtime polic{}; {}",
        stats.rules,
        stats.enabled,
        if n_policies == 1 { "y" } else { "ies" },
        agent.backend().summary()
    );
    let (tx, rx) = std::sync::mpsc::sync_channel::<mamori_rules::Alert>(16384);
    let writer = std::thread::spawn(move || ingest_loop(rx, store));
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut dropped = 0u64;
        agent.run(&stop2, &mut |a| {
            if tx.try_send(a).is_err() {
                dropped += 1;
            }
        });
        let s = agent.shutdown();
        drop(tx);
        let _ = writer.join();
        eprintln!(
            "runtime sensor stopped: {} event(s), {} rule alert(s), {} policy decision(s), {} kernel drop(s), {} alert(s) dropped before the store",
            s.events, s.rule_alerts, s.decisions, s.kernel.dropped, dropped
        );
    });
    Ok(ConsoleSensor {
        stop,
        agent: handle,
    })
}

/// Stores alerts in batches (up to 500, or every 200 ms).
fn ingest_loop(
    rx: std::sync::mpsc::Receiver<mamori_rules::Alert>,
    store: Arc<dyn mamori_console::store::EventStore>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut batch: Vec<serde_json::Value> = Vec::new();
    let flush = |batch: &mut Vec<serde_json::Value>| {
        if batch.is_empty() {
            return;
        }
        let body = serde_json::Value::Array(std::mem::take(batch)).to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let decoded = mamori_console::ingest::decode_body(body.as_bytes(), now);
        for r in &decoded.rejected {
            tracing::warn!(reason = %r.reason, "Sensor alert rejected by the console.");
        }
        if let Err(e) = store.insert(decoded.events) {
            tracing::warn!(error = %e, "Storing sensor alerts failed.");
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(a) => {
                batch.push(serde_json::to_value(&a).unwrap_or_default());
                if batch.len() >= 500 {
                    flush(&mut batch);
                }
            }
            Err(RecvTimeoutError::Timeout) => flush(&mut batch),
            Err(RecvTimeoutError::Disconnected) => {
                flush(&mut batch);
                return;
            }
        }
    }
}
