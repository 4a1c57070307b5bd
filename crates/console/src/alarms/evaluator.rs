//! Evaluating alarms that are due.

use super::{AlarmConfig, AlarmState, Transition};
use crate::model::EventFilter;
use crate::store::EventStore;

/// Evaluates every alarm whose period has elapsed at `now_ns`, records the results, and returns
/// the transitions with their definitions (so the caller can run the actions).
pub fn evaluate_due(store: &dyn EventStore, now_ns: i64) -> Vec<(Transition, AlarmConfig)> {
    let alarms = match store.alarms() {
        Ok(a) => a,
        Err(error) => {
            tracing::warn!(%error, "Cannot read alarms.");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for status in alarms {
        let cfg = status.config;
        let every = i64::try_from(cfg.evaluate_every_secs)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1_000_000_000);
        if status
            .last_evaluated_ns
            .is_some_and(|last| now_ns - last < every)
        {
            continue;
        }
        let window = i64::try_from(cfg.window_secs)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1_000_000_000);
        let filter = EventFilter {
            since_ns: Some(now_ns.saturating_sub(window)),
            until_ns: Some(now_ns),
            ..cfg.filter.clone()
        };
        let (value, state, reason) = match store.count(&filter) {
            Ok(n) => {
                let v = n as f64;
                (Some(v), cfg.state_for(v), cfg.reason(v))
            }
            Err(e) => (
                None,
                AlarmState::InsufficientData,
                format!("cannot count events: {e}"),
            ),
        };
        match store.record_evaluation(&cfg.name, value, state, &reason, now_ns) {
            Ok(Some(t)) => out.push((t, cfg)),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, alarm = %cfg.name, "Cannot record alarm evaluation.")
            }
        }
    }
    out
}
