//! The process table: what each live process executed, so that every event can carry its
//! process's command line and its parents' (`proc.pname`, `proc.pcmdline`, `proc.aname[N]`).
//!
//! Filled from exec events (which also carry the kernel's view of up to six ancestors), cleared
//! by exit events, and completed from `/proc` for processes that started before the sensor. A
//! process that forked without exec'ing inherits its parent's entry. The table is bounded: past
//! its capacity the oldest entries are evicted (counted), so a fork bomb cannot take the node's
//! memory.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::wire::{flags, RawEvent};

/// One process, as far as the sensor knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcInfo {
    /// Host pid (thread group id).
    pub pid: u32,
    /// Host parent pid.
    pub ppid: u32,
    /// Pid in the process's own pid namespace.
    pub vpid: u32,
    /// Task name (comm).
    pub name: String,
    /// Executable path as exec'd (made absolute against the cwd when relative).
    pub exepath: String,
    /// argv[0].
    pub exe: String,
    /// argv[1..].
    pub args: Vec<String>,
    /// Working directory at exec, when known.
    pub cwd: Option<String>,
    /// Controlling terminal (`tty_nr`).
    pub tty: u32,
    /// Login uid (`u32::MAX` = unset).
    pub loginuid: u32,
    /// Pid namespace inode.
    pub pidns: u64,
    /// Exec time (boot clock ns; 0 = before the sensor).
    pub exec_ts: u64,
    /// The executable is on an overlay upper layer.
    pub exe_upper_layer: bool,
    /// The executable is a memfd.
    pub exe_from_memfd: bool,
    /// The process descends from an exec session.
    pub tainted: bool,
    /// The executable's inode.
    pub exe_ino: u64,
    /// Only the name is known (an ancestor seen in an exec's parent chain).
    pub partial: bool,
    /// Session id in the process's own pid namespace (0 = not visible there or unknown).
    pub sid: u32,
    /// Process group id in the process's own pid namespace (0 = not visible there or unknown).
    pub vpgid: u32,
}

impl ProcInfo {
    /// `proc.cmdline`: the name followed by the arguments.
    pub fn cmdline(&self) -> String {
        if self.args.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, self.args.join(" "))
        }
    }
}

/// Counters of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Live entries.
    pub entries: usize,
    /// Entries evicted because the table was full.
    pub evicted: u64,
    /// Entries loaded from `/proc`.
    pub loaded_from_proc: u64,
}

/// The bounded process table.
#[derive(Debug)]
pub struct ProcTable {
    map: HashMap<u32, Arc<ProcInfo>>,
    order: VecDeque<(u32, u64)>,
    gen: u64,
    gens: HashMap<u32, u64>,
    capacity: usize,
    proc_root: PathBuf,
    stats: TableStats,
}

impl ProcTable {
    /// A table of at most `capacity` processes, reading `/proc` for unknown ones.
    pub fn new(capacity: usize) -> Self {
        Self::with_proc_root(capacity, "/proc")
    }

    /// Same, with another `/proc` (tests).
    pub fn with_proc_root(capacity: usize, proc_root: impl Into<PathBuf>) -> Self {
        ProcTable {
            map: HashMap::new(),
            order: VecDeque::new(),
            gen: 0,
            gens: HashMap::new(),
            capacity: capacity.max(16),
            proc_root: proc_root.into(),
            stats: TableStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> TableStats {
        TableStats {
            entries: self.map.len(),
            ..self.stats
        }
    }

    fn insert(&mut self, info: ProcInfo) -> Arc<ProcInfo> {
        let pid = info.pid;
        let info = Arc::new(info);
        self.gen += 1;
        self.map.insert(pid, info.clone());
        self.gens.insert(pid, self.gen);
        self.order.push_back((pid, self.gen));
        while self.map.len() > self.capacity {
            let Some((old, g)) = self.order.pop_front() else {
                break;
            };
            if self.gens.get(&old) == Some(&g) {
                self.map.remove(&old);
                self.gens.remove(&old);
                self.stats.evicted += 1;
            }
        }
        // Keep the order queue from growing without bound on pid churn.
        if self.order.len() > self.capacity * 4 {
            let gens = &self.gens;
            self.order.retain(|(p, g)| gens.get(p) == Some(g));
        }
        info
    }

    /// Records an exec. `cwd` is the process's working directory when the caller could read it.
    pub fn on_exec(&mut self, ev: &RawEvent, cwd: Option<String>) -> Arc<ProcInfo> {
        // The kernel's parent chain fills ancestors the table has never seen.
        for a in &ev.ancestors {
            if !self.map.contains_key(&a.pid) {
                let parent = ev
                    .ancestors
                    .iter()
                    .skip_while(|x| x.pid != a.pid)
                    .nth(1)
                    .map(|x| x.pid)
                    .unwrap_or(0);
                if !self.load_from_proc(a.pid) {
                    self.insert(ProcInfo {
                        pid: a.pid,
                        ppid: parent,
                        name: a.comm.clone(),
                        exe: a.comm.clone(),
                        partial: true,
                        ..ProcInfo::default()
                    });
                }
            }
        }
        let exe = ev.argv.first().cloned().unwrap_or_else(|| ev.comm.clone());
        let exepath = absolute(&ev.str0, cwd.as_deref());
        let inherited_taint = self.map.get(&ev.pid).is_some_and(|p| p.tainted);
        self.insert(ProcInfo {
            pid: ev.pid,
            ppid: ev.ppid,
            vpid: ev.vpid,
            name: ev.comm.clone(),
            exepath,
            exe,
            args: ev.argv.iter().skip(1).cloned().collect(),
            cwd,
            tty: ev.tty,
            loginuid: ev.loginuid,
            pidns: ev.pidns,
            exec_ts: ev.ts_boot_ns,
            exe_upper_layer: ev.has(flags::UPPER),
            exe_from_memfd: ev.has(flags::MEMFD),
            tainted: ev.has(flags::TAINT) || inherited_taint,
            exe_ino: ev.args[0],
            partial: false,
            sid: u32::try_from(ev.args[4]).unwrap_or(0),
            vpgid: u32::try_from(ev.args[5]).unwrap_or(0),
        })
    }

    /// Forgets an exited process.
    pub fn on_exit(&mut self, pid: u32) {
        self.map.remove(&pid);
        self.gens.remove(&pid);
    }

    /// The entry of `pid`: known, else inherited from its parent `ppid` (a fork without exec),
    /// else read from `/proc`.
    pub fn lookup(&mut self, pid: u32, ppid: u32) -> Option<Arc<ProcInfo>> {
        if let Some(p) = self.map.get(&pid) {
            return Some(p.clone());
        }
        if let Some(parent) = self.map.get(&ppid).cloned() {
            if !parent.partial {
                let mut child = (*parent).clone();
                child.pid = pid;
                child.ppid = ppid;
                return Some(self.insert(child));
            }
        }
        if self.load_from_proc(pid) {
            return self.map.get(&pid).cloned();
        }
        None
    }

    /// The entry of `pid` without loading anything.
    pub fn get(&self, pid: u32) -> Option<Arc<ProcInfo>> {
        self.map.get(&pid).cloned()
    }

    /// Up to `n` ancestors of `pid`, nearest first (`proc.aname[1]` is the parent).
    pub fn ancestors(&mut self, pid: u32, n: usize) -> Vec<Arc<ProcInfo>> {
        let mut out = Vec::new();
        let mut cur = self.map.get(&pid).map(|p| p.ppid).unwrap_or(0);
        while out.len() < n && cur != 0 {
            let Some(p) = self.lookup(cur, 0) else { break };
            cur = p.ppid;
            let stop = p.pid == 1 || p.ppid == p.pid;
            out.push(p);
            if stop {
                break;
            }
        }
        out
    }

    /// Reads `/proc/<pid>` into the table; false when the process is gone.
    fn load_from_proc(&mut self, pid: u32) -> bool {
        let dir = self.proc_root.join(pid.to_string());
        let Some(info) = read_proc(&dir, pid) else {
            return false;
        };
        self.stats.loaded_from_proc += 1;
        self.insert(info);
        true
    }
}

/// Makes an exec path absolute against `cwd` (Falco's `proc.exepath` is absolute).
pub fn absolute(path: &str, cwd: Option<&str>) -> String {
    if path.starts_with('/') || path.is_empty() {
        return path.to_string();
    }
    match cwd {
        Some(c) => normalize(&format!("{}/{}", c.trim_end_matches('/'), path)),
        None => path.to_string(),
    }
}

/// Removes `.` and `..` components and duplicate slashes, lexically (as Falco does for paths).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut s = String::with_capacity(path.len());
    for p in &parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// The innermost-namespace ids of a `/proc/<pid>/status` text (`NSpid`, `NSsid`, `NSpgid`: one
/// number per nested pid namespace, the last one the process's own).
#[derive(Debug, Default, PartialEq, Eq)]
struct NsIds {
    pid: u32,
    sid: u32,
    pgid: u32,
}

fn ns_ids(status: &str) -> NsIds {
    let last = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    NsIds {
        pid: last("NSpid:"),
        sid: last("NSsid:"),
        pgid: last("NSpgid:"),
    }
}

fn read_proc(dir: &Path, pid: u32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // pid (comm) state ppid pgrp session tty_nr ...: comm may hold spaces and parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let ppid = rest.get(1)?.parse().ok()?;
    let tty = rest.get(4).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    let argv: Vec<String> = std::fs::read(dir.join("cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let exepath = std::fs::read_link(dir.join("exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cwd = std::fs::read_link(dir.join("cwd"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let loginuid = std::fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX);
    let ns = std::fs::read_to_string(dir.join("status"))
        .map(|st| ns_ids(&st))
        .unwrap_or_default();
    Some(ProcInfo {
        pid,
        ppid,
        vpid: ns.pid,
        sid: ns.sid,
        vpgid: ns.pgid,
        exe: argv.first().cloned().unwrap_or_else(|| name.clone()),
        args: argv.iter().skip(1).cloned().collect(),
        name,
        exepath: exepath.trim_end_matches(" (deleted)").to_string(),
        cwd,
        tty: u32::try_from(tty).unwrap_or(0),
        loginuid,
        ..ProcInfo::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ancestor, Kind};

    fn exec(pid: u32, ppid: u32, comm: &str, argv: &[&str], anc: &[(u32, &str)]) -> RawEvent {
        RawEvent {
            ts_boot_ns: 1,
            pidns: 9,
            mntns: 9,
            cgroup_id: 1,
            cap_effective: 0,
            cap_permitted: 0,
            res: 0,
            args: [0; 6],
            kind: Kind::Exec,
            syscall: 59,
            tid: pid,
            pid,
            ppid,
            vpid: pid,
            uid: 0,
            gid: 0,
            loginuid: u32::MAX,
            tty: 0,
            flags: 0,
            comm: comm.into(),
            str0: format!("/bin/{comm}"),
            str1: String::new(),
            ancestors: anc
                .iter()
                .map(|(p, c)| Ancestor {
                    pid: *p,
                    comm: (*c).into(),
                })
                .collect(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            sock: None,
            unix_path: None,
        }
    }

    fn table() -> ProcTable {
        // An empty /proc so nothing leaks in from the test machine.
        let dir = std::env::temp_dir().join("mamori-empty-proc");
        let _ = std::fs::create_dir_all(&dir);
        ProcTable::with_proc_root(100, dir)
    }

    #[test]
    fn ancestors_come_from_execs_and_the_kernel_chain() {
        let mut t = table();
        t.on_exec(&exec(10, 1, "runc", &["runc"], &[(1, "init")]), None);
        t.on_exec(
            &exec(20, 10, "sh", &["sh", "-c", "x"], &[(10, "runc")]),
            None,
        );
        let e = t.on_exec(
            &exec(
                30,
                20,
                "cat",
                &["cat", "/etc/shadow"],
                &[(20, "sh"), (10, "runc")],
            ),
            None,
        );
        assert_eq!(e.cmdline(), "cat /etc/shadow");
        let a = t.ancestors(30, 5);
        let names: Vec<&str> = a.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["sh", "runc", "init"]);
        assert_eq!(a[0].cmdline(), "sh -c x");
    }

    #[test]
    fn forked_child_inherits_parent_and_exit_forgets() {
        let mut t = table();
        t.on_exec(&exec(20, 1, "sh", &["sh"], &[]), None);
        let c = t.lookup(21, 20).unwrap();
        assert_eq!(c.name, "sh");
        assert_eq!(c.ppid, 20);
        t.on_exit(21);
        assert!(t.get(21).is_none());
    }

    #[test]
    fn table_is_bounded() {
        let mut t = table();
        for pid in 1000..1500 {
            t.on_exec(&exec(pid, 1, "x", &["x"], &[]), None);
        }
        let s = t.stats();
        assert_eq!(s.entries, 100);
        assert_eq!(s.evicted, 400);
        assert!(t.get(1499).is_some());
        assert!(t.get(1000).is_none());
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(absolute("./x", Some("/tmp")), "/tmp/x");
        assert_eq!(absolute("../bin/sh", Some("/usr/local")), "/usr/bin/sh");
        assert_eq!(absolute("/a//b/./c", None), "/a//b/./c");
        assert_eq!(normalize("/a//b/./c/.."), "/a/b");
        assert_eq!(normalize("/.."), "/");
    }

    #[test]
    fn reads_this_process_from_proc() {
        let mut t = ProcTable::new(100);
        let me = std::process::id();
        let p = t.lookup(me, 0).unwrap();
        assert!(!p.name.is_empty());
        assert!(p.exepath.starts_with('/'));
    }

    #[test]
    fn namespace_ids_come_from_the_innermost_column() {
        let st = "Name:\tsh\nNSpid:\t4242\t7\nNSpgid:\t4242\t7\nNSsid:\t4100\t1\n";
        assert_eq!(
            ns_ids(st),
            NsIds {
                pid: 7,
                sid: 1,
                pgid: 7
            }
        );
        assert_eq!(ns_ids("garbage"), NsIds::default());
    }

    #[test]
    fn own_process_has_its_session_from_proc() {
        let me = std::process::id();
        let dir = Path::new("/proc").join(me.to_string());
        let p = read_proc(&dir, me).expect("own /proc entry");
        assert_eq!(p.vpid, me, "the test runs in the host pid namespace");
        // /proc/<pid>/stat gives pgrp and session in the procfs's pid namespace, which is the
        // innermost one here. The session is 0 when its leader lives outside that namespace (CI
        // runners start tests that way), so only equality is asserted for it.
        let stat = std::fs::read_to_string(dir.join("stat")).expect("own stat");
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<u32> = rest
            .split(' ')
            .skip(2)
            .take(2)
            .map(|x| x.parse().expect("number"))
            .collect();
        assert_eq!((p.vpgid, p.sid), (f[0], f[1]), "{p:?}");
        assert!(p.vpgid > 0, "{p:?}");
    }
}
