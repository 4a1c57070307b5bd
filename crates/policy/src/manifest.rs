//! Kubernetes manifests from files: multi-document YAML, JSON, and `kind: List`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::document::{yaml_error, LoadError};

/// One object read from a manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    /// `file` or `file#N` (1-based document or list item number when a file holds several).
    pub origin: String,
    /// The object.
    pub value: Value,
}

impl ManifestObject {
    /// `kind`, or empty.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// `metadata.name`, or empty.
    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.namespace`, or empty.
    pub fn namespace(&self) -> &str {
        self.value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Parses the text of one manifest file (`origin` names it in errors and results).
pub fn parse(text: &str, origin: &str) -> Result<Vec<ManifestObject>, LoadError> {
    let docs: Vec<Value> = if text.trim_start().starts_with('{') {
        vec![serde_json::from_str(text).map_err(|e| LoadError::Invalid {
            at: format!("{origin}:{}:{}", e.line(), e.column()),
            message: e.to_string(),
        })?]
    } else {
        serde_saphyr::from_multiple::<Value>(text).map_err(|e| yaml_error(origin, &e))?
    };
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        if doc.get("kind").and_then(Value::as_str) == Some("List")
            || doc
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"))
                && doc.get("items").is_some_and(Value::is_array)
        {
            if let Some(Value::Array(items)) = doc.get("items") {
                out.extend(items.iter().cloned());
            }
        } else {
            out.push(doc);
        }
    }
    let many = out.len() > 1;
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, value)| ManifestObject {
            origin: if many {
                format!("{origin}#{}", i + 1)
            } else {
                origin.to_string()
            },
            value,
        })
        .collect())
}

/// Reads manifest files; directories are walked for `*.yaml`, `*.yml` and `*.json` (sorted).
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<ManifestObject>, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| LoadError::Read {
            path: f.display().to_string(),
            source,
        })?;
        out.extend(parse(&text, &f.display().to_string())?);
    }
    Ok(out)
}

fn collect(p: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let read_err = |source| LoadError::Read {
        path: p.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(p).map_err(read_err)?;
    if !meta.is_dir() {
        files.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, files)?;
        } else if e
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        {
            files.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_and_lists() {
        let text = "kind: Pod\nmetadata: {name: a}\n---\n---\nkind: List\nitems:\n- {kind: Pod, metadata: {name: b}}\n- {kind: Pod, metadata: {name: c}}\n";
        let objs = parse(text, "m.yaml").unwrap();
        let names: Vec<&str> = objs.iter().map(ManifestObject::name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(objs[2].origin, "m.yaml#3");
    }

    #[test]
    fn errors_have_positions() {
        let err = parse("kind: Pod\nmetadata: [\n", "bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad.yaml:"), "{err}");
        let err = parse("{\"kind\": }", "bad.json").unwrap_err().to_string();
        assert!(err.starts_with("bad.json:1:"), "{err}");
    }
}

/// The decision on one manifest object.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedObject {
    /// Where it came from (`file` or `file#N`).
    pub origin: String,
    /// The engine's decision (operation CREATE, anonymous user).
    pub decision: crate::Decision,
}

/// Decides every object that carries a pod (Pods and workload resources) as a CREATE by an
/// anonymous user. Namespace objects among `objects` supply namespace labels; objects without a
/// namespace are in `default`.
pub fn check_objects(
    engine: &crate::Engine,
    objects: &[ManifestObject],
    now: time::OffsetDateTime,
) -> Vec<CheckedObject> {
    use std::collections::BTreeMap;
    let mut ns_labels: BTreeMap<String, crate::document::Labels> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.kind() == "Namespace") {
        let labels = o
            .value
            .get("metadata")
            .and_then(|m| <crate::pss::ObjectMeta as serde::Deserialize>::deserialize(m).ok())
            .map(|m| m.labels)
            .unwrap_or_default();
        ns_labels.insert(o.name().to_string(), labels);
    }
    let user = crate::UserInfo::default();
    let mut out = Vec::new();
    for o in objects {
        let kind = o.kind();
        let Some(_) = crate::workload::pod_pointer(kind) else {
            continue;
        };
        let namespace = match o.namespace() {
            "" => "default",
            ns => ns,
        };
        let resource = resource_of(kind);
        let req = crate::Request {
            operation: crate::Operation::Create,
            kind,
            resource: &resource,
            sub_resource: "",
            namespace,
            name: o.name(),
            user: &user,
            object: Some(&o.value),
            old_object: None,
            namespace_labels: ns_labels.get(namespace),
        };
        out.push(CheckedObject {
            origin: o.origin.clone(),
            decision: engine.evaluate(&req, now),
        });
    }
    out
}

/// The plural resource name of a pod-carrying kind (`Deployment` → `deployments`).
pub fn resource_of(kind: &str) -> String {
    format!("{}s", kind.to_lowercase())
}
