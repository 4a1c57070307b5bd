//! Pod Security Standards (baseline and restricted, latest) through the policy crate's checks.

use mamori_core::Finding;
use mamori_policy::pss::{check_pod, Level, PodLike, Version};
use serde_json::{Map, Number, Value as Json};

use crate::node::{Node, Value};
use crate::rules::finding;

/// Converts a node to JSON, typing plain scalars as YAML 1.2 core does (bool, int, float).
pub(super) fn to_json(n: &Node, depth: u32) -> Json {
    if depth > 64 {
        return Json::Null;
    }
    match &n.value {
        Value::Null => Json::Null,
        Value::Scalar(s, quoted) => {
            if *quoted || n.tag.is_some() {
                return Json::String(s.clone());
            }
            match s.as_str() {
                "true" | "True" | "TRUE" => Json::Bool(true),
                "false" | "False" | "FALSE" => Json::Bool(false),
                _ => {
                    if let Ok(i) = s.parse::<i64>() {
                        Json::Number(i.into())
                    } else if let Some(f) = s.parse::<f64>().ok().and_then(Number::from_f64) {
                        Json::Number(f)
                    } else {
                        Json::String(s.clone())
                    }
                }
            }
        }
        Value::Seq(items) => Json::Array(items.iter().map(|i| to_json(i, depth + 1)).collect()),
        Value::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let key = k.scalar_text().unwrap_or_default().to_string();
                m.insert(key, to_json(v, depth + 1));
            }
            Json::Object(m)
        }
    }
}

/// Walks a JSON pointer (`/spec/containers/0/…`) relative to the pod through the node tree.
fn locate<'a>(meta: Option<&'a Node>, spec: &'a Node, pointer: &str) -> &'a Node {
    let mut parts = pointer.split('/').skip(1);
    let mut node = match parts.next() {
        Some("metadata") => match meta {
            Some(m) => m,
            None => return spec,
        },
        _ => spec,
    };
    for part in parts {
        let next = match &node.value {
            Value::Map(_) => node.get(part),
            Value::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

/// Checks a pod template against baseline and restricted (latest). Restricted findings leave out
/// what baseline already reported.
pub(super) fn check(
    path: &str,
    meta: Option<&Node>,
    spec: &Node,
    lbl: &str,
    out: &mut Vec<Finding>,
) {
    let mut pod = Map::new();
    if let Some(m) = meta {
        pod.insert("metadata".into(), to_json(m, 0));
    }
    pod.insert("spec".into(), to_json(spec, 0));
    let pod = match PodLike::from_value(&Json::Object(pod)) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(path, lbl, "pod security checks skipped: {e}");
            return;
        }
    };
    let baseline = check_pod(Level::Baseline, Version::Latest, &pod);
    for v in &baseline {
        let node = locate(meta, spec, &v.pointer);
        out.push(finding(
            "MK-K8S-040",
            path,
            node.pos,
            format!(
                "{lbl} violates baseline:latest {}: {}",
                v.check,
                v.summary()
            ),
        ));
    }
    for v in check_pod(Level::Restricted, Version::Latest, &pod) {
        if baseline
            .iter()
            .any(|b| b.check == v.check && b.pointer == v.pointer)
        {
            continue;
        }
        let node = locate(meta, spec, &v.pointer);
        out.push(finding(
            "MK-K8S-041",
            path,
            node.pos,
            format!(
                "{lbl} violates restricted:latest {}: {}",
                v.check,
                v.summary()
            ),
        ));
    }
}
