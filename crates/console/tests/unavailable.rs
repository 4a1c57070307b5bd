//! A store that cannot write (a database locked by another process, a full disk) makes ingest
//! answer 503 with the reason; nothing crashes, reads go on, acknowledged events stay, and ingest
//! works again once the cause is gone.

use std::path::Path;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mamori_console::server::{Console, ConsoleConfig};
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "test-admin-token-0123456789";

fn alert(i: usize) -> String {
    format!(
        r#"{{"hostname":"node-1","output":"Warning Sensitive file opened (file=/etc/shadow pid={i}) padding padding padding padding padding padding padding padding","priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["container"],"time":"2023-11-14T22:13:20.000000000Z","output_fields":{{"container.id":"3ad7b26ded6d","fd.name":"/etc/shadow","k8s.ns.name":"default","k8s.pod.name":"nginx-{i}","proc.cmdline":"cat /etc/shadow {i} and a long tail of arguments to fill pages"}}}}"#
    )
}

fn batch(from: usize, n: usize) -> String {
    (from..from + n).map(alert).collect::<Vec<_>>().join("\n")
}

async fn call(console: &Console, method: &str, uri: &str, body: String) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::from(body))
        .expect("request");
    let res = console.router().oneshot(req).await.expect("router answers");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

/// Events stored, counted through the API.
async fn stored(console: &Console) -> u64 {
    let (status, v) = call(console, "GET", "/api/v1/aggregate?by=source", String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v.as_array()
        .or_else(|| v["buckets"].as_array())
        .unwrap_or_else(|| panic!("buckets: {v}"))
        .iter()
        .map(|b| b["count"].as_u64().expect("count"))
        .sum()
}

fn open(dir: &Path) -> Console {
    let mut cfg = ConsoleConfig::new(dir.to_path_buf());
    cfg.rate_limit = mamori_console::ratelimit::RateLimitConfig::unlimited();
    Console::open(cfg, Some(ADMIN)).expect("opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_answers_503_and_ingest_resumes_when_it_is_released() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = open(dir.path());
    let (status, v) = call(&console, "POST", "/api/v1/events", batch(0, 10)).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Another process takes the write lock and keeps it.
    let other = rusqlite::Connection::open(dir.path().join("events.db")).expect("sqlite");
    other.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let (status, v) = call(&console, "POST", "/api/v1/events", batch(10, 10)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let reason = v["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("unavailable") && reason.contains("locked"),
        "{reason}"
    );
    // Reads go on while the lock is held.
    assert_eq!(stored(&console).await, 10);

    other.execute_batch("COMMIT").expect("unlock");
    let (status, v) = call(&console, "POST", "/api/v1/events", batch(20, 10)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(stored(&console).await, 20);
}

/// Unmounts a tmpfs when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_keeps_every_acknowledged_event_and_recovers() {
    if !mamori_testkit::require_root("mounting a small tmpfs") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&data)
        .status()
        .expect("mount runs");
    assert!(ok.success(), "mount tmpfs");
    let mount = Mount(data.clone());
    let console = open(&data);

    let mut accepted = 0u64;
    let mut refused = None;
    for round in 0..200 {
        let (status, v) = call(&console, "POST", "/api/v1/events", batch(round * 200, 200)).await;
        match status {
            StatusCode::OK => accepted += v["accepted"].as_u64().expect("accepted"),
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(v);
                break;
            }
            other => panic!("round {round}: {other} {v}"),
        }
    }
    let refused = refused.expect("a 2 MiB disk fills up");
    let reason = refused["error"].as_str().unwrap_or_default();
    assert!(reason.contains("full"), "{reason}");
    assert!(accepted > 0);
    // Every acknowledged event is there, none of the refused batch, and reads work.
    assert_eq!(stored(&console).await, accepted);

    // More room: ingest works again, in the same process.
    let ok = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&data)
        .status()
        .expect("remount runs");
    assert!(ok.success(), "remount");
    let (status, v) = call(&console, "POST", "/api/v1/events", batch(1_000_000, 200)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(stored(&console).await, accepted + 200);
    drop(console);
    drop(mount);
}
