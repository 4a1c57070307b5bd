//! Kubernetes manifest checks: workloads through their pod template, RBAC, Services,
//! Namespaces, NetworkPolicies, and the EKS checklist across all files of a scan.

mod netpol;
mod pss;
mod workload;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mamori_core::Finding;

use crate::node::{Node, Pos};
use crate::rules::finding;

/// Facts gathered over every file of a scan for the cross-file checks.
#[derive(Debug, Default)]
pub struct Facts {
    /// First workload seen per namespace (`""` = namespace not set in the manifest).
    workloads: BTreeMap<String, (String, Pos, String)>,
    /// Namespaces with a policy for all pods that denies egress to the instance metadata address.
    imds_blocked: BTreeSet<String>,
    /// Namespaces with an egress rule that allows the instance metadata address.
    imds_allowed: BTreeSet<String>,
    /// Service accounts: (namespace, name) → (has IRSA role annotation, automount disabled).
    service_accounts: HashMap<(String, String), (bool, bool)>,
    /// Workloads with static AWS keys in env: (namespace, service account, path, pos, object).
    static_aws: Vec<(String, String, String, Pos, String)>,
    /// Pods that do not disable token automount: (namespace, service account, path, pos, object).
    automount: Vec<(String, String, String, Pos, String)>,
}

/// The `kind/name` label of an object for messages.
fn label(obj: &Node) -> String {
    let kind = obj.get("kind").and_then(Node::as_str).unwrap_or("?");
    let name = obj
        .path(&["metadata", "name"])
        .and_then(Node::as_str)
        .unwrap_or("?");
    format!("{kind}/{name}")
}

fn namespace(obj: &Node) -> String {
    obj.path(&["metadata", "namespace"])
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string()
}

/// Checks one parsed document (an object, a `kind: List` or a typed `*List`).
pub fn check_document(path: &str, doc: &Node, facts: &mut Facts, out: &mut Vec<Finding>) {
    check_depth(path, doc, facts, out, 0);
}

fn check_depth(path: &str, doc: &Node, facts: &mut Facts, out: &mut Vec<Finding>, depth: u32) {
    let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
    if kind.ends_with("List") && depth < 4 {
        if let Some(items) = doc.get("items") {
            for item in items.items() {
                check_depth(path, item, facts, out, depth + 1);
            }
            return;
        }
    }
    check_object(path, doc, kind, facts, out);
}

/// Kinds that live in a namespace and commonly carry workloads or config.
const NAMESPACED: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
    "DeploymentConfig",
    "PodTemplate",
    "Service",
    "ConfigMap",
    "Secret",
    "Ingress",
    "Role",
    "RoleBinding",
    "ServiceAccount",
    "NetworkPolicy",
    "PersistentVolumeClaim",
];

fn check_object(path: &str, obj: &Node, kind: &str, facts: &mut Facts, out: &mut Vec<Finding>) {
    let ns = namespace(obj);
    let lbl = label(obj);
    if ns == "default" && NAMESPACED.contains(&kind) {
        let pos = obj
            .path(&["metadata", "namespace"])
            .map_or(obj.pos, |n| n.pos);
        out.push(finding(
            "MK-K8S-010",
            path,
            pos,
            format!("{lbl} is in the default namespace"),
        ));
    }
    match kind {
        "Service" => {
            if let Some(t) = obj.path(&["spec", "type"]) {
                if matches!(t.as_str(), Some("NodePort" | "LoadBalancer")) {
                    let ty = t.as_str().unwrap_or("");
                    out.push(finding(
                        "MK-K8S-011",
                        path,
                        t.pos,
                        format!("{lbl} is exposed as {ty}"),
                    ));
                }
            }
        }
        "Role" | "ClusterRole" => rbac_rules(path, obj, &lbl, out),
        "RoleBinding" | "ClusterRoleBinding" => {
            if let Some(n) = obj.path(&["roleRef", "name"]) {
                if n.as_str() == Some("cluster-admin") {
                    out.push(finding(
                        "MK-K8S-021",
                        path,
                        n.pos,
                        format!("{lbl} binds cluster-admin"),
                    ));
                }
            }
        }
        "Namespace" => {
            let enforce = obj.path(&["metadata", "labels", "pod-security.kubernetes.io/enforce"]);
            if enforce.is_none() {
                out.push(finding(
                    "MK-K8S-032",
                    path,
                    obj.pos,
                    format!("{lbl} has no pod-security.kubernetes.io/enforce label"),
                ));
            }
        }
        "NetworkPolicy" => {
            let (blocks, allows) = netpol::imds_effect(obj);
            if blocks {
                facts.imds_blocked.insert(ns.clone());
            }
            if allows {
                facts.imds_allowed.insert(ns.clone());
            }
        }
        "ServiceAccount" => {
            let name = obj
                .path(&["metadata", "name"])
                .and_then(Node::as_str)
                .unwrap_or("");
            let irsa = obj
                .path(&["metadata", "annotations", "eks.amazonaws.com/role-arn"])
                .is_some();
            let no_mount = obj
                .get("automountServiceAccountToken")
                .and_then(Node::as_bool)
                == Some(false);
            facts
                .service_accounts
                .insert((ns.clone(), name.to_string()), (irsa, no_mount));
        }
        _ => {}
    }
    if let Some(spec) = workload::pod_spec(kind, obj) {
        facts
            .workloads
            .entry(ns.clone())
            .or_insert_with(|| (path.to_string(), obj.pos, lbl.clone()));
        let w = workload::check_pod(path, kind, spec, &lbl, out);
        let meta = if kind == "Pod" {
            obj.get("metadata")
        } else {
            workload::template_metadata(kind, obj)
        };
        pss::check(path, meta, spec, &lbl, out);
        let sa = spec
            .get("serviceAccountName")
            .or_else(|| spec.get("serviceAccount"))
            .and_then(Node::as_str)
            .unwrap_or("default")
            .to_string();
        if w.static_aws_keys {
            facts.static_aws.push((
                ns.clone(),
                sa.clone(),
                path.to_string(),
                spec.pos,
                lbl.clone(),
            ));
        }
        if spec
            .get("automountServiceAccountToken")
            .and_then(Node::as_bool)
            != Some(false)
        {
            facts
                .automount
                .push((ns, sa, path.to_string(), spec.pos, lbl));
        }
    }
}

fn strings(n: Option<&Node>) -> Vec<&str> {
    n.map(|n| n.items().iter().filter_map(Node::as_str).collect())
        .unwrap_or_default()
}

fn rbac_rules(path: &str, obj: &Node, lbl: &str, out: &mut Vec<Finding>) {
    for rule in obj.get("rules").map(Node::items).unwrap_or(&[]) {
        let verbs = strings(rule.get("verbs"));
        let resources = strings(rule.get("resources"));
        let groups = strings(rule.get("apiGroups"));
        let named = !strings(rule.get("resourceNames")).is_empty();
        if verbs.contains(&"*") || resources.contains(&"*") || groups.contains(&"*") {
            out.push(finding(
                "MK-K8S-020",
                path,
                rule.pos,
                format!(
                    "{lbl} rule uses * in {}",
                    [
                        ("verbs", &verbs),
                        ("resources", &resources),
                        ("apiGroups", &groups)
                    ]
                    .iter()
                    .filter(|(_, v)| v.contains(&"*"))
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
                ),
            ));
        }
        let risky: Vec<&str> = verbs
            .iter()
            .copied()
            .filter(|v| matches!(*v, "escalate" | "bind" | "impersonate"))
            .collect();
        if !risky.is_empty() {
            out.push(finding(
                "MK-K8S-022",
                path,
                rule.pos,
                format!("{lbl} grants {}", risky.join(", ")),
            ));
        }
        let core = groups.is_empty() || groups.contains(&"") || groups.contains(&"*");
        let reads = verbs
            .iter()
            .any(|v| matches!(*v, "get" | "list" | "watch" | "*"));
        if core && (resources.contains(&"secrets") || resources.contains(&"*")) && reads && !named {
            out.push(finding(
                "MK-K8S-023",
                path,
                rule.pos,
                format!("{lbl} can read all secrets in scope"),
            ));
        }
    }
}

impl Facts {
    /// Runs the cross-file checks once every file has been read.
    pub fn finish(&mut self, out: &mut Vec<Finding>) {
        for (ns, (path, pos, lbl)) in &self.workloads {
            if !self.imds_blocked.contains(ns) || self.imds_allowed.contains(ns) {
                let shown = if ns.is_empty() { "(unset)" } else { ns };
                out.push(finding(
                    "MK-K8S-030",
                    path,
                    *pos,
                    format!("namespace {shown} runs workloads (first: {lbl}) but no NetworkPolicy for all its pods blocks egress to 169.254.169.254/32"),
                ));
            }
        }
        for (ns, sa, path, pos, lbl) in &self.static_aws {
            let irsa = self
                .service_accounts
                .get(&(ns.clone(), sa.clone()))
                .is_some_and(|(irsa, _)| *irsa);
            let how = if irsa {
                "even though its service account has an IRSA role"
            } else {
                "and its service account has no IRSA role annotation"
            };
            out.push(finding(
                "MK-K8S-031",
                path,
                *pos,
                format!("{lbl} sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY {how} (service account {sa})"),
            ));
        }
        for (ns, sa, path, pos, lbl) in &self.automount {
            let disabled = self
                .service_accounts
                .get(&(ns.clone(), sa.clone()))
                .is_some_and(|(_, off)| *off);
            if !disabled {
                out.push(finding(
                    "MK-K8S-008",
                    path,
                    *pos,
                    format!("{lbl} mounts the token of service account {sa} automatically"),
                ));
            }
        }
    }
}
