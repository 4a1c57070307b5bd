//! Command-line interface: clap definitions, logging set-up, dispatch and error printing.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code for operational errors (unreadable input, failed network call).
pub const EXIT_OPERATIONAL: u8 = 1;
/// Exit code for usage errors (unknown flag, bad value).
pub const EXIT_USAGE: u8 = 2;

/// mamori (守り): Kubernetes container security, end to end.
///
/// Covers the risk areas of NIST SP 800-190 — image, registry, orchestrator, container and host —
/// from build to run.
#[derive(Debug, Parser)]
#[command(name = "mamori", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand understands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log level for messages on stderr (error, warn, info, debug, trace); overrides -v.
    #[arg(long, global = true, value_name = "LEVEL", env = "MAMORI_LOG")]
    pub log_level: Option<String>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// The subcommands. Each one is added by the work that makes it function.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the console (event store, APIs, dashboard) and the node agent on embedded defaults.
    Up(crate::cmd_console::UpArgs),
    /// Start only the console: event store, ingest and query APIs, dashboard.
    Console(crate::cmd_console::ConsoleCommand),
    /// Work with runtime rules files (Falco's rules language).
    Rules(crate::cmd_rules::RulesArgs),
    /// Evaluate runtime events against rules and write Falco-compatible alerts.
    Runtime(crate::cmd_runtime::RuntimeArgs),
    /// Compare package versions with each ecosystem's exact ordering rules.
    Version(crate::cmd_version::VersionArgs),
    /// Import OSV vulnerability data and show the database status.
    Db(crate::cmd_db::DbArgs),
    /// Configuration scanning: Kubernetes manifests, Dockerfiles, CloudFormation/CDK.
    Config(crate::cmd_config::ConfigArgs),
    /// Admission policies: check manifests against a policy or the Pod Security Standards.
    Policy(crate::cmd_policy::PolicyArgs),
    /// The admission webhook server.
    Admission(crate::cmd_admission::AdmissionArgs),
    /// Scan container images: packages, vulnerabilities, secrets, image config checks, SBOM.
    Image(crate::cmd_image::ImageArgs),
    /// Write the SBOM (CycloneDX or SPDX JSON) of a container image.
    Sbom(crate::cmd_sbom::SbomArgs),
    /// Internal: the sensor's supervisor child (started by the sensor itself).
    #[command(name = "__supervise", hide = true)]
    Supervise(crate::cmd_sensor::SuperviseArgs),
}

/// Sets up `tracing` to write to stderr at the level asked for.
pub fn init_logging(global: &GlobalArgs) {
    let level = match (&global.log_level, global.verbose) {
        (Some(l), _) => l.clone(),
        (None, 0) => "warn".to_string(),
        (None, 1) => "info".to_string(),
        (None, 2) => "debug".to_string(),
        (None, _) => "trace".to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal(),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(ExitCode::from(EXIT_USAGE))
        }
        Some(command) => match command {
            Command::Up(args) => crate::cmd_console::run_up(args),
            Command::Console(args) => crate::cmd_console::run_console(args),
            Command::Rules(args) => crate::cmd_rules::run(args),
            Command::Runtime(args) => crate::cmd_runtime::run(args),
            Command::Supervise(args) => crate::cmd_sensor::run_supervise(args),
            Command::Version(args) => crate::cmd_version::run(args),
            Command::Db(args) => crate::cmd_db::run(args),
            Command::Config(args) => crate::cmd_config::run(args, cli.global.color.enabled()),
            Command::Policy(args) => crate::cmd_policy::run(args),
            Command::Admission(args) => crate::cmd_admission::run(args),
            Command::Image(args) => crate::cmd_image::run(args, cli.global.color.enabled()),
            Command::Sbom(args) => crate::cmd_sbom::run(args),
        },
    }
}

/// Prints a clap error (help and version go to stdout with exit 0) and returns the exit code.
pub fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = err.print();
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(EXIT_USAGE),
    }
}

/// One line: the error and its causes joined by `: `, each cause once.
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        // Skip a cause whose text is already contained in the previous message.
        if parts.last().is_some_and(|prev| prev.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}
