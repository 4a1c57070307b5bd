//! Python distributions: wheel `*.dist-info/METADATA` and egg `*.egg-info/PKG-INFO` files.
//!
//! Both are RFC 822 style headers (core metadata); the body after the first blank line is the
//! long description and is ignored.

use crate::{CatalogError, CatalogPackage, PkgKind};

/// Parses core metadata; `Ok(None)` when `Name` or `Version` is missing.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Option<CatalogPackage>, CatalogError> {
    let text = String::from_utf8_lossy(bytes);
    let (mut name, mut version, mut license) = (None, None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" if name.is_none() => name = Some(v.to_string()),
            "version" if version.is_none() => version = Some(v.to_string()),
            "license" if license.is_none() && !v.is_empty() && v != "UNKNOWN" => {
                license = Some(v.to_string())
            }
            "license-expression" => license = Some(v.to_string()),
            _ => {}
        }
    }
    match (name, version) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => {
            let mut p = CatalogPackage::new(PkgKind::Python, n, v);
            p.licenses.extend(license);
            Ok(Some(p))
        }
        _ => {
            tracing::warn!("{path}: Python metadata without Name or Version skipped");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata() {
        let m = "Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\nLicense: Apache 2.0\n\
Requires-Dist: idna\n\nName: not-this\n";
        let p = parse("x/requests-2.25.0.dist-info/METADATA", m.as_bytes())
            .expect("parses")
            .expect("a package");
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("requests", "2.25.0")
        );
        assert_eq!(p.licenses, ["Apache 2.0"]);
        assert!(parse("x", b"Metadata-Version: 2.1\nName: x\n")
            .expect("ok")
            .is_none());
    }
}
