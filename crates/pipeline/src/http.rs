//! HTTP POST output: bounded queue, batches, retries with exponential backoff, on a worker
//! thread. Plain `http://` only (put a local forwarder such as Falcosidekick in front for TLS).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mamori_rules::Alert;

use crate::{json_line, Counters, Output, OutputError};

/// HTTP output settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `http://host[:port][/path]`.
    pub url: String,
    /// Queue capacity; alerts beyond it are dropped.
    pub queue: usize,
    /// Maximum alerts per POST.
    pub batch: usize,
    /// How long to wait to fill a batch.
    pub linger: Duration,
    /// Attempts per batch (first try included).
    pub attempts: u32,
    /// First retry delay (doubles each time).
    pub backoff: Duration,
    /// Connect/read/write timeout.
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer TOKEN` (the mamori console's ingest token).
    pub bearer_token: Option<String>,
}

impl HttpSettings {
    /// Defaults for a URL: queue 10000, batch 100, linger 200 ms, 5 attempts from 100 ms.
    pub fn new(url: impl Into<String>) -> Self {
        HttpSettings {
            url: url.into(),
            queue: 10_000,
            batch: 100,
            linger: Duration::from_millis(200),
            attempts: 5,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
            bearer_token: None,
        }
    }
}

enum Msg {
    Alert(String),
    Flush(SyncSender<()>),
}

#[derive(Default)]
struct Shared {
    received: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// POSTs JSON arrays of alerts.
pub struct HttpOutput {
    url: String,
    tx: Option<SyncSender<Msg>>,
    worker: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOutput")
            .field("url", &self.url)
            .finish()
    }
}

struct Target {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, OutputError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| OutputError::Config(format!("'{url}': only http:// urls are supported")))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| OutputError::Config(format!("'{url}': invalid port")))?,
        ),
        None => (hostport, 80),
    };
    if host.is_empty() {
        return Err(OutputError::Config(format!("'{url}': missing host")));
    }
    Ok(Target {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

fn post(t: &Target, body: &str, timeout: Duration, token: Option<&str>) -> std::io::Result<u16> {
    let addr = (t.host.as_str(), t.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("host did not resolve"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let auth = token
        .filter(|t| !t.contains(['\r', '\n']))
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        t.path,
        t.host,
        body.len(),
        body
    )?;
    // One read may return only part of the status line (the server is free to send it in
    // pieces), so read until the line is complete, the peer closes, or 1 KiB has arrived.
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 128];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed http response"))
}

fn worker(t: Target, rx: Receiver<Msg>, s: HttpSettings, shared: Arc<Shared>) {
    let deliver = |batch: &mut Vec<String>| {
        if batch.is_empty() {
            return;
        }
        let body = format!("[{}]", batch.join(","));
        let mut delay = s.backoff;
        for attempt in 1..=s.attempts.max(1) {
            match post(&t, &body, s.timeout, s.bearer_token.as_deref()) {
                Ok(code) if (200..300).contains(&code) => {
                    shared.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                    return;
                }
                Ok(code) => tracing::warn!(code, attempt, "http output: server refused batch"),
                Err(e) => tracing::warn!(error = %e, attempt, "http output: post failed"),
            }
            if attempt < s.attempts {
                std::thread::sleep(delay);
                delay = delay.saturating_mul(2);
            }
        }
        shared
            .dropped
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
    };
    let mut batch: Vec<String> = Vec::new();
    loop {
        let msg = if batch.is_empty() {
            match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            }
        } else {
            match rx.recv_timeout(s.linger) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    deliver(&mut batch);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        match msg {
            Msg::Alert(a) => {
                batch.push(a);
                if batch.len() >= s.batch.max(1) {
                    deliver(&mut batch);
                }
            }
            Msg::Flush(ack) => {
                deliver(&mut batch);
                let _ = ack.send(());
            }
        }
    }
    deliver(&mut batch);
}

impl HttpOutput {
    /// Starts the worker.
    pub fn start(settings: HttpSettings) -> Result<Self, OutputError> {
        let target = parse_url(&settings.url)?;
        let (tx, rx) = mpsc::sync_channel(settings.queue.max(1));
        let shared = Arc::new(Shared::default());
        let sh = Arc::clone(&shared);
        let url = settings.url.clone();
        let worker = std::thread::Builder::new()
            .name("mamori-http-output".into())
            .spawn(move || worker(target, rx, settings, sh))
            .map_err(|source| OutputError::Io {
                what: "http output thread".into(),
                source,
            })?;
        Ok(HttpOutput {
            url,
            tx: Some(tx),
            worker: Some(worker),
            shared,
        })
    }
}

impl Output for HttpOutput {
    fn send(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.shared.received.fetch_add(1, Ordering::Relaxed);
        let Some(tx) = &self.tx else {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        match tx.try_send(Msg::Alert(json_line(alert))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        if let Some(tx) = &self.tx {
            let (ack_tx, ack_rx) = mpsc::sync_channel(1);
            if tx.send(Msg::Flush(ack_tx)).is_ok() {
                let _ = ack_rx.recv();
            }
        }
        Ok(())
    }

    fn counters(&self) -> Counters {
        Counters {
            received: self.shared.received.load(Ordering::Relaxed),
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
        }
    }

    fn name(&self) -> String {
        format!("http:{}", self.url)
    }
}

impl Drop for HttpOutput {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::alert;
    use std::net::TcpListener;

    fn server(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/alerts", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for code in statuses {
                let (mut s, _) = l.accept().unwrap();
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .unwrap()
                            .trim()
                            .parse()
                            .unwrap();
                        if data.len() >= i + 4 + len {
                            bodies.push(text[i + 4..].to_string());
                            break;
                        }
                    }
                }
                write!(s, "HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").unwrap();
            }
            bodies
        });
        (url, h)
    }

    #[test]
    fn status_line_split_across_packets_is_read_whole() {
        // Regression: the client read once and could see only "HTTP/1.1 ", failing a 200.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/alerts", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let mut data = Vec::new();
            while !String::from_utf8_lossy(&data).contains("\r\n\r\n[") || !data.ends_with(b"]") {
                let n = s.read(&mut buf).unwrap();
                data.extend_from_slice(&buf[..n]);
            }
            s.set_nodelay(true).unwrap();
            for piece in ["HTTP/1.1 ", "20", "0 OK\r\n", "Content-Length: 0\r\n\r\n"] {
                s.write_all(piece.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let target = parse_url(&url).unwrap();
        assert_eq!(
            post(&target, "[1]", Duration::from_secs(5), None).unwrap(),
            200
        );
        h.join().unwrap();
    }

    #[test]
    fn batches_and_retries_after_server_error() {
        let (url, h) = server(vec![503, 200]);
        let mut s = HttpSettings::new(url);
        s.backoff = Duration::from_millis(10);
        s.linger = Duration::from_secs(5);
        let mut o = HttpOutput::start(s).unwrap();
        o.send(&alert("a")).unwrap();
        o.send(&alert("b")).unwrap();
        o.flush().unwrap();
        let bodies = h.join().unwrap();
        assert_eq!(bodies.len(), 2, "one refused attempt, one accepted retry");
        let arr: Vec<serde_json::Value> = serde_json::from_str(&bodies[1]).unwrap();
        assert_eq!(arr.len(), 2);
        assert_eq!(arr[1]["rule"], "b");
        assert_eq!(
            o.counters(),
            Counters {
                received: 2,
                sent: 2,
                dropped: 0
            }
        );
    }

    #[test]
    fn unreachable_server_drops_after_attempts() {
        // Port 1 on loopback is closed, so connections are refused. (A port freed by this test
        // could be re-bound concurrently by the other server test.)
        let mut s = HttpSettings::new("http://127.0.0.1:1/");
        s.attempts = 2;
        s.backoff = Duration::from_millis(1);
        let mut o = HttpOutput::start(s).unwrap();
        o.send(&alert("a")).unwrap();
        o.flush().unwrap();
        assert_eq!(
            o.counters(),
            Counters {
                received: 1,
                sent: 0,
                dropped: 1
            }
        );
    }

    #[test]
    fn rejects_non_http_urls() {
        assert!(HttpOutput::start(HttpSettings::new("https://x")).is_err());
        assert!(HttpOutput::start(HttpSettings::new("http://:80")).is_err());
    }
}
