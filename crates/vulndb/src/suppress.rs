//! Suppression (placeholder, filled below).

/// Why a match is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    /// Where the rule came from.
    pub source: String,
    /// Reason or justification.
    pub reason: String,
}

/// A set of suppression rules.
#[derive(Debug, Default)]
pub struct Suppressions;
