//! Fuzzes the executable readers: ELF headers, Go build information (inline and pointer
//! formats, in memory and as a stream) and cargo-auditable `.dep-v0` data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_catalog::{auditable, binary, golang};

fuzz_target!(|data: &[u8]| {
    let _ = binary::scan("bin/x", data);
    let _ = golang::scan_reader("bin/x", data, 1 << 20);
    let _ = auditable::parse_compressed("bin/x", data);
    let _ = auditable::parse_json("bin/x", data);
});
