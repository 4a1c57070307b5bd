//! `admission.k8s.io/v1` AdmissionReview: decoding a request, deciding it, encoding the response.
//!
//! This part is synchronous and pure so that tests, the fuzz target and benchmarks call it
//! without a server.

use std::collections::BTreeMap;

use mamori_policy::{Decision, Engine, Operation, Request, UserInfo};

use crate::namespaces::NamespaceLabels;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// The request could not be decoded as an AdmissionReview (answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON, or not shaped like an AdmissionReview.
    #[error("malformed AdmissionReview: {0}")]
    Malformed(String),
    /// `apiVersion`/`kind` are not an AdmissionReview this server answers.
    #[error("unsupported {0}: expected apiVersion admission.k8s.io/v1 (or v1beta1) and kind AdmissionReview")]
    Unsupported(String),
    /// The review has no `request`.
    #[error("AdmissionReview has no request")]
    NoRequest,
    /// `request.operation` is not CREATE, UPDATE, DELETE or CONNECT.
    #[error("unknown operation {0:?}")]
    Operation(String),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    request: Option<RequestIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Gvk {
    kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Gvr {
    resource: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserIn {
    username: String,
    groups: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn {
    uid: String,
    #[serde(default)]
    kind: Gvk,
    #[serde(default)]
    resource: Gvr,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    operation: String,
    #[serde(default)]
    user_info: UserIn,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
}

/// The response part of an AdmissionReview.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResponse {
    /// Echo of `request.uid`.
    pub uid: String,
    /// Whether the request is allowed.
    pub allowed: bool,
    /// Status on denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Warnings for the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Audit annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}

/// `metav1.Status` as webhooks return it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// HTTP status code for the client (403 denied, 400 undecodable object).
    pub code: u16,
    /// `Forbidden` or `BadRequest`.
    pub reason: String,
    /// The message shown to the user.
    pub message: String,
}

/// A decided review: the decision and the encoded response document.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The engine's decision.
    pub decision: Decision,
    /// The AdmissionReview response document to send (JSON).
    pub body: Vec<u8>,
}

impl Reviewed {
    /// The response document as a JSON value (tests, tools).
    pub fn response(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The whole response document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'a str,
    kind: &'static str,
    response: ReviewResponse,
}

/// Longest warning sent (the API server may truncate warnings over 256 characters).
const MAX_WARNING: usize = 1024;

/// Decodes an AdmissionReview from `body`, decides it with `engine` at `now` and builds the
/// response. Namespace labels are unknown (see [`review_with`]).
pub fn review(engine: &Engine, body: &[u8], now: OffsetDateTime) -> Result<Reviewed, ReviewError> {
    review_with(engine, body, now, None)
}

/// Same as [`review`], with namespace labels looked up in `namespaces` (when given).
pub fn review_with(
    engine: &Engine,
    body: &[u8],
    now: OffsetDateTime,
    namespaces: Option<&dyn NamespaceLabels>,
) -> Result<Reviewed, ReviewError> {
    let input: ReviewIn =
        serde_json::from_slice(body).map_err(|e| ReviewError::Malformed(e.to_string()))?;
    if input.kind != "AdmissionReview"
        || !matches!(
            input.api_version.as_str(),
            "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
        )
    {
        return Err(ReviewError::Unsupported(format!(
            "apiVersion {:?} kind {:?}",
            input.api_version, input.kind
        )));
    }
    let req = input.request.ok_or(ReviewError::NoRequest)?;
    let operation = match req.operation.as_str() {
        "CREATE" => Operation::Create,
        "UPDATE" => Operation::Update,
        "DELETE" => Operation::Delete,
        "CONNECT" => Operation::Connect,
        other => return Err(ReviewError::Operation(other.to_string())),
    };
    let user = UserInfo {
        username: req.user_info.username,
        groups: req.user_info.groups.unwrap_or_default(),
    };
    let object = req.object.filter(|v| !v.is_null());
    let old_object = req.old_object.filter(|v| !v.is_null());
    let namespace = req.namespace.as_deref().unwrap_or("");
    let ns_labels = match namespaces {
        Some(n) if !namespace.is_empty() => n.labels(namespace),
        _ => None,
    };
    let r = Request {
        operation,
        kind: &req.kind.kind,
        resource: &req.resource.resource,
        sub_resource: req.sub_resource.as_deref().unwrap_or(""),
        namespace,
        name: req.name.as_deref().unwrap_or(""),
        user: &user,
        object: object.as_ref(),
        old_object: old_object.as_ref(),
        namespace_labels: ns_labels.as_deref(),
    };
    let decision = engine.evaluate(&r, now);
    let status = (!decision.allowed()).then(|| Status {
        code: decision.code,
        reason: if decision.code == 400 {
            "BadRequest".to_string()
        } else {
            "Forbidden".to_string()
        },
        message: decision.message.clone().unwrap_or_default(),
    });
    let response = ReviewResponse {
        uid: req.uid,
        allowed: decision.allowed(),
        status,
        warnings: decision
            .warnings
            .iter()
            .map(|w| truncate(w, MAX_WARNING))
            .collect(),
        audit_annotations: decision.audit_annotations.clone(),
    };
    let out = ReviewOut {
        api_version: &input.api_version,
        kind: "AdmissionReview",
        response,
    };
    // Serializing strings, bools and maps of strings cannot fail.
    let body = serde_json::to_vec(&out).unwrap_or_default();
    Ok(Reviewed { decision, body })
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_policy::pss::LevelVersion;

    fn engine() -> Engine {
        let lv: LevelVersion = "restricted:v1.33".parse().unwrap();
        Engine::new(mamori_policy::Policy::pod_security_only(lv))
    }

    fn body(object: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "web", "namespace": "team-a", "operation": "CREATE",
                "userInfo": {"username": "alice", "groups": ["dev"]},
                "object": object, "oldObject": null, "dryRun": false}
        }))
        .unwrap()
    }

    #[test]
    fn denial_echoes_uid_and_words_like_psa() {
        let pod = serde_json::json!({"kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "web", "image": "x"}]}});
        let r = review(&engine(), &body(pod), OffsetDateTime::UNIX_EPOCH).unwrap();
        let full = r.response();
        let resp = &full["response"];
        assert_eq!(resp["uid"], "u-1");
        assert_eq!(resp["allowed"], false);
        assert_eq!(resp["status"]["code"], 403);
        assert_eq!(resp["status"]["reason"], "Forbidden");
        let msg = resp["status"]["message"].as_str().unwrap();
        assert!(msg.starts_with("pods \"web\" is forbidden: violates PodSecurity \"restricted:v1.33\": allowPrivilegeEscalation != false"), "{msg}");
        assert_eq!(full["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(resp["auditAnnotations"]["decision"], "denied");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let e = engine();
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(matches!(
            review(&e, b"{", now),
            Err(ReviewError::Malformed(_))
        ));
        assert!(matches!(
            review(&e, b"[]", now),
            Err(ReviewError::Malformed(_) | ReviewError::Unsupported(_))
        ));
        assert!(matches!(
            review(&e, b"", now),
            Err(ReviewError::Malformed(_))
        ));
        assert!(matches!(
            review(
                &e,
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
                now
            ),
            Err(ReviewError::NoRequest)
        ));
        assert!(matches!(
            review(&e, br#"{"apiVersion":"v1","kind":"Pod"}"#, now),
            Err(ReviewError::Unsupported(_))
        ));
        let mut b: Value = serde_json::from_slice(&body(Value::Null)).unwrap();
        b["request"]["operation"] = "PATCH".into();
        let b = serde_json::to_vec(&b).unwrap();
        assert!(matches!(
            review(&e, &b, now),
            Err(ReviewError::Operation(_))
        ));
        // A decodable review whose pod has wrong field types: denied with 400 (failurePolicy deny).
        let pod = serde_json::json!({"kind": "Pod", "spec": {"hostNetwork": "yes"}});
        let r = review(&e, &body(pod), now).unwrap().response();
        assert_eq!(r["response"]["allowed"], false);
        assert_eq!(r["response"]["status"]["code"], 400);
        assert_eq!(r["response"]["status"]["reason"], "BadRequest");
    }

    #[test]
    fn long_warnings_are_cut_on_char_boundaries() {
        let s = "é".repeat(600);
        let t = truncate(&s, 1023);
        assert!(t.len() <= 1023 + "…".len());
    }
}
