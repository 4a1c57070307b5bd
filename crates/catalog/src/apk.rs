//! Alpine's `lib/apk/db/installed`: stanzas of `K:value` lines separated by blank lines.
//!
//! `P` name, `V` version, `A` architecture, `o` origin (the source package), `L` license.

use crate::{CatalogError, CatalogPackage, PkgKind};

/// Parses an apk installed database; stanzas without `P` or `V` are skipped with a warning.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut cur: Vec<(char, &str)> = Vec::new();
    let mut start = 1;
    let mut flush = |fields: &mut Vec<(char, &str)>, line: usize| {
        if fields.is_empty() {
            return;
        }
        let get = |k: char| fields.iter().find(|(c, _)| *c == k).map(|(_, v)| *v);
        match (get('P'), get('V')) {
            (Some(name), Some(version)) => {
                let mut p = CatalogPackage::new(PkgKind::Apk, name, version);
                p.arch = get('A').map(str::to_string);
                p.source_name = get('o').filter(|o| !o.is_empty()).map(str::to_string);
                if p.source_name.is_some() {
                    p.source_version = Some(p.version.clone());
                }
                if let Some(l) = get('L') {
                    p.licenses.push(l.to_string());
                }
                out.push(p);
            }
            _ => tracing::warn!("{path}:{line}: apk stanza without P or V skipped"),
        }
        fields.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            flush(&mut cur, start);
            start = i + 2;
            continue;
        }
        let mut chars = line.chars();
        if let (Some(k), Some(':')) = (chars.next(), chars.next()) {
            cur.push((k, &line[k.len_utf8() + 1..]));
        }
    }
    flush(&mut cur, start);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_installed_db() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\n\
P:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\nV:1.0\n";
        let pkgs = parse("lib/apk/db/installed", db.as_bytes()).expect("parses");
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].name, "musl");
        assert_eq!(pkgs[0].licenses, ["MIT"]);
        assert_eq!(pkgs[1].source_name.as_deref(), Some("openssl"));
        assert_eq!(pkgs[1].version, "3.1.4-r5");
    }

    #[test]
    fn garbage_never_panics() {
        for input in [&b"\xc3"[..], b"P:", b"\xe2\x82:x\n", b":::"] {
            let _ = parse("x", input);
        }
    }
}
