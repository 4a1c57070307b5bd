//! The HTTP API through the router, without sockets.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mamori_console::server::{Console, ConsoleConfig};
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "test-admin-token-0123456789";

const ALERT: &str = r#"{"hostname":"node-1","output":"Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow)","priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["container"],"time":"2023-11-14T22:13:20.000000000Z","output_fields":{"container.id":"3ad7b26ded6d","fd.name":"/etc/shadow","k8s.ns.name":"default","k8s.pod.name":"nginx2"}}"#;

struct Harness {
    _dir: tempfile::TempDir,
    console: Console,
    read_only: String,
}

fn harness(max_body: usize) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ConsoleConfig::new(dir.path().to_path_buf());
    cfg.max_body_bytes = max_body;
    let console = Console::open(cfg, Some(ADMIN)).expect("opens");
    assert!(
        console.new_tokens.admin.is_none(),
        "the operator's admin token is used"
    );
    let read_only = console
        .new_tokens
        .read_only
        .clone()
        .expect("read-only token generated");
    Harness {
        _dir: dir,
        console,
        read_only,
    }
}

async fn call(
    h: &Harness,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, String, axum::http::HeaderMap) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = h
        .console
        .router()
        .oneshot(req.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("router answers");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    )
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[tokio::test]
async fn no_api_route_is_anonymous() {
    let h = harness(1 << 20);
    for (m, uri) in [
        ("GET", "/api/v1/events"),
        ("POST", "/api/v1/events"),
        ("GET", "/api/v1/events/1"),
        ("GET", "/api/v1/aggregate"),
        ("GET", "/metrics"),
    ] {
        let (status, _, _) = call(&h, m, uri, None, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {uri}");
        let (status, _, _) = call(&h, m, uri, Some("wrong-token"), "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {uri}");
    }
    let (status, body, _) = call(&h, "GET", "/healthz", None, "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn read_only_token_cannot_ingest() {
    let h = harness(1 << 20);
    let (status, body, _) = call(&h, "POST", "/api/v1/events", Some(&h.read_only), ALERT).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = call(&h, "GET", "/api/v1/events", Some(&h.read_only), "").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ingest_then_query_then_detail() {
    let h = harness(1 << 20);
    let batch = format!("{ALERT}\n{ALERT}\nnot json\n");
    let (status, body, _) = call(&h, "POST", "/api/v1/events", Some(ADMIN), &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["accepted"], 2);
    assert_eq!(v["rejected"][0]["index"], 2);
    assert_eq!(v["rejected"][0]["line"], 3);

    let (status, body, _) = call(
        &h,
        "GET",
        "/api/v1/events?namespace=default&min_priority=warning&limit=1",
        Some(&h.read_only),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json(&body);
    assert_eq!(page["events"].as_array().map(Vec::len), Some(1));
    assert!(page["next_cursor"].is_i64());
    let id = page["events"][0]["id"].as_i64().expect("id");

    let (status, body, _) = call(
        &h,
        "GET",
        &format!("/api/v1/events/{id}"),
        Some(&h.read_only),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["fields"]["fd.name"], "/etc/shadow");

    let (_, body, _) = call(
        &h,
        "GET",
        "/api/v1/events?min_priority=critical",
        Some(&h.read_only),
        "",
    )
    .await;
    assert_eq!(json(&body)["events"].as_array().map(Vec::len), Some(0));

    let (status, body, _) = call(
        &h,
        "GET",
        "/api/v1/aggregate?by=rule",
        Some(&h.read_only),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let agg = json(&body);
    assert_eq!(agg["total"], 2);
    assert_eq!(agg["buckets"][0]["key"], "Read sensitive file untrusted");

    let (_, body, _) = call(&h, "GET", "/metrics", Some(&h.read_only), "").await;
    assert!(
        body.contains("mamori_console_events_ingested_total 2"),
        "{body}"
    );
    assert!(
        body.contains("mamori_console_events_rejected_total 1"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_with_nothing_valid_is_400() {
    let h = harness(1 << 20);
    let (status, body, _) = call(&h, "POST", "/api/v1/events", Some(ADMIN), "{\"rule\":1}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json(&body)["rejected"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("\"rule\" must be a string")));
}

#[tokio::test]
async fn bad_query_parameters_are_400_with_a_reason() {
    let h = harness(1 << 20);
    for uri in [
        "/api/v1/events?since=someday",
        "/api/v1/events?min_priority=loud",
        "/api/v1/events?limit=abc",
        "/api/v1/events?nonsense=1",
        "/api/v1/aggregate?by=colour",
    ] {
        let (status, body, _) = call(&h, "GET", uri, Some(ADMIN), "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let h = harness(1024);
    let big = format!("[{}]", vec![ALERT; 20].join(","));
    let (status, _, _) = call(&h, "POST", "/api/v1/events", Some(ADMIN), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn dashboard_is_served_with_security_headers() {
    let h = harness(1 << 20);
    let (status, body, headers) = call(&h, "GET", "/", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("mamori console"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .expect("ascii")
        .contains("default-src 'self'"));
    let (status, js, _) = call(&h, "GET", "/app.js", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("/api/v1/aggregate"));
}
