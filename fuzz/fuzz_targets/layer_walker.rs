//! Fuzzes the layer walker: decompression sniffing (gzip, zstd, plain), tar headers (sizes,
//! PAX/GNU long names, links), path normalisation, whiteouts and the bounds, with every entry's
//! content read to the end as the inventory does.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use mamori_image::layer::{walk_layer, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 4 << 20,
        max_layer_entries: 10_000,
        max_file_bytes: 1 << 20,
        max_layers: 4,
        max_binary_bytes: 1 << 20,
    };
    let mut sink = Vec::new();
    let _ = walk_layer(data, "fuzz", None, None, &limits, |_ev, content| {
        sink.clear();
        content.take(1 << 20).read_to_end(&mut sink)?;
        Ok(())
    });
});
