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
    Ok(ExitCode::SUCCESS)
}
