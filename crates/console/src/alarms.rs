//! Alarms in the manner of CloudWatch: count the events that match a filter over a sliding window,
//! compare with a threshold, and act when the state changes.
//!
//! States: `INSUFFICIENT_DATA` until the first evaluation (and whenever the store cannot answer),
//! then `OK` or `ALARM`. Every transition is kept in the alarm's history and runs its actions.

mod actions;
mod evaluator;

pub use actions::{run_actions, send_email, ActionConfig, Notification};
pub use evaluator::evaluate_due;

use serde::{Deserialize, Serialize};

use crate::model::EventFilter;

/// The state of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// The condition does not hold.
    Ok,
    /// The condition holds.
    Alarm,
    /// Not evaluated yet, or the data could not be read.
    InsufficientData,
}

impl AlarmState {
    /// The name as stored and shown (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<AlarmState> {
        match s {
            "OK" => Some(AlarmState::Ok),
            "ALARM" => Some(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }
}

/// How the statistic is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// statistic >= threshold.
    #[serde(rename = ">=", alias = "GreaterThanOrEqualToThreshold")]
    GreaterOrEqual,
    /// statistic > threshold.
    #[serde(rename = ">", alias = "GreaterThanThreshold")]
    Greater,
    /// statistic <= threshold.
    #[serde(rename = "<=", alias = "LessThanOrEqualToThreshold")]
    LessOrEqual,
    /// statistic < threshold.
    #[serde(rename = "<", alias = "LessThanThreshold")]
    Less,
}

impl Comparison {
    /// Whether `value` breaches `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::Greater => value > threshold,
            Comparison::LessOrEqual => value <= threshold,
            Comparison::Less => value < threshold,
        }
    }

    /// The operator as written in definitions.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterOrEqual => ">=",
            Comparison::Greater => ">",
            Comparison::LessOrEqual => "<=",
            Comparison::Less => "<",
        }
    }
}

/// The statistic computed over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    /// Number of matching events.
    #[default]
    Count,
}

/// An alarm definition (in `mamori.yaml` under `console.alarms`, or through the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmConfig {
    /// Unique name.
    pub name: String,
    /// What the alarm is for.
    #[serde(default)]
    pub description: String,
    /// Which events count.
    #[serde(default)]
    pub filter: EventFilter,
    /// Length of the sliding window, in seconds.
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// The statistic over the window.
    #[serde(default)]
    pub statistic: Statistic,
    /// How the statistic compares with the threshold.
    #[serde(default = "default_comparison")]
    pub comparison: Comparison,
    /// The threshold.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// How often to evaluate, in seconds.
    #[serde(default = "default_every")]
    pub evaluate_every_secs: u64,
    /// What to do on each state change.
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
}

fn default_window() -> u64 {
    300
}
fn default_comparison() -> Comparison {
    Comparison::GreaterOrEqual
}
fn default_threshold() -> f64 {
    1.0
}
fn default_every() -> u64 {
    60
}

impl AlarmConfig {
    /// Checks the definition; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.len() > 128 {
            return Err("alarm name must be 1 to 128 characters".into());
        }
        if self.name.contains('/') {
            return Err(format!("alarm name {:?} must not contain '/'", self.name));
        }
        if self.window_secs == 0 || self.window_secs > 31 * 86_400 {
            return Err(format!(
                "alarm {:?}: window_secs must be between 1 and 2678400",
                self.name
            ));
        }
        if self.evaluate_every_secs == 0 {
            return Err(format!(
                "alarm {:?}: evaluate_every_secs must be at least 1",
                self.name
            ));
        }
        if !self.threshold.is_finite() {
            return Err(format!(
                "alarm {:?}: threshold must be a finite number",
                self.name
            ));
        }
        for a in &self.actions {
            a.validate()
                .map_err(|e| format!("alarm {:?}: {e}", self.name))?;
        }
        Ok(())
    }

    /// The state for a statistic value.
    pub fn state_for(&self, value: f64) -> AlarmState {
        if self.comparison.holds(value, self.threshold) {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        }
    }

    /// A one-line reason for a state, in CloudWatch's manner.
    pub fn reason(&self, value: f64) -> String {
        format!(
            "{} of {value} over the last {} s {} threshold {} ({} {})",
            match self.statistic {
                Statistic::Count => "count",
            },
            self.window_secs,
            if self.comparison.holds(value, self.threshold) {
                "breaches"
            } else {
                "is within"
            },
            self.threshold,
            self.comparison.symbol(),
            self.threshold
        )
    }
}

/// An alarm with its current state, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmStatus {
    /// The definition.
    pub config: AlarmConfig,
    /// Current state.
    pub state: AlarmState,
    /// When the state was entered (ns).
    pub state_since_ns: i64,
    /// The last statistic value.
    pub last_value: Option<f64>,
    /// When the last evaluation ran (ns).
    pub last_evaluated_ns: Option<i64>,
    /// When someone acknowledged the current ALARM (ns); cleared on the next transition.
    pub acknowledged_ns: Option<i64>,
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The alarm.
    pub alarm: String,
    /// When (ns).
    pub time_ns: i64,
    /// Previous state.
    pub from: AlarmState,
    /// New state.
    pub to: AlarmState,
    /// The statistic value that caused it.
    pub value: Option<f64>,
    /// Why.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(cmp: &str, threshold: f64) -> AlarmConfig {
        serde_json::from_value(serde_json::json!({
            "name": "shadow-reads", "comparison": cmp, "threshold": threshold,
            "filter": {"rule": "Read sensitive file untrusted"}
        }))
        .expect("valid")
    }

    #[test]
    fn comparisons_follow_their_symbols() {
        assert_eq!(alarm(">=", 1.0).state_for(1.0), AlarmState::Alarm);
        assert_eq!(alarm(">=", 1.0).state_for(0.0), AlarmState::Ok);
        assert_eq!(alarm(">", 1.0).state_for(1.0), AlarmState::Ok);
        assert_eq!(alarm("<", 1.0).state_for(0.0), AlarmState::Alarm);
        assert_eq!(
            alarm("LessThanOrEqualToThreshold", 2.0).state_for(2.0),
            AlarmState::Alarm
        );
    }

    #[test]
    fn defaults_match_the_seed_alarm() {
        // "≥ 1 event in 5 minutes" is the default shape.
        let a = alarm(">=", 1.0);
        assert_eq!(
            (a.window_secs, a.threshold, a.comparison),
            (300, 1.0, Comparison::GreaterOrEqual)
        );
        assert!(a.validate().is_ok());
        assert!(a.reason(3.0).contains("breaches"));
    }

    #[test]
    fn bad_definitions_say_why() {
        let mut a = alarm(">=", 1.0);
        a.window_secs = 0;
        assert!(a.validate().unwrap_err().contains("window_secs"));
        let err =
            serde_json::from_value::<AlarmConfig>(serde_json::json!({"name": "x", "treshold": 1}))
                .unwrap_err()
                .to_string();
        assert!(err.contains("treshold"), "{err}");
        let err = serde_json::from_value::<AlarmConfig>(
            serde_json::json!({"name": "x", "comparison": "=="}),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("=="), "{err}");
    }
}
