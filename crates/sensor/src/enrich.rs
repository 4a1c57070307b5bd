//! Kernel events → [`mamori_core::Event`]s with Falco's field names: the process (and its
//! parents from the [`ProcTable`]), the user and group resolved inside the container's root,
//! the container and Kubernetes context, and the system call's own fields (`fd.*`,
//! `evt.arg.*`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mamori_core::event::{Event, EventSource, Value};

use crate::container::{ContainerInfo, ContainerResolver};
use crate::proctable::{absolute, normalize, ProcInfo, ProcTable};
use crate::syscalls;
use crate::users::UserDb;
use crate::wire::{Kind, RawEvent};

const AT_FDCWD: i64 = -100;

/// Turns raw events into enriched events.
pub struct Enricher {
    /// The process table.
    pub procs: ProcTable,
    /// Container metadata (shared with the enforcement decider).
    pub containers: Arc<Mutex<ContainerResolver>>,
    users: UserDb,
    /// Nanoseconds to add to the boot clock to get the wall clock.
    boot_to_wall: i128,
    seq: u64,
    host_pidns: u64,
    mask: Option<FieldMask>,
}

/// What one raw event became.
#[derive(Debug)]
pub struct Enriched {
    /// The event with Falco field names.
    pub event: Event,
    /// The process, after the event (exec updates it).
    pub proc: Option<Arc<ProcInfo>>,
    /// The container, `None` on the host.
    pub container: Option<Arc<ContainerInfo>>,
}

/// Wall-clock nanoseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Wall clock minus boot clock, in nanoseconds, now.
pub fn boot_to_wall_offset() -> i128 {
    i128::from(wall_ns()) - i128::from(boot_ns())
}

/// `CLOCK_BOOTTIME` now, in nanoseconds (the clock of `bpf_ktime_get_boot_ns`).
pub fn boot_ns() -> u64 {
    // /proc/uptime is the boot clock with 10 ms resolution; good enough for an offset that is
    // re-measured periodically, and it needs no unsafe clock_gettime call.
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|u| u.parse::<f64>().ok())
        })
        .map(|s| (s * 1e9) as u64)
        .unwrap_or(0)
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher").field("seq", &self.seq).finish()
    }
}

impl Enricher {
    /// An enricher over the given tables.
    pub fn new(procs: ProcTable, containers: Arc<Mutex<ContainerResolver>>, users: UserDb) -> Self {
        Enricher {
            procs,
            containers,
            users,
            boot_to_wall: boot_to_wall_offset(),
            seq: 0,
            host_pidns: 0,
            mask: None,
        }
    }

    /// Computes only these fields from now on (`None`: all of them).
    pub fn set_mask(&mut self, mask: Option<FieldMask>) {
        self.mask = mask;
    }

    /// The host's pid namespace: its processes are never looked up as containers.
    pub fn set_host_pidns(&mut self, ns: u64) {
        self.host_pidns = ns;
    }

    /// Re-measures the boot → wall clock offset (the wall clock may be stepped).
    pub fn resync_clock(&mut self) {
        self.boot_to_wall = boot_to_wall_offset();
    }

    /// Wall-clock nanoseconds of a boot-clock stamp.
    pub fn wall_ns(&self, boot: u64) -> u64 {
        u64::try_from(i128::from(boot) + self.boot_to_wall).unwrap_or(0)
    }

    /// Enriches one raw event. Exits update the table and yield `None`.
    pub fn enrich(&mut self, raw: &RawEvent) -> Option<Enriched> {
        let container = if raw.pidns != 0 && raw.pidns == self.host_pidns {
            None
        } else {
            let mut c = self.containers.lock().unwrap_or_else(|e| e.into_inner());
            let by_ns = if raw.pidns != 0 {
                c.by_pidns(raw.pidns)
            } else {
                None
            };
            by_ns.or_else(|| c.by_pid(raw.pid))
        };
        if raw.kind == Kind::Exit {
            self.procs.on_exit(raw.pid);
            return None;
        }
        self.seq += 1;
        let proc = match raw.kind {
            Kind::Exec => {
                let cwd = read_link(&format!("/proc/{}/cwd", raw.pid));
                Some(self.procs.on_exec(raw, cwd))
            }
            _ => self.procs.lookup(raw.pid, raw.ppid),
        };
        let mut ev = Event::new(EventSource::Syscall, self.wall_ns(raw.ts_boot_ns));
        let f = &mut Fields {
            map: &mut ev.fields,
            mask: self.mask.as_ref(),
        };
        let name = if raw.kind == Kind::Exec {
            "execve"
        } else {
            syscalls::name_of(raw.syscall).unwrap_or("unknown")
        };
        f.put("evt.type", || Value::Str(name.into()));
        f.put("evt.dir", || Value::Str("<".into()));
        f.put("evt.num", || Value::Int(self.seq as i64));
        f.put("evt.rawres", || Value::Int(raw.res));
        f.put("evt.res", || {
            Value::Str(if raw.res < 0 {
                errno_name(-raw.res)
            } else {
                "SUCCESS".into()
            })
        });
        f.put("evt.failed", || Value::Bool(raw.res < 0));
        // Thread and process.
        f.put("thread.tid", || Value::Int(raw.tid.into()));
        f.put("thread.cap_effective", || {
            Value::Str(syscalls::cap_names(raw.cap_effective))
        });
        f.put("thread.cap_permitted", || {
            Value::Str(syscalls::cap_names(raw.cap_permitted))
        });
        f.put("proc.pid", || Value::Int(raw.pid.into()));
        f.put("proc.vpid", || Value::Int(raw.vpid.into()));
        f.put("proc.ppid", || Value::Int(raw.ppid.into()));
        f.put("proc.tty", || Value::Int(raw.tty.into()));
        f.put("proc.name", || Value::Str(raw.comm.clone()));
        if let Some(p) = &proc {
            put_proc(f, p);
        }
        let ancestors = self.procs.ancestors(raw.pid, 8);
        for (i, a) in ancestors.iter().enumerate() {
            let n = i + 1;
            if n == 1 {
                f.put("proc.pname", || Value::Str(a.name.clone()));
                f.put("proc.pexe", || Value::Str(a.exe.clone()));
                f.put("proc.pexepath", || Value::Str(a.exepath.clone()));
                f.put("proc.pcmdline", || Value::Str(a.cmdline()));
            } else {
                f.put_fmt(|| format!("proc.aname[{n}]"), || Value::Str(a.name.clone()));
                f.put_fmt(|| format!("proc.aexe[{n}]"), || Value::Str(a.exe.clone()));
                f.put_fmt(
                    || format!("proc.aexepath[{n}]"),
                    || Value::Str(a.exepath.clone()),
                );
                f.put_fmt(|| format!("proc.apid[{n}]"), || Value::Int(a.pid.into()));
            }
        }
        // Session and process group (as seen from the process's own pid namespace), and the
        // names of their leaders: the ancestor whose pid is the id, else the eldest ancestor
        // still in the same session / group.
        if let Some(p) = proc.as_deref().filter(|p| p.sid != 0 || p.vpgid != 0) {
            f.put("proc.sid", || Value::Int(p.sid.into()));
            f.put("proc.vpgid", || Value::Int(p.vpgid.into()));
            f.put("proc.is_sid_leader", || Value::Bool(p.sid == p.vpid));
            f.put("proc.is_vpgid_leader", || Value::Bool(p.vpgid == p.vpid));
            let leader = |id: u32, of: fn(&ProcInfo) -> u32| -> Option<&ProcInfo> {
                if p.vpid == id {
                    return Some(p);
                }
                let mut eldest = None;
                for a in ancestors
                    .iter()
                    .filter(|a| a.pidns == p.pidns || a.pidns == 0)
                {
                    if a.vpid == id {
                        return Some(a);
                    }
                    if of(a) == id {
                        eldest = Some(&**a);
                    } else {
                        break;
                    }
                }
                eldest
            };
            if let Some(l) = leader(p.sid, |a| a.sid) {
                f.put("proc.sname", || Value::Str(l.name.clone()));
            }
            if let Some(l) = leader(p.vpgid, |a| a.vpgid) {
                f.put("proc.vpgid.name", || Value::Str(l.name.clone()));
                f.put("proc.vpgid.exe", || Value::Str(l.exe.clone()));
                f.put("proc.vpgid.exepath", || Value::Str(l.exepath.clone()));
            }
        }
        // User and group, resolved inside the container's root.
        // The container's init outlives short processes (a `cat` has often exited by the time
        // its events are read), so names are resolved in the init's root.
        let root = match &container {
            Some(c) => PathBuf::from(format!("/proc/{}/root", c.init_pid)),
            None => PathBuf::from("/"),
        };
        f.put("user.uid", || Value::Int(raw.uid.into()));
        f.put("group.gid", || Value::Int(raw.gid.into()));
        f.put("user.loginuid", || {
            Value::Int(if raw.loginuid == u32::MAX {
                -1
            } else {
                raw.loginuid.into()
            })
        });
        if let Some(u) = self.users.user_name(&root, raw.uid) {
            f.put("user.name", || Value::Str(u.to_string()));
        }
        if raw.loginuid != u32::MAX {
            if let Some(u) = self.users.user_name(&root, raw.loginuid) {
                f.put("user.loginname", || Value::Str(u.to_string()));
            }
        }
        if let Some(g) = self.users.group_name(&root, raw.gid) {
            f.put("group.name", || Value::Str(g.to_string()));
        }
        // Container and Kubernetes.
        match &container {
            Some(c) => {
                for (k, v) in c.fields() {
                    f.put(k, || v);
                }
                for (k, v) in c.label_fields() {
                    f.put_fmt(|| k, || v);
                }
            }
            None => {
                f.put("container.id", || Value::Str("host".into()));
                f.put("container.name", || Value::Str("host".into()));
            }
        }
        syscall_fields(f, raw, proc.as_deref());
        Some(Enriched {
            event: ev,
            proc,
            container,
        })
    }
}

fn put_proc(f: &mut Fields<'_>, p: &ProcInfo) {
    f.put("proc.exe", || Value::Str(p.exe.clone()));
    f.put("proc.exepath", || Value::Str(p.exepath.clone()));
    f.put("proc.args", || Value::Str(p.args.join(" ")));
    f.put("proc.cmdline", || Value::Str(p.cmdline()));
    if let Some(c) = &p.cwd {
        f.put("proc.cwd", || Value::Str(with_slash(c)));
    }
    f.put("proc.is_exe_upper_layer", || Value::Bool(p.exe_upper_layer));
    f.put("proc.is_exe_from_memfd", || Value::Bool(p.exe_from_memfd));
    f.put("proc.exe_ino", || Value::Int(p.exe_ino as i64));
}

fn with_slash(c: &str) -> String {
    if c.ends_with('/') {
        c.to_string()
    } else {
        format!("{c}/")
    }
}

fn read_link(p: &str) -> Option<String> {
    std::fs::read_link(p)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Resolves a path argument against a directory fd (`AT_FDCWD` = the cwd), as Falco shows them.
fn resolve(pid: u32, dirfd: u64, path: &str, proc: Option<&ProcInfo>) -> String {
    if path.starts_with('/') {
        return normalize(path);
    }
    let dirfd = dirfd as i64 as i32 as i64;
    let base = if dirfd == AT_FDCWD {
        read_link(&format!("/proc/{pid}/cwd")).or_else(|| proc.and_then(|p| p.cwd.clone()))
    } else {
        read_link(&format!("/proc/{pid}/fd/{dirfd}"))
    };
    absolute(path, base.as_deref())
}

/// Which fields to compute: the keys the loaded rules read (conditions and outputs) plus what
/// runtime-policy decisions report. Without a mask every field is computed (recording).
#[derive(Debug, Clone, Default)]
pub struct FieldMask {
    // Looked up ~80 times per event: a fast non-cryptographic hash (keys are our own names).
    keys: mamori_rules::matchers::FxSet<String>,
    /// Some `evt.arg.*` / `evt.arg[i]` key is wanted (else their names are not even formatted).
    any_arg: bool,
}

impl FieldMask {
    /// A mask of these keys.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(keys: I) -> Self {
        let mut m = FieldMask::default();
        m.extend(keys);
        m
    }

    /// Adds keys.
    pub fn extend<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, keys: I) {
        self.keys.extend(keys.into_iter().map(Into::into));
        self.any_arg = self.keys.iter().any(|k| k.starts_with("evt.arg"));
    }

    /// Whether the key is wanted.
    pub fn contains(&self, k: &str) -> bool {
        self.keys.contains(k)
    }
}

/// The context a runtime-policy decision reports (and the policies read).
pub const POLICY_CONTEXT: &[&str] = &[
    "evt.type",
    "evt.dir",
    "proc.pid",
    "proc.ppid",
    "proc.vpid",
    "proc.name",
    "proc.exe",
    "proc.exepath",
    "proc.cmdline",
    "proc.args",
    "proc.pname",
    "proc.pexepath",
    "proc.pcmdline",
    "proc.tty",
    "proc.cwd",
    "proc.is_exe_upper_layer",
    "proc.is_exe_from_memfd",
    "user.uid",
    "user.name",
    "user.loginuid",
    "group.gid",
    "group.name",
    "fd.name",
    "fd.type",
    "fd.sip",
    "fd.sport",
    "fd.rip",
    "fd.rport",
    "fd.l4proto",
    "evt.is_open_write",
    "evt.is_open_read",
    "evt.arg.path",
    "evt.arg.name",
    "evt.arg.filename",
    "evt.arg.oldpath",
    "evt.arg.newpath",
    "evt.arg.linkpath",
    "container.id",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "k8s.ns.name",
    "k8s.pod.name",
    "k8s.pod.uid",
];

/// Event fields being filled, through the mask.
struct Fields<'a> {
    map: &'a mut std::collections::BTreeMap<String, Value>,
    mask: Option<&'a FieldMask>,
}

impl Fields<'_> {
    fn wants(&self, k: &str) -> bool {
        self.mask.is_none_or(|m| m.contains(k))
    }

    fn put(&mut self, k: &str, v: impl FnOnce() -> Value) {
        if self.wants(k) {
            self.map.insert(k.to_string(), v());
        }
    }

    fn put_fmt(&mut self, k: impl FnOnce() -> String, v: impl FnOnce() -> Value) {
        let k = k();
        if self.wants(&k) {
            self.map.insert(k, v());
        }
    }
}

fn s(f: &mut Fields<'_>, k: &str, v: impl Into<String>) {
    f.put(k, || Value::Str(v.into()));
}

fn n(f: &mut Fields<'_>, k: &str, v: i64) {
    f.put(k, || Value::Int(v));
}

/// Positional `evt.arg[i]` together with the named `evt.arg.<name>`.
fn args(f: &mut Fields<'_>, items: &[(&str, Value)]) {
    if f.mask.is_some_and(|m| !m.any_arg) {
        return;
    }
    for (i, (name, v)) in items.iter().enumerate() {
        f.put_fmt(|| format!("evt.arg.{name}"), || v.clone());
        f.put_fmt(|| format!("evt.arg[{i}]"), || v.clone());
    }
}

fn sv(x: impl Into<String>) -> Value {
    Value::Str(x.into())
}

fn syscall_fields(f: &mut Fields<'_>, raw: &RawEvent, proc: Option<&ProcInfo>) {
    let a = raw.args;
    let pid = raw.pid;
    let res = Value::Int(raw.res);
    match raw.kind {
        Kind::Exec => {
            s(
                f,
                "evt.arg.exe",
                raw.argv.first().cloned().unwrap_or_default(),
            );
            s(
                f,
                "evt.arg.args",
                raw.argv
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            return;
        }
        Kind::Exit => return,
        Kind::Syscall => {}
    }
    match raw.syscall {
        2 | 257 | 437 | 85 => {
            let (dirfd, flags, mode) = match raw.syscall {
                2 => (AT_FDCWD as u64, a[1], a[2]),
                85 => (AT_FDCWD as u64, 0o1101, a[1]),
                _ => (a[0], a[2], a[3]),
            };
            let path = resolve(pid, dirfd, &raw.str0, proc);
            s(f, "fd.name", path.clone());
            n(f, "fd.num", raw.res);
            let dir = flags & 0o200000 != 0;
            s(f, "fd.typechar", if dir { "d" } else { "f" });
            s(f, "fd.type", if dir { "directory" } else { "file" });
            f.put("evt.is_open_read", || {
                Value::Bool(syscalls::open_is_read(flags))
            });
            f.put("evt.is_open_write", || {
                Value::Bool(syscalls::open_is_write(flags))
            });
            // Falco: a file created with an execute permission bit.
            f.put("evt.is_open_exec", || {
                Value::Bool(flags & 0o100 != 0 && mode & 0o111 != 0)
            });
            let mut items = vec![("fd", res.clone())];
            if raw.syscall == 257 || raw.syscall == 437 {
                items.push(("dirfd", Value::Int(dirfd as i64 as i32 as i64)));
            }
            items.push(("name", sv(path)));
            items.push(("flags", sv(syscalls::open_flags(flags))));
            items.push(("mode", Value::Int(mode as i64)));
            args(f, &items);
        }
        83 | 258 | 84 | 87 | 263 => {
            let dirfd = if matches!(raw.syscall, 258 | 263) {
                a[0]
            } else {
                AT_FDCWD as u64
            };
            let path = resolve(pid, dirfd, &raw.str0, proc);
            let key = if raw.syscall == 263 { "name" } else { "path" };
            let mut items = vec![("res", res)];
            if matches!(raw.syscall, 258 | 263) {
                items.push(("dirfd", Value::Int(a[0] as i64 as i32 as i64)));
            }
            items.push((key, sv(path.clone())));
            if matches!(raw.syscall, 83 | 258) {
                let m = if raw.syscall == 83 { a[1] } else { a[2] };
                items.push(("mode", Value::Int(m as i64)));
            }
            if raw.syscall == 263 {
                items.push(("flags", Value::Int(a[2] as i64)));
            }
            args(f, &items);
            s(f, "fs.path.name", path);
        }
        82 | 264 | 316 | 86 | 265 => {
            let (od, nd) = if matches!(raw.syscall, 82 | 86) {
                (AT_FDCWD as u64, AT_FDCWD as u64)
            } else {
                (a[0], a[2])
            };
            let old = resolve(pid, od, &raw.str0, proc);
            let new = resolve(pid, nd, &raw.str1, proc);
            args(
                f,
                &[
                    ("res", res),
                    ("oldpath", sv(old.clone())),
                    ("newpath", sv(new.clone())),
                ],
            );
            s(f, "fs.path.source", old);
            s(f, "fs.path.target", new);
        }
        88 | 266 => {
            let nd = if raw.syscall == 266 {
                a[1]
            } else {
                AT_FDCWD as u64
            };
            let link = resolve(pid, nd, &raw.str1, proc);
            args(
                f,
                &[
                    ("res", res),
                    ("target", sv(raw.str0.clone())),
                    ("linkpath", sv(link.clone())),
                ],
            );
            s(f, "fs.path.source", raw.str0.clone());
            s(f, "fs.path.target", link);
        }
        90 | 268 => {
            let (dirfd, mode) = if raw.syscall == 90 {
                (AT_FDCWD as u64, a[1])
            } else {
                (a[0], a[2])
            };
            let path = resolve(pid, dirfd, &raw.str0, proc);
            args(
                f,
                &[
                    ("res", res),
                    ("filename", sv(path.clone())),
                    ("mode", sv(syscalls::mode_bits(mode))),
                ],
            );
            s(f, "fs.path.name", path);
        }
        91 => {
            let path = read_link(&format!("/proc/{pid}/fd/{}", a[0])).unwrap_or_default();
            args(
                f,
                &[
                    ("res", res),
                    ("fd", Value::Int(a[0] as i64)),
                    ("mode", sv(syscalls::mode_bits(a[1]))),
                ],
            );
            s(f, "fd.name", path);
        }
        42 | 43 | 288 | 49 | 32 | 33 | 292 => {
            let fdnum = match raw.syscall {
                43 | 288 | 32 => raw.res,
                33 | 292 => a[1] as i64,
                _ => a[0] as i64,
            };
            n(f, "fd.num", fdnum);
            let name = socket_fields(f, raw);
            match raw.syscall {
                32 => args(f, &[("res", res), ("oldfd", Value::Int(a[0] as i64))]),
                33 | 292 => args(
                    f,
                    &[
                        ("res", res),
                        ("oldfd", Value::Int(a[0] as i64)),
                        ("newfd", Value::Int(a[1] as i64)),
                    ],
                ),
                42 => args(
                    f,
                    &[
                        ("res", res),
                        ("tuple", sv(name)),
                        ("fd", Value::Int(a[0] as i64)),
                    ],
                ),
                49 => args(f, &[("res", res), ("addr", sv(name))]),
                _ => args(f, &[("fd", res), ("tuple", sv(name))]),
            }
        }
        105 | 113 | 117 => args(
            f,
            &[
                ("res", res),
                (
                    "uid",
                    Value::Int(a[if raw.syscall == 105 { 0 } else { 1 }] as i64),
                ),
            ],
        ),
        106 | 114 | 119 => args(
            f,
            &[
                ("res", res),
                (
                    "gid",
                    Value::Int(a[if raw.syscall == 106 { 0 } else { 1 }] as i64),
                ),
            ],
        ),
        101 => args(
            f,
            &[
                ("res", res),
                ("request", sv(syscalls::ptrace_request(a[0]))),
                ("pid", Value::Int(a[1] as i64)),
            ],
        ),
        319 => args(
            f,
            &[
                ("fd", res),
                ("name", sv(raw.str0.clone())),
                ("flags", Value::Int(a[1] as i64)),
            ],
        ),
        175 | 313 => args(f, &[("res", res), ("uargs", sv(raw.str0.clone()))]),
        321 => {
            let cmd = if a[0] == 5 {
                sv("BPF_PROG_LOAD")
            } else {
                Value::Int(a[0] as i64)
            };
            args(f, &[("res_or_fd", res), ("cmd", cmd)]);
        }
        41 => {
            let dom = match a[0] {
                1 => "AF_UNIX".to_string(),
                2 => "AF_INET".to_string(),
                10 => "AF_INET6".to_string(),
                16 => "AF_NETLINK".to_string(),
                17 => "AF_PACKET".to_string(),
                d => d.to_string(),
            };
            args(
                f,
                &[
                    ("fd", res),
                    ("domain", sv(dom)),
                    ("type", Value::Int(a[1] as i64)),
                    ("proto", Value::Int(a[2] as i64)),
                ],
            );
        }
        _ => {
            let items: Vec<(&str, Value)> = vec![("res", res)];
            args(f, &items);
        }
    }
}

fn ip_str(a: &IpAddr) -> String {
    a.to_string()
}

/// Fills the socket fields; returns `fd.name` (the tuple) for the `evt.arg` fields.
fn socket_fields(f: &mut Fields<'_>, raw: &RawEvent) -> String {
    if let Some(p) = &raw.unix_path {
        s(f, "fd.type", "unix");
        s(f, "fd.typechar", "u");
        s(f, "fd.sockfamily", "unix");
        s(f, "fd.name", p.clone());
        return p.clone();
    }
    let Some(si) = raw.sock else {
        return String::new();
    };
    let (ty, ch) = match si.family {
        2 => ("ipv4", "4"),
        10 => ("ipv6", "6"),
        1 => ("unix", "u"),
        _ => return String::new(),
    };
    s(f, "fd.type", ty);
    s(f, "fd.typechar", ch);
    s(
        f,
        "fd.sockfamily",
        if si.family == 1 { "unix" } else { "ip" },
    );
    s(
        f,
        "fd.l4proto",
        match si.proto {
            6 => "tcp",
            17 => "udp",
            1 | 58 => "icmp",
            _ => "raw",
        },
    );
    let (Some((lip, lport)), Some((rip, rport))) = (si.local, si.remote) else {
        return String::new();
    };
    f.put("fd.connected", || Value::Bool(rport != 0));
    s(f, "fd.lip", ip_str(&lip));
    n(f, "fd.lport", lport.into());
    s(f, "fd.rip", ip_str(&rip));
    n(f, "fd.rport", rport.into());
    // Server/client: the side that accepted is the server; a connect's remote is the server.
    let server_is_local = matches!(raw.syscall, 43 | 288 | 49);
    let ((sip, sport), (cip, cport)) = if server_is_local {
        ((lip, lport), (rip, rport))
    } else {
        ((rip, rport), (lip, lport))
    };
    s(f, "fd.sip", ip_str(&sip));
    n(f, "fd.sport", sport.into());
    s(f, "fd.cip", ip_str(&cip));
    n(f, "fd.cport", cport.into());
    let fmt = |a: &IpAddr, p: u16| match a {
        IpAddr::V4(v) => format!("{v}:{p}"),
        IpAddr::V6(v) => format!("{v}:{p}"),
    };
    let name = format!("{}->{}", fmt(&cip, cport), fmt(&sip, sport));
    s(f, "fd.name", name.clone());
    name
}

/// The errno name Falco prints in `evt.res`.
pub fn errno_name(e: i64) -> String {
    let n = match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        98 => "EADDRINUSE",
        101 => "ENETUNREACH",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        115 => "EINPROGRESS",
        _ => return format!("E{e}"),
    };
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SockInfo;

    fn raw(syscall: u32) -> RawEvent {
        RawEvent {
            ts_boot_ns: 1_000,
            pidns: 0,
            mntns: 0,
            cgroup_id: 0,
            cap_effective: 1 << 21,
            cap_permitted: 1 << 21,
            res: 3,
            args: [AT_FDCWD as u64, 0, 0o1101, 0o644, 0, 0],
            kind: Kind::Syscall,
            syscall,
            tid: std::process::id(),
            pid: std::process::id(),
            ppid: 1,
            vpid: 1,
            uid: 0,
            gid: 0,
            loginuid: u32::MAX,
            tty: 0,
            flags: 0,
            comm: "touch".into(),
            str0: "/etc/../etc/2".into(),
            str1: String::new(),
            ancestors: Vec::new(),
            argv: Vec::new(),
            sock: None,
            unix_path: None,
        }
    }

    fn enricher() -> Enricher {
        Enricher::new(
            ProcTable::new(64),
            Arc::new(Mutex::new(ContainerResolver::new(
                crate::container::RuntimeRoots::default(),
                16,
            ))),
            UserDb::new(1024),
        )
    }

    #[test]
    fn openat_gets_falco_fields() {
        let mut e = enricher();
        let out = e.enrich(&raw(257)).unwrap();
        let f = &out.event.fields;
        assert_eq!(f["evt.type"], Value::Str("openat".into()));
        assert_eq!(f["fd.name"], Value::Str("/etc/2".into()));
        assert_eq!(f["evt.is_open_write"], Value::Bool(true));
        assert_eq!(
            f["evt.arg.flags"],
            Value::Str("O_WRONLY|O_CREAT|O_TRUNC".into())
        );
        assert_eq!(
            f["thread.cap_effective"],
            Value::Str("CAP_SYS_ADMIN".into())
        );
        assert_eq!(f["container.id"], Value::Str("host".into()));
        assert!(out.event.time_ns > 1_000_000_000_000_000_000);
    }

    #[test]
    fn connect_gets_tuple_and_ports() {
        let mut e = enricher();
        let mut r = raw(42);
        r.res = 0;
        r.flags = crate::wire::flags::SOCK;
        r.sock = Some(SockInfo {
            family: 2,
            proto: 6,
            local: Some(("10.0.0.2".parse().unwrap(), 40000)),
            remote: Some(("1.2.3.4".parse().unwrap(), 4444)),
        });
        let out = e.enrich(&r).unwrap();
        let f = &out.event.fields;
        assert_eq!(
            f["fd.name"],
            Value::Str("10.0.0.2:40000->1.2.3.4:4444".into())
        );
        assert_eq!(f["fd.sport"], Value::Int(4444));
        assert_eq!(f["fd.l4proto"], Value::Str("tcp".into()));
        assert_eq!(
            f["evt.arg.tuple"],
            Value::Str("10.0.0.2:40000->1.2.3.4:4444".into())
        );
    }
}
