//! Matching installed packages against the database.
//!
//! Two forms of the same answer:
//! - [`Database::matches`] returns [`Matches`]: borrowed views into the database's caches, with
//!   nothing copied per match (ids, aliases, severity, ranges and fixed versions are read from
//!   the prepared entries). This is the fast path for scanning whole inventories.
//! - [`Database::match_package`] returns owned [`Match`] values (`MatchView::to_match`), for
//!   callers that keep or serialise the results.
//!
//! Both merge duplicates: matches sharing an id or alias are one vulnerability (the smallest id
//! leads), and a record that only covers others (an Ubuntu USN listing the `UBUNTU-CVE-…`
//! records it fixes) is folded into them when they matched too.
//!
//! Ubuntu: the release may carry `Pro` (fixes shipped through Ubuntu Pro / ESM) and a Pro
//! service (`Pro:FIPS:20.04:LTS`, `Pro:22.04:LTS:Realtime:Kernel`). Plain and `Pro` entries apply
//! to every package of that release; when an advisory has both for the package, it is affected
//! only if both say so (a version fixed in either stream is fixed — an `+esm` build is above
//! the Pro fix, a standard update above the standard fix). Service entries (FIPS, Realtime)
//! apply only to packages whose release names the same service.

use std::collections::HashMap;
use std::sync::Arc;

use mamori_core::{Ecosystem, Package, Severity};
use mamori_version::{ParseVersionError, Scheme, Version};
use serde::Serialize;

use crate::osv::range_scheme;
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
    /// What matched: a range (`ECOSYSTEM >=0 <1.2`) or `versions[] lists X`; Ubuntu entries
    /// add their ecosystem and the fix's availability in brackets.
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

/// Which stream of a distro release an entry or package belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stream {
    /// The release itself.
    Base,
    /// Ubuntu Pro (ESM) fixes for the release.
    UbuntuPro,
    /// An Ubuntu Pro service with its own packages (`fips`, `fips-updates`, `realtime:kernel`).
    Service(String),
}

/// A distro release: its number (`12`, `3.19`, `22.04`) and stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Release {
    number: String,
    stream: Stream,
}

impl Release {
    /// Normalises a release suffix: lowercase, no leading `v`, no `LTS`; Ubuntu's `Pro:` prefix
    /// and service names become the stream.
    fn parse(ecosystem: &str, text: &str) -> Release {
        let lower = text.trim().to_ascii_lowercase();
        if ecosystem.eq_ignore_ascii_case("ubuntu") {
            let mut pro = false;
            let mut number = String::new();
            let mut service: Vec<&str> = Vec::new();
            for (i, seg) in lower.split(':').enumerate() {
                if i == 0 && seg == "pro" {
                    pro = true;
                } else if seg == "lts" || seg.is_empty() {
                } else if number.is_empty() && seg.starts_with(|c: char| c.is_ascii_digit()) {
                    number = seg.to_string();
                } else {
                    service.push(seg);
                }
            }
            let stream = match (pro, service.is_empty()) {
                (false, true) => Stream::Base,
                (true, true) => Stream::UbuntuPro,
                (_, false) => Stream::Service(service.join(":")),
            };
            return Release { number, stream };
        }
        let r = lower.strip_suffix(":lts").unwrap_or(&lower);
        Release {
            number: r.strip_prefix('v').unwrap_or(r).to_string(),
            stream: Stream::Base,
        }
    }

    /// Whether an entry of release `self` applies to a package of release `pkg`.
    fn applies_to(&self, pkg: &Release) -> bool {
        self.number == pkg.number
            && match (&self.stream, &pkg.stream) {
                (Stream::Base | Stream::UbuntuPro, _) => true,
                (Stream::Service(a), Stream::Service(b)) => a == b,
                (Stream::Service(_), _) => false,
            }
    }
}

/// Whether releases restrict matching in `eco`: only distro ecosystems (dpkg, rpm, apk
/// orderings) have releases; for the others a suffix such as Maven's repository URL does not.
fn has_releases(eco: &str) -> bool {
    matches!(
        Scheme::for_ecosystem(eco),
        Some(Scheme::Dpkg | Scheme::Rpm | Scheme::Apk)
    )
}

/// One evaluable range of an entry with its scheme and description.
#[derive(Debug)]
struct EntryRange {
    range: PreparedRange,
    scheme: Scheme,
    text: String,
}

/// A stored affected entry with its advisory, ranges and listed versions parsed once.
#[derive(Debug)]
pub(crate) struct PreparedEntry {
    stored: StoredAffected,
    /// The entry's release, if any.
    release: Option<Release>,
    ranges: Vec<EntryRange>,
    /// Listed versions that parse in the ecosystem's ordering, sorted for binary search, with
    /// their index in `stored.versions`.
    versions: Vec<(Version, usize)>,
    /// Listed versions that do not parse, sorted (matched by exact text).
    unparsed: Vec<String>,
    /// Text appended to every description (` [Ubuntu:Pro:22.04:LTS: Available with …]`).
    note: String,
}

/// What of an entry matched: range `index` with its fixed versions from `fixed_from` on.
#[derive(Debug, Clone, Copy)]
struct RangeHit {
    index: u16,
    fixed_from: u16,
}

/// A listed version that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    None,
    /// Index into `stored.versions`.
    Parsed(usize),
    /// Index into `unparsed`.
    Text(usize),
}

impl PreparedEntry {
    fn new(stored: StoredAffected, eco: &str) -> Result<PreparedEntry, ParseVersionError> {
        let note = match (&stored.release, eco.eq_ignore_ascii_case("ubuntu")) {
            (Some(_), true) => match &stored.availability {
                Some(a) => format!(" [{}: {a}]", stored.ecosystem),
                None => format!(" [{}]", stored.ecosystem),
            },
            _ => String::new(),
        };
        let mut ranges = Vec::with_capacity(stored.ranges.len());
        for r in &stored.ranges {
            if let Some(scheme) = range_scheme(r.kind, eco) {
                ranges.push(EntryRange {
                    range: PreparedRange::new(r, scheme)?,
                    scheme,
                    text: format!("{}{note}", describe(r)),
                });
            }
        }
        let scheme = Scheme::for_ecosystem(eco);
        let mut versions = Vec::new();
        let mut unparsed = Vec::new();
        for (i, text) in stored.versions.iter().enumerate() {
            match scheme.map(|s| Version::parse(s, text)) {
                Some(Ok(v)) => versions.push((v, i)),
                _ => unparsed.push(text.clone()),
            }
        }
        versions.sort_by(|a, b| a.0.cmp(&b.0));
        unparsed.sort();
        Ok(PreparedEntry {
            release: stored.release.as_deref().map(|r| Release::parse(eco, r)),
            stored,
            ranges,
            versions,
            unparsed,
            note,
        })
    }

    fn stream(&self) -> Option<&Stream> {
        self.release.as_ref().map(|r| &r.stream)
    }

    /// Appends the ranges of this entry that contain the installed version to `out` and returns
    /// the listed version that equals it, if any. `parsed` caches the installed version per
    /// scheme.
    fn evaluate(
        &self,
        version_text: &str,
        parsed: &mut Vec<(Scheme, Version)>,
        out: &mut Vec<RangeHit>,
    ) -> Result<Listed, ParseVersionError> {
        for (i, r) in self.ranges.iter().enumerate() {
            let v = installed(parsed, r.scheme, version_text)?;
            if let Some(fixed_from) = r.range.affects(v) {
                out.push(RangeHit {
                    index: u16::try_from(i).unwrap_or(u16::MAX),
                    fixed_from: u16::try_from(fixed_from).unwrap_or(u16::MAX),
                });
            }
        }
        if let Ok(i) = self
            .unparsed
            .binary_search_by(|v| v.as_str().cmp(version_text))
        {
            return Ok(Listed::Text(i));
        }
        // versions[]: the installed version, or one spelled differently but equal in the
        // ecosystem's ordering.
        if let Some((first, _)) = self.versions.first() {
            if let Ok(v) = installed(parsed, first.scheme(), version_text) {
                if let Ok(i) = self.versions.binary_search_by(|(x, _)| x.cmp(v)) {
                    return Ok(Listed::Parsed(self.versions[i].1));
                }
            }
        }
        Ok(Listed::None)
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

/// One matching entry: which ranges (a span of [`Matches::ranges`]) and listed version.
#[derive(Debug, Clone, Copy)]
struct Hit<'db> {
    entry: &'db PreparedEntry,
    /// The entry's advisory, decoded on first match (not for every entry looked at).
    adv: &'db StoredAdvisory,
    ranges: (u32, u32),
    listed: Listed,
}

impl<'db> Hit<'db> {
    fn id(&self) -> &'db str {
        &self.adv.id
    }

    /// Every id of this hit's advisory: id then aliases.
    fn ids(&self) -> impl Iterator<Item = &'db str> {
        let a: &'db StoredAdvisory = self.adv;
        std::iter::once(a.id.as_str()).chain(a.aliases.iter().map(String::as_str))
    }
}

/// The matches of one package: borrowed from the database, nothing copied per match.
#[derive(Debug)]
pub struct Matches<'db> {
    version: String,
    hits: Vec<Hit<'db>>,
    ranges: Vec<RangeHit>,
    /// Each reported vulnerability is `hits[start..end]` (the first hit leads).
    groups: Vec<(u32, u32)>,
    /// Hits of records that only cover others (USNs), folded into the groups they cover.
    covering: Vec<Hit<'db>>,
}

impl<'db> Matches<'db> {
    fn empty(version: &str) -> Matches<'db> {
        Matches {
            version: version.to_string(),
            hits: Vec::new(),
            ranges: Vec::new(),
            groups: Vec::new(),
            covering: Vec::new(),
        }
    }

    /// Number of vulnerabilities (duplicates merged).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The vulnerabilities, in advisory id order.
    pub fn iter(&self) -> impl Iterator<Item = MatchView<'_, 'db>> {
        self.groups.iter().map(move |&(s, e)| MatchView {
            set: self,
            hits: &self.hits[s as usize..e as usize],
        })
    }

    /// Owned [`Match`] values of every vulnerability.
    pub fn to_vec(&self) -> Vec<Match> {
        self.iter().map(|m| m.to_match()).collect()
    }
}

/// Why a version matched: a range, or a listed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy<'db> {
    /// A range, described (`ECOSYSTEM >=0 <1.2 [Ubuntu:22.04:LTS: …]`).
    Range(&'db str),
    /// `versions[]` lists the installed version.
    Listed {
        /// The listed version as written.
        version: &'db str,
        /// Ecosystem/availability note (Ubuntu), or empty.
        note: &'db str,
    },
}

impl std::fmt::Display for MatchedBy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatchedBy::Range(t) => f.write_str(t),
            MatchedBy::Listed { version, note } => write!(f, "versions[] lists {version}{note}"),
        }
    }
}

/// One vulnerability of a [`Matches`] set, read in place.
#[derive(Debug, Clone, Copy)]
pub struct MatchView<'m, 'db> {
    set: &'m Matches<'db>,
    hits: &'m [Hit<'db>],
}

/// Up to `n` distinct strings of `it` that are not in `skip`, in first-seen order, without
/// allocating (the lists are short: a handful of ids per vulnerability).
fn distinct<'a>(
    it: impl Iterator<Item = &'a str> + Clone,
    skip: impl Fn(&str) -> bool,
) -> impl Iterator<Item = &'a str> {
    let all = it.clone();
    it.enumerate()
        .filter_map(move |(i, s)| (!skip(s) && !all.clone().take(i).any(|p| p == s)).then_some(s))
}

impl<'m, 'db> MatchView<'m, 'db> {
    fn lead(&self) -> &Hit<'db> {
        &self.hits[0]
    }

    /// Advisory id (the smallest of the merged ones).
    pub fn advisory_id(&self) -> &'db str {
        self.lead().id()
    }

    /// The merged advisory ids other than [`Self::advisory_id`]: duplicates, then records
    /// covering this vulnerability (USNs).
    pub fn merged_ids(&self) -> impl Iterator<Item = &'db str> + 'm {
        let lead = self.advisory_id();
        let hits = self.hits;
        let covering = self.set.covering.as_slice();
        let dup = hits.iter().map(|h| h.id());
        let cov = covering
            .iter()
            .filter(move |c| {
                c.adv
                    .covers
                    .iter()
                    .any(|x| hits.iter().any(|h| h.ids().any(|i| i == x)))
            })
            .map(|c| c.id());
        distinct(dup.chain(cov), move |s| s == lead)
    }

    /// Aliases of every merged advisory, without the advisory ids themselves.
    pub fn aliases(&self) -> impl Iterator<Item = &'db str> + 'm {
        let hits = self.hits;
        let all = hits
            .iter()
            .flat_map(|h| h.adv.aliases.iter().map(String::as_str));
        distinct(all, move |s| hits.iter().any(|h| h.id() == s))
    }

    /// Summary of the first merged advisory that has one.
    pub fn summary(&self) -> Option<&'db str> {
        self.hits.iter().find_map(|h| h.adv.summary.as_deref())
    }

    /// Highest severity among the merged advisories (per-package severity first).
    pub fn severity(&self) -> Option<&'db SeverityScore> {
        let mut best: Option<&'db SeverityScore> = None;
        for h in self.hits {
            let s = h.entry.stored.severity.as_ref().or(h.adv.severity.as_ref());
            if better(s, best) {
                best = s;
            }
        }
        best
    }

    /// The rating, `Unknown` when no severity is known.
    pub fn rating(&self) -> Severity {
        self.severity().map_or(Severity::Unknown, |s| s.rating)
    }

    /// OSV ecosystem of the leading entry (`Debian:12`).
    pub fn ecosystem(&self) -> &'db str {
        &self.lead().entry.stored.ecosystem
    }

    /// Package name as the advisory writes it.
    pub fn package(&self) -> &'db str {
        &self.lead().entry.stored.name
    }

    /// The version that was compared.
    pub fn version(&self) -> &'m str {
        &self.set.version
    }

    fn range_hits(&self) -> impl Iterator<Item = (&'db PreparedEntry, RangeHit)> + Clone + 'm {
        let ranges = self.set.ranges.as_slice();
        self.hits.iter().flat_map(move |h| {
            ranges[h.ranges.0 as usize..h.ranges.1 as usize]
                .iter()
                .map(move |r| (h.entry, *r))
        })
    }

    /// Fixed versions newer than the installed one, distinct.
    pub fn fixed_versions(&self) -> impl Iterator<Item = &'db str> + 'm {
        let all = self.range_hits().flat_map(|(e, r)| {
            e.ranges[r.index as usize]
                .range
                .fixed_from(r.fixed_from as usize)
        });
        distinct(all, |_| false)
    }

    /// Whether any fix exists (a fixed version newer than the installed one).
    pub fn fix_available(&self) -> bool {
        self.fixed_versions().next().is_some()
    }

    /// What matched, read in place: each matching range, then each listed version equal to
    /// the installed one (possibly repeated when merged advisories share a range).
    pub fn matched_by(&self) -> impl Iterator<Item = MatchedBy<'db>> + 'm {
        let ranges = self
            .range_hits()
            .map(|(e, r)| MatchedBy::Range(&e.ranges[r.index as usize].text));
        let listed = self.hits.iter().filter_map(|h| {
            let version = match h.listed {
                Listed::None => return None,
                Listed::Parsed(i) => &h.entry.stored.versions[i],
                Listed::Text(i) => &h.entry.unparsed[i],
            };
            Some(MatchedBy::Listed {
                version,
                note: &h.entry.note,
            })
        });
        ranges.chain(listed)
    }

    /// What matched as text (`ECOSYSTEM >=0 <1.2`, `versions[] lists 1.0`), distinct.
    pub fn matched(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in self.matched_by() {
            let t = m.to_string();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// Every id this vulnerability is known by (advisory id, merged ids, aliases).
    pub fn all_ids(&self) -> impl Iterator<Item = &'db str> + 'm {
        std::iter::once(self.advisory_id())
            .chain(self.merged_ids())
            .chain(self.aliases())
    }

    /// The owned [`Match`].
    pub fn to_match(&self) -> Match {
        let fixed_versions: Vec<String> = self.fixed_versions().map(str::to_string).collect();
        Match {
            advisory_id: self.advisory_id().to_string(),
            aliases: self.aliases().map(str::to_string).collect(),
            merged_ids: self.merged_ids().map(str::to_string).collect(),
            summary: self.summary().map(str::to_string),
            severity: self.severity().cloned(),
            ecosystem: self.ecosystem().to_string(),
            package: self.package().to_string(),
            version: self.version().to_string(),
            matched: self.matched(),
            fix_available: !fixed_versions.is_empty(),
            fixed_versions,
            suppressed: None,
        }
    }
}

fn better(a: Option<&SeverityScore>, b: Option<&SeverityScore>) -> bool {
    let key = |s: Option<&SeverityScore>| {
        s.map(|s| (s.rating, s.score.unwrap_or(-1.0)))
            .unwrap_or((Severity::Unknown, -2.0))
    };
    let (ka, kb) = (key(a), key(b));
    ka.0 > kb.0 || (ka.0 == kb.0 && ka.1 > kb.1)
}

/// What to look up for a package: ecosystem name, release, name, version; whether the name is a
/// source package looked up because the binary's source is known.
struct Lookup<'p> {
    eco: &'p str,
    release: Option<Release>,
    name: &'p str,
    version: &'p str,
    /// Debian/Ubuntu/Alpine package without a known source: also try Ubuntu's binary lists.
    by_binary: bool,
}

fn lookup(pkg: &Package) -> Lookup<'_> {
    let full = pkg.ecosystem.as_str();
    let (eco, suffix) = match full.split_once(':') {
        Some((n, r)) if !r.is_empty() => (n, Some(r)),
        _ => (full.trim_end_matches(':'), None),
    };
    let release = pkg
        .release
        .as_deref()
        .or(suffix)
        .map(|r| Release::parse(eco, r));
    let by_source = matches!(
        pkg.ecosystem,
        Ecosystem::Debian | Ecosystem::Ubuntu | Ecosystem::Alpine
    ) || matches!(eco, "Debian" | "Ubuntu" | "Alpine");
    if by_source {
        Lookup {
            eco,
            release,
            name: pkg.source_name.as_deref().unwrap_or(&pkg.name),
            version: pkg.source_version.as_deref().unwrap_or(&pkg.version),
            by_binary: pkg.source_name.is_none(),
        }
    } else {
        Lookup {
            eco,
            release,
            name: &pkg.name,
            version: &pkg.version,
            by_binary: false,
        }
    }
}

impl Database {
    /// Prepared entries at index position `i`, decoded and parsed once then cached.
    fn prepared_at(&self, eco: &str, i: usize) -> Result<&[PreparedEntry], MatchError> {
        let slot = &self.caches.entries[i];
        if let Some(hit) = slot.get() {
            return Ok(hit);
        }
        let mut out = Vec::new();
        for stored in self.entries_at(i)? {
            let e = PreparedEntry::new(stored, eco).map_err(|e| OpenError::Corrupt {
                path: self.path().to_path_buf(),
                why: format!("stored range does not parse: {e}"),
            })?;
            out.push(e);
        }
        // Entries without a release first, then by release number: a package's entries are
        // found by two binary searches instead of comparing every release (the kernel has
        // hundreds of entries per key across distro releases).
        out.sort_by(|a, b| release_number(a).cmp(&release_number(b)));
        // Another thread may have won the race: same data, keep theirs.
        Ok(slot.get_or_init(|| out))
    }

    /// The advisory with index `i`, decoded once then cached.
    fn cached_advisory(&self, i: u32) -> Result<&StoredAdvisory, MatchError> {
        let Some(slot) = self.caches.advisories.get(i as usize) else {
            return Err(self.advisory(i).err().map_or_else(
                || {
                    MatchError::Database(OpenError::Corrupt {
                        path: self.path().to_path_buf(),
                        why: format!("advisory {i} out of range"),
                    })
                },
                MatchError::Database,
            ));
        };
        if let Some(a) = slot.get() {
            return Ok(a);
        }
        let a = Arc::new(self.advisory(i)?);
        Ok(slot.get_or_init(|| a))
    }

    /// Every vulnerability affecting `pkg` as borrowed views (no per-match copies); see
    /// [`Database::match_package`] for owned values.
    pub fn matches(&self, pkg: &Package) -> Result<Matches<'_>, MatchError> {
        let l = lookup(pkg);
        let own: &[PreparedEntry] = match self.find(l.eco, l.name) {
            Some(i) => self.prepared_at(l.eco, i)?,
            None => &[],
        };
        let via_binary: &[u32] = if l.by_binary {
            self.sources_of_binary(l.eco, l.name)
        } else {
            &[]
        };
        let mut m = Matches::empty(l.version);
        if own.is_empty() && via_binary.is_empty() {
            return Ok(m);
        }
        let distro = has_releases(l.eco);
        let mut parsed = Vec::with_capacity(2);
        let number = l.release.as_ref().map(|r| r.number.as_str());
        let mut candidates: Vec<&PreparedEntry> = if distro {
            for_release(own, number).collect()
        } else {
            own.iter().collect()
        };
        for &pos in via_binary {
            let entries = self.prepared_at(l.eco, pos as usize)?;
            candidates.extend(
                for_release(entries, number)
                    .filter(|e| e.stored.binaries.iter().any(|b| b == l.name)),
            );
        }
        // Ubuntu with Pro entries: unaffected entries are kept (empty) to decide the stream
        // rule below.
        let ubuntu_streams = distro
            && candidates
                .iter()
                .any(|e| e.stream() == Some(&Stream::UbuntuPro));
        for entry in candidates {
            if distro {
                let applies = match (&entry.release, &l.release) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(e), Some(p)) => e.applies_to(p),
                };
                if !applies {
                    continue;
                }
            }
            let start = m.ranges.len();
            let listed = entry
                .evaluate(l.version, &mut parsed, &mut m.ranges)
                .map_err(|source| MatchError::Version {
                    name: pkg.name.clone(),
                    source,
                })?;
            if m.ranges.len() > start || listed != Listed::None {
                m.hits.push(Hit {
                    entry,
                    adv: self.cached_advisory(entry.stored.advisory)?,
                    ranges: (start as u32, m.ranges.len() as u32),
                    listed,
                });
            } else if ubuntu_streams {
                // Remember entries that said "not affected": they decide the Pro rule below.
                m.hits.push(Hit {
                    entry,
                    adv: self.cached_advisory(entry.stored.advisory)?,
                    ranges: (start as u32, start as u32),
                    listed: Listed::None,
                });
            }
        }
        if ubuntu_streams {
            apply_ubuntu_streams(&mut m.hits);
        }
        m.hits
            .retain(|h| h.ranges.0 < h.ranges.1 || h.listed != Listed::None);
        group(&mut m);
        Ok(m)
    }

    /// Every vulnerability affecting `pkg`, duplicates (same id or shared alias) merged, as
    /// owned values.
    pub fn match_package(&self, pkg: &Package) -> Result<Vec<Match>, MatchError> {
        Ok(self.matches(pkg)?.to_vec())
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
            match self.matches(p) {
                Ok(m) if m.is_empty() => {}
                Ok(m) => out.push((p, m.to_vec())),
                Err(e) => errors.push(e),
            }
        }
        (out, errors)
    }
}

fn release_number(e: &PreparedEntry) -> Option<&str> {
    e.release.as_ref().map(|r| r.number.as_str())
}

/// The entries (sorted by [`release_number`]) that can apply to a package of release
/// `number`: those without a release and those of the same release number. Without a release
/// number, only the entries without one.
fn for_release<'e>(
    entries: &'e [PreparedEntry],
    number: Option<&str>,
) -> impl Iterator<Item = &'e PreparedEntry> {
    let unreleased = entries.partition_point(|e| e.release.is_none());
    let same = match number {
        Some(n) => {
            let from = entries.partition_point(|e| release_number(e).is_none_or(|x| x < n));
            let to = entries.partition_point(|e| release_number(e).is_none_or(|x| x <= n));
            &entries[from..to]
        }
        None => &[],
    };
    entries[..unreleased].iter().chain(same)
}

/// Ubuntu: an advisory with both plain and Pro entries for the package's release affects it
/// only if an entry of each stream does. `hits` holds affected and unaffected (empty) hits of
/// the applicable entries; the hits of advisories that one stream calls fixed are cleared.
fn apply_ubuntu_streams(hits: &mut [Hit<'_>]) {
    let affected = |h: &Hit<'_>| h.ranges.0 < h.ranges.1 || h.listed != Listed::None;
    let mut verdict: HashMap<u32, [(bool, bool); 2]> = HashMap::new();
    for h in hits.iter() {
        let slot = match h.entry.stream() {
            Some(Stream::UbuntuPro) => 1,
            _ => 0,
        };
        let v = verdict.entry(h.entry.stored.advisory).or_default();
        v[slot].0 = true; // the stream has an entry
        v[slot].1 |= affected(h); // and it says affected
    }
    for h in hits.iter_mut() {
        if let Some([base, pro]) = verdict.get(&h.entry.stored.advisory) {
            if base.0 && pro.0 && !(base.1 && pro.1) {
                h.ranges.1 = h.ranges.0;
                h.listed = Listed::None;
            }
        }
    }
}

/// Sorts the hits by advisory id and groups those sharing an id or alias; records that cover
/// others (several `upstream` ids) move to `covering` when any covered record matched.
fn group(m: &mut Matches<'_>) {
    // Advisories are stored in id order, so their index orders them by id.
    m.hits.sort_by_key(|h| h.entry.stored.advisory);
    let n = m.hits.len();
    if n <= 1 {
        m.groups = if n == 1 { vec![(0, 1)] } else { Vec::new() };
        return;
    }
    // Union of hits sharing any id (leaders are the smallest index, i.e. the smallest id).
    let mut lead: Vec<usize> = (0..n).collect();
    {
        let mut seen: HashMap<&str, usize, BuildFx> =
            HashMap::with_capacity_and_hasher(n * 2, BuildFx);
        for (i, (h, l)) in m.hits.iter().zip(lead.iter_mut()).enumerate() {
            let g = h.ids().find_map(|id| seen.get(id).copied()).unwrap_or(i);
            *l = g;
            for id in h.ids() {
                seen.entry(id).or_insert(g);
            }
        }
    }
    // Covering records (a USN listing the UBUNTU-CVE records it fixes) whose covered
    // vulnerabilities matched too are folded into them: the per-vulnerability records are the
    // finer answer, and the notice would count one of them twice.
    let covered_elsewhere = |i: usize| {
        let covers = &m.hits[i].adv.covers;
        covers
            .iter()
            .any(|c| (0..n).any(|j| lead[j] != lead[i] && m.hits[j].ids().any(|x| x == c.as_str())))
    };
    let is_cover: Vec<bool> = (0..n)
        .map(|i| lead[i] == i && covered_elsewhere(i))
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (lead[i], i));
    let mut hits = Vec::with_capacity(n);
    let mut covering = Vec::new();
    let mut groups: Vec<(u32, u32)> = Vec::new();
    for i in order {
        if is_cover[lead[i]] {
            covering.push(m.hits[i]);
            continue;
        }
        let at = hits.len() as u32;
        match groups.last_mut() {
            Some(g) if lead[i] != i => g.1 = at + 1,
            _ => groups.push((at, at + 1)),
        }
        hits.push(m.hits[i]);
    }
    m.hits = hits;
    m.groups = groups;
    m.covering = covering;
}

/// A small multiplicative string hasher for the short-lived id sets of [`group`] (SipHash's
/// DoS resistance buys nothing for ids read from our own database).
#[derive(Default, Clone, Copy)]
struct BuildFx;

#[derive(Default)]
struct Fx(u64);

impl std::hash::BuildHasher for BuildFx {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

/// Merges owned matches that share an id or alias into one (the smallest id leads).
pub fn merge_duplicates(mut matches: Vec<Match>) -> Vec<Match> {
    matches.sort_by(|a, b| a.advisory_id.cmp(&b.advisory_id));
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
        if better(m.severity.as_ref(), o.severity.as_ref()) {
            o.severity = m.severity;
        }
        if o.summary.is_none() {
            o.summary = m.summary;
        }
    }
    out
}
