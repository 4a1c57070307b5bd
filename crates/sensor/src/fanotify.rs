//! Pre-exec (and pre-open) enforcement with fanotify permission events (`FAN_OPEN_EXEC_PERM`,
//! and `FAN_OPEN_PERM` on containers marked with [`ExecGuard::mark_container_files`]).
//!
//! On kernels that refuse BPF LSM, fanotify is the one way found to stop an exec *before* the new
//! image runs: the kernel opens the file with exec intent, asks the group, and a `FAN_DENY` makes
//! `execve` fail with `EPERM` ("Operation not permitted"). What was measured on this project's
//! machines is in `enforcement-on-this-machine.md`; the parts this module relies on:
//!
//! - a mount mark on `/proc/<container-init>/root` covers exactly one container (a mark on the
//!   overlay mount point in the host mount namespace sees nothing);
//! - the event pid is the host pid of the exec'ing task, and readlink of the event's fd gives the
//!   container-relative path of the file;
//! - fanotify has **no timeout**: an unanswered event blocks the exec forever, so this module
//!   answers every event itself within [`GuardSettings::deadline`] (the watchdog);
//! - closing the group allows every pending event at once (fail-open).
//!
//! [`ExecGuard`] owns one group. A reader thread parses events and records each one under a
//! sequence number (fd numbers get reused, so they are never the key); a bounded pool of workers
//! asks the [`ExecDecider`]; a watchdog answers whatever is older than the deadline with
//! [`GuardSettings::on_timeout`]. Whoever takes the pending entry first writes the response; a
//! decider that answers after the watchdog is counted as `late` and discarded.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mamori_sensor::fanotify::{ExecDecider, ExecGuard, ExecRequest, GuardSettings, Verdict};
//!
//! struct NoTmp;
//! impl ExecDecider for NoTmp {
//!     fn decide(&self, req: &ExecRequest) -> Verdict {
//!         if req.path.starts_with("/tmp/") { Verdict::Deny } else { Verdict::Allow }
//!     }
//! }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = ExecGuard::start(Arc::new(NoTmp), GuardSettings::default())?;
//! let mark = guard.mark_container(4242, &[])?;
//! // ... the container runs; execs of /tmp/* fail with EPERM ...
//! guard.unmark(mark)?;
//! println!("{:?}", guard.shutdown());
//! # Ok(())
//! # }
//! ```
//!
//! The guard never opens or executes a file on a marked mount itself (that would wait on its own
//! group): it only reads the event fd's link in `/proc/self/fd`, `statx`es the fd and opens mount
//! points `O_PATH`. Other threads of the sensor may open files inside a container marked for
//! opens (user names are read from the container's `/etc/passwd`): the reader answers events of
//! its own process at once with `FAN_ALLOW`, without asking the decider (counted as `own`).
//!
//! Open events carry no open flags. [`open_intent`] recovers them from the opening thread, which
//! is blocked inside its `open`/`openat`/`openat2` call while the event waits: its
//! `/proc/<pid>/task/<tid>/syscall` shows the call's number and arguments.

mod event;
mod intent;
mod marks;
mod sys;
mod threads;

pub use intent::{open_intent, OpenIntent};

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use marks::Marks;

/// Identifies the marks one call to [`ExecGuard::mark_mount`] or [`ExecGuard::mark_container`]
/// added (a container may need several mounts marked).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MarkId(u64);

impl MarkId {
    /// Stands for "no known mark": the event came through a mount whose mark was removed (or
    /// could not be identified) by the time the worker looked.
    pub const UNKNOWN: MarkId = MarkId(0);

    /// Whether this is a real mark (not [`MarkId::UNKNOWN`]).
    pub fn is_known(self) -> bool {
        self != Self::UNKNOWN
    }

    /// The number behind the id (unique within one guard; 0 is [`MarkId::UNKNOWN`]).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for MarkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mark#{}", self.0)
    }
}

/// What the task waiting for a verdict is doing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Executing the file (`FAN_OPEN_EXEC_PERM`).
    Exec,
    /// Opening it (`FAN_OPEN_PERM`, only on mounts marked with
    /// [`ExecGuard::mark_container_files`]). Whether for writing is not in the event: ask
    /// [`open_intent`] while the event is pending.
    Open,
}

/// One exec (or open) waiting for a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// Exec or open.
    pub access: Access,
    /// Host pid (thread group id) of the task calling `execve`. At this point it still runs its
    /// old image: `/proc/<pid>/comm` is the caller, not the new program.
    pub pid: u32,
    /// readlink of `/proc/self/fd/<event fd>`: the resolved path of the file inside the
    /// container's mount namespace (`/bin/whoami` → `/bin/busybox`). Not exact when
    /// [`ExecRequest::path_exact`] is false.
    pub path: String,
    /// Device of the file as the overlay reports it (for a container rootfs, the overlay's
    /// anonymous device, one per container).
    pub dev: u64,
    /// Inode number as reported (for overlay, the lower inode number even after copy-up).
    pub ino: u64,
    /// The mark the event came through: the marked mount is matched by mount id (`statx`
    /// `STATX_MNT_ID`), or by `dev` where the kernel does not report mount ids.
    /// [`MarkId::UNKNOWN`] if neither matched.
    pub mark: MarkId,
    /// The file has no links left (it was deleted while open, then executed through an fd or
    /// `/proc/<pid>/fd/N`); `path` then ends in `" (deleted)"`.
    pub unlinked: bool,
    /// `false` when `path` is not the file's real path: readlink failed (`path` is empty), the
    /// path is not UTF-8 (`path` is a lossy copy), or the file is unlinked. Path-based checks,
    /// such as the drift check, cannot be trusted then; deciders should not allow on them.
    pub path_exact: bool,
}

/// A decider's answer (and the watchdog's, see [`GuardSettings::on_timeout`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the exec go on (`FAN_ALLOW`).
    Allow,
    /// Fail the exec with `EPERM` (`FAN_DENY`).
    Deny,
}

impl Verdict {
    fn response(self) -> u32 {
        match self {
            Verdict::Allow => libc::FAN_ALLOW,
            Verdict::Deny => libc::FAN_DENY,
        }
    }
}

/// The policy the guard asks for each exec. Called on worker threads, possibly concurrently; it
/// must not open or execute files on marked mounts (that would wait on the guard itself).
pub trait ExecDecider: Send + Sync + 'static {
    /// The verdict for one exec. A slow answer is replaced by the watchdog's; a panic counts as
    /// an error and is answered with [`GuardSettings::on_timeout`].
    fn decide(&self, req: &ExecRequest) -> Verdict;
}

/// Knobs of an [`ExecGuard`].
#[derive(Debug, Clone)]
pub struct GuardSettings {
    /// How long an exec may wait for the decider before the watchdog answers (default 200 ms).
    pub deadline: Duration,
    /// The watchdog's answer, also used when the worker queue is full or the decider panics
    /// (default [`Verdict::Allow`]: fail-open, as the kernel does when the group closes).
    pub on_timeout: Verdict,
    /// Worker threads calling the decider (default 2).
    pub workers: usize,
    /// Events that may wait for a free worker; beyond that they are answered at once with
    /// `on_timeout` (default 1024).
    pub queue: usize,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            deadline: Duration::from_millis(200),
            on_timeout: Verdict::Allow,
            workers: 2,
            queue: 1024,
        }
    }
}

/// What the guard has done so far. Each event read is answered once and counted in one of
/// `allowed`, `denied`, `timed_out`, `queue_full`, `released`, or `errors` (a decider that
/// panicked); a response the kernel refused adds to `errors` as well.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardCounters {
    /// Permission events read from the group.
    pub events: u64,
    /// Events the decider allowed in time.
    pub allowed: u64,
    /// Events the decider denied in time.
    pub denied: u64,
    /// Events the watchdog answered (with `on_timeout`) because the deadline passed.
    pub timed_out: u64,
    /// Decider verdicts that came after the watchdog (or shutdown) had answered; discarded.
    pub late: u64,
    /// Events answered with `on_timeout` at once because the worker queue was full.
    pub queue_full: u64,
    /// Events still pending at shutdown, answered `FAN_ALLOW`.
    pub released: u64,
    /// Queue overflows reported by the kernel (`FAN_Q_OVERFLOW`; events were lost).
    pub overflows: u64,
    /// Events caused by the sensor's own process (e.g. reading a container's `/etc/passwd`),
    /// allowed by the reader at once.
    pub own: u64,
    /// Anything else that went wrong: unparsable buffers, failed responses, decider panics,
    /// failed readlink/statx of the event fd, failed reads of the group (`EMFILE` there means
    /// the kernel could not give us the event and denied the exec itself). Details go to the
    /// log.
    pub errors: u64,
}

/// Why the guard could not start or change its marks.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// `fanotify_init` or `fanotify_mark` returned `EPERM`.
    #[error("fanotify needs root with CAP_SYS_ADMIN in the initial user namespace (EPERM)")]
    NotPermitted,
    /// `fanotify_init(FAN_CLASS_CONTENT)` returned `EINVAL` or `ENOSYS`.
    #[error("this kernel has no fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS is off, or fanotify is missing)")]
    Unsupported,
    /// `fanotify_init` failed otherwise (e.g. `EMFILE`: too many groups).
    #[error("fanotify_init failed")]
    Init(#[source] io::Error),
    /// The settings make no sense (zero workers, zero queue, zero deadline).
    #[error("invalid guard settings: {0}")]
    Settings(&'static str),
    /// A thread could not be started.
    #[error("could not start the {0} thread")]
    Thread(&'static str, #[source] io::Error),
    /// A path to mark could not be opened or marked.
    #[error("cannot mark {}", path.display())]
    Mark {
        /// The path given (or derived from the container pid).
        path: PathBuf,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// The container's init process does not exist (any more).
    #[error("process {pid} does not exist, cannot mark its root")]
    NoSuchProcess {
        /// The pid given.
        pid: u32,
    },
    /// The process's root is the guard's own root mount (not a container, or a container that
    /// shares the host's root): marking it would hold every exec on the host.
    #[error(
        "process {pid} has the sensor's own root mount; refusing to hold every exec on the host"
    )]
    HostRoot {
        /// The pid given.
        pid: u32,
    },
    /// A volume mount point given to `mark_container` is not absolute.
    #[error("volume mount point {} is not an absolute path", .0.display())]
    RelativeMount(PathBuf),
    /// `fanotify_mark(FAN_MARK_REMOVE)` failed with something other than "not marked".
    #[error("cannot remove {id}")]
    Unmark {
        /// The mark.
        id: MarkId,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// The group is closed: the guard was shut down, or its reader stopped on an error and the
    /// guard failed open (see the log and `GuardCounters::errors`).
    #[error(
        "the exec guard's fanotify group is closed (shut down, or failed open after an error)"
    )]
    Closed,
    /// The id is not one of this guard's live marks.
    #[error("{0} is not a mark of this guard")]
    UnknownMark(MarkId),
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
    timed_out: AtomicU64,
    late: AtomicU64,
    queue_full: AtomicU64,
    released: AtomicU64,
    overflows: AtomicU64,
    own: AtomicU64,
    errors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> GuardCounters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        GuardCounters {
            events: g(&self.events),
            allowed: g(&self.allowed),
            denied: g(&self.denied),
            timed_out: g(&self.timed_out),
            late: g(&self.late),
            queue_full: g(&self.queue_full),
            released: g(&self.released),
            overflows: g(&self.overflows),
            own: g(&self.own),
            errors: g(&self.errors),
        }
    }
}

/// An event read from the group and not yet answered.
struct Pending {
    fd: Arc<OwnedFd>,
    since: Instant,
}

/// Everything answering needs, under one lock: the group fd (None once shut down) and the
/// pending events, keyed by sequence number (so in arrival order).
struct State {
    group: Option<OwnedFd>,
    pending: BTreeMap<u64, Pending>,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped by the reader on every pass of its loop (at least every 500 ms while it lives).
    heartbeat: AtomicU64,
    /// Wakes the watchdog (new first pending event, or shutdown).
    wake_watchdog: Condvar,
    stop: AtomicBool,
    counters: Counters,
    marks: Marks,
    settings: GuardSettings,
}

/// How one pending event got answered.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// We wrote the response.
    Written,
    /// Someone else had already taken the entry.
    AlreadyAnswered,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts and
        // removes), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the pending entry `seq` and writes the response, if the entry is still there.
    /// `count` is bumped before the response is written, so anyone who sees the exec finish
    /// also sees the counter.
    fn answer(&self, seq: u64, verdict: Verdict, count: Option<&AtomicU64>) -> Answer {
        let mut st = self.lock();
        let Some(p) = st.pending.remove(&seq) else {
            return Answer::AlreadyAnswered;
        };
        if let Some(c) = count {
            bump(c);
        }
        self.write_response(&st, &p, verdict);
        Answer::Written
    }

    /// Answers every pending event `FAN_ALLOW` and closes our handle on the group (the kernel
    /// frees it, with its marks, once the reader's handle is closed too).
    fn release_all(&self) {
        let mut st = self.lock();
        let pending = std::mem::take(&mut st.pending);
        for p in pending.values() {
            bump(&self.counters.released);
            self.write_response(&st, p, Verdict::Allow);
        }
        st.group = None;
    }

    fn write_response(&self, st: &State, p: &Pending, verdict: Verdict) {
        let Some(group) = st.group.as_ref() else {
            return;
        };
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&p.fd.as_raw_fd().to_ne_bytes());
        bytes[4..].copy_from_slice(&verdict.response().to_ne_bytes());
        if let Err(error) = sys::write_all_once(group.as_fd(), &bytes) {
            // ENOENT: the kernel dropped the event (the exec'ing task was killed meanwhile).
            bump(&self.counters.errors);
            tracing::warn!(%error, ?verdict, "Could not write a fanotify response.");
        }
    }
}

/// Whether a guard's reader is alive: [`Liveness::beats`] grows at least every 500 ms while
/// the reader loops; a frozen process (stopped, deadlocked) stops it.
#[derive(Clone)]
pub struct Liveness(Arc<Shared>);

impl Liveness {
    /// The reader's loop count so far.
    pub fn beats(&self) -> u64 {
        self.0.heartbeat.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Liveness").field(&self.beats()).finish()
    }
}

/// A running exec guard: one fanotify group, its reader, workers and watchdog. Dropping it is
/// the same as [`ExecGuard::shutdown`].
pub struct ExecGuard {
    shared: Arc<Shared>,
    wake_reader: OwnedFd,
    reader: Option<JoinHandle<()>>,
    watchdog: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ExecGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecGuard")
            .field("settings", &self.shared.settings)
            .field("counters", &self.shared.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl ExecGuard {
    /// Creates the fanotify group and starts the threads. No mount is marked yet, so nothing
    /// waits on the guard until [`ExecGuard::mark_mount`] or [`ExecGuard::mark_container`].
    pub fn start(
        decider: Arc<dyn ExecDecider>,
        settings: GuardSettings,
    ) -> Result<ExecGuard, GuardError> {
        if settings.workers == 0 {
            return Err(GuardError::Settings("workers must be at least 1"));
        }
        if settings.queue == 0 {
            return Err(GuardError::Settings("queue must be at least 1"));
        }
        if settings.deadline.is_zero() {
            return Err(GuardError::Settings("deadline must be above zero"));
        }
        let group = sys::fanotify_init().map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) => GuardError::NotPermitted,
            Some(libc::EINVAL) | Some(libc::ENOSYS) => GuardError::Unsupported,
            _ => GuardError::Init(e),
        })?;
        let reader_group = group.try_clone().map_err(GuardError::Init)?;
        let wake_reader = sys::eventfd().map_err(GuardError::Init)?;
        let reader_wake = wake_reader.try_clone().map_err(GuardError::Init)?;

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                group: Some(group),
                pending: BTreeMap::new(),
            }),
            heartbeat: AtomicU64::new(0),
            wake_watchdog: Condvar::new(),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            marks: Marks::default(),
            settings: settings.clone(),
        });

        let mut guard = ExecGuard {
            shared: shared.clone(),
            wake_reader,
            reader: None,
            watchdog: None,
            workers: Vec::new(),
        };

        let (tx, rx) = mpsc::sync_channel::<threads::Job>(settings.queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..settings.workers {
            let (shared, rx, decider) = (shared.clone(), rx.clone(), decider.clone());
            let handle = std::thread::Builder::new()
                .name(format!("fanotify-worker-{i}"))
                .spawn(move || threads::worker_loop(&shared, &rx, decider.as_ref()))
                .map_err(|e| GuardError::Thread("worker", e))?;
            guard.workers.push(handle);
        }
        let wd_shared = shared.clone();
        guard.watchdog = Some(
            std::thread::Builder::new()
                .name("fanotify-watchdog".into())
                .spawn(move || threads::watchdog_loop(&wd_shared))
                .map_err(|e| GuardError::Thread("watchdog", e))?,
        );
        guard.reader = Some(
            std::thread::Builder::new()
                .name("fanotify-reader".into())
                .spawn(move || {
                    threads::reader_loop(&shared, reader_group, reader_wake, tx);
                    // However the reader ends (shutdown, poll failure, bad buffer), nothing
                    // reads the group any more: fail open rather than leave execs waiting.
                    shared.release_all();
                })
                .map_err(|e| GuardError::Thread("reader", e))?,
        );
        Ok(guard)
    }

    /// Marks the mount that `path` is on (`FAN_MARK_ADD | FAN_MARK_MOUNT`, `FAN_OPEN_EXEC_PERM`):
    /// every exec of a file on that mount waits for a verdict. The mount is the one `path`
    /// resolves to in *this* process's mount namespace; for a container use
    /// [`ExecGuard::mark_container`].
    pub fn mark_mount(&self, path: &Path) -> Result<MarkId, GuardError> {
        let group = self.group_fd()?;
        self.shared.marks.add(
            group.as_fd(),
            vec![marks::Target::Path(path.to_path_buf())],
            marks::EXEC,
        )
    }

    /// Like [`ExecGuard::mark_mount`], and every open of a file on that mount waits for a
    /// verdict too ([`Access::Open`]).
    pub fn mark_mount_files(&self, path: &Path) -> Result<MarkId, GuardError> {
        let group = self.group_fd()?;
        self.shared.marks.add(
            group.as_fd(),
            vec![marks::Target::Path(path.to_path_buf())],
            marks::EXEC_AND_OPEN,
        )
    }

    /// Marks the root mount of the container whose init has host pid `init_pid` (through
    /// `/proc/<pid>/root`), and each volume mount point in `extra_mounts` (absolute paths inside
    /// the container, resolved with the container's root as `/`, so its symlinks cannot lead
    /// outside). One id covers all of them. A process whose root is the guard's own root mount
    /// is refused ([`GuardError::HostRoot`]).
    pub fn mark_container(
        &self,
        init_pid: u32,
        extra_mounts: &[PathBuf],
    ) -> Result<MarkId, GuardError> {
        self.mark_container_mask(init_pid, extra_mounts, marks::EXEC)
    }

    /// Like [`ExecGuard::mark_container`], and every open of a file on those mounts waits for a
    /// verdict too ([`Access::Open`]): what blocking file reads and writes needs. It costs a
    /// round trip to the guard per open in the container, so mark only containers that enforce
    /// file controls, and leave device mounts out (the kernel opens each event's file for the
    /// guard; a device that refuses that open gets the application's open denied).
    pub fn mark_container_files(
        &self,
        init_pid: u32,
        extra_mounts: &[PathBuf],
    ) -> Result<MarkId, GuardError> {
        self.mark_container_mask(init_pid, extra_mounts, marks::EXEC_AND_OPEN)
    }

    fn mark_container_mask(
        &self,
        init_pid: u32,
        extra_mounts: &[PathBuf],
        mask: u64,
    ) -> Result<MarkId, GuardError> {
        if let Some(rel) = extra_mounts.iter().find(|m| !m.is_absolute()) {
            return Err(GuardError::RelativeMount(rel.clone()));
        }
        let group = self.group_fd()?;
        let mut targets = vec![marks::Target::InContainer {
            pid: init_pid,
            dest: None,
        }];
        targets.extend(extra_mounts.iter().map(|m| marks::Target::InContainer {
            pid: init_pid,
            dest: Some(m.clone()),
        }));
        self.shared.marks.add(group.as_fd(), targets, mask)
    }

    /// Removes the marks behind `id` (`FAN_MARK_REMOVE`). A mount that is gone (container
    /// stopped, `ENOENT`) is fine: the kernel drops marks of freed mounts itself.
    pub fn unmark(&self, id: MarkId) -> Result<(), GuardError> {
        let group = self.group_fd()?;
        self.shared.marks.remove(group.as_fd(), id)
    }

    /// A handle telling whether the reader thread still runs its loop (for a supervisor
    /// outside the process, see [`crate::supervisor`]).
    pub fn liveness(&self) -> Liveness {
        Liveness(self.shared.clone())
    }

    /// The counters so far.
    pub fn counters(&self) -> GuardCounters {
        self.shared.counters.snapshot()
    }

    /// Stops the reader and the watchdog, answers every pending event `FAN_ALLOW` and closes the
    /// group, which removes all marks (the kernel would allow pending events on close anyway:
    /// fail-open). Workers that are idle exit; a worker stuck in the decider is left to finish on
    /// its own, and its verdict is counted as `late`.
    pub fn shutdown(mut self) -> GuardCounters {
        self.stop();
        self.shared.counters.snapshot()
    }

    fn group_fd(&self) -> Result<OwnedFd, GuardError> {
        let st = self.shared.lock();
        let group = st.group.as_ref().ok_or(GuardError::Closed)?;
        group.try_clone().map_err(GuardError::Init)
    }

    fn stop(&mut self) {
        if self.reader.is_none() && self.watchdog.is_none() {
            return;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Err(error) = sys::eventfd_signal(self.wake_reader.as_fd()) {
            tracing::warn!(%error, "Could not wake the fanotify reader; it stops at its next poll timeout.");
        }
        {
            // Notify under the lock: the watchdog checks `stop` under it, so the wake-up cannot
            // fall between its check and its wait.
            let _st = self.shared.lock();
            self.shared.wake_watchdog.notify_all();
        }
        for h in [self.reader.take(), self.watchdog.take()]
            .into_iter()
            .flatten()
        {
            if h.join().is_err() {
                bump(&self.shared.counters.errors);
            }
        }
        self.shared.release_all();
        // Idle workers see the closed channel (the reader dropped its sender) and exit; give them
        // a moment, and leave the ones busy in the decider behind.
        let until = Instant::now() + Duration::from_millis(100);
        let mut workers = std::mem::take(&mut self.workers);
        while !workers.is_empty() && Instant::now() < until {
            let (done, busy): (Vec<_>, Vec<_>) = workers.into_iter().partition(|w| w.is_finished());
            for w in done {
                let _ = w.join();
            }
            workers = busy;
            if !workers.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for ExecGuard {
    fn drop(&mut self) {
        self.stop();
    }
}
