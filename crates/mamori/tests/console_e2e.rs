//! The console in a real browser: Debian's Chromium driven by Playwright (crates/console/e2e).
//! Screenshots are kept in target/e2e-artifacts/.

#[path = "support/console.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Console;

const TOKEN: &str = "e2e-admin-token-0123456789";

fn http(console: &Console, method: &str, path: &str, body: &str) -> (u16, String) {
    console
        .request(method, path, body)
        .expect("console answers")
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
    let console = Console::start(data.path(), TOKEN);
    let addr = console.addr.clone();

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
    let (status, body) = http(&console, "POST", "/api/v1/events", &batch.join("\n"));
    assert_eq!(status, 200, "{body}");
    let alarm = r#"{"name":"shadow-reads","filter":{"rule":"Read sensitive file untrusted"},"window_secs":300,"comparison":">=","threshold":1,"evaluate_every_secs":1,"actions":[{"type":"log"}]}"#;
    let (status, body) = http(&console, "PUT", "/api/v1/alarms/shadow-reads", alarm);
    assert_eq!(status, 204, "{body}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !http(&console, "GET", "/api/v1/alarms", "")
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
    drop(console);
    assert!(
        out.status.success(),
        "browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(artifacts.join("event-detail.png").is_file());
}
