//! The BPF LSM enforcement backend: `bpf/lsm.bpf.o` (C, CO-RE, committed; `bpf/build.sh`
//! rebuilds it) attached to `bprm_check_security`, `file_open`, the `path_*` hooks and
//! `task_alloc`, deciding in the kernel what the runtime policies' enforce-mode controls ask:
//! exec sessions, drift, blocked executables, reverse shells and fileless execs before the exec;
//! blocked files and read-only paths before the open, and unlink/rename/mkdir/rmdir/chmod/
//! create/truncate/link/symlink under them before the change. Outbound connections stay with
//! [`crate::netblock`] (cgroup connect programs, which work with or without BPF LSM).
//!
//! [`LsmEnforcer::start`] fails with a reason when the kernel refuses BPF LSM (no
//! `CONFIG_BPF_LSM`, `bpf` missing from the active LSM list, trampolines refused with EPERM);
//! the agent then falls back to fanotify and says so. Userspace fills the maps per container
//! ([`LsmEnforcer::set_container`], from a [`KernelPlan`]) and turns each refusal the kernel
//! reports ([`Denial`]) into the same `block` decision the fanotify path raises.

use std::collections::HashMap as StdHashMap;
use std::os::fd::AsRawFd;
use std::path::Path;

use aya::maps::{HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::Lsm;
use aya::{Btf, Ebpf, EbpfLoader};

pub mod plan;
pub mod wire;

pub use plan::{plan_for, KernelPlan, MatchKind, Unsupported};
pub use wire::{Denial, DenialKind};

/// The compiled BPF object.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/lsm.bpf.o");

/// The programs and their hooks, in attach order (`task_alloc` first, so sessions are tracked
/// before anything is refused).
const PROGRAMS: [(&str, &str); 13] = [
    ("lsm_task_alloc", "task_alloc"),
    ("lsm_task_free", "task_free"),
    ("lsm_bprm_check", "bprm_check_security"),
    ("lsm_file_open", "file_open"),
    ("lsm_path_unlink", "path_unlink"),
    ("lsm_path_rmdir", "path_rmdir"),
    ("lsm_path_mkdir", "path_mkdir"),
    ("lsm_path_mknod", "path_mknod"),
    ("lsm_path_symlink", "path_symlink"),
    ("lsm_path_link", "path_link"),
    ("lsm_path_rename", "path_rename"),
    ("lsm_path_chmod", "path_chmod"),
    ("lsm_path_truncate", "path_truncate"),
];

/// The BPF LSM backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    /// The kernel's BTF could not be read (BPF LSM needs it).
    #[error("cannot read the kernel's BTF at /sys/kernel/btf/vmlinux")]
    Btf(#[source] aya::BtfError),
    /// `bpf` is not an active LSM.
    #[error("bpf is not in the kernel's active LSM list ({active}); boot with lsm=...,bpf")]
    NotActive {
        /// `/sys/kernel/security/lsm`.
        active: String,
    },
    /// The object failed to load.
    #[error("loading the BPF LSM object failed")]
    Load(#[source] aya::EbpfError),
    /// A program was refused (EPERM on kernels that refuse trampolines, or the verifier).
    #[error("BPF LSM program {program} ({hook}) was refused")]
    Program {
        /// Program name.
        program: &'static str,
        /// LSM hook.
        hook: &'static str,
        /// Cause.
        #[source]
        source: aya::programs::ProgramError,
    },
    /// A map is missing from the object.
    #[error("BPF LSM map {0} is missing or of an unexpected type")]
    Map(&'static str),
    /// A map update failed.
    #[error("BPF LSM map {name} update failed")]
    MapOp {
        /// Map name.
        name: &'static str,
        /// Cause.
        #[source]
        source: aya::maps::MapError,
    },
}

impl LsmError {
    /// The error and its causes on one line (for the start-up report).
    pub fn chain(&self) -> String {
        let mut msg = self.to_string();
        let mut src = std::error::Error::source(self);
        while let Some(c) = src {
            msg.push_str(": ");
            msg.push_str(&c.to_string());
            src = c.source();
        }
        msg
    }
}

/// Kernel counters, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LsmStats {
    /// Operations refused.
    pub denied: u64,
    /// Denial records lost (ring buffer full); the operation was still refused.
    pub lost: u64,
    /// Paths that could not be read (too long, too deep): not matched.
    pub path_errors: u64,
    /// Checks made in containers with a policy.
    pub checks: u64,
}

/// The active LSMs, when securityfs can be read (mounted here if missing).
pub fn active_lsms() -> Option<String> {
    let file = Path::new("/sys/kernel/security/lsm");
    if !file.exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "securityfs", "securityfs", "/sys/kernel/security"])
            .stderr(std::process::Stdio::null())
            .status();
    }
    std::fs::read_to_string(file)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Pattern sets shared by containers with the same plan.
struct SetEntry {
    id: u32,
    users: usize,
    keys: Vec<[u8; 16]>,
}

/// The loaded, attached BPF LSM programs and their maps.
pub struct LsmEnforcer {
    _bpf: Ebpf,
    containers: HashMap<MapData, u64, [u8; 36]>,
    patterns: HashMap<MapData, [u8; 16], [u8; 32]>,
    sets: HashMap<MapData, u32, [u8; 256]>,
    ring: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
    by_plan: StdHashMap<KernelPlan, SetEntry>,
    by_pidns: StdHashMap<u64, KernelPlan>,
    next_set: u32,
}

impl std::fmt::Debug for LsmEnforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LsmEnforcer")
            .field("containers", &self.by_pidns.len())
            .field("sets", &self.by_plan.len())
            .finish()
    }
}

fn take<T: TryFrom<aya::maps::Map>>(bpf: &mut Ebpf, name: &'static str) -> Result<T, LsmError> {
    bpf.take_map(name)
        .and_then(|m| T::try_from(m).ok())
        .ok_or(LsmError::Map(name))
}

impl LsmEnforcer {
    /// Loads and attaches every program. Any refusal is an error (the caller falls back).
    pub fn start() -> Result<LsmEnforcer, LsmError> {
        if let Some(active) = active_lsms() {
            if !active.split(',').any(|l| l == "bpf") {
                return Err(LsmError::NotActive { active });
            }
        }
        let btf = Btf::from_sys_fs().map_err(LsmError::Btf)?;
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .load(OBJECT)
            .map_err(LsmError::Load)?;
        for (name, hook) in PROGRAMS {
            let prog: &mut Lsm = bpf
                .program_mut(name)
                .and_then(|p| p.try_into().ok())
                .ok_or(LsmError::Map(name))?;
            let wrap = |source| LsmError::Program {
                program: name,
                hook,
                source,
            };
            prog.load(hook, &btf).map_err(wrap)?;
            prog.attach().map_err(wrap)?;
        }
        Ok(LsmEnforcer {
            containers: take(&mut bpf, "containers")?,
            patterns: take(&mut bpf, "patterns")?,
            sets: take(&mut bpf, "sets")?,
            ring: take(&mut bpf, "denials")?,
            stats: take(&mut bpf, "lsm_stats")?,
            _bpf: bpf,
            by_plan: StdHashMap::new(),
            by_pidns: StdHashMap::new(),
            next_set: 1,
        })
    }

    /// Puts a container's plan in the kernel (an empty plan removes it). Containers with the
    /// same plan share one pattern set.
    pub fn set_container(&mut self, pidns: u64, plan: &KernelPlan) -> Result<(), LsmError> {
        if self.by_pidns.get(&pidns) == Some(plan) {
            return Ok(());
        }
        self.clear_container(pidns)?;
        if plan.is_empty() {
            return Ok(());
        }
        let set = match self.by_plan.get_mut(plan) {
            Some(e) => {
                e.users += 1;
                e.id
            }
            None => {
                let id = self.next_set;
                self.next_set = self.next_set.wrapping_add(1).max(1);
                let mut keys = Vec::new();
                for ((kind, bytes), mask) in &plan.patterns {
                    let k =
                        wire::pattern_key(plan::fnv1a(bytes), id, bytes.len() as u16, *kind as u8);
                    self.patterns
                        .insert(k, wire::pattern_value(mask), 0)
                        .map_err(|source| LsmError::MapOp {
                            name: "patterns",
                            source,
                        })?;
                    keys.push(k);
                }
                self.sets
                    .insert(id, wire::set_value(&plan.prefix_lengths()), 0)
                    .map_err(|source| LsmError::MapOp {
                        name: "sets",
                        source,
                    })?;
                self.by_plan
                    .insert(plan.clone(), SetEntry { id, users: 1, keys });
                id
            }
        };
        self.containers
            .insert(pidns, wire::container_value(set, &plan.need), 0)
            .map_err(|source| LsmError::MapOp {
                name: "containers",
                source,
            })?;
        self.by_pidns.insert(pidns, plan.clone());
        Ok(())
    }

    /// Removes a container (and its pattern set when no other container uses it).
    pub fn clear_container(&mut self, pidns: u64) -> Result<(), LsmError> {
        let Some(old) = self.by_pidns.remove(&pidns) else {
            return Ok(());
        };
        match self.containers.remove(&pidns) {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
            Err(source) => {
                return Err(LsmError::MapOp {
                    name: "containers",
                    source,
                })
            }
        }
        let drop_set = match self.by_plan.get_mut(&old) {
            Some(e) => {
                e.users -= 1;
                e.users == 0
            }
            None => false,
        };
        if drop_set {
            if let Some(e) = self.by_plan.remove(&old) {
                for k in &e.keys {
                    let _ = self.patterns.remove(k);
                }
                let _ = self.sets.remove(&e.id);
            }
        }
        Ok(())
    }

    /// The plan the kernel holds for a container.
    pub fn plan_of(&self, pidns: u64) -> Option<&KernelPlan> {
        self.by_pidns.get(&pidns)
    }

    /// Hands every queued denial record to `f` (undecodable ones as errors). Returns how many.
    pub fn drain(&mut self, mut f: impl FnMut(Result<Denial, wire::DenialError>)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            f(Denial::decode(&item));
            n += 1;
        }
        n
    }

    /// The ring buffer's fd (readable when denials are queued).
    pub fn ring_fd(&self) -> std::os::fd::RawFd {
        self.ring.as_raw_fd()
    }

    /// Counters summed over CPUs.
    pub fn stats(&self) -> LsmStats {
        let sum = |i: u32| -> u64 { self.stats.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0) };
        LsmStats {
            denied: sum(0),
            lost: sum(1),
            path_errors: sum(2),
            checks: sum(3),
        }
    }
}
