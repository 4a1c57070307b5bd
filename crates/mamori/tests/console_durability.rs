//! `mamori console` killed with SIGKILL in the middle of a heavy ingest keeps every event whose
//! POST returned 2xx.

#[path = "support/console.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{http, Console};

const TOKEN: &str = "durability-test-admin-token";

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
    let mut console = Console::start(dir.path(), TOKEN);
    let addr = console.addr.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let addr = addr.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = w;
            while !stop.load(Ordering::Relaxed) {
                match http(&addr, TOKEN, "POST", "/api/v1/events", &batch(n)) {
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
    console.kill(); // SIGKILL
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

    let console = Console::start(dir.path(), TOKEN);
    let (code, body) = console
        .request("GET", "/api/v1/aggregate?by=rule&limit=10000", "")
        .expect("query");
    drop(console);
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
