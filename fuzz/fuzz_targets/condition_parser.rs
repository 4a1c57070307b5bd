//! Fuzz the condition parser; accepted conditions must print and re-parse to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_rules::parser::parse_condition;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(expr) = parse_condition(text) {
            let printed = expr.to_string();
            let again = parse_condition(&printed).expect("printed condition must parse");
            assert_eq!(again.to_string(), printed);
        }
    }
});
