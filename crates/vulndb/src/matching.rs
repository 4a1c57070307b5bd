//! Matching installed packages against the database.

use std::collections::BTreeSet;

use mamori_core::{Ecosystem, Package, Severity};
use mamori_version::{ParseVersionError, Scheme, Version};
use serde::Serialize;

use crate::osv::{range_scheme, EcosystemName};
use crate::range::{describe, evaluate};
use crate::severity::SeverityScore;
use crate::store::{normalize_name, Database, OpenError, StoredAffected};
use crate::suppress::Suppression;

/// One vulnerability affecting one package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// Advisory id (the first, in id order, of merged duplicates).
    pub advisory_id: String,
    /// Aliases of all merged advisories (CVE, GHSA, …), without the ids themselves.
    pub aliases: Vec<String>,
    /// Other advisory ids for the same vulnerability that were merged into this match.
    pub merged_ids: Vec<String>,
    /// Summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Highest severity among merged advisories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<SeverityScore>,
    /// OSV ecosystem of the matching entry (`Debian:12`).
    pub ecosystem: String,
    /// Package name as the advisory writes it (the source package for Debian/Ubuntu/Alpine).
    pub package: String,
    /// The version that was compared.
    pub version: String,
    /// What matched: a range (`ECOSYSTEM >=0 <1.2`) or `versions[] lists X`.
    pub matched: Vec<String>,
    /// Versions that fix it (newer than the installed one).
    pub fixed_versions: Vec<String>,
    /// Whether any fix exists.
    pub fix_available: bool,
    /// Set when an ignore rule or VEX statement suppresses this match; suppressed matches are
    /// kept and marked, never dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

impl Match {
    /// The rating, `Unknown` when no severity is known.
    pub fn rating(&self) -> Severity {
        self.severity
            .as_ref()
            .map_or(Severity::Unknown, |s| s.rating)
    }

    /// Every id this match is known by (advisory id, merged ids, aliases).
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.advisory_id.as_str())
            .chain(self.merged_ids.iter().map(String::as_str))
            .chain(self.aliases.iter().map(String::as_str))
    }
}

/// Failure while matching.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The database is damaged.
    #[error(transparent)]
    Database(#[from] OpenError),
    /// The package's version is not valid in its ecosystem.
    #[error("package {name}: {source}")]
    Version {
        /// Package name.
        name: String,
        /// Cause.
        #[source]
        source: ParseVersionError,
    },
}

/// The (ecosystem, release, lookup name, version) an OSV lookup uses for `pkg`.
fn lookup(pkg: &Package) -> (EcosystemName, String, String) {
    let eco = EcosystemName::parse(pkg.ecosystem.as_str());
    let release = pkg.release.clone().or(eco.release);
    let by_source = matches!(
        pkg.ecosystem,
        Ecosystem::Debian | Ecosystem::Ubuntu | Ecosystem::Alpine
    ) || matches!(eco.name.as_str(), "Debian" | "Ubuntu" | "Alpine");
    let (name, version) = if by_source {
        (
            pkg.source_name.clone().unwrap_or_else(|| pkg.name.clone()),
            pkg.source_version
                .clone()
                .unwrap_or_else(|| pkg.version.clone()),
        )
    } else {
        (pkg.name.clone(), pkg.version.clone())
    };
    (
        EcosystemName {
            name: eco.name,
            release,
        },
        name,
        version,
    )
}

/// Normalised release for comparison: lowercase, without a leading `v` and a trailing `:LTS`.
fn norm_release(r: &str) -> String {
    let r = r.trim().to_ascii_lowercase();
    let r = r.strip_suffix(":lts").unwrap_or(&r);
    r.strip_prefix('v').unwrap_or(r).to_string()
}

/// Whether an entry for `entry_release` applies to a package of `pkg_release`. An entry without
/// release applies to every release; an entry with one needs the same release (a package whose
/// release is unknown does not match release-specific entries).
fn release_applies(entry_release: Option<&str>, pkg_release: Option<&str>) -> bool {
    match (entry_release, pkg_release) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(p)) => norm_release(e) == norm_release(p),
    }
}

struct Raw {
    entry: StoredAffected,
    matched: Vec<String>,
    fixed: Vec<String>,
}

/// What matched and the fixed versions above the installed one.
type Hit = (Vec<String>, Vec<String>);

fn evaluate_entry(
    entry: &StoredAffected,
    eco: &str,
    version_text: &str,
    parsed: &mut Option<Option<(Scheme, Version)>>,
) -> Result<Option<Hit>, ParseVersionError> {
    let mut matched = Vec::new();
    let mut fixed = Vec::new();
    if entry.versions.iter().any(|v| v == version_text) {
        matched.push(format!("versions[] lists {version_text}"));
    }
    for range in &entry.ranges {
        let Some(scheme) = range_scheme(range.kind, eco) else {
            continue;
        };
        let v = match parsed {
            Some(Some((s, v))) if *s == scheme => v.clone(),
            _ => {
                let v = Version::parse(scheme, version_text)?;
                *parsed = Some(Some((scheme, v.clone())));
                v
            }
        };
        if let Some(hit) = evaluate(range, scheme, &v)? {
            matched.push(describe(range));
            fixed.extend(hit.fixed);
        }
    }
    // versions[] may list a version spelled differently but equal in the ecosystem's ordering.
    if matched.is_empty() && !entry.versions.is_empty() {
        if let Some(scheme) = mamori_version::Scheme::for_ecosystem(eco) {
            if let Ok(v) = Version::parse(scheme, version_text) {
                if let Some(listed) = entry
                    .versions
                    .iter()
                    .find(|l| Version::parse(scheme, l).is_ok_and(|l| l == v))
                {
                    matched.push(format!("versions[] lists {listed}"));
                }
            }
        }
    }
    Ok((!matched.is_empty()).then_some((matched, fixed)))
}

impl Database {
    /// Every vulnerability affecting `pkg`, duplicates (same id or shared alias) merged.
    pub fn match_package(&self, pkg: &Package) -> Result<Vec<Match>, MatchError> {
        let (eco, name, version) = lookup(pkg);
        let entries = self.affected(&eco.name, &name)?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let want = normalize_name(&eco.name, &name);
        let mut parsed = None;
        let mut raws = Vec::new();
        for entry in entries {
            if !release_applies(entry.release.as_deref(), eco.release.as_deref())
                || normalize_name(&eco.name, &entry.name) != want
            {
                continue;
            }
            let hit =
                evaluate_entry(&entry, &eco.name, &version, &mut parsed).map_err(|source| {
                    MatchError::Version {
                        name: pkg.name.clone(),
                        source,
                    }
                })?;
            if let Some((matched, fixed)) = hit {
                raws.push(Raw {
                    entry,
                    matched,
                    fixed,
                });
            }
        }
        let mut matches = Vec::with_capacity(raws.len());
        for raw in raws {
            let adv = self.advisory(raw.entry.advisory)?;
            let severity = raw.entry.severity.clone().or(adv.severity.clone());
            matches.push(Match {
                advisory_id: adv.id,
                aliases: adv.aliases,
                merged_ids: Vec::new(),
                summary: adv.summary,
                severity,
                ecosystem: raw.entry.ecosystem,
                package: raw.entry.name,
                version: version.clone(),
                matched: raw.matched,
                fix_available: !raw.fixed.is_empty(),
                fixed_versions: raw.fixed,
                suppressed: None,
            });
        }
        Ok(merge_duplicates(matches))
    }

    /// Matches every package of an inventory; packages whose version does not parse are
    /// returned as errors beside the matches instead of aborting the whole inventory.
    pub fn match_all<'p>(
        &self,
        packages: &'p [Package],
    ) -> (Vec<(&'p Package, Vec<Match>)>, Vec<MatchError>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for p in packages {
            match self.match_package(p) {
                Ok(m) if m.is_empty() => {}
                Ok(m) => out.push((p, m)),
                Err(e) => errors.push(e),
            }
        }
        (out, errors)
    }
}

fn better(a: &Option<SeverityScore>, b: &Option<SeverityScore>) -> bool {
    let key = |s: &Option<SeverityScore>| {
        s.as_ref()
            .map(|s| (s.rating, s.score.unwrap_or(-1.0)))
            .unwrap_or((Severity::Unknown, -2.0))
    };
    let (ka, kb) = (key(a), key(b));
    ka.0 > kb.0 || (ka.0 == kb.0 && ka.1 > kb.1)
}

/// Merges matches that share an id or alias into one (the smallest id leads).
pub fn merge_duplicates(mut matches: Vec<Match>) -> Vec<Match> {
    matches.sort_by(|a, b| a.advisory_id.cmp(&b.advisory_id));
    let mut out: Vec<Match> = Vec::with_capacity(matches.len());
    for m in matches {
        let ids: BTreeSet<&str> = m.all_ids().collect();
        let pos = out
            .iter()
            .position(|o| o.all_ids().any(|id| ids.contains(id)));
        match pos {
            None => out.push(m),
            Some(i) => {
                let o = &mut out[i];
                if m.advisory_id != o.advisory_id && !o.merged_ids.contains(&m.advisory_id) {
                    o.merged_ids.push(m.advisory_id.clone());
                }
                for a in m.aliases.into_iter().chain(m.merged_ids) {
                    if a != o.advisory_id && !o.aliases.contains(&a) && !o.merged_ids.contains(&a) {
                        o.aliases.push(a);
                    }
                }
                for f in m.fixed_versions {
                    if !o.fixed_versions.contains(&f) {
                        o.fixed_versions.push(f);
                    }
                }
                for r in m.matched {
                    if !o.matched.contains(&r) {
                        o.matched.push(r);
                    }
                }
                o.fix_available |= m.fix_available;
                if better(&m.severity, &o.severity) {
                    o.severity = m.severity;
                }
                if o.summary.is_none() {
                    o.summary = m.summary;
                }
            }
        }
    }
    out
}
