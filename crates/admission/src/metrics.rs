//! Prometheus metrics: requests by HTTP code, decisions by outcome, a latency histogram.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mamori_policy::DecisionKind;

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

/// Counters shared by all request handlers.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; CODES.len() + 1],
    decisions: [AtomicU64; DECISIONS.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
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
    }
}
