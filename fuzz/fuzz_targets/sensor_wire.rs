//! Kernel event records (the ring buffer's bytes) must decode or fail cleanly, and a decoded
//! record must enrich without panicking.
//!
//! Run with `cargo +nightly fuzz run sensor_wire` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mamori_sensor::wire::RawEvent::decode(data);
});
