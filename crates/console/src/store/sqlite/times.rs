//! The time range of each block of event ids (`block_times`): a block range index, as
//! PostgreSQL's BRIN, in place of a b-tree on `time_ns`.
//!
//! Events get ids in the order they arrive, and they arrive close to their own time, so a
//! block of 1,024 ids covers a short stretch of time. For each block the table keeps the
//! smallest and largest `time_ns` of its events. A time filter then becomes an id range (the
//! first block that reaches `since` up to the last block that starts before `until`) that the
//! rowid b-tree and the other indexes can use, plus the exact `time_ns` test on each row: results
//! are exactly those of a full scan; only the amount read depends on how well times follow ids.
//!
//! Why not an index on `time_ns`: an event's insert into that b-tree cost more than any other
//! index (times from many nodes are not in id order, so inserts land all over it), and it
//! made up about a third of the write-ahead log written per event.
//!
//! The writer updates the ranges of the blocks a transaction touches in that same transaction
//! (one upsert per block per commit), so a range always covers every committed event of its
//! block. Retention deletes the ranges of blocks with no events left; a block partly deleted
//! keeps a range wider than needed, which costs reads, never results.

use rusqlite::{params, Connection};

use super::search::{block_of, BLOCK_SHIFT};

/// The time span of the events of a transaction, per block.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    /// (block, min time, max time); blocks in id order, so usually one or two.
    spans: Vec<(i64, i64, i64)>,
}

impl Spans {
    /// Notes an event.
    pub(crate) fn add(&mut self, id: i64, time_ns: i64) {
        let block = block_of(id);
        match self.spans.iter_mut().rev().find(|s| s.0 == block) {
            Some(s) => {
                s.1 = s.1.min(time_ns);
                s.2 = s.2.max(time_ns);
            }
            None => self.spans.push((block, time_ns, time_ns)),
        }
    }

    /// Widens the stored ranges (in the open transaction `conn`) to cover the events noted.
    pub(crate) fn store(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO block_times (block, t_min, t_max) VALUES (?1, ?2, ?3)
             ON CONFLICT (block) DO UPDATE
             SET t_min = min(t_min, excluded.t_min), t_max = max(t_max, excluded.t_max)",
        )?;
        for (block, lo, hi) in self.spans.drain(..) {
            stmt.execute(params![block, lo, hi])?;
        }
        Ok(())
    }
}

/// Which ids can hold events of a time filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdRange {
    /// No time filter.
    All,
    /// Ids at or above `lo` and below `hi` (each bound optional).
    Within { lo: Option<i64>, hi: Option<i64> },
    /// No stored event is in the time range.
    Empty,
}

impl IdRange {
    /// The SQL conditions on `events.id` (with a leading ` AND `) and their parameters.
    pub(crate) fn sql(self, sql: &mut String, args: &mut Vec<rusqlite::types::Value>) {
        match self {
            IdRange::All => {}
            IdRange::Empty => sql.push_str(" AND 0"),
            IdRange::Within { lo, hi } => {
                if let Some(lo) = lo {
                    sql.push_str(" AND id >= ?");
                    args.push(rusqlite::types::Value::Integer(lo));
                }
                if let Some(hi) = hi {
                    sql.push_str(" AND id < ?");
                    args.push(rusqlite::types::Value::Integer(hi));
                }
            }
        }
    }
}

/// The ids that can hold events at or after `since` and before `until` (ns).
pub(crate) fn id_range(
    conn: &Connection,
    since: Option<i64>,
    until: Option<i64>,
) -> rusqlite::Result<IdRange> {
    if since.is_none() && until.is_none() {
        return Ok(IdRange::All);
    }
    let mut lo = None;
    if let Some(since) = since {
        let first: Option<i64> = conn
            .prepare_cached("SELECT min(block) FROM block_times WHERE t_max >= ?")?
            .query_row([since], |r| r.get(0))?;
        match first {
            Some(b) => lo = Some(b << BLOCK_SHIFT),
            None => return Ok(IdRange::Empty),
        }
    }
    let mut hi = None;
    if let Some(until) = until {
        let last: Option<i64> = conn
            .prepare_cached("SELECT max(block) FROM block_times WHERE t_min < ?")?
            .query_row([until], |r| r.get(0))?;
        match last {
            Some(b) => hi = Some((b + 1) << BLOCK_SHIFT),
            None => return Ok(IdRange::Empty),
        }
    }
    Ok(IdRange::Within { lo, hi })
}

/// The highest id a retention by age may have to delete: the end of the last block holding an
/// event older than `cutoff`; `None` when no block does.
pub(crate) fn end_of_blocks_before(
    conn: &Connection,
    cutoff: i64,
) -> rusqlite::Result<Option<i64>> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(block) FROM block_times WHERE t_min < ?")?
        .query_row([cutoff], |r| r.get(0))?;
    Ok(last.map(|b| (b + 1) << BLOCK_SHIFT))
}

/// Deletes the ranges of blocks below the block of the oldest event left (all of them when no
/// event is left).
pub(crate) fn forget_deleted_blocks(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM block_times
         WHERE block < (SELECT coalesce(min(id), 9223372036854775807) FROM events) >> ?",
        [BLOCK_SHIFT],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("sqlite");
        c.execute_batch(
            "CREATE TABLE block_times (block INTEGER PRIMARY KEY, t_min INTEGER NOT NULL,
               t_max INTEGER NOT NULL);",
        )
        .expect("schema");
        c
    }

    fn ranges(c: &Connection) -> Vec<(i64, i64, i64)> {
        c.prepare("SELECT block, t_min, t_max FROM block_times ORDER BY block")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn spans_widen_the_stored_ranges_of_their_blocks() {
        let c = db();
        let mut s = Spans::default();
        s.add(1, 50);
        s.add(2, 40);
        s.add(1024, 70);
        s.store(&c).expect("store");
        assert_eq!(ranges(&c), vec![(0, 40, 50), (1, 70, 70)]);
        // A later transaction with an older event in block 1 widens it.
        s.add(1025, 10);
        s.store(&c).expect("store");
        assert_eq!(ranges(&c), vec![(0, 40, 50), (1, 10, 70)]);
    }

    #[test]
    fn time_filters_become_id_ranges_that_never_drop_a_match() {
        let c = db();
        let mut s = Spans::default();
        // Block 0: times 100..200, block 1: 150..300 (overlapping), block 2: 400..500.
        for (id, t) in [
            (0, 100),
            (1023, 200),
            (1024, 150),
            (2047, 300),
            (2048, 400),
            (2100, 500),
        ] {
            s.add(id, t);
        }
        s.store(&c).expect("store");
        let r = |since, until| id_range(&c, since, until).expect("range");
        assert_eq!(r(None, None), IdRange::All);
        assert_eq!(
            r(Some(250), None),
            IdRange::Within {
                lo: Some(1024),
                hi: None
            }
        );
        assert_eq!(
            r(Some(201), None),
            IdRange::Within {
                lo: Some(1024),
                hi: None
            }
        );
        assert_eq!(
            r(None, Some(150)),
            IdRange::Within {
                lo: None,
                hi: Some(1024)
            }
        );
        assert_eq!(
            r(None, Some(151)),
            IdRange::Within {
                lo: None,
                hi: Some(2048)
            }
        );
        assert_eq!(r(Some(501), None), IdRange::Empty);
        assert_eq!(r(None, Some(100)), IdRange::Empty);
        assert_eq!(end_of_blocks_before(&c, 100).expect("end"), None);
        assert_eq!(end_of_blocks_before(&c, 151).expect("end"), Some(2048));
    }
}
