//! The on-disk database: one compact indexed file, written atomically.
//!
//! Why not SQLite: the only query mamori needs is "all affected entries for (ecosystem, package
//! name)", so a sorted index plus length-prefixed blobs answers it with one binary search and one
//! small decode, opening costs one read and a CRC check, there is no C code to build in CI, and
//! atomicity is a single `rename`. The file is rebuilt on every import; an update
//! ([`crate::ImportOptions::update`]) reads the advisories back ([`Database::advisories`]),
//! merges the new records and writes a new file the same way.
//!
//! Layout (little endian): `MAMORIVD` magic, `u32` schema version, `u32` CRC-32 of everything
//! after it, `u32` lengths of the metadata, index, advisory-offset and binary-index sections, then
//! those four postcard-encoded sections, then the blob area (postcard `Vec<StoredAffected>` per
//! index key and one postcard `StoredAdvisory` per advisory). The binary index maps a binary
//! package name (Ubuntu's `binaries`) to the index positions of its source packages.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::matching::PreparedEntry;
use crate::osv::{Advisory, Range};
use crate::severity::SeverityScore;

/// Version of the file layout; a different version must be re-imported.
pub const SCHEMA_VERSION: u32 = 2;
/// File name of the database inside the database directory.
pub const DB_FILE: &str = "vulndb.bin";
const MAGIC: &[u8; 8] = b"MAMORIVD";
const HEADER: usize = 8 + 4 + 4 + 4 * 4;

/// Where the data came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Path or URL as given.
    pub location: String,
    /// `directory`, `zip` or `url`.
    pub kind: String,
    /// Files read from it.
    pub files: u64,
    /// Records imported from it.
    pub records: u64,
}

/// Facts about an imported database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Layout version.
    pub schema: u32,
    /// Import time (RFC 3339, UTC).
    pub imported_at: String,
    /// Sources, in the order given.
    pub sources: Vec<SourceInfo>,
    /// Advisories stored.
    pub advisories: u64,
    /// Advisories per ecosystem string (`AlmaLinux:9`, `PyPI`, …); an advisory naming several
    /// ecosystems counts once in each.
    pub ecosystems: BTreeMap<String, u64>,
    /// Newest `modified` time among stored advisories.
    pub newest_modified: Option<String>,
    /// Withdrawn records left out.
    pub withdrawn: u64,
    /// Malformed records skipped.
    pub skipped: u64,
    /// GIT ranges dropped (not evaluable against package versions).
    pub git_ranges_skipped: u64,
    /// Affected entries dropped because their ecosystem's ordering is not implemented.
    pub unsupported_affected: u64,
    /// Update imports merged in since the last full import.
    pub updates: u64,
}

/// Advisory-level data kept in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAdvisory {
    /// Advisory id.
    pub id: String,
    /// Last modification.
    pub modified: String,
    /// Publication.
    pub published: Option<String>,
    /// Aliases (CVE, GHSA, a single upstream id).
    pub aliases: Vec<String>,
    /// Upstream ids of a record covering several vulnerabilities (see [`Advisory::covers`]).
    pub covers: Vec<String>,
    /// Related ids.
    pub related: Vec<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Record-level severity.
    pub severity: Option<SeverityScore>,
    /// GIT ranges dropped from the record.
    pub git_ranges_skipped: u32,
    /// Ecosystems of affected entries dropped as not evaluable.
    pub unsupported_affected: Vec<String>,
}

/// One affected entry, filed under its (ecosystem, package) key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAffected {
    /// Index of the advisory.
    pub advisory: u32,
    /// Full ecosystem string as written (`Debian:12`).
    pub ecosystem: String,
    /// Release suffix, if any.
    pub release: Option<String>,
    /// Package name as written.
    pub name: String,
    /// Ranges.
    pub ranges: Vec<Range>,
    /// Listed versions.
    pub versions: Vec<String>,
    /// Per-package severity.
    pub severity: Option<SeverityScore>,
    /// Binary packages built from this source package (Ubuntu).
    pub binaries: Vec<String>,
    /// How the fix is delivered (Ubuntu `availability`).
    pub availability: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    key: String,
    start: u32,
    len: u32,
}

/// Normalises a package name for lookup: PEP 503 for PyPI, unchanged otherwise.
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    if ecosystem.eq_ignore_ascii_case("pypi") {
        let mut out = String::with_capacity(name.len());
        let mut sep = false;
        for c in name.trim().chars() {
            if matches!(c, '-' | '_' | '.') {
                sep = true;
            } else {
                if sep && !out.is_empty() {
                    out.push('-');
                }
                sep = false;
                out.push(c.to_ascii_lowercase());
            }
        }
        out
    } else {
        name.to_string()
    }
}

/// The index key of (ecosystem name without release, package name).
pub fn key(ecosystem: &str, name: &str) -> String {
    format!(
        "{}\u{0}{}",
        ecosystem.to_ascii_lowercase(),
        normalize_name(ecosystem, name)
    )
}

/// Failure to write the database.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// I/O on the database directory.
    #[error("cannot write database in {path}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Encoding failed (too large a section).
    #[error("cannot encode database: {0}")]
    Encode(String),
}

fn enc<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, WriteError> {
    postcard::to_stdvec(v).map_err(|e| WriteError::Encode(e.to_string()))
}

fn len32(n: usize) -> Result<u32, WriteError> {
    u32::try_from(n).map_err(|_| WriteError::Encode("section larger than 4 GiB".into()))
}

/// Serialises advisories into the file format (without writing it). Advisories are stored in
/// id order (matching relies on it to order matches without comparing ids).
pub fn encode(advisories: &[Advisory], meta: &Metadata) -> Result<Vec<u8>, WriteError> {
    let mut blobs: Vec<u8> = Vec::new();
    let mut adv_offsets: Vec<(u32, u32)> = Vec::with_capacity(advisories.len());
    let mut groups: BTreeMap<String, Vec<StoredAffected>> = BTreeMap::new();
    let mut sorted: Vec<&Advisory> = advisories.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for (i, a) in sorted.into_iter().enumerate() {
        let stored = StoredAdvisory {
            id: a.id.clone(),
            modified: a.modified.clone(),
            published: a.published.clone(),
            aliases: a.aliases.clone(),
            covers: a.covers.clone(),
            related: a.related.clone(),
            summary: a.summary.clone(),
            severity: a.severity.clone(),
            git_ranges_skipped: len32(a.git_ranges_skipped)?,
            unsupported_affected: a.unsupported_affected.clone(),
        };
        let bytes = enc(&stored)?;
        adv_offsets.push((len32(blobs.len())?, len32(bytes.len())?));
        blobs.extend_from_slice(&bytes);
        for af in &a.affected {
            let ecosystem = match &af.ecosystem.release {
                Some(r) => format!("{}:{r}", af.ecosystem.name),
                None => af.ecosystem.name.clone(),
            };
            groups
                .entry(key(&af.ecosystem.name, &af.name))
                .or_default()
                .push(StoredAffected {
                    advisory: len32(i)?,
                    ecosystem,
                    release: af.ecosystem.release.clone(),
                    name: af.name.clone(),
                    ranges: af.ranges.clone(),
                    versions: af.versions.clone(),
                    severity: af.severity.clone(),
                    binaries: af.binaries.clone(),
                    availability: af.availability.clone(),
                });
        }
    }
    // Binary name → index positions of the source packages that build it.
    let mut by_binary: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (pos, entries) in groups.values().enumerate() {
        for e in entries {
            let eco = e.ecosystem.split(':').next().unwrap_or_default();
            for b in &e.binaries {
                if *b == e.name {
                    continue; // found under its own key already
                }
                let list = by_binary.entry(key(eco, b)).or_default();
                let pos = len32(pos)?;
                if !list.contains(&pos) {
                    list.push(pos);
                }
            }
        }
    }
    let binary_index: Vec<(String, Vec<u32>)> = by_binary.into_iter().collect();
    let mut index = Vec::with_capacity(groups.len());
    for (k, entries) in groups {
        let bytes = enc(&entries)?;
        index.push(IndexEntry {
            key: k,
            start: len32(blobs.len())?,
            len: len32(bytes.len())?,
        });
        blobs.extend_from_slice(&bytes);
    }
    let meta_b = enc(meta)?;
    let index_b = enc(&index)?;
    let adv_b = enc(&adv_offsets)?;
    let bin_b = enc(&binary_index)?;
    let mut body = Vec::with_capacity(
        16 + meta_b.len() + index_b.len() + adv_b.len() + bin_b.len() + blobs.len(),
    );
    body.extend_from_slice(&len32(meta_b.len())?.to_le_bytes());
    body.extend_from_slice(&len32(index_b.len())?.to_le_bytes());
    body.extend_from_slice(&len32(adv_b.len())?.to_le_bytes());
    body.extend_from_slice(&len32(bin_b.len())?.to_le_bytes());
    body.extend_from_slice(&meta_b);
    body.extend_from_slice(&index_b);
    body.extend_from_slice(&adv_b);
    body.extend_from_slice(&bin_b);
    body.extend_from_slice(&blobs);
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Writes `bytes` as `dir/vulndb.bin` atomically: a temporary file in `dir`, flushed and synced,
/// then renamed over the old file. A failure at any point leaves the previous file untouched.
pub fn write_atomic(dir: &Path, bytes: &[u8]) -> Result<PathBuf, WriteError> {
    let io = |source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".vulndb-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    let target = dir.join(DB_FILE);
    tmp.persist(&target).map_err(|e| io(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all(); // best effort: make the rename durable
    }
    Ok(target)
}

/// Failure to open the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No database at that location.
    #[error("no vulnerability database at {0} (run `mamori db import` first)")]
    Missing(PathBuf),
    /// Reading failed.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a mamori database, or damaged.
    #[error("{path} is corrupt: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Written by another layout version.
    #[error("{path} has schema version {found}, this mamori reads {expected}: re-import it")]
    Schema {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
}

/// Decoded data kept after first use (one slot per index key and per advisory), so that
/// repeated matching (warm) skips decoding and version parsing.
#[derive(Debug, Default)]
pub(crate) struct Caches {
    pub(crate) entries: Vec<OnceLock<Vec<PreparedEntry>>>,
    pub(crate) advisories: Vec<OnceLock<Arc<StoredAdvisory>>>,
}

/// An opened database: the file bytes, the decoded index and the metadata.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    bytes: Vec<u8>,
    blobs_start: usize,
    meta: Metadata,
    index: Vec<IndexEntry>,
    adv: Vec<(u32, u32)>,
    binary_index: Vec<(String, Vec<u32>)>,
    pub(crate) caches: Caches,
}

/// Advisory positions are `u32` in the file; the count was checked when it was written.
fn len_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

impl Database {
    /// Opens `dir/vulndb.bin` (or `dir` itself when it is a file), verifying magic, schema version
    /// and checksum.
    pub fn open(dir: &Path) -> Result<Database, OpenError> {
        let path = if dir.is_file() {
            dir.to_path_buf()
        } else {
            dir.join(DB_FILE)
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OpenError::Missing(path))
            }
            Err(source) => return Err(OpenError::Io { path, source }),
        };
        Self::from_bytes(path, bytes)
    }

    /// Decodes a database from its bytes (`path` is used in messages).
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Database, OpenError> {
        let corrupt = |why: &str| OpenError::Corrupt {
            path: path.clone(),
            why: why.to_string(),
        };
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(corrupt("not a mamori vulnerability database (bad magic)"));
        }
        let schema = u32_at(&bytes, 8);
        if schema != SCHEMA_VERSION {
            return Err(OpenError::Schema {
                path,
                found: schema,
                expected: SCHEMA_VERSION,
            });
        }
        if crc32fast::hash(&bytes[16..]) != u32_at(&bytes, 12) {
            return Err(corrupt("checksum mismatch (truncated or modified file)"));
        }
        let (ml, il, al, bl) = (
            u32_at(&bytes, 16) as usize,
            u32_at(&bytes, 20) as usize,
            u32_at(&bytes, 24) as usize,
            u32_at(&bytes, 28) as usize,
        );
        let s0 = HEADER;
        let blobs_start = s0
            .checked_add(ml)
            .and_then(|x| x.checked_add(il))
            .and_then(|x| x.checked_add(al))
            .and_then(|x| x.checked_add(bl))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| corrupt("section lengths exceed the file"))?;
        let adv_end = s0 + ml + il + al;
        let meta: Metadata = postcard::from_bytes(&bytes[s0..s0 + ml])
            .map_err(|e| corrupt(&format!("metadata: {e}")))?;
        let index: Vec<IndexEntry> = postcard::from_bytes(&bytes[s0 + ml..s0 + ml + il])
            .map_err(|e| corrupt(&format!("index: {e}")))?;
        let adv: Vec<(u32, u32)> = postcard::from_bytes(&bytes[s0 + ml + il..adv_end])
            .map_err(|e| corrupt(&format!("advisory offsets: {e}")))?;
        let binary_index: Vec<(String, Vec<u32>)> =
            postcard::from_bytes(&bytes[adv_end..blobs_start])
                .map_err(|e| corrupt(&format!("binary index: {e}")))?;
        if binary_index
            .iter()
            .any(|(_, ps)| ps.iter().any(|p| *p as usize >= index.len()))
        {
            return Err(corrupt("the binary index points outside the index"));
        }
        let area = bytes.len() - blobs_start;
        let fits = |(s, l): (u32, u32)| {
            (s as usize)
                .checked_add(l as usize)
                .is_some_and(|e| e <= area)
        };
        if !index.iter().all(|e| fits((e.start, e.len))) || !adv.iter().all(|x| fits(*x)) {
            return Err(corrupt("an offset points outside the file"));
        }
        let caches = Caches {
            entries: (0..index.len()).map(|_| OnceLock::new()).collect(),
            advisories: (0..adv.len()).map(|_| OnceLock::new()).collect(),
        };
        Ok(Database {
            path,
            bytes,
            blobs_start,
            meta,
            index,
            adv,
            binary_index,
            caches,
        })
    }

    /// The file this database was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Import metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Number of (ecosystem, package) keys.
    pub fn package_keys(&self) -> usize {
        self.index.len()
    }

    fn blob(&self, start: u32, len: u32) -> &[u8] {
        let s = self.blobs_start + start as usize;
        &self.bytes[s..s + len as usize]
    }

    /// Position in the index of (ecosystem name without release, package name).
    pub(crate) fn find(&self, ecosystem: &str, name: &str) -> Option<usize> {
        let k = key(ecosystem, name);
        self.index
            .binary_search_by(|e| e.key.as_str().cmp(k.as_str()))
            .ok()
    }

    /// Index positions of the source packages that build binary `name` (Ubuntu `binaries`).
    pub(crate) fn sources_of_binary(&self, ecosystem: &str, name: &str) -> &[u32] {
        let k = key(ecosystem, name);
        match self
            .binary_index
            .binary_search_by(|(b, _)| b.as_str().cmp(k.as_str()))
        {
            Ok(i) => &self.binary_index[i].1,
            Err(_) => &[],
        }
    }

    /// Every stored advisory rebuilt as an [`Advisory`] (affected entries grouped by package;
    /// `purl`s are not stored). An update import merges new records into these.
    pub fn advisories(&self) -> Result<Vec<Advisory>, OpenError> {
        let mut out = Vec::with_capacity(self.adv.len());
        for i in 0..self.adv.len() {
            let a = self.advisory(len_u32(i))?;
            out.push(Advisory {
                id: a.id,
                modified: a.modified,
                published: a.published,
                withdrawn: false,
                aliases: a.aliases,
                covers: a.covers,
                related: a.related,
                summary: a.summary,
                severity: a.severity,
                affected: Vec::new(),
                git_ranges_skipped: a.git_ranges_skipped as usize,
                unsupported_affected: a.unsupported_affected,
            });
        }
        for i in 0..self.index.len() {
            for e in self.entries_at(i)? {
                let Some(adv) = out.get_mut(e.advisory as usize) else {
                    return Err(OpenError::Corrupt {
                        path: self.path.clone(),
                        why: format!("entry names advisory {} out of range", e.advisory),
                    });
                };
                let name = crate::osv::EcosystemName::parse(&e.ecosystem).name;
                adv.affected.push(crate::osv::Affected {
                    ecosystem: crate::osv::EcosystemName {
                        name,
                        release: e.release,
                    },
                    name: e.name,
                    purl: None,
                    ranges: e.ranges,
                    versions: e.versions,
                    severity: e.severity,
                    binaries: e.binaries,
                    availability: e.availability,
                });
            }
        }
        Ok(out)
    }

    /// Decodes the entries at index position `i`.
    pub(crate) fn entries_at(&self, i: usize) -> Result<Vec<StoredAffected>, OpenError> {
        let e = &self.index[i];
        postcard::from_bytes(self.blob(e.start, e.len)).map_err(|err| OpenError::Corrupt {
            path: self.path.clone(),
            why: format!("entry {:?}: {err}", e.key),
        })
    }

    /// All affected entries filed under (ecosystem name without release, package name).
    pub fn affected(&self, ecosystem: &str, name: &str) -> Result<Vec<StoredAffected>, OpenError> {
        match self.find(ecosystem, name) {
            Some(i) => self.entries_at(i),
            None => Ok(Vec::new()),
        }
    }

    /// The advisory with index `i`.
    pub fn advisory(&self, i: u32) -> Result<StoredAdvisory, OpenError> {
        let corrupt = |why: String| OpenError::Corrupt {
            path: self.path.clone(),
            why,
        };
        let (s, l) = *self
            .adv
            .get(i as usize)
            .ok_or_else(|| corrupt(format!("advisory {i} out of range")))?;
        postcard::from_bytes(self.blob(s, l)).map_err(|e| corrupt(format!("advisory {i}: {e}")))
    }
}
