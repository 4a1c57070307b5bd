//! Runtime policy documents (`kind: RuntimePolicy`) must load or fail with a positioned error,
//! never panic; a loaded policy must evaluate.
//!
//! Run with `cargo +nightly fuzz run runtime_policy` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_policy::runtime::{Activity, Workload};
use mamori_policy::RuntimePolicySet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = RuntimePolicySet::from_str_named(text, "fuzz.yaml") {
        let w = Workload { namespace: Some("default"), pod_labels: None, image: Some("nginx:1"), container_name: Some("web") };
        let a = Activity::Exec { path: "/bin/sh", name: "sh", is_exec_session: true, is_upper_layer: true, is_fileless: false, stdio_is_socket: true };
        let _ = set.evaluate(&w, &a, time::OffsetDateTime::UNIX_EPOCH);
    }
});
