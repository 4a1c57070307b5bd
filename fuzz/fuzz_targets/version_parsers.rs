//! Fuzz every version parser; for two inputs that parse, comparison must be antisymmetric and
//! display must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_version::{Scheme, Version};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\n').unwrap_or((text, "1.0"));
    for scheme in Scheme::ALL {
        let (Ok(x), Ok(y)) = (Version::parse(scheme, a), Version::parse(scheme, b)) else {
            continue;
        };
        assert_eq!(x.cmp(&y), y.cmp(&x).reverse(), "{scheme}: {a:?} vs {b:?}");
        let again = Version::parse(scheme, &x.to_string()).expect("display re-parses");
        assert_eq!(again.cmp(&x), std::cmp::Ordering::Equal);
    }
});
