//! Fuzz the OSV record parser (JSON and YAML): it must return a record or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mamori_vulndb::osv::parse_record(data, false);
    let _ = mamori_vulndb::osv::parse_record(data, true);
});
