//! The Kubernetes CRI API (`runtime.v1.RuntimeService` on the runtime's unix socket): what the
//! runtime's files do not say. containerd writes no pod labels into the OCI annotations, so a
//! runtime policy scoped by `podLabels` could not match a containerd pod without it; the CRI
//! also gives the pod IP and the image's digested reference.
//!
//! [`CriClient`] is synchronous, for the [`ContainerResolver`](super::ContainerResolver), which
//! asks once per container when it first loads it (a scan, not the per-event path). Two calls per
//! container, `ListContainers` filtered by id then `PodSandboxStatus` of its sandbox (cached per
//! sandbox, so the second container of a pod costs one call). Calls run on a worker thread with
//! its own single-threaded tokio runtime, each under a deadline (200 ms by default, connecting
//! included), so a hung runtime costs one deadline and then a back-off, never a stalled sensor;
//! the caller also stops waiting at the deadline. Answers are cached per container for
//! [`CriConfig::ttl`], failures for [`CriConfig::negative_ttl`].
//!
//! The messages are hand-written prost structs ([`proto`]) and the calls go through
//! `tonic::client::Grpc::unary`: no protoc, no generated code.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ContainerInfo, RuntimeKind};

pub mod proto;
mod worker;

/// The sockets tried by default, in order: containerd, CRI-O, cri-dockerd.
pub const DEFAULT_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
];

/// The largest answer decoded (one container or one pod status is a few KiB).
const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Entries kept before expired ones are swept.
const MAX_CACHED: usize = 4096;
/// How long the caller waits beyond the worker's own deadline before giving up on it.
const REPLY_SLACK: Duration = Duration::from_millis(50);

/// How the CRI API is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriConfig {
    /// Whether to query the CRI API at all.
    pub enabled: bool,
    /// The sockets tried in order; the first that exists is used. Looked for again at most
    /// once per [`negative_ttl`](Self::negative_ttl) while none exists.
    pub sockets: Vec<PathBuf>,
    /// The deadline of one call, connecting included.
    pub timeout: Duration,
    /// How long an answer is kept. The CRI reports the labels a pod was created with, which do
    /// not change; this only bounds how long a gone container's entry lives.
    pub ttl: Duration,
    /// How long a failure for one container (not found, bad answer) is kept.
    pub negative_ttl: Duration,
    /// How long no call is made after the runtime did not answer (deadline passed, socket
    /// refused, not an HTTP/2 peer): lookups fail at once meanwhile.
    pub backoff: Duration,
}

impl Default for CriConfig {
    fn default() -> Self {
        CriConfig {
            enabled: true,
            sockets: DEFAULT_SOCKETS.iter().map(PathBuf::from).collect(),
            timeout: Duration::from_millis(200),
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(5),
            backoff: Duration::from_secs(10),
        }
    }
}

/// Why a CRI lookup gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CriError {
    /// CRI lookups are disabled by configuration.
    #[error("CRI lookups are disabled")]
    Disabled,
    /// None of the configured sockets exists.
    #[error("no CRI socket found (looked for {0})")]
    NoSocket(String),
    /// A call did not finish before its deadline.
    #[error("CRI call {method} did not answer within {timeout:?}")]
    Timeout {
        /// The method.
        method: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// A call failed: the runtime's gRPC status, a transport error, or an answer that does
    /// not decode.
    #[error("CRI call {method} failed: {code:?}: {message}")]
    Call {
        /// The method.
        method: &'static str,
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// The runtime does not know the container or sandbox.
    #[error("the CRI runtime does not know {0}")]
    NotFound(String),
    /// The answer lacks what every runtime sends.
    #[error("CRI call {method} answered without {what}")]
    Incomplete {
        /// The method.
        method: &'static str,
        /// The missing part.
        what: &'static str,
    },
    /// Calls are suspended after the runtime failed to answer.
    #[error("CRI calls are suspended for {0:?} after the runtime failed to answer")]
    BackingOff(Duration),
    /// The worker thread could not start or is gone.
    #[error("the CRI worker thread is not running: {0}")]
    Worker(String),
}

impl CriError {
    /// Whether a later lookup may succeed (the runtime was unreachable or slow), as opposed to
    /// an answer about this container (unknown to the runtime, malformed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CriError::Timeout { .. }
                | CriError::BackingOff(_)
                | CriError::Worker(_)
                | CriError::NoSocket(_)
        ) || matches!(
            self,
            CriError::Call { code, .. } if matches!(code, tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled)
        )
    }
}

/// A pod as `PodSandboxStatus` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriPod {
    /// The sandbox id.
    pub sandbox_id: String,
    /// The pod name.
    pub name: Option<String>,
    /// The pod namespace.
    pub namespace: Option<String>,
    /// The pod uid.
    pub uid: Option<String>,
    /// The pod's labels, without the kubelet's own `io.kubernetes.*` ones.
    pub labels: BTreeMap<String, String>,
    /// The pod's primary IP.
    pub ip: Option<String>,
}

/// What the CRI says about one container (or one pod sandbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriContainer {
    /// The container id.
    pub id: String,
    /// The container name of the pod spec (`None` for a sandbox).
    pub name: Option<String>,
    /// The image reference the user wrote, or failing that the one the runtime was given.
    pub image: Option<String>,
    /// The digested image reference (`repo@sha256:…`) or the image id, as the runtime gives it.
    pub image_ref: Option<String>,
    /// The image id (`sha256:…`), when the runtime gives one.
    pub image_id: Option<String>,
    /// The pod.
    pub pod: Arc<CriPod>,
}

impl CriContainer {
    /// Fills `info` with what the runtime state did not say: pod labels and IP always (the
    /// CRI is the source for these), the rest only where `info` has nothing (the annotations
    /// and the CRI agree when both are there).
    pub fn merge_into(&self, info: &mut ContainerInfo) {
        let pod = &self.pod;
        info.pod_labels = Some(pod.labels.clone());
        if pod.ip.is_some() {
            info.pod_ip = pod.ip.clone();
        }
        fill(&mut info.pod_name, &pod.name);
        fill(&mut info.pod_namespace, &pod.namespace);
        fill(&mut info.pod_uid, &pod.uid);
        if info.sandbox_id.is_none() && !info.sandbox {
            info.sandbox_id = Some(pod.sandbox_id.clone());
        }
        if let Some(name) = &self.name {
            if info.name == info.id {
                info.name = name.clone();
            }
        }
        if info.image.is_none() {
            if let Some(image) = &self.image {
                let (repo, tag, digest) = super::split_image(image);
                info.image = Some(image.clone());
                info.image_repository = repo;
                info.image_tag = tag;
                info.image_digest = digest;
            }
        }
        if info.image_digest.is_none() {
            info.image_digest = self
                .image_ref
                .as_deref()
                .and_then(|r| r.split_once('@'))
                .map(|(_, d)| d.to_string())
                .filter(|d| !d.is_empty());
        }
        fill(&mut info.image_id, &self.image_id);
        if info.image_id.is_none() {
            // Without `image_id`, an `image_ref` that is no `repo@digest` is the image id.
            info.image_id = self.image_ref.clone().filter(|r| !r.contains('@'));
        }
    }
}

fn fill(slot: &mut Option<String>, value: &Option<String>) {
    if slot.is_none() {
        slot.clone_from(value);
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Counters of a [`CriClient`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CriStats {
    /// Lookups asked for.
    pub lookups: u64,
    /// Lookups answered from the cache (answers and failures).
    pub cache_hits: u64,
    /// gRPC calls made.
    pub calls: u64,
    /// Calls that failed (deadline passed included).
    pub errors: u64,
    /// Calls that passed their deadline.
    pub timeouts: u64,
}

enum Call {
    ListContainers(String),
    PodSandboxStatus(String),
}

impl Call {
    fn method(&self) -> &'static str {
        match self {
            Call::ListContainers(_) => "ListContainers",
            Call::PodSandboxStatus(_) => "PodSandboxStatus",
        }
    }
}

enum Answer {
    Containers(proto::ListContainersResponse),
    Pod(proto::PodSandboxStatusResponse),
}

struct Job {
    call: Call,
    reply: SyncSender<Result<Answer, CriError>>,
}

type Cached<T> = (Instant, Result<Arc<T>, CriError>);

/// A synchronous, caching CRI client (see the [module](self) documentation).
pub struct CriClient {
    cfg: CriConfig,
    socket: Option<PathBuf>,
    last_probe: Instant,
    worker: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    containers: HashMap<String, Cached<CriContainer>>,
    pods: HashMap<String, Cached<CriPod>>,
    down_until: Option<Instant>,
    stats: CriStats,
}

impl std::fmt::Debug for CriClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CriClient")
            .field("socket", &self.socket)
            .field("stats", &self.stats)
            .finish()
    }
}

impl CriClient {
    /// A client over the first of `cfg.sockets` that exists. When none does, says so once
    /// (info) and looks again later; lookups fail with [`CriError::NoSocket`] meanwhile.
    pub fn new(cfg: CriConfig) -> Self {
        let socket = if cfg.enabled {
            find_socket(&cfg.sockets)
        } else {
            None
        };
        match &socket {
            Some(s) => {
                tracing::info!(socket = %s.display(), "Container and pod context also comes from the CRI API.")
            }
            None if cfg.enabled => tracing::info!(
                sockets = %socket_list(&cfg.sockets),
                "No CRI socket found: pod labels of containerd pods, pod IPs and image digests \
                 stay unknown until one appears."
            ),
            None => {}
        }
        CriClient {
            cfg,
            socket,
            last_probe: Instant::now(),
            worker: None,
            containers: HashMap::new(),
            pods: HashMap::new(),
            down_until: None,
            stats: CriStats::default(),
        }
    }

    /// The socket in use, if one was found.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// The counters so far.
    pub fn stats(&self) -> CriStats {
        self.stats
    }

    /// What the CRI says about container `id` (a pod sandbox when `sandbox`), from the cache
    /// when fresh. At most two calls, each bounded by [`CriConfig::timeout`].
    pub fn lookup(&mut self, id: &str, sandbox: bool) -> Result<Arc<CriContainer>, CriError> {
        self.stats.lookups += 1;
        let now = Instant::now();
        if let Some((at, r)) = self.containers.get(id) {
            let ttl = if r.is_ok() {
                self.cfg.ttl
            } else {
                self.cfg.negative_ttl
            };
            if now.duration_since(*at) < ttl {
                self.stats.cache_hits += 1;
                return r.clone();
            }
        }
        let r = self.fetch(id, sandbox);
        // A runtime that could not be reached says nothing about this container: ask again
        // once it answers, not after the negative TTL.
        if !matches!(&r, Err(e) if e.is_transient()) {
            sweep(&mut self.containers, now, self.cfg.ttl);
            self.containers.insert(id.to_string(), (now, r.clone()));
        }
        r
    }

    /// Looks `info` up and merges the answer into it; the error when there is none.
    pub fn enrich(&mut self, info: &mut ContainerInfo) -> Result<(), CriError> {
        let c = self.lookup(&info.id, info.sandbox)?;
        c.merge_into(info);
        if matches!(info.runtime, RuntimeKind::Runc | RuntimeKind::Unknown) {
            info.runtime = self.runtime_kind();
        }
        Ok(())
    }

    fn runtime_kind(&self) -> RuntimeKind {
        let s = self
            .socket
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if s.contains("containerd") {
            RuntimeKind::Containerd
        } else if s.contains("crio") {
            RuntimeKind::CriO
        } else if s.contains("dockerd") {
            RuntimeKind::Docker
        } else {
            RuntimeKind::Cri
        }
    }

    fn fetch(&mut self, id: &str, sandbox: bool) -> Result<Arc<CriContainer>, CriError> {
        if sandbox {
            let pod = self.pod(id)?;
            return Ok(Arc::new(CriContainer {
                id: id.to_string(),
                name: None,
                image: None,
                image_ref: None,
                image_id: None,
                pod,
            }));
        }
        let method = "ListContainers";
        let Answer::Containers(list) = self.call(Call::ListContainers(id.to_string()))? else {
            return Err(CriError::Incomplete {
                method,
                what: "a container list",
            });
        };
        let Some(c) = list.containers.into_iter().find(|c| c.id == id) else {
            return Err(CriError::NotFound(format!("container {id}")));
        };
        if c.pod_sandbox_id.is_empty() {
            return Err(CriError::Incomplete {
                method,
                what: "a pod sandbox id",
            });
        }
        let pod = self.pod(&c.pod_sandbox_id)?;
        let (image, user_image) = c
            .image
            .map(|i| (i.image, i.user_specified_image))
            .unwrap_or_default();
        Ok(Arc::new(CriContainer {
            id: c.id,
            name: c.metadata.and_then(|m| non_empty(m.name)),
            // The kubelet passes the image id as `image`; the user's reference is better.
            image: non_empty(user_image).or_else(|| non_empty(image).filter(|i| !is_image_id(i))),
            image_ref: non_empty(c.image_ref),
            image_id: non_empty(c.image_id),
            pod,
        }))
    }

    fn pod(&mut self, sandbox_id: &str) -> Result<Arc<CriPod>, CriError> {
        let now = Instant::now();
        if let Some((at, r)) = self.pods.get(sandbox_id) {
            let ttl = if r.is_ok() {
                self.cfg.ttl
            } else {
                self.cfg.negative_ttl
            };
            if now.duration_since(*at) < ttl {
                return r.clone();
            }
        }
        let r = self.fetch_pod(sandbox_id);
        if !matches!(&r, Err(e) if e.is_transient()) {
            sweep(&mut self.pods, now, self.cfg.ttl);
            self.pods.insert(sandbox_id.to_string(), (now, r.clone()));
        }
        r
    }

    fn fetch_pod(&mut self, sandbox_id: &str) -> Result<Arc<CriPod>, CriError> {
        let method = "PodSandboxStatus";
        let answer = match self.call(Call::PodSandboxStatus(sandbox_id.to_string())) {
            Err(CriError::Call {
                code: tonic::Code::NotFound,
                ..
            }) => return Err(CriError::NotFound(format!("pod sandbox {sandbox_id}"))),
            r => r?,
        };
        let Answer::Pod(resp) = answer else {
            return Err(CriError::Incomplete {
                method,
                what: "a pod status",
            });
        };
        let status = resp.status.ok_or(CriError::Incomplete {
            method,
            what: "a status",
        })?;
        let meta = status.metadata.unwrap_or_default();
        let labels = status
            .labels
            .into_iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .collect();
        Ok(Arc::new(CriPod {
            sandbox_id: sandbox_id.to_string(),
            name: non_empty(meta.name),
            namespace: non_empty(meta.namespace),
            uid: non_empty(meta.uid),
            labels,
            ip: status.network.and_then(|n| non_empty(n.ip)),
        }))
    }

    /// One call through the worker, with the back-off after failures to answer.
    fn call(&mut self, call: Call) -> Result<Answer, CriError> {
        let method = call.method();
        if !self.cfg.enabled {
            return Err(CriError::Disabled);
        }
        if let Some(until) = self.down_until {
            let now = Instant::now();
            if now < until {
                return Err(CriError::BackingOff(until - now));
            }
            self.down_until = None;
        }
        let worker = match self.worker() {
            Ok(w) => w,
            Err(e @ CriError::NoSocket(_)) => return Err(e),
            Err(e) => {
                self.note_failure(&e);
                return Err(e);
            }
        };
        let (tx, rx) = sync_channel(1);
        if worker.send(Job { call, reply: tx }).is_err() {
            self.worker = None;
            let e = CriError::Worker("the worker thread exited".into());
            self.note_failure(&e);
            return Err(e);
        }
        self.stats.calls += 1;
        let r = match rx.recv_timeout(self.cfg.timeout + REPLY_SLACK) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(CriError::Timeout {
                method,
                timeout: self.cfg.timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => {
                self.worker = None;
                Err(CriError::Worker("the worker dropped the call".into()))
            }
        };
        if let Err(e) = &r {
            self.stats.errors += 1;
            if matches!(e, CriError::Timeout { .. }) {
                self.stats.timeouts += 1;
            }
            self.note_failure(e);
        }
        r
    }

    fn note_failure(&mut self, e: &CriError) {
        let backoff = match e {
            CriError::Call {
                code: tonic::Code::Unimplemented,
                ..
            } => {
                // A containerd without its CRI plugin (Docker's): no use asking again soon.
                self.cfg.ttl
            }
            CriError::Call {
                code: tonic::Code::NotFound,
                ..
            } => return,
            _ => self.cfg.backoff,
        };
        self.down_until = Some(Instant::now() + backoff);
        tracing::warn!(
            error = %e,
            socket = %self.socket.as_deref().unwrap_or(Path::new("")).display(),
            suspended_for = ?backoff,
            "The CRI runtime did not answer; container context comes from runtime state only \
             meanwhile."
        );
    }

    fn worker(&mut self) -> Result<tokio::sync::mpsc::UnboundedSender<Job>, CriError> {
        if let Some(w) = &self.worker {
            if !w.is_closed() {
                return Ok(w.clone());
            }
        }
        let socket = match &self.socket {
            Some(s) => s.clone(),
            None => {
                if self.last_probe.elapsed() < self.cfg.negative_ttl {
                    return Err(CriError::NoSocket(socket_list(&self.cfg.sockets)));
                }
                self.last_probe = Instant::now();
                let Some(s) = find_socket(&self.cfg.sockets) else {
                    return Err(CriError::NoSocket(socket_list(&self.cfg.sockets)));
                };
                tracing::info!(socket = %s.display(), "A CRI socket appeared; container and pod context also comes from the CRI API.");
                self.socket = Some(s.clone());
                s
            }
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let timeout = self.cfg.timeout;
        std::thread::Builder::new()
            .name("mamori-cri".into())
            .spawn(move || worker::run(socket, timeout, rx))
            .map_err(|e| CriError::Worker(format!("cannot start: {e}")))?;
        self.worker = Some(tx.clone());
        Ok(tx)
    }
}

fn is_image_id(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn find_socket(sockets: &[PathBuf]) -> Option<PathBuf> {
    sockets.iter().find(|p| p.exists()).cloned()
}

fn socket_list(sockets: &[PathBuf]) -> String {
    sockets
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn sweep<T>(map: &mut HashMap<String, Cached<T>>, now: Instant, ttl: Duration) {
    if map.len() >= MAX_CACHED {
        map.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_image_ids_from_references() {
        assert!(is_image_id(&format!("sha256:{}", "ab".repeat(32))));
        assert!(!is_image_id("sha256:abc"));
        assert!(!is_image_id("docker.io/library/nginx:1.25"));
    }

    #[test]
    fn missing_socket_fails_fast_without_a_worker() {
        let mut c = CriClient::new(CriConfig {
            sockets: vec![PathBuf::from("/nonexistent/mamori-cri.sock")],
            ..CriConfig::default()
        });
        assert_eq!(c.socket(), None);
        let t = Instant::now();
        let e = c.lookup("abc", false).unwrap_err();
        assert!(matches!(e, CriError::NoSocket(_)), "{e}");
        assert!(e.is_transient());
        assert!(c.worker.is_none());
        assert!(t.elapsed() < Duration::from_millis(50));
        assert_eq!(c.stats().calls, 0);
    }

    #[test]
    fn disabled_client_makes_no_call() {
        let mut c = CriClient::new(CriConfig {
            enabled: false,
            ..CriConfig::default()
        });
        assert_eq!(c.socket(), None);
        assert!(c.lookup("abc", false).is_err());
        assert_eq!(c.stats().calls, 0);
    }
}
