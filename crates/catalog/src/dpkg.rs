//! dpkg databases: `var/lib/dpkg/status` and the one-stanza files of `var/lib/dpkg/status.d/`.
//!
//! Stanzas are deb822 paragraphs. A stanza whose `Status` says `deinstall` or `purge` is not an
//! installed package and is skipped. `Source: NAME (VERSION)` gives the source package; without
//! it the source is the binary package itself.

use crate::{CatalogError, CatalogPackage, PkgKind};

/// Parses a dpkg status file. Non-UTF-8 bytes are replaced (descriptions are free text);
/// stanzas without `Package` or `Version` are skipped with a warning.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for stanza in deb822(&text) {
        let get = |k: &str| {
            stanza
                .fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim())
        };
        if let Some(status) = get("Status") {
            if status
                .split_whitespace()
                .any(|w| w == "deinstall" || w == "purge" || w == "not-installed")
            {
                continue;
            }
        }
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            tracing::warn!(
                "{path}:{}: dpkg stanza without Package or Version skipped",
                stanza.line
            );
            continue;
        };
        let mut pkg = CatalogPackage::new(PkgKind::Dpkg, name, version);
        pkg.arch = get("Architecture").map(str::to_string);
        if let Some(src) = get("Source") {
            let (sname, sver) = match src.split_once('(') {
                Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim())),
                None => (src, None),
            };
            if !sname.is_empty() {
                pkg.source_name = Some(sname.to_string());
            }
            pkg.source_version = sver.filter(|v| !v.is_empty()).map(str::to_string);
        }
        if pkg.source_name.is_some() && pkg.source_version.is_none() {
            pkg.source_version = Some(pkg.version.clone());
        }
        out.push(pkg);
    }
    Ok(out)
}

/// One deb822 paragraph: its first line number and its fields (continuation lines joined).
pub(crate) struct Stanza<'a> {
    pub(crate) line: usize,
    pub(crate) fields: Vec<(&'a str, String)>,
}

pub(crate) fn deb822(text: &str) -> Vec<Stanza<'_>> {
    let mut out = Vec::new();
    let mut cur: Option<Stanza<'_>> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if let Some(s) = cur.take() {
                out.push(s);
            }
            continue;
        }
        let stanza = cur.get_or_insert_with(|| Stanza {
            line: i + 1,
            fields: Vec::new(),
        });
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = stanza.fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            stanza.fields.push((k.trim(), v.trim().to_string()));
        }
    }
    if let Some(s) = cur {
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: bsdutils
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Source: util-linux (2.38.1-5+deb12u3)
Version: 1:2.38.1-5+deb12u3
Description: basic utilities from 4.4BSD-Lite
 This package contains the bare minimum of BSD utilities.
 .
 More text.

Package: removed
Status: deinstall ok config-files
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: zlib1g
Status: hold ok installed
Source: zlib
Version: 1:1.2.13.dfsg-1
Architecture: amd64

Package: broken
Status: install ok installed
";

    #[test]
    fn parses_status_with_sources_and_skips_removed() {
        let pkgs = parse("var/lib/dpkg/status", STATUS.as_bytes()).expect("parses");
        let names: Vec<_> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bsdutils", "libc6", "zlib1g"]);
        assert_eq!(pkgs[0].version, "1:2.38.1-5+deb12u3");
        assert_eq!(pkgs[0].source_name.as_deref(), Some("util-linux"));
        assert_eq!(pkgs[0].source_version.as_deref(), Some("2.38.1-5+deb12u3"));
        assert_eq!(pkgs[1].source_name, None);
        assert_eq!(pkgs[2].source_name.as_deref(), Some("zlib"));
        assert_eq!(pkgs[2].source_version.as_deref(), Some("1:1.2.13.dfsg-1"));
        assert_eq!(pkgs[2].arch.as_deref(), Some("amd64"));
    }

    #[test]
    fn distroless_stanza_without_status_is_installed() {
        let s = "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
        let pkgs = parse("var/lib/dpkg/status.d/base", s.as_bytes()).expect("parses");
        assert_eq!(pkgs.len(), 1);
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            &b"\xff\xfe:::\n\n\n:"[..],
            b"Package",
            b"\n\n",
            b" continuation first",
        ] {
            let _ = parse("x", input);
        }
    }
}
