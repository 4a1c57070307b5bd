//! File-kind detection: by file name first, then by document content.

use std::path::Path;

use crate::node::Node;

/// The kind of a file, decided from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `Dockerfile`, `Containerfile`, `Dockerfile.*`, `*.Dockerfile`.
    Dockerfile,
    /// `*.yaml`, `*.yml`, `*.template`.
    Yaml,
    /// `*.json`.
    Json,
    /// `.env`, `.env.*`, `*.env`: scanned for secrets only.
    Env,
    /// Anything else (not scanned when found while walking a directory).
    Unknown,
}

/// Decides a file's kind from its name.
pub fn kind_by_name(path: &Path) -> FileKind {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return FileKind::Unknown;
    };
    let lower = name.to_ascii_lowercase();
    if lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile")
    {
        return FileKind::Dockerfile;
    }
    if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".template") {
        return FileKind::Yaml;
    }
    if lower.ends_with(".json") {
        return FileKind::Json;
    }
    if lower == ".env" || lower.starts_with(".env.") || lower.ends_with(".env") {
        return FileKind::Env;
    }
    FileKind::Unknown
}

/// What one parsed YAML/JSON document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// A Kubernetes object (`apiVersion` and `kind`).
    Kubernetes,
    /// A CloudFormation template (`AWSTemplateFormatVersion` or a `Resources` mapping of typed
    /// resources).
    CloudFormation,
    /// Something else.
    Other,
}

/// Decides what a document is from its top-level keys.
pub fn doc_kind(doc: &Node) -> DocKind {
    if !doc.is_map() {
        return DocKind::Other;
    }
    if doc.get("AWSTemplateFormatVersion").is_some() {
        return DocKind::CloudFormation;
    }
    if let Some(res) = doc.get("Resources") {
        if res.is_map() && res.entries().iter().any(|(_, r)| r.get("Type").is_some()) {
            return DocKind::CloudFormation;
        }
    }
    if doc.get("apiVersion").and_then(Node::as_str).is_some()
        && doc.get("kind").and_then(Node::as_str).is_some()
    {
        return DocKind::Kubernetes;
    }
    DocKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (n, k) in [
            ("Dockerfile", FileKind::Dockerfile),
            ("a/Dockerfile.alpine", FileKind::Dockerfile),
            ("android.Dockerfile", FileKind::Dockerfile),
            ("x.yml", FileKind::Yaml),
            ("x.template", FileKind::Yaml),
            ("x.json", FileKind::Json),
            (".env.production", FileKind::Env),
            ("README.md", FileKind::Unknown),
        ] {
            assert_eq!(kind_by_name(Path::new(n)), k, "{n}");
        }
    }
}
