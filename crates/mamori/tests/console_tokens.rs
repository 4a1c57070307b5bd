//! `mamori console token …` manages the store's tokens; a token created there works against a
//! running `mamori console` with exactly its role.

#[path = "support/console.rs"]
mod support;

use std::process::Command;

use support::{http, Console};

const ADMIN: &str = "tokens-test-admin-token-0123";

fn mamori(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
        .arg("console")
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("mamori runs")
}

#[test]
fn a_token_created_on_the_command_line_has_its_role_in_the_running_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::start(dir.path(), ADMIN);

    // Created while the console runs (the store is shared through SQLite's WAL).
    let out = mamori(
        dir.path(),
        &["token", "create", "node-1", "--role", "ingest"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    assert_eq!(token.len(), 64, "{token}");

    let alert = r#"{"rule":"Write below etc","priority":"Error","output":"x","output_fields":{"k8s.ns.name":"default"}}"#;
    let (status, body) =
        http(&console.addr, &token, "POST", "/api/v1/events", alert).expect("post");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&console.addr, &token, "GET", "/api/v1/events", "").expect("get");
    assert_eq!(status, 403, "an ingest token reads nothing: {body}");

    let out = mamori(dir.path(), &["token", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("node-1") && list.contains("ingest"), "{list}");
    assert!(!list.contains(&token), "secrets are never listed");

    // A name in use needs --replace; the rotated secret stops working.
    let out = mamori(
        dir.path(),
        &["token", "create", "node-1", "--role", "ingest"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    let out = mamori(
        dir.path(),
        &["token", "create", "node-1", "--role", "ingest", "--replace"],
    );
    assert!(out.status.success());
    let (status, _) = http(&console.addr, &token, "POST", "/api/v1/events", alert).expect("post");
    assert_eq!(status, 401);

    let out = mamori(dir.path(), &["token", "delete", "node-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mamori(dir.path(), &["token", "delete", "admin"]);
    assert!(!out.status.success(), "the built-in admin token stays");
    let out = mamori(dir.path(), &["token", "create", "x", "--role", "root"]);
    assert_eq!(out.status.code(), Some(2), "unknown role is a usage error");
}

#[test]
fn first_start_prints_the_ingest_token_and_it_can_post() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["console", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env_remove("MAMORI_ADMIN_TOKEN")
        .env_remove("MAMORI_INGEST_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut ingest, mut addr) = (None, None);
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(t) = line.strip_prefix(
            "ingest token for sensors and webhooks (may post, cannot read; shown once): ",
        ) {
            ingest = Some(t.to_string());
        }
        if let Some(a) = line.strip_prefix("console listening on http://") {
            addr = Some(a.split_whitespace().next().expect("addr").to_string());
            break;
        }
    }
    let (ingest, addr) = (
        ingest.expect("ingest token printed"),
        addr.expect("address"),
    );
    let alert = r#"{"rule":"r","priority":"Notice","output":"x"}"#;
    let (status, body) = http(&addr, &ingest, "POST", "/api/v1/events", alert).expect("post");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{body}");
}
