//! The console in a real browser: Debian's Chromium driven by Playwright (crates/console/e2e).
//! Screenshots are kept in target/e2e-artifacts/.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "e2e-admin-token-0123456789";

fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

fn alert(rule: &str, prio: &str, cmdline: &str, ns: &str) -> String {
    let now = time_ns();
    format!(
        r#"{{"rule":"{rule}","priority":"{prio}","output":"{rule} (command={cmdline})","source":"syscall","hostname":"node-1","time":{now},"tags":["container"],"output_fields":{{"proc.cmdline":"{cmdline}","k8s.ns.name":"{ns}","k8s.pod.name":"web-1","container.id":"3ad7b26ded6d"}}}}"#
    )
}

fn time_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn dashboard_works_in_chromium() {
    let Some(chromium) = mamori_testkit::tool("chromium") else {
        return;
    };
    let Some(node) = mamori_testkit::tool("node") else {
        return;
    };
    let e2e = mamori_testkit::workspace_root().join("crates/console/e2e");
    if !e2e.join("node_modules/playwright-core").is_dir() {
        mamori_testkit::skip(
            mamori_testkit::REQUIRE_PRIVILEGED,
            "playwright-core is not installed in crates/console/e2e (scripts/setup runs npm ci there)",
        );
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["console", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("MAMORI_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("console starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
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

    let mut batch = Vec::new();
    for _ in 0..5 {
        batch.push(alert(
            "Read sensitive file untrusted",
            "Warning",
            "cat /etc/shadow",
            "default",
        ));
    }
    for _ in 0..3 {
        batch.push(alert(
            "Terminal shell in container",
            "Notice",
            "bash",
            "shop",
        ));
    }
    let (status, body) = http(&addr, "POST", "/api/v1/events", &batch.join("\n"));
    assert_eq!(status, 200, "{body}");
    let alarm = r#"{"name":"shadow-reads","filter":{"rule":"Read sensitive file untrusted"},"window_secs":300,"comparison":">=","threshold":1,"evaluate_every_secs":1,"actions":[{"type":"log"}]}"#;
    let (status, body) = http(&addr, "PUT", "/api/v1/alarms/shadow-reads", alarm);
    assert_eq!(status, 204, "{body}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !http(&addr, "GET", "/api/v1/alarms", "")
        .1
        .contains("\"ALARM\"")
    {
        assert!(Instant::now() < deadline, "alarm never reached ALARM");
        std::thread::sleep(Duration::from_millis(200));
    }

    let artifacts: PathBuf = mamori_testkit::workspace_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let out = Command::new(node)
        .arg("--test")
        .arg("console.test.mjs")
        .current_dir(&e2e)
        .env("MAMORI_URL", format!("http://{addr}"))
        .env("MAMORI_TOKEN", TOKEN)
        .env("MAMORI_ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium)
        .output()
        .expect("node runs");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(artifacts.join("event-detail.png").is_file());
}
