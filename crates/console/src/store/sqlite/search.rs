//! The free-text search index: one trigram filter per block of event ids.
//!
//! Events are grouped by id into blocks of [`BLOCK_EVENTS`]. For each block the store keeps a
//! bitset (a Bloom filter with two hashes) of the trigrams of its events' output lines, lowercased
//! as the search is (ASCII letters). A search for a needle of three bytes or more only reads the
//! rows of blocks whose filter holds every trigram of the needle; the others cannot contain a
//! match. The filter only ever says "maybe", so a search still checks each candidate row with
//! the exact substring test: results are the same as a full scan, only the work differs.
//!
//! Why not SQLite FTS5: its trigram index costs 40–65 µs per event at ingest on the test machine,
//! more than the whole ingest budget. A filter per block costs one pass over the output line
//! (a shift and an OR per byte) and one 8 KiB row per 1,024 events.
//!
//! Where it is weak: a needle whose trigrams are all common (numbers, words in every alert) but
//! whose whole is rare passes every filter, and the search then reads rows like a scan (bounded per
//! page by the scan window, as before).
//!
//! The filter of the newest (open) block lives in the writer's memory and is written when the
//! block is complete, in the transaction that starts the next block, so a stored filter always
//! covers its whole block. A block without a stored filter (the open one, or one left by a crash)
//! is always read.

use rusqlite::{params, Connection, OptionalExtension};

/// Events per block, as a power of two.
pub(crate) const BLOCK_SHIFT: u32 = 10;

/// Events per block.
pub(crate) const BLOCK_EVENTS: i64 = 1 << BLOCK_SHIFT;

/// Bits of one block's filter, as a power of two.
const FILTER_BITS_SHIFT: u32 = 16;

/// 64-bit words of one block's filter (8 KiB).
const FILTER_WORDS: usize = (1 << FILTER_BITS_SHIFT) / 64;

/// The block an event id falls in.
pub(crate) fn block_of(id: i64) -> i64 {
    id >> BLOCK_SHIFT
}

/// The two bits of a trigram (three bytes, already lowercased). Two bits per trigram: with one,
/// a needle's rarest trigram could share its bit with a trigram in every block (digits are
/// everywhere), and the filter would admit every block.
fn bits(a: u8, b: u8, c: u8) -> (usize, usize) {
    let key = u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16;
    // Fibonacci hashing: the top bits of the product are well mixed; two slices of them.
    let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mask = (1 << FILTER_BITS_SHIFT) - 1;
    (
        (h >> (64 - FILTER_BITS_SHIFT)) as usize,
        ((h >> (64 - 2 * FILTER_BITS_SHIFT)) & mask) as usize,
    )
}

/// Calls `f` with the bits of every trigram of `text`, lowercased (ASCII) as the search is.
fn for_each_bit(text: &[u8], mut f: impl FnMut(usize)) {
    if text.len() < 3 {
        return;
    }
    let mut a = text[0].to_ascii_lowercase();
    let mut b = text[1].to_ascii_lowercase();
    for &c in &text[2..] {
        let c = c.to_ascii_lowercase();
        let (x, y) = bits(a, b, c);
        f(x);
        f(y);
        a = b;
        b = c;
    }
}

/// The trigram filter of one block (a Bloom filter with two hashes).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    words: Box<[u64; FILTER_WORDS]>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ones: u32 = self.words.iter().map(|w| w.count_ones()).sum();
        write!(f, "Filter({ones} bits set)")
    }
}

impl Filter {
    pub(crate) fn new() -> Filter {
        Filter {
            words: Box::new([0; FILTER_WORDS]),
        }
    }

    /// Adds the trigrams of an output line.
    pub(crate) fn add(&mut self, text: &str) {
        let words = &mut self.words;
        for_each_bit(text.as_bytes(), |i| words[i / 64] |= 1 << (i % 64));
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Whether every bit of `needle` is set in a stored filter; a blob of the wrong size
    /// (damaged) answers yes, so the block is read.
    fn admits(blob: &[u8], needle: &Needle) -> bool {
        if blob.len() != FILTER_WORDS * 8 {
            return true;
        }
        needle
            .bits
            .iter()
            .all(|&i| blob[i / 8] & (1 << (i % 8)) != 0)
    }
}

/// The trigram bits a search needle needs; `None` when it is shorter than a trigram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Needle {
    bits: Vec<usize>,
}

impl Needle {
    pub(crate) fn new(text: &str) -> Option<Needle> {
        let mut bits = Vec::new();
        for_each_bit(text.as_bytes(), |i| bits.push(i));
        bits.sort_unstable();
        bits.dedup();
        (!bits.is_empty()).then_some(Needle { bits })
    }
}

/// The writer's filter of the open block.
#[derive(Debug, Default)]
pub(crate) struct OpenBlock {
    /// The block and its filter so far; `None` until the first insert after opening the store
    /// or after a failed transaction (it is then read back from the stored events).
    current: Option<(i64, Filter)>,
}

impl OpenBlock {
    /// Adds an event that was just inserted (in the open transaction `conn`). When the event
    /// starts a new block, the previous block's filter is stored first.
    pub(crate) fn add(&mut self, conn: &Connection, id: i64, output: &str) -> rusqlite::Result<()> {
        let block = block_of(id);
        match &mut self.current {
            Some((b, filter)) if *b == block => {
                filter.add(output);
                return Ok(());
            }
            Some((b, filter)) => store(conn, *b, filter)?,
            None => {}
        }
        // A block this writer has not seen yet: the events of it already stored (by an earlier
        // run of the console) must be in its filter too. And a complete earlier block that an
        // earlier run did not get to store is stored now.
        let mut filter = load(conn, block)?;
        filter.add(output);
        if self.current.is_none() && block > 0 && !is_stored(conn, block - 1)? {
            let prev = load(conn, block - 1)?;
            if prev != Filter::new() {
                store(conn, block - 1, &prev)?;
            }
        }
        self.current = Some((block, filter));
        Ok(())
    }

    /// Forgets the in-memory filter (after a rolled-back transaction): it is read back from the
    /// stored events at the next insert.
    pub(crate) fn reset(&mut self) {
        self.current = None;
    }
}

fn store(conn: &Connection, block: i64, filter: &Filter) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO search_blocks (block, filter) VALUES (?1, ?2)")?
        .execute(params![block, filter.to_bytes()])
        .map(|_| ())
}

fn is_stored(conn: &Connection, block: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM search_blocks WHERE block = ?")?
        .query_row([block], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// The filter of the events of `block` that are stored.
fn load(conn: &Connection, block: i64) -> rusqlite::Result<Filter> {
    let mut filter = Filter::new();
    let mut stmt = conn.prepare_cached("SELECT output FROM events WHERE id >= ?1 AND id < ?2")?;
    let mut rows = stmt.query(params![block << BLOCK_SHIFT, (block + 1) << BLOCK_SHIFT])?;
    while let Some(row) = rows.next()? {
        filter.add(row.get_ref(0)?.as_str().unwrap_or_default());
    }
    Ok(filter)
}

/// Builds and stores the filters of every complete block that has none (a store written before
/// the index existed). The newest block stays open for the writer.
pub(crate) fn backfill(conn: &Connection) -> rusqlite::Result<u64> {
    let Some(max) = conn.query_row("SELECT max(id) FROM events", [], |r| {
        r.get::<_, Option<i64>>(0)
    })?
    else {
        return Ok(0);
    };
    let open = block_of(max);
    let mut stmt = conn.prepare("SELECT id, output FROM events WHERE id < ?1 ORDER BY id")?;
    let mut rows = stmt.query([open << BLOCK_SHIFT])?;
    let mut current: Option<(i64, Filter)> = None;
    let mut stored = 0;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let output = row.get_ref(1)?.as_str().unwrap_or_default();
        let block = block_of(id);
        match &mut current {
            Some((b, f)) if *b == block => f.add(output),
            _ => {
                if let Some((b, f)) = current.take() {
                    store(conn, b, &f)?;
                    stored += 1;
                }
                let mut f = Filter::new();
                f.add(output);
                current = Some((block, f));
            }
        }
    }
    if let Some((b, f)) = current {
        store(conn, b, &f)?;
        stored += 1;
    }
    Ok(stored)
}

/// Where a [`walk`] over the blocks ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkEnd {
    /// The visitor asked to stop, in this block.
    Stopped(i64),
    /// Every block down to `low` was examined.
    Done,
    /// The block limit ran out; blocks from this one down are left.
    Limit(i64),
}

/// Calls `visit` with each block a search for `needle` must read, newest first, among blocks
/// `low..=high`, until it returns `false`: a block is skipped only when its stored filter lacks a
/// trigram of the needle. Examines at most `max_blocks` blocks.
pub(crate) fn walk(
    conn: &Connection,
    needle: &Needle,
    low: i64,
    high: i64,
    max_blocks: i64,
    mut visit: impl FnMut(i64) -> rusqlite::Result<bool>,
) -> rusqlite::Result<WalkEnd> {
    let floor = low.max(high.saturating_sub(max_blocks - 1));
    let mut stmt = conn.prepare_cached(
        "SELECT block, filter FROM search_blocks WHERE block >= ?1 AND block <= ?2 ORDER BY block DESC",
    )?;
    let mut stored = stmt.query(params![floor, high])?;
    let mut next = stored.next()?;
    for block in (floor..=high).rev() {
        // Stored filters of blocks above this one were passed already.
        while let Some(row) = next {
            if row.get::<_, i64>(0)? > block {
                next = stored.next()?;
            } else {
                break;
            }
        }
        let admitted = match next {
            Some(row) if row.get::<_, i64>(0)? == block => {
                Filter::admits(row.get_ref(1)?.as_blob().unwrap_or_default(), needle)
            }
            _ => true,
        };
        if admitted && !visit(block)? {
            return Ok(WalkEnd::Stopped(block));
        }
    }
    Ok(if floor > low {
        WalkEnd::Limit(floor - 1)
    } else {
        WalkEnd::Done
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(f: &Filter) -> Vec<u8> {
        f.to_bytes()
    }

    #[test]
    fn a_filter_admits_every_substring_of_what_it_holds_in_any_case() {
        let mut f = Filter::new();
        f.add("Warning Sensitive file opened (file=/etc/shadow pid=4242)");
        f.add("Notice Terminal shell in container");
        let blob = stored(&f);
        for needle in [
            "shadow",
            "SHADOW",
            "pid=4242",
            "TERMINAL shell",
            "ing",
            "n c",
        ] {
            assert!(
                Filter::admits(&blob, &Needle::new(needle).expect("long enough")),
                "{needle}"
            );
        }
    }

    #[test]
    fn a_filter_rejects_needles_with_a_missing_trigram() {
        let mut f = Filter::new();
        f.add("Notice Terminal shell in container");
        let blob = stored(&f);
        for needle in ["passwd", "nc -e", "pid=99999"] {
            assert!(
                !Filter::admits(&blob, &Needle::new(needle).expect("long enough")),
                "{needle}"
            );
        }
    }

    #[test]
    fn short_needles_have_no_trigrams_and_damaged_filters_admit_everything() {
        assert_eq!(Needle::new("ab"), None);
        assert_eq!(Needle::new(""), None);
        let needle = Needle::new("shadow").expect("long enough");
        assert!(Filter::admits(&[0u8; 3], &needle));
    }

    #[test]
    fn multibyte_text_is_indexed_by_bytes() {
        let mut f = Filter::new();
        f.add("Datei geöffnet: /tmp/Übung");
        let blob = stored(&f);
        assert!(Filter::admits(&blob, &Needle::new("geöff").expect("long")));
        assert!(Filter::admits(&blob, &Needle::new("Übung").expect("long")));
        assert!(!Filter::admits(&blob, &Needle::new("übung").expect("long")));
    }
}
