//! Who may do what: the three roles, named tokens through the API, and rate limits per token —
//! through the router, without sockets.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use mamori_console::ratelimit::RateLimitConfig;
use mamori_console::server::{Console, ConsoleConfig};
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "test-admin-token-0123456789";
const ALERT: &str = r#"{"output":"x","priority":"Warning","rule":"Write below etc","time":"2023-11-14T22:13:20Z","output_fields":{"k8s.ns.name":"default"}}"#;

struct Harness {
    _dir: tempfile::TempDir,
    console: Console,
}

fn harness(limits: RateLimitConfig) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ConsoleConfig::new(dir.path().to_path_buf());
    cfg.rate_limit = limits;
    let console = Console::open(cfg, Some(ADMIN)).expect("opens");
    Harness { _dir: dir, console }
}

async fn call(
    h: &Harness,
    method: &str,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, String, HeaderMap) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .expect("request");
    let res = h
        .console
        .router()
        .oneshot(req)
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

async fn new_token(h: &Harness, name: &str, role: &str) -> String {
    let (status, body, _) = call(
        h,
        "POST",
        "/api/v1/tokens",
        ADMIN,
        &format!(r#"{{"name":"{name}","role":"{role}"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v = json(&body);
    assert_eq!(v["role"], role);
    v["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn the_built_in_ingest_token_is_generated_at_first_start() {
    let h = harness(RateLimitConfig::default());
    let ingest = h.console.new_tokens.ingest.clone().expect("generated");
    let (status, body, _) = call(&h, "POST", "/api/v1/events", &ingest, ALERT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_ingest_token_posts_events_and_reports_but_reads_nothing() {
    let h = harness(RateLimitConfig::default());
    let ingest = new_token(&h, "node-1", "ingest").await;
    let (status, body, _) = call(&h, "POST", "/api/v1/events", &ingest, ALERT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["accepted"], 1);
    let report = r#"{"schema":"mamori.report/v1","tool":{"name":"mamori","version":"0.1.0"},"targets":["x"],"summary":{},"findings":[]}"#;
    let (status, body, _) = call(&h, "POST", "/api/v1/reports", &ingest, report).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (m, uri) in [
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/events/1"),
        ("GET", "/api/v1/aggregate"),
        ("GET", "/api/v1/reports"),
        ("GET", "/api/v1/findings"),
        ("GET", "/api/v1/compliance"),
        ("GET", "/api/v1/alarms"),
        ("GET", "/api/v1/alarms/x/history"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/alarms/x/ack"),
        ("DELETE", "/api/v1/alarms/x"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/node-1"),
    ] {
        let (status, body, _) = call(&h, m, uri, &ingest, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{m} {uri}: {body}");
        assert!(body.contains("a token with role ingest may not"), "{body}");
    }
    // The event it posted is there for a reader.
    let (_, body, _) = call(&h, "GET", "/api/v1/events", ADMIN, "").await;
    assert_eq!(json(&body)["events"][0]["rule"], "Write below etc");
}

#[tokio::test]
async fn a_read_only_token_cannot_manage_tokens() {
    let h = harness(RateLimitConfig::default());
    let ro = new_token(&h, "viewer", "read-only").await;
    let (status, _, _) = call(&h, "GET", "/api/v1/events", &ro, "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&h, "GET", "/api/v1/tokens", &ro, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(
        &h,
        "POST",
        "/api/v1/tokens",
        &ro,
        r#"{"name":"mine","role":"admin"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_rotated_and_deleted() {
    let h = harness(RateLimitConfig::default());
    let t1 = new_token(&h, "node-1", "ingest").await;
    let (status, body, _) = call(&h, "GET", "/api/v1/tokens", ADMIN, "").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = json(&body)
        .as_array()
        .expect("array")
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                t["name"].as_str().unwrap_or(""),
                t["role"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "admin=admin",
            "ingest=ingest",
            "node-1=ingest",
            "read-only=read-only"
        ]
    );
    assert!(!body.contains(&t1) && !body.contains("hash"), "{body}");

    // The same name again is a conflict unless asked to replace it.
    let (status, body, _) = call(
        &h,
        "POST",
        "/api/v1/tokens",
        ADMIN,
        r#"{"name":"node-1","role":"ingest"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body, _) = call(
        &h,
        "POST",
        "/api/v1/tokens",
        ADMIN,
        r#"{"name":"node-1","role":"ingest","replace":true}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let t2 = json(&body)["token"].as_str().expect("token").to_string();
    let (status, _, _) = call(&h, "POST", "/api/v1/events", &t1, ALERT).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the rotated secret is dead"
    );
    let (status, _, _) = call(&h, "POST", "/api/v1/events", &t2, ALERT).await;
    assert_eq!(status, StatusCode::OK);

    for (body, why) in [
        (r#"{"name":"x","role":"root"}"#, "unknown role"),
        (r#"{"name":"a b","role":"ingest"}"#, "token name"),
        (r#"{"name":"x","role":"ingest","ttl":3}"#, "ttl"),
    ] {
        let (status, text, _) = call(&h, "POST", "/api/v1/tokens", ADMIN, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(text.contains(why), "{text}");
    }

    let (status, _, _) = call(&h, "DELETE", "/api/v1/tokens/node-1", ADMIN, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&h, "POST", "/api/v1/events", &t2, ALERT).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&h, "DELETE", "/api/v1/tokens/node-1", ADMIN, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = call(&h, "DELETE", "/api/v1/tokens/admin", ADMIN, "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn requests_beyond_the_burst_get_429_with_retry_after_and_are_counted() {
    let h = harness(RateLimitConfig {
        requests_per_sec: 0.01,
        request_burst: 3.0,
        ..RateLimitConfig::unlimited()
    });
    let reader = new_token(&h, "reader", "read-only").await;
    for _ in 0..3 {
        let (status, _, _) = call(&h, "GET", "/api/v1/events", &reader, "").await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body, headers) = call(&h, "GET", "/api/v1/events", &reader, "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    // One request at 0.01/s: about 100 s.
    assert!((90..=100).contains(&wait), "{wait}");
    assert!(body.contains("rate limit"), "{body}");
    // Another token has its own bucket: the admin is not affected by the reader.
    let (status, body, _) = call(&h, "GET", "/metrics", ADMIN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("mamori_console_rate_limited_total{limit=\"requests\"} 1"),
        "{body}"
    );
}

#[tokio::test]
async fn an_ingest_token_over_its_event_rate_gets_429_and_nothing_is_stored() {
    let h = harness(RateLimitConfig {
        events_per_sec: 1.0,
        event_burst: 2.0,
        ..RateLimitConfig::unlimited()
    });
    let node = new_token(&h, "node-1", "ingest").await;
    // Five events: more than the burst, accepted once, and the token is then in debt.
    let batch = [ALERT; 5].join("\n");
    let (status, body, _) = call(&h, "POST", "/api/v1/events", &node, &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, headers) = call(&h, "POST", "/api/v1/events", &node, ALERT).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((2..=3).contains(&wait), "{wait}");
    let (_, body, _) = call(&h, "GET", "/api/v1/aggregate?by=rule", ADMIN, "").await;
    assert_eq!(json(&body)["total"], 5, "the refused event was not stored");
    // Another ingest token is not slowed down by node-1.
    let other = new_token(&h, "node-2", "ingest").await;
    let (status, _, _) = call(&h, "POST", "/api/v1/events", &other, ALERT).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body, _) = call(&h, "GET", "/metrics", ADMIN, "").await;
    assert!(
        body.contains("mamori_console_rate_limited_total{limit=\"events\"} 1"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_show_each_alarm_state() {
    let h = harness(RateLimitConfig::default());
    let def = r#"{"name":"shells","filter":{"rule":"Terminal shell in container"},"window_secs":300,"comparison":">=","threshold":1}"#;
    let (status, _, _) = call(&h, "PUT", "/api/v1/alarms/shells", ADMIN, def).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body, _) = call(&h, "GET", "/metrics", ADMIN, "").await;
    assert!(
        body.contains("mamori_console_alarm_state{alarm=\"shells\",state=\"INSUFFICIENT_DATA\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("mamori_console_alarm_state{alarm=\"shells\",state=\"ALARM\"} 0"),
        "{body}"
    );
}
