//! Rust: `Cargo.lock` (`[[package]]` tables with `name` and `version`).

use serde::Deserialize;

use crate::{CatalogError, CatalogPackage, PkgKind};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
}

/// Parses a `Cargo.lock`.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let text = crate::utf8(path, bytes)?;
    let lock: Lock = toml::from_str(text).map_err(|e| CatalogError::Toml {
        path: path.to_string(),
        reason: e.to_string().trim().replace('\n', " "),
    })?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| CatalogPackage::new(PkgKind::Cargo, p.name, p.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lock() {
        let l = "version = 3\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.100\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n";
        let pkgs = parse("Cargo.lock", l.as_bytes()).expect("parses");
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].purl(None).to_string(), "pkg:cargo/serde@1.0.100");
        let err = parse("Cargo.lock", b"[[package]]\nname = ").expect_err("bad toml");
        assert!(
            err.to_string().contains("Cargo.lock: invalid TOML"),
            "{err}"
        );
    }
}
