//! Fuzzes the text and JSON catalogers: the first byte picks dpkg status, apk installed,
//! Python METADATA, npm package.json / package-lock.json, Cargo.lock, gemspec or composer.lock;
//! the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_catalog::{catalog, FileKind};

const KINDS: [(FileKind, &str); 9] = [
    (FileKind::DpkgStatus, "var/lib/dpkg/status"),
    (FileKind::DpkgStatusD, "var/lib/dpkg/status.d/base"),
    (FileKind::ApkInstalled, "lib/apk/db/installed"),
    (FileKind::PythonMetadata, "x/six-1.0.dist-info/METADATA"),
    (FileKind::NpmPackageJson, "app/node_modules/a/package.json"),
    (FileKind::NpmLock, "app/package-lock.json"),
    (FileKind::CargoLock, "src/Cargo.lock"),
    (FileKind::Gemspec, "gems/specifications/rake-13.0.6.gemspec"),
    (FileKind::Composer, "app/composer.lock"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (kind, path) = KINDS[usize::from(pick) % KINDS.len()];
    if let Ok(pkgs) = catalog(kind, path, rest) {
        let distro = mamori_catalog::Distro::new("debian", "12");
        for p in pkgs {
            let _ = p.to_package(Some(&distro));
        }
    }
});
