//! CloudFormation / CDK output checks (YAML with short-form intrinsics, or JSON).
//!
//! Intrinsic functions (`!Ref`, `{"Fn::GetAtt": …}`) are values whose content is unknown
//! statically: checks only judge literal values, and say so when they cannot.

mod cdk;
mod resources;

use mamori_core::Finding;

use crate::node::{Node, Pos};
use crate::rules::finding;
use crate::{Diagnostic, DiagnosticLevel};

/// Type prefixes the checks know how to read; anything else is skipped with a warning.
const KNOWN_PREFIXES: &[&str] = &["AWS::", "Custom::", "Alexa::"];

/// Ids listed in a resource's `Metadata.mamori.skip` (strings or `{id: …}` mappings).
fn skipped_ids(res: &Node) -> Vec<String> {
    res.path(&["Metadata", "mamori", "skip"])
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| {
            n.as_str()
                .or_else(|| n.get("id").and_then(Node::as_str))
                .map(String::from)
        })
        .collect()
}

/// Checks one template document.
pub fn check_template(
    path: &str,
    doc: &Node,
    out: &mut Vec<Finding>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Some(params) = doc.get("Parameters") {
        for (name, p) in params.entries() {
            let Some(pname) = name.as_str() else { continue };
            let no_echo = p.get("NoEcho").and_then(Node::as_bool) == Some(true);
            let ty = p.get("Type").and_then(Node::as_str).unwrap_or("");
            // A choice among allowed values (`Enabled`/`Disabled`) is a switch, not a secret.
            let choice = p.get("AllowedValues").is_some();
            if !no_echo
                && !choice
                && !ty.starts_with("AWS::SSM::")
                && mamori_secrets::is_secret_name(pname)
            {
                out.push(finding(
                    "MK-CFN-013",
                    path,
                    name.pos,
                    format!("parameter {pname} looks secret but has no NoEcho: true"),
                ));
            }
        }
    }
    let Some(resources) = doc.get("Resources") else {
        return;
    };
    for (id_node, res) in resources.entries() {
        let id = id_node.as_str().unwrap_or("?");
        let ty_node = res.get("Type");
        let Some(ty) = ty_node.and_then(Node::as_str) else {
            diagnostics.push(Diagnostic {
                level: DiagnosticLevel::Warning,
                path: path.to_string(),
                pos: Some(ty_node.map_or(id_node.pos, |n| n.pos)),
                message: format!(
                    "resource {id}: Type is not a string (a pre-processor construct?), resource skipped"
                ),
            });
            continue;
        };
        if !KNOWN_PREFIXES.iter().any(|p| ty.starts_with(p)) {
            diagnostics.push(Diagnostic {
                level: DiagnosticLevel::Warning,
                path: path.to_string(),
                pos: ty_node.map(|n| n.pos),
                message: format!("resource {id}: unknown type {ty}, resource skipped"),
            });
            continue;
        }
        let mut found = Vec::new();
        let ctx = resources::Ctx {
            path,
            id,
            ty,
            res,
            props: res.get("Properties"),
            params: doc.get("Parameters"),
        };
        resources::check(&ctx, &mut found);
        if ty == "Custom::AWSCDK-EKS-KubernetesResource" {
            cdk::manifests(path, id, ctx.props, &mut found);
        }
        let skip = skipped_ids(res);
        out.extend(found.into_iter().filter(|f| !skip.contains(&f.rule_id)));
    }
}

/// Builds a finding for resource `id`.
fn at(id: &str, path: &str, pos: Pos, rid: &str, message: String) -> Finding {
    finding(id, path, pos, format!("{rid}: {message}"))
}
