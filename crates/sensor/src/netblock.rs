//! Outbound-connection enforcement in the kernel: the `blockedOutbound` control of runtime
//! policies in enforce mode.
//!
//! [`NetBlocker::start`] loads `bpf/netblock.bpf.o` (C, committed; `bpf/build.sh` rebuilds it)
//! and attaches its `cgroup/connect4`, `connect6`, `sendmsg4` and `sendmsg6` programs once to
//! the cgroup v2 root (as a BPF link, which is always multi-attach: programs of other tools keep
//! running). A connect() (TCP,
//! connected UDP) or unconnected UDP sendmsg() from a blocked container to a blocked port or
//! network then fails with `EPERM`, and the denial reaches userspace through a ring buffer
//! ([`NetBlocker::drain_denials`]).
//!
//! # Which container a call comes from
//!
//! Containers are keyed by their **cgroup v2 id** ([`KeyKind::Cgroup`]): runc gives each
//! container a cgroup v2 directory of its own even on a hybrid v1+v2 host (`0::/<id>` in
//! `/proc/<init>/cgroup`), `runc exec` and CRI exec join it, and a Kubernetes container's cgroup
//! is per container (a pod's containers share one network namespace, so a netns key would apply
//! one container's policy to its siblings). The program matches the caller's cgroup or, for
//! sub-cgroups a container creates itself, the deepest ancestor that has a rule.
//!
//! Where a container has no cgroup v2 directory of its own (its `0::` path is `/`: a runtime
//! that only manages v1 controllers), [`NetBlocker::block`] falls back to the **netns cookie**
//! ([`KeyKind::Netns`]), read with `SO_NETNS_COOKIE` from a socket made inside the container's
//! network namespace by a short-lived thread. A container sharing the host's network namespace
//! and cgroup cannot be told apart from the host and is refused ([`NetBlockError::NoKey`]).
//!
//! Requires CAP_BPF (maps, programs) and CAP_NET_ADMIN (cgroup socket programs), CAP_SYS_ADMIN
//! for the netns fallback (`setns`), and a cgroup v2 mount.

mod keys;
mod target;
mod wire;

use std::collections::{BTreeSet, HashMap as StdHashMap};
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{CgroupAttachMode, CgroupSockAddr};
use aya::{Btf, Ebpf, EbpfLoader};
use mamori_policy::runtime::Cidr;

pub use keys::{net_key, net_of, port_key, target_value, NetKey};
pub use target::{cgroup2_mount, cgroup2_path, CgroupKeyError};
pub use wire::{decode, DecodeError, DENIAL_LEN};

/// The compiled BPF object.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/netblock.bpf.o");

/// The programs and their hooks.
const PROGRAMS: [(&str, &str); 4] = [
    ("nb_connect4", "cgroup/connect4"),
    ("nb_connect6", "cgroup/connect6"),
    ("nb_sendmsg4", "cgroup/sendmsg4"),
    ("nb_sendmsg6", "cgroup/sendmsg6"),
];

/// Settings indices (must match `CFG_*` in the C source).
const CFG_N_CGROUP: u32 = 0;
const CFG_N_NETNS: u32 = 1;

/// Stats indices (must match `ST_*`).
const ST_DENIED: u32 = 0;
const ST_LOST: u32 = 1;

/// What the kernel side keys a container by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// The cgroup v2 id (inode of the container's cgroup directory).
    Cgroup,
    /// The network namespace cookie.
    Netns,
}

impl KeyKind {
    /// `"cgroup"` or `"netns"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Cgroup => "cgroup",
            KeyKind::Netns => "netns",
        }
    }
}

/// A container whose outbound connections are restricted, as the kernel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetTarget {
    /// What `key` is.
    pub kind: KeyKind,
    /// The cgroup v2 id or the netns cookie.
    pub key: u64,
}

/// Where the denied call was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// connect() (TCP, or UDP connect).
    Connect,
    /// sendmsg()/sendto() with a destination (unconnected UDP).
    Sendmsg,
}

/// What matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The destination port is blocked.
    Port,
    /// The destination address is in a blocked network.
    Network,
}

/// One denied connection, from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The calling process (thread group id, host pid namespace).
    pub pid: u32,
    /// Its command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// The destination address as the caller gave it (v4-mapped v6 addresses stay v6).
    pub addr: IpAddr,
    /// The destination port.
    pub port: u16,
    /// The container whose rule denied it.
    pub target: NetTarget,
    /// connect() or sendmsg().
    pub hook: Hook,
    /// Port or network.
    pub reason: Reason,
}

/// Starting the blocker or changing its rules failed.
#[derive(Debug, thiserror::Error)]
pub enum NetBlockError {
    /// No cgroup2 mount in /proc/self/mountinfo.
    #[error("no cgroup v2 mount found in /proc/self/mountinfo (cgroup socket programs attach to a cgroup v2 hierarchy: mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`)")]
    NoCgroup2,
    /// /proc/self/mountinfo could not be read.
    #[error("cannot read /proc/self/mountinfo")]
    Mountinfo(#[source] std::io::Error),
    /// The cgroup v2 root could not be opened.
    #[error("cannot open the cgroup v2 root {path}")]
    OpenCgroup {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The kernel's BTF could not be read.
    #[error("cannot read the kernel's BTF at /sys/kernel/btf/vmlinux")]
    Btf(#[source] aya::BtfError),
    /// Not allowed to create maps, load or attach programs.
    #[error("missing privileges for cgroup socket programs: run as root or with CAP_BPF and CAP_NET_ADMIN")]
    Privileges(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The object failed to load (map creation, relocation).
    #[error("loading the netblock eBPF object failed")]
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
    /// A program is missing from the object.
    #[error("eBPF program {0} is missing from netblock.bpf.o")]
    MissingProgram(&'static str),
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
    /// The container's cgroup could not be used.
    #[error("cannot key process {pid} by its cgroup")]
    Cgroup {
        /// The container's init pid.
        pid: u32,
        /// Cause.
        #[source]
        source: CgroupKeyError,
    },
    /// The container's network namespace could not be read.
    #[error("cannot read the network namespace cookie of process {pid}")]
    Netns {
        /// The container's init pid.
        pid: u32,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The process shares both the host's cgroup and network namespace.
    #[error("process {pid} has neither a cgroup v2 directory nor a network namespace of its own: blocking it would block the host")]
    NoKey {
        /// The process.
        pid: u32,
    },
    /// `unblock` of a target that has no rules.
    #[error("no rules are installed for {} {}", .0.kind.as_str(), .0.key)]
    UnknownTarget(NetTarget),
}

/// What is installed for one target.
#[derive(Debug)]
struct Installed {
    rule: u32,
    ports: BTreeSet<u16>,
    nets: Vec<NetKey>,
}

/// The loaded, attached programs and the rules per container.
///
/// Dropping it (or the agent exiting) detaches the programs and frees the maps: every block is
/// lifted. Nothing is pinned, so a restarted agent starts from no rules.
pub struct NetBlocker {
    /// Holds the programs and their links to the cgroup root (dropping detaches).
    _bpf: Ebpf,
    cgroup_root: PathBuf,
    settings: Array<MapData, u64>,
    by_cgroup: HashMap<MapData, u64, u64>,
    by_netns: HashMap<MapData, u64, u64>,
    ports: HashMap<MapData, u64, u8>,
    nets4: LpmTrie<MapData, [u8; 8], u8>,
    nets6: LpmTrie<MapData, [u8; 20], u8>,
    stats: PerCpuArray<MapData, u64>,
    ring: RingBuf<MapData>,
    installed: StdHashMap<NetTarget, Installed>,
    next_rule: u32,
    undecodable: u64,
}

impl std::fmt::Debug for NetBlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetBlocker")
            .field("cgroup_root", &self.cgroup_root)
            .field("targets", &self.installed.len())
            .finish()
    }
}

fn map_op(name: &'static str) -> impl FnOnce(aya::maps::MapError) -> NetBlockError {
    move |source| NetBlockError::MapOp { name, source }
}

impl NetBlocker {
    /// Loads `netblock.bpf.o` and attaches its programs to the cgroup v2 root.
    pub fn start() -> Result<NetBlocker, NetBlockError> {
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(NetBlockError::Mountinfo)?;
        let cgroup_root = target::cgroup2_mount(&mountinfo).ok_or(NetBlockError::NoCgroup2)?;
        let root_dir = File::open(&cgroup_root).map_err(|source| NetBlockError::OpenCgroup {
            path: cgroup_root.clone(),
            source,
        })?;
        let btf = Btf::from_sys_fs().map_err(NetBlockError::Btf)?;
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .load(OBJECT)
            .map_err(|e| {
                if is_eperm(&e) {
                    NetBlockError::Privileges(Box::new(e))
                } else {
                    NetBlockError::Load(e)
                }
            })?;
        for (name, hook) in PROGRAMS {
            let wrap = |source: aya::programs::ProgramError| {
                if is_eperm(&source) {
                    NetBlockError::Privileges(Box::new(source))
                } else {
                    NetBlockError::Program {
                        program: name,
                        hook,
                        source,
                    }
                }
            };
            let prog: &mut CgroupSockAddr = bpf
                .program_mut(name)
                .ok_or(NetBlockError::MissingProgram(name))?
                .try_into()
                .map_err(wrap)?;
            prog.load().map_err(wrap)?;
            // aya attaches through bpf_link_create (kernel 5.7+), and cgroup links always
            // multi-attach: the kernel takes no attach flags there (BPF_F_ALLOW_MULTI gives
            // EINVAL), so `Single` (flags 0) is what leaves other tools' programs running.
            prog.attach(&root_dir, CgroupAttachMode::Single)
                .map_err(wrap)?;
        }
        fn take<T: TryFrom<aya::maps::Map>>(
            bpf: &mut Ebpf,
            name: &'static str,
        ) -> Result<T, NetBlockError> {
            bpf.take_map(name)
                .and_then(|m| T::try_from(m).ok())
                .ok_or(NetBlockError::Map(name))
        }
        Ok(NetBlocker {
            settings: take(&mut bpf, "settings")?,
            by_cgroup: take(&mut bpf, "by_cgroup")?,
            by_netns: take(&mut bpf, "by_netns")?,
            ports: take(&mut bpf, "ports")?,
            nets4: take(&mut bpf, "nets4")?,
            nets6: take(&mut bpf, "nets6")?,
            stats: take(&mut bpf, "stats")?,
            ring: take(&mut bpf, "denials")?,
            _bpf: bpf,
            cgroup_root,
            installed: StdHashMap::new(),
            next_rule: 1,
            undecodable: 0,
        })
    }

    /// `"cgroup"`: containers with a cgroup v2 directory of their own (every runc/CRI container
    /// on this kind of host) are keyed by it; [`NetTarget::kind`] says when a container fell back
    /// to its network namespace.
    pub fn key_kind(&self) -> &'static str {
        KeyKind::Cgroup.as_str()
    }

    /// The cgroup v2 mount the programs are attached to.
    pub fn cgroup_root(&self) -> &Path {
        &self.cgroup_root
    }

    /// The key for the container whose init process is `init_pid`: its cgroup v2 id, or its
    /// netns cookie when it has no cgroup of its own (see the module documentation).
    pub fn target_of(&self, init_pid: u32) -> Result<NetTarget, NetBlockError> {
        match target::cgroup_id(&self.cgroup_root, init_pid) {
            Ok(key) => Ok(NetTarget {
                kind: KeyKind::Cgroup,
                key,
            }),
            Err(CgroupKeyError::NotOwn(_)) => self.target_by(KeyKind::Netns, init_pid),
            Err(source) => Err(NetBlockError::Cgroup {
                pid: init_pid,
                source,
            }),
        }
    }

    /// The key of kind `kind` for the container whose init process is `init_pid`.
    pub fn target_by(&self, kind: KeyKind, init_pid: u32) -> Result<NetTarget, NetBlockError> {
        let key = match kind {
            KeyKind::Cgroup => {
                target::cgroup_id(&self.cgroup_root, init_pid).map_err(|source| {
                    NetBlockError::Cgroup {
                        pid: init_pid,
                        source,
                    }
                })?
            }
            KeyKind::Netns => {
                let netns = |source| NetBlockError::Netns {
                    pid: init_pid,
                    source,
                };
                let theirs = target::netns_cookie(init_pid).map_err(netns)?;
                if theirs == target::own_netns_cookie().map_err(netns)? {
                    return Err(NetBlockError::NoKey { pid: init_pid });
                }
                theirs
            }
        };
        Ok(NetTarget { kind, key })
    }

    /// Installs (or replaces) the rules of the container whose init process is `init_pid`:
    /// connects to any of `ports` (any address) and to any address in `nets` (any port) fail.
    pub fn block(
        &mut self,
        init_pid: u32,
        ports: &[u16],
        nets: &[Cidr],
    ) -> Result<NetTarget, NetBlockError> {
        let target = self.target_of(init_pid)?;
        self.block_target(target, ports, nets)?;
        Ok(target)
    }

    /// [`NetBlocker::block`] with an explicit key kind.
    pub fn block_by(
        &mut self,
        kind: KeyKind,
        init_pid: u32,
        ports: &[u16],
        nets: &[Cidr],
    ) -> Result<NetTarget, NetBlockError> {
        let target = self.target_by(kind, init_pid)?;
        self.block_target(target, ports, nets)?;
        Ok(target)
    }

    /// Installs (or replaces) the rules of `target`. The new rule is written under a fresh rule
    /// id and switched to in one map update, so a replacement never leaves a gap.
    pub fn block_target(
        &mut self,
        target: NetTarget,
        ports: &[u16],
        nets: &[Cidr],
    ) -> Result<(), NetBlockError> {
        let rule = self.fresh_rule();
        let new = Installed {
            rule,
            ports: ports.iter().copied().collect(),
            nets: nets
                .iter()
                .map(|c| keys::net_key(rule, c.addr(), c.prefix()))
                .collect(),
        };
        if let Err(e) = self.write_rule(&new) {
            self.erase_rule(&new);
            return Err(e);
        }
        let value = keys::target_value(rule, keys::rule_flags(!new.ports.is_empty(), &new.nets));
        let r = match target.kind {
            KeyKind::Cgroup => self.by_cgroup.insert(target.key, value, 0),
            KeyKind::Netns => self.by_netns.insert(target.key, value, 0),
        };
        if let Err(source) = r {
            self.erase_rule(&new);
            return Err(NetBlockError::MapOp {
                name: map_name(target.kind),
                source,
            });
        }
        if let Some(old) = self.installed.insert(target, new) {
            self.erase_rule(&old);
        }
        self.update_counts()
    }

    /// Removes the rules of `target`.
    pub fn unblock(&mut self, target: &NetTarget) -> Result<(), NetBlockError> {
        let old = self
            .installed
            .remove(target)
            .ok_or(NetBlockError::UnknownTarget(*target))?;
        let r = match target.kind {
            KeyKind::Cgroup => self.by_cgroup.remove(&target.key),
            KeyKind::Netns => self.by_netns.remove(&target.key),
        };
        self.erase_rule(&old);
        match r {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
            Err(source) => {
                return Err(NetBlockError::MapOp {
                    name: map_name(target.kind),
                    source,
                })
            }
        }
        self.update_counts()
    }

    /// The targets that have rules.
    pub fn targets(&self) -> impl Iterator<Item = &NetTarget> {
        self.installed.keys()
    }

    /// Hands every queued denial to `f`; does not wait.
    pub fn drain_denials(&mut self, mut f: impl FnMut(Denial)) {
        while let Some(item) = self.ring.next() {
            match wire::decode(&item) {
                Ok(d) => f(d),
                Err(error) => {
                    self.undecodable += 1;
                    tracing::warn!(%error, "Undecodable netblock denial record.");
                }
            }
        }
    }

    /// Connections denied since start (summed over CPUs).
    pub fn denied(&self) -> u64 {
        self.stat(ST_DENIED)
    }

    /// Denials whose record was lost because the ring buffer was full (they were still denied).
    pub fn lost(&self) -> u64 {
        self.stat(ST_LOST)
    }

    /// Ring-buffer records that did not decode.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    fn stat(&self, i: u32) -> u64 {
        self.stats.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0)
    }

    fn fresh_rule(&mut self) -> u32 {
        loop {
            let r = self.next_rule;
            self.next_rule = self.next_rule.wrapping_add(1).max(1);
            if !self.installed.values().any(|i| i.rule == r) {
                return r;
            }
        }
    }

    fn write_rule(&mut self, rule: &Installed) -> Result<(), NetBlockError> {
        for &p in &rule.ports {
            self.ports
                .insert(keys::port_key(rule.rule, p), 1u8, 0)
                .map_err(map_op("ports"))?;
        }
        for k in &rule.nets {
            match k {
                NetKey::V4 { prefix_len, data } => self
                    .nets4
                    .insert(&LpmKey::new(*prefix_len, *data), 1u8, 0)
                    .map_err(map_op("nets4"))?,
                NetKey::V6 { prefix_len, data } => self
                    .nets6
                    .insert(&LpmKey::new(*prefix_len, *data), 1u8, 0)
                    .map_err(map_op("nets6"))?,
            }
        }
        Ok(())
    }

    /// Deletes a rule's entries (best effort: a missing entry is fine).
    fn erase_rule(&mut self, rule: &Installed) {
        for &p in &rule.ports {
            let _ = self.ports.remove(&keys::port_key(rule.rule, p));
        }
        for k in &rule.nets {
            let _ = match k {
                NetKey::V4 { prefix_len, data } => {
                    self.nets4.remove(&LpmKey::new(*prefix_len, *data))
                }
                NetKey::V6 { prefix_len, data } => {
                    self.nets6.remove(&LpmKey::new(*prefix_len, *data))
                }
            };
        }
    }

    fn update_counts(&mut self) -> Result<(), NetBlockError> {
        let n = |kind| self.installed.keys().filter(|t| t.kind == kind).count() as u64;
        let (cg, ns) = (n(KeyKind::Cgroup), n(KeyKind::Netns));
        self.settings
            .set(CFG_N_CGROUP, cg, 0)
            .map_err(map_op("settings"))?;
        self.settings
            .set(CFG_N_NETNS, ns, 0)
            .map_err(map_op("settings"))
    }
}

fn map_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Cgroup => "by_cgroup",
        KeyKind::Netns => "by_netns",
    }
}

fn is_eperm(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            // EPERM only: the verifier rejects unsafe programs with EACCES, which is not a
            // privilege problem.
            if io.raw_os_error() == Some(libc::EPERM) {
                return true;
            }
        }
        src = s.source();
    }
    false
}
