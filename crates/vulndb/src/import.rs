//! Import of OSV records from directories, zips (osv.dev `<ecosystem>/all.zip`) and http(s) URLs.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::osv::{parse_record, Advisory, ParseRecordError};
use crate::store::{
    encode, write_atomic, Database, Metadata, OpenError, SourceInfo, WriteError, SCHEMA_VERSION,
};

/// Largest download accepted from a URL (osv.dev's biggest `all.zip` is far below this).
pub const MAX_DOWNLOAD: u64 = 2 << 30;

/// Where to read OSV records from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory tree of `.json`/`.yaml`/`.yml` files.
    Dir(PathBuf),
    /// A zip of such files.
    Zip(PathBuf),
    /// An http(s) URL of such a zip.
    Url(String),
}

impl Source {
    /// `http://`/`https://` → URL, an existing directory → directory, anything else → zip file.
    pub fn parse(s: &str) -> Source {
        if s.starts_with("http://") || s.starts_with("https://") {
            Source::Url(s.to_string())
        } else if Path::new(s).is_dir() {
            Source::Dir(PathBuf::from(s))
        } else {
            Source::Zip(PathBuf::from(s))
        }
    }

    fn location(&self) -> String {
        match self {
            Source::Dir(p) | Source::Zip(p) => p.display().to_string(),
            Source::Url(u) => u.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Source::Dir(_) => "directory",
            Source::Zip(_) => "zip",
            Source::Url(_) => "url",
        }
    }
}

/// A record that was skipped, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// File (path, or `zip!entry`).
    pub file: String,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// The database file written.
    pub path: PathBuf,
    /// Files read.
    pub files: u64,
    /// Malformed records skipped.
    pub skipped: Vec<Skipped>,
    /// Records whose id appeared again (the newest `modified` was kept).
    pub duplicates: u64,
    /// Metadata written.
    pub metadata: Metadata,
    /// For an update ([`ImportOptions::update`]) of an existing database: what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateReport>,
}

/// What an update import changed in the existing database.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpdateReport {
    /// Advisories in the database before.
    pub previous: u64,
    /// New ids.
    pub added: u64,
    /// Stored advisories replaced by a record with a newer `modified`.
    pub updated: u64,
    /// Records whose `modified` equals the stored one (kept as stored).
    pub unchanged: u64,
    /// Records older than the stored advisory (the stored one is kept).
    pub stale: u64,
    /// Stored advisories removed because the new source withdrew them.
    pub withdrawn: u64,
}

/// Progress of reading the sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files read so far, over all sources.
    pub files: u64,
    /// Files of the current source and those before it, when known (not for a download in
    /// progress).
    pub total: Option<u64>,
}

/// Import settings.
#[derive(Default)]
pub struct ImportOptions<'a> {
    /// Fail (and write nothing) if any record is malformed.
    pub strict: bool,
    /// Merge the sources into the existing database instead of replacing it: a record replaces
    /// the stored advisory of the same id when its `modified` is newer, a withdrawn record
    /// removes it, older or unchanged records leave it as stored. The new file is written
    /// atomically like a full import. Without an existing database this is a full import.
    pub update: bool,
    /// Called after each file is read (parsing follows).
    pub progress: Option<&'a dyn Fn(Progress)>,
}

/// Import failure; the previous database is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading a file or directory failed.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A zip is truncated or corrupt.
    #[error("{location} is not a readable zip: {reason}")]
    Zip {
        /// Path or URL.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A download failed.
    #[error("cannot download {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// `--strict` and some records are malformed.
    #[error("{count} malformed record(s), first: {first_file}: {first_reason} (strict mode: nothing written)")]
    Strict {
        /// How many.
        count: usize,
        /// First file.
        first_file: String,
        /// Its reason.
        first_reason: String,
    },
    /// No source held any OSV record.
    #[error("no OSV records found in {0}")]
    Empty(String),
    /// Writing the database failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The database to update cannot be read (a full import replaces it).
    #[error("cannot update the existing database: {0}")]
    Existing(#[source] crate::store::OpenError),
}

fn osv_file_kind(name: &str) -> Option<bool> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Some(false)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(true)
    } else {
        None
    }
}

struct Collector<'a> {
    by_id: HashMap<String, Advisory>,
    /// Withdrawn ids with their newest `modified` (an update removes them).
    withdrawn_ids: HashMap<String, String>,
    skipped: Vec<Skipped>,
    withdrawn: u64,
    duplicates: u64,
    files: u64,
    /// Files known to come, over all sources so far.
    total: Option<u64>,
    progress: Option<&'a dyn Fn(Progress)>,
}

/// Whether RFC 3339 time `a` is later than `b` (compared as instants; text order when either
/// does not parse, which validation has already excluded for records).
pub fn is_newer(a: &str, b: &str) -> bool {
    let parse = |t: &str| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x > y,
        _ => a > b,
    }
}

/// One file waiting to be parsed: display name, bytes, YAML or JSON.
type Pending = (String, Vec<u8>, bool);

/// Parses files on every available core, keeping their order.
fn parse_all(pending: Vec<Pending>) -> Vec<(String, Result<Advisory, ParseRecordError>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads <= 1 || pending.len() < 64 {
        return pending
            .into_iter()
            .map(|(f, b, y)| {
                let r = parse_record(&b, y);
                (f, r)
            })
            .collect();
    }
    let chunk = pending.len().div_ceil(threads);
    let mut parts: Vec<Vec<Pending>> = Vec::new();
    let mut it = pending.into_iter().peekable();
    while it.peek().is_some() {
        parts.push(it.by_ref().take(chunk).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|(f, b, y)| {
                            let r = parse_record(&b, y);
                            (f, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panicking parser is a bug; re-raise it instead of hiding records.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

impl Collector<'_> {
    fn tick(&self, n: u64) {
        if let Some(p) = self.progress {
            p(Progress {
                files: n,
                total: self.total,
            });
        }
    }

    fn expect(&mut self, more: Option<u64>) {
        self.total = match (self.total, more) {
            (Some(t), Some(m)) => Some(t + m),
            _ => None,
        };
    }

    /// Parses a batch of files; returns how many records were kept.
    fn add_all(&mut self, pending: Vec<Pending>) -> u64 {
        let mut kept = 0;
        for (file, result) in parse_all(pending) {
            kept += u64::from(self.add(file, result));
        }
        kept
    }

    /// Files one parse result; returns whether a record was kept.
    fn add(&mut self, file: String, result: Result<Advisory, ParseRecordError>) -> bool {
        self.files += 1;
        match result {
            Err(e) => {
                tracing::debug!(%file, error = %e, "skipping malformed OSV record");
                self.skipped.push(Skipped {
                    file,
                    reason: e.to_string(),
                });
                false
            }
            Ok(a) if a.withdrawn => {
                self.withdrawn += 1;
                let newer = self
                    .withdrawn_ids
                    .get(&a.id)
                    .is_none_or(|m| is_newer(&a.modified, m));
                if newer {
                    self.withdrawn_ids.insert(a.id, a.modified);
                }
                false
            }
            Ok(a) => {
                match self.by_id.get(&a.id) {
                    Some(old) => {
                        self.duplicates += 1;
                        if is_newer(&a.modified, &old.modified) {
                            self.by_id.insert(a.id.clone(), a);
                        }
                    }
                    None => {
                        self.by_id.insert(a.id.clone(), a);
                    }
                }
                true
            }
        }
    }

    fn dir(&mut self, root: &Path) -> Result<(u64, u64), ImportError> {
        let mut stack = vec![root.to_path_buf()];
        let mut files = Vec::new();
        while let Some(d) = stack.pop() {
            let io = |source| ImportError::Io {
                path: d.clone(),
                source,
            };
            for entry in std::fs::read_dir(&d).map_err(io)? {
                let entry = entry.map_err(io)?;
                let path = entry.path();
                let ft = entry.file_type().map_err(io)?;
                if ft.is_dir() {
                    stack.push(path);
                } else if ft.is_file() {
                    if let Some(yaml) = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(osv_file_kind)
                    {
                        files.push((path, yaml));
                    }
                }
            }
        }
        files.sort();
        self.expect(Some(files.len() as u64));
        let f0 = self.files;
        let mut pending = Vec::with_capacity(files.len());
        for (path, yaml) in files {
            let bytes = std::fs::read(&path).map_err(|source| ImportError::Io {
                path: path.clone(),
                source,
            })?;
            pending.push((path.display().to_string(), bytes, yaml));
            self.tick(f0 + pending.len() as u64);
        }
        let kept = self.add_all(pending);
        Ok((self.files - f0, kept))
    }

    fn zip<R: Read + Seek>(
        &mut self,
        location: &str,
        reader: R,
    ) -> Result<(u64, u64), ImportError> {
        let zerr = |e: zip::result::ZipError| ImportError::Zip {
            location: location.to_string(),
            reason: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(reader).map_err(zerr)?;
        let expected = archive
            .file_names()
            .filter(|n| osv_file_kind(n).is_some())
            .count();
        self.expect(Some(expected as u64));
        let f0 = self.files;
        let mut pending = Vec::new();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zerr)?;
            if !entry.is_file() {
                continue;
            }
            let name = entry.name().to_string();
            let Some(yaml) = osv_file_kind(&name) else {
                continue;
            };
            let mut buf =
                Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 24));
            entry.read_to_end(&mut buf).map_err(|e| ImportError::Zip {
                location: location.to_string(),
                reason: format!("entry {name}: {e}"),
            })?;
            pending.push((format!("{location}!{name}"), buf, yaml));
            self.tick(f0 + pending.len() as u64);
        }
        let kept = self.add_all(pending);
        Ok((self.files - f0, kept))
    }
}

fn download(url: &str) -> Result<Vec<u8>, ImportError> {
    let herr = |reason: String| ImportError::Http {
        url: url.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(600)))
        .build()
        .into();
    let resp = agent.get(url).call().map_err(|e| herr(e.to_string()))?;
    resp.into_body()
        .with_config()
        .limit(MAX_DOWNLOAD)
        .read_to_vec()
        .map_err(|e| herr(e.to_string()))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Reads every source and writes a new database into `db_dir` (replacing the old one
/// atomically). Malformed records are skipped and reported unless `strict` is set.
pub fn import(
    sources: &[Source],
    db_dir: &Path,
    opts: &ImportOptions<'_>,
) -> Result<ImportReport, ImportError> {
    // An update starts from the stored advisories; read them before anything is written.
    let existing = if opts.update {
        match Database::open(db_dir) {
            Ok(db) => Some((
                db.metadata().clone(),
                db.advisories().map_err(ImportError::Existing)?,
            )),
            Err(OpenError::Missing(_)) => None,
            Err(e) => return Err(ImportError::Existing(e)),
        }
    } else {
        None
    };
    let mut c = Collector {
        by_id: HashMap::new(),
        withdrawn_ids: HashMap::new(),
        skipped: Vec::new(),
        withdrawn: 0,
        duplicates: 0,
        files: 0,
        total: Some(0),
        progress: opts.progress,
    };
    let mut infos = Vec::new();
    for src in sources {
        let (files, records) = match src {
            Source::Dir(p) => c.dir(p)?,
            Source::Zip(p) => {
                let f = std::fs::File::open(p).map_err(|source| ImportError::Io {
                    path: p.clone(),
                    source,
                })?;
                c.zip(&src.location(), std::io::BufReader::new(f))?
            }
            Source::Url(u) => {
                c.expect(None);
                let bytes = download(u)?;
                c.total = Some(c.files);
                c.zip(u, std::io::Cursor::new(bytes))?
            }
        };
        if files == 0 {
            return Err(ImportError::Empty(src.location()));
        }
        infos.push(SourceInfo {
            location: src.location(),
            kind: src.kind().to_string(),
            files,
            records,
        });
    }
    if opts.strict {
        if let Some(first) = c.skipped.first() {
            return Err(ImportError::Strict {
                count: c.skipped.len(),
                first_file: first.file.clone(),
                first_reason: first.reason.clone(),
            });
        }
    }
    let (mut advisories, update, previous) = match existing {
        Some((meta, stored)) => {
            let (merged, report) = merge_update(stored, c.by_id, &c.withdrawn_ids);
            (merged, Some(report), Some(meta))
        }
        None => (c.by_id.into_values().collect(), None, None),
    };
    advisories.sort_by(|a, b| a.id.cmp(&b.id));
    let mut ecosystems: BTreeMap<String, u64> = BTreeMap::new();
    let (mut git, mut unsupported) = (0u64, 0u64);
    for a in &advisories {
        git += a.git_ranges_skipped as u64;
        unsupported += a.unsupported_affected.len() as u64;
        let mut seen: Vec<String> = a
            .affected
            .iter()
            .map(|af| match &af.ecosystem.release {
                Some(r) => format!("{}:{r}", af.ecosystem.name),
                None => af.ecosystem.name.clone(),
            })
            .collect();
        seen.sort();
        seen.dedup();
        for e in seen {
            *ecosystems.entry(e).or_default() += 1;
        }
    }
    let newest = advisories
        .iter()
        .map(|a| a.modified.as_str())
        .max()
        .map(str::to_string);
    let (mut sources, mut withdrawn, mut skipped, mut updates) = (Vec::new(), 0, 0, 0);
    if let Some(p) = previous {
        (sources, withdrawn, skipped, updates) = (p.sources, p.withdrawn, p.skipped, p.updates + 1);
    }
    sources.extend(infos);
    let meta = Metadata {
        schema: SCHEMA_VERSION,
        imported_at: now_rfc3339(),
        sources,
        advisories: advisories.len() as u64,
        ecosystems,
        newest_modified: newest,
        withdrawn: withdrawn + c.withdrawn,
        skipped: skipped + c.skipped.len() as u64,
        git_ranges_skipped: git,
        unsupported_affected: unsupported,
        updates,
    };
    let bytes = encode(&advisories, &meta)?;
    let path = write_atomic(db_dir, &bytes)?;
    Ok(ImportReport {
        path,
        files: c.files,
        skipped: c.skipped,
        duplicates: c.duplicates,
        metadata: meta,
        update,
    })
}

/// Merges newly read records into the stored advisories (see [`ImportOptions::update`]).
fn merge_update(
    stored: Vec<Advisory>,
    incoming: HashMap<String, Advisory>,
    withdrawn: &HashMap<String, String>,
) -> (Vec<Advisory>, UpdateReport) {
    let mut r = UpdateReport {
        previous: stored.len() as u64,
        ..UpdateReport::default()
    };
    let mut by_id: HashMap<String, Advisory> =
        stored.into_iter().map(|a| (a.id.clone(), a)).collect();
    for (id, a) in incoming {
        match by_id.get(&id) {
            None => {
                r.added += 1;
                by_id.insert(id, a);
            }
            Some(old) if is_newer(&a.modified, &old.modified) => {
                r.updated += 1;
                by_id.insert(id, a);
            }
            Some(old) if is_newer(&old.modified, &a.modified) => r.stale += 1,
            Some(_) => r.unchanged += 1,
        }
    }
    for (id, modified) in withdrawn {
        // A withdrawal older than the stored record does not undo a later revision.
        let applies = by_id
            .get(id)
            .is_some_and(|old| !is_newer(&old.modified, modified));
        if applies {
            by_id.remove(id);
            r.withdrawn += 1;
        }
    }
    (by_id.into_values().collect(), r)
}
