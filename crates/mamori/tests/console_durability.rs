//! `mamori console` killed with SIGKILL in the middle of a heavy ingest keeps every event whose
//! POST returned 2xx.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "durability-test-admin-token";

fn start(data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["console", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("MAMORI_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mamori console starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(addr) = line.strip_prefix("console listening on http://") {
            let addr = addr.split_whitespace().next().expect("address").to_string();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (child, addr);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("console did not report its address");
}

/// One HTTP/1.1 request on a fresh connection; returns the status code and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn batch(n: usize) -> String {
    (0..500)
        .map(|i| {
            format!(
                r#"{{"rule":"batch-{n}","priority":"Warning","output":"event {i} of batch {n}","time":"2026-11-22T10:00:00Z","output_fields":{{"k8s.ns.name":"default","evt.num":{i}}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = start(dir.path());

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let addr = addr.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = w;
            while !stop.load(Ordering::Relaxed) {
                match http(&addr, "POST", "/api/v1/events", &batch(n)) {
                    Ok((200, _)) => acked.push(n),
                    Ok((code, body)) => panic!("unexpected {code}: {body}"),
                    Err(_) => break, // the server died mid-request: not acknowledged
                }
                n += 2;
            }
            acked
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<usize> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    eprintln!("{} batches of 500 acknowledged before SIGKILL", acked.len());
    assert!(
        acked.len() >= 2,
        "the ingest was not heavy enough to test anything: {acked:?}"
    );

    let (mut child, addr) = start(dir.path());
    let (code, body) =
        http(&addr, "GET", "/api/v1/aggregate?by=rule&limit=10000", "").expect("query");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 200, "{body}");
    let agg: serde_json::Value = serde_json::from_str(&body).expect("json");
    let counts: std::collections::HashMap<String, u64> = agg["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap_or_default().to_string(),
                b["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for n in &acked {
        assert_eq!(
            counts.get(&format!("batch-{n}")),
            Some(&500),
            "acknowledged batch {n} lost or partial"
        );
    }
    // Unacknowledged batches are all-or-nothing too (one transaction per request).
    for (rule, count) in &counts {
        assert!(*count == 500, "{rule} has a partial batch of {count}");
    }
}
