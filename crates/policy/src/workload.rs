//! Workload resources and where their pod template is.

use serde_json::Value;

/// Where the pod (template) of an object of `kind` is, as a JSON pointer prefix (`""` for a
/// Pod itself), or `None` when the kind carries no pod.
pub fn pod_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "",
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => "/spec/template",
        "CronJob" => "/spec/jobTemplate/spec/template",
        "PodTemplate" => "/template",
        _ => return None,
    })
}

/// The pod (or pod template) of `object` of `kind` and its pointer prefix. `None` when the kind
/// carries no pod or the template is missing (an absent template is an empty one).
pub fn pod_of<'a>(kind: &str, object: &'a Value) -> Option<(&'a Value, &'static str)> {
    let prefix = pod_pointer(kind)?;
    if prefix.is_empty() {
        return Some((object, prefix));
    }
    object.pointer(prefix).map(|v| (v, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_found() {
        let cj = serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}});
        let (t, p) = pod_of("CronJob", &cj).unwrap();
        assert_eq!(p, "/spec/jobTemplate/spec/template");
        assert!(t.get("spec").is_some());
        assert!(pod_of("ConfigMap", &cj).is_none());
        assert!(pod_of("Deployment", &serde_json::json!({})).is_none());
        assert_eq!(pod_pointer("PodTemplate"), Some("/template"));
    }
}
