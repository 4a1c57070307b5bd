//! The HTTPS server: axum router, TLS accept loop, certificate reloading.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use mamori_policy::document::RuleKind;
use mamori_policy::{Decision, Engine};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::namespaces::NamespaceLabels;
use crate::review::{review_with, ReviewError, Reviewed};
use crate::tls::ReloadingCert;

/// Receives every decision (the binary forwards them to its outputs as events).
pub trait EventSink: Send + Sync {
    /// Called once per decided review, after the response is built; `time_ns` is the decision
    /// time (nanoseconds since the epoch). Must not block: queue and return.
    fn emit(&self, decision: Decision, time_ns: u64);
}

/// Server limits and behaviour.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (bytes); larger bodies get 413.
    pub max_body: usize,
    /// Time allowed for one review, below the webhook's `timeoutSeconds`; past it the server
    /// answers 503 and the API server applies the webhook's `failurePolicy`.
    pub deadline: Duration,
    /// Reviews evaluated at the same time on the blocking pool (large bodies, policies with
    /// scan-result rules); further requests wait (within the deadline). Inline reviews are
    /// bounded by the runtime's worker threads instead.
    pub max_concurrent: usize,
    /// Bodies up to this size are decided inline on the connection's task (a review of a
    /// usual pod takes tens of microseconds; a thread hand-off costs more than that); larger
    /// ones, and every review when the engine may wait for a scan, go to the blocking pool.
    pub inline_max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 3 * 1024 * 1024,
            deadline: Duration::from_secs(4),
            max_concurrent: 64,
            inline_max_body: 64 * 1024,
        }
    }
}

/// Shared state of the handlers.
pub struct AppState {
    engine: Arc<Engine>,
    metrics: Metrics,
    permits: Arc<Semaphore>,
    limits: Limits,
    ready: AtomicBool,
    sink: Option<Arc<dyn EventSink>>,
    namespaces: Option<Arc<dyn NamespaceLabels>>,
    engine_may_block: bool,
}

/// Builds an [`AppState`].
pub struct AppStateBuilder {
    engine: Arc<Engine>,
    limits: Limits,
    sink: Option<Arc<dyn EventSink>>,
    namespaces: Option<Arc<dyn NamespaceLabels>>,
    metrics: Metrics,
}

impl AppStateBuilder {
    /// Sends every decision to `sink`.
    pub fn sink(mut self, sink: Arc<dyn EventSink>) -> AppStateBuilder {
        self.sink = Some(sink);
        self
    }

    /// Looks namespace labels up in `namespaces`.
    pub fn namespaces(mut self, namespaces: Arc<dyn NamespaceLabels>) -> AppStateBuilder {
        self.namespaces = Some(namespaces);
        self
    }

    /// Uses `metrics` (e.g. with extra gauges registered).
    pub fn metrics(mut self, metrics: Metrics) -> AppStateBuilder {
        self.metrics = metrics;
        self
    }

    /// The state, ready immediately.
    pub fn build(self) -> Arc<AppState> {
        let engine_may_block = self
            .engine
            .policy()
            .rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::ScanResult(_)));
        Arc::new(AppState {
            engine: self.engine,
            metrics: self.metrics,
            permits: Arc::new(Semaphore::new(self.limits.max_concurrent.max(1))),
            limits: self.limits,
            ready: AtomicBool::new(true),
            sink: self.sink,
            namespaces: self.namespaces,
            engine_may_block,
        })
    }
}

impl AppState {
    /// A builder for `engine` with `limits`.
    pub fn builder(engine: Arc<Engine>, limits: Limits) -> AppStateBuilder {
        AppStateBuilder {
            engine,
            limits,
            sink: None,
            namespaces: None,
            metrics: Metrics::default(),
        }
    }

    /// State for `engine` with `limits`; ready immediately.
    pub fn new(engine: Arc<Engine>, limits: Limits) -> Arc<AppState> {
        AppState::builder(engine, limits).build()
    }

    /// Same as [`AppState::new`] with an event sink for decisions.
    pub fn with_sink(
        engine: Arc<Engine>,
        limits: Limits,
        sink: Arc<dyn EventSink>,
    ) -> Arc<AppState> {
        AppState::builder(engine, limits).sink(sink).build()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Marks the server ready or not (`/readyz`).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// The router: `POST /validate`, `GET /healthz`, `GET /readyz`, `GET /metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.limits.max_body;
    Router::new()
        .route("/validate", post(validate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn json_error(code: StatusCode, reason: &str) -> Response {
    let body =
        serde_json::json!({"error": code.canonical_reason().unwrap_or("error"), "reason": reason});
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn validate(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = Instant::now();
    let deadline = s.limits.deadline;
    let (code, response) = if body.len() <= s.limits.inline_max_body && !s.engine_may_block {
        decide_inline(&s, &body)
    } else {
        match tokio::time::timeout(deadline, decide_blocking(&s, body)).await {
            Ok(r) => r,
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "review not decided within the deadline",
                ),
            ),
        }
    };
    s.metrics.observe_request(code.as_u16(), start.elapsed());
    response
}

/// Decides on the current task: no thread hand-off. The concurrency bound is not needed here:
/// the work is bounded by the body size and runs on the runtime's few worker threads.
fn decide_inline(s: &Arc<AppState>, body: &[u8]) -> (StatusCode, Response) {
    let now = time::OffsetDateTime::now_utc();
    let r = review_with(&s.engine, body, now, s.namespaces.as_deref());
    answer(s, r)
}

async fn decide_blocking(s: &Arc<AppState>, body: Bytes) -> (StatusCode, Response) {
    // The permit moves into the blocking task, so work abandoned at the deadline still counts
    // against the bound until it finishes.
    let Ok(permit) = s.permits.clone().acquire_owned().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            json_error(StatusCode::SERVICE_UNAVAILABLE, "server shutting down"),
        );
    };
    let state = s.clone();
    let now = time::OffsetDateTime::now_utc();
    let joined = tokio::task::spawn_blocking(move || {
        let r = review_with(&state.engine, &body, now, state.namespaces.as_deref());
        drop(permit);
        r
    })
    .await;
    match joined {
        Ok(r) => answer(s, r),
        Err(e) => {
            tracing::error!(error = %e, "policy evaluation failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "policy evaluation failed",
                ),
            )
        }
    }
}

fn answer(s: &AppState, r: Result<Reviewed, ReviewError>) -> (StatusCode, Response) {
    match r {
        Ok(r) => {
            s.metrics.observe_decision(r.decision.kind);
            tracing::debug!(
                decision = r.decision.kind.as_str(),
                kind = %r.decision.object_kind,
                namespace = %r.decision.namespace,
                name = %r.decision.name,
                "admission review decided"
            );
            let response = (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                r.body,
            )
                .into_response();
            if let Some(sink) = &s.sink {
                let ns = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                    .unwrap_or(0);
                sink.emit(r.decision, ns);
            }
            (StatusCode::OK, response)
        }
        Err(e) => {
            let msg = e.to_string();
            tracing::info!(error = %msg, "bad admission review");
            let code = match e {
                ReviewError::Malformed(_)
                | ReviewError::Unsupported(_)
                | ReviewError::NoRequest
                | ReviewError::Operation(_) => StatusCode::BAD_REQUEST,
            };
            (code, json_error(code, &msg))
        }
    }
}

/// Serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A bound HTTPS server, not yet running.
pub struct Server {
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    certs: Arc<ReloadingCert>,
    app: Router,
    reload_every: Duration,
}

impl Server {
    /// Binds `addr` and prepares TLS with `certs` for the router `app`.
    pub async fn bind(
        addr: SocketAddr,
        certs: Arc<ReloadingCert>,
        app: Router,
    ) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServeError::Bind {
                addr: addr.to_string(),
                source: std::io::Error::other(e),
            })?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Server {
            listener,
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            certs,
            app,
            reload_every: Duration::from_secs(2),
        })
    }

    /// How often certificate files are checked for changes (default 2 s).
    pub fn reload_every(mut self, every: Duration) -> Server {
        self.reload_every = every;
        self
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let certs = self.certs.clone();
        let every = self.reload_every;
        let reloader = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let c = certs.clone();
                match tokio::task::spawn_blocking(move || c.reload_if_changed()).await {
                    Ok(Ok(true)) => tracing::info!("serving certificate reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "certificate reload failed; keeping the previous one")
                    }
                    Err(e) => tracing::warn!(error = %e, "certificate reload task failed"),
                }
            }
        });
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                a = self.listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let tls = self.tls.clone();
            let app = self.app.clone();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                let io = hyper_util::rt::TokioIo::new(stream);
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(io, svc);
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        reloader.abort();
    }
}
