//! Interned names: the low-cardinality text columns of an event (source, rule, namespace,
//! hostname, status, tag set) are stored once in the `names` table and referred to by id.
//!
//! An event row then holds small integers instead of repeated strings, and the indexes on those
//! columns hold integers too: less to write per event (the table row and every index entry), and
//! integer comparisons where an index is searched. Filters look a name up once per query
//! (`rule = (SELECT id FROM names ...)`), and results read the text back by id.
//!
//! The writer keeps the ids it has used in memory ([`NameCache`]), so an insert only touches the
//! `names` table for a name it has not seen. Ids are never reused or changed once committed.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

/// What a name is the name of; stored in `names.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Source = 0,
    Rule = 1,
    Namespace = 2,
    Hostname = 3,
    Status = 4,
    /// A whole tag list, as its JSON array text.
    Tags = 5,
}

const KINDS: usize = 6;

/// Names one kind's cache keeps before it starts over: a client sending endless distinct names
/// (a rule per event) cannot grow the writer's memory without bound.
const MAX_CACHED: usize = 65_536;

/// SQL for the text of a name column of `events`, for a SELECT list.
pub(crate) fn text_of(column: &str) -> String {
    format!("(SELECT text FROM names WHERE id = events.{column})")
}

/// SQL comparing a name column of `events` with a text parameter.
pub(crate) fn equals(column: &str, kind: Kind) -> String {
    format!(
        "{column} = (SELECT id FROM names WHERE kind = {} AND text = ?)",
        kind as i64
    )
}

/// The writer's map from names to ids.
#[derive(Debug, Default)]
pub(crate) struct NameCache {
    maps: [HashMap<String, i64>; KINDS],
}

impl NameCache {
    /// The id of `text` as a name of `kind`, adding it to the `names` table (in the open
    /// transaction `conn`) when it is new.
    pub(crate) fn id(
        &mut self,
        conn: &Connection,
        kind: Kind,
        text: &str,
    ) -> rusqlite::Result<i64> {
        let map = &mut self.maps[kind as usize];
        if let Some(&id) = map.get(text) {
            return Ok(id);
        }
        let known = conn
            .prepare_cached("SELECT id FROM names WHERE kind = ?1 AND text = ?2")?
            .query_row(params![kind as i64, text], |r| r.get(0))
            .optional()?;
        let id = match known {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO names (kind, text) VALUES (?1, ?2)")?
                    .execute(params![kind as i64, text])?;
                conn.last_insert_rowid()
            }
        };
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(text.to_string(), id);
        Ok(id)
    }

    /// Forgets every id (after a rolled-back transaction: names it added are gone).
    pub(crate) fn reset(&mut self) {
        for m in &mut self.maps {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("sqlite");
        c.execute_batch(
            "CREATE TABLE names (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, text TEXT NOT NULL,
               UNIQUE (kind, text));",
        )
        .expect("schema");
        c
    }

    #[test]
    fn a_name_gets_one_id_per_kind_and_keeps_it() {
        let c = db();
        let mut cache = NameCache::default();
        let a = cache.id(&c, Kind::Rule, "Write below etc").expect("id");
        let b = cache
            .id(&c, Kind::Namespace, "Write below etc")
            .expect("id");
        assert_ne!(a, b, "kinds have their own names");
        assert_eq!(cache.id(&c, Kind::Rule, "Write below etc").expect("id"), a);
        // A fresh cache (a restarted writer) finds the stored id.
        let mut fresh = NameCache::default();
        assert_eq!(fresh.id(&c, Kind::Rule, "Write below etc").expect("id"), a);
        let n: i64 = c
            .query_row("SELECT count(*) FROM names", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2);
    }

    #[test]
    fn a_reset_cache_does_not_hand_out_rolled_back_ids() {
        let mut c = db();
        let mut cache = NameCache::default();
        let tx = c.transaction().expect("tx");
        cache.id(&tx, Kind::Rule, "gone").expect("id");
        drop(tx); // rolled back
        cache.reset();
        let tx = c.transaction().expect("tx");
        let other = cache.id(&tx, Kind::Rule, "other").expect("id");
        let again = cache.id(&tx, Kind::Rule, "gone").expect("id");
        tx.commit().expect("commit");
        assert_ne!(other, again);
        let text: String = c
            .query_row("SELECT text FROM names WHERE id = ?", [again], |r| r.get(0))
            .expect("row");
        assert_eq!(text, "gone");
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = db();
        let mut cache = NameCache::default();
        for i in 0..MAX_CACHED + 10 {
            cache.id(&c, Kind::Rule, &format!("r{i}")).expect("id");
        }
        assert!(cache.maps[Kind::Rule as usize].len() <= MAX_CACHED);
        assert_eq!(
            cache.id(&c, Kind::Rule, "r0").expect("id"),
            c.query_row(
                "SELECT id FROM names WHERE kind = 1 AND text = 'r0'",
                [],
                |r| r.get::<_, i64>(0)
            )
            .expect("stored")
        );
    }
}
