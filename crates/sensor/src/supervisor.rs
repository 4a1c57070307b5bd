//! A supervisor outside the sensor's process, for the one failure the in-process watchdog cannot
//! cover: the whole sensor frozen (stopped with `SIGSTOP`, a frozen cgroup, every thread stuck).
//!
//! fanotify has no kernel timeout: while the group's owner is frozen, every exec (and, on
//! containers marked for opens, every open) in an enforced container waits. When the process
//! dies, the kernel closes the group and allows everything pending (fail-open). So the supervisor
//! is a small child process that expects a heartbeat on its stdin and kills the sensor with
//! `SIGKILL` (which works on stopped processes too) when the heartbeat stops for longer than its
//! timeout; a DaemonSet then restarts the sensor.
//!
//! The heartbeat is only sent while the guard's reader thread loops ([`Liveness`]), so a reader
//! that is stuck while the rest of the process runs counts as frozen as well. The child exits on
//! its own when its stdin closes (the sensor exited or shut down normally), and ignores
//! `SIGINT`/`SIGTERM` meant for the sensor's process group: it stops with the sensor, not before.
//!
//! ```no_run
//! use std::time::Duration;
//! use mamori_sensor::fanotify::Liveness;
//! use mamori_sensor::supervisor::Supervisor;
//!
//! fn supervised(liveness: Liveness) -> std::io::Result<()> {
//!     // Spawns `<exe> __supervise --pid <ours> --timeout-ms 3000`; that hidden subcommand
//!     // calls `child_main`.
//!     let sup = Supervisor::spawn(
//!         std::env::current_exe()?, &["__supervise".into()], liveness, Duration::from_secs(3))?;
//!     // ... run the sensor ...
//!     sup.stop();
//!     Ok(())
//! }
//! ```

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fanotify::Liveness;

/// How often the heartbeat is checked and sent.
const BEAT: Duration = Duration::from_millis(250);
/// The reader loops at least every 500 ms; without a new loop for this long it is not alive.
const READER_STALE: Duration = Duration::from_millis(1500);

/// The sensor's side: the child process and the thread feeding it.
#[derive(Debug)]
pub struct Supervisor {
    child: Child,
    stop: Arc<AtomicBool>,
    feeder: Option<JoinHandle<()>>,
}

impl Supervisor {
    /// Starts `program args…` (the same binary, with a hidden subcommand that calls
    /// [`child_main`] for this process's pid) with a pipe on its stdin, and a thread that writes a
    /// byte to it every 250 ms while `liveness` shows the guard's reader looping.
    pub fn spawn(
        program: PathBuf,
        args: &[String],
        liveness: Liveness,
        timeout: Duration,
    ) -> std::io::Result<Supervisor> {
        let mut child = Command::new(program)
            .args(args)
            .arg("--pid")
            .arg(std::process::id().to_string())
            .arg("--timeout-ms")
            .arg(timeout.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("the supervisor child has no stdin pipe"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let feeder = std::thread::Builder::new()
            .name("supervisor-heartbeat".into())
            .spawn(move || feed(stdin, &liveness, &flag))?;
        Ok(Supervisor {
            child,
            stop,
            feeder: Some(feeder),
        })
    }

    /// Closes the heartbeat pipe (the child exits) and waits for the child.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn feed(mut stdin: ChildStdin, liveness: &Liveness, stop: &AtomicBool) {
    let mut last = liveness.beats();
    let mut last_change = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let beats = liveness.beats();
        if beats != last {
            last = beats;
            last_change = now;
        }
        if now.duration_since(last_change) < READER_STALE {
            if let Err(error) = stdin.write_all(b".").and_then(|()| stdin.flush()) {
                tracing::warn!(%error, "The sensor's supervisor is gone; a frozen sensor would not be restarted.");
                return;
            }
        }
        std::thread::sleep(BEAT);
    }
    // Dropping stdin closes the pipe: the child exits.
}

/// What ended [`child_main`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// The heartbeat pipe closed: the sensor exited or stopped its supervisor.
    SensorGone,
    /// The heartbeat stopped for longer than the timeout; the sensor was sent `SIGKILL`.
    Killed,
}

/// The supervisor child: reads heartbeats from `input` and kills `pid` with `SIGKILL` when none
/// came for `timeout`. Returns when the input closes or after the kill.
pub fn child_main(pid: u32, timeout: Duration, input: impl Read + Send + 'static) -> ChildExit {
    let (tx, rx) = mpsc::channel::<bool>();
    std::thread::spawn(move || {
        let mut input = input;
        let mut buf = [0u8; 64];
        loop {
            match input.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(false);
                    return;
                }
                Ok(_) => {
                    if tx.send(true).is_err() {
                        return;
                    }
                }
            }
        }
    });
    loop {
        match rx.recv_timeout(timeout) {
            Ok(true) => continue,
            Ok(false) | Err(mpsc::RecvTimeoutError::Disconnected) => return ChildExit::SensorGone,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                eprintln!(
                    "mamori supervisor: the sensor (pid {pid}) sent no heartbeat for {} ms (frozen or stuck); killing it so that the kernel releases the execs and opens waiting on its fanotify group (fail-open)",
                    timeout.as_millis()
                );
                if let Err(error) = kill_hard(pid) {
                    eprintln!("mamori supervisor: SIGKILL to pid {pid} failed: {error}");
                }
                return ChildExit::Killed;
            }
        }
    }
}

/// Ignores `SIGINT` and `SIGTERM` in the calling process (the child shares the sensor's process
/// group; a Ctrl-C for the sensor must not remove its supervisor first).
#[allow(unsafe_code)]
pub fn ignore_stop_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing SIG_IGN for a signal has no memory effects.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}

#[allow(unsafe_code)]
fn kill_hard(pid: u32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    if pid <= 1 {
        return Err(std::io::Error::other("refusing to kill pid 0 or 1"));
    }
    // SAFETY: kill(2) with integer arguments.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `n` heartbeats `gap` apart, then blocks forever (a frozen sensor) or
    /// ends (a sensor that exited).
    struct Beats {
        n: usize,
        gap: Duration,
        then_eof: bool,
    }

    impl Read for Beats {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.n == 0 {
                if self.then_eof {
                    return Ok(0);
                }
                std::thread::sleep(Duration::from_secs(3600));
            }
            self.n -= 1;
            std::thread::sleep(self.gap);
            buf[0] = b'.';
            Ok(1)
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_child_without_killing() {
        let r = Beats {
            n: 3,
            gap: Duration::from_millis(10),
            then_eof: true,
        };
        // pid u32::MAX is never killed: the child must return before any kill.
        assert_eq!(
            child_main(u32::MAX, Duration::from_secs(5), r),
            ChildExit::SensorGone
        );
    }

    #[test]
    fn missing_heartbeats_kill_the_process() {
        let mut victim = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let r = Beats {
            n: 3,
            gap: Duration::from_millis(20),
            then_eof: false,
        };
        let t0 = Instant::now();
        assert_eq!(
            child_main(victim.id(), Duration::from_millis(300), r),
            ChildExit::Killed
        );
        let st = victim.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGKILL));
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn steady_heartbeats_keep_the_process_alive() {
        let r = Beats {
            n: 20,
            gap: Duration::from_millis(20),
            then_eof: true,
        };
        // 20 beats 20 ms apart under a 200 ms timeout: never killed; ends when the pipe closes.
        assert_eq!(
            child_main(u32::MAX, Duration::from_millis(200), r),
            ChildExit::SensorGone
        );
    }
}
