//! The OSV record model: raw serde types as written in files, validated into [`Advisory`].
//!
//! Validation rules: `id` and `modified` (RFC 3339) are required; each range is `SEMVER`,
//! `ECOSYSTEM` or `GIT`; each event object has exactly one of `introduced`, `fixed`,
//! `last_affected`, `limit`; a range has at least one `introduced` and never both `fixed` and
//! `last_affected`; every event version parses in the ordering of its range. `GIT` ranges cannot be
//! evaluated against package versions: they are counted and dropped. Affected entries of
//! ecosystems whose ordering is not implemented are counted and dropped too.

use std::collections::BTreeMap;

use serde::Deserialize;

use mamori_version::{Scheme, Version};

use crate::severity::{severity_from_osv, SeverityScore};

/// An OSV record exactly as found in a file (only the fields mamori uses).
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct RawRecord {
    pub id: Option<String>,
    pub modified: Option<String>,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    #[serde(default)]
    pub related: Option<Vec<String>>,
    #[serde(default)]
    pub upstream: Option<Vec<String>>,
    pub summary: Option<String>,
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    pub affected: Option<Vec<RawAffected>>,
    pub database_specific: Option<serde_json::Value>,
}

/// One `severity[]` item.
#[derive(Debug, Deserialize, Clone)]
#[allow(missing_docs)]
pub struct RawSeverity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// One `affected[]` item.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct RawAffected {
    pub package: Option<RawPackage>,
    #[serde(default)]
    pub severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    pub ranges: Option<Vec<RawRange>>,
    #[serde(default)]
    pub versions: Option<Vec<String>>,
    pub ecosystem_specific: Option<serde_json::Value>,
    pub database_specific: Option<serde_json::Value>,
}

/// `affected[].package`.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct RawPackage {
    pub ecosystem: String,
    pub name: String,
    pub purl: Option<String>,
}

/// One `ranges[]` item.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct RawRange {
    #[serde(rename = "type")]
    pub kind: String,
    pub repo: Option<String>,
    #[serde(default)]
    pub events: Vec<BTreeMap<String, String>>,
}

/// Why a record is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRecord {
    /// A required field is missing or empty.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// `modified`/`published` is not an RFC 3339 time.
    #[error("`{field}` is not an RFC 3339 time: {value:?}")]
    BadTime {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// An affected entry has no package.
    #[error("affected[{0}] has no package")]
    NoPackage(usize),
    /// A malformed `ecosystem_specific` field that mamori reads.
    #[error("affected[{index}].ecosystem_specific: {why}")]
    EcosystemSpecific {
        /// Affected index.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// Unknown range type.
    #[error("affected[{index}].ranges[{range}]: unknown range type {kind:?}")]
    RangeType {
        /// Affected index.
        index: usize,
        /// Range index.
        range: usize,
        /// The type found.
        kind: String,
    },
    /// A malformed event list.
    #[error("affected[{index}].ranges[{range}]: {why}")]
    Events {
        /// Affected index.
        index: usize,
        /// Range index.
        range: usize,
        /// What is wrong.
        why: String,
    },
}

/// Kind of an evaluable range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RangeKind {
    /// SemVer 2.0 ordering.
    Semver,
    /// The ecosystem's own ordering.
    Ecosystem,
}

/// One range event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// Vulnerable from this version on (`"0"` = from the start).
    Introduced(String),
    /// Fixed in this version.
    Fixed(String),
    /// Last vulnerable version (inclusive).
    LastAffected(String),
    /// Upper limit of the range (`"*"` = none).
    Limit(String),
}

impl Event {
    /// The event's version text.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// A validated, evaluable range.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    /// Ordering to use.
    pub kind: RangeKind,
    /// Events in file order.
    pub events: Vec<Event>,
}

/// An OSV ecosystem string split into its name and release (`Debian:12` → `Debian`, `12`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EcosystemName {
    /// Name (`Debian`, `PyPI`, `AlmaLinux`).
    pub name: String,
    /// Release suffix (`12`, `v3.19`, `22.04:LTS`), if any.
    pub release: Option<String>,
}

impl EcosystemName {
    /// Splits at the first `:`. For Maven the suffix is a repository URL, not a release.
    pub fn parse(s: &str) -> EcosystemName {
        match s.split_once(':') {
            Some((name, rest)) if !rest.is_empty() => EcosystemName {
                name: name.to_string(),
                release: Some(rest.to_string()),
            },
            _ => EcosystemName {
                name: s.trim_end_matches(':').to_string(),
                release: None,
            },
        }
    }
}

/// A validated affected package entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Affected {
    /// Ecosystem and release.
    pub ecosystem: EcosystemName,
    /// Package name as written in the record.
    pub name: String,
    /// Package URL, if given.
    pub purl: Option<String>,
    /// Evaluable ranges (GIT ranges are dropped).
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    pub versions: Vec<String>,
    /// Per-package severity, if the record gives one.
    pub severity: Option<SeverityScore>,
    /// Binary packages built from this source package (Ubuntu's
    /// `ecosystem_specific.binaries[].binary_name`), so that a binary can be matched when its
    /// source package is not known.
    pub binaries: Vec<String>,
    /// How a fix is delivered (Ubuntu's `ecosystem_specific.availability`, e.g.
    /// `Available with Ubuntu Pro: …`).
    pub availability: Option<String>,
}

/// A validated OSV advisory.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    /// Advisory id (`GO-2024-3228`, `PYSEC-2021-335`, `ALSA-2024:1234`).
    pub id: String,
    /// Last modification (RFC 3339).
    pub modified: String,
    /// Publication time (RFC 3339), if given.
    pub published: Option<String>,
    /// Whether the record is withdrawn (it then never matches).
    pub withdrawn: bool,
    /// Other ids for the same vulnerability (CVE, GHSA, …), including a single `upstream` id
    /// (Ubuntu's `UBUNTU-CVE-X` names `CVE-X` there).
    pub aliases: Vec<String>,
    /// Upstream ids of a record that covers several vulnerabilities (a USN lists every
    /// `UBUNTU-CVE-…` it fixes): not aliases, since the record is not any one of them.
    pub covers: Vec<String>,
    /// Related but different vulnerabilities.
    pub related: Vec<String>,
    /// One-line summary (or the first line of the details).
    pub summary: Option<String>,
    /// Record-level severity.
    pub severity: Option<SeverityScore>,
    /// Affected packages with evaluable data.
    pub affected: Vec<Affected>,
    /// GIT ranges dropped because they cannot be evaluated against package versions.
    pub git_ranges_skipped: usize,
    /// Affected entries dropped because their ecosystem's ordering is not implemented.
    pub unsupported_affected: Vec<String>,
}

fn check_time(field: &'static str, value: &str) -> Result<(), InvalidRecord> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|_| ())
        .map_err(|_| InvalidRecord::BadTime {
            field,
            value: value.to_string(),
        })
}

/// The scheme a range of `kind` uses in `ecosystem`, or `None` if not implemented.
pub fn range_scheme(kind: RangeKind, ecosystem: &str) -> Option<Scheme> {
    let go = ecosystem.eq_ignore_ascii_case("go");
    match kind {
        RangeKind::Semver if go => Some(Scheme::Go),
        RangeKind::Semver => Some(Scheme::Semver),
        RangeKind::Ecosystem => Scheme::for_ecosystem(ecosystem),
    }
}

fn validate_range(
    index: usize,
    ri: usize,
    raw: &RawRange,
    kind: RangeKind,
    scheme: Scheme,
) -> Result<Range, InvalidRecord> {
    let bad = |why: String| InvalidRecord::Events {
        index,
        range: ri,
        why,
    };
    let mut events = Vec::with_capacity(raw.events.len());
    for (ei, ev) in raw.events.iter().enumerate() {
        if ev.len() != 1 {
            return Err(bad(format!(
                "event {ei} must have exactly one key, has {}",
                ev.len()
            )));
        }
        let Some((key, value)) = ev.iter().next() else {
            return Err(bad(format!("event {ei} is empty")));
        };
        let event = match key.as_str() {
            "introduced" => Event::Introduced(value.clone()),
            "fixed" => Event::Fixed(value.clone()),
            "last_affected" => Event::LastAffected(value.clone()),
            "limit" => Event::Limit(value.clone()),
            other => return Err(bad(format!("event {ei}: unknown event {other:?}"))),
        };
        let special = matches!(&event, Event::Introduced(v) if v == "0")
            || matches!(&event, Event::Limit(v) if v == "*");
        if !special {
            Version::parse(scheme, value).map_err(|e| bad(format!("event {ei}: {e}")))?;
        }
        events.push(event);
    }
    if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
        return Err(bad("no `introduced` event".into()));
    }
    let has_fixed = events.iter().any(|e| matches!(e, Event::Fixed(_)));
    let has_last = events.iter().any(|e| matches!(e, Event::LastAffected(_)));
    if has_fixed && has_last {
        return Err(bad("both `fixed` and `last_affected`".into()));
    }
    Ok(Range { kind, events })
}

/// Ubuntu's `ecosystem_specific`: binary package names and the fix's availability. A
/// `binaries` value that is not a list of `{binary_name, binary_version}` objects is an error.
fn ubuntu_specific(
    index: usize,
    es: Option<&serde_json::Value>,
) -> Result<(Vec<String>, Option<String>), InvalidRecord> {
    let Some(obj) = es.and_then(|v| v.as_object()) else {
        return Ok((Vec::new(), None));
    };
    let bad = |why: String| InvalidRecord::EcosystemSpecific { index, why };
    let mut binaries = Vec::new();
    match obj.get("binaries") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .get("binary_name")
                    .and_then(|n| n.as_str())
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| bad(format!("binaries[{i}] has no `binary_name` string")))?;
                if !binaries.iter().any(|b| b == name) {
                    binaries.push(name.to_string());
                }
            }
        }
        Some(_) => return Err(bad("`binaries` is not a list".into())),
    }
    let availability = obj
        .get("availability")
        .and_then(|a| a.as_str())
        .filter(|a| !a.trim().is_empty())
        .map(str::to_string);
    Ok((binaries, availability))
}

impl TryFrom<RawRecord> for Advisory {
    type Error = InvalidRecord;

    fn try_from(raw: RawRecord) -> Result<Self, Self::Error> {
        let id = raw
            .id
            .filter(|s| !s.trim().is_empty())
            .ok_or(InvalidRecord::Missing("id"))?;
        let modified = raw
            .modified
            .filter(|s| !s.trim().is_empty())
            .ok_or(InvalidRecord::Missing("modified"))?;
        check_time("modified", &modified)?;
        if let Some(p) = &raw.published {
            check_time("published", p)?;
        }
        let top_severity = severity_from_osv(
            raw.severity.as_deref().unwrap_or_default(),
            raw.database_specific.as_ref(),
            None,
        );
        let mut git = 0;
        let mut unsupported = Vec::new();
        let mut affected = Vec::new();
        for (index, a) in raw.affected.unwrap_or_default().into_iter().enumerate() {
            let pkg = a.package.ok_or(InvalidRecord::NoPackage(index))?;
            if pkg.name.trim().is_empty() || pkg.ecosystem.trim().is_empty() {
                return Err(InvalidRecord::NoPackage(index));
            }
            // Ubuntu's Livepatch notices name kernel modules by a regular expression, not
            // package versions: they cannot be evaluated against installed packages.
            if a.ecosystem_specific
                .as_ref()
                .and_then(|e| e.get("module_name_regex"))
                .is_some()
            {
                unsupported.push(format!("{} (livepatch module)", pkg.ecosystem));
                continue;
            }
            let eco = EcosystemName::parse(&pkg.ecosystem);
            let (binaries, availability) = if matches!(eco.name.as_str(), "Ubuntu" | "Debian") {
                ubuntu_specific(index, a.ecosystem_specific.as_ref())?
            } else {
                (Vec::new(), None)
            };
            let mut ranges = Vec::new();
            let mut evaluable = true;
            for (ri, r) in a.ranges.unwrap_or_default().iter().enumerate() {
                let kind = match r.kind.as_str() {
                    "GIT" => {
                        git += 1;
                        continue;
                    }
                    "SEMVER" => RangeKind::Semver,
                    "ECOSYSTEM" => RangeKind::Ecosystem,
                    other => {
                        return Err(InvalidRecord::RangeType {
                            index,
                            range: ri,
                            kind: other.to_string(),
                        })
                    }
                };
                let Some(scheme) = range_scheme(kind, &eco.name) else {
                    evaluable = false;
                    continue;
                };
                ranges.push(validate_range(index, ri, r, kind, scheme)?);
            }
            if !evaluable || Scheme::for_ecosystem(&eco.name).is_none() && ranges.is_empty() {
                unsupported.push(pkg.ecosystem.clone());
                continue;
            }
            let severity = severity_from_osv(
                a.severity.as_deref().unwrap_or_default(),
                a.database_specific.as_ref(),
                a.ecosystem_specific.as_ref(),
            );
            affected.push(Affected {
                ecosystem: eco,
                name: pkg.name,
                purl: pkg.purl,
                ranges,
                versions: a.versions.unwrap_or_default(),
                severity,
                binaries,
                availability,
            });
        }
        let mut aliases = raw.aliases.unwrap_or_default();
        let mut covers = raw.upstream.unwrap_or_default();
        covers.retain(|u| !u.trim().is_empty() && *u != id);
        covers.dedup();
        if covers.len() == 1 {
            let up = covers.remove(0);
            if !aliases.contains(&up) {
                aliases.push(up);
            }
        }
        let summary = raw.summary.filter(|s| !s.trim().is_empty()).or_else(|| {
            raw.details
                .as_deref()
                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                .map(|l| l.trim().chars().take(200).collect())
        });
        Ok(Advisory {
            id,
            modified,
            published: raw.published,
            withdrawn: raw.withdrawn.is_some_and(|w| !w.trim().is_empty()),
            aliases,
            covers,
            related: raw.related.unwrap_or_default(),
            summary,
            severity: top_severity,
            affected,
            git_ranges_skipped: git,
            unsupported_affected: unsupported,
        })
    }
}

/// Parse failure of one file's text.
#[derive(Debug, thiserror::Error)]
pub enum ParseRecordError {
    /// Not valid JSON for an OSV record (the message names line and column).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Not valid YAML for an OSV record.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// Valid syntax, invalid record.
    #[error(transparent)]
    Invalid(#[from] InvalidRecord),
}

/// Parses and validates one OSV record from JSON (`yaml = false`) or YAML text.
pub fn parse_record(text: &[u8], yaml: bool) -> Result<Advisory, ParseRecordError> {
    let raw: RawRecord = if yaml {
        let s = std::str::from_utf8(text).map_err(|e| ParseRecordError::Yaml(e.to_string()))?;
        serde_saphyr::from_str(s).map_err(|e| ParseRecordError::Yaml(e.to_string()))?
    } else {
        serde_json::from_slice(text).map_err(|e| ParseRecordError::Json(e.to_string()))?
    };
    Ok(Advisory::try_from(raw)?)
}
