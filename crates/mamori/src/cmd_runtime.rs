//! `mamori runtime --rules FILE... --source replay:EVENTS.jsonl|ebpf [--policy FILE...]
//! [--record FILE] [--output ...]`.

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use mamori_pipeline::{Fanout, FileOutput, HttpOutput, HttpSettings, StdoutOutput, SyslogOutput};
use mamori_rules::{load, replay, Engine, Level, Priority, RuleMatching, Settings};

/// `mamori runtime` flags.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// Rules file (Falco rules language); repeat for several, loaded in order. Without it the
    /// built-in default ruleset is used.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<std::path::PathBuf>,
    /// Event source: `ebpf` (the live kernel sensor; needs root or CAP_BPF+CAP_PERFMON), or
    /// `replay:EVENTS.jsonl` (JSON Lines of Falco field names to values; `replay:-` reads stdin).
    #[arg(long, value_name = "SOURCE")]
    pub source: String,
    /// Runtime policy file (`kind: RuntimePolicy`, YAML); repeat for several. `ebpf` source only.
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<std::path::PathBuf>,
    /// Also write every enriched event to FILE in the replay format (`ebpf` source only).
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// Enforcement backend for enforce-mode policies (`ebpf` source only); the one chosen, and
    /// why, is printed at start.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub enforcement: Backend,
    /// Only events of processes in containers cross from the kernel (`ebpf` source only).
    #[arg(long)]
    pub containers_only: bool,
    /// Milliseconds an exec may wait for a policy decision before the watchdog answers.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub decision_deadline_ms: u64,
    /// Milliseconds without a heartbeat from the exec guard after which a supervisor process
    /// kills a frozen sensor, so the kernel releases what waits on it (fail-open); 0 turns the
    /// supervisor off. Only used when fanotify enforcement runs.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub supervisor_timeout_ms: u64,
    /// When the watchdog answers: allow (fail-open, the default) or deny (fail-closed).
    #[arg(long, value_enum, default_value_t = OnTimeout::Allow)]
    pub on_timeout: OnTimeout,
    /// Another container runtime state folder to watch (runc `--root`), besides the standard
    /// ones (/run/runc, /run/containerd/runc/k8s.io, ...); repeatable.
    #[arg(long = "runtime-root", value_name = "DIR")]
    pub runtime_roots: Vec<std::path::PathBuf>,
    /// Stop after this many seconds (default: run until SIGTERM/SIGINT).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Where alerts go (repeatable): `stdout` (default, Falco JSON lines), `file:PATH`,
    /// `http://HOST[:PORT]/PATH` (with `Authorization: Bearer $MAMORI_TOKEN` when set), `syslog` (/dev/log), `syslog:PATH`, `syslog:udp:HOST:PORT`.
    #[arg(long = "output", value_name = "OUTPUT")]
    pub outputs: Vec<String>,
    /// Falco's rule_matching: stop at the first matching rule, or alert on all.
    #[arg(long, value_enum, default_value_t = Matching::First)]
    pub rule_matching: Matching,
    /// Only load rules at least this severe (emergency … debug).
    #[arg(long, value_name = "PRIORITY", default_value = "debug")]
    pub min_priority: String,
    /// Host name put in alerts (default: this machine's).
    #[arg(long)]
    pub hostname: Option<String>,
}

/// `--enforcement` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// BPF LSM when the kernel allows it, else fanotify, else post-exec SIGKILL.
    Auto,
    /// BPF LSM only (fail when the kernel refuses it).
    Lsm,
    /// fanotify only (fail when unavailable).
    Fanotify,
    /// Post-exec SIGKILL only.
    Kill,
    /// Detect only.
    None,
}

/// `--on-timeout` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnTimeout {
    /// Let the exec run (counted and alerted).
    Allow,
    /// Deny the exec.
    Deny,
}

/// `--rule-matching` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Matching {
    /// First matching rule only (Falco's default).
    First,
    /// Every matching rule.
    All,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub(crate) fn build_outputs(specs: &[String]) -> anyhow::Result<Fanout> {
    let mut f = Fanout::new();
    let default = vec!["stdout".to_string()];
    let specs = if specs.is_empty() { &default } else { specs };
    for s in specs {
        if s == "stdout" {
            f.push(Box::new(StdoutOutput::new(std::io::stdout().lock())));
        } else if let Some(p) = s.strip_prefix("file:") {
            let o = FileOutput::open(p)?;
            o.reopen_on_sighup()?;
            f.push(Box::new(o));
        } else if s.starts_with("http://") {
            let mut settings = HttpSettings::new(s.clone());
            // The mamori console's ingest API needs its admin token.
            settings.bearer_token = std::env::var("MAMORI_TOKEN").ok().filter(|t| !t.is_empty());
            f.push(Box::new(HttpOutput::start(settings)?));
        } else if s == "syslog" {
            f.push(Box::new(SyslogOutput::unix("/dev/log")?));
        } else if let Some(a) = s.strip_prefix("syslog:udp:") {
            f.push(Box::new(SyslogOutput::udp(a)?));
        } else if let Some(p) = s.strip_prefix("syslog:") {
            f.push(Box::new(SyslogOutput::unix(p)?));
        } else {
            anyhow::bail!("unknown output '{s}' (stdout, file:PATH, http://..., syslog[:PATH], syslog:udp:HOST:PORT)");
        }
    }
    Ok(f)
}

/// Runs `mamori runtime`.
pub fn run(args: RuntimeArgs) -> anyhow::Result<ExitCode> {
    let path = match args.source.strip_prefix("replay:") {
        Some(p) => p.to_string(),
        None if args.source == "ebpf" => String::new(),
        None => {
            eprintln!(
                "error: unsupported source '{}': use ebpf (the live sensor) or replay:FILE",
                args.source
            );
            return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
        }
    };
    if path.is_empty() && args.source != "ebpf" {
        eprintln!("error: replay: needs a file name (or - for stdin)");
        return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
    }
    if !args.policies.is_empty() && args.source != "ebpf" {
        eprintln!("error: --policy needs --source ebpf (runtime policies act on live processes)");
        return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
    }
    let min: Priority = match args.min_priority.parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: --min-priority: {e}");
            return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
        }
    };
    let sources = crate::cmd_rules::read_rules_files(&args.rules)?;
    let loaded = match load(&sources) {
        Ok(l) => l,
        Err(failed) => {
            for d in failed
                .diagnostics
                .iter()
                .filter(|d| d.level == Level::Error)
            {
                eprintln!("{d}");
            }
            anyhow::bail!("rules did not load");
        }
    };
    tracing::info!(warnings = loaded.diagnostics.len(), "rules loaded");
    let mut ruleset = loaded.ruleset;
    ruleset.set_min_priority(min);
    let settings = Settings {
        rule_matching: match args.rule_matching {
            Matching::First => RuleMatching::First,
            Matching::All => RuleMatching::All,
        },
        hostname: args.hostname.clone().unwrap_or_else(hostname),
        time_format_iso_8601: false,
    };
    let hostname_for_agent = settings.hostname.clone();
    let engine = Engine::new(ruleset, settings);
    let mut outputs = build_outputs(&args.outputs)?;
    if args.source == "ebpf" {
        return crate::cmd_sensor::run_ebpf(&args, engine, &mut outputs, hostname_for_agent);
    }
    let path = path.as_str();
    let input: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open replay file {path}: {e}"))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut alerts = 0u64;
    let (events, bad) = replay::read_replay(
        input,
        |ev| {
            engine.process(&ev, |a| {
                alerts += 1;
                outputs.send(&a);
            });
        },
        |b| eprintln!("warning: {path}: {b}"),
    )?;
    for (name, c) in outputs.finish() {
        tracing::info!(output = %name, received = c.received, sent = c.sent, dropped = c.dropped, "output");
        if c.dropped > 0 {
            eprintln!("warning: output {name}: {} alert(s) dropped", c.dropped);
        }
    }
    eprintln!("replayed {events} event(s), {bad} malformed line(s) skipped, {alerts} alert(s)");
    Ok(ExitCode::SUCCESS)
}
