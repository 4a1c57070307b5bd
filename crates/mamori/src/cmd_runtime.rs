//! `mamori runtime --rules FILE... --source replay:EVENTS.jsonl [--output ...]`.

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
    /// Event source: `replay:EVENTS.jsonl` (JSON Lines of Falco field names to values;
    /// `replay:-` reads stdin).
    #[arg(long, value_name = "SOURCE")]
    pub source: String,
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

fn build_outputs(specs: &[String]) -> anyhow::Result<Fanout> {
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
    let Some(path) = args.source.strip_prefix("replay:") else {
        eprintln!(
            "error: unsupported source '{}': only replay:FILE is available (the live sensor is a separate subcommand)",
            args.source
        );
        return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
    };
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
        hostname: args.hostname.unwrap_or_else(hostname),
        time_format_iso_8601: false,
    };
    let engine = Engine::new(ruleset, settings);
    let mut outputs = build_outputs(&args.outputs)?;
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
