//! The fanotify decider: exec permission events judged by the runtime policies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use mamori_core::event::{Event, EventSource, Value};
use mamori_policy::runtime::{Activity, Status};
use mamori_policy::RuntimePolicySet;
use mamori_rules::Alert;

use super::alerts::decision_alert;
use super::workload;
use crate::container::ContainerInfo;
use crate::drift;
use crate::ebpf::TaintMap;
use crate::fanotify::{open_intent, Access, ExecDecider, ExecRequest, OpenIntent, Verdict};
use crate::proctable::absolute;

/// Decides fanotify exec permission events from the runtime policies.
pub(crate) struct PolicyDecider {
    pub(crate) policies: Arc<RuntimePolicySet>,
    pub(crate) marks: Arc<Mutex<HashMap<u64, Arc<ContainerInfo>>>>,
    pub(crate) taint: Arc<TaintMap>,
    pub(crate) tx: SyncSender<Alert>,
    pub(crate) hostname: String,
    pub(crate) dropped: AtomicU64,
}

fn proc_text(pid: u32, what: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{what}")).ok()
}

impl PolicyDecider {
    /// The event a blocked exec is reported with.
    fn exec_event(
        &self,
        req: &ExecRequest,
        c: &ContainerInfo,
        asked: &str,
        upper: bool,
        session: bool,
    ) -> Event {
        let mut ev = Self::process_event(req, c, "execve");
        let f = &mut ev.fields;
        f.insert("proc.exepath".into(), Value::Str(asked.to_string()));
        f.insert("proc.name".into(), Value::Str(basename(asked).to_string()));
        f.insert("proc.is_exe_upper_layer".into(), Value::Bool(upper));
        f.insert("proc.exec_session".into(), Value::Bool(session));
        // The caller, before the exec (its image is still the old one).
        if let Some(comm) = proc_text(req.pid, "comm") {
            f.insert("proc.pname".into(), Value::Str(comm.trim().to_string()));
        }
        ev
    }

    /// The event a blocked open is reported with.
    fn open_event(req: &ExecRequest, c: &ContainerInfo, write: bool, session: bool) -> Event {
        let mut ev = Self::process_event(req, c, "openat");
        let f = &mut ev.fields;
        f.insert("evt.is_open_write".into(), Value::Bool(write));
        f.insert("evt.is_open_read".into(), Value::Bool(!write));
        f.insert("fd.typechar".into(), Value::Str("f".into()));
        f.insert("proc.exec_session".into(), Value::Bool(session));
        if let Some(comm) = proc_text(req.pid, "comm") {
            f.insert("proc.name".into(), Value::Str(comm.trim().to_string()));
        }
        if let Some(cmd) = proc_text(req.pid, "cmdline") {
            let cmd = cmd.trim_end_matches('\0').replace('\0', " ");
            f.insert("proc.cmdline".into(), Value::Str(cmd));
        }
        ev
    }

    /// What both kinds of event carry: type, pid, file, uid, parent and the container.
    fn process_event(req: &ExecRequest, c: &ContainerInfo, evt_type: &str) -> Event {
        let wall = crate::enrich::wall_ns();
        let mut ev = Event::new(EventSource::Syscall, wall);
        let f = &mut ev.fields;
        f.insert("evt.type".into(), Value::Str(evt_type.into()));
        f.insert("evt.dir".into(), Value::Str(">".into()));
        f.insert("proc.pid".into(), Value::Int(req.pid.into()));
        f.insert("fd.name".into(), Value::Str(req.path.clone()));
        if let Some(status) = proc_text(req.pid, "status") {
            for line in status.lines() {
                if let Some(rest) = line.strip_prefix("Uid:") {
                    if let Some(uid) = rest
                        .split_whitespace()
                        .next()
                        .and_then(|u| u.parse::<i64>().ok())
                    {
                        f.insert("user.uid".into(), Value::Int(uid));
                    }
                }
                if let Some(rest) = line.strip_prefix("PPid:") {
                    if let Ok(pp) = rest.trim().parse::<i64>() {
                        f.insert("proc.ppid".into(), Value::Int(pp));
                    }
                }
            }
        }
        for (k, v) in c.fields() {
            f.insert(k.into(), v);
        }
        ev
    }
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Whether fd `fd` of `pid` is an IPv4/IPv6 TCP or UDP socket (a reverse shell's stdio).
fn fd_is_net_socket(pid: u32, fd: u32) -> bool {
    let Ok(link) = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
        return false;
    };
    let link = link.to_string_lossy();
    let Some(ino) = link
        .strip_prefix("socket:[")
        .and_then(|r| r.strip_suffix(']'))
    else {
        return false;
    };
    // The socket tables of the process's network namespace list each socket's inode (10th
    // column); a socket in none of them is a unix or netlink socket.
    ["tcp", "tcp6", "udp", "udp6"].iter().any(|t| {
        proc_text(pid, &format!("net/{t}")).is_some_and(|table| {
            table
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(9) == Some(ino))
        })
    })
}

impl PolicyDecider {
    /// Reports the decisions of a blocked exec or open.
    fn report(&self, decisions: &[mamori_policy::runtime::Decision], base: &Event, how: &str) {
        for d in decisions {
            let mut d = d.clone();
            if d.status == Status::Block {
                d.message.push_str(how);
            }
            if self
                .tx
                .try_send(decision_alert(&d, base, &self.hostname))
                .is_err()
            {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// An open in a container marked for opens: blocked files are refused for any open, and
    /// read-only paths for opens that write, create or truncate (or whose mode cannot be read).
    fn decide_open(&self, req: &ExecRequest, c: &ContainerInfo) -> Verdict {
        if req.path.is_empty() {
            return Verdict::Allow;
        }
        let w = workload(c);
        let wl = w.as_workload();
        let now = time::OffsetDateTime::now_utc();
        let blocks =
            |d: &Vec<mamori_policy::runtime::Decision>| d.iter().any(|d| d.status == Status::Block);
        let read = Activity::Open {
            path: &req.path,
            write: false,
        };
        let as_read = self.policies.evaluate(&wl, &read, now);
        let (decisions, write, how) = if blocks(&as_read) {
            (
                as_read,
                false,
                " (blocked before open: Operation not permitted)",
            )
        } else {
            let write = Activity::Open {
                path: &req.path,
                write: true,
            };
            let as_write = self.policies.evaluate(&wl, &write, now);
            if !blocks(&as_write) {
                return Verdict::Allow;
            }
            match open_intent(req.pid) {
                OpenIntent::Read => return Verdict::Allow,
                OpenIntent::Write => (
                    as_write,
                    true,
                    " (blocked before open: Operation not permitted)",
                ),
                OpenIntent::Unknown => (
                    as_write,
                    true,
                    " (blocked before open: Operation not permitted; the open mode could not be read, so it was treated as a write)",
                ),
            }
        };
        let session = self.taint.is_tainted(req.pid);
        let base = Self::open_event(req, c, write, session);
        self.report(&decisions, &base, how);
        Verdict::Deny
    }
}

impl ExecDecider for PolicyDecider {
    fn decide(&self, req: &ExecRequest) -> Verdict {
        let c = {
            let m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
            m.get(&req.mark.get()).cloned()
        };
        let Some(c) = c else { return Verdict::Allow };
        if req.access == Access::Open {
            return self.decide_open(req, &c);
        }
        let session = self.taint.is_tainted(req.pid);
        // The name the exec asked for (a busybox applet resolves to /bin/busybox).
        let asked = self
            .taint
            .exec_path(req.pid)
            .map(|p| {
                let cwd = std::fs::read_link(format!("/proc/{}/cwd", req.pid))
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned());
                absolute(&p, cwd.as_deref())
            })
            .unwrap_or_else(|| req.path.clone());
        // A file whose path cannot be trusted (unlinked and run through an fd, unreadable link)
        // is not in the image as far as anyone can tell: treat it as drift.
        let upper = !req.path_exact
            || c.upperdir.as_deref().is_some_and(|u| {
                drift::layer_of(u, &req.path)
                    .map(|l| l.is_upper())
                    .unwrap_or(false)
            });
        let w = workload(&c);
        let activity = Activity::Exec {
            path: &asked,
            name: basename(&asked),
            is_exec_session: session,
            is_upper_layer: upper,
            // Deleted while open and run through an fd: nothing on disk names it any more.
            is_fileless: req.unlinked,
            stdio_is_socket: fd_is_net_socket(req.pid, 0) || fd_is_net_socket(req.pid, 1),
        };
        let decisions =
            self.policies
                .evaluate(&w.as_workload(), &activity, time::OffsetDateTime::now_utc());
        if !decisions.iter().any(|d| d.status == Status::Block) {
            // Allowed: detect-only decisions are reported from the exec event itself.
            return Verdict::Allow;
        }
        let base = self.exec_event(req, &c, &asked, upper, session);
        self.report(
            &decisions,
            &base,
            " (blocked before exec: Operation not permitted)",
        );
        Verdict::Deny
    }
}
