//! Ruby gems: the installed `specifications/*.gemspec` files RubyGems writes, e.g.
//! `s.name = "rake".freeze` and `s.version = "13.0.6".freeze`.

use crate::{CatalogError, CatalogPackage, PkgKind};

/// Parses an installed gemspec; `Ok(None)` when name or version cannot be found.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Option<CatalogPackage>, CatalogError> {
    let text = String::from_utf8_lossy(bytes);
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    for line in text.lines() {
        let line = line.trim();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let attr = lhs.trim().rsplit('.').next().unwrap_or("").trim();
        match attr {
            "name" if name.is_none() => name = first_quoted(rhs),
            "version" if version.is_none() => version = first_quoted(rhs),
            "licenses" | "license" if licenses.is_empty() => {
                let mut rest = rhs;
                while let Some(q) = first_quoted(rest) {
                    let skip = rest
                        .find(q.as_str())
                        .map_or(rest.len(), |i| i + q.len() + 1);
                    licenses.push(q);
                    rest = rest.get(skip..).unwrap_or("");
                }
            }
            _ => {}
        }
    }
    match (name, version) {
        (Some(n), Some(v)) => {
            let mut p = CatalogPackage::new(PkgKind::Gem, n, v);
            p.licenses = licenses;
            Ok(Some(p))
        }
        _ => {
            tracing::warn!("{path}: gemspec without name or version skipped");
            Ok(None)
        }
    }
}

fn first_quoted(s: &str) -> Option<String> {
    let start = s.find(['"', '\''])?;
    let quote = s[start..].chars().next()?;
    let rest = &s[start + 1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gemspec() {
        let g = "# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.licenses = [\"MIT\".freeze, 'Ruby']\n  s.summary = \"x = 1\"\nend\n";
        let p = parse("specifications/rake-13.0.6.gemspec", g.as_bytes())
            .expect("ok")
            .expect("pkg");
        assert_eq!((p.name.as_str(), p.version.as_str()), ("rake", "13.0.6"));
        assert_eq!(p.licenses, ["MIT", "Ruby"]);
        assert_eq!(p.purl(None).to_string(), "pkg:gem/rake@13.0.6");
        assert!(parse("x", b"s.name = 'x'").expect("ok").is_none());
    }
}
