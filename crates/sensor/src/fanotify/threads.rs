//! The guard's threads: the reader (parses events, queues jobs), the workers (ask the decider)
//! and the watchdog (answers what the deadline passed on).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{bump, event, sys, Access, Answer, ExecDecider, ExecRequest, Pending, Shared, Verdict};

/// A job for a worker.
pub(super) struct Job {
    seq: u64,
    fd: Arc<OwnedFd>,
    pid: i32,
    mask: u64,
}

pub(super) fn reader_loop(shared: &Shared, group: OwnedFd, wake: OwnedFd, jobs: SyncSender<Job>) {
    // Room for ~680 exec events per read. The parser copies fields out byte by byte, so the
    // buffer needs no particular alignment.
    let mut buf = vec![0u8; 16 * 1024];
    let mut next_seq: u64 = 1;
    while !shared.stop.load(Ordering::SeqCst) {
        shared.heartbeat.fetch_add(1, Ordering::Relaxed);
        match sys::poll2(group.as_fd(), wake.as_fd(), 500) {
            Ok((_, true)) => break,
            Ok((false, false)) => continue,
            Ok((true, false)) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                bump(&shared.counters.errors);
                tracing::error!(%error, "poll on the fanotify group failed; the reader stops.");
                break;
            }
        }
        loop {
            let n = match sys::read_some(group.as_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    bump(&shared.counters.errors);
                    if matches!(
                        error.raw_os_error(),
                        Some(libc::EMFILE) | Some(libc::ENFILE)
                    ) {
                        // The kernel could not install the event's fd and answered FAN_DENY
                        // itself: an exec failed because of us (measured, see the test
                        // fanotify_emfile.rs). Fail-closed; raise RLIMIT_NOFILE.
                        tracing::error!(%error, "Out of file descriptors reading fanotify events; the kernel denied the exec.");
                    } else {
                        tracing::error!(%error, "read on the fanotify group failed.");
                    }
                    break;
                }
            };
            for ev in event::parse(&buf[..n]) {
                match ev {
                    Ok(ev) => dispatch(shared, &jobs, ev, &mut next_seq),
                    Err(error) => {
                        // Nothing after a bad header can be located: the events behind it could
                        // never be answered and would block their execs forever. Fail open
                        // instead: release what is pending and close the group (the kernel
                        // allows the rest and drops the marks). Only an ABI change gets here.
                        bump(&shared.counters.errors);
                        tracing::error!(%error, "Unparsable fanotify buffer; the exec guard closes its group (fail-open).");
                        return;
                    }
                }
            }
        }
    }
}

fn dispatch(shared: &Shared, jobs: &SyncSender<Job>, ev: event::RawEvent, next_seq: &mut u64) {
    if ev.mask & libc::FAN_Q_OVERFLOW != 0 {
        bump(&shared.counters.overflows);
        tracing::warn!("fanotify queue overflow: exec events were lost.");
    }
    if ev.fd < 0 {
        return;
    }
    let fd = Arc::new(sys::own_event_fd(ev.fd));
    let perm = libc::FAN_OPEN_EXEC_PERM | libc::FAN_OPEN_PERM | libc::FAN_ACCESS_PERM;
    if ev.mask & perm == 0 {
        // Not a permission event (this group asks for none): just close the fd.
        return;
    }
    bump(&shared.counters.events);
    if u32::try_from(ev.pid).ok() == Some(std::process::id()) {
        // One of our own threads opening a file in a container marked for opens (user names
        // from its /etc/passwd): never ask the decider about ourselves.
        let pending = Pending {
            fd,
            since: Instant::now(),
        };
        bump(&shared.counters.own);
        shared.write_response(&shared.lock(), &pending, Verdict::Allow);
        return;
    }
    let seq = *next_seq;
    *next_seq += 1;
    {
        let mut st = shared.lock();
        let was_empty = st.pending.is_empty();
        st.pending.insert(
            seq,
            Pending {
                fd: fd.clone(),
                since: Instant::now(),
            },
        );
        if was_empty {
            shared.wake_watchdog.notify_all();
        }
    }
    let job = Job {
        seq,
        fd,
        pid: ev.pid,
        mask: ev.mask,
    };
    match jobs.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(job)) => {
            shared.answer(
                job.seq,
                shared.settings.on_timeout,
                Some(&shared.counters.queue_full),
            );
        }
        Err(TrySendError::Disconnected(job)) => {
            if shared.answer(
                job.seq,
                shared.settings.on_timeout,
                Some(&shared.counters.errors),
            ) == Answer::Written
            {
                tracing::error!("No fanotify worker is left; answering with the timeout verdict.");
            }
        }
    }
}

pub(super) fn worker_loop(shared: &Shared, jobs: &Mutex<Receiver<Job>>, decider: &dyn ExecDecider) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let req = describe(shared, &job);
        // The pending entry keeps the fd open for the response; holding it here while a slow
        // decider runs would only keep the mount busy.
        let seq = job.seq;
        drop(job);
        let verdict = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decider.decide(&req)
        })) {
            Ok(v) => Some(v),
            Err(_) => {
                bump(&shared.counters.errors);
                tracing::error!(pid = req.pid, path = %req.path, "The exec decider panicked; answering with the timeout verdict.");
                None
            }
        };
        let count = match verdict {
            Some(Verdict::Allow) => Some(&shared.counters.allowed),
            Some(Verdict::Deny) => Some(&shared.counters.denied),
            None => None,
        };
        let answer = shared.answer(seq, verdict.unwrap_or(shared.settings.on_timeout), count);
        if answer == Answer::AlreadyAnswered {
            bump(&shared.counters.late);
        }
    }
}

/// Builds the request for one event: readlink and statx of its fd (neither opens a file).
fn describe(shared: &Shared, job: &Job) -> ExecRequest {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", job.fd.as_raw_fd()));
    let id = sys::statx_fd(job.fd.as_fd());
    let (dev, ino, nlink, mnt_id) = match &id {
        Ok(id) => (id.dev, id.ino, id.nlink, id.mnt_id),
        Err(error) => {
            bump(&shared.counters.errors);
            tracing::warn!(%error, pid = job.pid, "statx of a fanotify event fd failed.");
            (0, 0, 1, None)
        }
    };
    let unlinked = nlink == 0;
    let (path, mut path_exact) = match link {
        Ok(p) => match p.into_os_string().into_string() {
            Ok(s) => (s, true),
            Err(os) => (os.to_string_lossy().into_owned(), false),
        },
        Err(error) => {
            bump(&shared.counters.errors);
            tracing::warn!(%error, pid = job.pid, "readlink of a fanotify event fd failed.");
            (String::new(), false)
        }
    };
    if unlinked {
        path_exact = false;
    }
    let access = if job.mask & libc::FAN_OPEN_EXEC_PERM != 0 {
        Access::Exec
    } else {
        Access::Open
    };
    ExecRequest {
        access,
        pid: u32::try_from(job.pid).unwrap_or(0),
        path,
        dev,
        ino,
        mark: shared.marks.lookup(mnt_id, dev),
        unlinked,
        path_exact,
    }
}

pub(super) fn watchdog_loop(shared: &Shared) {
    let deadline = shared.settings.deadline;
    let verdict = shared.settings.on_timeout;
    let mut st = shared.lock();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        let mut wait = Duration::from_secs(1);
        while let Some(entry) = st.pending.first_entry() {
            let due = entry.get().since + deadline;
            if due > now {
                wait = wait.min(due - now);
                break;
            }
            let p = entry.remove();
            // Counted before the answer releases the exec (observers see both together).
            bump(&shared.counters.timed_out);
            shared.write_response(&st, &p, verdict);
            tracing::warn!(
                ?verdict,
                ?deadline,
                "An exec waited past the deadline; the watchdog answered it."
            );
        }
        st = shared
            .wake_watchdog
            .wait_timeout(st, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}
