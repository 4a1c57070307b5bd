//! Prints enriched kernel events as JSON lines for a few seconds (a manual smoke test):
//! `cargo run -p mamori-sensor --example trace -- 5 openat,connect`.
use std::time::{Duration, Instant};

use mamori_sensor::container::{ContainerResolver, RuntimeRoots};
use mamori_sensor::ebpf::{Probe, ProbeConfig};
use mamori_sensor::enrich::Enricher;
use mamori_sensor::proctable::ProcTable;
use mamori_sensor::users::UserDb;
use mamori_sensor::wire::RawEvent;

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let names = std::env::args().nth(2).unwrap_or_default();
    let mut cfg = ProbeConfig::default();
    for n in names.split(',').filter(|s| !s.is_empty()) {
        cfg.syscalls.extend(mamori_sensor::syscalls::nr_of(n));
    }
    let mut probe = match Probe::load(&cfg) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            let mut s = std::error::Error::source(&e);
            while let Some(c) = s {
                eprintln!("  caused by: {c}");
                s = c.source();
            }
            std::process::exit(1);
        }
    };
    let mut en = Enricher::new(
        ProcTable::new(4096),
        std::sync::Arc::new(std::sync::Mutex::new(ContainerResolver::new(
            RuntimeRoots::default(),
            256,
        ))),
        UserDb::new(1024),
    );
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        probe.poll(Duration::from_millis(10), |b| match RawEvent::decode(b) {
            Ok(r) => {
                if let Some(e) = en.enrich(&r) {
                    println!(
                        "{}",
                        serde_json::to_string(&e.event.fields).unwrap_or_default()
                    );
                }
            }
            Err(e) => eprintln!("bad record: {e}"),
        });
    }
    eprintln!("{:?}", probe.stats());
}
