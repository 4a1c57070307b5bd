//! The agent in a thread of the test, collecting its alerts: shared by the tests that drive real
//! containers through `Agent` (fileless exec on this host, the BPF LSM scenarios in the VM).
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mamori_policy::RuntimePolicySet;
use mamori_rules::Alert;
use mamori_sensor::agent::{Agent, AgentConfig, BackendReport, ExecBackend};
use mamori_sensor::container::RuntimeRoots;

/// A running agent: its alerts so far and the backend it chose.
pub struct Running {
    pub stop: Arc<AtomicBool>,
    pub alerts: Arc<Mutex<Vec<Alert>>>,
    pub thread: std::thread::JoinHandle<()>,
    pub backend: BackendReport,
}

impl Running {
    /// Stops the agent and waits for its thread.
    pub fn stop(self) -> Arc<Mutex<Vec<Alert>>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("agent thread");
        self.alerts
    }
}

/// Starts an agent with no rules, `policies`, watching the runc state folder `state`, in
/// containers-only mode; panics (with the whole error chain) when it cannot start.
pub fn start_agent(
    policies: RuntimePolicySet,
    state: &Path,
    backend: ExecBackend,
    hostname: &str,
) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop2, alerts2, state) = (stop.clone(), alerts.clone(), state.to_path_buf());
    let hostname = hostname.to_string();
    let thread = std::thread::spawn(move || {
        let loaded = mamori_rules::load(&[]).expect("empty rules");
        let engine = mamori_rules::Engine::new(loaded.ruleset, mamori_rules::Settings::default());
        let cfg = AgentConfig {
            policies,
            roots: RuntimeRoots(vec![state]),
            exec_backend: backend,
            containers_only: true,
            hostname,
            ..AgentConfig::default()
        };
        let mut agent = match Agent::start(engine, cfg) {
            Ok(a) => a,
            Err(e) => {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(c) = src {
                    msg.push_str(": ");
                    msg.push_str(&c.to_string());
                    src = c.source();
                }
                let _ = tx.send(Err(msg));
                return;
            }
        };
        let _ = tx.send(Ok(agent.backend().clone()));
        agent.run(&stop2, &mut |a| {
            alerts2.lock().unwrap().push(a);
        });
        let s = agent.shutdown();
        println!("agent stats: {s:?}");
    });
    let backend = rx
        .recv()
        .expect("agent thread")
        .unwrap_or_else(|e| panic!("the agent did not start ({backend:?}): {e}"));
    Running {
        stop,
        alerts,
        thread,
        backend,
    }
}

/// Waits up to 10 s for `f` to hold over the alerts so far; panics listing them otherwise.
pub fn wait_for(alerts: &Mutex<Vec<Alert>>, what: &str, f: impl Fn(&[Alert]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if f(&alerts.lock().unwrap()) {
            return;
        }
        if Instant::now() > deadline {
            let all: Vec<String> = alerts
                .lock()
                .unwrap()
                .iter()
                .map(|a| a.output.clone())
                .collect();
            panic!("no {what} decision; alerts: {all:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
