//! Fuzzes the Kubernetes manifest reader (YAML streams, JSON, lists) and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let settings = mamori_config::Settings::default();
        let _ = mamori_config::scan_source("manifest.yaml", text, &settings);
        let _ = mamori_config::scan_source("manifest.json", text, &settings);
        let _ = mamori_config::yaml::read_yaml_lenient(text, &settings.limits);
    }
});
