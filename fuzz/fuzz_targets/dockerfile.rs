//! Fuzzes the Dockerfile parser, the shell reader and every Dockerfile rule (with a label schema
//! and trusted registries, so the configurable hadolint rules run too), and the `.hadolint.yaml`
//! reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

const HADOLINT: &str = "override: {warning: [DL3057], info: [DL1001]}\ntrustedRegistries: [docker.io, '*.gcr.io']\nlabel-schema: {maintainer: email, src: url, at: rfc3339, lic: spdx, rev: hash, ver: semver, t: text}\nstrict-labels: true\n";

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mamori_config::dockerfile::parse(text);
        let _ = mamori_config::scan_source("Dockerfile", text, &mamori_config::Settings::default());
        let _ = mamori_config::read_hadolint_config(text);
        if let Ok((dockerfile, _)) = mamori_config::read_hadolint_config(HADOLINT) {
            let settings = mamori_config::Settings {
                dockerfile,
                ..mamori_config::Settings::default()
            };
            let _ = mamori_config::scan_source("Dockerfile", text, &settings);
        }
    }
});
