//! The free-text search index: one n-gram filter per block of event ids.
//!
//! Events are grouped by id into blocks of [`BLOCK_EVENTS`]. For each block the store keeps two
//! bitsets (Bloom filters with two hashes) of its events' output lines, lowercased as the search
//! is (ASCII letters): one of their trigrams and one of their windows of [`LONG_GRAM`] bytes. A
//! search for a needle of three bytes or more only reads the rows of blocks whose filter holds
//! every trigram of the needle and, when the needle is that long, every long window of it; the
//! others cannot contain a match. The filter only ever says "maybe", so a search still checks
//! each candidate row with the exact substring test: results are the same as a full scan, only
//! the work differs.
//!
//! Why not SQLite FTS5: its trigram index costs 40–65 µs per event at ingest on the test machine,
//! more than the whole ingest budget. A filter per block costs one pass over the output line
//! (two multiplications and two ORs into memory per byte) and one 24 KiB row per 1,024 events.
//!
//! Why the long windows: a needle made of common pieces ("Notice" and "Read sensitive file", each
//! in every block, never together) has every trigram in every block, so trigrams alone skip
//! nothing and the search reads rows like a scan. A window of six bytes spans the join of two
//! pieces, and the join is what such a block lacks.
//!
//! Where it is still weak: a needle shorter than [`LONG_GRAM`] has trigrams only, and a needle
//! whose every window of six bytes occurs in a block (pieces that meet elsewhere in it) passes
//! that block's filter; the search then reads that block's rows (bounded per page by the scan
//! window, as before).
//!
//! Blob format (the `filter` column), told apart by its length; bit `i` of a bitset is bit
//! `i % 8` of its byte `i / 8`:
//! - 24 KiB: the trigram bitset (8 KiB), then the bitset of long windows (16 KiB). Both are
//!   blocked: the two bits of an n-gram are in one 64-bit word ([`trigram_word`],
//!   [`long_word`]), so adding it is one write.
//! - 8 KiB: the trigram bitset as consoles before the long windows wrote it, the two bits of a
//!   trigram anywhere in it ([`trigram_bits`]). Such a block is never skipped for want of a long
//!   window.
//! - Any other length is damage, and the block is read.
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

/// Bits of a trigram bitset, as a power of two (both formats).
const FILTER_BITS_SHIFT: u32 = 16;

/// 64-bit words of a trigram bitset, as a power of two.
const FILTER_WORDS_SHIFT: u32 = FILTER_BITS_SHIFT - 6;

/// 64-bit words of a trigram bitset (8 KiB).
const FILTER_WORDS: usize = 1 << FILTER_WORDS_SHIFT;

/// Bytes of a long window. Six: a realistic block of Falco output lines (about 270 bytes each,
/// with times, pids and container ids) holds about 24,000 distinct windows of six bytes, which
/// the bitset below keeps at a fill of about 30%; longer windows grow that count and leave
/// needles of 6 or 7 bytes with trigrams only, shorter ones span fewer bytes of a join.
pub(crate) const LONG_GRAM: usize = 6;

/// 64-bit words of one block's bitset of long windows, as a power of two.
const LONG_WORDS_SHIFT: u32 = 11;

/// 64-bit words of one block's bitset of long windows (16 KiB).
const LONG_WORDS: usize = 1 << LONG_WORDS_SHIFT;

/// Bytes of a stored filter without long windows (the format before them).
const TRIGRAM_BYTES: usize = FILTER_WORDS * 8;

/// Bytes of a stored filter with long windows.
const FULL_BYTES: usize = TRIGRAM_BYTES + LONG_WORDS * 8;

/// The block an event id falls in.
pub(crate) fn block_of(id: i64) -> i64 {
    id >> BLOCK_SHIFT
}

/// Fibonacci hashing: the top bits of the product are well mixed.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The two bits of a trigram in an 8 KiB filter (the format before long windows), `key` being
/// its bytes (already lowercased) with the first in the low byte. Two bits per trigram: with
/// one, a needle's rarest trigram could share its bit with a trigram in every block (digits are
/// everywhere), and the filter would admit every block.
///
/// Stored filters depend on these bits: read only, for the filters older consoles stored.
fn trigram_bits(key: u64) -> (usize, usize) {
    let h = key.wrapping_mul(GOLDEN);
    let mask = (1 << FILTER_BITS_SHIFT) - 1;
    (
        (h >> (64 - FILTER_BITS_SHIFT)) as usize,
        ((h >> (64 - 2 * FILTER_BITS_SHIFT)) & mask) as usize,
    )
}

/// The word of a 24 KiB filter's trigram bitset that holds a trigram (`key` as in
/// [`trigram_bits`]) and the mask of its two bits in that word. The word is the top bits of the
/// product, the two bits the next twelve (they depend on every bit of a 24-bit key). Both bits
/// in one word make adding a trigram one write instead of two; at the fill of a realistic block
/// (about 4,000 distinct trigrams) the false-positive rate stays close to that of two free
/// bits.
///
/// Stored filters depend on these bits: changing them needs every stored filter rebuilt.
fn trigram_word(key: u64) -> (usize, u64) {
    let h = key.wrapping_mul(GOLDEN);
    let word = (h >> (64 - FILTER_WORDS_SHIFT)) as usize;
    (
        word,
        1 << (h >> (58 - FILTER_WORDS_SHIFT) & 63) | 1 << (h >> (52 - FILTER_WORDS_SHIFT) & 63),
    )
}

/// The word of the long-window bitset that holds a window (`key` being its bytes as in
/// [`trigram_bits`]) and the mask of its two bits in that word, as for [`trigram_word`].
///
/// Stored filters depend on these bits: changing them needs every stored filter rebuilt.
fn long_word(key: u64) -> (usize, u64) {
    // The full 128-bit product, halves folded: every bit of the hash depends on every byte of
    // the window (the low half alone mixes its low bits only with the window's first bytes).
    let p = u128::from(key) * u128::from(GOLDEN);
    let h = p as u64 ^ (p >> 64) as u64;
    let word = (h >> (64 - LONG_WORDS_SHIFT)) as usize;
    (word, 1 << (h & 63) | 1 << (h >> 6 & 63))
}

/// Every byte lowercased as `u8::to_ascii_lowercase` does (SQLite's `lower()` too). In the loop
/// below a table lookup costs less than the comparison and select: the filter of a line took a
/// third less time with it on the test machine.
static LOWER: [u8; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    table
};

/// Calls `tri` with the key of every trigram of `text` and `long` with the key of every long
/// window, lowercased (ASCII) as the search is; a key holds the n-gram's bytes, the first in the
/// low byte.
fn for_each_gram(text: &[u8], mut tri: impl FnMut(u64), mut long: impl FnMut(u64)) {
    // The last eight bytes, newest in the top byte: the trigram is the top three bytes, the long
    // window the top six.
    let mut window = 0u64;
    for (i, &c) in text.iter().enumerate() {
        window = window >> 8 | u64::from(LOWER[usize::from(c)]) << 56;
        if i >= 2 {
            tri(window >> 40);
        }
        if i >= LONG_GRAM - 1 {
            long(window >> (64 - 8 * LONG_GRAM));
        }
    }
}

/// Whether bit `i` of a stored bitset is set.
fn has_bit(bitset: &[u8], i: usize) -> bool {
    bitset[i / 8] & (1 << (i % 8)) != 0
}

/// Whether every `(word, mask)` has all its bits set in a stored bitset.
fn has_words(bitset: &[u8], words: &[(usize, u64)]) -> bool {
    words.iter().all(|&(word, mask)| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&bitset[word * 8..word * 8 + 8]);
        u64::from_le_bytes(bytes) & mask == mask
    })
}

/// Sorts `(word, mask)` pairs by word and merges the masks of a word.
fn merge_words(words: &mut Vec<(usize, u64)>) {
    words.sort_unstable();
    words.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 |= later.1;
        }
        same
    });
}

/// The n-gram filter of one block (two blocked Bloom filters with two hashes each).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    trigrams: Box<[u64; FILTER_WORDS]>,
    long: Box<[u64; LONG_WORDS]>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ones = |w: &[u64]| w.iter().map(|w| w.count_ones()).sum::<u32>();
        write!(
            f,
            "Filter({} trigram bits, {} long-window bits set)",
            ones(&self.trigrams[..]),
            ones(&self.long[..])
        )
    }
}

impl Filter {
    pub(crate) fn new() -> Filter {
        Filter {
            trigrams: Box::new([0; FILTER_WORDS]),
            long: Box::new([0; LONG_WORDS]),
        }
    }

    /// Adds the trigrams and long windows of an output line.
    pub(crate) fn add(&mut self, text: &str) {
        let (trigrams, long) = (&mut self.trigrams, &mut self.long);
        for_each_gram(
            text.as_bytes(),
            |key| {
                let (word, mask) = trigram_word(key);
                trigrams[word] |= mask;
            },
            |key| {
                let (word, mask) = long_word(key);
                long[word] |= mask;
            },
        );
    }

    /// The stored form (the 24 KiB format).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.trigrams
            .iter()
            .chain(self.long.iter())
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }

    /// Whether a stored filter may hold `needle`: every trigram bit of it is set, and every long
    /// window bit where the blob has long windows. A blob of an unknown size (damaged) answers
    /// yes, so the block is read.
    pub(crate) fn admits(blob: &[u8], needle: &Needle) -> bool {
        match blob.len() {
            TRIGRAM_BYTES => needle.old_bits.iter().all(|&i| has_bit(blob, i)),
            FULL_BYTES => {
                let (trigrams, long) = blob.split_at(TRIGRAM_BYTES);
                has_words(trigrams, &needle.trigrams) && has_words(long, &needle.long)
            }
            _ => true,
        }
    }
}

/// The bits a search needle needs; `None` when it is shorter than a trigram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Needle {
    /// Trigram bits in an 8 KiB filter ([`trigram_bits`]), sorted, without repeats.
    old_bits: Vec<usize>,
    /// Trigram words and bits in a 24 KiB filter, sorted by word, one entry per word.
    trigrams: Vec<(usize, u64)>,
    /// Long-window words and bits, sorted by word, one entry per word; empty for a needle
    /// shorter than a window.
    long: Vec<(usize, u64)>,
}

impl Needle {
    pub(crate) fn new(text: &str) -> Option<Needle> {
        let (mut old_bits, mut trigrams, mut long) = (Vec::new(), Vec::new(), Vec::new());
        for_each_gram(
            text.as_bytes(),
            |key| {
                let (x, y) = trigram_bits(key);
                old_bits.extend([x, y]);
                trigrams.push(trigram_word(key));
            },
            |key| long.push(long_word(key)),
        );
        old_bits.sort_unstable();
        old_bits.dedup();
        merge_words(&mut trigrams);
        merge_words(&mut long);
        (!old_bits.is_empty()).then_some(Needle {
            old_bits,
            trigrams,
            long,
        })
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

    /// The blob a console before long windows stored for `lines` (8 KiB of trigrams).
    fn old_format(lines: &[&str]) -> Vec<u8> {
        let mut blob = vec![0u8; TRIGRAM_BYTES];
        for line in lines {
            for_each_gram(
                line.as_bytes(),
                |key| {
                    let (x, y) = trigram_bits(key);
                    for i in [x, y] {
                        blob[i / 8] |= 1 << (i % 8);
                    }
                },
                |_| {},
            );
        }
        blob
    }

    fn filter_of(lines: &[&str]) -> Filter {
        let mut f = Filter::new();
        for line in lines {
            f.add(line);
        }
        f
    }

    fn needle(text: &str) -> Needle {
        Needle::new(text).expect("long enough")
    }

    #[test]
    fn a_filter_admits_every_substring_of_what_it_holds_in_any_case() {
        let mut f = Filter::new();
        f.add("Warning Sensitive file opened (file=/etc/shadow pid=4242)");
        f.add("Notice Terminal shell in container");
        let blob = stored(&f);
        assert_eq!(blob.len(), FULL_BYTES);
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

    /// Every substring of three bytes or more of every line, as stored, upper-cased,
    /// lower-cased and with alternating case, is admitted by both blob formats.
    #[test]
    fn every_substring_of_every_line_is_admitted_in_any_ascii_case() {
        let lines = [
            "12:00:00.123456789: Notice Read sensitive file untrusted (user=root command=cat \
             /etc/shadow pid=4242 container=3ad7b26ded6d)",
            "Critical Redirect STDOUT/STDIN to Network Connection in Container (fd=10.0.0.7:4444)",
            "Datei geöffnet: /tmp/Übung k8s.ns=kube-system",
            "ab",
        ];
        let (full, old) = (stored(&filter_of(&lines)), old_format(&lines));
        let alternate = |s: &str| -> String {
            s.chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        };
        let mut checked = 0;
        for line in lines {
            let bytes = line.as_bytes();
            for start in 0..bytes.len() {
                for end in start + 3..=bytes.len() {
                    let Ok(sub) = std::str::from_utf8(&bytes[start..end]) else {
                        continue;
                    };
                    for variant in [
                        sub.to_string(),
                        sub.to_ascii_uppercase(),
                        sub.to_ascii_lowercase(),
                        alternate(sub),
                    ] {
                        let n = needle(&variant);
                        assert!(Filter::admits(&full, &n), "{variant:?}");
                        assert!(Filter::admits(&old, &n), "{variant:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 20_000, "{checked}");
    }

    #[test]
    fn a_filter_rejects_needles_with_a_missing_trigram() {
        let line = ["Notice Terminal shell in container"];
        for blob in [stored(&filter_of(&line)), old_format(&line)] {
            for needle in ["passwd", "nc -e", "pid=99999"] {
                assert!(
                    !Filter::admits(&blob, &Needle::new(needle).expect("long enough")),
                    "{needle}"
                );
            }
        }
    }

    /// The worst case of a trigram filter: every trigram of the needle is in the block (its
    /// pieces are), its whole is not. The long windows across the joins are not either.
    #[test]
    fn needles_of_common_trigrams_but_a_missing_long_window_are_rejected() {
        let mut lines = Vec::new();
        for i in 0..1024 {
            let prio = ["Warning", "Notice", "Error", "Critical"][i % 4];
            let rule = [
                "Read sensitive file untrusted",
                "Terminal shell in container",
                "Write below etc",
                "Mkdir binary dirs",
                "Launch Package Management Process in Container",
                "Redirect STDOUT/STDIN to Network Connection in Container",
            ][i % 6];
            lines.push(format!(
                "12:00:00.000000000: {prio} {rule} (user=root command=cat /etc/shadow \
                 pid={i} container=3ad7b26ded6d)"
            ));
        }
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (full, old) = (stored(&filter_of(&lines)), old_format(&lines));
        for text in [
            // A notice is only ever of rules 1, 3 and 5 here.
            "Notice Read sensitive file",
            // An error is only ever of rules 0, 2 and 4.
            "ERROR REDIRECT",
            // The start of one field's value in another.
            "pid=3ad7b",
            // A pid that is not there, of digits that are.
            "pid=2010",
        ] {
            let n = needle(text);
            assert!(
                Filter::admits(&old, &n),
                "{text}: its trigrams are all in the block"
            );
            assert!(!Filter::admits(&full, &n), "{text}");
        }
        // What is there still is admitted, of course.
        for text in [
            "Notice Redirect STDOUT",
            "pid=1022 c",
            "Error Write below etc",
        ] {
            assert!(Filter::admits(&full, &needle(text)), "{text}");
        }
    }

    #[test]
    fn needles_shorter_than_a_long_window_are_filtered_by_trigrams_only() {
        let short = needle("abcde");
        assert!(short.long.is_empty());
        assert!(!short.trigrams.is_empty());
        let long = needle("abcdef");
        assert_eq!(long.long.len(), 1, "one window");
        assert!(
            matches!(long.long[0].1.count_ones(), 1 | 2),
            "two bits, or one twice"
        );
        // A blob whose long part is empty still admits the short needle on its trigrams.
        let mut blob = stored(&filter_of(&["abcde"]));
        blob[TRIGRAM_BYTES..].fill(0);
        assert!(Filter::admits(&blob, &short));
        assert!(!Filter::admits(&blob, &long));
    }

    #[test]
    fn short_needles_have_no_trigrams_and_damaged_filters_admit_everything() {
        assert_eq!(Needle::new("ab"), None);
        assert_eq!(Needle::new(""), None);
        let needle = Needle::new("shadow").expect("long enough");
        for len in [
            0,
            3,
            TRIGRAM_BYTES - 1,
            TRIGRAM_BYTES + 1,
            FULL_BYTES - 1,
            FULL_BYTES + 8,
        ] {
            assert!(Filter::admits(&vec![0u8; len], &needle), "{len}");
        }
        // The two formats, empty, admit nothing.
        assert!(!Filter::admits(&[0u8; TRIGRAM_BYTES], &needle));
        assert!(!Filter::admits(&[0u8; FULL_BYTES], &needle));
    }

    /// Filters stored before the long windows (8 KiB) keep meaning what they meant: the bits of
    /// a trigram are those the store has always used.
    #[test]
    fn trigram_bits_are_those_of_stored_filters() {
        let blob = old_format(&["abc"]);
        let ones: Vec<usize> = (0..TRIGRAM_BYTES * 8)
            .filter(|&i| has_bit(&blob, i))
            .collect();
        assert_eq!(ones, vec![16986, 23505]);
        assert_eq!(
            trigram_bits(u64::from_le_bytes(*b"pid\0\0\0\0\0")),
            (34216, 3957)
        );
        assert_eq!(
            trigram_bits(u64::from_le_bytes(*b"/et\0\0\0\0\0")),
            (5955, 13830)
        );
    }

    /// The bits an earlier console set for "Notice Terminal shell in container" (its filter
    /// before long windows): such a stored blob admits what the line holds, rejects the rest.
    #[test]
    fn a_filter_stored_by_an_earlier_console_still_answers() {
        const SET: [usize; 64] = [
            157, 422, 624, 1649, 2728, 4983, 9397, 9721, 10720, 11076, 11288, 11646, 12715, 13038,
            15943, 16800, 17005, 18858, 19020, 19036, 22016, 23351, 23794, 24049, 24322, 25946,
            27046, 27712, 30481, 32064, 33575, 33745, 33996, 34116, 35568, 35606, 37263, 38555,
            39017, 39730, 39859, 41614, 41815, 42709, 43595, 46955, 47264, 49079, 49469, 51396,
            54165, 54672, 55850, 55895, 56576, 57777, 58328, 59008, 61510, 62014, 62482, 64334,
            64969, 65126,
        ];
        let mut blob = vec![0u8; TRIGRAM_BYTES];
        for i in SET {
            blob[i / 8] |= 1 << (i % 8);
        }
        assert_eq!(blob, old_format(&["Notice Terminal shell in container"]));
        let line = b"notice terminal shell in container";
        for start in 0..line.len() {
            for end in start + 3..=line.len() {
                let text = std::str::from_utf8(&line[start..end]).expect("ascii");
                assert!(Filter::admits(&blob, &needle(text)), "{text}");
            }
        }
        for text in ["passwd", "Notice Read", "shell in pod"] {
            assert!(!Filter::admits(&blob, &needle(text)), "{text}");
        }
    }

    #[test]
    fn multibyte_text_is_indexed_by_bytes() {
        let line = ["Datei geöffnet: /tmp/Übung"];
        for blob in [stored(&filter_of(&line)), old_format(&line)] {
            assert!(Filter::admits(&blob, &Needle::new("geöff").expect("long")));
            assert!(Filter::admits(&blob, &Needle::new("Übung").expect("long")));
            assert!(!Filter::admits(&blob, &Needle::new("übung").expect("long")));
        }
    }

    /// A block of output lines shaped like Falco's (times to the nanosecond, pids, container
    /// ids, users, files), from a seed: about 270 bytes each.
    fn falco_like_block(seed: u64) -> Vec<String> {
        let mut x = seed;
        let mut next = move |n: u64| {
            // A 64-bit LCG (Knuth's constants), top bits.
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        let rules = [
            "Warning Sensitive file opened for reading by non-trusted program (file={f} \
             gparent=systemd evt_type=openat user={u} user_uid={uid} process={p} \
             command={p} {f} container_id={c})",
            "Notice A shell was spawned in a container with an attached terminal \
             (evt_type=execve user={u} user_uid={uid} process={p} parent=runc command={p} -i \
             terminal=34816 container_id={c})",
            "Error File below /etc opened for writing (file={f} pcmdline={p} {f} \
             evt_type=openat user={u} process={p} container_id={c})",
            "Critical Outbound connection to C2 server (connection=10.0.{a}.{b}:4444 \
             user={u} process={p} command={p} -c {f} container_id={c})",
        ];
        let users = ["root", "www-data", "nobody", "app", "postgres"];
        let procs = [
            "cat", "bash", "sh", "nginx", "python3", "curl", "vi", "java",
        ];
        let files = [
            "/etc/shadow",
            "/etc/passwd",
            "/root/.ssh/id_rsa",
            "/etc/sudoers",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "/tmp/x.sh",
            "/etc/crontab",
        ];
        let containers: Vec<String> = (0..40)
            .map(|_| format!("{:06x}{:06x}", next(1 << 24), next(1 << 24)))
            .collect();
        (0..1024)
            .map(|i| {
                let line = rules[next(4) as usize]
                    .replace("{f}", files[next(7) as usize])
                    .replace("{u}", users[next(5) as usize])
                    .replace("{uid}", &next(2000).to_string())
                    .replace("{p}", procs[next(8) as usize])
                    .replace("{c}", &containers[next(40) as usize])
                    .replace("{a}", &next(256).to_string())
                    .replace("{b}", &next(256).to_string());
                format!(
                    "{:02}:{:02}:{:02}.{:09}: {line} pid={}",
                    10 + i / 3600,
                    i / 60 % 60,
                    i % 60,
                    next(1_000_000_000),
                    next(4_000_000)
                )
            })
            .collect()
    }

    /// On a realistic block, needles taken from another block that this one lacks but whose
    /// trigrams it has: the long windows reject them, except where every window of the needle
    /// is in the block (pieces that meet elsewhere in it), which no filter of windows can tell
    /// apart, and a few false positives of the bitset.
    #[test]
    fn a_realistic_block_rejects_most_absent_needles_whose_trigrams_it_has() {
        let block = falco_like_block(1);
        let lines: Vec<&str> = block.iter().map(String::as_str).collect();
        let (full, old) = (stored(&filter_of(&lines)), old_format(&lines));
        let lower: Vec<String> = block.iter().map(|l| l.to_ascii_lowercase()).collect();
        let windows: std::collections::HashSet<&[u8]> = lower
            .iter()
            .flat_map(|l| l.as_bytes().windows(LONG_GRAM))
            .collect();
        let other = falco_like_block(2);
        let (mut tried, mut unavoidable, mut false_positives) = (0, 0, 0);
        for (i, line) in other.iter().enumerate() {
            for (len, step) in [6, 8, 10, 14, 22]
                .into_iter()
                .flat_map(|l| [(l, 37), (l, 101)])
            {
                let start = (i * step) % (line.len() - len);
                let Some(text) = line.get(start..start + len) else {
                    continue;
                };
                let text = text.to_ascii_lowercase();
                let n = needle(&text);
                if lower.iter().any(|l| l.contains(&text)) || !Filter::admits(&old, &n) {
                    continue;
                }
                tried += 1;
                if text
                    .as_bytes()
                    .windows(LONG_GRAM)
                    .all(|w| windows.contains(w))
                {
                    unavoidable += 1;
                    assert!(Filter::admits(&full, &n), "{text}");
                } else if Filter::admits(&full, &n) {
                    false_positives += 1;
                }
            }
        }
        eprintln!(
            "{} distinct windows; {tried} absent needles with every trigram in the block: \
             {unavoidable} with every window in it too, {false_positives} false positives",
            windows.len()
        );
        assert!(tried > 1000, "{tried}");
        assert!(
            false_positives * 20 < tried - unavoidable,
            "{false_positives} of {}",
            tried - unavoidable
        );
    }
}
