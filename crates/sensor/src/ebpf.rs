//! Loading and driving the BPF object (`bpf/sensor.bpf.o`, committed; `bpf/build.sh` rebuilds
//! it) with aya: BTF tracepoints for exec/fork/exit and `sys_exit`, one ring buffer drained on
//! a short timer, per-CPU counters of produced/dropped/filtered events, and the maps userspace
//! writes: which syscalls cross, the exec-session taint (read by the fanotify decider), and the
//! per-container post-exec enforcement flags.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, Lsm, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

/// The compiled BPF object.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/sensor.bpf.o");

/// Settings indices (must match `CFG_*` in the C source).
const CFG_HOST_PIDNS: u32 = 0;
const CFG_CONTAINERS_ONLY: u32 = 1;
const CFG_WAKEUP_BYTES: u32 = 2;
const CFG_FAILED_SYSCALLS: u32 = 3;
const CFG_SELF_PID: u32 = 4;

/// Post-exec enforcement flags per pid namespace (must match `ENF_*`).
pub mod enforce {
    /// SIGKILL an exec from a memfd (fileless).
    pub const KILL_FILELESS: u32 = 1 << 0;
    /// SIGKILL any exec in an exec session (fallback when fanotify is unavailable).
    pub const KILL_SESSION_EXEC: u32 = 1 << 1;
    /// SIGKILL an exec of an upper-layer file (fallback when fanotify is unavailable).
    pub const KILL_DRIFT: u32 = 1 << 2;
    /// Record the pathname each execve asks for (read by the fanotify decider).
    pub const TRACK_EXEC: u32 = 1 << 3;
}

/// Loading or attaching the probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The kernel's BTF could not be read.
    #[error("cannot read the kernel's BTF at /sys/kernel/btf/vmlinux (a kernel built with CONFIG_DEBUG_INFO_BTF is needed)")]
    Btf(#[source] aya::BtfError),
    /// Not allowed to create maps or load programs.
    #[error(
        "missing privileges to load eBPF programs: run as root or with CAP_BPF and CAP_PERFMON"
    )]
    Privileges(#[source] aya::EbpfError),
    /// The object failed to load (verifier, map creation).
    #[error("loading the sensor's eBPF object failed")]
    Load(#[source] aya::EbpfError),
    /// A program failed to load or attach.
    #[error("eBPF program {program} ({hook}) failed to load or attach")]
    Program {
        /// Program name.
        program: &'static str,
        /// Kernel hook.
        hook: &'static str,
        /// Cause.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// tracefs is not mounted and could not be mounted.
    #[error("tracefs is not mounted at /sys/kernel/tracing and mounting it failed")]
    Tracefs(#[source] std::io::Error),
    /// A map is missing or has another type.
    #[error("eBPF map {0} is missing or of an unexpected type")]
    Map(&'static str),
    /// A map operation failed.
    #[error("eBPF map {name} update failed")]
    MapOp {
        /// Map name.
        name: &'static str,
        /// Cause.
        #[source]
        source: aya::maps::MapError,
    },
}

/// What to load.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Ring buffer bytes per CPU (rounded up to a power of two page multiple).
    pub ring_bytes_per_cpu: u32,
    /// Syscall numbers that cross to userspace.
    pub syscalls: BTreeSet<u32>,
    /// Drop events of host processes in the kernel (only containers cross).
    pub containers_only: bool,
    /// Report failed syscalls too.
    pub failed_syscalls: bool,
    /// Also trace this process (benchmarks that run the workload in-process; never in
    /// production, where the sensor's own file reads would feed back on themselves).
    pub trace_self: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            ring_bytes_per_cpu: 4 << 20,
            syscalls: BTreeSet::new(),
            containers_only: false,
            failed_syscalls: false,
            trace_self: false,
        }
    }
}

/// Kernel-side counters, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Events written to the ring buffer.
    pub produced: u64,
    /// Events lost because the ring buffer was full.
    pub dropped: u64,
    /// Events dropped by the in-kernel filter (host processes when containers only).
    pub filtered: u64,
    /// Tasks killed after exec (post-exec enforcement).
    pub killed: u64,
}

/// The exec-session taint map and the recorded execve pathnames, shareable with the fanotify
/// decider thread.
pub struct TaintMap(HashMap<MapData, u32, u32>, HashMap<MapData, u32, [u8; 256]>);

impl std::fmt::Debug for TaintMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaintMap")
    }
}

impl TaintMap {
    /// Whether the task descends from an exec session.
    pub fn is_tainted(&self, tid: u32) -> bool {
        self.0.get(&tid, 0).is_ok()
    }

    /// The pathname the task last passed to execve (containers with `TRACK_EXEC` only).
    pub fn exec_path(&self, tid: u32) -> Option<String> {
        let v = self.1.get(&tid, 0).ok()?;
        let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
        Some(String::from_utf8_lossy(&v[..end]).into_owned())
    }
}

/// Mounts tracefs at /sys/kernel/tracing when it is missing (classic tracepoints need it).
pub fn ensure_tracefs() -> Result<(), ProbeError> {
    let dir = Path::new("/sys/kernel/tracing");
    if dir.join("events").is_dir() {
        return Ok(());
    }
    let status = std::process::Command::new("mount")
        .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
        .status()
        .map_err(ProbeError::Tracefs)?;
    if status.success() && dir.join("events").is_dir() {
        tracing::info!("mounted tracefs at /sys/kernel/tracing");
        Ok(())
    } else {
        Err(ProbeError::Tracefs(std::io::Error::other(format!(
            "mount -t tracefs exited with {status}"
        ))))
    }
}

/// The loaded, attached probe.
pub struct Probe {
    bpf: Ebpf,
    btf: Btf,
    ring: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
    enforce: HashMap<MapData, u64, u32>,
    taint: Arc<TaintMap>,
    host_pidns: u64,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("host_pidns", &self.host_pidns)
            .finish()
    }
}

fn ncpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            let last = s.rsplit([',', '-']).next()?;
            last.parse::<u32>().ok().map(|n| n + 1)
        })
        .unwrap_or(1)
}

/// The inode of a namespace link (`/proc/self/ns/pid`).
pub fn ns_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

const PROGRAMS: [(&str, &str); 4] = [
    ("on_fork", "sched_process_fork"),
    ("on_exec", "sched_process_exec"),
    ("on_exit", "sched_process_exit"),
    ("on_sys_exit", "sys_exit"),
];

impl Probe {
    /// Loads the object, configures it and attaches every program.
    pub fn load(cfg: &ProbeConfig) -> Result<Probe, ProbeError> {
        let btf = Btf::from_sys_fs().map_err(ProbeError::Btf)?;
        let ring = (cfg.ring_bytes_per_cpu.max(1 << 16) * ncpus()).next_power_of_two();
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .map_max_entries("events", ring)
            .load(OBJECT)
            .map_err(|e| {
                if is_eperm(&e) {
                    ProbeError::Privileges(e)
                } else {
                    ProbeError::Load(e)
                }
            })?;
        // The sensor runs in the host's pid namespace (a DaemonSet with hostPID): its own
        // namespace is the host's. (/proc/1/ns may not be readable in a sandbox.)
        let host_pidns = ns_inode(Path::new("/proc/self/ns/pid")).unwrap_or(0);
        {
            let mut settings: Array<&mut MapData, u64> = bpf
                .map_mut("settings")
                .and_then(|m| Array::try_from(m).ok())
                .ok_or(ProbeError::Map("settings"))?;
            let set = |s: &mut Array<&mut MapData, u64>, i: u32, v: u64| {
                s.set(i, v, 0).map_err(|source| ProbeError::MapOp {
                    name: "settings",
                    source,
                })
            };
            set(&mut settings, CFG_HOST_PIDNS, host_pidns)?;
            set(
                &mut settings,
                CFG_CONTAINERS_ONLY,
                u64::from(cfg.containers_only),
            )?;
            // Wake the reader early when the buffer is a quarter full.
            set(&mut settings, CFG_WAKEUP_BYTES, u64::from(ring / 4))?;
            set(
                &mut settings,
                CFG_FAILED_SYSCALLS,
                u64::from(cfg.failed_syscalls),
            )?;
            let me = if cfg.trace_self {
                0
            } else {
                std::process::id()
            };
            set(&mut settings, CFG_SELF_PID, u64::from(me))?;
        }
        {
            let mut sys: Array<&mut MapData, u8> = bpf
                .map_mut("syscalls")
                .and_then(|m| Array::try_from(m).ok())
                .ok_or(ProbeError::Map("syscalls"))?;
            for &nr in &cfg.syscalls {
                if nr < 512 {
                    sys.set(nr, 1u8, 0).map_err(|source| ProbeError::MapOp {
                        name: "syscalls",
                        source,
                    })?;
                }
            }
        }
        for (name, hook) in PROGRAMS {
            let prog: &mut BtfTracePoint = bpf
                .program_mut(name)
                .and_then(|p| p.try_into().ok())
                .ok_or(ProbeError::Map(name))?;
            let wrap = |source| ProbeError::Program {
                program: name,
                hook,
                source,
            };
            prog.load(hook, &btf).map_err(wrap)?;
            prog.attach().map_err(wrap)?;
        }
        ensure_tracefs()?;
        for (name, syscall) in [
            ("on_enter_execve", "sys_enter_execve"),
            ("on_enter_execveat", "sys_enter_execveat"),
        ] {
            let prog: &mut TracePoint = bpf
                .program_mut(name)
                .and_then(|p| p.try_into().ok())
                .ok_or(ProbeError::Map(name))?;
            let wrap = |source| ProbeError::Program {
                program: name,
                hook: "tracepoint/syscalls",
                source,
            };
            prog.load().map_err(wrap)?;
            prog.attach("syscalls", syscall).map_err(wrap)?;
        }
        let ring = bpf
            .take_map("events")
            .and_then(|m| RingBuf::try_from(m).ok())
            .ok_or(ProbeError::Map("events"))?;
        let stats = bpf
            .take_map("stats")
            .and_then(|m| PerCpuArray::try_from(m).ok())
            .ok_or(ProbeError::Map("stats"))?;
        let enforce = bpf
            .take_map("enforce")
            .and_then(|m| HashMap::try_from(m).ok())
            .ok_or(ProbeError::Map("enforce"))?;
        let taint = bpf
            .take_map("taint")
            .and_then(|m| HashMap::try_from(m).ok())
            .ok_or(ProbeError::Map("taint"))?;
        let exec_paths = bpf
            .take_map("exec_paths")
            .and_then(|m| HashMap::try_from(m).ok())
            .ok_or(ProbeError::Map("exec_paths"))?;
        Ok(Probe {
            bpf,
            btf,
            ring,
            stats,
            enforce,
            taint: Arc::new(TaintMap(taint, exec_paths)),
            host_pidns,
        })
    }

    /// Whether this kernel accepts BPF LSM programs: loads (never attaches) a probe program on
    /// `bprm_check_security`. `Err` carries the kernel's refusal, for the start-up report.
    pub fn lsm_available(&mut self) -> Result<(), String> {
        let prog: &mut Lsm = self
            .bpf
            .program_mut("lsm_probe")
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| "the LSM probe program is missing from the object".to_string())?;
        match prog.load("bprm_check_security", &self.btf) {
            Ok(()) => {
                let _ = prog.unload();
                Ok(())
            }
            Err(e) => {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(c) = src {
                    msg.push_str(": ");
                    msg.push_str(&c.to_string());
                    src = c.source();
                }
                Err(msg)
            }
        }
    }

    /// The host's pid namespace inode.
    pub fn host_pidns(&self) -> u64 {
        self.host_pidns
    }

    /// The exec-session taint map.
    pub fn taint(&self) -> Arc<TaintMap> {
        self.taint.clone()
    }

    /// Sets (or with 0, clears) the post-exec enforcement flags of a container's pid namespace.
    pub fn set_enforce(&mut self, pidns: u64, flags: u32) -> Result<(), ProbeError> {
        let r = if flags == 0 {
            match self.enforce.remove(&pidns) {
                Err(aya::maps::MapError::KeyNotFound) => Ok(()),
                r => r,
            }
        } else {
            self.enforce.insert(pidns, flags, 0)
        };
        r.map_err(|source| ProbeError::MapOp {
            name: "enforce",
            source,
        })
    }

    /// Counters summed over CPUs.
    pub fn stats(&self) -> KernelStats {
        let sum = |i: u32| -> u64 { self.stats.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0) };
        KernelStats {
            produced: sum(0),
            dropped: sum(1),
            filtered: sum(2),
            killed: sum(3),
        }
    }

    /// Waits up to `timeout` for data, then hands every queued record to `f`. Returns how many.
    pub fn poll(&mut self, timeout: Duration, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            f(&item);
            n += 1;
        }
        if n > 0 {
            return n;
        }
        wait_readable(self.ring.as_raw_fd(), timeout);
        while let Some(item) = self.ring.next() {
            f(&item);
            n += 1;
        }
        n
    }
}

fn is_eperm(e: &aya::EbpfError) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return true;
            }
        }
        if s.to_string().contains("Operation not permitted") {
            return true;
        }
        src = s.source();
    }
    false
}

#[allow(unsafe_code)]
fn wait_readable(fd: std::os::fd::RawFd, timeout: Duration) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `p` is one valid pollfd that outlives the call; nfds is 1. The result is only a
    // hint (the caller drains the ring either way), so errors such as EINTR are ignored.
    unsafe {
        libc::poll(&mut p, 1, ms);
    }
}
