//! Load generator: real AdmissionReview requests over TLS keep-alive on 127.0.0.1 against an
//! in-process server (PSS restricted + image rules), compared with the same reviews decided
//! in-process without HTTP or TLS.
//!
//! ```text
//! cargo run --release -p mamori-admission --example loadgen -- [SECONDS] [RATE] [CONNECTIONS]
//! ```
//! Prints: in-process p50/p99 and req/s (one thread); closed-loop maximum req/s with p50/p99;
//! open-loop at RATE req/s with p50/p99 measured from each request's scheduled send time (so a
//! stalled server is not hidden) and from the actual send. The server runs on its own 2-worker
//! runtime; each client connection is an OS thread scheduling with `std::thread::sleep`.
//! Client and server share the machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use mamori_admission::client::Connector;
use mamori_admission::review::review;
use mamori_admission::tls::{write_self_signed, ReloadingCert};
use mamori_admission::{router, AppState, Limits, Server};
use mamori_policy::{Engine, Policy};

const POLICY: &str = r#"
apiVersion: mamori.dev/v1
kind: Policy
metadata: {name: loadgen}
spec:
  rules:
  - id: pss
    action: enforce
    podSecurity: {level: restricted, version: latest}
  - id: images
    action: enforce
    image:
      latestTag: true
      allowedRegistries: ["registry.example.com", "*.corp.example"]
      match: [{field: name, operator: contains, values: [miner]}]
"#;

fn review_body(i: usize) -> String {
    // Every fourth pod violates restricted (privileged escalation allowed), so both paths run.
    let ape = i % 4 != 0;
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u-{i}",
"kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},
"name":"web-{i}","namespace":"team-a","operation":"CREATE","userInfo":{{"username":"system:serviceaccount:kube-system:replicaset-controller","groups":["system:serviceaccounts"]}},
"object":{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web-{i}","namespace":"team-a","labels":{{"app":"web"}}}},
"spec":{{"securityContext":{{"runAsNonRoot":true,"seccompProfile":{{"type":"RuntimeDefault"}}}},
"containers":[{{"name":"web","image":"registry.example.com/web:2.0","resources":{{"limits":{{"cpu":"1","memory":"256Mi"}}}},
"securityContext":{{"allowPrivilegeEscalation":{},"capabilities":{{"drop":["ALL"]}}}}}},
{{"name":"sidecar","image":"registry.example.com/proxy:1.0","securityContext":{{"allowPrivilegeEscalation":false,"capabilities":{{"drop":["ALL"]}}}}}}],
"volumes":[{{"name":"tmp","emptyDir":{{}}}}]}}}},"oldObject":null,"dryRun":false}}}}"#,
        !ape
    )
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut lat: Vec<Duration>, elapsed: Duration, errors: usize) {
    lat.sort();
    let n = lat.len();
    println!(
        "{name:<28} n={n:<8} req/s={:<10.0} p50={:<10.1?} p99={:<10.1?} max={:<10.1?} errors={errors}",
        n as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or_default(),
    );
}

/// One client connection on its own OS thread with a single-threaded runtime, so open-loop
/// sends are scheduled with `std::thread::sleep` (microsecond precision) instead of tokio's
/// millisecond timer. Returns (latency from the scheduled time, latency from the send, errors).
#[derive(Clone, Copy)]
struct Plan {
    /// Index of the first body sent, and the stride.
    first: usize,
    step: usize,
    start_at: Instant,
    deadline: Instant,
    /// Open loop: one send per interval; closed loop: `None`.
    interval: Option<Duration>,
}

fn client_thread(
    connector: Connector,
    addr: std::net::SocketAddr,
    bodies: Arc<Vec<Bytes>>,
    plan: Plan,
) -> std::thread::JoinHandle<(Vec<Duration>, Vec<Duration>, usize)> {
    let Plan {
        first,
        step,
        start_at,
        deadline,
        interval,
    } = plan;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        rt.block_on(async move {
            let (mut sched_lat, mut send_lat, mut errors, mut i) =
                (Vec::new(), Vec::new(), 0usize, first);
            let Ok(mut conn) = connector.connect(addr).await else {
                return (sched_lat, send_lat, 1);
            };
            let mut scheduled = start_at;
            loop {
                if interval.is_some() {
                    let now = Instant::now();
                    if scheduled > now {
                        std::thread::sleep(scheduled - now);
                    }
                } else {
                    scheduled = Instant::now();
                }
                if scheduled >= deadline {
                    break;
                }
                let sent = Instant::now();
                match conn
                    .send("POST", "/validate", bodies[i % bodies.len()].clone())
                    .await
                {
                    Ok((200, _)) => {
                        sched_lat.push(scheduled.elapsed());
                        send_lat.push(sent.elapsed());
                    }
                    _ => errors += 1,
                }
                i += step;
                if let Some(iv) = interval {
                    scheduled += iv;
                }
            }
            (sched_lat, send_lat, errors)
        })
    })
}

fn run_clients(
    name: &str,
    connector: &Connector,
    addr: std::net::SocketAddr,
    bodies: &Arc<Vec<Bytes>>,
    conns: usize,
    secs: u64,
    rate: Option<u64>,
) {
    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + Duration::from_secs(secs);
    let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r as f64));
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            // Stagger the connections' schedules evenly over one interval.
            let offset = interval.map_or(Duration::ZERO, |iv| iv.mul_f64(c as f64 / conns as f64));
            client_thread(
                connector.clone(),
                addr,
                bodies.clone(),
                Plan {
                    first: c,
                    step: conns,
                    start_at: start + offset,
                    deadline,
                    interval,
                },
            )
        })
        .collect();
    let (mut sched, mut sent, mut errors) = (Vec::new(), Vec::new(), 0);
    for h in handles {
        let (a, b, e) = h.join().expect("client thread");
        sched.extend(a);
        sent.extend(b);
        errors += e;
    }
    let elapsed = start.elapsed();
    if rate.is_some() {
        report(&format!("{name} (from schedule)"), sched, elapsed, errors);
        report(&format!("{name} (from send)"), sent, elapsed, errors);
    } else {
        report(name, sent, elapsed, errors);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let rate: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let conns: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8);
    let engine = Arc::new(Engine::new(Policy::from_str_named(POLICY, "loadgen")?));
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..64).map(|i| Bytes::from(review_body(i))).collect());

    // In-process baseline: decode + decide + encode, one thread, no HTTP/TLS.
    let now = time::OffsetDateTime::now_utc();
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut denied = 0;
    while start.elapsed() < Duration::from_secs(secs.min(3)) {
        for b in bodies.iter() {
            let t = Instant::now();
            let r = review(&engine, b, now)?;
            let _ = r.body.len();
            lat.push(t.elapsed());
            denied += usize::from(!r.decision.allowed());
        }
    }
    assert!(denied > 0 && denied < lat.len(), "both outcomes exercised");
    report("in-process (1 thread)", lat, start.elapsed(), 0);

    // Server on 127.0.0.1 with a self-signed certificate, on its own 2-worker runtime.
    let dir = tempfile::tempdir()?;
    let files = write_self_signed(dir.path(), &["mamori.test".to_string()])?;
    let certs = Arc::new(ReloadingCert::new(&files.cert, &files.key)?);
    let state = AppState::new(engine.clone(), Limits::default());
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let server = server_rt.block_on(Server::bind(
        "127.0.0.1:0".parse()?,
        certs,
        router(state.clone()),
    ))?;
    let addr = server.local_addr()?;
    server_rt.spawn(server.run(std::future::pending()));
    let connector = Connector::new(&files.ca_cert, "mamori.test")?;

    run_clients(
        &format!("closed loop ({conns} conns)"),
        &connector,
        addr,
        &bodies,
        conns,
        secs,
        None,
    );
    run_clients(
        &format!("open loop @{rate}/s ({conns} conns)"),
        &connector,
        addr,
        &bodies,
        conns,
        secs,
        Some(rate),
    );
    println!(
        "server counted {} requests",
        state.metrics().total_requests()
    );
    Ok(())
}
