//! Fuzz the rules loader: any bytes as a rules file must load or give diagnostics, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_rules::{load, RulesFile};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(loaded) = load(&[RulesFile::new("fuzz.yaml", text)]) {
            // Evaluate one event against whatever loaded.
            let engine = mamori_rules::Engine::new(loaded.ruleset, Default::default());
            if let Ok(ev) = mamori_rules::replay::parse_line(
                r#"{"evt.type":"openat","fd.name":"/etc/shadow","proc.name":"cat"}"#,
                1,
            ) {
                engine.process(&ev, |_| {});
            }
        }
    }
});
