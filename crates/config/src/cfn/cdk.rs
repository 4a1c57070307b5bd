//! Kubernetes manifests that the CDK EKS construct applies through its
//! `Custom::AWSCDK-EKS-KubernetesResource` (`cluster.addManifest`, Helm-less add-ons, aws-auth):
//! the `Manifest` property is a JSON array in a string, or an `Fn::Join` of such strings around
//! tokens. It is rendered (tokens become a placeholder inside their JSON string), read, and
//! checked like any manifest; every finding points at the `Manifest` property.

use mamori_core::Finding;

use super::resources::rendered_with;
use crate::node::Node;
use crate::{json, k8s, Limits};

/// What a token (Ref, Fn::GetAtt, Fn::ImportValue …) becomes in the rendered manifest.
const TOKEN: &str = "CDK-TOKEN";

/// Checks the manifests of one `Custom::AWSCDK-EKS-KubernetesResource`.
pub(super) fn manifests(path: &str, id: &str, props: Option<&Node>, out: &mut Vec<Finding>) {
    let Some(m) = props.and_then(|p| p.get("Manifest")) else {
        return;
    };
    let Some(text) = m
        .as_str()
        .map(String::from)
        .or_else(|| rendered_with(m, TOKEN))
    else {
        return;
    };
    let Ok(doc) = json::read_json(&text, &Limits::default()) else {
        return;
    };
    // Facts of their own: the manifests' cross-object checks (service accounts, network
    // policies) are judged within the resource, whose inner positions mean nothing in the file.
    let mut facts = k8s::Facts::default();
    let mut found = Vec::new();
    for obj in doc.items() {
        k8s::check_document(path, obj, &mut facts, &mut found);
    }
    facts.finish(&mut found);
    for mut f in found {
        f.location.line = Some(m.pos.line);
        f.location.column = Some(m.pos.col);
        f.message = format!("{id}: manifest: {}", f.message);
        out.push(f);
    }
}
