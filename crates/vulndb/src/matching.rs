//! Matching installed packages against the database.

use std::collections::HashMap;
use std::sync::Arc;

use mamori_core::{Ecosystem, Package, Severity};
use mamori_version::{ParseVersionError, Scheme, Version};
use serde::Serialize;

use crate::osv::{range_scheme, EcosystemName};
use crate::range::{describe, PreparedRange};
use crate::severity::SeverityScore;
use crate::store::{Database, OpenError, StoredAdvisory, StoredAffected};
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

/// Whether releases restrict matching in `eco`: only distro ecosystems (dpkg, rpm, apk
/// orderings) have releases; for the others a suffix such as Maven's repository URL does not.
fn has_releases(eco: &str) -> bool {
    matches!(
        Scheme::for_ecosystem(eco),
        Some(Scheme::Dpkg | Scheme::Rpm | Scheme::Apk)
    )
}

/// Whether an entry for `entry_release` (normalised) applies to a package of `pkg_release`
/// (normalised). An entry without release applies to every release; an entry with one needs the
/// same release (a package whose release is unknown does not match release-specific entries).
fn release_applies(entry_release: Option<&str>, pkg_release: Option<&str>) -> bool {
    match (entry_release, pkg_release) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(p)) => e == p,
    }
}

struct Raw {
    entry: Arc<Vec<PreparedEntry>>,
    at: usize,
    matched: Vec<String>,
    fixed: Vec<String>,
}

/// A stored affected entry with its ranges and listed versions parsed once.
#[derive(Debug)]
pub(crate) struct PreparedEntry {
    stored: StoredAffected,
    /// The entry's release, normalised with [`norm_release`].
    release: Option<String>,
    /// Each evaluable range with its scheme and description.
    ranges: Vec<(PreparedRange, Scheme, String)>,
    /// Listed versions that parse in the ecosystem's ordering, sorted for binary search.
    versions: Vec<Version>,
    /// Listed versions that do not parse, sorted (matched by exact text).
    unparsed: Vec<String>,
}

impl PreparedEntry {
    fn new(stored: StoredAffected, eco: &str) -> Result<PreparedEntry, ParseVersionError> {
        let mut ranges = Vec::with_capacity(stored.ranges.len());
        for r in &stored.ranges {
            if let Some(scheme) = range_scheme(r.kind, eco) {
                ranges.push((PreparedRange::new(r, scheme)?, scheme, describe(r)));
            }
        }
        let scheme = Scheme::for_ecosystem(eco);
        let mut versions = Vec::new();
        let mut unparsed = Vec::new();
        for text in &stored.versions {
            match scheme.map(|s| Version::parse(s, text)) {
                Some(Ok(v)) => versions.push(v),
                _ => unparsed.push(text.clone()),
            }
        }
        versions.sort();
        unparsed.sort();
        Ok(PreparedEntry {
            release: stored.release.as_deref().map(norm_release),
            stored,
            ranges,
            versions,
            unparsed,
        })
    }

    /// What matched and the fixed versions above the installed one, if affected.
    fn evaluate(
        &self,
        version_text: &str,
        parsed: &mut Vec<(Scheme, Version)>,
    ) -> Result<Option<Hit>, ParseVersionError> {
        let mut matched = Vec::new();
        let mut fixed = Vec::new();
        if self
            .unparsed
            .binary_search_by(|v| v.as_str().cmp(version_text))
            .is_ok()
        {
            matched.push(format!("versions[] lists {version_text}"));
        }
        for (range, scheme, text) in &self.ranges {
            let v = installed(parsed, *scheme, version_text)?;
            if let Some(hit) = range.evaluate(v) {
                matched.push(text.clone());
                fixed.extend(hit.fixed);
            }
        }
        // versions[]: the installed version, or one spelled differently but equal in the
        // ecosystem's ordering.
        if let Some(first) = self.versions.first() {
            let scheme = first.scheme();
            if let Ok(v) = installed(parsed, scheme, version_text) {
                if let Ok(i) = self.versions.binary_search(v) {
                    matched.push(format!("versions[] lists {}", self.versions[i]));
                }
            }
        }
        Ok((!matched.is_empty()).then_some((matched, fixed)))
    }
}

/// The installed version parsed in `scheme`, parsed at most once per scheme.
fn installed<'a>(
    parsed: &'a mut Vec<(Scheme, Version)>,
    scheme: Scheme,
    text: &str,
) -> Result<&'a Version, ParseVersionError> {
    let pos = match parsed.iter().position(|(s, _)| *s == scheme) {
        Some(p) => p,
        None => {
            parsed.push((scheme, Version::parse(scheme, text)?));
            parsed.len() - 1
        }
    };
    Ok(&parsed[pos].1)
}

/// What matched and the fixed versions above the installed one.
type Hit = (Vec<String>, Vec<String>);

impl Database {
    /// Prepared entries for (ecosystem, name), decoded and parsed once then cached.
    fn prepared(
        &self,
        eco: &str,
        name: &str,
    ) -> Result<Option<Arc<Vec<PreparedEntry>>>, MatchError> {
        let Some(i) = self.find(eco, name) else {
            return Ok(None);
        };
        let slot = &self.caches.entries[i];
        if let Some(hit) = slot.get() {
            return Ok(Some(Arc::clone(hit)));
        }
        let mut out = Vec::new();
        for stored in self.entries_at(i)? {
            let e = PreparedEntry::new(stored, eco).map_err(|e| OpenError::Corrupt {
                path: self.path().to_path_buf(),
                why: format!("stored range does not parse: {e}"),
            })?;
            out.push(e);
        }
        let arc = Arc::new(out);
        let _ = slot.set(Arc::clone(&arc)); // another thread may have won the race: same data
        Ok(Some(arc))
    }

    fn cached_advisory(&self, i: u32) -> Result<Arc<StoredAdvisory>, MatchError> {
        let Some(slot) = self.caches.advisories.get(i as usize) else {
            return Ok(Arc::new(self.advisory(i)?)); // out of range: advisory() reports it
        };
        if let Some(a) = slot.get() {
            return Ok(Arc::clone(a));
        }
        let a = Arc::new(self.advisory(i)?);
        let _ = slot.set(Arc::clone(&a));
        Ok(a)
    }

    /// Every vulnerability affecting `pkg`, duplicates (same id or shared alias) merged.
    pub fn match_package(&self, pkg: &Package) -> Result<Vec<Match>, MatchError> {
        let (eco, name, version) = lookup(pkg);
        let Some(entries) = self.prepared(&eco.name, &name)? else {
            return Ok(Vec::new());
        };
        let distro = has_releases(&eco.name);
        let pkg_release = eco.release.as_deref().map(norm_release);
        let mut parsed = Vec::with_capacity(2);
        let mut raws = Vec::new();
        for (at, entry) in entries.iter().enumerate() {
            // Every entry under this index key has the package's (normalised) name.
            if distro && !release_applies(entry.release.as_deref(), pkg_release.as_deref()) {
                continue;
            }
            let hit =
                entry
                    .evaluate(&version, &mut parsed)
                    .map_err(|source| MatchError::Version {
                        name: pkg.name.clone(),
                        source,
                    })?;
            if let Some((matched, fixed)) = hit {
                raws.push(Raw {
                    entry: Arc::clone(&entries),
                    at,
                    matched,
                    fixed,
                });
            }
        }
        let mut matches = Vec::with_capacity(raws.len());
        for raw in raws {
            let stored = &raw.entry[raw.at].stored;
            let adv = self.cached_advisory(stored.advisory)?;
            let severity = stored.severity.clone().or_else(|| adv.severity.clone());
            matches.push(Match {
                advisory_id: adv.id.clone(),
                aliases: adv.aliases.clone(),
                merged_ids: Vec::new(),
                summary: adv.summary.clone(),
                severity,
                ecosystem: stored.ecosystem.clone(),
                package: stored.name.clone(),
                version: version.clone(),
                matched: raw.matched,
                fix_available: !raw.fixed.is_empty(),
                fixed_versions: raw.fixed,
                suppressed: None,
            });
        }
        Ok(if matches.len() > 1 {
            merge_duplicates(matches)
        } else {
            matches
        })
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
    // First pass, borrowing: the group (index of its first match) of every match.
    let mut group: Vec<usize> = (0..matches.len()).collect();
    {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, m) in matches.iter().enumerate() {
            let g = m
                .all_ids()
                .find_map(|id| seen.get(id).copied())
                .unwrap_or(i);
            group[i] = g;
            for id in m.all_ids() {
                seen.entry(id).or_insert(g);
            }
        }
    }
    // Second pass, moving: fold each match into its group's leader.
    let mut out: Vec<Match> = Vec::with_capacity(matches.len());
    let mut pos: Vec<usize> = vec![0; matches.len()];
    for (i, m) in matches.into_iter().enumerate() {
        let g = group[i];
        if g == i {
            pos[i] = out.len();
            out.push(m);
            continue;
        }
        let o = &mut out[pos[g]];
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
    out
}
