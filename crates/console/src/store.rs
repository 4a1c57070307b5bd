//! The event store: a trait the servers use, and its SQLite implementation.
//!
//! The trait keeps the console independent of the database, so that a PostgreSQL backend can
//! follow for highly available consoles.

pub mod sqlite;

pub use sqlite::{IngestStats, SqliteStore, StoreOptions, Synchronous, SCAN_WINDOW};

use crate::alarms::{AlarmConfig, AlarmState, AlarmStatus, Transition};
use crate::auth::TokenInfo;
use crate::model::{Bucket, EventFilter, GroupBy, Page, StoredEvent};
use crate::reports::{IncomingReport, StoredReport};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is busy, locked, read-only or out of space: try again later (HTTP 503).
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The request was invalid (a bad filter value).
    #[error("invalid query: {0}")]
    Invalid(String),
    /// The database file is not a mamori store, is corrupt, or has a newer schema.
    #[error("event store at {path}: {reason}")]
    Open {
        /// Database path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Any other database error.
    #[error("event store error: {0}")]
    Other(String),
}

/// What a console needs from its store. Implementations are synchronous; servers call them from
/// blocking tasks.
pub trait EventStore: Send + Sync + 'static {
    /// Stores events durably (committed before returning) and returns their ids.
    fn insert(&self, events: Vec<StoredEvent>) -> Result<Vec<i64>, StoreError>;
    /// A page of events matching `filter`, newest first, older than the cursor `before`.
    fn query(
        &self,
        filter: &EventFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page, StoreError>;
    /// One event by id.
    fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError>;
    /// Counts of matching events grouped by `group`, largest first (time buckets in time order).
    fn aggregate(
        &self,
        filter: &EventFilter,
        group: GroupBy,
        bucket_secs: i64,
        limit: usize,
    ) -> Result<Vec<Bucket>, StoreError>;
    /// How many events match.
    fn count(&self, filter: &EventFilter) -> Result<u64, StoreError>;
    /// Deletes events older than `max_age_ns` and beyond the newest `max_rows`; returns how many.
    fn enforce_retention(
        &self,
        max_age_ns: Option<i64>,
        max_rows: Option<u64>,
    ) -> Result<u64, StoreError>;
    /// Stores a token hash under a unique name with a role, replacing any token of that name.
    fn put_token(&self, name: &str, role: &str, hash: &str) -> Result<(), StoreError>;
    /// The role of a token hash, if it is known.
    fn token_role(&self, hash: &str) -> Result<Option<String>, StoreError>;
    /// Whether a token of this name exists.
    fn has_token(&self, name: &str) -> Result<bool, StoreError>;
    /// Every token (name, role, creation time; never the hash), by name.
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
    /// Deletes the token of this name; whether it existed.
    fn delete_token(&self, name: &str) -> Result<bool, StoreError>;
    /// Creates or replaces an alarm definition (its state is kept when it exists).
    fn upsert_alarm(&self, alarm: &AlarmConfig) -> Result<(), StoreError>;
    /// Deletes an alarm and its history; whether it existed.
    fn delete_alarm(&self, name: &str) -> Result<bool, StoreError>;
    /// Every alarm with its state, by name.
    fn alarms(&self) -> Result<Vec<AlarmStatus>, StoreError>;
    /// Records an evaluation; returns the transition when the state changed.
    fn record_evaluation(
        &self,
        name: &str,
        value: Option<f64>,
        state: AlarmState,
        reason: &str,
        now_ns: i64,
    ) -> Result<Option<Transition>, StoreError>;
    /// Acknowledges the alarm's current state; whether the alarm exists.
    fn acknowledge_alarm(&self, name: &str, now_ns: i64) -> Result<bool, StoreError>;
    /// The newest transitions of an alarm, newest first.
    fn alarm_history(&self, name: &str, limit: usize) -> Result<Vec<Transition>, StoreError>;
    /// Stores a scan report and its findings; returns its id.
    fn insert_report(&self, report: &IncomingReport, received_ns: i64) -> Result<i64, StoreError>;
    /// The newest reports, newest first.
    fn reports(&self, limit: usize) -> Result<Vec<StoredReport>, StoreError>;
    /// Findings of the newest report per target (older reports of the same target are superseded),
    /// optionally only of one severity or one NIST risk id.
    fn findings(
        &self,
        severity: Option<&str>,
        risk: Option<&str>,
        limit: usize,
    ) -> Result<Vec<mamori_core::Finding>, StoreError>;
    /// Per NIST risk id: (id, findings, high-or-critical findings), over the current findings.
    fn findings_by_risk(&self) -> Result<Vec<(String, u64, u64)>, StoreError>;
}
