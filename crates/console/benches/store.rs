#![allow(missing_docs)] // criterion macros generate undocumented items
//! Console hot paths: ingest of batched Falco alerts (decode only as the baseline, store insert,
//! and HTTP POST over loopback) and queries on a store of 1,000,000 events.
//!
//! `cargo bench -p mamori-console`; `MAMORI_BENCH_EVENTS` changes the store size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_console::ingest::decode_body;
use mamori_console::model::{EventFilter, GroupBy};
use mamori_console::ratelimit::RateLimitConfig;
use mamori_console::server::{Console, ConsoleConfig};
use mamori_console::store::{EventStore, SqliteStore, StoreOptions, Synchronous};

const TOKEN: &str = "bench-admin-token-0123456789";
const RULES: [&str; 6] = [
    "Read sensitive file untrusted",
    "Terminal shell in container",
    "Write below etc",
    "Mkdir binary dirs",
    "Launch Package Management Process in Container",
    "Redirect STDOUT/STDIN to Network Connection in Container",
];
const PRIOS: [&str; 4] = ["Warning", "Notice", "Error", "Critical"];

/// 2026-11-22T00:00:00Z, ns.
const DAY_START: i64 = 1_795_305_600_000_000_000;
const SECOND: i64 = 1_000_000_000;

/// How alert times relate to arrival order.
#[derive(Clone, Copy)]
enum Times {
    /// As they arrive from a fleet: a day of alerts in arrival order, each up to 30 s early or
    /// late (node clocks, batching delays).
    Arrival { events: usize },
    /// Times with no relation to arrival order, spread over a day (a backfill in random order):
    /// the worst case for the block time ranges.
    Shuffled,
}

impl Times {
    fn of(self, i: usize) -> i64 {
        let mix = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
        match self {
            Times::Arrival { events } => {
                let step = 86_400 * SECOND / events.max(1) as i64;
                DAY_START + i as i64 * step + (mix % 60_000) as i64 * 1_000_000 - 30 * SECOND
            }
            Times::Shuffled => DAY_START + (mix % (86_400 * 1000)) as i64 * 1_000_000,
        }
    }
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t))
        .expect("time in range")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

fn alert(i: usize, times: Times) -> String {
    let rule = RULES[i % RULES.len()];
    let prio = PRIOS[i % PRIOS.len()];
    let ns = ["default", "shop", "payments", "kube-system"][i % 4];
    format!(
        r#"{{"hostname":"node-{}","output":"12:00:00.000000000: {prio} {rule} (user=root command=cat /etc/shadow pid={i} container=3ad7b26ded6d)","priority":"{prio}","rule":"{rule}","source":"syscall","tags":["container","filesystem","mitre_credential_access"],"time":"{}","output_fields":{{"container.id":"3ad7b26ded6d","container.image.repository":"nginx","evt.time":1700000000000000000,"fd.name":"/etc/shadow","k8s.ns.name":"{ns}","k8s.pod.name":"web-{}","proc.cmdline":"cat /etc/shadow","proc.name":"cat","user.name":"root"}}}}"#,
        i % 8,
        rfc3339(times.of(i)),
        i % 50
    )
}

fn ndjson(start: usize, n: usize, times: Times) -> String {
    (start..start + n)
        .map(|i| alert(i, times))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ingest(c: &mut Criterion) {
    let body = ndjson(0, 500, Times::Arrival { events: 1_000_000 });
    let mut g = c.benchmark_group("ingest_500_alerts");
    g.throughput(Throughput::Elements(500));
    g.bench_function("decode_only_baseline", |b| {
        b.iter(|| decode_body(body.as_bytes(), 0))
    });

    for (name, sync) in [
        ("decode_and_store_full", Synchronous::Full),
        ("decode_and_store_normal", Synchronous::Normal),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_with(
            &dir.path().join("events.db"),
            StoreOptions { synchronous: sync },
        )
        .expect("store");
        g.bench_function(name, |b| {
            b.iter(|| {
                let d = decode_body(body.as_bytes(), 0);
                store.insert(&d.events).expect("insert")
            })
        });
    }

    // HTTP over loopback with keep-alive, against a real server: one client, then several
    // clients at once (their batches share commits).
    for sync in [Synchronous::Full, Synchronous::Normal] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = ConsoleConfig::new(dir.path().to_path_buf());
        cfg.listen = "127.0.0.1:0".parse().expect("addr");
        cfg.synchronous = sync;
        // The bench measures the store, not the limiter.
        cfg.rate_limit = RateLimitConfig::unlimited();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let console = Console::open(cfg, Some(TOKEN)).expect("console");
        let (listener, addr) = rt.block_on(console.bind()).expect("bind");
        rt.spawn(console.serve(listener, std::future::pending()));
        let tag = match sync {
            Synchronous::Full => "full",
            Synchronous::Normal => "normal",
        };
        for clients in [1usize, 4, 8] {
            let mut conns: Vec<Client> = (0..clients).map(|_| Client::connect(addr)).collect();
            g.throughput(Throughput::Elements(500 * clients as u64));
            g.bench_function(format!("http_post_loopback_{tag}_{clients}_clients"), |b| {
                b.iter_custom(|iters| {
                    let started = Instant::now();
                    std::thread::scope(|s| {
                        for conn in conns.iter_mut() {
                            let body = &body;
                            s.spawn(move || {
                                for _ in 0..iters {
                                    conn.post(body);
                                }
                            });
                        }
                    });
                    started.elapsed()
                })
            });
        }
        drop(rt);
    }
    g.finish();
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    conn: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: std::net::SocketAddr) -> Client {
        let conn = TcpStream::connect(addr).expect("connect");
        conn.set_nodelay(true).expect("nodelay");
        let reader = BufReader::new(conn.try_clone().expect("clone"));
        Client { conn, reader }
    }

    fn post(&mut self, body: &str) -> u16 {
        write!(
            self.conn,
            "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        read_response(&mut self.reader)
    }
}

fn read_response(r: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut len = 0usize;
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
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    status
}

/// Whether the command line's filter (the first argument that is not a flag) can select a bench
/// of `group`: building the 1M-event store takes a while, skip it when only ingest is wanted.
fn wanted(group: &str) -> bool {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a.starts_with("--") {
            // Flags with a value.
            if matches!(
                a.as_str(),
                "--warm-up-time"
                    | "--measurement-time"
                    | "--sample-size"
                    | "--save-baseline"
                    | "--baseline"
                    | "--profile-time"
            ) {
                args.next();
            }
            continue;
        }
        return group.contains(&a) || a.contains(group);
    }
    true
}

fn queries(c: &mut Criterion) {
    if !wanted("query_") {
        return;
    }
    let n: usize = std::env::var("MAMORI_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (_dir, store) = build_store(n, Times::Arrival { events: n });
    let end = DAY_START + 86_400 * SECOND;

    let filters = [
        // The console's default view: one rule over the last three hours.
        (
            "rule_last_3h",
            EventFilter {
                rule: Some(RULES[1].into()),
                since_ns: Some(end - 3 * 3600 * SECOND),
                ..Default::default()
            },
        ),
        // Five minutes in the middle of the day, any rule.
        (
            "window_5min_at_noon",
            EventFilter {
                since_ns: Some(DAY_START + 12 * 3600 * SECOND),
                until_ns: Some(DAY_START + 12 * 3600 * SECOND + 300 * SECOND),
                ..Default::default()
            },
        ),
        (
            "rule_and_namespace",
            EventFilter {
                rule: Some(RULES[1].into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
        ),
        (
            "min_priority_critical",
            EventFilter {
                min_priority: Some("critical".into()),
                ..Default::default()
            },
        ),
        (
            "pod",
            EventFilter {
                pod: Some("web-7".into()),
                ..Default::default()
            },
        ),
        (
            "text_in_output",
            EventFilter {
                text: Some("pid=99999".into()),
                ..Default::default()
            },
        ),
        // In every event: the newest block fills the page.
        (
            "text_common",
            EventFilter {
                text: Some("/etc/shadow".into()),
                ..Default::default()
            },
        ),
        // In no event, with trigrams that are not in any event either.
        (
            "text_absent",
            EventFilter {
                text: Some("nc -e /bin/sh".into()),
                ..Default::default()
            },
        ),
        // In no event (a notice is never of that rule here), though every trigram of it is in
        // every block: no block can be skipped, so a page reads the whole scan window (the
        // index's worst case).
        (
            "text_absent_common_trigrams",
            EventFilter {
                text: Some("Notice Read sensitive file".into()),
                ..Default::default()
            },
        ),
    ];
    let mut g = c.benchmark_group(format!("query_{n}_events"));
    for (name, f) in &filters {
        g.bench_function(format!("page50_{name}"), |b| {
            b.iter(|| store.query(f, None, 50).expect("query"))
        });
        // Criterion reports means; the goal is on p99, so measure it directly too.
        let mut samples: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                store.query(f, None, 50).expect("query");
                t.elapsed()
            })
            .collect();
        samples.sort();
        eprintln!(
            "page50_{name}: p50 {:?} p99 {:?}",
            samples[100], samples[197]
        );
    }
    let all = EventFilter::default();
    let last_3h = EventFilter {
        since_ns: Some(end - 3 * 3600 * SECOND),
        ..Default::default()
    };
    g.bench_function("aggregate_by_rule_last_3h", |b| {
        b.iter(|| {
            store
                .aggregate(&last_3h, GroupBy::Rule, 0, 20)
                .expect("agg")
        })
    });
    g.bench_function("aggregate_by_time_5min_last_3h", |b| {
        b.iter(|| {
            store
                .aggregate(&last_3h, GroupBy::Time, 300, 10_000)
                .expect("agg")
        })
    });
    g.bench_function("aggregate_by_rule_all", |b| {
        b.iter(|| store.aggregate(&all, GroupBy::Rule, 0, 20).expect("agg"))
    });
    g.bench_function("aggregate_by_time_5min_all", |b| {
        b.iter(|| {
            store
                .aggregate(&all, GroupBy::Time, 300, 10_000)
                .expect("agg")
        })
    });
    g.finish();
    drop(store);

    // The worst case for time filters: times in no relation to ids, so every block's time range
    // spans the day and a time filter cannot narrow the ids read.
    let (_dir2, shuffled) = build_store(n, Times::Shuffled);
    let mut g = c.benchmark_group(format!("query_{n}_events_shuffled_times"));
    let noon = EventFilter {
        since_ns: Some(DAY_START + 12 * 3600 * SECOND),
        until_ns: Some(DAY_START + 12 * 3600 * SECOND + 300 * SECOND),
        ..Default::default()
    };
    g.bench_function("page50_window_5min_at_noon", |b| {
        b.iter(|| shuffled.query(&noon, None, 50).expect("query"))
    });
    g.bench_function("aggregate_by_rule_last_3h", |b| {
        b.iter(|| {
            shuffled
                .aggregate(&last_3h, GroupBy::Rule, 0, 20)
                .expect("agg")
        })
    });
    g.finish();
}

/// A store of `n` bench alerts, inserted in batches of 10,000.
fn build_store(n: usize, times: Times) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    let started = Instant::now();
    for chunk in (0..n).step_by(10_000) {
        let body = ndjson(chunk, 10_000.min(n - chunk), times);
        store
            .insert(&decode_body(body.as_bytes(), 0).events)
            .expect("insert");
    }
    eprintln!(
        "built a store of {n} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (dir, store)
}

criterion_group! {

    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = ingest, queries
}
criterion_main!(benches);
