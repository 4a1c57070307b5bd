//! `mamori admission serve`: the HTTPS admission webhook.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use std::sync::atomic::{AtomicU64, Ordering};

use mamori_admission::metrics::Metrics;
use mamori_admission::namespaces::{KubeConfig, NamespaceCache, NamespaceWatcher, WatchSettings};
use mamori_admission::scanner::RegistryScanner;
use mamori_admission::tls::{write_self_signed, ReloadingCert};
use mamori_admission::verdicts::{CacheSettings, CacheStats, ScanCache};
use mamori_admission::{router, AppState, EventSink, Limits, Server};
use mamori_core::event::Value as EventValue;
use mamori_image::{RegistryOptions, ScanOptions};
use mamori_policy::{Decision, DecisionKind, Engine, Policy, RuleKind};
use mamori_rules::{evt_time, rfc3339_nanos, Alert};
use mamori_vulndb::{Database, OpenError, Suppressions};

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
    /// Where decision events go (repeatable): stdout, file:PATH, http://URL (the console's
    /// ingest API; token from MAMORI_TOKEN), syslog[:PATH], syslog:udp:HOST:PORT, or none.
    /// The same outputs as `mamori runtime --output`.
    #[arg(long = "output", value_name = "OUTPUT", default_value = "stdout")]
    pub outputs: Vec<String>,
    /// Older spelling: `--events stdout|none` (same as `--output stdout|none`).
    #[arg(long, value_name = "WHERE", hide = true, value_parser = ["stdout", "none"], conflicts_with = "outputs")]
    pub events: Option<String>,
    /// Namespace labels (Pod Security namespace labels, namespaceSelector scopes, the opt-out
    /// label): `auto` watches Namespaces through the Kubernetes API when running in a cluster
    /// (or with --kube-api); `off` never does.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = ["auto", "off"])]
    pub namespace_labels: String,
    /// Kubernetes API URL for the namespace watch (default: in-cluster configuration).
    #[arg(long, value_name = "URL")]
    pub kube_api: Option<String>,
    /// Bearer token file for --kube-api.
    #[arg(long, value_name = "FILE", requires = "kube_api")]
    pub kube_token_file: Option<PathBuf>,
    /// CA bundle for an https --kube-api.
    #[arg(long, value_name = "FILE", requires = "kube_api")]
    pub kube_ca_file: Option<PathBuf>,
    /// Vulnerability database for scanResult rules (default: $XDG_CACHE_HOME/mamori/db).
    #[arg(long, value_name = "DIR", env = "MAMORI_DB")]
    pub db: Option<PathBuf>,
    /// How long a review waits for a scan it started, in milliseconds; past it the image
    /// counts as unscanned for that review.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub scan_budget_ms: u64,
    /// Scans waiting at most; further misses are not queued (the image counts as unscanned).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub scan_queue: usize,
    /// Scan worker threads.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub scan_workers: usize,
    /// Rescan an image (in the background, serving the old verdict) after this many minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 360)]
    pub scan_ttl_minutes: u64,
    /// Pull images for scanning over plain HTTP (test registries).
    #[arg(long)]
    pub scan_insecure_registry: bool,
    /// Docker config file with registry credentials for scanning.
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
}

/// Priority of an admission decision in the outputs.
fn priority(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Denied => "Critical",
        DecisionKind::Warned => "Warning",
        DecisionKind::Audited => "Notice",
        DecisionKind::Allowed | DecisionKind::Bypassed => "Informational",
    }
}

fn json_of(v: &EventValue) -> serde_json::Value {
    match v {
        EventValue::Bool(b) => serde_json::Value::Bool(*b),
        EventValue::Int(i) => serde_json::Value::from(*i),
        EventValue::Str(s) => serde_json::Value::String(s.clone()),
        EventValue::List(l) => serde_json::Value::from(l.clone()),
    }
}

/// An admission decision as a Falco-shaped alert (source `admission`), so the console and log
/// pipelines see admission decisions next to runtime alerts. `status` is `block` for denials
/// and `detect` for audits and warnings.
pub fn decision_alert(d: &Decision, policy: &str, time_ns: u64, hostname: &str) -> Alert {
    let ev = d.to_event(time_ns);
    let mut fields = serde_json::Map::new();
    for (k, v) in &ev.fields {
        fields.insert(k.clone(), json_of(v));
    }
    fields.insert("evt.time".into(), serde_json::Value::from(time_ns));
    fields.insert("admission.policy".into(), policy.into());
    let prio = priority(d.kind);
    let rules: Vec<&str> = d.results.iter().map(|r| r.rule_id.as_str()).collect();
    let what = match &d.message {
        Some(m) => m.clone(),
        None if !d.warnings.is_empty() => d.warnings.join("; "),
        None => format!("{} {:?} {}", d.resource_phrase(), d.name, d.kind.as_str()),
    };
    let text = format!(
        "{what} (decision={} operation={} resource={} name={} ns={} user={} rules={})",
        d.kind.as_str(),
        d.operation,
        d.resource_phrase(),
        d.name,
        d.namespace,
        d.user,
        if rules.is_empty() {
            "-".to_string()
        } else {
            rules.join(",")
        }
    );
    let rule = match rules.first() {
        Some(id) => format!("{policy}: {id}"),
        None => format!("{policy}: {}", d.kind.as_str()),
    };
    let status = match d.kind {
        DecisionKind::Denied => Some("block".to_string()),
        DecisionKind::Warned | DecisionKind::Audited => Some("detect".to_string()),
        _ => None,
    };
    let mut tags = vec![
        "mamori".to_string(),
        "admission".to_string(),
        d.kind.as_str().to_string(),
    ];
    for r in &d.results {
        if !tags.iter().any(|t| t == r.rule_type) {
            tags.push(r.rule_type.to_string());
        }
    }
    Alert {
        hostname: hostname.to_string(),
        output: format!("{}: {prio} {text}", evt_time(time_ns)),
        output_fields: fields,
        priority: prio.into(),
        rule,
        source: "admission".into(),
        tags,
        time: rfc3339_nanos(time_ns),
        status,
    }
}

/// Queues decisions for the output thread; never blocks the request path (a full queue drops
/// and counts).
struct OutputSink {
    tx: std::sync::mpsc::SyncSender<(Decision, u64)>,
    dropped: AtomicU64,
}

impl EventSink for OutputSink {
    fn emit(&self, decision: Decision, time_ns: u64) {
        if self.tx.try_send((decision, time_ns)).is_err()
            && self.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            eprintln!("warning: decision output queue full; decisions are being dropped (counted in the exit summary)");
        }
    }
}

/// Starts the output thread; returns the sink and the thread (joined at shutdown).
fn start_outputs(
    specs: Vec<String>,
    policy: String,
) -> anyhow::Result<Option<(Arc<OutputSink>, std::thread::JoinHandle<()>)>> {
    if specs.iter().all(|s| s == "none") {
        return Ok(None);
    }
    let specs: Vec<String> = specs.into_iter().filter(|s| s != "none").collect();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Decision, u64)>(8192);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let handle = std::thread::Builder::new()
        .name("mamori-outputs".into())
        .spawn(move || {
            // Built here: the stdout output holds a lock that cannot cross threads.
            let mut fanout = match crate::cmd_runtime::build_outputs(&specs) {
                Ok(f) => {
                    let _ = ready_tx.send(Ok(()));
                    f
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            for (d, ns) in rx {
                fanout.send(&decision_alert(&d, &policy, ns, &host));
            }
            for (name, c) in fanout.finish() {
                tracing::info!(output = %name, received = c.received, sent = c.sent, dropped = c.dropped, "output");
                if c.dropped > 0 {
                    eprintln!("warning: output {name}: {} decision(s) dropped", c.dropped);
                }
            }
        })
        .context("cannot start the output thread")?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => anyhow::bail!("{e}"),
        Err(_) => anyhow::bail!("the output thread ended early"),
    }
    Ok(Some((
        Arc::new(OutputSink {
            tx,
            dropped: AtomicU64::new(0),
        }),
        handle,
    )))
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
        ..Limits::default()
    };
    let policy_name = policy.name.clone();
    let has_scan_rules = policy
        .rules
        .iter()
        .any(|r| matches!(r.kind, RuleKind::ScanResult(_)));
    let mut engine = Engine::new(policy);
    let mut scan_cache = None;
    if has_scan_rules {
        let dir = match &args.db {
            Some(d) => d.clone(),
            None => crate::cmd_db::default_db_dir()?,
        };
        match Database::open(&dir) {
            Ok(db) => {
                let options = ScanOptions {
                    registry: RegistryOptions {
                        insecure: args.scan_insecure_registry,
                        docker_config: args.docker_config.clone(),
                        timeout: Some(Duration::from_secs(30)),
                        ..RegistryOptions::default()
                    },
                    ..ScanOptions::default()
                };
                let scanner = RegistryScanner::new(Arc::new(db), options, Suppressions::new());
                let cache = ScanCache::start(
                    Arc::new(scanner),
                    CacheSettings {
                        verdict_ttl: Duration::from_secs(args.scan_ttl_minutes.max(1) * 60),
                        budget: Duration::from_millis(args.scan_budget_ms),
                        queue: args.scan_queue,
                        workers: args.scan_workers,
                        ..CacheSettings::default()
                    },
                );
                eprintln!(
                    "scanResult rules: images are scanned on first use with the database at {} (budget {} ms per review; a scan not finished by then counts as unscanned for that review)",
                    dir.display(),
                    args.scan_budget_ms
                );
                engine = engine.with_verdicts(cache.clone());
                scan_cache = Some(cache);
            }
            Err(OpenError::Missing(path)) => eprintln!(
                "warning: no vulnerability database at {}: scanResult rules see every image as unscanned (run `mamori db import` or pass --db DIR)",
                path.display()
            ),
            Err(e) => return Err(e).context("opening the vulnerability database"),
        }
    }
    let engine = Arc::new(engine);
    let metrics = Metrics::default();
    metrics.watch_certificate(certs.clone());
    if let Some(c) = &scan_cache {
        register_scan_metrics(&metrics, c.clone());
    }
    let kube = if args.namespace_labels == "off" {
        eprintln!("namespace labels: off (--namespace-labels off): Pod Security namespace labels, namespaceSelector scopes and the opt-out label are not applied");
        None
    } else {
        let cfg = match &args.kube_api {
            Some(url) => Ok(KubeConfig {
                url: url.clone(),
                token_file: args.kube_token_file.clone(),
                ca_file: args.kube_ca_file.clone(),
            }),
            None => KubeConfig::in_cluster(),
        };
        match cfg {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("namespace labels unavailable ({e}): Pod Security namespace labels, namespaceSelector scopes and the opt-out label are not applied; rules use their own level/version and selectors see no labels (bypass by namespace name still works)");
                None
            }
        }
    };
    let mut builder = AppState::builder(engine, limits);
    let ns_cache = kube.as_ref().map(|_| NamespaceCache::new());
    if let Some(c) = &ns_cache {
        metrics.watch_namespaces(c.clone());
        builder = builder.namespaces(c.clone());
    }
    let specs = match &args.events {
        Some(e) => vec![e.clone()],
        None => args.outputs.clone(),
    };
    let outputs = start_outputs(specs, policy_name)?;
    if let Some((sink, _)) = &outputs {
        builder = builder.sink(sink.clone());
    }
    let state = builder.metrics(metrics).build();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if let (Some(cfg), Some(cache)) = (kube, ns_cache) {
            let watcher = NamespaceWatcher::new(&cfg, cache, WatchSettings::default())
                .context("namespace watch")?;
            eprintln!("namespace labels: watching namespaces at {}", cfg.url);
            tokio::spawn(watcher.run());
        }
        let server = Server::bind(args.listen, certs, router(state)).await?;
        tracing::info!(addr = %server.local_addr()?, "admission webhook listening");
        eprintln!("listening on https://{}", server.local_addr()?);
        server.run(shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    // The runtime (and with it the router's sink handle) is gone: the output thread drains.
    drop(runtime);
    if let Some((sink, handle)) = outputs {
        let dropped = sink.dropped.load(Ordering::Relaxed);
        drop(sink);
        let _ = handle.join();
        if dropped > 0 {
            eprintln!("warning: {dropped} decision(s) dropped: the output queue was full");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn register_scan_metrics(metrics: &Metrics, cache: Arc<ScanCache>) {
    type Pick = fn(&CacheStats) -> &AtomicU64;
    let counters: [(&str, &str, Pick); 6] = [
        (
            "mamori_admission_scan_cache_hits_total",
            "Verdict lookups answered from the cache.",
            |s| &s.hits,
        ),
        (
            "mamori_admission_scan_cache_misses_total",
            "Verdict lookups that queued or waited for a scan.",
            |s| &s.misses,
        ),
        (
            "mamori_admission_scans_total",
            "Image scans finished.",
            |s| &s.scans,
        ),
        (
            "mamori_admission_scan_errors_total",
            "Image scans that failed.",
            |s| &s.scan_errors,
        ),
        (
            "mamori_admission_scan_queue_full_total",
            "Misses not queued: the scan queue was full.",
            |s| &s.queue_full,
        ),
        (
            "mamori_admission_scan_budget_exceeded_total",
            "Reviews decided without a verdict: the scan did not finish within the budget.",
            |s| &s.budget_exceeded,
        ),
    ];
    for (name, help, pick) in counters {
        let c = cache.clone();
        metrics.counter(
            name,
            help,
            Box::new(move || pick(c.stats()).load(Ordering::Relaxed) as f64),
        );
    }
    metrics.gauge(
        "mamori_admission_scan_cache_entries",
        "Verdicts cached (by image digest).",
        Box::new(move || cache.len() as f64),
    );
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
