//! Rust executables built with `cargo auditable`: the linker section `.dep-v0` holds the
//! crate graph as zlib-compressed JSON, `{"packages": [{"name", "version", "source", "kind",
//! "dependencies", "root"}]}`. Every package that is compiled into the binary (kind `runtime`,
//! the default when the field is absent) is reported, the root crate included; build-time
//! dependencies (kind `build`: build scripts, proc macros) are not in the binary and are left out.

use std::io::Read;

use serde::Deserialize;

use crate::elf::Elf;
use crate::{CatalogError, CatalogPackage, PkgKind};

/// Name of the section cargo-auditable adds.
pub const SECTION: &str = ".dep-v0";
/// Largest decompressed dependency document read (a real one is a few KiB per hundred crates).
pub const MAX_JSON_BYTES: u64 = 8 << 20;

#[derive(Deserialize)]
struct DepInfo {
    packages: Vec<DepPackage>,
}

#[derive(Deserialize)]
struct DepPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// The packages of a cargo-auditable binary, `None` when it has no `.dep-v0` section.
pub fn from_elf(path: &str, elf: &Elf<'_>) -> Option<Result<Vec<CatalogPackage>, CatalogError>> {
    let section = elf.section(SECTION)?;
    let bad = |reason: String| CatalogError::Binary {
        path: path.to_string(),
        reason,
    };
    let Some(compressed) = elf.section_data(section) else {
        return Some(Err(bad(format!("{SECTION} section lies outside the file"))));
    };
    Some(parse_compressed(path, compressed).map_err(|e| match e {
        CatalogError::Json {
            line,
            column,
            reason,
            ..
        } => bad(format!(
            "{SECTION}: invalid JSON at {line}:{column}: {reason}"
        )),
        other => other,
    }))
}

/// Decompresses (at most [`MAX_JSON_BYTES`]) and reads a `.dep-v0` section's content.
pub fn parse_compressed(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| CatalogError::Binary {
            path: path.to_string(),
            reason: format!("{SECTION}: not zlib data: {e}"),
        })?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(CatalogError::Binary {
            path: path.to_string(),
            reason: format!("{SECTION}: decompresses to more than {MAX_JSON_BYTES} bytes"),
        });
    }
    parse_json(path, &json)
}

/// Reads the dependency document itself.
pub fn parse_json(path: &str, json: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let info: DepInfo = serde_json::from_slice(json).map_err(|e| CatalogError::json(path, &e))?;
    Ok(info
        .packages
        .into_iter()
        .filter(|p| p.kind.as_deref().is_none_or(|k| k == "runtime"))
        .map(|p| CatalogPackage::new(PkgKind::Cargo, p.name, p.version))
        .collect())
}

/// Builds an ELF64 executable with a `.dep-v0` section holding `json` compressed with zlib
/// (for tests, fuzz seeds and benchmarks).
#[doc(hidden)]
pub fn synthetic_binary(json: &str) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(json.as_bytes()).expect("writes to memory");
    let compressed = z.finish().expect("writes to memory");
    crate::elf::synthetic_elf64(&[
        (".text", 0x40_0000, 5, &[0xc3; 64]),
        (SECTION, 0x50_0000, 4, &compressed),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPS: &str = r#"{"packages":[
        {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},
        {"name":"smallvec","version":"1.6.0","source":"crates.io"},
        {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
        {"name":"time","version":"0.1.43","source":"crates.io","kind":"runtime"}
    ]}"#;

    #[test]
    fn reads_runtime_packages_of_the_section() {
        let bin = synthetic_binary(DEPS);
        let pkgs = crate::binary::scan("usr/bin/app", &bin).expect("reads");
        let got: Vec<_> = pkgs.iter().map(|p| p.purl(None).to_string()).collect();
        assert_eq!(
            got,
            [
                "pkg:cargo/app@0.1.0",
                "pkg:cargo/smallvec@1.6.0",
                "pkg:cargo/time@0.1.43"
            ]
        );
    }

    #[test]
    fn broken_sections_are_errors_that_name_the_file() {
        let elf_with = |data: &[u8]| {
            crate::elf::synthetic_elf64(&[
                (".text", 0x40_0000, 5, &[0xc3; 8]),
                (SECTION, 0, 0, data),
            ])
        };
        let err = crate::binary::scan("bin/x", &elf_with(b"not zlib")).expect_err("bad zlib");
        assert!(
            err.to_string().starts_with("bin/x: .dep-v0: not zlib data"),
            "{err}"
        );
        let bin = synthetic_binary("{\"packages\": [ {\"name\": 1} ]}");
        let err = crate::binary::scan("bin/x", &bin).expect_err("bad json");
        assert!(
            err.to_string()
                .starts_with("bin/x: .dep-v0: invalid JSON at 1:"),
            "{err}"
        );
    }

    #[test]
    fn decompression_is_capped() {
        // A zlib bomb: 9 MiB of spaces before the document.
        let json = format!("{}{DEPS}", " ".repeat(9 << 20));
        let bin = synthetic_binary(&json);
        assert!(bin.len() < 100_000, "compressed {}", bin.len());
        let err = crate::binary::scan("bomb", &bin).expect_err("capped");
        assert!(err.to_string().contains("more than"), "{err}");
    }
}
