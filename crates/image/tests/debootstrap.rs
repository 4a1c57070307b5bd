//! A real Debian root file system made by `debootstrap --variant=minbase bookworm` (root and
//! network on the first run; cached in `target/debootstrap/` between runs), scanned as `dir:`
//! and compared with what Debian's own `dpkg-query` reads from the same database.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_catalog::PkgKind;
use mamori_image::{scan, ScanOptions, SourceRef};

const MIRROR: &str = "http://deb.debian.org/debian";

/// The cached minbase root, built once.
fn minbase(debootstrap: &Path) -> Option<PathBuf> {
    let cache = mamori_testkit::workspace_root().join("target/debootstrap");
    let root = cache.join("bookworm-minbase");
    if root.join(".mamori-complete").is_file() {
        return Some(root);
    }
    let tmp = cache.join(format!("bookworm-minbase.tmp{}", std::process::id()));
    let _ = std::fs::create_dir_all(&cache);
    let out = Command::new(debootstrap)
        .args(["--variant=minbase", "bookworm"])
        .arg(&tmp)
        .arg(MIRROR)
        .output();
    let built = match out {
        Ok(o) if o.status.success() => std::fs::write(tmp.join(".mamori-complete"), b"")
            .and_then(|()| {
                let _ = std::fs::remove_dir_all(&root);
                std::fs::rename(&tmp, &root)
            })
            .map_err(|e| e.to_string()),
        Ok(o) => Err(format!(
            "debootstrap failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Err(e) => Err(format!("cannot run debootstrap: {e}")),
    };
    match built {
        Ok(()) => Some(root),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                &format!("cannot build the bookworm minbase root from {MIRROR}: {e}"),
            );
            None
        }
    }
}

#[test]
fn debian_minbase_inventory_equals_dpkg_query() {
    if !mamori_testkit::require_root("debootstrap") {
        return;
    }
    let (Some(debootstrap), Some(dpkg_query)) = (
        mamori_testkit::tool("debootstrap"),
        mamori_testkit::tool("dpkg-query"),
    ) else {
        return;
    };
    let Some(root) = minbase(&debootstrap) else {
        return;
    };
    // What dpkg itself says is installed: name, version, source name, source version.
    let out = Command::new(dpkg_query)
        .arg(format!("--admindir={}", root.join("var/lib/dpkg").display()))
        .args([
            "-W",
            "-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ])
        .output()
        .expect("runs dpkg-query");
    assert!(out.status.success(), "dpkg-query failed");
    let want: BTreeSet<(String, String, String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("ii"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                f[4].to_string(),
            )
        })
        .collect();
    assert!(want.len() > 60, "{} packages", want.len());

    let src: SourceRef = format!("dir:{}", root.display()).parse().expect("ref");
    let inv = scan(&src, &ScanOptions::default()).expect("scans");
    let os = inv.os.as_ref().expect("os detected");
    assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", "12"));
    let got: BTreeSet<(String, String, String, String)> = inv
        .packages
        .iter()
        .filter(|p| p.kind == PkgKind::Dpkg)
        .map(|p| {
            let name = p.package.name.clone();
            let version = p.package.version.clone();
            (
                name.clone(),
                version.clone(),
                p.package.source_name.clone().unwrap_or(name),
                p.package.source_version.clone().unwrap_or(version),
            )
        })
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    let libc = inv
        .packages
        .iter()
        .find(|p| p.package.name == "libc6")
        .expect("libc6");
    let purl = libc.package.purl.as_deref().unwrap_or("");
    assert!(
        purl.starts_with(&format!("pkg:deb/debian/libc6@{}", libc.package.version))
            && purl.contains("distro=debian-12"),
        "{purl}"
    );
}
