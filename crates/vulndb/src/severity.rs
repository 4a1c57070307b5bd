//! Severity of an advisory: CVSS vectors scored with the `cvss` crate, or a textual rating.

use std::str::FromStr;

use mamori_core::Severity;
use serde::{Deserialize, Serialize};

use crate::osv::RawSeverity;

/// A severity as mamori reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityScore {
    /// CVSS base score, when a vector was given and could be scored.
    pub score: Option<f64>,
    /// The CVSS vector (or the source's textual value).
    pub vector: Option<String>,
    /// Rating on mamori's scale.
    pub rating: Severity,
}

fn map_cvss(s: cvss::Severity) -> Severity {
    match s {
        cvss::Severity::None => Severity::Info,
        cvss::Severity::Low => Severity::Low,
        cvss::Severity::Medium => Severity::Medium,
        cvss::Severity::High => Severity::High,
        cvss::Severity::Critical => Severity::Critical,
    }
}

/// Preference among vector types: the newest CVSS version wins.
fn rank(kind: &str) -> u8 {
    match kind {
        "CVSS_V4" => 3,
        "CVSS_V3" => 2,
        "CVSS_V2" => 1,
        _ => 0,
    }
}

/// Scores one CVSS vector; `None` when the vector does not parse.
pub fn score_vector(vector: &str) -> Option<SeverityScore> {
    let parsed = cvss::Cvss::from_str(vector.trim()).ok()?;
    Some(SeverityScore {
        score: Some(parsed.score()),
        vector: Some(vector.trim().to_string()),
        rating: map_cvss(parsed.severity()),
    })
}

fn textual(value: Option<&serde_json::Value>, keys: &[&str]) -> Option<SeverityScore> {
    let obj = value?.as_object()?;
    for k in keys {
        if let Some(text) = obj.get(*k).and_then(|v| v.as_str()) {
            let rating = match text.trim().to_ascii_lowercase().as_str() {
                "unimportant" => Some(Severity::Low),
                "not yet assigned" | "untriaged" => None,
                other => Severity::from_str(other).ok(),
            };
            if let Some(rating) = rating {
                return Some(SeverityScore {
                    score: None,
                    vector: Some(text.to_string()),
                    rating,
                });
            }
        }
    }
    None
}

/// The severity of a record or affected entry: the newest scorable CVSS vector in `severity[]`,
/// else a textual rating from `database_specific.severity` (GitHub) or `ecosystem_specific`
/// (`severity`, Debian `urgency`, Ubuntu `ubuntu_priority`).
pub fn severity_from_osv(
    items: &[RawSeverity],
    database_specific: Option<&serde_json::Value>,
    ecosystem_specific: Option<&serde_json::Value>,
) -> Option<SeverityScore> {
    let mut sorted: Vec<&RawSeverity> = items.iter().filter(|s| rank(&s.kind) > 0).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(rank(&s.kind)));
    for item in sorted {
        if let Some(s) = score_vector(&item.score) {
            return Some(s);
        }
        tracing::debug!(vector = %item.score, "unscorable CVSS vector");
    }
    if let Some(s) = items.iter().find(|s| s.kind == "Ubuntu") {
        if let Ok(rating) = Severity::from_str(&s.score) {
            return Some(SeverityScore {
                score: None,
                vector: Some(s.score.clone()),
                rating,
            });
        }
    }
    textual(database_specific, &["severity"]).or_else(|| {
        textual(
            ecosystem_specific,
            &["severity", "urgency", "ubuntu_priority"],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_v3_v4_and_v2_vectors() {
        let v3 = score_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap(); // ok: test
        assert_eq!(v3.score, Some(9.8));
        assert_eq!(v3.rating, Severity::Critical);
        let v2 = score_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap(); // ok: test
        assert_eq!(v2.score, Some(7.5));
        let v4 = score_vector("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
            .unwrap(); // ok: test
        assert_eq!(v4.score, Some(9.3));
        assert!(score_vector("CVSS:3.1/garbage").is_none());
    }

    #[test]
    fn newest_vector_wins_then_text() {
        let items = vec![
            RawSeverity {
                kind: "CVSS_V2".into(),
                score: "AV:N/AC:L/Au:N/C:N/I:N/A:P".into(),
            },
            RawSeverity {
                kind: "CVSS_V3".into(),
                score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
            },
        ];
        let s = severity_from_osv(&items, None, None).unwrap(); // ok: test
        assert_eq!(s.rating, Severity::Critical);
        let ds = serde_json::json!({"severity": "MODERATE"});
        let s = severity_from_osv(&[], Some(&ds), None).unwrap(); // ok: test
        assert_eq!((s.rating, s.score), (Severity::Medium, None));
        let es = serde_json::json!({"urgency": "unimportant"});
        assert_eq!(
            severity_from_osv(&[], None, Some(&es)).map(|s| s.rating),
            Some(Severity::Low)
        );
        assert!(severity_from_osv(&[], None, None).is_none());
    }
}
