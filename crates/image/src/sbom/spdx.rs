//! SPDX 2.3 JSON.

use serde_json::{json, Value};

use super::{image_name, SbomMeta};
use crate::Inventory;

/// SPDX ids allow letters, digits, `.` and `-`.
fn spdx_id(prefix: &str, s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{prefix}-{clean}")
}

/// Writes the inventory as an SPDX 2.3 JSON document: the document DESCRIBES the image package
/// (purpose CONTAINER), which CONTAINS the OS package and every package; packages carry their
/// purl as a `PACKAGE-MANAGER` external reference. Licenses are `NOASSERTION` (declared license
/// strings are free text, not checked SPDX expressions).
pub fn to_json(inv: &Inventory, meta: &SbomMeta) -> Value {
    let name = image_name(inv);
    let image_id = "SPDXRef-Image".to_string();
    let na = "NOASSERTION";
    let mut packages = vec![json!({
        "name": name,
        "SPDXID": image_id,
        "versionInfo": inv.image_id.clone().unwrap_or_else(|| na.to_string()),
        "downloadLocation": na,
        "filesAnalyzed": false,
        "licenseConcluded": na,
        "licenseDeclared": na,
        "copyrightText": na,
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": image_id,
    })];
    if let Some(os) = &inv.os {
        let id = spdx_id("OperatingSystem", &os.id);
        packages.push(json!({
            "name": os.id,
            "SPDXID": id,
            "versionInfo": os.version_id,
            "downloadLocation": na,
            "filesAnalyzed": false,
            "licenseConcluded": na,
            "licenseDeclared": na,
            "copyrightText": na,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }));
        rels.push(json!({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let id = spdx_id(
            "Package",
            &format!("{}-{}-{i}", p.kind.as_str(), p.package.name),
        );
        let mut pkg = json!({
            "name": p.package.name,
            "SPDXID": id,
            "versionInfo": p.package.version,
            "downloadLocation": na,
            "filesAnalyzed": false,
            "licenseConcluded": na,
            "licenseDeclared": na,
            "copyrightText": na,
            "primaryPackagePurpose": "LIBRARY",
        });
        if let Some(purl) = &p.package.purl {
            pkg["externalRefs"] = json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }]);
        }
        let mut comment = Vec::new();
        if let Some(path) = &p.package.path {
            comment.push(format!("path: {path}"));
        }
        if let Some(layer) = &p.package.layer {
            comment.push(format!("layer: {layer}"));
        }
        if !comment.is_empty() {
            pkg["comment"] = Value::String(comment.join("; "));
        }
        if let Some(s) = &p.package.source_name {
            pkg["sourceInfo"] = Value::String(
                format!(
                    "built from source package {s} {}",
                    p.package.source_version.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_string(),
            );
        }
        packages.push(pkg);
        rels.push(json!({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
    }
    let ns_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://mamori.invalid/spdx/{ns_name}-{}", meta.uuid),
        "creationInfo": {
            "created": meta.timestamp,
            "creators": [format!("Tool: mamori-{}", meta.tool_version)],
        },
        "packages": packages,
        "relationships": rels,
    })
}
