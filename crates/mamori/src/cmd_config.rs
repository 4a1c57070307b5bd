//! `mamori config scan`: Kubernetes manifests, Dockerfiles and CloudFormation templates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use mamori_config::{ScanReport, Settings};
use mamori_core::report::{Format as ReportFormat, Report};
use mamori_core::Severity;

/// `mamori config …`
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// Subcommands of `mamori config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Scan files and directories: Kubernetes YAML/JSON, Dockerfiles, CloudFormation, .env files.
    Scan(ScanArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A human table.
    Table,
    /// mamori's JSON report (`mamori.report/v1`).
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Flags of `mamori config scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Report only findings at or above this severity (critical, high, medium, low, info).
    #[arg(long, value_name = "S")]
    pub severity: Option<Severity>,
    /// Exit with this code when findings at or above --severity remain (for Dockerfile findings,
    /// also at or above a `.hadolint.yaml` failure-threshold, and never under its no-fail).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
    /// Never report this rule id (repeatable, or comma-separated).
    #[arg(long = "skip-check", value_name = "ID", value_delimiter = ',')]
    pub skip_check: Vec<String>,
    /// Report only this rule id (repeatable, or comma-separated).
    #[arg(long = "check", value_name = "ID", value_delimiter = ',')]
    pub check: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Configuration file (YAML: severity, check, skip-check, max-file-size); flags add to it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// hadolint configuration for the Dockerfile rules (ignored, override, trustedRegistries,
    /// label-schema, strict-labels, failure-threshold, no-fail, disable-ignore-pragma). Without
    /// it, `.hadolint.yaml` or `.hadolint.yml` in the current directory is read, as hadolint does.
    #[arg(
        long = "hadolint-config",
        value_name = "FILE",
        conflicts_with = "no_hadolint_config"
    )]
    pub hadolint_config: Option<PathBuf>,
    /// Do not look for a `.hadolint.yaml` in the current directory.
    #[arg(long = "no-hadolint-config")]
    pub no_hadolint_config: bool,
}

/// The `.hadolint.yaml` to read: the flag's file, else the first of hadolint's current-directory
/// names that exists.
fn hadolint_config_path(scan: &ScanArgs) -> Option<PathBuf> {
    if let Some(p) = &scan.hadolint_config {
        return Some(p.clone());
    }
    if scan.no_hadolint_config {
        return None;
    }
    [".hadolint.yaml", ".hadolint.yml"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Runs `mamori config`; `color` colours the table.
pub fn run(args: ConfigArgs, color: bool) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Scan(scan) = args.command;
    let mut settings = Settings::default();
    if let Some(path) = &scan.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        mamori_config::apply_config_file(&text, &mut settings)
            .with_context(|| format!("invalid configuration file {}", path.display()))?;
    }
    if let Some(path) = hadolint_config_path(&scan) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (dockerfile, warnings) = mamori_config::read_hadolint_config(&text)
            .with_context(|| format!("invalid hadolint configuration {}", path.display()))?;
        for w in warnings {
            eprintln!("warning: {}:{w}", path.display());
        }
        settings.dockerfile = dockerfile;
    }
    settings.only.extend(scan.check.iter().cloned());
    settings.skip.extend(scan.skip_check.iter().cloned());
    if scan.severity.is_some() {
        settings.min_severity = scan.severity;
    }
    let report = mamori_config::scan_paths(&scan.paths, &settings).context("config scan")?;
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    let targets = scan.paths.iter().map(|p| p.display().to_string()).collect();
    if let Err(e) = print_report(&report, targets, scan.format, color) {
        // A closed pipe (`| head`) is not an error worth reporting.
        let broken = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
        if !broken {
            return Err(e);
        }
    }
    if scan.exit_code != 0 && report.failing > 0 {
        return Ok(ExitCode::from(scan.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the findings with the shared report writers; the file summary goes to stderr.
fn print_report(
    report: &ScanReport,
    targets: Vec<String>,
    format: Format,
    color: bool,
) -> anyhow::Result<()> {
    let doc = Report::new("mamori", env!("CARGO_PKG_VERSION"))
        .with_targets(targets)
        .with_findings(report.findings.clone());
    let format = match format {
        Format::Table => ReportFormat::Table,
        Format::Json => ReportFormat::Json,
        Format::Sarif => ReportFormat::Sarif,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    doc.write(format, color, &mut out)?;
    out.flush()?;
    let c = &report.files;
    eprintln!(
        "scanned {} Kubernetes, {} Dockerfile, {} CloudFormation, {} env files: {} findings ({} suppressed), {} diagnostics",
        c.kubernetes,
        c.dockerfile,
        c.cloudformation,
        c.env,
        report.findings.len(),
        report.suppressed,
        report.diagnostics.len()
    );
    Ok(())
}
