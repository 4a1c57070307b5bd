//! CycloneDX 1.5 and SPDX 2.3 output: the structure each spec requires, and golden files.

#[path = "support/image_builder.rs"]
mod support;

use std::collections::HashSet;

use mamori_image::sbom::{cyclonedx, spdx, SbomMeta};
use mamori_image::{scan, Inventory, ScanOptions};
use serde_json::{json, Value};
use support::*;

fn inventory() -> (tempfile::TempDir, Inventory) {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = b"Package: bsdutils\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5+deb12u3)\nVersion: 1:2.38.1-5+deb12u3\n\n\
Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n\n";
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
            "app/Cargo.lock",
            0o644,
            b"[[package]]\nname = \"serde\"\nversion = \"1.0.100\"\n",
        ),
    ]));
    oci_layout(dir.path(), "v1", &[l1, l2], json!({}));
    let inv = scan(
        &format!("oci:{}:v1", dir.path().display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan");
    (dir, inv)
}

fn meta() -> SbomMeta {
    SbomMeta {
        timestamp: "2026-01-01T00:00:00Z".into(),
        uuid: "00000000-0000-4000-8000-000000000000".into(),
        tool_version: "0.0.0-test".into(),
    }
}

/// The source path differs per run (temp dir); golden files use a fixed one.
fn stable(mut v: Value, inv: &Inventory) -> Value {
    let text = serde_json::to_string(&v)
        .expect("json")
        .replace(&inv.source, "oci:LAYOUT:v1");
    v = serde_json::from_str(&text).expect("json");
    v
}

#[test]
fn cyclonedx_structure_and_golden() {
    let (_d, inv) = inventory();
    let bom = cyclonedx::to_json(&inv, &meta());
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert!(bom["serialNumber"]
        .as_str()
        .is_some_and(|s| s.starts_with("urn:uuid:") && s.len() == 45));
    let comps = bom["components"].as_array().expect("components");
    assert_eq!(comps.len(), 1 + 4, "os + 4 packages");
    let mut refs = HashSet::new();
    for c in comps {
        assert!(
            matches!(c["type"].as_str(), Some("library" | "operating-system")),
            "{c}"
        );
        assert!(c["name"].is_string(), "{c}");
        assert!(
            refs.insert(c["bom-ref"].as_str().expect("bom-ref").to_string()),
            "duplicate bom-ref {c}"
        );
        if c["type"] == "library" {
            assert!(
                c["purl"].as_str().is_some_and(|p| p.starts_with("pkg:")),
                "{c}"
            );
        }
    }
    let root = bom["metadata"]["component"]["bom-ref"]
        .as_str()
        .expect("root ref");
    for d in bom["dependencies"].as_array().expect("dependencies") {
        assert_eq!(d["ref"], root);
        for r in d["dependsOn"].as_array().expect("dependsOn") {
            assert!(refs.contains(r.as_str().expect("ref")), "dangling {r}");
        }
    }
    insta::assert_json_snapshot!("cyclonedx", stable(bom, &inv));
}

#[test]
fn spdx_structure_and_golden() {
    let (_d, inv) = inventory();
    let doc = spdx::to_json(&inv, &meta());
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
    assert!(doc["documentNamespace"]
        .as_str()
        .is_some_and(|n| n.starts_with("https://") && !n.contains('#')));
    assert!(doc["creationInfo"]["created"].is_string());
    assert!(doc["creationInfo"]["creators"][0]
        .as_str()
        .is_some_and(|c| c.starts_with("Tool: ")));
    let mut ids = HashSet::from(["SPDXRef-DOCUMENT".to_string()]);
    for p in doc["packages"].as_array().expect("packages") {
        let id = p["SPDXID"].as_str().expect("id");
        assert!(
            id.starts_with("SPDXRef-")
                && id[8..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "bad id {id}"
        );
        assert!(ids.insert(id.to_string()), "duplicate {id}");
        for k in ["name", "downloadLocation"] {
            assert!(p[k].is_string(), "{k} missing in {p}");
        }
        assert_eq!(p["filesAnalyzed"], false);
    }
    assert_eq!(
        ids.len(),
        1 + 1 + 1 + 4,
        "document + image + os + 4 packages"
    );
    for r in doc["relationships"].as_array().expect("relationships") {
        for k in ["spdxElementId", "relatedSpdxElement"] {
            assert!(ids.contains(r[k].as_str().expect("id")), "dangling {r}");
        }
    }
    insta::assert_json_snapshot!("spdx", stable(doc, &inv));
}
