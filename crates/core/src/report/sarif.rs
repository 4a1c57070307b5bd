//! SARIF 2.1.0 output (OASIS Static Analysis Results Interchange Format).
//!
//! One run; the driver lists every rule that has a result, with its default level and a
//! `security-severity` property (the 0–10 score code-scanning services sort by). Each result
//! carries `ruleId`, `ruleIndex`, `level`, `message.text` and one location: a physical location
//! (file path, or the image reference for image-wide findings) with a region when a line is known,
//! plus a logical location for Kubernetes objects and JSON pointers.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Map, Value};

use super::Report;
use crate::finding::{Finding, Reference, Target};
use crate::severity::Severity;

/// The SARIF version written.
pub const VERSION: &str = "2.1.0";
/// The schema URI written in `$schema`.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Writes `report` as a SARIF 2.1.0 log, pretty-printed, followed by a newline.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let log = to_value(report);
    serde_json::to_writer_pretty(&mut *out, &log).map_err(io::Error::other)?;
    writeln!(out)
}

/// The SARIF log for `report` as a JSON value.
pub fn to_value(report: &Report) -> Value {
    // Rules in first-seen order, by id; the most severe occurrence sets the default level.
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules: Vec<&Finding> = Vec::new();
    for f in &report.findings {
        match index.get(f.rule_id.as_str()) {
            Some(&i) => {
                if f.severity > rules[i].severity {
                    rules[i] = f;
                }
            }
            None => {
                index.insert(&f.rule_id, rules.len());
                rules.push(f);
            }
        }
    }
    let rules_json: Vec<Value> = rules.iter().map(|f| rule(f)).collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, index[f.rule_id.as_str()]))
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": report.tool.name,
                    "version": report.tool.version,
                    "semanticVersion": report.tool.version,
                    "informationUri": "https://github.com/mamori-dev/mamori",
                    "rules": rules_json,
                }
            },
            "results": results,
        }]
    })
}

fn rule(f: &Finding) -> Value {
    let mut tags: Vec<String> = vec!["security".into(), format!("nist-800-190/{}", f.area)];
    tags.extend(f.nist.iter().map(|id| format!("nist-800-190/{id}")));
    tags.extend(f.references.iter().filter_map(|r| match r {
        Reference::Cis(id) => Some(format!("cis/{id}")),
        _ => None,
    }));
    let mut rule = json!({
        "id": f.rule_id,
        "name": pascal_case(&f.title),
        "shortDescription": { "text": f.title },
        "defaultConfiguration": { "level": f.severity.sarif_level() },
        "properties": {
            "tags": tags,
            "security-severity": security_severity(f.severity),
        },
    });
    let help = f.remediation.clone().unwrap_or_else(|| f.title.clone());
    rule["help"] = json!({ "text": help });
    if let Some(url) = f.references.iter().find_map(|r| match r {
        Reference::Url(u) => Some(u.clone()),
        _ => None,
    }) {
        rule["helpUri"] = json!(url);
    }
    rule
}

fn result(f: &Finding, rule_index: usize) -> Value {
    let text = if f.message.is_empty() {
        f.title.clone()
    } else {
        f.message.clone()
    };
    let mut location = Map::new();
    if let Some(uri) = artifact_uri(f) {
        let mut physical = json!({ "artifactLocation": { "uri": uri } });
        if let Some(line) = f.location.line.filter(|l| *l >= 1) {
            let mut region = json!({ "startLine": line });
            if let Some(col) = f.location.column.filter(|c| *c >= 1) {
                region["startColumn"] = json!(col);
            }
            physical["region"] = region;
        }
        location.insert("physicalLocation".into(), physical);
    }
    let mut logical = Vec::new();
    if let Target::Object { kind, .. } = &f.target {
        logical.push(json!({
            "fullyQualifiedName": f.target.display_name(),
            "kind": kind.to_ascii_lowercase(),
        }));
    }
    if let Some(ptr) = &f.location.pointer {
        logical.push(json!({ "fullyQualifiedName": ptr, "kind": "member" }));
    }
    if !logical.is_empty() {
        location.insert("logicalLocations".into(), Value::Array(logical));
    }
    let mut res = json!({
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": f.severity.sarif_level(),
        "message": { "text": text },
    });
    if !location.is_empty() {
        res["locations"] = json!([Value::Object(location)]);
    }
    if let Some(layer) = &f.location.layer {
        res["properties"] = json!({ "layer": layer });
    }
    res
}

/// The artifact a finding is in: a file path (inside an image when both are known), else the
/// scanned file or image.
fn artifact_uri(f: &Finding) -> Option<String> {
    let path = f.location.path.as_deref().or(match &f.target {
        Target::File { path } => Some(path.as_str()),
        Target::Image { reference } => Some(reference.as_str()),
        _ => None,
    })?;
    Some(uri_encode(path.trim_start_matches("./")))
}

/// Percent-encodes what may not appear in a URI reference, keeping `/` and `:`.
fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info | Severity::Unknown => "0.0",
    }
}

fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
