//! Container runtime state (`/proc/<pid>/cgroup` text, cgroup paths, mountinfo) must parse or be
//! rejected without panicking.
//!
//! Run with `cargo +nightly fuzz run container_state` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = mamori_sensor::container::container_id_from_proc_cgroup(text);
    let _ = mamori_sensor::container::container_id_from_cgroup(text);
    let _ = mamori_sensor::drift::parse_mountinfo_upperdir(text);
});
