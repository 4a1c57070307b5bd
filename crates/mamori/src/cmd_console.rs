//! `mamori console` and `mamori up`: the console server, alone or with the node agent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use mamori_console::auth::{create_token, OperatorTokens, Role};
use mamori_console::server::{Console, ConsoleConfig};
use mamori_console::store::{EventStore, SqliteStore, StoreOptions};

/// `mamori console`: serve, or manage the store's API tokens.
#[derive(Debug, Args)]
pub struct ConsoleCommand {
    /// Console settings.
    #[command(flatten)]
    pub args: ConsoleArgs,
    /// Manage tokens instead of serving.
    #[command(subcommand)]
    pub action: Option<ConsoleAction>,
}

/// What `mamori console` does besides serving.
#[derive(Debug, Subcommand)]
pub enum ConsoleAction {
    /// API tokens of the console's store (works while the console runs).
    #[command(subcommand)]
    Token(TokenAction),
}

/// `mamori console token …`.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// Unique name, e.g. the node or webhook it is for (letters, digits, `.`, `_`, `-`).
        name: String,
        /// What it may do: admin (everything), read-only (query), ingest (post events and
        /// reports, read nothing).
        #[arg(long, value_parser = ["admin", "read-only", "ingest"])]
        role: String,
        /// Replace (rotate) an existing token of that name.
        #[arg(long)]
        replace: bool,
    },
    /// List tokens (name, role, creation time; never the secret).
    List,
    /// Delete a token; requests with it are refused from then on.
    Delete {
        /// Its name.
        name: String,
    },
}

/// Flags of `mamori console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Settings file (`mamori.yaml`: console section with alarms); flags win over it.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7777].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Folder for the event store (default: $XDG_DATA_HOME/mamori, else ~/.local/share/mamori).
    #[arg(long, value_name = "DIR", global = true)]
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
    if let Some(limits) = section.rate_limit {
        cfg.rate_limit = limits;
    }
    if let Some(sync) = section.synchronous {
        cfg.synchronous = sync;
    }
    Ok(cfg)
}

fn env_token(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|t| !t.is_empty())
}

/// Opens the console and prints where it is and any tokens generated now.
fn open(args: &ConsoleArgs) -> anyhow::Result<Console> {
    let cfg = config(args)?;
    let data = cfg.data_dir.clone();
    let operator = OperatorTokens {
        admin: env_token("MAMORI_ADMIN_TOKEN"),
        ingest: env_token("MAMORI_INGEST_TOKEN"),
    };
    let console = Console::open_with_tokens(cfg, &operator)
        .with_context(|| format!("cannot open the console store in {}", data.display()))?;
    println!("mamori console: data in {}", data.display());
    if let Some(t) = &console.new_tokens.admin {
        println!("admin token (shown once, stored hashed): {t}");
    }
    if let Some(t) = &console.new_tokens.read_only {
        println!("read-only token (shown once, stored hashed): {t}");
    }
    if let Some(t) = &console.new_tokens.ingest {
        println!("ingest token for sensors and webhooks (may post, cannot read; shown once): {t}");
    }
    Ok(console)
}

/// `mamori console token …`: works on the store directly, so it needs no token itself (whoever
/// can write the data folder owns the console anyway).
fn run_token(args: &ConsoleArgs, action: TokenAction) -> anyhow::Result<ExitCode> {
    let cfg = config(args)?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data folder {}", cfg.data_dir.display()))?;
    let path = cfg.data_dir.join("events.db");
    let store = SqliteStore::open_with(
        &path,
        StoreOptions {
            synchronous: cfg.synchronous,
        },
    )
    .with_context(|| format!("cannot open the console store {}", path.display()))?;
    match action {
        TokenAction::Create {
            name,
            role,
            replace,
        } => {
            let role = Role::parse(&role).context("unknown role")?;
            if !replace && store.has_token(&name)? {
                anyhow::bail!("a token named {name:?} exists; pass --replace to rotate it");
            }
            let token = create_token(&store, &name, role)?;
            println!("{token}");
            eprintln!(
                "created {} token {name:?} (shown once, stored hashed)",
                role.as_str()
            );
        }
        TokenAction::List => {
            for t in store.tokens()? {
                let created =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.created_ns))
                        .ok()
                        .and_then(|d| {
                            d.format(&time::format_description::well_known::Rfc3339)
                                .ok()
                        })
                        .unwrap_or_default();
                println!("{:<24} {:<10} {created}", t.name, t.role);
            }
        }
        TokenAction::Delete { name } => {
            if name == Role::Admin.as_str() {
                anyhow::bail!(
                    "the built-in admin token cannot be deleted; rotate it with `token create admin --role admin --replace`"
                );
            }
            if !store.delete_token(&name)? {
                anyhow::bail!("no token named {name:?}");
            }
            eprintln!("deleted token {name:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
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
pub fn run_console(cmd: ConsoleCommand) -> anyhow::Result<ExitCode> {
    let args = cmd.args;
    if let Some(ConsoleAction::Token(action)) = cmd.action {
        return run_token(&args, action);
    }
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
