//! Prometheus metrics: requests by HTTP code, decisions by outcome, a latency histogram.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::sync::Arc;

use mamori_policy::DecisionKind;

use crate::namespaces::{NamespaceCache, WatchStats};
use crate::tls::ReloadingCert;

/// Histogram bucket upper bounds in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

const CODES: [u16; 6] = [200, 400, 404, 413, 500, 503];
const DECISIONS: [DecisionKind; 5] = [
    DecisionKind::Allowed,
    DecisionKind::Audited,
    DecisionKind::Warned,
    DecisionKind::Denied,
    DecisionKind::Bypassed,
];

/// A value read when `/metrics` is scraped.
pub type Probe = Box<dyn Fn() -> f64 + Send + Sync>;

struct Extra {
    name: String,
    help: String,
    kind: &'static str,
    probe: Probe,
}

/// Counters shared by all request handlers, plus gauges and counters other parts register
/// (certificate expiry and reloads, namespace watch, scan cache).
#[derive(Default)]
pub struct Metrics {
    requests: [AtomicU64; CODES.len() + 1],
    decisions: [AtomicU64; DECISIONS.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    extra: std::sync::Mutex<Vec<Extra>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counts one `/validate` request answered with HTTP `code` after `elapsed`.
    pub fn observe_request(&self, code: u16, elapsed: Duration) {
        let i = CODES.iter().position(|c| *c == code).unwrap_or(CODES.len());
        self.requests[i].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        for (b, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Counts one decision.
    pub fn observe_decision(&self, kind: DecisionKind) {
        if let Some(i) = DECISIONS.iter().position(|k| *k == kind) {
            self.decisions[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Registers a gauge read at each scrape (`name` must be a valid metric name).
    pub fn gauge(&self, name: &str, help: &str, probe: Probe) {
        self.register(name, help, "gauge", probe);
    }

    /// Registers a counter read at each scrape.
    pub fn counter(&self, name: &str, help: &str, probe: Probe) {
        self.register(name, help, "counter", probe);
    }

    fn register(&self, name: &str, help: &str, kind: &'static str, probe: Probe) {
        let mut x = self.extra.lock().unwrap_or_else(|p| p.into_inner());
        x.retain(|e| e.name != name);
        x.push(Extra {
            name: name.to_string(),
            help: help.to_string(),
            kind,
            probe,
        });
    }

    /// Registers the serving certificate's expiry and reload counters (rotation monitoring:
    /// alert when `mamori_admission_certificate_expiry_seconds` drops below a few weeks, or
    /// when reload errors grow).
    pub fn watch_certificate(&self, certs: Arc<ReloadingCert>) {
        let c = certs.clone();
        self.gauge(
            "mamori_admission_certificate_not_after_seconds",
            "notAfter of the serving certificate (seconds since the epoch).",
            Box::new(move || c.not_after() as f64),
        );
        let c = certs.clone();
        self.gauge(
            "mamori_admission_certificate_expiry_seconds",
            "Seconds until the serving certificate expires (negative once expired).",
            Box::new(move || {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                (c.not_after() - now) as f64
            }),
        );
        let c = certs.clone();
        self.counter(
            "mamori_admission_certificate_reloads_total",
            "Serving certificate reloads after the files changed (rotations).",
            Box::new(move || c.reloads() as f64),
        );
        self.counter(
            "mamori_admission_certificate_reload_errors_total",
            "Failed serving certificate reloads (the previous certificate is kept).",
            Box::new(move || certs.reload_errors() as f64),
        );
    }

    /// Registers the namespace watch's state and counters.
    pub fn watch_namespaces(&self, cache: Arc<NamespaceCache>) {
        let c = cache.clone();
        self.gauge(
            "mamori_admission_namespace_labels_synced",
            "1 once the namespace list has been loaded, else 0.",
            Box::new(move || f64::from(u8::from(c.is_synced()))),
        );
        let c = cache.clone();
        self.gauge(
            "mamori_admission_namespaces",
            "Namespaces whose labels are known.",
            Box::new(move || c.len() as f64),
        );
        type Pick = fn(&WatchStats) -> &AtomicU64;
        let counters: [(&str, &str, Pick); 4] = [
            (
                "mamori_admission_namespace_lists_total",
                "Namespace lists (first list and relists).",
                |s| &s.lists,
            ),
            (
                "mamori_admission_namespace_watches_total",
                "Namespace watch requests (resumes included).",
                |s| &s.watches,
            ),
            (
                "mamori_admission_namespace_events_total",
                "Namespace watch events applied.",
                |s| &s.events,
            ),
            (
                "mamori_admission_namespace_watch_errors_total",
                "Failed namespace list/watch requests.",
                |s| &s.errors,
            ),
        ];
        for (name, help, pick) in counters {
            let c = cache.clone();
            self.counter(
                name,
                help,
                Box::new(move || pick(c.stats()).load(Ordering::Relaxed) as f64),
            );
        }
    }

    /// Total `/validate` requests so far.
    pub fn total_requests(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP mamori_admission_requests_total AdmissionReview requests by HTTP status code."
        );
        let _ = writeln!(s, "# TYPE mamori_admission_requests_total counter");
        for (i, c) in self.requests.iter().enumerate() {
            let code = CODES.get(i).map_or("other".to_string(), u16::to_string);
            let _ = writeln!(
                s,
                "mamori_admission_requests_total{{code=\"{code}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mamori_admission_decisions_total Admission decisions by outcome."
        );
        let _ = writeln!(s, "# TYPE mamori_admission_decisions_total counter");
        for (k, c) in DECISIONS.iter().zip(&self.decisions) {
            let _ = writeln!(
                s,
                "mamori_admission_decisions_total{{decision=\"{}\"}} {}",
                k.as_str(),
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mamori_admission_request_duration_seconds Time to answer one AdmissionReview."
        );
        let _ = writeln!(
            s,
            "# TYPE mamori_admission_request_duration_seconds histogram"
        );
        for (b, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                s,
                "mamori_admission_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "mamori_admission_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(s, "mamori_admission_request_duration_seconds_sum {sum}");
        let _ = writeln!(s, "mamori_admission_request_duration_seconds_count {count}");
        let extra = self.extra.lock().unwrap_or_else(|p| p.into_inner());
        for e in extra.iter() {
            let _ = writeln!(s, "# HELP {} {}", e.name, e.help);
            let _ = writeln!(s, "# TYPE {} {}", e.name, e.kind);
            let _ = writeln!(s, "{} {}", e.name, (e.probe)());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe_request(200, Duration::from_micros(300));
        m.observe_request(400, Duration::from_millis(3));
        m.observe_decision(DecisionKind::Denied);
        let t = m.render();
        assert!(
            t.contains("mamori_admission_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("mamori_admission_request_duration_seconds_bucket{le=\"0.005\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("mamori_admission_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(t.contains("mamori_admission_requests_total{code=\"400\"} 1\n"));
        assert!(t.contains("mamori_admission_decisions_total{decision=\"denied\"} 1\n"));
        assert_eq!(m.total_requests(), 2);
        m.gauge("x_seconds", "An x.", Box::new(|| 1.5));
        m.gauge("x_seconds", "An x, replaced.", Box::new(|| 2.0));
        let t = m.render();
        assert!(t.contains("# TYPE x_seconds gauge\nx_seconds 2\n"), "{t}");
        assert_eq!(t.matches("x_seconds").count(), 3, "{t}");
    }
}
