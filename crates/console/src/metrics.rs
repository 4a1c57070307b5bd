//! Counters and latency histograms for `/metrics` (Prometheus text format 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::alarms::{AlarmState, AlarmStatus};
use crate::ratelimit::Limit;

const BUCKETS_MS: [f64; 10] = [0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];

/// A fixed-bucket latency histogram.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        for (i, le) in BUCKETS_MS.iter().enumerate() {
            if ms <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, out: &mut String) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, le) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {}",
                le / 1000.0,
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The console's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    ingested: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    limited_requests: AtomicU64,
    limited_events: AtomicU64,
    ingest_latency: Histogram,
    query_latency: Histogram,
}

impl Metrics {
    /// Counts stored events and the time the ingest call took.
    pub fn record_ingested(&self, n: u64, took: Duration) {
        self.ingested.fetch_add(n, Ordering::Relaxed);
        self.ingest_latency.observe(took);
    }

    /// Counts items rejected as invalid.
    pub fn record_rejected(&self, n: u64) {
        self.rejected.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts valid events the store could not take (the caller got a 5xx and may retry).
    pub fn record_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a request refused by a rate limit.
    pub fn record_rate_limited(&self, limit: Limit) {
        match limit {
            Limit::Requests => &self.limited_requests,
            Limit::Events => &self.limited_events,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Records the latency of a query.
    pub fn record_query(&self, took: Duration) {
        self.query_latency.observe(took);
    }

    /// Events stored so far.
    pub fn ingested(&self) -> u64 {
        self.ingested.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition, with the current state of each alarm (one series per
    /// alarm and state, 1 for the current one, as `kube-state-metrics` does for phases).
    pub fn render(&self, alarms: &[AlarmStatus]) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            (
                "mamori_console_events_ingested_total",
                "Events stored.",
                &self.ingested,
            ),
            (
                "mamori_console_events_rejected_total",
                "Invalid events rejected.",
                &self.rejected,
            ),
            (
                "mamori_console_events_dropped_total",
                "Valid events the store could not take.",
                &self.dropped,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let name = "mamori_console_rate_limited_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests refused by a per-token rate limit.\n# TYPE {name} counter"
        );
        for (limit, v) in [
            (Limit::Requests, &self.limited_requests),
            (Limit::Events, &self.limited_events),
        ] {
            let _ = writeln!(
                out,
                "{name}{{limit=\"{}\"}} {}",
                limit.as_str(),
                v.load(Ordering::Relaxed)
            );
        }
        let name = "mamori_console_alarm_state";
        let _ = writeln!(
            out,
            "# HELP {name} Alarm state: 1 for the current state.\n# TYPE {name} gauge"
        );
        for a in alarms {
            for st in [
                AlarmState::Ok,
                AlarmState::Alarm,
                AlarmState::InsufficientData,
            ] {
                let _ = writeln!(
                    out,
                    "{name}{{alarm=\"{}\",state=\"{}\"}} {}",
                    escape_label(&a.config.name),
                    st.as_str(),
                    u8::from(a.state == st)
                );
            }
        }
        self.ingest_latency
            .render("mamori_console_ingest_seconds", &mut out);
        self.query_latency
            .render("mamori_console_query_seconds", &mut out);
        out
    }
}

/// Escapes a Prometheus label value (backslash, quote, newline).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
