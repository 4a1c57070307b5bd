//! Every cataloger on arbitrary bytes: an error or packages, never a panic.

use mamori_catalog::{catalog, golang, FileKind};
use proptest::prelude::*;

const KINDS: [FileKind; 12] = [
    FileKind::RpmSqlite,
    FileKind::DpkgStatus,
    FileKind::DpkgStatusD,
    FileKind::ApkInstalled,
    FileKind::PythonMetadata,
    FileKind::NpmPackageJson,
    FileKind::NpmLock,
    FileKind::CargoLock,
    FileKind::Gemspec,
    FileKind::Composer,
    FileKind::JavaArchive,
    FileKind::Executable,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for kind in KINDS {
            let _ = catalog(kind, "fuzz", &bytes);
        }
        let _ = golang::scan_reader("fuzz", &bytes[..], 1 << 20);
    }

    #[test]
    fn structured_noise_never_panics(lines in proptest::collection::vec("[A-Za-z:{}\\[\\]\"=@/ .-]{0,40}", 0..40)) {
        let text = lines.join("\n");
        for kind in KINDS {
            let _ = catalog(kind, "fuzz", text.as_bytes());
        }
    }

    #[test]
    fn truncated_go_build_info_never_panics(cut in 0usize..400, go in "go1\\.[0-9]{1,2}\\.[0-9]") {
        let mut bin = golang::synthetic_binary(&go, "mod\tx\tv1.0.0\th1:a=\ndep\ty\tv2.0.0\th1:b=\n", 64);
        bin.truncate(cut.min(bin.len()));
        let _ = golang::parse("fuzz", &bin);
    }
}
