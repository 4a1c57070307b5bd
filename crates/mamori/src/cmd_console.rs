//! `mamori console` and `mamori up`: the console server, alone or with the node agent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use mamori_console::server::{Console, ConsoleConfig};

/// Flags of `mamori console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Settings file (`mamori.yaml`: console section with alarms); flags win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7777].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Folder for the event store (default: $XDG_DATA_HOME/mamori, else ~/.local/share/mamori).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Delete events older than this many days (0 keeps them forever) [default: 30].
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Keep at most this many events.
    #[arg(long, value_name = "ROWS")]
    pub retention_rows: Option<u64>,
}

/// Flags of `mamori up`: the console's, plus the node agent's.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Console settings.
    #[command(flatten)]
    pub console: ConsoleArgs,
    /// Runtime policy file for the sensor (`kind: RuntimePolicy`); repeatable. Default: none
    /// (rules only).
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// Rules file for the sensor instead of the built-in default ruleset; repeatable.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Another container runtime state folder for the sensor to watch (runc `--root`); repeatable.
    #[arg(long = "runtime-root", value_name = "DIR")]
    pub runtime_roots: Vec<PathBuf>,
    /// Run the console only (no eBPF sensor).
    #[arg(long)]
    pub no_sensor: bool,
}

/// The default data folder, following the XDG base directory convention.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("mamori"));
    }
    let home = std::env::var_os("HOME")
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data DIR")?;
    Ok(PathBuf::from(home).join(".local/share/mamori"))
}

fn config(args: &ConsoleArgs) -> anyhow::Result<ConsoleConfig> {
    let file = match &args.config {
        Some(path) => crate::config::load(path)?,
        None => crate::config::MamoriConfig::default(),
    };
    let section = file.console;
    let data_dir = match args.data.clone().or(section.data_dir) {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let mut cfg = ConsoleConfig::new(data_dir);
    if let Some(listen) = args.listen.or(section.listen) {
        cfg.listen = listen;
    }
    let days = args.retention_days.or(section.retention_days).unwrap_or(30);
    cfg.retention_days = (days > 0).then_some(days);
    cfg.retention_rows = args.retention_rows.or(section.retention_rows);
    if let Some(max) = section.max_body_bytes {
        cfg.max_body_bytes = max;
    }
    cfg.public_url = section.public_url;
    cfg.alarms = section.alarms;
    Ok(cfg)
}

/// Opens the console and prints where it is and any tokens generated now.
fn open(args: &ConsoleArgs) -> anyhow::Result<Console> {
    let cfg = config(args)?;
    let data = cfg.data_dir.clone();
    let admin = std::env::var("MAMORI_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let console = Console::open(cfg, admin.as_deref())
        .with_context(|| format!("cannot open the console store in {}", data.display()))?;
    println!("mamori console: data in {}", data.display());
    if let Some(t) = &console.new_tokens.admin {
        println!("admin token (shown once, stored hashed): {t}");
    }
    if let Some(t) = &console.new_tokens.read_only {
        println!("read-only token (shown once, stored hashed): {t}");
    }
    Ok(console)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("Shutting down.");
}

/// `mamori console`.
pub fn run_console(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let console = open(&args)?;
    runtime()?.block_on(async move {
        let (listener, addr) = console.bind().await?;
        println!("console listening on http://{addr}");
        console.serve(listener, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `mamori up`: the console plus the node agent on embedded defaults.
pub fn run_up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let console = open(&args.console)?;
    let store = console.store();
    runtime()?.block_on(async move {
        let (listener, addr) = console.bind().await?;
        println!(
            "console listening on http://{addr} (open it in a browser and sign in with a token)"
        );
        let sensor = if args.no_sensor {
            println!("runtime sensor: off (--no-sensor)");
            None
        } else {
            match crate::cmd_sensor::start_for_console(
                &args.rules,
                &args.policies,
                &args.runtime_roots,
                store,
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    // The console still serves (alerts can come from elsewhere); say why the
                    // node is not watched.
                    eprintln!(
                        "runtime sensor: not running: {}; the console still accepts alerts at \
                         http://{addr}/api/v1/events",
                        crate::cli::error_chain(&e)
                    );
                    None
                }
            }
        };
        console.serve(listener, shutdown_signal()).await?;
        if let Some(s) = sensor {
            s.stop();
        }
        Ok(ExitCode::SUCCESS)
    })
}
