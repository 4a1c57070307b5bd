//! SQLite implementation of [`EventStore`]: WAL journal, schema versioned with
//! `PRAGMA user_version`, event inserts through one writer thread that commits the batches of
//! concurrent callers together (module `group`).
//!
//! Durability is chosen with [`Synchronous`]: `full` (the default) syncs the WAL at every commit,
//! so an acknowledged event survives a power loss; `normal` syncs only at checkpoints, so an
//! acknowledged event survives the console being killed (the commit is in the OS page cache) but
//! the last commits before a power loss or kernel crash may be lost.

mod group;
mod names;
mod rollup;
mod search;
mod times;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::{EventStore, StoreError};
use crate::alarms::{AlarmConfig, AlarmState, AlarmStatus, Transition};
use crate::auth::TokenInfo;
use crate::model::{
    normalise_priority, Bucket, EventFilter, Fields, GroupBy, Page, StoredEvent, PRIORITIES,
};
use crate::reports::{IncomingReport, StoredReport};

/// How many events (by id) one page of a substring search examines at most, by default. For a
/// text of three bytes or more, only events in blocks that the search index cannot rule out
/// count.
pub const SCAN_WINDOW: i64 = 200_000;

/// How many blocks' search filters one page of a text search examines at most (24 KiB each).
const MAX_FILTER_BLOCKS: i64 = 4096;

/// Page cache of the writer connection, KiB: the hot index pages of a large store stay in memory
/// instead of being read back for every insert.
const WRITER_CACHE_KIB: u32 = 65_536;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 7;

const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE events (
        id        INTEGER PRIMARY KEY,
        time_ns   INTEGER NOT NULL,
        source    TEXT NOT NULL,
        rule      TEXT NOT NULL,
        priority  INTEGER NOT NULL,
        output    TEXT NOT NULL,
        hostname  TEXT NOT NULL,
        tags      TEXT NOT NULL,
        namespace TEXT,
        pod       TEXT,
        container TEXT,
        image     TEXT,
        status    TEXT,
        fields    TEXT NOT NULL
     );
     CREATE INDEX events_time ON events(time_ns);
     CREATE INDEX events_rule ON events(rule);
     CREATE INDEX events_priority ON events(priority);
     CREATE INDEX events_namespace ON events(namespace);
     CREATE INDEX events_source ON events(source);
     CREATE INDEX events_status ON events(status);
     CREATE TABLE tokens (
        hash       TEXT PRIMARY KEY,
        role       TEXT NOT NULL,
        created_ns INTEGER NOT NULL
     );",
    // v2: alarms
    "CREATE TABLE alarms (
        name              TEXT PRIMARY KEY,
        definition        TEXT NOT NULL,
        state             TEXT NOT NULL,
        state_since_ns    INTEGER NOT NULL,
        last_value        REAL,
        last_evaluated_ns INTEGER,
        acknowledged_ns   INTEGER
     );
     CREATE TABLE alarm_history (
        id        INTEGER PRIMARY KEY,
        alarm     TEXT NOT NULL,
        time_ns   INTEGER NOT NULL,
        from_state TEXT NOT NULL,
        to_state  TEXT NOT NULL,
        value     REAL,
        reason    TEXT NOT NULL
     );
     CREATE INDEX alarm_history_alarm ON alarm_history(alarm, id);",
    // v3: scan reports. `current` marks the newest report of each target set.
    "CREATE TABLE reports (
        id          INTEGER PRIMARY KEY,
        received_ns INTEGER NOT NULL,
        tool        TEXT NOT NULL,
        targets     TEXT NOT NULL,
        counts      TEXT NOT NULL,
        current     INTEGER NOT NULL DEFAULT 1
     );
     CREATE INDEX reports_targets ON reports(targets, current);
     CREATE TABLE findings (
        id        INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        severity  TEXT NOT NULL,
        rule_id   TEXT NOT NULL,
        nist      TEXT NOT NULL,
        body      TEXT NOT NULL
     );
     CREATE INDEX findings_report ON findings(report_id);
     CREATE TABLE finding_risks (
        finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        report_id  INTEGER NOT NULL,
        risk       TEXT NOT NULL,
        severity   TEXT NOT NULL
     );
     CREATE INDEX finding_risks_report ON finding_risks(report_id);",
    // v4: named tokens (several per role: one per node or webhook); the built-in ones are named
    // after their role.
    // Runtime alerts carry no status: a partial index keeps them out of it (a `status = ?` filter
    // implies `status IS NOT NULL`, so the planner still uses it).
    "ALTER TABLE tokens ADD COLUMN name TEXT;
     UPDATE tokens SET name = role;
     CREATE UNIQUE INDEX tokens_name ON tokens(name);
     DROP INDEX events_status;
     CREATE INDEX events_status ON events(status) WHERE status IS NOT NULL;",
    // v5: the free-text search index, a trigram filter per block of event ids (module
    // `search`); the filters of existing events are built right after (`search::backfill`).
    "CREATE TABLE search_blocks (
        block  INTEGER PRIMARY KEY,
        filter BLOB NOT NULL
     );",
    // v6: leaner rows for a faster ingest. The low-cardinality text columns become ids of
    // interned names (module `names`); the b-tree on time_ns gives way to per-block time ranges
    // (module `times`); small columns come first in the row. The table is rewritten.
    "CREATE TABLE names (
        id   INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (kind, text)
     );
     INSERT INTO names (kind, text)
        SELECT 0, source FROM events UNION
        SELECT 1, rule FROM events UNION
        SELECT 2, namespace FROM events WHERE namespace IS NOT NULL UNION
        SELECT 3, hostname FROM events UNION
        SELECT 4, status FROM events WHERE status IS NOT NULL UNION
        SELECT 5, tags FROM events;
     CREATE TABLE events_v6 (
        id        INTEGER PRIMARY KEY,
        time_ns   INTEGER NOT NULL,
        priority  INTEGER NOT NULL,
        source    INTEGER NOT NULL,
        rule      INTEGER NOT NULL,
        namespace INTEGER,
        status    INTEGER,
        hostname  INTEGER NOT NULL,
        tags      INTEGER NOT NULL,
        pod       TEXT,
        container TEXT,
        image     TEXT,
        output    TEXT NOT NULL,
        fields    TEXT NOT NULL
     );
     INSERT INTO events_v6
        SELECT e.id, e.time_ns, e.priority,
          (SELECT n.id FROM names n WHERE n.kind = 0 AND n.text = e.source),
          (SELECT n.id FROM names n WHERE n.kind = 1 AND n.text = e.rule),
          (SELECT n.id FROM names n WHERE n.kind = 2 AND n.text = e.namespace),
          (SELECT n.id FROM names n WHERE n.kind = 4 AND n.text = e.status),
          (SELECT n.id FROM names n WHERE n.kind = 3 AND n.text = e.hostname),
          (SELECT n.id FROM names n WHERE n.kind = 5 AND n.text = e.tags),
          e.pod, e.container, e.image, e.output, e.fields
        FROM events e ORDER BY e.id;
     DROP TABLE events;
     ALTER TABLE events_v6 RENAME TO events;
     CREATE INDEX events_rule ON events(rule);
     CREATE INDEX events_priority ON events(priority);
     CREATE INDEX events_namespace ON events(namespace);
     CREATE INDEX events_source ON events(source);
     CREATE INDEX events_status ON events(status) WHERE status IS NOT NULL;
     CREATE TABLE block_times (
        block INTEGER PRIMARY KEY,
        t_min INTEGER NOT NULL,
        t_max INTEGER NOT NULL
     );
     INSERT INTO block_times SELECT id >> 10, min(time_ns), max(time_ns) FROM events
        GROUP BY id >> 10;",
    // v7: per-block counts by rule, priority, namespace, source and status (module `rollup`).
    "CREATE TABLE block_counts (
        block INTEGER NOT NULL,
        dim   INTEGER NOT NULL,
        value INTEGER NOT NULL,
        n     INTEGER NOT NULL,
        PRIMARY KEY (block, dim, value)
     ) WITHOUT ROWID;
     INSERT INTO block_counts SELECT id >> 10, 0, rule, count(*) FROM events GROUP BY 1, 3;
     INSERT INTO block_counts SELECT id >> 10, 1, priority, count(*) FROM events GROUP BY 1, 3;
     INSERT INTO block_counts SELECT id >> 10, 2, coalesce(namespace, -1), count(*) FROM events
        GROUP BY 1, 3;
     INSERT INTO block_counts SELECT id >> 10, 3, source, count(*) FROM events GROUP BY 1, 3;
     INSERT INTO block_counts SELECT id >> 10, 4, coalesce(status, -1), count(*) FROM events
        GROUP BY 1, 3;
     INSERT INTO block_counts SELECT id >> 10, 5, time_ns / 60000000000, count(*) FROM events
        GROUP BY 1, 3;",
];

// Migrations 6 and 7 compute blocks as `id >> 10`, and 7 writes the dimensions and the absent
// value by number.
const _: () = assert!(search::BLOCK_SHIFT == 10);
const _: () = assert!(rollup::NONE == -1);
const _: () = assert!(rollup::Dim::Status as i64 == 4 && rollup::Dim::Source as i64 == 3);
const _: () = assert!(rollup::Dim::Namespace as i64 == 2 && rollup::Dim::Priority as i64 == 1);
const _: () = assert!(rollup::Dim::Minute as i64 == 5 && rollup::MINUTE_NS == 60_000_000_000);

/// The migration (1-based) after which the search filters of existing events are built.
const SEARCH_MIGRATION: usize = 5;

/// When SQLite syncs to disk (`PRAGMA synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Sync the WAL at every commit: an acknowledged event survives a crash of the console and a
    /// power loss.
    #[default]
    Full,
    /// Sync only at checkpoints: an acknowledged event survives a crash (or SIGKILL) of the
    /// console, but the commits of the last moments before a power loss or kernel crash may be
    /// lost. Faster when the disk's sync is slow.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How to open the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// When to sync to disk.
    pub synchronous: Synchronous,
}

/// How well the writer shares commits: totals since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Transactions committed for event inserts.
    pub commits: u64,
    /// Insert calls (batches) those transactions held.
    pub batches: u64,
    /// Events they held.
    pub events: u64,
}

/// The SQLite event store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Mutex<Connection>,
    scan_window: i64,
    group: group::GroupWriter,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the store at `path`, with `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, StoreOptions::default())
    }

    /// Opens the store at `path` with `options`.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<SqliteStore, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut writer = Connection::open(path).map_err(open_err)?;
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA busy_timeout=2000;
                 PRAGMA foreign_keys=ON;",
                options.synchronous.pragma()
            ))
            .map_err(open_err)?;
        migrate(&mut writer, path)?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        reader
            .execute_batch("PRAGMA busy_timeout=2000;")
            .map_err(open_err)?;
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint={}; PRAGMA cache_size=-{WRITER_CACHE_KIB};",
                group::WRITER_AUTOCHECKPOINT_PAGES
            ))
            .map_err(open_err)?;
        let checkpointer = Connection::open(path).map_err(open_err)?;
        checkpointer
            .execute_batch(&format!(
                "PRAGMA synchronous={}; PRAGMA busy_timeout=2000; PRAGMA wal_autocheckpoint=0;",
                options.synchronous.pragma()
            ))
            .map_err(open_err)?;
        let writer = Arc::new(Mutex::new(writer));
        let group = group::GroupWriter::start(writer.clone(), checkpointer)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer,
            reader: Mutex::new(reader),
            scan_window: SCAN_WINDOW,
            group,
        })
    }

    /// How many commits, batches and events the event writer has done.
    pub fn ingest_stats(&self) -> IngestStats {
        let s = &self.group.stats;
        IngestStats {
            commits: s.commits.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            events: s.rows.load(Ordering::Relaxed),
        }
    }

    /// Sets how many events one page of a substring search examines at most.
    pub fn with_scan_window(mut self, events: i64) -> Self {
        self.scan_window = events.max(1);
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Other("writer lock poisoned".into()))?;
        f(&mut conn).map_err(classify)
    }

    /// The ids a filter's time range allows.
    fn id_range(&self, filter: &EventFilter) -> Result<times::IdRange, StoreError> {
        if filter.since_ns.is_none() && filter.until_ns.is_none() {
            return Ok(times::IdRange::All);
        }
        self.with_reader(|conn| times::id_range(conn, filter.since_ns, filter.until_ns))
    }

    /// An aggregate answered from the per-block counts (module `rollup`): only for a filter on
    /// time alone and a grouping the counts keep; `None` when they cannot answer it.
    fn aggregate_from_counts(
        &self,
        filter: &EventFilter,
        group: GroupBy,
        bucket_secs: i64,
        limit: usize,
    ) -> Result<Option<Vec<Bucket>>, StoreError> {
        let time_only = EventFilter {
            since_ns: filter.since_ns,
            until_ns: filter.until_ns,
            ..EventFilter::default()
        };
        if *filter != time_only {
            return Ok(None);
        }
        let dim = match group {
            GroupBy::Rule => rollup::Dim::Rule,
            GroupBy::Priority => rollup::Dim::Priority,
            GroupBy::Namespace => rollup::Dim::Namespace,
            GroupBy::Source => rollup::Dim::Source,
            GroupBy::Status => rollup::Dim::Status,
            // Whole minutes only: each minute then lies in one bucket.
            GroupBy::Time if bucket_secs > 0 && bucket_secs % 60 == 0 => rollup::Dim::Minute,
            GroupBy::Time => return Ok(None),
        };
        self.with_reader(|conn| {
            // One snapshot for the counts, the edge blocks' rows and the names.
            let tx = conn.unchecked_transaction()?;
            let Some(counts) = rollup::counts(&tx, dim, filter.since_ns, filter.until_ns)? else {
                return Ok(None);
            };
            if dim == rollup::Dim::Minute {
                // Buckets as the row query makes them: (time_ns / width) * width, in time order.
                let width = bucket_secs.saturating_mul(1_000_000_000);
                let mut buckets = std::collections::BTreeMap::<i64, u64>::new();
                for (minute, n) in counts {
                    let start = minute.saturating_mul(rollup::MINUTE_NS) / width * width;
                    *buckets.entry(start).or_default() += n as u64;
                }
                return Ok(Some(
                    buckets
                        .into_iter()
                        .take(limit.clamp(1, 10_000))
                        .map(|(start, count)| Bucket {
                            key: start.to_string(),
                            count,
                        })
                        .collect(),
                ));
            }
            // (sort key, label, count): names sort as SQLite orders them (absent first, then
            // by bytes), priorities by rank.
            let mut rows: Vec<(Option<String>, i64, String, u64)> = Vec::new();
            let mut name = tx.prepare_cached("SELECT text FROM names WHERE id = ?")?;
            for (value, n) in counts {
                let n = n as u64;
                if dim == rollup::Dim::Priority {
                    let label = PRIORITIES.get(value as usize).copied().unwrap_or("debug");
                    rows.push((None, value, label.to_string(), n));
                } else if value == rollup::NONE {
                    rows.push((None, 0, "(none)".to_string(), n));
                } else {
                    let text: String = name.query_row([value], |r| r.get(0))?;
                    rows.push((Some(text.clone()), 0, text, n));
                }
            }
            rows.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| (&a.0, a.1).cmp(&(&b.0, b.1))));
            rows.truncate(limit.clamp(1, 10_000));
            Ok(Some(
                rows.into_iter()
                    .map(|(_, _, key, count)| Bucket { key, count })
                    .collect(),
            ))
        })
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| StoreError::Other("reader lock poisoned".into()))?;
        f(&conn).map_err(classify)
    }
}

impl SqliteStore {
    /// A page of a free-text search: only the blocks whose trigram filter admits the needle are
    /// read, newest first, each with the whole filter (so results are exactly those of a scan).
    /// At most the scan window of ids in such blocks is read per page; the cursor then points at
    /// where the search stopped.
    fn search(
        &self,
        filter: &EventFilter,
        needle: &search::Needle,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let (clause, mut args) = where_clause(filter, self.id_range(filter)?)?;
        let limit = limit.clamp(1, 1000);
        let sql = format!(
            "SELECT {} FROM events WHERE {clause} AND id >= ? AND id < ? ORDER BY id DESC LIMIT ?",
            *COLUMNS
        );
        let fixed = args.len();
        self.with_reader(|conn| {
            // Two subqueries: SQLite answers a lone min() or max() from the rowid b-tree, but
            // both in one select scan the table.
            let (min, max): (Option<i64>, Option<i64>) = conn.query_row(
                "SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (Some(min), Some(max)) = (min, max) else {
                return Ok(Page {
                    events: Vec::new(),
                    next_cursor: None,
                });
            };
            let top = before.unwrap_or(max + 1).min(max + 1);
            if top <= min {
                return Ok(Page {
                    events: Vec::new(),
                    next_cursor: None,
                });
            }
            let mut events = Vec::new();
            let mut budget = self.scan_window;
            // Where the page stopped reading, if it stopped within a block.
            let mut stopped_in_block = None;
            let mut stmt = conn.prepare_cached(&sql)?;
            let end = search::walk(
                conn,
                needle,
                search::block_of(min),
                search::block_of(top - 1),
                MAX_FILTER_BLOCKS,
                |block| {
                    let start = block << search::BLOCK_SHIFT;
                    let hi = top.min(start + search::BLOCK_EVENTS);
                    let lo = start.max(hi - budget);
                    args.truncate(fixed);
                    args.extend([
                        SqlValue::Integer(lo),
                        SqlValue::Integer(hi),
                        SqlValue::Integer((limit + 1 - events.len()) as i64),
                    ]);
                    let rows = stmt.query_map(params_from_iter(args.iter()), row_to_event)?;
                    for row in rows {
                        events.push(row?);
                    }
                    budget -= hi - lo;
                    if lo > start {
                        stopped_in_block = Some(lo);
                    }
                    Ok(events.len() <= limit && budget > 0)
                },
            )?;
            if events.len() > limit {
                events.truncate(limit);
                let cursor = events.last().map(|e| e.id);
                return Ok(Page {
                    events,
                    next_cursor: cursor,
                });
            }
            // Where the next page goes on: below what this one read.
            let resume = match end {
                search::WalkEnd::Done => None,
                search::WalkEnd::Stopped(block) => {
                    Some(stopped_in_block.unwrap_or(block << search::BLOCK_SHIFT))
                }
                search::WalkEnd::Limit(block) => Some((block + 1) << search::BLOCK_SHIFT),
            };
            let next_cursor = resume.filter(|&r| r > min);
            Ok(Page {
                events,
                next_cursor,
            })
        })
    }
}

/// Creates (or migrates) a database at `path` up to schema `version` only, as an older mamori
/// left it: for migration tests.
#[doc(hidden)]
pub fn create_at_version(path: &Path, version: i64) -> Result<(), StoreError> {
    let mut conn = Connection::open(path).map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    migrate_to(&mut conn, path, version)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<(), StoreError> {
    let err = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| err(format!("not a SQLite database ({e})")))?;
    if version > SCHEMA_VERSION {
        return Err(err(format!(
            "schema version {version} is newer than this mamori understands ({SCHEMA_VERSION}); upgrade mamori"
        )));
    }
    if version == 0 {
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| err(e.to_string()))?;
        if tables > 0 {
            return Err(err(
                "database has tables but no mamori schema version; refusing to touch it".into(),
            ));
        }
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(version as usize)
    {
        if version > 0 {
            // Migration 6 rewrites the events table: about 25 s per million events on the test
            // machine. The freed pages stay in the file and are reused by new events.
            tracing::info!(
                path = %path.display(),
                from = version,
                to = i + 1,
                "Migrating the event store's schema; a large store takes a while."
            );
        }
        let tx = conn.transaction().map_err(|e| err(e.to_string()))?;
        tx.execute_batch(sql)
            .map_err(|e| err(format!("migration {}: {e}", i + 1)))?;
        if i + 1 == SEARCH_MIGRATION {
            search::backfill(&tx)
                .map_err(|e| err(format!("migration {}: search index: {e}", i + 1)))?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|e| err(e.to_string()))?;
        tx.commit().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

fn classify(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

fn priority_rank(name: &str) -> Option<i64> {
    let norm = normalise_priority(name)?;
    PRIORITIES.iter().position(|p| *p == norm).map(|i| i as i64)
}

/// Builds the WHERE clause and its parameters for a filter. `range` is what the block time
/// ranges allow for its time filter (from [`SqliteStore::id_range`]).
fn where_clause(
    filter: &EventFilter,
    range: times::IdRange,
) -> Result<(String, Vec<SqlValue>), StoreError> {
    let mut sql = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let name = |col: &str,
                kind: names::Kind,
                v: &Option<String>,
                sql: &mut Vec<String>,
                args: &mut Vec<SqlValue>| {
        if let Some(v) = v {
            sql.push(names::equals(col, kind));
            args.push(SqlValue::Text(v.clone()));
        }
    };
    let eq = |col: &str, v: &Option<String>, sql: &mut Vec<String>, args: &mut Vec<SqlValue>| {
        if let Some(v) = v {
            sql.push(format!("{col} = ?"));
            args.push(SqlValue::Text(v.clone()));
        }
    };
    name(
        "source",
        names::Kind::Source,
        &filter.source,
        &mut sql,
        &mut args,
    );
    name("rule", names::Kind::Rule, &filter.rule, &mut sql, &mut args);
    name(
        "namespace",
        names::Kind::Namespace,
        &filter.namespace,
        &mut sql,
        &mut args,
    );
    eq("pod", &filter.pod, &mut sql, &mut args);
    eq("container", &filter.container, &mut sql, &mut args);
    name(
        "status",
        names::Kind::Status,
        &filter.status,
        &mut sql,
        &mut args,
    );
    if let Some(t) = filter.since_ns {
        sql.push("time_ns >= ?".into());
        args.push(SqlValue::Integer(t));
    }
    if let Some(t) = filter.until_ns {
        sql.push("time_ns < ?".into());
        args.push(SqlValue::Integer(t));
    }
    if let Some(p) = &filter.priority {
        let rank = priority_rank(p)
            .ok_or_else(|| StoreError::Invalid(format!("unknown priority {p:?}")))?;
        sql.push("priority = ?".into());
        args.push(SqlValue::Integer(rank));
    }
    if let Some(p) = &filter.min_priority {
        let rank = priority_rank(p)
            .ok_or_else(|| StoreError::Invalid(format!("unknown priority {p:?}")))?;
        sql.push("priority <= ?".into());
        args.push(SqlValue::Integer(rank));
    }
    if let Some(img) = &filter.image {
        sql.push("instr(image, ?) > 0".into());
        args.push(SqlValue::Text(img.clone()));
    }
    if let Some(text) = &filter.text {
        // SQLite's lower() folds ASCII letters only: the needle is folded the same way, so a
        // search is case-insensitive for ASCII and exact for other characters.
        sql.push("instr(lower(output), ?) > 0".into());
        args.push(SqlValue::Text(text.to_ascii_lowercase()));
    }
    let mut clause = if sql.is_empty() {
        String::from("1")
    } else {
        sql.join(" AND ")
    };
    range.sql(&mut clause, &mut args);
    Ok((clause, args))
}

/// The columns [`row_to_event`] reads, names as their text.
static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "id, time_ns, {}, {}, priority, output, {}, {}, {}, pod, container, image, {}, fields",
        names::text_of("source"),
        names::text_of("rule"),
        names::text_of("hostname"),
        names::text_of("tags"),
        names::text_of("namespace"),
        names::text_of("status"),
    )
});

fn row_to_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    let rank: i64 = row.get(4)?;
    let tags: String = row.get(7)?;
    let fields: String = row.get(13)?;
    Ok(StoredEvent {
        id: row.get(0)?,
        time_ns: row.get(1)?,
        source: row.get(2)?,
        rule: row.get(3)?,
        priority: PRIORITIES
            .get(rank as usize)
            .copied()
            .unwrap_or("debug")
            .to_string(),
        output: row.get(5)?,
        hostname: row.get(6)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        namespace: row.get(8)?,
        pod: row.get(9)?,
        container: row.get(10)?,
        image: row.get(11)?,
        status: row.get(12)?,
        fields: Fields::from_json(&fields).unwrap_or_default(),
    })
}

impl EventStore for SqliteStore {
    fn insert(&self, events: Vec<StoredEvent>) -> Result<Vec<i64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Serialise here, on the caller's thread, so the writer only binds and steps.
        self.group
            .insert(events.into_iter().map(group::Row::from_event).collect())
    }

    fn query(
        &self,
        filter: &EventFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        if let Some(needle) = filter.text.as_deref().and_then(search::Needle::new) {
            return self.search(filter, &needle, before, limit);
        }
        let (mut clause, mut args) = where_clause(filter, self.id_range(filter)?)?;
        if let Some(b) = before {
            clause.push_str(" AND id < ?");
            args.push(SqlValue::Integer(b));
        }
        // Substring filters without an index (an image, a text shorter than a trigram) cannot
        // use one: bound the work of one page to a window of ids, and hand back a cursor at the
        // window's edge so the caller can keep searching older.
        let mut window_floor = None;
        if filter.text.is_some() || filter.image.is_some() {
            let top = match before {
                Some(b) => b,
                None => self.with_reader(|c| {
                    c.query_row("SELECT coalesce(max(id), 0) + 1 FROM events", [], |r| {
                        r.get::<_, i64>(0)
                    })
                })?,
            };
            let floor = top.saturating_sub(self.scan_window);
            clause.push_str(" AND id >= ?");
            args.push(SqlValue::Integer(floor));
            window_floor = Some(floor);
        }
        let limit = limit.clamp(1, 1000);
        args.push(SqlValue::Integer(limit as i64 + 1));
        let sql = format!(
            "SELECT {} FROM events WHERE {clause} ORDER BY id DESC LIMIT ?",
            *COLUMNS
        );
        let mut events = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), row_to_event)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next_cursor = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| e.id)
        } else {
            match window_floor {
                Some(floor) if floor > 1 => {
                    let older = self.with_reader(|c| {
                        c.query_row(
                            "SELECT EXISTS(SELECT 1 FROM events WHERE id < ?)",
                            [floor],
                            |r| r.get::<_, bool>(0),
                        )
                    })?;
                    older.then_some(floor)
                }
                _ => None,
            }
        };
        Ok(Page {
            events,
            next_cursor,
        })
    }

    fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        self.with_reader(|conn| {
            conn.query_row(
                &format!("SELECT {} FROM events WHERE id = ?", *COLUMNS),
                [id],
                row_to_event,
            )
            .optional()
        })
    }

    fn aggregate(
        &self,
        filter: &EventFilter,
        group: GroupBy,
        bucket_secs: i64,
        limit: usize,
    ) -> Result<Vec<Bucket>, StoreError> {
        if let Some(buckets) = self.aggregate_from_counts(filter, group, bucket_secs, limit)? {
            return Ok(buckets);
        }
        let range = self.id_range(filter)?;
        let (clause, mut args) = where_clause(filter, range)?;
        // With a time filter the rows are read by id range; grouping must not pull the planner
        // onto the column's index instead (a scan of the whole index to save a sort: 2–3×
        // slower on a million events). `+col` keeps the index out of the GROUP BY.
        let grouped = |col: &str| match range {
            times::IdRange::Within { .. } => format!("+{col}"),
            _ => col.to_string(),
        };
        let limit = limit.clamp(1, 10_000) as i64;
        let sql = match group {
            GroupBy::Time => {
                if bucket_secs <= 0 {
                    return Err(StoreError::Invalid("bucket_secs must be positive".into()));
                }
                let width = bucket_secs.saturating_mul(1_000_000_000);
                args.insert(0, SqlValue::Integer(width));
                args.insert(1, SqlValue::Integer(width));
                args.push(SqlValue::Integer(limit));
                format!(
                    "SELECT CAST((time_ns / ?) * ? AS TEXT) AS k, count(*) FROM events WHERE {clause}
                     GROUP BY time_ns / {width} ORDER BY min(time_ns) LIMIT ?"
                )
            }
            GroupBy::Priority => {
                args.push(SqlValue::Integer(limit));
                format!(
                    "SELECT priority AS k, count(*) AS n FROM events WHERE {clause}
                     GROUP BY {} ORDER BY n DESC, k LIMIT ?",
                    grouped("priority")
                )
            }
            _ => {
                let col = match group {
                    GroupBy::Rule => "rule",
                    GroupBy::Namespace => "namespace",
                    GroupBy::Source => "source",
                    GroupBy::Status => "status",
                    // ok: matched in the arms above
                    GroupBy::Time | GroupBy::Priority => unreachable!("handled above"),
                };
                // Counted by name id, then each group's name is read once; ordered by name as
                // before the names were interned.
                args.push(SqlValue::Integer(limit));
                format!(
                    "SELECT (SELECT text FROM names WHERE id = g.k) AS k, g.n AS n FROM
                       (SELECT {col} AS k, count(*) AS n FROM events WHERE {clause} GROUP BY {}) g
                     ORDER BY n DESC, k LIMIT ?",
                    grouped(col)
                )
            }
        };
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), |row| {
                let key = match row.get_ref(0)? {
                    rusqlite::types::ValueRef::Null => "(none)".to_string(),
                    rusqlite::types::ValueRef::Integer(i) if group == GroupBy::Priority => {
                        PRIORITIES
                            .get(i as usize)
                            .copied()
                            .unwrap_or("debug")
                            .to_string()
                    }
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                };
                Ok(Bucket {
                    key,
                    count: row.get::<_, i64>(1)? as u64,
                })
            })?;
            rows.collect()
        })
    }

    fn count(&self, filter: &EventFilter) -> Result<u64, StoreError> {
        let (clause, args) = where_clause(filter, self.id_range(filter)?)?;
        self.with_reader(|conn| {
            conn.query_row(
                &format!("SELECT count(*) FROM events WHERE {clause}"),
                params_from_iter(args.iter()),
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    fn enforce_retention(
        &self,
        max_age_ns: Option<i64>,
        max_rows: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let mut deleted = 0u64;
            // The highest block a delete may have touched.
            let mut touched = None;
            if let Some(age) = max_age_ns {
                let cutoff = now_ns().saturating_sub(age);
                // Only blocks holding an event older than the cutoff are read (there is no index
                // on time_ns; see module `times`).
                if let Some(end) = times::end_of_blocks_before(&tx, cutoff)? {
                    let n = tx.execute(
                        "DELETE FROM events WHERE id < ?1 AND time_ns < ?2",
                        params![end, cutoff],
                    )? as u64;
                    if n > 0 {
                        deleted += n;
                        touched = Some(search::block_of(end - 1));
                    }
                }
            }
            if let Some(max) = max_rows {
                let n = tx.execute(
                    "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    [max as i64],
                )? as u64;
                deleted += n;
            }
            if deleted > 0 {
                // Search filters of blocks whose events are all gone.
                tx.execute(
                    "DELETE FROM search_blocks
                     WHERE block < (SELECT coalesce(min(id), 9223372036854775807) FROM events) >> ?",
                    [search::BLOCK_SHIFT],
                )?;
                times::forget_deleted_blocks(&tx)?;
                // Counts: blocks below the oldest event left are gone; that event's block and
                // any other block the age delete went through are counted again.
                let oldest: Option<i64> =
                    tx.query_row("SELECT min(id) FROM events", [], |r| r.get(0))?;
                match oldest {
                    None => {
                        tx.execute("DELETE FROM block_counts", [])?;
                    }
                    Some(id) => {
                        let first = search::block_of(id);
                        rollup::recount(&tx, first, touched.unwrap_or(first).max(first))?;
                    }
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn put_token(&self, name: &str, role: &str, hash: &str) -> Result<(), StoreError> {
        let now = now_ns();
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM tokens WHERE name = ?", [name])?;
            tx.execute(
                "INSERT OR REPLACE INTO tokens (hash, role, created_ns, name) VALUES (?, ?, ?, ?)",
                params![hash, role, now, name],
            )?;
            tx.commit()
        })
    }

    fn token_role(&self, hash: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|conn| {
            conn.prepare_cached("SELECT role FROM tokens WHERE hash = ?")?
                .query_row([hash], |r| r.get(0))
                .optional()
        })
    }

    fn has_token(&self, name: &str) -> Result<bool, StoreError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT count(*) FROM tokens WHERE name = ?", [name], |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|n| n > 0)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT name, role, created_ns FROM tokens ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(TokenInfo {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    created_ns: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        self.with_writer(|conn| {
            conn.execute("DELETE FROM tokens WHERE name = ?", [name])
                .map(|n| n > 0)
        })
    }

    fn upsert_alarm(&self, alarm: &AlarmConfig) -> Result<(), StoreError> {
        alarm.validate().map_err(StoreError::Invalid)?;
        let def = serde_json::to_string(alarm).map_err(|e| StoreError::Other(e.to_string()))?;
        let now = now_ns();
        self.with_writer(|conn| {
            conn.execute(
                "INSERT INTO alarms (name, definition, state, state_since_ns) VALUES (?1, ?2, 'INSUFFICIENT_DATA', ?3)
                 ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, last_evaluated_ns = NULL",
                params![alarm.name, def, now],
            )
            .map(|_| ())
        })
    }

    fn delete_alarm(&self, name: &str) -> Result<bool, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let n = tx.execute("DELETE FROM alarms WHERE name = ?", [name])?;
            tx.execute("DELETE FROM alarm_history WHERE alarm = ?", [name])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn alarms(&self) -> Result<Vec<AlarmStatus>, StoreError> {
        let rows = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT definition, state, state_since_ns, last_value, last_evaluated_ns, acknowledged_ns
                 FROM alarms ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|(def, state, since, value, evaluated, ack)| {
                Ok(AlarmStatus {
                    config: serde_json::from_str(&def).map_err(|e| {
                        StoreError::Other(format!("stored alarm definition is unreadable: {e}"))
                    })?,
                    state: AlarmState::parse(&state).unwrap_or(AlarmState::InsufficientData),
                    state_since_ns: since,
                    last_value: value,
                    last_evaluated_ns: evaluated,
                    acknowledged_ns: ack,
                })
            })
            .collect()
    }

    fn record_evaluation(
        &self,
        name: &str,
        value: Option<f64>,
        state: AlarmState,
        reason: &str,
        now_ns: i64,
    ) -> Result<Option<Transition>, StoreError> {
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            let old: Option<String> = tx
                .query_row("SELECT state FROM alarms WHERE name = ?", [name], |r| r.get(0))
                .optional()?;
            let Some(old) = old.as_deref().and_then(AlarmState::parse) else {
                return Ok(None);
            };
            let changed = old != state;
            if changed {
                tx.execute(
                    "UPDATE alarms SET state = ?2, state_since_ns = ?3, last_value = ?4, last_evaluated_ns = ?3,
                       acknowledged_ns = NULL WHERE name = ?1",
                    params![name, state.as_str(), now_ns, value],
                )?;
                tx.execute(
                    "INSERT INTO alarm_history (alarm, time_ns, from_state, to_state, value, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![name, now_ns, old.as_str(), state.as_str(), value, reason],
                )?;
            } else {
                tx.execute(
                    "UPDATE alarms SET last_value = ?2, last_evaluated_ns = ?3 WHERE name = ?1",
                    params![name, value, now_ns],
                )?;
            }
            tx.commit()?;
            Ok(changed.then(|| Transition {
                alarm: name.to_string(),
                time_ns: now_ns,
                from: old,
                to: state,
                value,
                reason: reason.to_string(),
            }))
        })
    }

    fn acknowledge_alarm(&self, name: &str, now_ns: i64) -> Result<bool, StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "UPDATE alarms SET acknowledged_ns = ?2 WHERE name = ?1",
                params![name, now_ns],
            )
            .map(|n| n > 0)
        })
    }

    fn alarm_history(&self, name: &str, limit: usize) -> Result<Vec<Transition>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT time_ns, from_state, to_state, value, reason FROM alarm_history
                 WHERE alarm = ? ORDER BY id DESC LIMIT ?",
            )?;
            let rows = stmt.query_map(params![name, limit.clamp(1, 1000) as i64], |r| {
                let from: String = r.get(1)?;
                let to: String = r.get(2)?;
                Ok(Transition {
                    alarm: name.to_string(),
                    time_ns: r.get(0)?,
                    from: AlarmState::parse(&from).unwrap_or(AlarmState::InsufficientData),
                    to: AlarmState::parse(&to).unwrap_or(AlarmState::InsufficientData),
                    value: r.get(3)?,
                    reason: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    fn insert_report(&self, report: &IncomingReport, received_ns: i64) -> Result<i64, StoreError> {
        let targets =
            serde_json::to_string(&report.targets).map_err(|e| StoreError::Other(e.to_string()))?;
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for f in &report.findings {
            *counts.entry(f.severity.as_str().to_string()).or_default() += 1;
        }
        let counts =
            serde_json::to_string(&counts).map_err(|e| StoreError::Other(e.to_string()))?;
        self.with_writer(|conn| {
            let tx = conn.transaction()?;
            tx.execute("UPDATE reports SET current = 0 WHERE targets = ?", [&targets])?;
            tx.execute(
                "INSERT INTO reports (received_ns, tool, targets, counts) VALUES (?1, ?2, ?3, ?4)",
                params![received_ns, report.tool, targets, counts],
            )?;
            let report_id = tx.last_insert_rowid();
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO findings (report_id, severity, rule_id, nist, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                let mut risk = tx.prepare_cached(
                    "INSERT INTO finding_risks (finding_id, report_id, risk, severity) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for f in &report.findings {
                    let body = serde_json::to_string(f).unwrap_or_else(|_| "{}".into());
                    let nist = serde_json::to_string(&f.nist).unwrap_or_else(|_| "[]".into());
                    ins.execute(params![report_id, f.severity.as_str(), f.rule_id, nist, body])?;
                    let fid = tx.last_insert_rowid();
                    for r in &f.nist {
                        risk.execute(params![fid, report_id, r, f.severity.as_str()])?;
                    }
                }
            }
            tx.commit()?;
            Ok(report_id)
        })
    }

    fn reports(&self, limit: usize) -> Result<Vec<StoredReport>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, received_ns, tool, targets, counts FROM reports ORDER BY id DESC LIMIT ?",
            )?;
            let rows = stmt.query_map([limit.clamp(1, 1000) as i64], |r| {
                let targets: String = r.get(3)?;
                let counts: String = r.get(4)?;
                Ok(StoredReport {
                    id: r.get(0)?,
                    received_ns: r.get(1)?,
                    tool: r.get(2)?,
                    targets: serde_json::from_str(&targets).unwrap_or_default(),
                    counts: serde_json::from_str(&counts).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
    }

    fn findings(
        &self,
        severity: Option<&str>,
        risk: Option<&str>,
        limit: usize,
    ) -> Result<Vec<mamori_core::Finding>, StoreError> {
        let mut sql = String::from(
            "SELECT f.body FROM findings f JOIN reports r ON r.id = f.report_id WHERE r.current = 1",
        );
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(s) = severity {
            sql.push_str(" AND f.severity = ?");
            args.push(SqlValue::Text(s.to_ascii_lowercase()));
        }
        if let Some(k) = risk {
            sql.push_str(" AND EXISTS (SELECT 1 FROM finding_risks x WHERE x.finding_id = f.id AND x.risk = ?)");
            args.push(SqlValue::Text(k.to_string()));
        }
        sql.push_str(" ORDER BY f.id LIMIT ?");
        args.push(SqlValue::Integer(limit.clamp(1, 10_000) as i64));
        let bodies = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        bodies
            .iter()
            .map(|b| {
                serde_json::from_str(b)
                    .map_err(|e| StoreError::Other(format!("stored finding is unreadable: {e}")))
            })
            .collect()
    }

    fn findings_by_risk(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT x.risk, count(*), sum(x.severity IN ('high', 'critical'))
                 FROM finding_risks x JOIN reports r ON r.id = x.report_id
                 WHERE r.current = 1 GROUP BY x.risk ORDER BY x.risk",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })?;
            rows.collect()
        })
    }
}

fn now_ns() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}
