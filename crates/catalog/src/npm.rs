//! npm: `package.json` of installed packages under `node_modules`, and `package-lock.json`
//! (lockfile v1 `dependencies`, v2/v3 `packages`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{CatalogError, CatalogPackage, PkgKind};

#[derive(Deserialize)]
struct PackageJson {
    name: Option<String>,
    version: Option<String>,
    license: Option<serde_json::Value>,
}

/// Parses an installed `package.json`; `Ok(None)` when it has no name or version (bundler hints
/// and test fixtures inside packages often have neither).
pub fn parse_package_json(
    path: &str,
    bytes: &[u8],
) -> Result<Option<CatalogPackage>, CatalogError> {
    let pj: PackageJson =
        serde_json::from_slice(bytes).map_err(|e| CatalogError::json(path, &e))?;
    let (Some(name), Some(version)) = (pj.name, pj.version) else {
        return Ok(None);
    };
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let mut p = npm_package(&name, &version);
    if let Some(serde_json::Value::String(l)) = pj.license {
        p.licenses.push(l);
    }
    Ok(Some(p))
}

fn npm_package(name: &str, version: &str) -> CatalogPackage {
    let mut p = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => {
            let mut p = CatalogPackage::new(PkgKind::Npm, n, version);
            p.namespace = Some(scope.to_string());
            p
        }
        _ => CatalogPackage::new(PkgKind::Npm, name, version),
    };
    p.version = version.to_string();
    p
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    packages: BTreeMap<String, LockPackage>,
    #[serde(default)]
    dependencies: BTreeMap<String, LockDep>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    link: bool,
}

#[derive(Deserialize)]
struct LockDep {
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, LockDep>,
}

/// Parses a `package-lock.json` (v1, v2 or v3). The root project and linked workspace packages
/// are not dependencies and are left out.
pub fn parse_lock(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let lock: Lock = serde_json::from_slice(bytes).map_err(|e| CatalogError::json(path, &e))?;
    let mut out = Vec::new();
    if !lock.packages.is_empty() {
        for (key, p) in &lock.packages {
            if key.is_empty() || p.link {
                continue;
            }
            let Some(idx) = key.rfind("node_modules/") else {
                continue;
            };
            let name = p
                .name
                .as_deref()
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            if let Some(v) = &p.version {
                out.push(npm_package(name, v));
            }
        }
    } else {
        fn walk(deps: &BTreeMap<String, LockDep>, out: &mut Vec<CatalogPackage>) {
            for (name, d) in deps {
                if let Some(v) = &d.version {
                    if !v.starts_with("file:") {
                        out.push(npm_package(name, v));
                    }
                }
                walk(&d.dependencies, out);
            }
        }
        walk(&lock.dependencies, &mut out);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json() {
        let p = parse_package_json(
            "node_modules/@types/node/package.json",
            br#"{"name":"@types/node","version":"20.1.0","license":"MIT"}"#,
        )
        .expect("parses")
        .expect("package");
        assert_eq!(p.namespace.as_deref(), Some("@types"));
        assert_eq!(p.name, "node");
        assert!(parse_package_json("x", br#"{"private":true}"#)
            .expect("ok")
            .is_none());
        let err = parse_package_json("a/package.json", b"{\n  \"name\": }").expect_err("bad json");
        assert!(err.to_string().starts_with("a/package.json:2:"), "{err}");
    }

    #[test]
    fn lock_v3_and_v1() {
        let v3 = br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},
            "node_modules/lodash":{"version":"4.17.20"},
            "node_modules/a/node_modules/@s/b":{"version":"1.0.0"},
            "node_modules/ws":{"link":true}}}"#;
        let pkgs = parse_lock("package-lock.json", v3).expect("parses");
        let names: Vec<_> = pkgs
            .iter()
            .map(|p| (p.full_name(), p.version.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("lodash".to_string(), "4.17.20".to_string()),
                ("@s/b".into(), "1.0.0".into())
            ]
        );
        let v1 = br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}"#;
        assert_eq!(parse_lock("p", v1).expect("parses").len(), 2);
    }
}
