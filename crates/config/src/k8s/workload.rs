//! Checks on a pod spec and its containers, reached through any workload's pod template.

use mamori_core::Finding;

use crate::node::Node;
use crate::rules::finding;

/// What the cross-file checks need to know about a workload.
#[derive(Debug, Default)]
pub(super) struct WorkloadFacts {
    /// A container sets `AWS_ACCESS_KEY_ID` or `AWS_SECRET_ACCESS_KEY` in its environment.
    pub static_aws_keys: bool,
}

/// The pod spec of a workload kind, if `kind` is one.
pub(super) fn pod_spec<'a>(kind: &str, obj: &'a Node) -> Option<&'a Node> {
    let spec = match kind {
        "Pod" => obj.get("spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController"
        | "DeploymentConfig" => obj.path(&["spec", "template", "spec"]),
        "CronJob" => obj.path(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "PodTemplate" => obj.path(&["template", "spec"]),
        _ => None,
    }?;
    spec.is_map().then_some(spec)
}

/// The pod template's metadata of a workload kind (annotations carry AppArmor profiles).
pub(super) fn template_metadata<'a>(kind: &str, obj: &'a Node) -> Option<&'a Node> {
    match kind {
        "CronJob" => obj.path(&["spec", "jobTemplate", "spec", "template", "metadata"]),
        "PodTemplate" => obj.path(&["template", "metadata"]),
        _ => obj.path(&["spec", "template", "metadata"]),
    }
}

fn image_checks(path: &str, c: &Node, cname: &str, out: &mut Vec<Finding>) {
    let Some(img) = c.get("image") else { return };
    let Some(image) = img.as_str() else { return };
    if image.contains("{{") || image.starts_with('$') {
        return;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    if !digest && (tag.is_none() || tag == Some("latest")) {
        out.push(finding(
            "MK-K8S-005",
            path,
            img.pos,
            format!(
                "container {cname} image {image} uses {}",
                if tag.is_none() {
                    "no tag"
                } else {
                    "the latest tag"
                }
            ),
        ));
    }
    if !digest {
        out.push(finding(
            "MK-K8S-006",
            path,
            img.pos,
            format!("container {cname} image {image} is not pinned by digest"),
        ));
    }
}

fn env_checks(
    path: &str,
    c: &Node,
    cname: &str,
    facts: &mut WorkloadFacts,
    out: &mut Vec<Finding>,
) {
    for e in c.get("env").map(Node::items).unwrap_or(&[]) {
        let Some(name) = e.get("name").and_then(Node::as_str) else {
            continue;
        };
        if matches!(name, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY") {
            facts.static_aws_keys = true;
        }
        // valueFrom (secretKeyRef, configMapKeyRef, fieldRef) is the right way: nothing to flag.
        let Some(v) = e.get("value") else { continue };
        let Some(value) = v.scalar_text() else {
            continue;
        };
        if let Some(kind) = mamori_secrets::check_assignment(name, value) {
            out.push(finding(
                "MK-K8S-009",
                path,
                v.pos,
                format!(
                    "container {cname} env {name} holds a {} ({})",
                    kind.describe(),
                    mamori_secrets::redact(value)
                ),
            ));
        }
    }
}

/// Checks a pod spec; `kind` decides whether probes are expected.
pub(super) fn check_pod(
    path: &str,
    kind: &str,
    spec: &Node,
    lbl: &str,
    out: &mut Vec<Finding>,
) -> WorkloadFacts {
    let mut facts = WorkloadFacts::default();
    let batch = matches!(kind, "Job" | "CronJob");
    let groups = [
        ("containers", true),
        ("initContainers", false),
        ("ephemeralContainers", false),
    ];
    for (group, main) in groups {
        for c in spec.get(group).map(Node::items).unwrap_or(&[]) {
            let cname = format!(
                "{lbl}:{}",
                c.get("name").and_then(Node::as_str).unwrap_or("?")
            );
            image_checks(path, c, &cname, out);
            env_checks(path, c, &cname, &mut facts, out);
            if !main {
                continue;
            }
            let res = |a: &str, b: &str| c.path(&["resources", a, b]).is_some();
            let missing_limits: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|r| !res("limits", r))
                .collect();
            if !missing_limits.is_empty() {
                out.push(finding(
                    "MK-K8S-001",
                    path,
                    c.pos,
                    format!(
                        "container {cname} has no {} limit",
                        missing_limits.join("/")
                    ),
                ));
            }
            let missing_req: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|r| !res("requests", r) && !res("limits", r))
                .collect();
            if !missing_req.is_empty() {
                out.push(finding(
                    "MK-K8S-002",
                    path,
                    c.pos,
                    format!("container {cname} has no {} request", missing_req.join("/")),
                ));
            }
            if !batch {
                if c.get("livenessProbe").is_none() {
                    out.push(finding(
                        "MK-K8S-003",
                        path,
                        c.pos,
                        format!("container {cname} has no livenessProbe"),
                    ));
                }
                if c.get("readinessProbe").is_none() {
                    out.push(finding(
                        "MK-K8S-004",
                        path,
                        c.pos,
                        format!("container {cname} has no readinessProbe"),
                    ));
                }
            }
            let ro = c
                .path(&["securityContext", "readOnlyRootFilesystem"])
                .and_then(Node::as_bool);
            if ro != Some(true) {
                out.push(finding(
                    "MK-K8S-007",
                    path,
                    c.pos,
                    format!("container {cname} does not set readOnlyRootFilesystem: true"),
                ));
            }
        }
    }
    facts
}
