//! BPF LSM denials as `block` decisions, with the same process and container context as the
//! fanotify decider's.

use mamori_core::event::{Event, EventSource, Value};
use mamori_policy::runtime::{Activity, Decision, Mode, Status};
use mamori_rules::Alert;

use super::{decision_alert, workload, Agent};
use crate::lsm::wire::{
    F_DELETED, F_MEMFD, F_PATH_UNKNOWN, F_STDIO_SOCK, F_TAINT, F_UPPER, F_WRITE,
};
use crate::lsm::{plan, Denial, DenialKind};

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn proc_text(pid: u32, what: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{what}")).ok()
}

/// The event a denial is reported with.
fn denial_event(d: &Denial, c: &crate::container::ContainerInfo) -> Event {
    let mut ev = Event::new(EventSource::Syscall, crate::enrich::wall_ns());
    let f = &mut ev.fields;
    let evt_type = match d.kind {
        DenialKind::Exec => "execve",
        DenialKind::Open => "openat",
        DenialKind::Modify(op) => op,
    };
    f.insert("evt.type".into(), Value::Str(evt_type.into()));
    f.insert("evt.dir".into(), Value::Str(">".into()));
    f.insert("proc.pid".into(), Value::Int(d.pid.into()));
    f.insert("proc.tid".into(), Value::Int(d.tid.into()));
    f.insert("proc.vpid".into(), Value::Int(d.vpid.into()));
    f.insert("proc.ppid".into(), Value::Int(d.ppid.into()));
    f.insert("user.uid".into(), Value::Int(d.uid.into()));
    f.insert("group.gid".into(), Value::Int(d.gid.into()));
    f.insert("proc.exec_session".into(), Value::Bool(d.has(F_TAINT)));
    match d.kind {
        DenialKind::Exec => {
            // The exec never happened: the process still runs its caller's image.
            f.insert("proc.exepath".into(), Value::Str(d.path.clone()));
            f.insert(
                "proc.name".into(),
                Value::Str(basename(&d.path).to_string()),
            );
            f.insert("proc.pname".into(), Value::Str(d.comm.clone()));
            f.insert("fd.name".into(), Value::Str(d.path.clone()));
            f.insert(
                "proc.is_exe_upper_layer".into(),
                Value::Bool(d.has(F_UPPER)),
            );
            f.insert("proc.is_exe_from_memfd".into(), Value::Bool(d.has(F_MEMFD)));
        }
        DenialKind::Open | DenialKind::Modify(_) => {
            f.insert("proc.name".into(), Value::Str(d.comm.clone()));
            f.insert("fd.name".into(), Value::Str(d.path.clone()));
            f.insert("fd.typechar".into(), Value::Str("f".into()));
            if d.kind == DenialKind::Open {
                f.insert("evt.is_open_write".into(), Value::Bool(d.has(F_WRITE)));
                f.insert("evt.is_open_read".into(), Value::Bool(!d.has(F_WRITE)));
            }
            if let Some(p2) = &d.path2 {
                f.insert("evt.arg.newpath".into(), Value::Str(p2.clone()));
            }
            if let Some(cmd) = proc_text(d.pid, "cmdline") {
                let cmd = cmd.trim_end_matches('\0').replace('\0', " ");
                f.insert("proc.cmdline".into(), Value::Str(cmd));
            }
        }
    }
    for (k, v) in c.fields() {
        f.insert(k.into(), v);
    }
    ev
}

impl Agent {
    /// Reports what the BPF LSM programs refused since the last call.
    pub(super) fn drain_lsm(&mut self, emit: &mut dyn FnMut(Alert)) {
        let Some(l) = self.lsm.as_mut() else { return };
        let mut batch = Vec::new();
        l.drain(|r| match r {
            Ok(d) => batch.push(d),
            Err(e) => tracing::warn!(error = %e, "Undecodable BPF LSM denial record."),
        });
        for d in batch {
            self.report_denial(&d, emit);
        }
    }

    fn report_denial(&mut self, d: &Denial, emit: &mut dyn FnMut(Alert)) {
        let Some(c) = self.lsm_containers.get(&d.pidns).cloned() else {
            tracing::warn!(pid = d.pid, path = %d.path, "BPF LSM refused an operation in a container no longer known.");
            return;
        };
        let w = workload(&c);
        let now = time::OffsetDateTime::now_utc();
        let name = basename(&d.path).to_string();
        let activity = match d.kind {
            DenialKind::Exec => Activity::Exec {
                path: &d.path,
                name: &name,
                is_exec_session: d.has(F_TAINT),
                is_upper_layer: d.has(F_UPPER) || d.has(F_PATH_UNKNOWN),
                is_fileless: d.has(F_MEMFD) || d.has(F_DELETED),
                stdio_is_socket: d.has(F_STDIO_SOCK),
            },
            DenialKind::Open => Activity::Open {
                path: &d.path,
                write: d.has(F_WRITE),
            },
            DenialKind::Modify(op) => Activity::Modify { path: &d.path, op },
        };
        let mut decisions = self.policies.evaluate(&w.as_workload(), &activity, now);
        if let (DenialKind::Modify(op), Some(p2)) = (d.kind, &d.path2) {
            // A rename is refused for its source or its destination.
            decisions.extend(self.policies.evaluate(
                &w.as_workload(),
                &Activity::Modify { path: p2, op },
                now,
            ));
        }
        let how = match d.kind {
            DenialKind::Exec => {
                " (blocked before exec by BPF LSM: Operation not permitted)".to_string()
            }
            DenialKind::Open => {
                " (blocked before open by BPF LSM: Operation not permitted)".to_string()
            }
            DenialKind::Modify(op) => {
                format!(" (blocked before {op} by BPF LSM: Operation not permitted)")
            }
        };
        if !decisions.iter().any(|x| x.status == Status::Block) {
            // The policies changed since the kernel decided (or a hash collided): report what the
            // kernel did, with the policies of the slots it named.
            let names: Vec<&str> = self
                .policies
                .policies()
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < 32 && d.slots & (1 << i) != 0)
                .map(|(_, p)| p.name.as_str())
                .collect();
            let control = plan::control_of(d.control);
            decisions.push(Decision {
                policy: names.join(","),
                control: control.unwrap_or(mamori_policy::runtime::Control::BlockedFiles),
                status: Status::Block,
                mode: Mode::Enforce,
                message: format!(
                    "{} refused in the kernel by BPF LSM for {}, which the current policies no longer ask",
                    d.path,
                    control.map(|c| c.as_str()).unwrap_or("an unknown control")
                ),
            });
        }
        let base = denial_event(d, &c);
        for mut x in decisions {
            if x.status == Status::Block {
                x.message.push_str(&how);
            }
            self.stats.decisions += 1;
            self.stats.lsm_denials += 1;
            emit(decision_alert(&x, &base, &self.hostname));
        }
    }
}
