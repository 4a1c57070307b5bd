//! AdmissionReview decoding + evaluation must never panic, whatever the body.
//!
//! Run with `cargo +nightly fuzz run admission_review` from the repository root.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mamori_policy::{Engine, Policy};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let text = include_str!("../../examples/policies/seed-cloudone.yaml");
        // ok: the example policy is tested to load
        let mut policy = Policy::from_str_named(text, "seed-cloudone.yaml").expect("example policy loads");
        let pss = Policy::pod_security_only("restricted:latest".parse().expect("valid level")); // ok: constant
        policy.rules.extend(pss.rules);
        Engine::new(policy)
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = mamori_admission::review::review(engine(), data, time::OffsetDateTime::UNIX_EPOCH);
});
