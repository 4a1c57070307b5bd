//! OSV range evaluation (the schema's algorithm) in any implemented ordering.

use std::cmp::Ordering;

use mamori_version::{ParseVersionError, Scheme, Version};

use crate::osv::{Event, Range};

/// The result of evaluating one range against a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeHit {
    /// Fixed versions of this range that are newer than the evaluated version.
    pub fixed: Vec<String>,
}

/// A parsed event version: `None` is the `"0"` of `introduced` (before everything) or the `"*"`
/// of `limit` (after everything), depending on the event.
fn parse_event(scheme: Scheme, e: &Event) -> Result<Option<Version>, ParseVersionError> {
    match e {
        Event::Introduced(v) if v == "0" => Ok(None),
        Event::Limit(v) if v == "*" => Ok(None),
        other => Version::parse(scheme, other.version()).map(Some),
    }
}

/// Orders `None` (introduced "0") before every version.
fn cmp_opt(a: &Option<Version>, b: &Option<Version>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

/// A range with its event versions parsed and sorted once, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct PreparedRange {
    /// Events sorted by version (`None` = introduced "0" / limit "*").
    events: Vec<(Option<Version>, Event)>,
    /// Limit bounds (`None` = "*").
    limits: Vec<Option<Version>>,
    /// Positions in `events` of the `fixed` events, in version order.
    fixed: Vec<usize>,
}

impl PreparedRange {
    /// Parses and sorts the events of `range` in `scheme`.
    pub fn new(range: &Range, scheme: Scheme) -> Result<PreparedRange, ParseVersionError> {
        let mut events = Vec::with_capacity(range.events.len());
        let mut limits = Vec::new();
        for e in &range.events {
            let p = parse_event(scheme, e)?;
            if matches!(e, Event::Limit(_)) {
                limits.push(p);
            } else {
                events.push((p, e.clone()));
            }
        }
        events.sort_by(|a, b| cmp_opt(&a.0, &b.0));
        let fixed = events
            .iter()
            .enumerate()
            .filter(|(_, (p, e))| matches!(e, Event::Fixed(_)) && p.is_some())
            .map(|(i, _)| i)
            .collect();
        Ok(PreparedRange {
            events,
            limits,
            fixed,
        })
    }

    /// Whether `v` is inside the range (see [`PreparedRange::evaluate`]); when it is, the
    /// position from which [`PreparedRange::fixed_from`] lists the fixed versions above `v`.
    /// Allocates nothing.
    pub fn affects(&self, v: &Version) -> Option<usize> {
        if !self.limits.is_empty() && !self.limits.iter().any(|l| l.as_ref().is_none_or(|l| v < l))
        {
            return None;
        }
        let mut affected = false;
        for (p, e) in &self.events {
            match e {
                Event::Introduced(_) => {
                    if p.as_ref().is_none_or(|p| v >= p) {
                        affected = true;
                    }
                }
                Event::Fixed(_) => {
                    if p.as_ref().is_some_and(|p| v >= p) {
                        affected = false;
                    }
                }
                Event::LastAffected(_) => {
                    if p.as_ref().is_some_and(|p| v > p) {
                        affected = false;
                    }
                }
                Event::Limit(_) => {}
            }
        }
        affected.then(|| {
            self.fixed
                .partition_point(|&i| self.events[i].0.as_ref().is_some_and(|p| p <= v))
        })
    }

    /// The fixed versions from position `from` on (as returned by [`PreparedRange::affects`]),
    /// in version order.
    pub fn fixed_from(&self, from: usize) -> impl Iterator<Item = &str> + Clone {
        self.fixed
            .get(from..)
            .unwrap_or_default()
            .iter()
            .map(|&i| self.events[i].1.version())
    }

    /// Whether `v` is inside the range (OSV schema semantics: events sorted by version;
    /// `introduced` opens, `fixed` closes at the version, `last_affected` closes after it; `limit`
    /// bounds the whole range). Returns the fixed versions above `v` when it is affected.
    pub fn evaluate(&self, v: &Version) -> Option<RangeHit> {
        let from = self.affects(v)?;
        Some(RangeHit {
            fixed: self.fixed_from(from).map(str::to_string).collect(),
        })
    }
}

/// Whether `v` is inside `range`; see [`PreparedRange::evaluate`]. Errors when an event version
/// does not parse in `scheme`.
pub fn evaluate(
    range: &Range,
    scheme: Scheme,
    v: &Version,
) -> Result<Option<RangeHit>, ParseVersionError> {
    Ok(PreparedRange::new(range, scheme)?.evaluate(v))
}

/// A short human description of a range: `ECOSYSTEM >=4.0 <4.3, >=5.0 <5.2`.
pub fn describe(range: &Range) -> String {
    let kind = match range.kind {
        crate::osv::RangeKind::Semver => "SEMVER",
        crate::osv::RangeKind::Ecosystem => "ECOSYSTEM",
    };
    let parts: Vec<String> = range
        .events
        .iter()
        .map(|e| match e {
            Event::Introduced(v) if v == "0" => ">=0".to_string(),
            Event::Introduced(v) => format!(">={v}"),
            Event::Fixed(v) => format!("<{v}"),
            Event::LastAffected(v) => format!("<={v}"),
            Event::Limit(v) => format!("limit {v}"),
        })
        .collect();
    format!("{kind} {}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::RangeKind;

    fn range(events: &[(&str, &str)]) -> Range {
        Range {
            kind: RangeKind::Ecosystem,
            events: events
                .iter()
                .map(|(k, v)| match *k {
                    "i" => Event::Introduced(v.to_string()),
                    "f" => Event::Fixed(v.to_string()),
                    "l" => Event::LastAffected(v.to_string()),
                    _ => Event::Limit(v.to_string()),
                })
                .collect(),
        }
    }

    fn hit(r: &Range, s: Scheme, v: &str) -> bool {
        evaluate(r, s, &Version::parse(s, v).unwrap())
            .unwrap()
            .is_some() // ok: test
    }

    #[test]
    fn introduced_fixed_pairs() {
        let r = range(&[("i", "4.0"), ("f", "4.3"), ("i", "5.0"), ("f", "5.2")]);
        let p = Scheme::Pep440;
        assert!(!hit(&r, p, "3.9"));
        assert!(hit(&r, p, "4.0"));
        assert!(hit(&r, p, "4.2.9"));
        assert!(!hit(&r, p, "4.3"));
        assert!(!hit(&r, p, "4.9"));
        assert!(hit(&r, p, "5.1"));
        assert!(hit(&r, p, "5.2rc1"));
        assert!(!hit(&r, p, "5.2"));
        let fixed = evaluate(&r, p, &Version::parse(p, "4.1").unwrap())
            .unwrap()
            .unwrap(); // ok: test
        assert_eq!(fixed.fixed, vec!["4.3", "5.2"]);
    }

    #[test]
    fn zero_last_affected_and_limit() {
        let s = Scheme::Semver;
        let unfixed = range(&[("i", "0")]);
        assert!(hit(&unfixed, s, "0.0.0"));
        assert!(hit(&unfixed, s, "99.0.0"));
        let last = range(&[("i", "1.0.0"), ("l", "1.4.0")]);
        assert!(hit(&last, s, "1.4.0"));
        assert!(!hit(&last, s, "1.4.1"));
        assert!(!hit(&last, s, "0.9.0"));
        let limited = range(&[("i", "0"), ("l", "*"), ("x", "2.0.0")]);
        let limited = Range {
            kind: RangeKind::Semver,
            events: vec![limited.events[0].clone(), limited.events[2].clone()],
        };
        assert!(hit(&limited, s, "1.9.9"));
        assert!(!hit(&limited, s, "2.0.0"));
    }

    #[test]
    fn rpm_epoch_in_fixed() {
        let r = range(&[("i", "0"), ("f", "1:1.26.0-14.el8_3")]);
        let s = Scheme::Rpm;
        assert!(hit(&r, s, "1:1.26.0-13.el8"));
        assert!(hit(&r, s, "1.30.0-1.el8")); // epoch 0 < 1
        assert!(!hit(&r, s, "1:1.26.0-14.el8_3"));
        assert!(!hit(&r, s, "1:1.26.0-14.el8_3.1"));
    }
}
