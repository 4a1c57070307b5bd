//! The scale-out path: `mamori runtime --output http://CONSOLE/api/v1/events` on a node posts its
//! Falco-format alerts to `mamori console`, which stores them.

#[path = "support/console.rs"]
mod support;

use std::process::Command;

use support::Console;

const TOKEN: &str = "runtime-to-console-token";

#[test]
fn replayed_alerts_reach_the_console() {
    let data = tempfile::tempdir().expect("tempdir");
    let console = Console::start(data.path(), TOKEN);
    let addr = console.addr.clone();

    let events = mamori_testkit::workspace_root().join("examples/runtime/events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["runtime", "--source"])
        .arg(format!("replay:{}", events.display()))
        .args([
            "--output",
            &format!("http://{addr}/api/v1/events"),
            "--hostname",
            "node-7",
        ])
        .env("MAMORI_TOKEN", TOKEN)
        .output()
        .expect("runtime runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let alerts: usize = stderr
        .split(", ")
        .find_map(|p| {
            p.trim()
                .strip_suffix(" alert(s)")
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no alert count in: {stderr}"));
    assert!(alerts > 0, "{stderr}");
    assert!(!stderr.contains("dropped"), "{stderr}");

    let (_, body) = console
        .request("GET", "/api/v1/aggregate?by=source", "")
        .expect("query");
    drop(console);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["total"].as_u64(),
        Some(alerts as u64),
        "every alert is stored: {body}"
    );
}
