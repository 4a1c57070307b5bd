//! Namespace labels for the webhook: an AdmissionReview names the namespace but does not carry
//! its labels, which Pod Security namespace labels (`pod-security.kubernetes.io/*`), the
//! `namespaceSelector` of rule scopes and the opt-out label need.
//!
//! - [`NamespaceLabels`]: where labels come from (the server asks it once per review);
//! - [`NamespaceCache`]: the labels of every namespace, filled by a [`NamespaceWatcher`];
//! - [`NamespaceWatcher`]: list + watch of `/api/v1/namespaces` against the Kubernetes API
//!   (HTTPS with the service-account token and CA, or plain HTTP for tests), following
//!   `resourceVersion`: a watch that ends is resumed from the last version seen (bookmarks
//!   included); `410 Gone` (or an `ERROR` event with code 410) relists; connection errors back
//!   off exponentially (0.5 s doubling to 30 s) and resume;
//! - [`StaticNamespaces`]: fixed labels (tests, `policy check`).
//!
//! A namespace the cache does not know (not yet listed, or created a moment ago and not yet
//! seen by the watch) has unknown labels: the engine then applies rules with their own
//! level/version, label selectors see no labels, and the opt-out label does not apply.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde::Deserialize;

/// Labels of one namespace.
pub type Labels = BTreeMap<String, String>;

/// Where namespace labels come from.
pub trait NamespaceLabels: Send + Sync {
    /// The labels of `namespace`, or `None` when they are not known.
    fn labels(&self, namespace: &str) -> Option<Arc<Labels>>;
}

/// Fixed labels by namespace name.
#[derive(Debug, Clone, Default)]
pub struct StaticNamespaces(pub HashMap<String, Arc<Labels>>);

impl StaticNamespaces {
    /// Adds `namespace` with `labels`.
    pub fn with(mut self, namespace: &str, labels: &[(&str, &str)]) -> StaticNamespaces {
        let l = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        self.0.insert(namespace.to_string(), Arc::new(l));
        self
    }
}

impl NamespaceLabels for StaticNamespaces {
    fn labels(&self, namespace: &str) -> Option<Arc<Labels>> {
        self.0.get(namespace).cloned()
    }
}

/// Counters of the watch, for `/metrics`.
#[derive(Debug, Default)]
pub struct WatchStats {
    /// Full lists done (the first one and every relist).
    pub lists: AtomicU64,
    /// Watch requests started (resumes included).
    pub watches: AtomicU64,
    /// Watch events applied (ADDED, MODIFIED, DELETED, BOOKMARK).
    pub events: AtomicU64,
    /// Failed list/watch requests (connection, HTTP or decoding errors).
    pub errors: AtomicU64,
}

/// The labels of every namespace, kept current by a [`NamespaceWatcher`].
#[derive(Debug, Default)]
pub struct NamespaceCache {
    map: RwLock<HashMap<String, Arc<Labels>>>,
    synced: AtomicBool,
    stats: WatchStats,
}

impl NamespaceCache {
    /// An empty, not yet synced cache.
    pub fn new() -> Arc<NamespaceCache> {
        Arc::new(NamespaceCache::default())
    }

    /// Whether a full list has been loaded.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Number of namespaces known.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no namespace is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watch counters.
    pub fn stats(&self) -> &WatchStats {
        &self.stats
    }

    fn replace(&self, all: HashMap<String, Arc<Labels>>) {
        if let Ok(mut m) = self.map.write() {
            *m = all;
        }
        self.synced.store(true, Ordering::Release);
    }

    fn upsert(&self, name: String, labels: Labels) {
        if let Ok(mut m) = self.map.write() {
            m.insert(name, Arc::new(labels));
        }
    }

    fn remove(&self, name: &str) {
        if let Ok(mut m) = self.map.write() {
            m.remove(name);
        }
    }
}

impl NamespaceLabels for NamespaceCache {
    fn labels(&self, namespace: &str) -> Option<Arc<Labels>> {
        self.map.read().ok()?.get(namespace).cloned()
    }
}

/// Talking to the Kubernetes API failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No in-cluster configuration (not running in a pod with a service account).
    #[error("not running in a Kubernetes cluster: {0}")]
    NotInCluster(String),
    /// A configuration file could not be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The API URL is not `http(s)://HOST[:PORT]`.
    #[error("bad Kubernetes API URL {0:?}: expected http(s)://HOST[:PORT]")]
    Url(String),
    /// Connecting, TLS or HTTP failed.
    #[error("kubernetes API {0}")]
    Io(String),
    /// The API answered with an HTTP error.
    #[error("kubernetes API answered {code} to {path}: {body}")]
    Status {
        /// HTTP status.
        code: u16,
        /// The request path.
        path: String,
        /// Start of the body.
        body: String,
    },
    /// The answer was not the expected JSON.
    #[error("kubernetes API sent undecodable {what}: {reason}")]
    Decode {
        /// What was decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

fn io(e: impl std::fmt::Display) -> KubeError {
    KubeError::Io(e.to_string())
}

const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// How to reach the Kubernetes API.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// `https://HOST:PORT` (or `http://` for tests).
    pub url: String,
    /// Bearer token file, re-read on every connection (projected tokens rotate).
    pub token_file: Option<PathBuf>,
    /// CA bundle for `https://` (PEM).
    pub ca_file: Option<PathBuf>,
}

impl KubeConfig {
    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`_PORT` and the pod's service
    /// account token and CA.
    pub fn in_cluster() -> Result<KubeConfig, KubeError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| KubeError::NotInCluster("KUBERNETES_SERVICE_HOST is not set".into()))?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let token = Path::new(SA_DIR).join("token");
        if !token.is_file() {
            return Err(KubeError::NotInCluster(format!(
                "no service account token at {}",
                token.display()
            )));
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        Ok(KubeConfig {
            url: format!("https://{host}:{port}"),
            token_file: Some(token),
            ca_file: Some(Path::new(SA_DIR).join("ca.crt")),
        })
    }
}

/// A parsed API endpoint with its TLS settings.
#[derive(Clone)]
struct Endpoint {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    token_file: Option<PathBuf>,
}

impl Endpoint {
    fn new(cfg: &KubeConfig) -> Result<Endpoint, KubeError> {
        let (https, rest) = if let Some(r) = cfg.url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = cfg.url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(KubeError::Url(cfg.url.clone()));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) => (h.to_string(), p),
                Err(_) if rest.starts_with('[') && rest.ends_with(']') => {
                    (rest.to_string(), if https { 443 } else { 80 })
                }
                Err(_) => return Err(KubeError::Url(cfg.url.clone())),
            },
            _ => (rest.to_string(), if https { 443 } else { 80 }),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() || host.contains('/') {
            return Err(KubeError::Url(cfg.url.clone()));
        }
        let tls = if https {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(ca) = &cfg.ca_file {
                let err = |reason: String| KubeError::File {
                    path: ca.display().to_string(),
                    reason,
                };
                for c in CertificateDer::pem_file_iter(ca).map_err(|e| err(e.to_string()))? {
                    roots
                        .add(c.map_err(|e| err(e.to_string()))?)
                        .map_err(|e| err(e.to_string()))?;
                }
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(io)?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = ServerName::try_from(host.clone()).map_err(io)?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Endpoint {
            host,
            port,
            tls,
            token_file: cfg.token_file.clone(),
        })
    }

    /// Sends `GET path` on a new connection; returns the response with a streaming body.
    async fn get(
        &self,
        path: &str,
        connect_timeout: Duration,
    ) -> Result<hyper::Response<hyper::body::Incoming>, KubeError> {
        let tcp = tokio::time::timeout(
            connect_timeout,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| KubeError::Io(format!("connect to {}:{} timed out", self.host, self.port)))?
        .map_err(|e| KubeError::Io(format!("connect to {}:{}: {e}", self.host, self.port)))?;
        let _ = tcp.set_nodelay(true);
        let token = match &self.token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| KubeError::File {
                        path: f.display().to_string(),
                        reason: e.to_string(),
                    })?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let mut req = hyper::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", &self.host)
            .header("accept", "application/json")
            .header("user-agent", "mamori-admission");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(io)?;
        let resp = match &self.tls {
            Some((tls, name)) => {
                let s = tokio::time::timeout(connect_timeout, tls.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| KubeError::Io("TLS handshake timed out".into()))?
                    .map_err(|e| KubeError::Io(format!("TLS: {e}")))?;
                send(hyper_util::rt::TokioIo::new(s), req, connect_timeout).await?
            }
            None => send(hyper_util::rt::TokioIo::new(tcp), req, connect_timeout).await?,
        };
        let code = resp.status().as_u16();
        if code != 200 {
            let body = tokio::time::timeout(connect_timeout, resp.into_body().collect())
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(|b| {
                    String::from_utf8_lossy(&b.to_bytes())
                        .chars()
                        .take(300)
                        .collect()
                })
                .unwrap_or_default();
            return Err(KubeError::Status {
                code,
                path: path.to_string(),
                body,
            });
        }
        Ok(resp)
    }
}

async fn send<T>(
    io_: T,
    req: hyper::Request<Empty<Bytes>>,
    timeout: Duration,
) -> Result<hyper::Response<hyper::body::Incoming>, KubeError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io_)
        .await
        .map_err(io)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    tokio::time::timeout(timeout, sender.send_request(req))
        .await
        .map_err(|_| KubeError::Io("no response headers in time".into()))?
        .map_err(io)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: String,
    labels: Labels,
    resource_version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
    #[serde(rename = "continue")]
    cont: String,
}

#[derive(Debug, Deserialize)]
struct Namespace {
    #[serde(default)]
    metadata: Meta,
}

#[derive(Debug, Deserialize)]
struct NamespaceList {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<Namespace>,
}

#[derive(Debug, Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: serde_json::Value,
}

/// Why a watch stopped.
enum WatchEnd {
    /// The server closed the stream (timeout): resume from the last version.
    Closed,
    /// The version is too old: relist.
    Gone,
}

/// Settings of the watcher.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// Page size of the list.
    pub page_size: u32,
    /// `timeoutSeconds` asked of each watch (the server closes it then; it is resumed).
    pub watch_timeout: Duration,
    /// Connect / TLS / response-header timeout.
    pub connect_timeout: Duration,
    /// First back-off after an error (doubles up to `max_backoff`).
    pub min_backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// A watch stream silent for longer than this is dropped and resumed (the server sends
    /// bookmarks; `watch_timeout` + this is the longest a half-open connection can hang).
    pub idle_timeout: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            page_size: 500,
            watch_timeout: Duration::from_secs(290),
            connect_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(330),
        }
    }
}

/// Keeps a [`NamespaceCache`] current with list + watch.
pub struct NamespaceWatcher {
    endpoint: Endpoint,
    cache: Arc<NamespaceCache>,
    settings: WatchSettings,
}

impl NamespaceWatcher {
    /// A watcher of the API at `cfg` filling `cache`.
    pub fn new(
        cfg: &KubeConfig,
        cache: Arc<NamespaceCache>,
        settings: WatchSettings,
    ) -> Result<NamespaceWatcher, KubeError> {
        Ok(NamespaceWatcher {
            endpoint: Endpoint::new(cfg)?,
            cache,
            settings,
        })
    }

    /// Lists every namespace (following `continue`) into the cache; returns the list's
    /// `resourceVersion`.
    pub async fn list(&self) -> Result<String, KubeError> {
        self.cache.stats.lists.fetch_add(1, Ordering::Relaxed);
        let mut all = HashMap::new();
        let mut cont = String::new();
        loop {
            let mut path = format!("/api/v1/namespaces?limit={}", self.settings.page_size);
            if !cont.is_empty() {
                path.push_str("&continue=");
                path.push_str(&percent_encode(&cont));
            }
            let resp = self
                .endpoint
                .get(&path, self.settings.connect_timeout)
                .await?;
            let body = tokio::time::timeout(self.settings.idle_timeout, resp.into_body().collect())
                .await
                .map_err(|_| KubeError::Io("namespace list body timed out".into()))?
                .map_err(io)?
                .to_bytes();
            let list: NamespaceList =
                serde_json::from_slice(&body).map_err(|e| KubeError::Decode {
                    what: "namespace list",
                    reason: e.to_string(),
                })?;
            for ns in list.items {
                all.insert(ns.metadata.name, Arc::new(ns.metadata.labels));
            }
            if list.metadata.cont.is_empty() {
                self.cache.replace(all);
                return Ok(list.metadata.resource_version);
            }
            cont = list.metadata.cont;
        }
    }

    /// Watches from `version`, applying events and updating `version` as they come.
    async fn watch(&self, version: &mut String) -> Result<WatchEnd, KubeError> {
        self.cache.stats.watches.fetch_add(1, Ordering::Relaxed);
        let path = format!(
            "/api/v1/namespaces?watch=1&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
            self.settings.watch_timeout.as_secs().max(1),
            percent_encode(version)
        );
        let resp = match self
            .endpoint
            .get(&path, self.settings.connect_timeout)
            .await
        {
            Err(KubeError::Status { code: 410, .. }) => return Ok(WatchEnd::Gone),
            r => r?,
        };
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let frame = match tokio::time::timeout(self.settings.idle_timeout, body.frame()).await {
                Err(_) => return Err(KubeError::Io("watch stream idle too long".into())),
                Ok(None) => return Ok(WatchEnd::Closed),
                Ok(Some(f)) => f.map_err(io)?,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let WatchLine::Gone = self.apply(&line, version)? {
                    return Ok(WatchEnd::Gone);
                }
            }
            if buf.len() > 4 * 1024 * 1024 {
                return Err(KubeError::Decode {
                    what: "watch event",
                    reason: "a line longer than 4 MiB".into(),
                });
            }
        }
    }

    fn apply(&self, line: &[u8], version: &mut String) -> Result<WatchLine, KubeError> {
        let ev: WatchEvent = serde_json::from_slice(line).map_err(|e| KubeError::Decode {
            what: "watch event",
            reason: e.to_string(),
        })?;
        if ev.kind == "ERROR" {
            let code = ev.object.get("code").and_then(|c| c.as_u64()).unwrap_or(0);
            if code == 410 {
                return Ok(WatchLine::Gone);
            }
            let msg = ev
                .object
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .to_string();
            return Err(KubeError::Status {
                code: u16::try_from(code).unwrap_or(0),
                path: "watch".into(),
                body: msg,
            });
        }
        let ns: Namespace = serde_json::from_value(ev.object).map_err(|e| KubeError::Decode {
            what: "namespace in a watch event",
            reason: e.to_string(),
        })?;
        let meta = ns.metadata;
        if !meta.resource_version.is_empty() {
            version.clone_from(&meta.resource_version);
        }
        match ev.kind.as_str() {
            "ADDED" | "MODIFIED" => self.cache.upsert(meta.name, meta.labels),
            "DELETED" => self.cache.remove(&meta.name),
            "BOOKMARK" => {}
            other => {
                return Err(KubeError::Decode {
                    what: "watch event",
                    reason: format!("unknown type {other:?}"),
                })
            }
        }
        self.cache.stats.events.fetch_add(1, Ordering::Relaxed);
        Ok(WatchLine::Applied)
    }

    /// Runs forever: list, then watch and resume; relist on `410 Gone`; back off on errors.
    pub async fn run(self) {
        let mut version: Option<String> = None;
        let mut backoff = self.settings.min_backoff;
        let mut failing = false;
        loop {
            let step = match version.as_mut() {
                None => self.list().await.map(|v| {
                    version = Some(v);
                    true
                }),
                Some(v) => match self.watch(v).await {
                    Ok(WatchEnd::Closed) => Ok(true),
                    Ok(WatchEnd::Gone) => {
                        tracing::info!("namespace watch: resourceVersion too old; relisting");
                        version = None;
                        Ok(true)
                    }
                    Err(e) => Err(e),
                },
            };
            match step {
                Ok(_) => {
                    if failing {
                        tracing::info!("namespace watch: connected again");
                    }
                    failing = false;
                    backoff = self.settings.min_backoff;
                }
                Err(e) => {
                    self.cache.stats.errors.fetch_add(1, Ordering::Relaxed);
                    if !failing {
                        tracing::warn!(error = %e, "namespace watch failed; retrying with back-off (namespace labels may be stale)");
                    } else {
                        tracing::debug!(error = %e, "namespace watch failed again");
                    }
                    failing = true;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
            }
        }
    }
}

enum WatchLine {
    Applied,
    Gone,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_and_without_ports() {
        let e = |u: &str| {
            Endpoint::new(&KubeConfig {
                url: u.into(),
                token_file: None,
                ca_file: None,
            })
        };
        let a = e("http://127.0.0.1:8080").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 8080));
        let b = e("https://[fd00::1]:6443").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("fd00::1", 6443));
        let c = e("https://kubernetes.default.svc").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("kubernetes.default.svc", 443));
        assert!(matches!(e("ftp://x"), Err(KubeError::Url(_))));
        assert!(matches!(e("http://h:notaport"), Err(KubeError::Url(_))));
        assert!(matches!(e("http://"), Err(KubeError::Url(_))));
    }

    #[test]
    fn percent_encoding_keeps_unreserved() {
        assert_eq!(percent_encode("a-b_c.d~1"), "a-b_c.d~1");
        assert_eq!(percent_encode("x=y&z"), "x%3Dy%26z");
    }
}
