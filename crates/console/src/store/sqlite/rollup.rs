//! Per-block counts (`block_counts`): how many events of each block have each rule, priority,
//! namespace, source and status, and fall in each minute.
//!
//! The dashboard's aggregates ("top rules in the last 3 hours", events by priority, by
//! namespace, events per 5 minutes) would otherwise read every event of the time range: about 80 ms per million
//! events on the test machine. With the counts, a block whose whole time range lies inside the
//! filter's range is summed from its counts, and only the blocks at the edges of the range
//! (whose time range overlaps its bounds) are counted from their rows. With events in arrival
//! order that is one or two blocks whatever the range; when times do not follow ids (a backfill
//! in random order), most blocks are at an edge and the aggregate falls back to reading rows.
//!
//! The writer adds the counts of each transaction's events in that transaction (one upsert per
//! block, dimension and value: a few dozen per commit). Deleting events (retention) recounts the
//! blocks it touched from their remaining rows, in the same transaction as the delete.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::search::BLOCK_SHIFT;

/// What events are counted by; stored in `block_counts.dim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dim {
    Rule = 0,
    Priority = 1,
    Namespace = 2,
    Source = 3,
    Status = 4,
    /// The minute of `time_ns` (ns / 60 s, truncated as SQLite divides), for time buckets that
    /// are whole minutes.
    Minute = 5,
}

/// Nanoseconds in a minute.
pub(crate) const MINUTE_NS: i64 = 60_000_000_000;

impl Dim {
    const ALL: [Dim; 6] = [
        Dim::Rule,
        Dim::Priority,
        Dim::Namespace,
        Dim::Source,
        Dim::Status,
        Dim::Minute,
    ];

    /// The expression over `events` counted.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Dim::Rule => "rule",
            Dim::Priority => "priority",
            Dim::Namespace => "namespace",
            Dim::Source => "source",
            Dim::Status => "status",
            // MINUTE_NS
            Dim::Minute => "(time_ns / 60000000000)",
        }
    }
}

/// The stored value of an absent column (no namespace, no status).
pub(crate) const NONE: i64 = -1;

/// The counts of one transaction's events, to add to the stored ones.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    counts: HashMap<(i64, Dim, i64), i64>,
}

impl Counts {
    /// Counts one event of `block`.
    #[allow(clippy::too_many_arguments)] // one per counted column
    pub(crate) fn add(
        &mut self,
        block: i64,
        time_ns: i64,
        rule: i64,
        priority: i64,
        namespace: Option<i64>,
        source: i64,
        status: Option<i64>,
    ) {
        for (dim, value) in [
            (Dim::Rule, rule),
            (Dim::Priority, priority),
            (Dim::Namespace, namespace.unwrap_or(NONE)),
            (Dim::Source, source),
            (Dim::Status, status.unwrap_or(NONE)),
            (Dim::Minute, time_ns / MINUTE_NS),
        ] {
            *self.counts.entry((block, dim, value)).or_default() += 1;
        }
    }

    /// Adds the counts to the stored ones (in the open transaction `conn`).
    pub(crate) fn store(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO block_counts (block, dim, value, n) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (block, dim, value) DO UPDATE SET n = n + excluded.n",
        )?;
        for ((block, dim, value), n) in self.counts.drain() {
            stmt.execute(params![block, dim as i64, value, n])?;
        }
        Ok(())
    }
}

/// Recounts blocks `first..=last` from their rows (after some of their events were deleted),
/// and drops the counts of every block below `first`.
pub(crate) fn recount(conn: &Connection, first: i64, last: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM block_counts WHERE block <= ?", [last])?;
    if last < first {
        return Ok(());
    }
    for dim in Dim::ALL {
        let col = dim.column();
        conn.execute(
            &format!(
                "INSERT INTO block_counts (block, dim, value, n)
                 SELECT id >> {BLOCK_SHIFT}, {}, coalesce({col}, {NONE}), count(*) FROM events
                 WHERE id >= ?1 AND id < ?2 GROUP BY id >> {BLOCK_SHIFT}, {col}",
                dim as i64
            ),
            params![first << BLOCK_SHIFT, (last + 1) << BLOCK_SHIFT],
        )?;
    }
    Ok(())
}

/// Most edge blocks an aggregate counts from rows before it gives up on the counts.
const MAX_EDGE_BLOCKS: usize = 64;

/// Counts of events by `dim` at or after `since` and before `until`, from the block counts plus
/// the rows of the blocks at the edges of the range; `None` when too many blocks are at an edge
/// (times that do not follow ids), and the caller reads rows instead. Values are name ids or
/// priority ranks, [`NONE`] for an absent column. Run it inside one read transaction.
pub(crate) fn counts(
    conn: &Connection,
    dim: Dim,
    since: Option<i64>,
    until: Option<i64>,
) -> rusqlite::Result<Option<HashMap<i64, i64>>> {
    let since = since.unwrap_or(i64::MIN);
    let until = until.unwrap_or(i64::MAX);
    // The blocks that can hold events of the range, first to last.
    let (first, last): (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT min(block), max(block) FROM block_times WHERE t_max >= ?1 AND t_min < ?2",
        )?
        .query_row(params![since, until], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Some(HashMap::new()));
    };
    // Blocks between them that are not wholly inside the range.
    let mut edges = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT block, t_min, t_max FROM block_times
             WHERE block >= ?1 AND block <= ?2 AND NOT (t_min >= ?3 AND t_max < ?4)",
        )?;
        let mut rows = stmt.query(params![first, last, since, until])?;
        while let Some(row) = rows.next()? {
            let (block, lo, hi): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            // Wholly outside: none of its events count; overlapping: count its rows.
            edges.push((block, hi >= since && lo < until));
            if edges.len() > MAX_EDGE_BLOCKS {
                return Ok(None);
            }
        }
    }
    let mut out: HashMap<i64, i64> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT value, sum(n) FROM block_counts WHERE dim = ?1 AND block >= ?2 AND block <= ?3
             GROUP BY value",
        )?;
        let mut rows = stmt.query(params![dim as i64, first, last])?;
        while let Some(row) = rows.next()? {
            *out.entry(row.get(0)?).or_default() += row.get::<_, i64>(1)?;
        }
    }
    let col = dim.column();
    let mut stored =
        conn.prepare_cached("SELECT value, n FROM block_counts WHERE dim = ?1 AND block = ?2")?;
    let mut exact = conn.prepare_cached(&format!(
        "SELECT coalesce({col}, {NONE}), count(*) FROM events
         WHERE id >= ?1 AND id < ?2 AND time_ns >= ?3 AND time_ns < ?4 GROUP BY {col}"
    ))?;
    for (block, overlaps) in edges {
        let mut rows = stored.query(params![dim as i64, block])?;
        while let Some(row) = rows.next()? {
            *out.entry(row.get(0)?).or_default() -= row.get::<_, i64>(1)?;
        }
        if overlaps {
            let mut rows = exact.query(params![
                block << BLOCK_SHIFT,
                (block + 1) << BLOCK_SHIFT,
                since,
                until
            ])?;
            while let Some(row) = rows.next()? {
                *out.entry(row.get(0)?).or_default() += row.get::<_, i64>(1)?;
            }
        }
    }
    out.retain(|_, n| *n > 0);
    Ok(Some(out))
}
