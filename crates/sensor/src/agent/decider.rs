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
use crate::fanotify::{ExecDecider, ExecRequest, Verdict};
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
    fn context_event(
        &self,
        req: &ExecRequest,
        c: &ContainerInfo,
        asked: &str,
        upper: bool,
        session: bool,
    ) -> Event {
        let wall = crate::enrich::wall_ns();
        let mut ev = Event::new(EventSource::Syscall, wall);
        let f = &mut ev.fields;
        f.insert("evt.type".into(), Value::Str("execve".into()));
        f.insert("evt.dir".into(), Value::Str(">".into()));
        f.insert("proc.pid".into(), Value::Int(req.pid.into()));
        f.insert("proc.exepath".into(), Value::Str(asked.to_string()));
        f.insert("proc.name".into(), Value::Str(basename(asked).to_string()));
        f.insert("fd.name".into(), Value::Str(req.path.clone()));
        f.insert("proc.is_exe_upper_layer".into(), Value::Bool(upper));
        f.insert("proc.exec_session".into(), Value::Bool(session));
        // The caller, before the exec (its image is still the old one).
        if let Some(comm) = proc_text(req.pid, "comm") {
            f.insert("proc.pname".into(), Value::Str(comm.trim().to_string()));
        }
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

impl ExecDecider for PolicyDecider {
    fn decide(&self, req: &ExecRequest) -> Verdict {
        let c = {
            let m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
            m.get(&req.mark.get()).cloned()
        };
        let Some(c) = c else { return Verdict::Allow };
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
            is_fileless: false,
            stdio_is_socket: false,
        };
        let decisions =
            self.policies
                .evaluate(&w.as_workload(), &activity, time::OffsetDateTime::now_utc());
        if !decisions.iter().any(|d| d.status == Status::Block) {
            // Allowed: detect-only decisions are reported from the exec event itself.
            return Verdict::Allow;
        }
        let base = self.context_event(req, &c, &asked, upper, session);
        for d in &decisions {
            let mut d = d.clone();
            if d.status == Status::Block {
                d.message
                    .push_str(" (blocked before exec: Operation not permitted)");
            }
            if self
                .tx
                .try_send(decision_alert(&d, &base, &self.hostname))
                .is_err()
            {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Verdict::Deny
    }
}
