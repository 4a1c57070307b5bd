//! Rate limits per token: two token buckets for each API token, one counting requests and one
//! counting ingested events.
//!
//! A bucket holds up to `burst` units and refills at `per_sec`. A request is let through when its
//! buckets are not in debt; it then takes its cost, which may push the bucket below zero (a batch
//! larger than the burst is accepted once, and the token waits until the debt is paid back). A
//! refused request is answered 429 with `Retry-After`: the whole seconds until the bucket is back
//! at zero. Buckets are created only for tokens that authenticated, so their number is bounded by
//! the token table.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Rate limits per token (the `rate_limit` part of the console settings). `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained API requests per second per token.
    pub requests_per_sec: f64,
    /// Requests a token may make at once above the sustained rate.
    pub request_burst: f64,
    /// Sustained ingested events per second per token.
    pub events_per_sec: f64,
    /// Events a token may post at once above the sustained rate.
    pub event_burst: f64,
}

impl Default for RateLimitConfig {
    /// Per token: 100 requests/s (burst 200; a dashboard refresh makes about ten) and 20,000
    /// events/s (burst 100,000). A node's sensor rarely sends more than a few hundred alerts a
    /// second, so this only stops a runaway client from taking the whole store (whose ceiling is
    /// a few tens of thousands of events/s); a console fed by one token from a big relay should
    /// raise it.
    fn default() -> Self {
        RateLimitConfig {
            requests_per_sec: 100.0,
            request_burst: 200.0,
            events_per_sec: 20_000.0,
            event_burst: 100_000.0,
        }
    }
}

impl RateLimitConfig {
    /// No limits at all.
    pub fn unlimited() -> Self {
        RateLimitConfig {
            requests_per_sec: 0.0,
            request_burst: 0.0,
            events_per_sec: 0.0,
            event_burst: 0.0,
        }
    }

    /// Checks that every number is finite and not negative, and that a rate has a burst.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("requests_per_sec", self.requests_per_sec),
            ("request_burst", self.request_burst),
            ("events_per_sec", self.events_per_sec),
            ("event_burst", self.event_burst),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!(
                    "rate_limit.{name} must be a number >= 0, found {v}"
                ));
            }
        }
        if self.requests_per_sec > 0.0 && self.request_burst < 1.0 {
            return Err(
                "rate_limit.request_burst must be at least 1 when requests_per_sec is set".into(),
            );
        }
        if self.events_per_sec > 0.0 && self.event_burst < 1.0 {
            return Err(
                "rate_limit.event_burst must be at least 1 when events_per_sec is set".into(),
            );
        }
        Ok(())
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Requests per second.
    Requests,
    /// Events per second.
    Events,
}

impl Limit {
    /// The label used in `/metrics` and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Requests => "requests",
            Limit::Events => "events",
        }
    }
}

/// A refusal: which limit, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The limit that was hit.
    pub limit: Limit,
    /// Whole seconds until a retry can pass (at least 1), for `Retry-After`.
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, per_sec: f64, burst: f64, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * per_sec).min(burst);
        self.at = now;
    }

    fn wait_secs(&self, per_sec: f64) -> u64 {
        // In debt: wait until the level is back at zero; Retry-After is at least one second.
        ((-self.level) / per_sec).ceil().max(1.0) as u64
    }
}

#[derive(Debug, Clone, Copy)]
struct TokenBuckets {
    requests: Bucket,
    events: Bucket,
}

/// The limiter: buckets per token key (the token's hash).
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<String, TokenBuckets>>,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limits.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Admits one request of `key` (costing one request), or says how long to wait.
    pub fn admit_request(&self, key: &str, now: Instant) -> Result<(), Refused> {
        let c = self.config;
        self.with(key, now, |b| {
            take(
                &mut b.requests,
                c.requests_per_sec,
                c.request_burst,
                1.0,
                now,
                Limit::Requests,
            )
        })
    }

    /// Whether `key` may post events now (its event bucket is not in debt).
    pub fn check_events(&self, key: &str, now: Instant) -> Result<(), Refused> {
        let c = self.config;
        self.with(key, now, |b| {
            take(
                &mut b.events,
                c.events_per_sec,
                c.event_burst,
                0.0,
                now,
                Limit::Events,
            )
        })
    }

    /// Charges `n` events to `key` (after they were accepted); the bucket may go into debt.
    pub fn charge_events(&self, key: &str, n: u64, now: Instant) {
        let c = self.config;
        if c.events_per_sec <= 0.0 {
            return;
        }
        let _ = self.with(key, now, |b| {
            b.events.refill(c.events_per_sec, c.event_burst, now);
            b.events.level -= n as f64;
            Ok(())
        });
    }

    fn with(
        &self,
        key: &str,
        now: Instant,
        f: impl FnOnce(&mut TokenBuckets) -> Result<(), Refused>,
    ) -> Result<(), Refused> {
        // A poisoned lock only means another request panicked mid-update; the buckets are plain
        // numbers, so keep using them.
        let mut m = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let c = self.config;
        let b = m.entry(key.to_string()).or_insert(TokenBuckets {
            requests: Bucket {
                level: c.request_burst,
                at: now,
            },
            events: Bucket {
                level: c.event_burst,
                at: now,
            },
        });
        f(b)
    }
}

fn take(
    b: &mut Bucket,
    per_sec: f64,
    burst: f64,
    cost: f64,
    now: Instant,
    limit: Limit,
) -> Result<(), Refused> {
    if per_sec <= 0.0 {
        return Ok(());
    }
    b.refill(per_sec, burst, now);
    if b.level < cost.min(burst) || b.level < 0.0 {
        let mut debt = *b;
        debt.level -= cost.min(burst);
        return Err(Refused {
            limit,
            retry_after_secs: debt.wait_secs(per_sec),
        });
    }
    b.level -= cost;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(rps: f64, burst: f64, eps: f64, eburst: f64) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            requests_per_sec: rps,
            request_burst: burst,
            events_per_sec: eps,
            event_burst: eburst,
        })
    }

    #[test]
    fn requests_beyond_the_burst_wait_for_the_refill() {
        let l = limiter(2.0, 3.0, 0.0, 0.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.admit_request("a", t0).is_ok());
        }
        let r = l.admit_request("a", t0).expect_err("fourth is refused");
        assert_eq!(r.limit, Limit::Requests);
        assert_eq!(r.retry_after_secs, 1);
        // Half a second later one request's worth (2/s) has come back.
        assert!(l
            .admit_request("a", t0 + Duration::from_millis(500))
            .is_ok());
        assert!(l
            .admit_request("a", t0 + Duration::from_millis(500))
            .is_err());
        // Another token is not affected.
        assert!(l.admit_request("b", t0).is_ok());
    }

    #[test]
    fn a_big_batch_passes_once_then_the_debt_is_paid_back() {
        let l = limiter(0.0, 0.0, 1000.0, 500.0);
        let t0 = Instant::now();
        assert!(l.check_events("k", t0).is_ok());
        l.charge_events("k", 3500, t0);
        // 3000 in debt at 1000/s: three seconds.
        let r = l.check_events("k", t0).expect_err("in debt");
        assert_eq!((r.limit, r.retry_after_secs), (Limit::Events, 3));
        assert!(l
            .check_events("k", t0 + Duration::from_millis(2999))
            .is_err());
        assert!(l.check_events("k", t0 + Duration::from_secs(3)).is_ok());
    }

    #[test]
    fn the_bucket_never_fills_beyond_its_burst() {
        let l = limiter(1.0, 2.0, 0.0, 0.0);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(3600);
        assert!(l.admit_request("a", later).is_ok());
        assert!(l.admit_request("a", later).is_ok());
        assert!(l.admit_request("a", later).is_err());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let l = RateLimiter::new(RateLimitConfig::unlimited());
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(l.admit_request("a", t0).is_ok());
        }
        l.charge_events("a", u64::MAX, t0);
        assert!(l.check_events("a", t0).is_ok());
    }

    #[test]
    fn invalid_settings_are_refused_by_name() {
        let c = RateLimitConfig {
            events_per_sec: -1.0,
            ..RateLimitConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("events_per_sec"));
        let c = RateLimitConfig {
            request_burst: 0.0,
            ..RateLimitConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("request_burst"));
        assert!(RateLimitConfig::default().validate().is_ok());
        assert!(RateLimitConfig::unlimited().validate().is_ok());
    }
}
