//! `mamori admission serve`: the HTTPS admission webhook.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use mamori_admission::tls::{write_self_signed, ReloadingCert};
use mamori_admission::{router, AppState, EventSink, Limits, Server};
use mamori_core::event::Event;
use mamori_policy::{Engine, Policy};

/// `mamori admission …`
#[derive(Debug, Args)]
pub struct AdmissionArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AdmissionCommand,
}

/// Admission subcommands.
#[derive(Debug, Subcommand)]
pub enum AdmissionCommand {
    /// Serve the validating webhook over HTTPS (POST /validate, /healthz, /readyz, /metrics).
    Serve(ServeArgs),
}

/// `mamori admission serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Policy file (apiVersion mamori.dev/v1, kind Policy; YAML or JSON).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Serving certificate chain (PEM); reloaded when it changes.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// Serving private key (PEM); reloaded when it changes.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Make a CA and serving certificate (kept in --cert-dir; ca.crt is the caBundle).
    #[arg(long, requires = "dns_name", required_unless_present = "tls_cert")]
    pub self_signed: bool,
    /// DNS name for the self-signed certificate (repeatable), e.g.
    /// mamori-admission.mamori-system.svc.
    #[arg(long, value_name = "NAME")]
    pub dns_name: Vec<String>,
    /// Folder for the self-signed files.
    #[arg(long, value_name = "DIR", default_value = "mamori-admission-certs")]
    pub cert_dir: PathBuf,
    /// Largest request body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 3 * 1024 * 1024)]
    pub max_body: usize,
    /// Per-request deadline in milliseconds (keep it below the webhook's timeoutSeconds).
    #[arg(long, value_name = "MS", default_value_t = 4000)]
    pub deadline_ms: u64,
    /// Reviews evaluated at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_concurrent: usize,
    /// Where decision events go: `stdout` (JSON lines) or `none`.
    #[arg(long, value_name = "WHERE", default_value = "stdout", value_parser = ["stdout", "none"])]
    pub events: String,
}

struct StdoutEvents;

impl EventSink for StdoutEvents {
    fn emit(&self, event: Event) {
        if let Ok(line) = serde_json::to_string(&event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Runs `mamori admission …`.
pub fn run(args: AdmissionArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdmissionCommand::Serve(a) => serve(a),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let policy = Policy::load(&args.policy).context("cannot load policy")?;
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => {
            let files = write_self_signed(&args.cert_dir, &args.dns_name)
                .context("cannot create the self-signed certificate")?;
            eprintln!(
                "CA bundle for the webhook configuration: {} (caBundle = base64 of this file)",
                files.ca_cert.display()
            );
            (files.cert, files.key)
        }
    };
    let certs = Arc::new(ReloadingCert::new(&cert, &key).context("cannot load the certificate")?);
    let limits = Limits {
        max_body: args.max_body,
        deadline: Duration::from_millis(args.deadline_ms),
        max_concurrent: args.max_concurrent,
    };
    let engine = Arc::new(Engine::new(policy));
    let state = match args.events.as_str() {
        "stdout" => AppState::with_sink(engine, limits, Arc::new(StdoutEvents)),
        _ => AppState::new(engine, limits),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(args.listen, certs, router(state)).await?;
        tracing::info!(addr = %server.local_addr()?, "admission webhook listening");
        eprintln!("listening on https://{}", server.local_addr()?);
        server.run(shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
