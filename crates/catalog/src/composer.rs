//! PHP Composer: `composer.lock` (`packages`, `packages-dev`) and
//! `vendor/composer/installed.json` (a list, or `{"packages": [...]}` since Composer 2).

use serde::Deserialize;

use crate::{CatalogError, CatalogPackage, PkgKind};

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Lock {
        #[serde(default)]
        packages: Vec<Entry>,
        #[serde(default, rename = "packages-dev")]
        packages_dev: Vec<Entry>,
    },
    List(Vec<Entry>),
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    version: String,
    #[serde(default)]
    license: Vec<String>,
}

/// Parses `composer.lock` or `installed.json`.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    // Parse once as a value for precise syntax errors, then shape it.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| CatalogError::json(path, &e))?;
    let doc: Doc = serde_json::from_value(value).map_err(|e| CatalogError::Malformed {
        path: path.to_string(),
        line: 1,
        reason: format!("not a composer lock or installed.json: {e}"),
    })?;
    let entries = match doc {
        Doc::Lock {
            packages,
            packages_dev,
        } => packages.into_iter().chain(packages_dev).collect(),
        Doc::List(l) => l,
    };
    Ok(entries
        .into_iter()
        .map(|e| {
            let mut p = match e.name.split_once('/') {
                Some((vendor, n)) => {
                    let mut p = CatalogPackage::new(PkgKind::Composer, n, e.version);
                    p.namespace = Some(vendor.to_string());
                    p
                }
                None => CatalogPackage::new(PkgKind::Composer, e.name, e.version),
            };
            p.licenses = e.license;
            p
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lock_and_installed() {
        let lock = br#"{"packages":[{"name":"guzzlehttp/guzzle","version":"7.4.0","license":["MIT"]}],"packages-dev":[{"name":"phpunit/phpunit","version":"9.5.0"}]}"#;
        let pkgs = parse("composer.lock", lock).expect("parses");
        assert_eq!(pkgs.len(), 2);
        assert_eq!(
            pkgs[0].purl(None).to_string(),
            "pkg:composer/guzzlehttp/guzzle@7.4.0"
        );
        let inst = br#"{"packages":[{"name":"a/b","version":"1.0.0"}]}"#;
        assert_eq!(
            parse("vendor/composer/installed.json", inst)
                .expect("parses")
                .len(),
            1
        );
        assert_eq!(
            parse("i.json", br#"[{"name":"a/b","version":"1"}]"#)
                .expect("parses")
                .len(),
            1
        );
        assert!(parse("c.lock", b"{\"packages\": 3}").is_err());
    }
}
