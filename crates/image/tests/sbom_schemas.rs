//! CycloneDX 1.5 and SPDX 2.3 output checked by the formats' own published validators, fetched
//! at test time from package registries into `target/` (never committed):
//! - CycloneDX: the JSON schemas `bom-1.5`, `spdx` (license ids) and `jsf-0.82` that the
//!   CycloneDX project ships in its npm package `@cyclonedx/cyclonedx-library` (Apache-2.0),
//!   applied with the `jsonschema` crate, formats checked, no network at validation time;
//! - SPDX: the SPDX project's own validator `spdx-tools` (PyPI, Apache-2.0), which parses the
//!   JSON into its SPDX 2.3 model and applies the spec's rules (`validate_full_spdx_document`).
//!
//! The inventory has every kind of package mamori catalogs into an image with several layers.

#[path = "support/image_builder.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_image::sbom::{cyclonedx, spdx, SbomMeta};
use mamori_image::{scan, Inventory, ScanOptions};
use serde_json::{json, Value};
use support::*;

const CDX_PACKAGE: &str = "@cyclonedx/cyclonedx-library@10.3.0";
const SPDX_TOOLS: &str = "spdx-tools==0.8.5";

fn cache() -> PathBuf {
    mamori_testkit::workspace_root().join("target/sbom-validators")
}

fn inventory() -> (tempfile::TempDir, Inventory) {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = b"Package: bsdutils\nStatus: install ok installed\nArchitecture: amd64\n\
Source: util-linux (2.38.1-5+deb12u3)\nVersion: 1:2.38.1-5+deb12u3\nLicense: GPL-2.0\n\n\
Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n\n";
    let go = mamori_catalog::golang::synthetic_legacy_binary(
        "go1.16.15",
        "path\texample.com/t\nmod\texample.com/t\tv1.0.0\th1:x=\ndep\tgolang.org/x/net\tv0.1.0\th1:y=\n",
        8,
    );
    let rust = mamori_catalog::auditable::synthetic_binary(
        r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io"}]}"#,
    );
    // Executables under 1 KiB are not read; real ones never are that small.
    let (mut go, mut rust) = (go, rust);
    go.resize(4096, 0);
    rust.resize(4096, 0);
    let l1 = gz(tar(&[
        E::File("etc/os-release", 0o644, OS_RELEASE),
        E::File("var/lib/dpkg/status", 0o644, status),
    ]));
    let l2 = gz(tar(&[
        E::File(
            "app/node_modules/@types/node/package.json",
            0o644,
            br#"{"name":"@types/node","version":"20.1.0","license":"MIT"}"#,
        ),
        E::File(
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            0o644,
            b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n",
        ),
        E::File(
            "app/Cargo.lock",
            0o644,
            b"[[package]]\nname = \"serde\"\nversion = \"1.0.100\"\n",
        ),
        E::File("usr/local/bin/gotool", 0o755, &go),
        E::File("usr/local/bin/app", 0o755, &rust),
    ]));
    oci_layout(dir.path(), "v1", &[l1, l2], json!({}));
    let inv = scan(
        &format!("oci:{}:v1", dir.path().display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert!(inv.packages.len() >= 10, "{:?}", inv.packages);
    (dir, inv)
}

fn meta(inv: &Inventory) -> SbomMeta {
    SbomMeta::now(inv)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The CycloneDX schema folder, fetched with `npm pack` once.
fn cyclonedx_schemas() -> Option<PathBuf> {
    let dir = cache().join("cyclonedx-library");
    let schemas = dir.join("package/res/schema");
    if schemas.join("bom-1.5.SNAPSHOT.schema.json").is_file() {
        return Some(schemas);
    }
    let npm = mamori_testkit::tool("npm")?;
    let tmp = cache().join(format!("cyclonedx-library.tmp{}", std::process::id()));
    let fetched = std::fs::create_dir_all(&tmp)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            run(Command::new(npm)
                .args(["pack", "--silent", CDX_PACKAGE, "--pack-destination"])
                .arg(&tmp))
        })
        .and_then(|()| {
            let tgz = std::fs::read_dir(&tmp)
                .map_err(|e| e.to_string())?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "tgz"))
                .ok_or("npm pack wrote no .tgz")?;
            let file = std::fs::File::open(&tgz).map_err(|e| e.to_string())?;
            tar::Archive::new(flate2::read::GzDecoder::new(file))
                .unpack(&tmp)
                .map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &dir).map_err(|e| e.to_string())
        });
    match fetched {
        Ok(()) => Some(schemas),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                &format!("cannot fetch {CDX_PACKAGE} from the npm registry: {e}"),
            );
            None
        }
    }
}

/// Resolves the schema's references to the files of the npm package, never the network.
struct LocalSchemas(PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.path().as_str().rsplit('/').next().unwrap_or("");
        let text = std::fs::read(self.0.join(name))
            .map_err(|e| format!("{uri}: not among the packaged schemas: {e}"))?;
        Ok(serde_json::from_slice(&text)?)
    }
}

fn cyclonedx_validator(schemas: &Path) -> jsonschema::Validator {
    let text = std::fs::read(schemas.join("bom-1.5.SNAPSHOT.schema.json")).expect("schema");
    let schema: Value = serde_json::from_slice(&text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(LocalSchemas(schemas.to_path_buf()))
        .build(&schema)
        .expect("schema compiles")
}

fn violations(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn cyclonedx_is_valid_against_the_published_1_5_schema() {
    let Some(schemas) = cyclonedx_schemas() else {
        return;
    };
    let validator = cyclonedx_validator(&schemas);
    let (_d, inv) = inventory();
    let bom = cyclonedx::to_json(&inv, &meta(&inv));
    let errors = violations(&validator, &bom);
    assert!(errors.is_empty(), "CycloneDX 1.5 violations: {errors:#?}");
    // The validator is not vacuous: broken documents are refused.
    let mut bad = bom.clone();
    bad["components"][0]["type"] = json!("gadget");
    bad["serialNumber"] = json!("not-a-urn");
    assert_eq!(violations(&validator, &bad).len(), 2, "{bad}");
    let mut bad = bom;
    bad["components"][1]
        .as_object_mut()
        .expect("component")
        .remove("name");
    assert!(!violations(&validator, &bad).is_empty());
}

/// `spdx-tools` installed with pip into the cache once; returns its folder for PYTHONPATH.
fn spdx_tools() -> Option<PathBuf> {
    let dir = cache().join("spdx-tools");
    if dir.join("spdx_tools").is_dir() {
        return Some(dir);
    }
    let python = mamori_testkit::tool("python3")?;
    let tmp = cache().join(format!("spdx-tools.tmp{}", std::process::id()));
    let fetched = run(Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(&tmp)
        .arg(SPDX_TOOLS))
    .and_then(|()| std::fs::rename(&tmp, &dir).map_err(|e| e.to_string()));
    match fetched {
        Ok(()) => Some(dir),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            mamori_testkit::skip(
                mamori_testkit::REQUIRE_PRIVILEGED,
                &format!("cannot install {SPDX_TOOLS} from PyPI: {e}"),
            );
            None
        }
    }
}

const SPDX_CHECK: &str = r#"
import sys
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
try:
    doc = parse_file(sys.argv[1])
except Exception as e:
    print("parse error:", e)
    sys.exit(1)
msgs = validate_full_spdx_document(doc, "SPDX-2.3")
for m in msgs:
    print(m.validation_message)
sys.exit(1 if msgs else 0)
"#;

/// Runs the SPDX validator on a document; `Err` with its messages when invalid.
fn spdx_validate(tools: &Path, doc: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("doc.spdx.json");
    std::fs::write(&f, serde_json::to_vec_pretty(doc).expect("json")).expect("write");
    let out = Command::new("python3")
        .args(["-c", SPDX_CHECK])
        .arg(&f)
        .env("PYTHONPATH", tools)
        .output()
        .expect("python3 runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn spdx_is_valid_for_the_spdx_projects_2_3_validator() {
    let Some(tools) = spdx_tools() else {
        return;
    };
    let (_d, inv) = inventory();
    let doc = spdx::to_json(&inv, &meta(&inv));
    if let Err(e) = spdx_validate(&tools, &doc) {
        panic!("SPDX 2.3 violations:\n{e}");
    }
    // Not vacuous: a relationship to an element that does not exist, and a bad SPDXID.
    let mut bad = doc.clone();
    bad["relationships"][0]["relatedSpdxElement"] = json!("SPDXRef-nowhere");
    let err = spdx_validate(&tools, &bad).expect_err("dangling relationship");
    assert!(err.contains("SPDXRef-nowhere"), "{err}");
    let mut bad = doc;
    bad["packages"][0]["SPDXID"] = json!("not an id");
    assert!(spdx_validate(&tools, &bad).is_err());
}
