//! CycloneDX 1.5 JSON.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::{image_name, SbomMeta};
use crate::Inventory;

/// Writes the inventory as a CycloneDX 1.5 JSON BOM: the image is `metadata.component`
/// (type `container`), the OS is an `operating-system` component, every package a `library`
/// component with its purl, and properties naming the layer and file it came from.
pub fn to_json(inv: &Inventory, meta: &SbomMeta) -> Value {
    let root_ref = format!("image:{}", inv.image_id.as_deref().unwrap_or(&inv.source));
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(os) = &inv.os {
        let r = format!("os:{}@{}", os.id, os.version_id);
        components.push(json!({
            "bom-ref": r,
            "type": "operating-system",
            "name": os.id,
            "version": os.version_id,
        }));
        refs.push(r);
    }
    let mut seen = HashSet::new();
    for (i, p) in inv.packages.iter().enumerate() {
        let purl = p.package.purl.clone().unwrap_or_default();
        let bom_ref = if seen.insert(purl.clone()) {
            purl.clone()
        } else {
            format!("{purl}#{i}")
        };
        let mut c = json!({
            "bom-ref": bom_ref,
            "type": "library",
            "name": p.package.name,
            "version": p.package.version,
            "purl": purl,
        });
        if !p.licenses.is_empty() {
            c["licenses"] = Value::Array(
                p.licenses
                    .iter()
                    .map(|l| json!({"license": {"name": l}}))
                    .collect(),
            );
        }
        let mut props = vec![json!({"name": "mamori:package:type", "value": p.kind.as_str()})];
        if let Some(l) = &p.package.layer {
            props.push(json!({"name": "mamori:layer:digest", "value": l}));
        }
        if let Some(path) = &p.package.path {
            props.push(json!({"name": "mamori:file:path", "value": path}));
        }
        if let Some(s) = &p.package.source_name {
            props.push(json!({"name": "mamori:package:source-name", "value": s}));
        }
        if let Some(s) = &p.package.source_version {
            props.push(json!({"name": "mamori:package:source-version", "value": s}));
        }
        c["properties"] = Value::Array(props);
        refs.push(bom_ref);
        components.push(c);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", meta.uuid),
        "version": 1,
        "metadata": {
            "timestamp": meta.timestamp,
            "tools": {"components": [{"type": "application", "name": "mamori", "version": meta.tool_version}]},
            "component": {
                "bom-ref": root_ref,
                "type": "container",
                "name": image_name(inv),
            },
        },
        "components": components,
        "dependencies": [{"ref": root_ref, "dependsOn": refs}],
    })
}
