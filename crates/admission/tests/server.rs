//! The router without sockets, and one real TLS socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mamori_admission::client::Connector;
use mamori_admission::tls::{write_self_signed, ReloadingCert};
use mamori_admission::{router, AppState, EventSink, Limits, Server};
use mamori_core::event::Event;
use mamori_policy::{Decision, Engine, Policy};
use serde_json::{json, Value};
use tower::ServiceExt;

fn seed_engine() -> Arc<Engine> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/seed-cloudone.yaml");
    Arc::new(Engine::new(Policy::load(&p).unwrap()))
}

fn restricted_engine() -> Arc<Engine> {
    Arc::new(Engine::new(Policy::pod_security_only(
        "restricted:v1.30".parse().unwrap(),
    )))
}

fn review_body(operation: &str, sub: &str, kind: &str, object: Value) -> String {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "abc-123", "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "pods"}, "subResource": sub,
            "name": "web", "namespace": "team-a", "operation": operation,
            "userInfo": {"username": "alice", "groups": ["dev"]},
            "object": object, "oldObject": null}})
    .to_string()
}

async fn post(app: &axum::Router, body: impl Into<Body>) -> (StatusCode, Value) {
    let req = Request::post("/validate")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[derive(Default)]
struct Collect(Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, decision: Decision, time_ns: u64) {
        self.0.lock().unwrap().push(decision.to_event(time_ns));
    }
}

#[tokio::test]
async fn validate_exec_and_pods_through_the_router() {
    let sink = Arc::new(Collect::default());
    let state = AppState::with_sink(seed_engine(), Limits::default(), sink.clone());
    let app = router(state.clone());

    let exec = json!({"kind": "PodExecOptions", "apiVersion": "v1", "command": ["/bin/sh"]});
    let (code, v) = post(&app, review_body("CONNECT", "exec", "PodExecOptions", exec)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], "abc-123");
    assert_eq!(v["response"]["allowed"], false);
    assert_eq!(v["response"]["status"]["code"], 403);

    let pod = json!({"kind": "Pod", "metadata": {"name": "web"},
        "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "nginx"}]}});
    let (_, v) = post(&app, review_body("CREATE", "", "Pod", pod)).await;
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains("hostNetwork=true"), "{msg}");
    assert!(v["response"]["auditAnnotations"]["audit-violations"]
        .as_str()
        .unwrap()
        .contains("latest tag"));

    let events = sink.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].field("admission.resource"),
        Some(&mamori_core::event::Value::Str("pods/exec".into()))
    );

    let (code, metrics) = get(&app, "/metrics").await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        metrics.contains("mamori_admission_requests_total{code=\"200\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("mamori_admission_decisions_total{decision=\"denied\"} 2"));
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);
    state.set_ready(false);
    assert_eq!(
        get(&app, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn bad_input_gets_400_with_a_reason() {
    let app = router(AppState::new(restricted_engine(), Limits::default()));
    for body in [
        "{".to_string(),
        "null".to_string(),
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).to_string(),
        json!({"apiVersion": "v1", "kind": "Pod"}).to_string(),
        review_body("PATCH", "", "Pod", Value::Null),
    ] {
        let (code, v) = post(&app, body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    }
    // Wrong field types in the pod: decodable review, failurePolicy deny -> allowed false, 400.
    let pod = json!({"kind": "Pod", "spec": {"containers": [{"name": 7}]}});
    let (code, v) = post(&app, review_body("CREATE", "", "Pod", pod)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["response"]["allowed"], false);
    assert_eq!(v["response"]["status"]["code"], 400);
    // An unknown kind is not evaluated.
    let (_, v) = post(
        &app,
        review_body("CREATE", "", "Widget", json!({"kind": "Widget"})),
    )
    .await;
    assert_eq!(v["response"]["allowed"], true);
}

#[tokio::test]
async fn huge_bodies_are_refused() {
    let limits = Limits {
        max_body: 1024,
        ..Limits::default()
    };
    let app = router(AppState::new(restricted_engine(), limits));
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(4096));
    let (code, _) = post(&app, big).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
}

struct SlowVerdicts;

impl mamori_policy::VerdictSource for SlowVerdicts {
    fn verdict(
        &self,
        _image: &str,
    ) -> Result<Option<mamori_policy::ImageVerdict>, mamori_policy::VerdictError> {
        std::thread::sleep(Duration::from_millis(400));
        Ok(None)
    }
}

#[tokio::test]
async fn deadline_answers_503() {
    let limits = Limits {
        deadline: Duration::from_millis(50),
        max_concurrent: 1,
        ..Limits::default()
    };
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/seed-cloudone.yaml");
    let engine = Engine::new(Policy::load(&p).unwrap()).with_verdicts(Arc::new(SlowVerdicts));
    let state = AppState::new(Arc::new(engine), limits);
    let app = router(state.clone());
    let pod = json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
    let started = std::time::Instant::now();
    let (code, v) = post(&app, review_body("CREATE", "", "Pod", pod.clone())).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(started.elapsed() < Duration::from_millis(300));
    // The single permit is still held by the abandoned evaluation, so the next request waits
    // and also runs out of time: the bound holds even for timed-out work.
    let (code, _) = post(&app, review_body("CREATE", "", "Pod", pod)).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    let m = state.metrics().render();
    assert!(
        m.contains("mamori_admission_requests_total{code=\"503\"} 2"),
        "{m}"
    );
}

#[tokio::test]
async fn real_tls_socket_with_keep_alive() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_self_signed(dir.path(), &["mamori.test".to_string()]).unwrap();
    let certs = Arc::new(ReloadingCert::new(&files.cert, &files.key).unwrap());
    let app = router(AppState::new(restricted_engine(), Limits::default()));
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), certs, app)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let connector = Connector::new(&files.ca_cert, "mamori.test").unwrap();
    let mut conn = connector.connect(addr).await.unwrap();
    let pod = json!({"kind": "Pod", "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}});
    for _ in 0..3 {
        let (code, body) = conn
            .send(
                "POST",
                "/validate",
                Bytes::from(review_body("CREATE", "", "Pod", pod.clone())),
            )
            .await
            .unwrap();
        assert_eq!(code, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"]["allowed"], false);
    }
    let (code, _) = conn.send("GET", "/healthz", Bytes::new()).await.unwrap();
    assert_eq!(code, 200);
    // A client that does not trust the CA is refused.
    let other = tempfile::tempdir().unwrap();
    let other_files = write_self_signed(other.path(), &["mamori.test".to_string()]).unwrap();
    let wrong = Connector::new(&other_files.ca_cert, "mamori.test").unwrap();
    assert!(wrong.connect(addr).await.is_err());
    let _ = stop.send(());
    task.await.unwrap();
}
