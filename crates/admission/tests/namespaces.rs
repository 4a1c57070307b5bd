//! The namespace label source against a fake Kubernetes API server written here (plain HTTP on
//! 127.0.0.1): paged list, watch events, resume from the last resourceVersion (bookmarks
//! included) after the server closes a watch, relist after `410 Gone` (as an ERROR event and as
//! an HTTP status), back-off after a 500; then the labels reaching a decision.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mamori_admission::namespaces::{
    KubeConfig, NamespaceCache, NamespaceLabels, NamespaceWatcher, StaticNamespaces, WatchSettings,
};
use mamori_admission::review::review_with;
use mamori_policy::{Engine, Policy};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake server does for each request, in order; the last step repeats.
#[derive(Clone)]
enum Step {
    /// A list page: answers only a list request (checks `continue` = `want_continue`).
    List {
        want_continue: &'static str,
        body: serde_json::Value,
    },
    /// A watch: checks `resourceVersion`, sends the lines, then closes (or hangs).
    Watch {
        want_version: &'static str,
        lines: Vec<serde_json::Value>,
        hang: bool,
    },
    /// Any request: answers this HTTP status with a Status body.
    Status(u16),
}

#[derive(Default)]
struct Log {
    requests: Vec<String>,
    problems: Vec<String>,
}

fn query<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    let q = path.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

async fn serve_one(mut s: TcpStream, step: Step, log: Arc<Mutex<Log>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let auth_ok = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("authorization:") && l.ends_with("Bearer tok-1")
    });
    {
        let mut l = log.lock().unwrap();
        l.requests.push(path.clone());
        if !auth_ok {
            l.problems.push(format!("no bearer token on {path}"));
        }
    }
    let is_watch = query(&path, "watch") == Some("1");
    let problem = |p: String| log.lock().unwrap().problems.push(p);
    match step {
        Step::List {
            want_continue,
            body,
        } => {
            if is_watch {
                problem(format!("expected a list, got {path}"));
            }
            if query(&path, "continue").unwrap_or("") != want_continue {
                problem(format!("list continue: want {want_continue:?} in {path}"));
            }
            let b = body.to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
        Step::Watch {
            want_version,
            lines,
            hang,
        } => {
            if !is_watch {
                problem(format!("expected a watch, got {path}"));
            }
            if query(&path, "resourceVersion") != Some(want_version) {
                problem(format!(
                    "watch resourceVersion: want {want_version} in {path}"
                ));
            }
            if query(&path, "allowWatchBookmarks") != Some("true") {
                problem(format!("bookmarks not asked for in {path}"));
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            for l in lines {
                // Split each event over two chunks to exercise line reassembly.
                let text = format!("{l}\n");
                let (a, b) = text.split_at(text.len() / 2);
                for part in [a, b] {
                    let chunk = format!("{:x}\r\n{part}\r\n", part.len());
                    let _ = s.write_all(chunk.as_bytes()).await;
                    let _ = s.flush().await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            if hang {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let _ = s.write_all(b"0\r\n\r\n").await;
        }
        Step::Status(code) => {
            let b = json!({"kind": "Status", "code": code, "message": "test"}).to_string();
            let resp = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    }
}

async fn fake_api(steps: Vec<Step>) -> (String, Arc<Mutex<Log>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Log::default()));
    let log2 = log.clone();
    tokio::spawn(async move {
        let mut i = 0usize;
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let step = steps[i.min(steps.len() - 1)].clone();
            i += 1;
            tokio::spawn(serve_one(s, step, log2.clone()));
        }
    });
    (url, log)
}

fn ns(name: &str, rv: &str, labels: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "resourceVersion": rv, "labels": labels}})
}

fn ev(kind: &str, obj: serde_json::Value) -> serde_json::Value {
    json!({"type": kind, "object": obj})
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn labels_of(c: &NamespaceCache, n: &str) -> Option<BTreeMap<String, String>> {
    c.labels(n).map(|l| (*l).clone())
}

#[tokio::test]
async fn list_watch_resume_relist_and_backoff() {
    let enforce = "pod-security.kubernetes.io/enforce";
    let steps = vec![
        // Paged list at version 10.
        Step::List {
            want_continue: "",
            body: json!({"kind": "NamespaceList", "metadata": {"continue": "page/2=x"},
                "items": [ns("a", "3", json!({enforce: "baseline"}))]}),
        },
        Step::List {
            want_continue: "page%2F2%3Dx",
            body: json!({"kind": "NamespaceList", "metadata": {"resourceVersion": "10"},
                "items": [ns("b", "4", json!({"team": "b"}))]}),
        },
        // Watch from 10: add c, modify a, a bookmark at 15, then the server closes the stream.
        Step::Watch {
            want_version: "10",
            lines: vec![
                ev("ADDED", ns("c", "11", json!({"team": "c"}))),
                ev("MODIFIED", ns("a", "12", json!({enforce: "privileged"}))),
                ev(
                    "BOOKMARK",
                    json!({"kind": "Namespace", "metadata": {"resourceVersion": "15"}}),
                ),
            ],
            hang: false,
        },
        // Resumed from the bookmark: delete b, then the version is too old.
        Step::Watch {
            want_version: "15",
            lines: vec![
                ev("DELETED", ns("b", "16", json!({}))),
                ev(
                    "ERROR",
                    json!({"kind": "Status", "code": 410, "reason": "Expired"}),
                ),
            ],
            hang: false,
        },
        // Relist at 20: b and c are gone (c deleted while we were not watching), d is new.
        Step::List {
            want_continue: "",
            body: json!({"kind": "NamespaceList", "metadata": {"resourceVersion": "20"},
                "items": [ns("a", "12", json!({enforce: "privileged"})), ns("d", "19", json!({"x": "y"}))]}),
        },
        // The watch fails once with 500 (back-off), then once with HTTP 410 (relist).
        Step::Status(500),
        Step::Status(410),
        Step::List {
            want_continue: "",
            body: json!({"kind": "NamespaceList", "metadata": {"resourceVersion": "30"},
                "items": [ns("a", "12", json!({enforce: "privileged"})), ns("e", "29", json!({}))]}),
        },
        Step::Watch {
            want_version: "30",
            lines: vec![ev("ADDED", ns("f", "31", json!({"k": "v"})))],
            hang: true,
        },
    ];
    let (url, log) = fake_api(steps).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1\n").unwrap();
    let cache = NamespaceCache::new();
    let settings = WatchSettings {
        page_size: 1,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..WatchSettings::default()
    };
    let w = NamespaceWatcher::new(
        &KubeConfig {
            url,
            token_file: Some(token),
            ca_file: None,
        },
        cache.clone(),
        settings,
    )
    .unwrap();
    assert!(!cache.is_synced());
    let task = tokio::spawn(w.run());

    wait_for("namespace f", || cache.labels("f").is_some()).await;
    assert!(cache.is_synced());
    let mut names: Vec<String> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .filter(|n| cache.labels(n).is_some())
        .map(|n| n.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a", "e", "f"],
        "state after the last relist + watch"
    );
    assert_eq!(
        labels_of(&cache, "a")
            .unwrap()
            .get(enforce)
            .map(String::as_str),
        Some("privileged")
    );
    let stats = cache.stats();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(stats.lists.load(Relaxed), 3, "first list + two relists");
    assert_eq!(stats.errors.load(Relaxed), 1, "the 500");
    let log = log.lock().unwrap();
    assert!(log.problems.is_empty(), "{:#?}", log.problems);
    assert_eq!(log.requests.len(), 9, "{:#?}", log.requests);
    assert!(log.requests[0].starts_with("/api/v1/namespaces?limit=1"));
    assert!(log.requests[1].contains("continue=page%2F2%3Dx"));
    task.abort();
}

#[tokio::test]
async fn intermediate_states_are_visible() {
    // The watch applies ADDED/MODIFIED/DELETED as they arrive (checked while the stream hangs).
    let steps = vec![
        Step::List {
            want_continue: "",
            body: json!({"kind": "NamespaceList", "metadata": {"resourceVersion": "5"},
                "items": [ns("a", "1", json!({"v": "1"})), ns("b", "2", json!({}))]}),
        },
        Step::Watch {
            want_version: "5",
            lines: vec![
                ev("MODIFIED", ns("a", "6", json!({"v": "2"}))),
                ev("DELETED", ns("b", "7", json!({}))),
            ],
            hang: true,
        },
    ];
    let (url, log) = fake_api(steps).await;
    let cache = NamespaceCache::new();
    let w = NamespaceWatcher::new(
        &KubeConfig {
            url,
            token_file: None,
            ca_file: None,
        },
        cache.clone(),
        WatchSettings::default(),
    )
    .unwrap();
    let task = tokio::spawn(w.run());
    wait_for("b deleted", || {
        cache.is_synced() && cache.labels("b").is_none()
    })
    .await;
    assert_eq!(
        labels_of(&cache, "a").unwrap().get("v").map(String::as_str),
        Some("2")
    );
    // This server wants no token; the watcher sent none (the log notes its absence).
    assert_eq!(log.lock().unwrap().requests.len(), 2);
    task.abort();
}

#[tokio::test]
async fn garbage_from_the_api_is_an_error_and_retried() {
    let steps = vec![
        Step::List {
            want_continue: "",
            body: json!({"items": "not a list"}),
        },
        Step::List {
            want_continue: "",
            body: json!({"metadata": {"resourceVersion": "1"}, "items": [ns("z", "1", json!({}))]}),
        },
        Step::Watch {
            want_version: "1",
            lines: vec![],
            hang: true,
        },
    ];
    let (url, _log) = fake_api(steps).await;
    let cache = NamespaceCache::new();
    let settings = WatchSettings {
        min_backoff: Duration::from_millis(20),
        ..WatchSettings::default()
    };
    let cfg = KubeConfig {
        url,
        token_file: None,
        ca_file: None,
    };
    let task = tokio::spawn(
        NamespaceWatcher::new(&cfg, cache.clone(), settings)
            .unwrap()
            .run(),
    );
    wait_for("z", || cache.labels("z").is_some()).await;
    assert_eq!(
        cache
            .stats()
            .errors
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    task.abort();
}

const POLICY: &str = r#"
apiVersion: mamori.dev/v1
kind: Policy
metadata: {name: ns-labels}
spec:
  bypass: {namespaces: [kube-system], optOutLabel: mamori.dev/ignore}
  rules:
  - id: pss
    action: enforce
    podSecurity: {level: restricted, version: latest}
  - id: no-host-pid-in-prod
    action: enforce
    scope: {namespaceSelector: {matchLabels: {env: prod}}}
    pod: {hostPID: true}
"#;

fn review_for(namespace: &str, pod: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "kind": {"kind": "Pod"}, "resource": {"resource": "pods"},
        "name": "p", "namespace": namespace, "operation": "CREATE",
        "userInfo": {"username": "alice"}, "object": pod}}),
    )
    .unwrap()
}

#[test]
fn namespace_labels_change_decisions() {
    let engine = Engine::new(Policy::from_str_named(POLICY, "p.yaml").unwrap());
    let labels = StaticNamespaces::default()
        .with(
            "relaxed",
            &[("pod-security.kubernetes.io/enforce", "baseline")],
        )
        .with("prod", &[("env", "prod")])
        .with("opted-out", &[("mamori.dev/ignore", "true")]);
    let now = time::OffsetDateTime::UNIX_EPOCH;
    // Passes baseline, fails restricted (no securityContext at all).
    let plain = json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
    let allowed = |ns: &str, pod: &serde_json::Value, src: Option<&dyn NamespaceLabels>| {
        review_with(&engine, &review_for(ns, pod.clone()), now, src)
            .unwrap()
            .decision
            .allowed()
    };
    assert!(!allowed("relaxed", &plain, None), "no labels: restricted");
    assert!(
        allowed("relaxed", &plain, Some(&labels)),
        "enforce=baseline label"
    );
    assert!(
        !allowed("unknown", &plain, Some(&labels)),
        "unknown namespace"
    );
    assert!(allowed("opted-out", &plain, Some(&labels)), "opt-out label");
    // hostPID fails baseline too; the prod-only rule adds its own result only in prod.
    let host_pid = json!({"kind": "Pod", "spec": {"hostPID": true, "containers": [{"name": "c", "image": "x:1"}]}});
    let rules = |ns: &str| {
        review_with(
            &engine,
            &review_for(ns, host_pid.clone()),
            now,
            Some(&labels),
        )
        .unwrap()
        .decision
        .results
        .iter()
        .map(|r| r.rule_id.clone())
        .collect::<Vec<_>>()
    };
    assert_eq!(rules("prod"), ["pss", "no-host-pid-in-prod"]);
    assert_eq!(rules("dev"), ["pss"]);
}
