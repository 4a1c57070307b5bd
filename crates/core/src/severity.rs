//! The severity scale shared by every finding and event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How serious a finding is.
///
/// Ordered from least to most serious: `Unknown < Info < Low < Medium < High < Critical`, so that
/// `finding.severity >= threshold` reads naturally. `Unknown` sorts lowest because a severity that
/// nobody rated must never trip a gate set at `low` or above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Not rated by the source.
    Unknown,
    /// Informational: no direct risk.
    Info,
    /// Low risk.
    Low,
    /// Medium risk.
    Medium,
    /// High risk.
    High,
    /// Critical risk.
    Critical,
}

impl Severity {
    /// Every severity, from least to most serious.
    pub const ALL: [Severity; 6] = [
        Severity::Unknown,
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name used in output and accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The SARIF `level` for this severity (`error`, `warning` or `note`).
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info | Severity::Unknown => "note",
        }
    }

    /// The severity for a CVSS base score, using the CVSS v3 qualitative rating scale.
    pub fn from_cvss_score(score: f64) -> Severity {
        match score {
            s if s.is_nan() => Severity::Unknown,
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Info,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that names no severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {input:?} (expected one of critical, high, medium, low, info, unknown)")]
pub struct ParseSeverityError {
    input: String,
}

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Parses a severity name, ignoring ASCII case and surrounding blanks. `informational`,
    /// `moderate` (GitHub advisories) and `negligible` (Debian) are accepted as synonyms.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let sev = match t.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" => Severity::Low,
            "info" | "informational" | "none" => Severity::Info,
            "unknown" => Severity::Unknown,
            _ => {
                return Err(ParseSeverityError {
                    input: s.to_string(),
                })
            }
        };
        Ok(sev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_severity() -> impl Strategy<Value = Severity> {
        prop::sample::select(Severity::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(sev in any_severity()) {
            prop_assert_eq!(sev.to_string().parse::<Severity>(), Ok(sev));
        }

        #[test]
        fn parse_ignores_case_and_blanks(sev in any_severity(), upper in any::<bool>()) {
            let text = if upper { sev.as_str().to_uppercase() } else { sev.as_str().to_string() };
            prop_assert_eq!(format!("  {text}\t").parse::<Severity>(), Ok(sev));
        }

        #[test]
        fn order_agrees_with_rank(a in any_severity(), b in any_severity()) {
            let rank = |s: Severity| Severity::ALL.iter().position(|x| *x == s);
            prop_assert_eq!(a.cmp(&b), rank(a).cmp(&rank(b)));
        }

        #[test]
        fn order_is_transitive(a in any_severity(), b in any_severity(), c in any_severity()) {
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
        }

        #[test]
        fn garbage_never_parses(s in "[a-z]{0,12}") {
            let known = ["critical","high","important","medium","moderate","low","negligible",
                         "info","informational","none","unknown"];
            prop_assert_eq!(s.parse::<Severity>().is_ok(), known.contains(&s.as_str()));
        }
    }

    #[test]
    fn critical_is_the_top_and_unknown_the_bottom() {
        assert_eq!(Severity::ALL.iter().max(), Some(&Severity::Critical));
        assert_eq!(Severity::ALL.iter().min(), Some(&Severity::Unknown));
    }

    #[test]
    fn cvss_scores_map_to_the_v3_rating_scale() {
        assert_eq!(Severity::from_cvss_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_cvss_score(7.0), Severity::High);
        assert_eq!(Severity::from_cvss_score(6.9), Severity::Medium);
        assert_eq!(Severity::from_cvss_score(0.1), Severity::Low);
        assert_eq!(Severity::from_cvss_score(0.0), Severity::Info);
    }

    #[test]
    fn error_names_the_input() {
        let err = "severe".parse::<Severity>().unwrap_err();
        assert!(err.to_string().contains("\"severe\""), "{err}");
    }
}
