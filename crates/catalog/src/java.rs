//! Java archives (jar, war, ear): Maven coordinates from `META-INF/maven/**/pom.properties`,
//! else from `META-INF/MANIFEST.MF` and the file name; nested archives (`WEB-INF/lib/*.jar`,
//! Spring Boot `BOOT-INF/lib/*.jar`) are read recursively, in memory, within bounds.

use std::io::{Cursor, Read};

use crate::{CatalogError, CatalogPackage, PkgKind};

/// Deepest nesting of archives that is followed.
pub const MAX_DEPTH: usize = 4;
/// Largest zip entry (uncompressed) that is read.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// Most entries read from one archive.
pub const MAX_ENTRIES: usize = 200_000;

/// Parses a Java archive held in memory.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let mut out = Vec::new();
    let mut budget = MAX_ENTRY_BYTES * 8;
    walk(path, bytes, 0, &mut out, &mut budget)?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(
    path: &str,
    bytes: &[u8],
    depth: usize,
    out: &mut Vec<CatalogPackage>,
    budget: &mut u64,
) -> Result<(), CatalogError> {
    let zerr = |e: zip::result::ZipError| CatalogError::Zip {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
    if zip.len() > MAX_ENTRIES {
        return Err(CatalogError::Zip {
            path: path.to_string(),
            reason: format!(
                "{} entries, more than the limit of {MAX_ENTRIES}",
                zip.len()
            ),
        });
    }
    let mut poms = Vec::new();
    let mut manifest = None;
    let mut nested = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(zerr)?;
        let name = f.name().to_string();
        let lower = name.to_ascii_lowercase();
        let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
        let is_manifest = name == "META-INF/MANIFEST.MF";
        let is_nested = depth < MAX_DEPTH
            && (lower.ends_with(".jar") || lower.ends_with(".war") || lower.ends_with(".ear"));
        if !(is_pom || is_manifest || is_nested) {
            continue;
        }
        if f.size() > MAX_ENTRY_BYTES || f.size() > *budget {
            tracing::warn!("{path}!{name}: {} bytes, over the limit; skipped", f.size());
            continue;
        }
        let mut data = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(0).min(1 << 20));
        (&mut f)
            .take(MAX_ENTRY_BYTES.min(*budget))
            .read_to_end(&mut data)
            .map_err(|source| CatalogError::Io {
                path: format!("{path}!{name}"),
                source,
            })?;
        *budget = budget.saturating_sub(data.len() as u64);
        if is_pom {
            poms.push(data);
        } else if is_manifest {
            manifest = Some(data);
        } else {
            nested.push((name, data));
        }
    }
    let before = out.len();
    for pom in &poms {
        if let Some(p) = from_pom(&String::from_utf8_lossy(pom)) {
            out.push(p);
        }
    }
    if out.len() == before {
        if let Some(p) = from_manifest(path, manifest.as_deref()) {
            out.push(p);
        }
    }
    for (name, data) in nested {
        let inner = format!("{path}!{name}");
        if let Err(e) = walk(&inner, &data, depth + 1, out, budget) {
            tracing::warn!("{e}");
        }
    }
    Ok(())
}

fn props(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn from_pom(text: &str) -> Option<CatalogPackage> {
    let (mut g, mut a, mut v) = (None, None, None);
    for (k, val) in props(text) {
        match k {
            "groupId" => g = Some(val),
            "artifactId" => a = Some(val),
            "version" => v = Some(val),
            _ => {}
        }
    }
    let mut p = CatalogPackage::new(PkgKind::Maven, a?, v?);
    p.namespace = g.map(str::to_string);
    Some(p)
}

fn from_manifest(path: &str, manifest: Option<&[u8]>) -> Option<CatalogPackage> {
    let text = manifest.map(String::from_utf8_lossy).unwrap_or_default();
    let get = |key: &str| {
        props(&text)
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    let file = path.rsplit(['/', '!']).next().unwrap_or(path);
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    // `name-1.2.3` → (`name`, `1.2.3`): split at the last '-' followed by a digit.
    let from_name = stem
        .match_indices('-')
        .rfind(|(i, _)| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|(i, _)| (stem[..i].to_string(), stem[i + 1..].to_string()));
    let version = get("Implementation-Version")
        .or_else(|| get("Bundle-Version"))
        .or_else(|| from_name.as_ref().map(|(_, v)| v.clone()))?;
    let name = from_name
        .map(|(n, _)| n)
        .or_else(|| get("Implementation-Title"))
        .unwrap_or_else(|| stem.to_string());
    let mut p = CatalogPackage::new(PkgKind::Maven, name, version);
    p.namespace = get("Implementation-Vendor-Id").or_else(|| {
        get("Automatic-Module-Name").and_then(|m| m.rsplit_once('.').map(|(g, _)| g.to_string()))
    });
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn pom_properties_manifest_and_nested() {
        let inner = jar(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"#Generated\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        )]);
        let no_pom = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nImplementation-Version: 3.2.1\n",
        )]);
        let outer = jar(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"groupId=com.example\nartifactId=app\nversion=1.0.0\n",
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &inner),
            ("BOOT-INF/lib/commons-util-3.2.1.jar", &no_pom),
        ]);
        let pkgs = parse("app/app.jar", &outer).expect("parses");
        let got: Vec<_> = pkgs.iter().map(|p| p.purl(None).to_string()).collect();
        assert_eq!(
            got,
            [
                "pkg:maven/commons-util@3.2.1",
                "pkg:maven/com.example/app@1.0.0",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ]
        );
    }

    #[test]
    fn broken_zip_is_an_error_not_a_panic() {
        let err = parse("x.jar", b"PK\x03\x04garbage").expect_err("not a zip");
        assert!(
            err.to_string().starts_with("x.jar: invalid zip archive"),
            "{err}"
        );
    }
}
