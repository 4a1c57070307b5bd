//! Fuzzes the Dockerfile parser, the shell reader and every Dockerfile rule.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mamori_config::dockerfile::parse(text);
        let _ = mamori_config::scan_source("Dockerfile", text, &mamori_config::Settings::default());
    }
});
