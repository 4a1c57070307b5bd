//! Alarms: evaluation against the store, state history, acknowledgement, and the e-mail and webhook
//! actions against servers the tests start on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use mamori_console::alarms::{
    evaluate_due, run_actions, send_email, ActionConfig, AlarmConfig, AlarmState, Notification,
};
use mamori_console::model::StoredEvent;
use mamori_console::store::{EventStore, SqliteStore};

const S: i64 = 1_000_000_000;

fn alarm(actions: Vec<ActionConfig>) -> AlarmConfig {
    serde_json::from_value(serde_json::json!({
        "name": "mkdir-binary-dirs",
        "description": "someone creates directories below /bin",
        "filter": {"rule": "Mkdir binary dirs"},
        "window_secs": 300, "comparison": ">=", "threshold": 1, "evaluate_every_secs": 60
    }))
    .map(|mut a: AlarmConfig| {
        a.actions = actions;
        a
    })
    .expect("valid alarm")
}

fn event(rule: &str, time_ns: i64) -> StoredEvent {
    StoredEvent {
        id: 0,
        time_ns,
        source: "syscall".into(),
        rule: rule.into(),
        priority: "error".into(),
        output: "mkdir /bin/hello".into(),
        hostname: "n".into(),
        tags: vec![],
        namespace: None,
        pod: None,
        container: None,
        image: None,
        status: None,
        fields: Default::default(),
    }
}

#[test]
fn alarm_walks_ok_alarm_ok_with_history_and_acknowledgement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("e.db")).expect("store");
    store.upsert_alarm(&alarm(vec![])).expect("alarm");
    let t0 = 1_800_000_000 * S;
    assert_eq!(
        store.alarms().expect("alarms")[0].state,
        AlarmState::InsufficientData
    );

    let t = evaluate_due(&store, t0);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].0.from, t[0].0.to),
        (AlarmState::InsufficientData, AlarmState::Ok)
    );

    // Not due again before its period, even with a matching event.
    store
        .insert(vec![
            event("Mkdir binary dirs", t0 + 10 * S),
            event("Other rule", t0 + 10 * S),
        ])
        .expect("insert");
    assert!(evaluate_due(&store, t0 + 30 * S).is_empty());
    let t = evaluate_due(&store, t0 + 60 * S);
    assert_eq!((t[0].0.to, t[0].0.value), (AlarmState::Alarm, Some(1.0)));
    assert!(t[0].0.reason.contains("breaches"), "{}", t[0].0.reason);

    assert!(store
        .acknowledge_alarm("mkdir-binary-dirs", t0 + 61 * S)
        .expect("ack"));
    assert!(!store.acknowledge_alarm("no-such-alarm", t0).expect("ack"));
    assert_eq!(
        store.alarms().expect("alarms")[0].acknowledged_ns,
        Some(t0 + 61 * S)
    );

    // Still in ALARM a minute later: no transition.
    assert!(evaluate_due(&store, t0 + 120 * S).is_empty());
    // The event leaves the 5-minute window.
    let t = evaluate_due(&store, t0 + 360 * S);
    assert_eq!(t[0].0.to, AlarmState::Ok);
    let status = &store.alarms().expect("alarms")[0];
    assert_eq!(
        status.acknowledged_ns, None,
        "a transition clears the acknowledgement"
    );

    let history = store
        .alarm_history("mkdir-binary-dirs", 10)
        .expect("history");
    let states: Vec<_> = history.iter().map(|h| h.to).collect();
    assert_eq!(states, [AlarmState::Ok, AlarmState::Alarm, AlarmState::Ok]);
}

#[test]
fn redefining_keeps_state_and_bad_definitions_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("e.db")).expect("store");
    store.upsert_alarm(&alarm(vec![])).expect("alarm");
    evaluate_due(&store, 100 * S);
    let mut changed = alarm(vec![]);
    changed.threshold = 5.0;
    store.upsert_alarm(&changed).expect("update");
    let status = &store.alarms().expect("alarms")[0];
    assert_eq!(
        (status.state, status.config.threshold),
        (AlarmState::Ok, 5.0)
    );
    let mut bad = alarm(vec![ActionConfig::Webhook {
        url: "ftp://x".into(),
        slack: false,
    }]);
    bad.name = "bad".into();
    assert!(store
        .upsert_alarm(&bad)
        .unwrap_err()
        .to_string()
        .contains("http://"));
    assert!(store.delete_alarm("mkdir-binary-dirs").expect("delete"));
    assert!(store.alarms().expect("alarms").is_empty());
}

fn notification() -> Notification {
    Notification {
        alarm: "mkdir-binary-dirs".into(),
        description: "someone creates directories below /bin".into(),
        previous_state: AlarmState::Ok,
        state: AlarmState::Alarm,
        value: Some(3.0),
        threshold: 1.0,
        reason: "count of 3 over the last 300 s breaches threshold 1\n.hidden line".into(),
        time: "2026-11-22T10:00:00Z".into(),
        console_url: Some("http://127.0.0.1:7777".into()),
    }
}

/// A minimal SMTP server that accepts one message and hands back (envelope, data).
fn smtp_sink() -> (String, mpsc::Receiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut r = BufReader::new(stream.try_clone().expect("clone"));
        let mut w = stream;
        let mut envelope = Vec::new();
        let mut data = String::new();
        w.write_all(b"220 sink ready\r\n").expect("greet");
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let cmd = line.trim_end().to_string();
            if cmd.starts_with("EHLO") {
                w.write_all(b"250-sink\r\n250 8BITMIME\r\n").expect("w");
            } else if cmd.starts_with("MAIL FROM") || cmd.starts_with("RCPT TO") {
                envelope.push(cmd);
                w.write_all(b"250 ok\r\n").expect("w");
            } else if cmd == "DATA" {
                w.write_all(b"354 go\r\n").expect("w");
                loop {
                    line.clear();
                    r.read_line(&mut line).expect("data");
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                w.write_all(b"250 queued\r\n").expect("w");
            } else if cmd == "QUIT" {
                w.write_all(b"221 bye\r\n").expect("w");
                break;
            }
        }
        let _ = tx.send((envelope, data));
    });
    (addr, rx)
}

#[test]
fn email_goes_through_an_smtp_relay() {
    let (addr, rx) = smtp_sink();
    send_email(
        &addr,
        "mamori@example.test",
        &["oncall@example.test".into()],
        &notification(),
        Duration::from_secs(5),
    )
    .expect("sent");
    let (envelope, data) = rx.recv_timeout(Duration::from_secs(5)).expect("message");
    assert_eq!(
        envelope,
        [
            "MAIL FROM:<mamori@example.test>",
            "RCPT TO:<oncall@example.test>"
        ]
    );
    assert!(
        data.contains("Subject: [mamori] mkdir-binary-dirs is ALARM (was OK)\r\n"),
        "{data}"
    );
    assert!(data.contains("Value: 3\r\n"));
    assert!(
        data.contains("\r\n..hidden line\r\n"),
        "dot-stuffed: {data}"
    );
}

#[test]
fn email_refuses_header_injection_and_reports_relay_errors() {
    let err = send_email(
        "127.0.0.1:1",
        "a@b\r\nBcc: x@y",
        &["c@d".into()],
        &notification(),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(err.contains("not a plain e-mail address"), "{err}");
    let err = send_email(
        "127.0.0.1:1",
        "a@b",
        &["c@d".into()],
        &notification(),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(err.contains("smtp 127.0.0.1:1"), "{err}");
}

/// Accepts one HTTP request, answers 200, hands back the body.
fn webhook_sink() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut r = BufReader::new(stream.try_clone().expect("clone"));
        let mut len = 0;
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).expect("body");
        let mut w = stream;
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("w");
        let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
    });
    (url, rx)
}

#[test]
fn webhooks_post_mamori_json_or_slack_text() {
    let (url, rx) = webhook_sink();
    let r = run_actions(
        &[ActionConfig::Webhook { url, slack: false }],
        &notification(),
        Duration::from_secs(5),
    );
    assert_eq!(r, [Ok(())]);
    let v: serde_json::Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(5)).expect("body"))
            .expect("json");
    assert_eq!(
        (
            v["alarm"].as_str(),
            v["state"].as_str(),
            v["previous_state"].as_str()
        ),
        (Some("mkdir-binary-dirs"), Some("ALARM"), Some("OK"))
    );

    let (url, rx) = webhook_sink();
    let r = run_actions(
        &[ActionConfig::Webhook { url, slack: true }],
        &notification(),
        Duration::from_secs(5),
    );
    assert_eq!(r, [Ok(())]);
    let v: serde_json::Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(5)).expect("body"))
            .expect("json");
    assert!(
        v["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("[mamori] mkdir-binary-dirs is ALARM")),
        "{v}"
    );

    let r = run_actions(
        &[ActionConfig::Webhook {
            url: "http://127.0.0.1:1/x".into(),
            slack: false,
        }],
        &notification(),
        Duration::from_secs(2),
    );
    assert!(
        r[0].as_ref()
            .is_err_and(|e| e.contains("webhook http://127.0.0.1:1/x")),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_console_fires_the_webhook_when_events_arrive() {
    use mamori_console::server::{Console, ConsoleConfig};
    let (url, rx) = webhook_sink();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ConsoleConfig::new(dir.path().to_path_buf());
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    let mut a = alarm(vec![
        ActionConfig::Log,
        ActionConfig::Webhook { url, slack: false },
    ]);
    a.evaluate_every_secs = 1;
    cfg.alarms = vec![a];
    let console = Console::open(cfg, Some("alarm-test-admin-token")).expect("console");
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    console
        .store()
        .insert(vec![event("Mkdir binary dirs", now)])
        .expect("insert");
    let (listener, _) = console.bind().await.expect("bind");
    let server = tokio::spawn(console.serve(listener, std::future::pending()));
    let body = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("join");
    server.abort();
    let v: serde_json::Value =
        serde_json::from_str(&body.expect("webhook called within 10 s")).expect("json");
    assert_eq!(v["state"], "ALARM");
    assert_eq!(v["value"], 1.0);
}
