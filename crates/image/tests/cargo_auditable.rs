//! A Rust binary built by the real `cargo auditable` (installed from crates.io into
//! `target/cargo-auditable` once and cached), placed into an image layer and scanned.
//!
//! The test writes a two-crate workspace into a temp folder (a binary and a path dependency, no
//! registry dependencies, so the build itself needs no network), builds it with
//! `cargo auditable build --offline`, runs the binary to prove it is real, and checks that the
//! scanner lists both crates with their versions and purls. Without cargo, or when crates.io
//! cannot be reached to install cargo-auditable the first time, the test prints `SKIPPED:`
//! (a failure under `MAMORI_REQUIRE_PRIVILEGED=1`, as for the other tool-based tests).

#[path = "support/image_builder.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_image::{scan, ScanOptions, SourceRef};
use serde_json::json;
use support::*;

/// The cargo-auditable release the test installs (the format was checked against it).
const CARGO_AUDITABLE: &str = "0.7.7";

fn cargo() -> Option<PathBuf> {
    // `cargo test` names the cargo that runs it; fall back to PATH.
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| mamori_testkit::tool("cargo"))
}

fn output(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The folder holding `cargo-auditable`, installed once into `target/cargo-auditable`.
fn cargo_auditable(cargo: &Path) -> Option<PathBuf> {
    let root = mamori_testkit::workspace_root().join("target/cargo-auditable");
    let bin = root.join("bin");
    if bin.join("cargo-auditable").is_file() {
        return Some(bin);
    }
    let installed = output(
        Command::new(cargo)
            .args(["install", "cargo-auditable", "--locked", "--version"])
            .arg(CARGO_AUDITABLE)
            .arg("--root")
            .arg(&root)
            .arg("--target-dir")
            .arg(root.join("build"))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS"),
    );
    let _ = std::fs::remove_dir_all(root.join("build"));
    match installed {
        Ok(_) if bin.join("cargo-auditable").is_file() => Some(bin),
        Ok(_) => {
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                "cargo install cargo-auditable left no binary",
            );
            None
        }
        Err(e) => {
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                &format!("cannot install cargo-auditable {CARGO_AUDITABLE} from crates.io: {e}"),
            );
            None
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, text).expect("writes");
}

/// A binary crate `audit-probe` 1.4.2 using a path dependency `probe-helper` 0.3.1.
fn write_project(dir: &Path) {
    write(
        &dir.join("Cargo.toml"),
        r#"[package]
name = "audit-probe"
version = "1.4.2"
edition = "2021"

[dependencies]
probe-helper = { path = "helper", version = "0.3.1" }

[workspace]
"#,
    );
    write(
        &dir.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", probe_helper::greeting());\n}\n",
    );
    write(
        &dir.join("helper/Cargo.toml"),
        "[package]\nname = \"probe-helper\"\nversion = \"0.3.1\"\nedition = \"2021\"\n",
    );
    write(
        &dir.join("helper/src/lib.rs"),
        "/// Says hello.\npub fn greeting() -> &'static str {\n    \"audited hello\"\n}\n",
    );
}

#[test]
fn binary_built_by_cargo_auditable_lists_its_crates() {
    let Some(cargo) = cargo() else {
        return;
    };
    let Some(bin_dir) = cargo_auditable(&cargo) else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let project = work.path().join("probe");
    write_project(&project);
    let path = std::env::join_paths(
        std::iter::once(bin_dir.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .expect("joins PATH");
    let built = output(
        Command::new(&cargo)
            .args(["auditable", "build", "--offline", "--quiet"])
            .current_dir(&project)
            .env("PATH", path)
            .env("CARGO_TARGET_DIR", work.path().join("target"))
            .env_remove("RUSTFLAGS"),
    );
    if let Err(e) = built {
        panic!("cargo auditable build: {e}");
    }
    let exe = work.path().join("target/debug/audit-probe");
    let said = output(&mut Command::new(&exe)).expect("the built binary runs");
    assert_eq!(String::from_utf8_lossy(&said).trim(), "audited hello");
    let binary = std::fs::read(&exe).expect("reads the binary");

    // Plain layer (no gzip): the binary is several MiB, gzip would only slow the test.
    let layout = tempfile::tempdir().expect("tempdir");
    let layer = plain(tar(&[E::File("usr/local/bin/audit-probe", 0o755, &binary)]));
    oci_layout(layout.path(), "t", &[layer], json!({}));
    let src: SourceRef = format!("oci:{}:t", layout.path().display())
        .parse()
        .expect("ref");
    let inv = scan(&src, &ScanOptions::default()).expect("scans");
    let mut found: Vec<(String, String, String, String)> = inv
        .packages
        .iter()
        .map(|p| {
            (
                p.package.name.clone(),
                p.package.version.clone(),
                p.package.purl.clone().unwrap_or_default(),
                p.package.path.clone().unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    let at = "usr/local/bin/audit-probe".to_string();
    assert_eq!(
        found,
        vec![
            (
                "audit-probe".into(),
                "1.4.2".into(),
                "pkg:cargo/audit-probe@1.4.2".into(),
                at.clone()
            ),
            (
                "probe-helper".into(),
                "0.3.1".into(),
                "pkg:cargo/probe-helper@0.3.1".into(),
                at
            ),
        ],
        "warnings: {:?}",
        inv.warnings
    );
}
