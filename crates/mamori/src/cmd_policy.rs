//! `mamori policy check`: the admission policy engine on manifest files (GitOps / CI).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use mamori_policy::document::TemplateMode;
use mamori_policy::manifest::{self, CheckedObject};
use mamori_policy::pss::LevelVersion;
use mamori_policy::{DecisionKind, Engine, Policy};

/// `mamori policy …`
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Decide manifest files as the admission webhook would; exit non-zero if anything would be
    /// denied.
    Check(CheckArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per object, then its messages.
    Table,
    /// A JSON array of `{origin, decision}`.
    Json,
}

/// How pod templates of workload resources are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Templates {
    /// Enforce rules on templates as on pods (default for CI: catch it before the pods exist).
    Enforce,
    /// Use the policy's `templates` setting (advisory: enforce rules only warn on templates).
    Policy,
}

/// `mamori policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy file (apiVersion mamori.dev/v1, kind Policy; YAML or JSON).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "pod_security",
        required_unless_present = "pod_security"
    )]
    pub policy: Option<PathBuf>,
    /// Check only the Pod Security Standards at LEVEL[:VERSION] (e.g. restricted:v1.25,
    /// baseline), with no policy file.
    #[arg(long, value_name = "LEVEL[:VERSION]", value_parser = parse_level_version)]
    pub pod_security: Option<LevelVersion>,
    /// Pod templates of workload resources.
    #[arg(long, value_enum, default_value_t = Templates::Enforce)]
    pub templates: Templates,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit code when any object would be denied.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub exit_code: u8,
    /// Manifest files or directories (*.yaml, *.yml, *.json).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

fn parse_level_version(s: &str) -> Result<LevelVersion, String> {
    s.parse()
        .map_err(|e: mamori_policy::pss::ParseError| e.to_string())
}

/// Runs `mamori policy …`.
pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Check(a) => check(a),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut policy = match (&args.policy, args.pod_security) {
        (Some(path), _) => Policy::load(path).context("cannot load policy")?,
        (None, Some(lv)) => Policy::pod_security_only(lv),
        (None, None) => anyhow::bail!("give --policy FILE or --pod-security LEVEL[:VERSION]"),
    };
    if args.templates == Templates::Enforce {
        policy.templates = TemplateMode::Enforce;
    }
    let engine = Engine::new(policy);
    let objects = manifest::load_paths(&args.paths).context("cannot read manifests")?;
    let checked = manifest::check_objects(&engine, &objects, time::OffsetDateTime::now_utc());
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&checked)?),
        Format::Table => table(&checked),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("cannot write output")
        }
        _ => {}
    }
    let denied = checked.iter().any(|c| !c.decision.allowed());
    Ok(if denied {
        ExitCode::from(args.exit_code)
    } else {
        ExitCode::SUCCESS
    })
}

fn table(checked: &[CheckedObject]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if checked.is_empty() {
        return "no Pods or workload resources found\n".to_string();
    }
    for c in checked {
        let d = &c.decision;
        let ns = if d.namespace.is_empty() {
            "-"
        } else {
            &d.namespace
        };
        let _ = writeln!(
            out,
            "{:<8} {} {ns}/{}  ({})",
            d.kind.as_str().to_uppercase(),
            d.object_kind,
            d.name,
            c.origin
        );
        if d.kind == DecisionKind::Denied {
            if let Some(m) = &d.message {
                let _ = writeln!(out, "  deny: {m}");
            }
        }
        for w in &d.warnings {
            let _ = writeln!(out, "  warn: {w}");
        }
        if let Some(a) = d.audit_annotations.get("audit-violations") {
            let _ = writeln!(out, "  audit: {a}");
        }
    }
    let denied = checked.iter().filter(|c| !c.decision.allowed()).count();
    let _ = writeln!(out, "{} objects, {denied} denied", checked.len());
    out
}
