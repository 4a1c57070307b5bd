//! Fuzzes the archive and database catalogers: Java archives (zip, MANIFEST.MF,
//! pom.properties, nested jars) and rpm header blobs and rpmdb.sqlite files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_catalog::{java, rpm};

fuzz_target!(|data: &[u8]| {
    let _ = java::parse("app/lib/x.jar", data);
    let _ = rpm::parse_header(data);
    if rpm::is_sqlite(data) {
        let _ = rpm::parse_sqlite("var/lib/rpm/rpmdb.sqlite", data);
    }
});
