//! Choosing the enforcement backend at start: BPF LSM where the kernel accepts it, otherwise
//! fanotify, saying why. This machine kind refuses BPF LSM (EPERM on trampolines), so here the
//! test checks the fallback and its reason, and that forcing the LSM backend is a clear error;
//! on a kernel that accepts BPF LSM (the VM of `lsm_vm.rs`) it checks that `auto` picks `lsm`.

use mamori_policy::RuntimePolicySet;
use mamori_sensor::agent::{Agent, AgentConfig, AgentError, ExecBackend};
use mamori_sensor::container::RuntimeRoots;
use mamori_sensor::lsm::LsmEnforcer;

const POLICY: &str = "apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: p}
spec:
  mode: enforce
  controls:
    driftPrevention: {}
    readOnlyPaths: [/etc/*]
";

fn start(backend: ExecBackend) -> Result<Agent, AgentError> {
    let loaded = mamori_rules::load(&[]).unwrap();
    let engine = mamori_rules::Engine::new(loaded.ruleset, mamori_rules::Settings::default());
    let state = tempfile::tempdir().unwrap();
    Agent::start(
        engine,
        AgentConfig {
            policies: RuntimePolicySet::from_str_named(POLICY, "p.yaml").unwrap(),
            roots: RuntimeRoots(vec![state.path().to_path_buf()]),
            exec_backend: backend,
            ..AgentConfig::default()
        },
    )
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[test]
fn auto_picks_lsm_where_the_kernel_allows_it_and_falls_back_to_fanotify_saying_why() {
    if !mamori_testkit::require_root("loading eBPF programs") {
        return;
    }
    let lsm_ok = LsmEnforcer::start();
    let agent = start(ExecBackend::Auto).unwrap_or_else(|e| panic!("{}", chain(&e)));
    let b = agent.backend().clone();
    drop(agent);
    match lsm_ok {
        Ok(_) => {
            assert_eq!(b.exec, "lsm", "{b:?}");
            assert!(b.summary().contains("(lsm)"), "{}", b.summary());
        }
        Err(e) => {
            eprintln!("this kernel refuses BPF LSM: {}", e.chain());
            assert_eq!(b.exec, "fanotify", "{b:?}");
            assert!(
                b.lsm.starts_with("BPF LSM refused by this kernel ("),
                "{}",
                b.lsm
            );
            assert!(b.lsm.ends_with("falling back to fanotify"), "{}", b.lsm);
            assert!(
                b.lsm.contains(&e.chain()),
                "the reason is the kernel's: {}",
                b.lsm
            );
            // Forcing the LSM backend fails at start with the kernel's reason.
            let forced = start(ExecBackend::Lsm).expect_err("--enforcement lsm must fail here");
            assert!(matches!(forced, AgentError::Lsm(_)), "{forced:?}");
            let text = chain(&forced);
            assert!(
                text.starts_with("BPF LSM enforcement was requested but is not available: "),
                "{text}"
            );
        }
    }
}

#[test]
fn fanotify_when_asked_even_where_lsm_works() {
    if !mamori_testkit::require_root("loading eBPF programs") {
        return;
    }
    let agent = start(ExecBackend::Fanotify).unwrap_or_else(|e| panic!("{}", chain(&e)));
    let b = agent.backend().clone();
    assert_eq!(b.exec, "fanotify", "{b:?}");
    assert!(b.lsm.starts_with("not used"), "{}", b.lsm);
}
