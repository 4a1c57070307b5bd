//! The node agent: kernel events → enrichment → the rules engine and the runtime policies →
//! alerts, plus the enforcement backends (BPF LSM in the kernel where it is allowed, else
//! fanotify before exec, SIGKILL after exec) kept in step with the containers that come and go.
//!
//! Every policy decision becomes an [`Alert`] (source `policy`, status `detect` or `block`) with
//! the process and container context, through the same outputs as rule alerts. Lost kernel
//! events and fanotify watchdog answers become internal alerts, never silence.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mamori_core::event::{Event, EventSource, Value};
use mamori_policy::runtime::{Activity, Control, Decision, Mode, Status, Workload};
use mamori_policy::RuntimePolicySet;
use mamori_rules::{Alert, Engine};

use crate::container::{ContainerInfo, ContainerResolver, CriClient, CriConfig, RuntimeRoots};
use crate::ebpf::{enforce, KernelStats, Probe, ProbeConfig, ProbeError};
use crate::enrich::{Enriched, Enricher, FieldMask, POLICY_CONTEXT};
use crate::fanotify::{ExecGuard, GuardCounters, GuardSettings, MarkId};
use crate::lsm::{plan, LsmEnforcer, LsmError, LsmStats};
use crate::netblock::{Denial, NetBlocker, NetTarget};
use crate::proctable::ProcTable;
use crate::syscalls;
use crate::users::UserDb;
use crate::wire::{flags, Kind, RawEvent};

mod alerts;
mod decider;
mod denials;

pub use alerts::decision_alert;
use alerts::{internal_alert, value_json};
use decider::PolicyDecider;

/// How execs are blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecBackend {
    /// Pick the best that works: BPF LSM, else fanotify, else post-exec SIGKILL.
    Auto,
    /// BPF LSM only (fail at start when the kernel refuses it).
    Lsm,
    /// fanotify permission events only (fail at start when unavailable).
    Fanotify,
    /// Post-exec SIGKILL from the exec tracepoint only.
    Kill,
    /// Detect only.
    None,
}

/// What the agent runs with.
#[derive(Debug)]
pub struct AgentConfig {
    /// Runtime policies (may be empty).
    pub policies: RuntimePolicySet,
    /// Where container runtimes keep their state.
    pub roots: RuntimeRoots,
    /// Exec enforcement backend.
    pub exec_backend: ExecBackend,
    /// fanotify watchdog settings.
    pub guard: GuardSettings,
    /// Ring buffer bytes per CPU.
    pub ring_bytes_per_cpu: u32,
    /// Only container events cross to userspace.
    pub containers_only: bool,
    /// Host name put in alerts.
    pub hostname: String,
    /// How often containers are rescanned and counters checked.
    pub tick: Duration,
    /// Process table capacity.
    pub max_processes: usize,
    /// Trace the agent's own process too (benchmarks only).
    pub trace_self: bool,
    /// The CRI API lookups (pod labels, pod IP).
    pub cri: CriConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            policies: RuntimePolicySet::default(),
            roots: RuntimeRoots::default(),
            exec_backend: ExecBackend::Auto,
            guard: GuardSettings::default(),
            ring_bytes_per_cpu: 4 << 20,
            containers_only: false,
            hostname: String::new(),
            tick: Duration::from_millis(250),
            max_processes: 32768,
            trace_self: false,
            cri: CriConfig::default(),
        }
    }
}

/// Starting the agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The eBPF probe did not load.
    #[error("the eBPF sensor could not start")]
    Probe(#[from] ProbeError),
    /// fanotify was asked for and is not available.
    #[error("fanotify enforcement was requested but is not available")]
    Guard(#[source] crate::fanotify::GuardError),
    /// BPF LSM was asked for and the kernel refuses it.
    #[error("BPF LSM enforcement was requested but is not available")]
    Lsm(#[source] LsmError),
}

/// How enforcement is set up on this node (printed at start, reported in counters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendReport {
    /// BPF LSM: in use, or why not (the kernel's refusal, or the configuration).
    pub lsm: String,
    /// `lsm` (in the kernel), `fanotify`, `sigkill` (post-exec) or `none`.
    pub exec: &'static str,
    /// Why fanotify is not used, when it is not.
    pub exec_note: Option<String>,
    /// Network blocking: how outbound blocks are enforced, or why they are only detected.
    pub network: String,
}

impl BackendReport {
    /// One line for logs: `enforce available (fanotify)` or `detect-only (...)`.
    pub fn summary(&self) -> String {
        match self.exec {
            "lsm" => "enforce available (lsm): exec, open and path changes blocked in the kernel by BPF LSM".into(),
            "fanotify" => {
                "enforce available: exec blocked before it runs (fanotify); network detect-only"
                    .into()
            }
            "sigkill" => format!(
                "enforce available post-exec only (SIGKILL from the exec tracepoint): {}",
                self.exec_note.as_deref().unwrap_or("")
            ),
            _ => format!(
                "detect-only: {}",
                self.exec_note.as_deref().unwrap_or("enforcement disabled")
            ),
        }
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Records read from the ring buffer.
    pub records: u64,
    /// Records that failed to decode.
    pub bad_records: u64,
    /// Events evaluated.
    pub events: u64,
    /// Rule alerts.
    pub rule_alerts: u64,
    /// Policy decisions reported (detect + block).
    pub decisions: u64,
    /// Policy decision alerts lost because the decider's queue was full.
    pub decisions_dropped: u64,
    /// Kernel counters.
    pub kernel: KernelStats,
    /// fanotify counters.
    pub guard: GuardCounters,
    /// BPF LSM counters.
    pub lsm: LsmStats,
    /// BPF LSM denials reported as decisions.
    pub lsm_denials: u64,
}

struct Marked {
    mark: Option<MarkId>,
    /// The mark also holds opens (blocked files / read-only paths enforced).
    files: bool,
    pidns: u64,
    /// The kernel (BPF LSM) enforces controls for this container.
    lsm: bool,
    /// The flags last written to the sensor's `enforce` map (`None`: the write failed).
    flags: Option<u32>,
}

/// The running agent.
pub struct Agent {
    probe: Probe,
    engine: Engine,
    policies: Arc<RuntimePolicySet>,
    enricher: Enricher,
    containers: Arc<Mutex<ContainerResolver>>,
    guard: Option<ExecGuard>,
    /// The BPF LSM backend, when the kernel allows it.
    lsm: Option<LsmEnforcer>,
    /// Containers in the LSM maps, by pid namespace.
    lsm_containers: HashMap<u64, Arc<ContainerInfo>>,
    marks: Arc<Mutex<HashMap<u64, Arc<ContainerInfo>>>>,
    marked: HashMap<String, Marked>,
    net: Option<NetBlocker>,
    /// Containers with outbound blocks in the kernel: id → (target, container, policy names).
    net_blocked: HashMap<String, (NetTarget, Arc<ContainerInfo>, Vec<String>)>,
    decisions_rx: Receiver<Alert>,
    decider: Arc<PolicyDecider>,
    backend: BackendReport,
    hostname: String,
    tick: Duration,
    stats: AgentStats,
    last_dropped: u64,
    last_timed_out: u64,
    /// Pid namespaces already seen exec'ing (a new one = a new container: sync at once).
    seen_pidns: std::collections::HashSet<u64>,
    last_sync: Instant,
    host_pidns: u64,
    record: Option<Box<dyn Write + Send>>,
    /// Notices containers as the runtime creates them (None without inotify or policies).
    state_watch: Option<crate::container::StateWatch>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("backend", &self.backend)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Whether a bind mount's source is a device (or under `/dev`): such mounts are not marked
/// for opens.
fn is_device_source(source: &str) -> bool {
    source == "/dev" || source.starts_with("/dev/")
}

/// Syscalls the rules and policies need (exec is always on).
pub fn needed_syscalls(engine: &Engine, policies: &RuntimePolicySet) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for r in engine.ruleset().rules().iter().filter(|r| r.enabled) {
        match &r.evttypes {
            Some(types) => out.extend(types.iter().filter_map(|t| syscalls::nr_of(t))),
            None => out.extend(syscalls::SYSCALLS.iter().map(|s| s.nr)),
        }
    }
    let used = policies.controls_used();
    if used.contains(&Control::BlockedFiles) || used.contains(&Control::ReadOnlyPaths) {
        for n in ["open", "openat", "openat2", "creat"] {
            out.extend(syscalls::nr_of(n));
        }
    }
    if used.contains(&Control::ReadOnlyPaths) || used.contains(&Control::BlockedFiles) {
        for n in [
            "mkdir",
            "mkdirat",
            "rmdir",
            "unlink",
            "unlinkat",
            "rename",
            "renameat",
            "renameat2",
            "chmod",
            "fchmodat",
            "link",
            "linkat",
            "symlink",
            "symlinkat",
        ] {
            out.extend(syscalls::nr_of(n));
        }
    }
    if used.contains(&Control::BlockedOutbound) {
        out.extend(syscalls::nr_of("connect"));
    }
    // execve/execveat come from sched_process_exec, not sys_exit.
    out.remove(&59);
    out.remove(&322);
    out
}

impl Agent {
    /// Loads the probe, starts the enforcement backend and scans the running containers.
    pub fn start(engine: Engine, cfg: AgentConfig) -> Result<Agent, AgentError> {
        // Without a free fd the kernel denies a fanotify permission event outright (fail
        // closed): give the guard room.
        raise_nofile_limit();
        let probe_cfg = ProbeConfig {
            ring_bytes_per_cpu: cfg.ring_bytes_per_cpu,
            syscalls: needed_syscalls(&engine, &cfg.policies),
            containers_only: cfg.containers_only,
            failed_syscalls: false,
            trace_self: cfg.trace_self,
        };
        let probe = Probe::load(&probe_cfg)?;
        let mut lsm_backend = None;
        let lsm = match cfg.exec_backend {
            _ if cfg.policies.is_empty() => "not used: no runtime policies loaded".to_string(),
            ExecBackend::Auto | ExecBackend::Lsm => match LsmEnforcer::start() {
                Ok(e) => {
                    lsm_backend = Some(e);
                    "in use: bprm_check_security, file_open and path_* hooks decide in the kernel"
                        .to_string()
                }
                Err(e) if cfg.exec_backend == ExecBackend::Lsm => return Err(AgentError::Lsm(e)),
                Err(e) => format!(
                    "BPF LSM refused by this kernel ({}); falling back to fanotify",
                    e.chain()
                ),
            },
            _ => "not used: another backend was chosen by configuration".to_string(),
        };
        // With BPF LSM, fanotify is only needed for controls whose globs the kernel cannot match.
        let need_guard = lsm_backend.is_none() || plan::set_has_unsupported(&cfg.policies);
        let containers = ContainerResolver::new(cfg.roots.clone(), 1024);
        let containers = Arc::new(Mutex::new(containers.with_cri(CriClient::new(cfg.cri))));
        let policies = Arc::new(cfg.policies);
        let marks = Arc::new(Mutex::new(HashMap::new()));
        let (tx, rx) = sync_channel(4096);
        let decider = Arc::new(PolicyDecider {
            policies: policies.clone(),
            marks: marks.clone(),
            taint: probe.taint(),
            tx,
            hostname: cfg.hostname.clone(),
            dropped: AtomicU64::new(0),
        });
        let mut exec_note = None;
        let guard = match cfg.exec_backend {
            ExecBackend::Auto | ExecBackend::Lsm if lsm_backend.is_some() && !need_guard => None,
            ExecBackend::Auto | ExecBackend::Fanotify | ExecBackend::Lsm
                if !policies.is_empty() =>
            {
                match ExecGuard::start(decider.clone(), cfg.guard.clone()) {
                    Ok(g) => Some(g),
                    Err(e) if cfg.exec_backend == ExecBackend::Fanotify => {
                        return Err(AgentError::Guard(e))
                    }
                    Err(e) => {
                        exec_note = Some(format!("fanotify unavailable ({e})"));
                        None
                    }
                }
            }
            ExecBackend::Kill => {
                exec_note = Some("fanotify disabled by configuration".into());
                None
            }
            ExecBackend::None => {
                exec_note = Some("enforcement disabled by configuration".into());
                None
            }
            _ => {
                exec_note = Some("no runtime policies loaded".into());
                None
            }
        };
        let exec = if lsm_backend.is_some() {
            "lsm"
        } else if guard.is_some() {
            "fanotify"
        } else if matches!(cfg.exec_backend, ExecBackend::Auto | ExecBackend::Kill)
            && !policies.is_empty()
        {
            "sigkill"
        } else {
            "none"
        };
        let mut net = None;
        let network = if !policies.controls_used().contains(&Control::BlockedOutbound) {
            "no blockedOutbound control in the loaded policies".to_string()
        } else if cfg.exec_backend == ExecBackend::None {
            "detect-only (enforcement disabled by configuration)".to_string()
        } else {
            match NetBlocker::start() {
                Ok(n) => {
                    let kind = n.key_kind();
                    net = Some(n);
                    format!("enforce available: outbound connections blocked in the kernel (cgroup connect4/6 and sendmsg4/6, containers keyed by {kind})")
                }
                Err(e) => format!("detect-only: network blocking unavailable ({e})"),
            }
        };
        let backend = BackendReport {
            lsm,
            exec,
            exec_note,
            network,
        };
        let mut enricher = Enricher::new(
            ProcTable::new(cfg.max_processes),
            containers.clone(),
            UserDb::new(1024),
        );
        enricher.set_host_pidns(probe.host_pidns());
        // Compute only what the rules read, plus the context decisions report.
        let mut mask = FieldMask::new(engine.ruleset().field_keys());
        if !policies.is_empty() {
            mask.extend(POLICY_CONTEXT.iter().copied());
        }
        enricher.set_mask(Some(mask));
        let mut agent = Agent {
            probe,
            engine,
            policies,
            enricher,
            containers,
            guard,
            lsm: lsm_backend,
            lsm_containers: HashMap::new(),
            marks,
            marked: HashMap::new(),
            net,
            net_blocked: HashMap::new(),
            decisions_rx: rx,
            decider,
            backend,
            hostname: cfg.hostname,
            tick: cfg.tick,
            stats: AgentStats::default(),
            last_dropped: 0,
            last_timed_out: 0,
            seen_pidns: std::collections::HashSet::new(),
            last_sync: Instant::now(),
            host_pidns: 0,
            record: None,
            state_watch: None,
        };
        if !agent.policies.is_empty() {
            match crate::container::StateWatch::new(&cfg.roots.0) {
                Ok(w) => agent.state_watch = Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot watch the runtime state folders; new containers are enforced from their first exec or the next scan.")
                }
            }
        }
        agent.host_pidns = agent.probe.host_pidns();
        agent.sync_containers();
        Ok(agent)
    }

    /// Writes every enriched event to `w` as a JSON line (the replay format).
    pub fn record_to(&mut self, w: Box<dyn Write + Send>) {
        // A recording is for replaying with any rules: every field.
        self.enricher.set_mask(None);
        self.record = Some(w);
    }

    /// How enforcement is set up.
    pub fn backend(&self) -> &BackendReport {
        &self.backend
    }

    /// Counters so far.
    pub fn stats(&self) -> AgentStats {
        let mut s = self.stats;
        s.kernel = self.probe.stats();
        s.guard = self
            .guard
            .as_ref()
            .map(|g| g.counters())
            .unwrap_or_default();
        s.decisions_dropped = self.decider.dropped.load(Ordering::Relaxed);
        s.lsm = self.lsm.as_ref().map(|l| l.stats()).unwrap_or_default();
        s
    }

    /// Runs until `stop` is set, then drains what the kernel already queued and returns.
    pub fn run(&mut self, stop: &AtomicBool, emit: &mut dyn FnMut(Alert)) -> AgentStats {
        let mut last_tick = Instant::now();
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            self.poll_once(Duration::from_millis(10), emit);
            self.sync_on_state_change();
            if last_tick.elapsed() >= self.tick {
                last_tick = Instant::now();
                self.on_tick(emit);
            }
            if stopping {
                // One more pass for records queued before the stop.
                self.poll_once(Duration::from_millis(0), emit);
                self.on_tick(emit);
                break;
            }
        }
        if let Some(w) = self.record.as_mut() {
            let _ = w.flush();
        }
        self.stats()
    }

    /// The exec guard's liveness, when fanotify enforcement runs (for [`crate::supervisor`]).
    pub fn guard_liveness(&self) -> Option<crate::fanotify::Liveness> {
        self.guard.as_ref().map(|g| g.liveness())
    }

    /// Stops the enforcement backend (pending permission events are allowed) and returns the
    /// final counters.
    pub fn shutdown(mut self) -> AgentStats {
        let mut s = self.stats();
        if let Some(g) = self.guard.take() {
            s.guard = g.shutdown();
        }
        s
    }

    fn poll_once(&mut self, timeout: Duration, emit: &mut dyn FnMut(Alert)) {
        let mut batch: Vec<RawEvent> = Vec::new();
        let mut bad = 0u64;
        let n = self.probe.poll(timeout, |b| match RawEvent::decode(b) {
            Ok(r) => batch.push(r),
            Err(e) => {
                bad += 1;
                tracing::warn!(error = %e, "Undecodable kernel event.");
            }
        });
        self.stats.records += n as u64;
        self.stats.bad_records += bad;
        for raw in &batch {
            self.handle(raw, emit);
        }
        self.drain_lsm(emit);
        while let Ok(a) = self.decisions_rx.try_recv() {
            self.stats.decisions += 1;
            emit(a);
        }
        self.drain_net(emit);
    }

    /// Reports connections the kernel refused as `block` decisions.
    fn drain_net(&mut self, emit: &mut dyn FnMut(Alert)) {
        let Some(net) = self.net.as_mut() else { return };
        let mut denials: Vec<Denial> = Vec::new();
        net.drain_denials(|d| denials.push(d));
        for d in denials {
            let Some((_, c, _)) = self
                .net_blocked
                .values()
                .find(|(t, _, _)| *t == d.target)
                .cloned()
            else {
                continue;
            };
            let w = workload(&c);
            let now = time::OffsetDateTime::now_utc();
            let blocks = self.policies.blocked_outbound_for(&w.as_workload(), now);
            let policy = blocks
                .iter()
                .find(|b| {
                    b.ports.contains(&d.port) || b.addresses.iter().any(|n| n.contains(d.addr))
                })
                .or(blocks.first())
                .map(|b| b.policy.to_string())
                .unwrap_or_default();
            let decision = Decision {
                policy,
                control: Control::BlockedOutbound,
                status: Status::Block,
                mode: Mode::Enforce,
                message: format!(
                    "outbound connection to {} port {} is blocked (blocked before connect: Operation not permitted)",
                    d.addr, d.port
                ),
            };
            let wall = crate::enrich::wall_ns();
            let mut ev = Event::new(EventSource::Syscall, wall);
            let f = &mut ev.fields;
            f.insert("evt.type".into(), Value::Str("connect".into()));
            f.insert("proc.pid".into(), Value::Int(d.pid.into()));
            f.insert("proc.name".into(), Value::Str(d.comm.clone()));
            f.insert("fd.rip".into(), Value::Str(d.addr.to_string()));
            f.insert("fd.rport".into(), Value::Int(d.port.into()));
            f.insert("fd.sip".into(), Value::Str(d.addr.to_string()));
            f.insert("fd.sport".into(), Value::Int(d.port.into()));
            for (k, v) in c.fields() {
                f.insert(k.into(), v);
            }
            self.stats.decisions += 1;
            emit(decision_alert(&decision, &ev, &self.hostname));
        }
    }

    /// Scans at once when a runtime created (or removed) a container: `runc create` writes its
    /// state before the container runs anything, so marks are in place before its first exec.
    fn sync_on_state_change(&mut self) {
        if self.state_watch.as_mut().is_some_and(|w| w.changed()) {
            self.sync_containers();
        }
    }

    fn handle(&mut self, raw: &RawEvent, emit: &mut dyn FnMut(Alert)) {
        // The first exec in a pid namespace we have not seen is usually a container starting:
        // mark it now rather than at the next tick (at most every 50 ms), so that enforcement
        // misses as few of its first execs as possible.
        if raw.kind == Kind::Exec
            && raw.pidns != self.host_pidns
            && !self.policies.is_empty()
            && self.seen_pidns.insert(raw.pidns)
            && self.last_sync.elapsed() >= Duration::from_millis(50)
        {
            if self.seen_pidns.len() > 65536 {
                self.seen_pidns.clear();
            }
            self.sync_containers();
        }
        let Some(en) = self.enricher.enrich(raw) else {
            return;
        };
        self.stats.events += 1;
        if let Some(w) = self.record.as_mut() {
            let mut obj = serde_json::Map::new();
            obj.insert("evt.time".into(), serde_json::Value::from(en.event.time_ns));
            for (k, v) in &en.event.fields {
                obj.insert(k.clone(), value_json(v));
            }
            let _ = writeln!(w, "{}", serde_json::Value::Object(obj));
        }
        let mut n = 0u64;
        self.engine.process(&en.event, |a| {
            n += 1;
            emit(a);
        });
        self.stats.rule_alerts += n;
        if !self.policies.is_empty() {
            self.evaluate_policies(raw, &en, emit);
        }
    }

    fn evaluate_policies(&mut self, raw: &RawEvent, en: &Enriched, emit: &mut dyn FnMut(Alert)) {
        let Some(c) = &en.container else { return };
        let fields = &en.event.fields;
        let text = |k: &str| match fields.get(k) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        };
        let exepath;
        let fdname;
        let activity = match raw.kind {
            Kind::Exec => {
                exepath = en
                    .proc
                    .as_ref()
                    .map(|p| p.exepath.clone())
                    .unwrap_or_default();
                Activity::Exec {
                    path: &exepath,
                    name: &raw.comm,
                    is_exec_session: raw.has(flags::TAINT),
                    is_upper_layer: raw.has(flags::UPPER),
                    is_fileless: raw.has(flags::MEMFD) || raw.has(flags::DELETED),
                    stdio_is_socket: raw.has(flags::STDIN_SOCK) || raw.has(flags::STDOUT_SOCK),
                }
            }
            Kind::Syscall => match raw.syscall {
                2 | 257 | 437 | 85 => {
                    fdname = text("fd.name");
                    let write = matches!(fields.get("evt.is_open_write"), Some(Value::Bool(true)));
                    Activity::Open {
                        path: &fdname,
                        write,
                    }
                }
                42 => {
                    let Some((addr, port)) = raw.sock.and_then(|s| s.remote) else {
                        return;
                    };
                    Activity::Connect { addr, port }
                }
                nr => {
                    let Some(op) = syscalls::name_of(nr) else {
                        return;
                    };
                    let key = [
                        "evt.arg.path",
                        "evt.arg.name",
                        "evt.arg.filename",
                        "evt.arg.oldpath",
                        "evt.arg.linkpath",
                    ]
                    .into_iter()
                    .find(|k| fields.contains_key(*k));
                    let Some(key) = key else { return };
                    fdname = text(key);
                    Activity::Modify { path: &fdname, op }
                }
            },
            Kind::Exit => return,
        };
        let w = workload(c);
        let now = time::OffsetDateTime::now_utc();
        let decisions = self.policies.evaluate(&w.as_workload(), &activity, now);
        if decisions.is_empty() {
            return;
        }
        let marked = self.marked.get(&c.id);
        let guarded = marked.is_some_and(|m| m.mark.is_some());
        let files_guarded = marked.is_some_and(|m| m.files);
        let kernel_plan = self
            .lsm
            .as_ref()
            .filter(|_| marked.is_some_and(|m| m.lsm))
            .and_then(|l| l.plan_of(raw.pidns));
        for mut d in decisions {
            if d.status == Status::Block {
                let is_exec = raw.kind == Kind::Exec;
                if kernel_plan.is_some_and(|p| p.enforces(d.control)) {
                    // The kernel had this control and let the operation through: it started
                    // before the container's policy reached the kernel.
                    d.status = Status::Detect;
                    d.message.push_str(
                        " (not blocked: it happened before the policy reached the kernel's BPF LSM maps)",
                    );
                } else if matches!(activity, Activity::Open { .. }) && files_guarded {
                    // The guard saw this open and let it through (the watchdog answered, or the
                    // open began before the container was marked).
                    d.status = Status::Detect;
                    d.message.push_str(
                        " (not blocked: the open was allowed before enforcement could decide)",
                    );
                } else if let Activity::Modify { op, .. } = activity {
                    d.status = Status::Detect;
                    if self.lsm.is_some() {
                        d.message.push_str(&format!(
                            " (not blocked: the policy's pattern cannot be matched by the BPF LSM programs, and fanotify cannot stop {op})"
                        ));
                    } else {
                        d.message.push_str(&format!(
                            " (not blocked: {op} cannot be stopped before it happens without BPF LSM, which this node does not offer; fanotify only holds opens and execs)"
                        ));
                    }
                } else if is_exec && raw.has(flags::KILLED) {
                    d.message
                        .push_str(" (blocked after exec: the process was killed with SIGKILL)");
                } else if is_exec && guarded {
                    // The fanotify guard saw this exec and let it run (watchdog answer or the
                    // exec started before the container was marked): report what happened.
                    d.status = Status::Detect;
                    d.message.push_str(
                        " (not blocked: the exec was allowed before enforcement could decide)",
                    );
                } else {
                    d.status = Status::Detect;
                    d.message.push_str(&format!(
                        " (not blocked: {} enforcement is not available on this node)",
                        d.control.as_str()
                    ));
                }
            }
            self.stats.decisions += 1;
            emit(decision_alert(&d, &en.event, &self.hostname));
        }
    }

    fn on_tick(&mut self, emit: &mut dyn FnMut(Alert)) {
        self.enricher.resync_clock();
        let k = self.probe.stats();
        if k.dropped > self.last_dropped {
            let n = k.dropped - self.last_dropped;
            self.last_dropped = k.dropped;
            emit(internal_alert(
                &self.hostname,
                "mamori internal: syscall event drop",
                format!("{n} kernel event(s) were lost because the ring buffer was full ({} lost in total since start)", k.dropped),
                "n_drops",
                n,
            ));
        }
        if let Some(g) = &self.guard {
            let c = g.counters();
            if c.timed_out > self.last_timed_out {
                let n = c.timed_out - self.last_timed_out;
                self.last_timed_out = c.timed_out;
                emit(internal_alert(
                    &self.hostname,
                    "mamori internal: exec permission answered by watchdog",
                    format!("{n} exec permission event(s) were not decided in time and were answered by the watchdog"),
                    "n_timeouts",
                    n,
                ));
            }
        }
        if let Some(w) = self.state_watch.as_mut() {
            w.refresh();
        }
        self.sync_containers();
        while let Ok(a) = self.decisions_rx.try_recv() {
            self.stats.decisions += 1;
            emit(a);
        }
    }

    /// Marks containers that enforce exec controls, unmarks the ones that are gone.
    fn sync_containers(&mut self) {
        if self.policies.is_empty() {
            return;
        }
        self.last_sync = Instant::now();
        let live = {
            let mut r = self.containers.lock().unwrap_or_else(|e| e.into_inner());
            r.forget_dead();
            match r.scan() {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "Container scan failed.");
                    return;
                }
            }
        };
        let now = time::OffsetDateTime::now_utc();
        let mut seen = BTreeSet::new();
        for c in live {
            seen.insert(c.id.clone());
            let w = workload(&c);
            let wl = w.as_workload();
            let exec_controls = [
                Control::BlockContainerExec,
                Control::DriftPrevention,
                Control::BlockedExecutables,
                Control::ReverseShell,
            ];
            let enforce_exec = exec_controls
                .iter()
                .any(|k| self.policies.enforces(&wl, *k, now));
            let enforce_files = [Control::BlockedFiles, Control::ReadOnlyPaths]
                .iter()
                .any(|k| self.policies.enforces(&wl, *k, now));
            let kill_fileless = self.policies.enforces(&wl, Control::FilelessExec, now);
            let drift = self.policies.enforces(&wl, Control::DriftPrevention, now);
            self.sync_net(&c, &wl, now);
            let Some(pidns) = c.pidns else { continue };
            // BPF LSM: the container's plan in the kernel; what the kernel cannot match stays
            // with fanotify.
            let mut in_kernel = false;
            let mut kernel_gaps = false;
            if let Some(l) = self.lsm.as_mut() {
                let plan = plan::plan_for(&self.policies, &wl, now);
                kernel_gaps = !plan.unsupported.is_empty();
                in_kernel = !plan.is_empty();
                let changed = l.plan_of(pidns) != Some(&plan)
                    && !(plan.is_empty() && l.plan_of(pidns).is_none());
                match l.set_container(pidns, &plan) {
                    Ok(()) if changed => {
                        for u in &plan.unsupported {
                            tracing::warn!(container = %c.short_id(), policy = %u.policy, control = u.control.as_str(), pattern = %u.pattern, "BPF LSM cannot match this pattern in the kernel; the control is left to fanotify for this container.");
                        }
                        if in_kernel {
                            tracing::info!(container = %c.short_id(), "Container enforced in the kernel (BPF LSM).");
                        }
                    }
                    Ok(()) => {}
                    Err(e) => {
                        in_kernel = false;
                        tracing::warn!(error = %e.chain(), container = %c.short_id(), "Putting the container's policy in the BPF LSM maps failed.")
                    }
                }
                if in_kernel {
                    self.lsm_containers.insert(pidns, c.clone());
                } else {
                    self.lsm_containers.remove(&pidns);
                }
            }
            if let Some(m) = self.marked.get_mut(&c.id) {
                m.lsm = in_kernel;
            }
            let fanotify_ok = self.guard.is_some() && (self.lsm.is_none() || kernel_gaps);
            let mut flags = 0;
            if kill_fileless {
                flags |= enforce::KILL_FILELESS;
            }
            let want_files = enforce_files && fanotify_ok;
            let want_mark = (enforce_exec || want_files) && fanotify_ok;
            if want_mark {
                flags |= enforce::TRACK_EXEC;
            } else if enforce_exec && self.backend.exec == "sigkill" && drift {
                flags |= enforce::KILL_DRIFT;
            }
            let entry = self.marked.get(&c.id);
            let has_mark = entry.is_some_and(|m| m.mark.is_some());
            let has_files = entry.is_some_and(|m| m.files);
            if entry.is_some() && has_mark == want_mark && has_files == want_files {
                let old_mark = entry.and_then(|m| m.mark);
                if entry.is_some_and(|m| m.flags != Some(flags)) {
                    // Only the kernel's post-exec flags change (a filelessExec policy whose
                    // `enforceAfter` passed, say): the marks stay, the flags must follow.
                    let written = match self.probe.set_enforce(pidns, flags) {
                        Ok(()) => Some(flags),
                        Err(e) => {
                            tracing::warn!(error = %e, "Setting kernel enforcement flags failed.");
                            None
                        }
                    };
                    if let Some(m) = self.marked.get_mut(&c.id) {
                        m.flags = written;
                    }
                }
                // Same marks; but the container's details may have been completed since (pod
                // labels from a CRI runtime that was down at first sight): the decider must see
                // the current ones.
                if let Some(id) = old_mark {
                    let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(old) = marks.get_mut(&id.get()) {
                        if !Arc::ptr_eq(old, &c) {
                            *old = c.clone();
                        }
                    }
                }
                continue;
            }
            // The marks change (a policy came into force, or went): drop the old ones first.
            if let (Some(g), Some(old)) = (&self.guard, entry.and_then(|m| m.mark)) {
                let _ = g.unmark(old);
                self.marks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&old.get());
            }
            let mut mark = None;
            if want_mark {
                if let Some(g) = &self.guard {
                    let mounts: Vec<std::path::PathBuf> = c
                        .mounts
                        .iter()
                        // Opens on device mounts would be opened by the kernel for the guard;
                        // a device that refuses that open would get the application's open
                        // denied. Exec marks do not need the care, but keep one list.
                        .filter(|m| !(want_files && is_device_source(&m.source)))
                        .map(|m| std::path::PathBuf::from(&m.dest))
                        .collect();
                    let marked = if want_files {
                        g.mark_container_files(c.init_pid, &mounts)
                    } else {
                        g.mark_container(c.init_pid, &mounts)
                    };
                    match marked {
                        Ok(id) => {
                            self.marks
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(id.get(), c.clone());
                            mark = Some(id);
                            let what = if want_files { "exec and open" } else { "exec" };
                            tracing::info!(container = %c.short_id(), "Container marked for {what} enforcement.");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, container = %c.short_id(), "Marking the container for enforcement failed.")
                        }
                    }
                }
            }
            let written = match self.probe.set_enforce(pidns, flags) {
                Ok(()) => Some(flags),
                Err(e) => {
                    tracing::warn!(error = %e, "Setting kernel enforcement flags failed.");
                    None
                }
            };
            let files = want_files && mark.is_some();
            self.marked.insert(
                c.id.clone(),
                Marked {
                    mark,
                    files,
                    pidns,
                    lsm: in_kernel,
                    flags: written,
                },
            );
        }
        let gone: Vec<String> = self
            .marked
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for id in gone {
            if let Some(m) = self.marked.remove(&id) {
                if let (Some(g), Some(mark)) = (&self.guard, m.mark) {
                    let _ = g.unmark(mark);
                    self.marks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&mark.get());
                }
                let _ = self.probe.set_enforce(m.pidns, 0);
                if let Some(l) = self.lsm.as_mut() {
                    let _ = l.clear_container(m.pidns);
                }
                self.lsm_containers.remove(&m.pidns);
            }
        }
    }
}

impl Agent {
    /// Installs a container's outbound blocks in the kernel once they are in force.
    fn sync_net(&mut self, c: &Arc<ContainerInfo>, w: &Workload<'_>, now: time::OffsetDateTime) {
        let Some(net) = self.net.as_mut() else { return };
        if self.net_blocked.contains_key(&c.id) {
            return;
        }
        let blocks = self.policies.blocked_outbound_for(w, now);
        if blocks.is_empty() {
            return;
        }
        let mut ports: Vec<u16> = blocks
            .iter()
            .flat_map(|b| b.ports.iter().copied())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        let nets: Vec<mamori_policy::runtime::Cidr> = blocks
            .iter()
            .flat_map(|b| b.addresses.iter().cloned())
            .collect();
        let names: Vec<String> = blocks.iter().map(|b| b.policy.to_string()).collect();
        match net.block(c.init_pid, &ports, &nets) {
            Ok(t) => {
                tracing::info!(container = %c.short_id(), "Outbound blocks installed.");
                self.net_blocked.insert(c.id.clone(), (t, c.clone(), names));
            }
            Err(e) => {
                tracing::warn!(error = %e, container = %c.short_id(), "Installing outbound blocks failed.")
            }
        }
    }
}

/// The owned parts of a [`Workload`].
struct OwnedWorkload {
    namespace: Option<String>,
    labels: Option<std::collections::BTreeMap<String, String>>,
    image: Option<String>,
    name: String,
}

impl OwnedWorkload {
    fn as_workload(&self) -> Workload<'_> {
        Workload {
            namespace: self.namespace.as_deref(),
            pod_labels: self.labels.as_ref(),
            image: self.image.as_deref(),
            container_name: Some(&self.name),
        }
    }
}

fn workload(c: &ContainerInfo) -> OwnedWorkload {
    OwnedWorkload {
        namespace: c.pod_namespace.clone(),
        labels: c.pod_labels.clone(),
        image: c.image.clone(),
        name: c.name.clone(),
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit.
#[allow(unsafe_code)]
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of both calls; the calls only
    // read or write that struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
