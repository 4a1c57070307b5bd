//! The scale-out path: `mamori runtime --output http://CONSOLE/api/v1/events` on a node posts its
//! Falco-format alerts to `mamori console`, which stores them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const TOKEN: &str = "runtime-to-console-token";

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n").expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn replayed_alerts_reach_the_console() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut console = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["console", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("MAMORI_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("console starts");
    let mut lines = BufReader::new(console.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("console prints its address");
        if let Some(a) = line.strip_prefix("console listening on http://") {
            break a.split_whitespace().next().expect("addr").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

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

    let body = get(&addr, "/api/v1/aggregate?by=source");
    let _ = console.kill();
    let _ = console.wait();
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["total"].as_u64(),
        Some(alerts as u64),
        "every alert is stored: {body}"
    );
}
