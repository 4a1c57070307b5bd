//! A bounded cache from host pids and pid-namespace inodes to containers.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cri::{CriClient, CriStats, DEFAULT_SOCKETS};
use super::runtime::{load_container, proc_start_ticks, LoadContainerError};
use super::{container_id_from_proc_cgroup, ContainerInfo, RuntimeRoots};

/// How often the state dirs are rescanned at most when a lookup misses.
const RESCAN_INTERVAL: Duration = Duration::from_millis(100);
/// How long a miss (a pid namespace that is no known container) is remembered.
const MISS_TTL: Duration = Duration::from_millis(500);

/// Why a scan of the runtime state dirs failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A state root exists but cannot be listed.
    #[error("cannot list runtime state root {path}")]
    ListRoot {
        /// The root.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Maps host pids and pid-namespace inodes to containers, from the runtime state dirs.
///
/// Lookups that hit are hash-map reads. A miss rescans the state dirs, at most once per
/// 100 ms, and a pid namespace that is still unknown is remembered as "no container" for
/// 500 ms, so events from unmanaged namespaces stay cheap. Processes in the host's pid
/// namespace (that of `/proc/1`, or the sensor's own when `/proc/1/ns` is unreadable) are
/// answered `None` without any scan.
///
/// At most `capacity` containers are held; beyond that, new ones are not cached (and a
/// warning says so once).
///
/// With a [`CriClient`] ([`with_cri`](Self::with_cri)), each container is also looked up in
/// the CRI API when it is first loaded (bounded by the client's deadline); when the runtime
/// could not be reached, later scans ask again until it answers.
///
/// A pid namespace shared by several containers (a pod with `shareProcessNamespace`) does
/// not identify one container: [`by_pidns`](Self::by_pidns) answers `None` for it, and
/// [`by_pid`](Self::by_pid) falls back to the process's cgroup.
pub struct ContainerResolver {
    roots: RuntimeRoots,
    capacity: usize,
    proc_root: PathBuf,
    by_id: HashMap<String, Arc<ContainerInfo>>,
    by_pidns: HashMap<u64, Arc<ContainerInfo>>,
    shared_pidns: HashSet<u64>,
    misses: HashMap<u64, Instant>,
    last_scan: Option<Instant>,
    host_pidns: Option<u64>,
    warned_full: bool,
    logged_cri: bool,
    cri: Option<CriClient>,
    /// Containers loaded while the CRI runtime could not be reached.
    cri_pending: HashSet<String>,
    /// The last scan's per-container load errors (state dir, error), for diagnostics.
    pub last_errors: Vec<(PathBuf, LoadContainerError)>,
}

impl ContainerResolver {
    /// A resolver over `roots` holding at most `capacity` containers.
    pub fn new(roots: RuntimeRoots, capacity: usize) -> Self {
        Self::with_proc_root(roots, capacity, PathBuf::from("/proc"))
    }

    /// The same, with `/proc` elsewhere (tests).
    pub fn with_proc_root(roots: RuntimeRoots, capacity: usize, proc_root: PathBuf) -> Self {
        // The host's pid namespace is that of pid 1. When /proc/1/ns cannot be read (pid 1 not
        // dumpable, or no CAP_SYS_PTRACE), our own is taken: the sensor runs with the host's
        // pid namespace (`hostPID: true`) or it could not see host pids at all.
        let host_pidns = ns_inode(&proc_root, 1, "pid").or_else(|| {
            fs::metadata(proc_root.join("self/ns/pid"))
                .ok()
                .map(|m| m.ino())
        });
        ContainerResolver {
            roots,
            capacity: capacity.max(1),
            proc_root,
            by_id: HashMap::new(),
            by_pidns: HashMap::new(),
            shared_pidns: HashSet::new(),
            misses: HashMap::new(),
            last_scan: None,
            host_pidns,
            warned_full: false,
            logged_cri: false,
            cri: None,
            cri_pending: HashSet::new(),
            last_errors: Vec::new(),
        }
    }

    /// Also looks containers up in the CRI API (see [`cri`](super::cri)).
    pub fn with_cri(mut self, cri: CriClient) -> Self {
        self.cri = Some(cri);
        self
    }

    /// The CRI client's counters, when there is one.
    pub fn cri_stats(&self) -> Option<CriStats> {
        self.cri.as_ref().map(CriClient::stats)
    }

    /// Number of containers held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no container is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Reads every state root and returns all live containers (state dirs whose init process
    /// is alive and is the same process runc started). Containers already known are not
    /// re-read; gone ones are dropped. Per-container errors are skipped and kept in
    /// [`last_errors`](Self::last_errors); a root that does not exist is skipped.
    pub fn scan(&mut self) -> Result<Vec<Arc<ContainerInfo>>, ScanError> {
        self.log_cri_once();
        self.last_scan = Some(Instant::now());
        self.last_errors.clear();
        let mut seen: HashMap<String, Arc<ContainerInfo>> = HashMap::new();
        let mut fresh: Vec<ContainerInfo> = Vec::new();
        let mut first_error = None;
        let roots = self.roots.0.clone();
        for root in &roots {
            let entries = match fs::read_dir(root) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    first_error.get_or_insert(ScanError::ListRoot {
                        path: root.clone(),
                        source,
                    });
                    continue;
                }
            };
            let hint = RuntimeRoots::kind_of(root);
            for entry in entries.flatten() {
                let dir = entry.path();
                let id = entry.file_name().to_string_lossy().into_owned();
                if !dir.join("state.json").is_file() || seen.contains_key(&id) {
                    continue;
                }
                if let Some(known) = self.by_id.get(&id).cloned() {
                    if self.is_alive(&known) {
                        let known = self.retry_cri(known);
                        seen.insert(id, known);
                        continue;
                    }
                }
                if seen.len() + fresh.len() >= self.capacity {
                    if !self.warned_full {
                        tracing::warn!(
                            capacity = self.capacity,
                            "Container cache is full; further containers get no context."
                        );
                        self.warned_full = true;
                    }
                    continue;
                }
                match load_container(&dir, hint, &self.proc_root) {
                    Ok(mut info) if self.is_alive(&info) => {
                        self.enrich_cri(&mut info);
                        fresh.push(info);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, dir = %dir.display(), "Skipping container state.");
                        self.last_errors.push((dir, e));
                    }
                }
            }
        }
        link_sandbox_labels(&mut fresh, &seen);
        for info in fresh {
            seen.insert(info.id.clone(), Arc::new(info));
        }
        self.cri_pending.retain(|id| seen.contains_key(id));
        self.by_id = seen;
        self.reindex();
        match first_error {
            Some(e) if self.by_id.is_empty() => Err(e),
            _ => Ok(self.by_id.values().cloned().collect()),
        }
    }

    /// The container of a host pid, or `None` for host processes and unknown namespaces.
    /// Matches by pid-namespace inode first, then by the container id in the process's cgroup.
    pub fn by_pid(&mut self, host_pid: u32) -> Option<Arc<ContainerInfo>> {
        let pidns = ns_inode(&self.proc_root, host_pid, "pid");
        if pidns.is_some() && pidns == self.host_pidns {
            return None;
        }
        if let Some(hit) = pidns.and_then(|ns| self.by_pidns.get(&ns)) {
            return Some(Arc::clone(hit));
        }
        let cgroup = fs::read_to_string(self.proc_root.join(host_pid.to_string()).join("cgroup"))
            .ok()
            .and_then(|t| container_id_from_proc_cgroup(&t));
        if let Some(hit) = cgroup.as_ref().and_then(|m| self.by_id.get(&m.id)) {
            return Some(Arc::clone(hit));
        }
        if let Some(ns) = pidns {
            if self.recent_miss(ns) {
                return None;
            }
        }
        if self.may_rescan() {
            let _ = self.scan();
            if let Some(hit) = pidns.and_then(|ns| self.by_pidns.get(&ns)) {
                return Some(Arc::clone(hit));
            }
            if let Some(hit) = cgroup.as_ref().and_then(|m| self.by_id.get(&m.id)) {
                return Some(Arc::clone(hit));
            }
        }
        if let Some(ns) = pidns {
            self.remember_miss(ns);
        }
        None
    }

    /// The container whose init runs in pid namespace `pidns_inode` (what the BPF side reads
    /// per task). A hit is one hash lookup; `None` for the host namespace, unknown namespaces
    /// and namespaces shared by several containers.
    pub fn by_pidns(&mut self, pidns_inode: u64) -> Option<Arc<ContainerInfo>> {
        if let Some(hit) = self.by_pidns.get(&pidns_inode) {
            return Some(Arc::clone(hit));
        }
        if Some(pidns_inode) == self.host_pidns
            || self.shared_pidns.contains(&pidns_inode)
            || self.recent_miss(pidns_inode)
        {
            return None;
        }
        if self.may_rescan() {
            let _ = self.scan();
            if let Some(hit) = self.by_pidns.get(&pidns_inode) {
                return Some(Arc::clone(hit));
            }
        }
        self.remember_miss(pidns_inode);
        None
    }

    /// The container with this full id, if known (no scan).
    pub fn by_id(&self, id: &str) -> Option<Arc<ContainerInfo>> {
        self.by_id.get(id).cloned()
    }

    /// Drops containers whose init process is gone.
    pub fn forget_dead(&mut self) {
        let dead: Vec<String> = self
            .by_id
            .values()
            .filter(|c| !self.is_alive(c))
            .map(|c| c.id.clone())
            .collect();
        for id in dead {
            self.by_id.remove(&id);
        }
        self.reindex();
        let now = Instant::now();
        self.misses.retain(|_, t| now.duration_since(*t) < MISS_TTL);
    }

    /// Adds what the CRI says to a freshly loaded container; when the runtime could not be
    /// reached, remembers to ask again.
    fn enrich_cri(&mut self, info: &mut ContainerInfo) {
        let Some(cri) = self.cri.as_mut() else { return };
        if let Err(e) = cri.enrich(info) {
            tracing::debug!(error = %e, container = %info.short_id(), "No CRI context for the container.");
            if e.is_transient() {
                self.cri_pending.insert(info.id.clone());
            }
        }
    }

    /// Asks the CRI again for a known container that got no answer when it was loaded.
    fn retry_cri(&mut self, known: Arc<ContainerInfo>) -> Arc<ContainerInfo> {
        if !self.cri_pending.contains(&known.id) {
            return known;
        }
        let Some(cri) = self.cri.as_mut() else {
            return known;
        };
        let mut info = ContainerInfo::clone(&known);
        match cri.enrich(&mut info) {
            Ok(()) => {
                self.cri_pending.remove(&info.id);
                Arc::new(info)
            }
            Err(e) => {
                if !e.is_transient() {
                    self.cri_pending.remove(&info.id);
                }
                known
            }
        }
    }

    fn is_alive(&self, c: &ContainerInfo) -> bool {
        match (
            c.init_start_ticks,
            proc_start_ticks(&self.proc_root, c.init_pid),
        ) {
            (Some(want), Some(got)) => want == got,
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    fn reindex(&mut self) {
        self.by_pidns.clear();
        self.shared_pidns.clear();
        for c in self.by_id.values() {
            let Some(ns) = c.pidns else { continue };
            if self.shared_pidns.contains(&ns) {
                continue;
            }
            if self.by_pidns.insert(ns, Arc::clone(c)).is_some() {
                self.by_pidns.remove(&ns);
                self.shared_pidns.insert(ns);
            }
        }
        self.misses.retain(|ns, _| !self.by_pidns.contains_key(ns));
    }

    fn may_rescan(&self) -> bool {
        self.last_scan
            .is_none_or(|t| t.elapsed() >= RESCAN_INTERVAL)
    }

    fn recent_miss(&self, ns: u64) -> bool {
        self.misses.get(&ns).is_some_and(|t| t.elapsed() < MISS_TTL)
    }

    fn remember_miss(&mut self, ns: u64) {
        if self.misses.len() >= self.capacity.saturating_mul(4) {
            let now = Instant::now();
            self.misses.retain(|_, t| now.duration_since(*t) < MISS_TTL);
            if self.misses.len() >= self.capacity.saturating_mul(4) {
                self.misses.clear();
            }
        }
        self.misses.insert(ns, Instant::now());
    }

    fn log_cri_once(&mut self) {
        if self.logged_cri || self.cri.is_some() {
            return;
        }
        self.logged_cri = true;
        for sock in DEFAULT_SOCKETS {
            if Path::new(sock).exists() {
                tracing::info!(
                    socket = sock,
                    "A CRI socket exists, but CRI lookups are off: container and pod context \
                     comes from runtime state only (no pod labels for containerd, no pod IP, no \
                     image id)."
                );
            }
        }
    }
}

/// CRI-O writes pod labels only into the sandbox's annotations; app containers of the same
/// pod get them from their sandbox.
fn link_sandbox_labels(fresh: &mut [ContainerInfo], known: &HashMap<String, Arc<ContainerInfo>>) {
    let mut sandbox_labels: HashMap<String, _> = HashMap::new();
    for c in fresh.iter().chain(known.values().map(|a| a.as_ref())) {
        if c.sandbox {
            if let Some(l) = &c.pod_labels {
                sandbox_labels.insert(c.id.clone(), l.clone());
            }
        }
    }
    for c in fresh.iter_mut() {
        if c.pod_labels.is_none() && !c.sandbox {
            if let Some(l) = c.sandbox_id.as_ref().and_then(|s| sandbox_labels.get(s)) {
                c.pod_labels = Some(l.clone());
            }
        }
    }
}

fn ns_inode(proc_root: &Path, pid: u32, ns: &str) -> Option<u64> {
    fs::metadata(proc_root.join(pid.to_string()).join("ns").join(ns))
        .ok()
        .map(|m| m.ino())
}
