//! Fuzzes the CloudFormation reader and checks, in YAML (short-form tags) and JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let settings = mamori_config::Settings::default();
        // Make most inputs look like templates so that the resource checks run.
        let yaml = format!("AWSTemplateFormatVersion: '2010-09-09'\n{text}");
        let _ = mamori_config::scan_source("template.yaml", &yaml, &settings);
        let _ = mamori_config::scan_source("template.json", text, &settings);
    }
});
