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

#[tokio::test]
async fn reports_feed_findings_and_the_compliance_view() {
    let h = harness(1 << 20);
    let report = r#"{"schema":"mamori.report/v1","tool":{"name":"mamori","version":"0.1.0"},"targets":["deploy/"],"summary":{},
      "findings":[
        {"rule_id":"MK-K8S-PRIV","title":"Privileged","severity":"high","area":"container","nist":["3.4.3"],"target":{"file":{"path":"a.yaml"}},"message":"privileged"},
        {"rule_id":"DL3007","title":"latest","severity":"medium","area":"image","nist":["3.1.1","3.2.2"],"target":{"file":{"path":"Dockerfile"}},"message":"latest"}]}"#;
    let (status, body, _) = call(&h, "POST", "/api/v1/reports", Some(ADMIN), report).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A newer report of the same targets supersedes the old one.
    let newer = report.replace(r#"{"rule_id":"DL3007""#, r#"{"rule_id":"DL3008""#);
    let (status, _, _) = call(&h, "POST", "/api/v1/reports", Some(ADMIN), &newer).await;
    assert_eq!(status, StatusCode::OK);

    let (_, body, _) = call(&h, "GET", "/api/v1/findings", Some(&h.read_only), "").await;
    let findings = json(&body);
    let ids: Vec<_> = findings
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["MK-K8S-PRIV", "DL3008"]);
    let (_, body, _) = call(
        &h,
        "GET",
        "/api/v1/findings?risk=3.2.2",
        Some(&h.read_only),
        "",
    )
    .await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(1));

    let (_, body, _) = call(&h, "GET", "/api/v1/compliance", Some(&h.read_only), "").await;
    let risks = json(&body);
    assert_eq!(risks.as_array().map(Vec::len), Some(23));
    let r343 = risks
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["id"] == "3.4.3")
        .expect("3.4.3");
    assert_eq!(
        (r343["findings"].as_u64(), r343["high_or_critical"].as_u64()),
        (Some(1), Some(1))
    );

    let (_, body, _) = call(&h, "GET", "/api/v1/reports", Some(&h.read_only), "").await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(2));

    let (status, body, _) = call(
        &h,
        "POST",
        "/api/v1/reports",
        Some(ADMIN),
        "{\"schema\":\"x\"}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unsupported report schema"), "{body}");
}

#[tokio::test]
async fn alarms_are_defined_listed_acknowledged_and_deleted_through_the_api() {
    let h = harness(1 << 20);
    let def = r#"{"name":"shells","filter":{"rule":"Terminal shell in container"},"window_secs":300,"comparison":">=","threshold":1}"#;
    let (status, _, _) = call(&h, "PUT", "/api/v1/alarms/shells", Some(&h.read_only), def).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = call(&h, "PUT", "/api/v1/alarms/shells", Some(ADMIN), def).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body, _) = call(&h, "PUT", "/api/v1/alarms/other", Some(ADMIN), def).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body, _) = call(
        &h,
        "PUT",
        "/api/v1/alarms/shells",
        Some(ADMIN),
        r#"{"name":"shells","windw":3}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("windw"), "{body}");
    let (_, body, _) = call(&h, "GET", "/api/v1/alarms", Some(&h.read_only), "").await;
    assert_eq!(json(&body)[0]["state"], "INSUFFICIENT_DATA");
    let (status, _, _) = call(&h, "POST", "/api/v1/alarms/shells/ack", Some(ADMIN), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&h, "POST", "/api/v1/alarms/nope/ack", Some(ADMIN), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(&h, "DELETE", "/api/v1/alarms/shells", Some(ADMIN), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body, _) = call(&h, "GET", "/api/v1/alarms", Some(&h.read_only), "").await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(0));
}
