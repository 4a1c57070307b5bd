//! The search index's worst case for trigrams: needles whose every trigram is in every block of
//! events, whose whole is in none (or one). The long windows of the filters let a search skip
//! those blocks, and results stay exactly those of a scan, whatever format the stored filters
//! have (with long windows, without them as an older console wrote them, or damaged).

use std::collections::BTreeMap;

use mamori_console::model::{EventFilter, StoredEvent};
use mamori_console::store::{EventStore, SqliteStore};

const PRIOS: [&str; 4] = ["Warning", "Notice", "Error", "Critical"];
const RULES: [&str; 6] = [
    "Read sensitive file untrusted",
    "Terminal shell in container",
    "Write below etc",
    "Mkdir binary dirs",
    "Launch Package Management Process in Container",
    "Redirect STDOUT/STDIN to Network Connection in Container",
];

/// An event as the store bench writes them: a notice is never of rule 0 ("Read sensitive file").
fn ev(i: usize) -> StoredEvent {
    let (prio, rule) = (PRIOS[i % 4], RULES[i % 6]);
    StoredEvent {
        id: 0,
        time_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000_000,
        source: "syscall".into(),
        rule: rule.into(),
        priority: prio.to_ascii_lowercase(),
        output: format!(
            "12:00:00.000000000: {prio} {rule} (user=root command=cat /etc/shadow pid={i} \
             container=3ad7b26ded6d)"
        ),
        hostname: "node-1".into(),
        tags: vec!["container".into()],
        namespace: None,
        pod: None,
        container: Some("3ad7b26ded6d".into()),
        image: None,
        status: None,
        fields: BTreeMap::new().into(),
    }
}

/// The filter a console before long windows stored for a block's output lines: 8 KiB, two bits
/// per trigram of the lowercased lines, from the top 32 bits of the trigram's bytes (first byte
/// lowest) times 0x9E37_79B9_7F4A_7C15.
fn old_format(lines: &[String]) -> Vec<u8> {
    let mut blob = vec![0u8; 8192];
    for line in lines {
        for w in line.to_ascii_lowercase().as_bytes().windows(3) {
            let key = u64::from(w[0]) | u64::from(w[1]) << 8 | u64::from(w[2]) << 16;
            let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for bit in [h >> 48, h >> 32 & 0xFFFF] {
                blob[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
    }
    blob
}

fn text(t: &str) -> EventFilter {
    EventFilter {
        text: Some(t.into()),
        ..EventFilter::default()
    }
}

fn insert_all(s: &SqliteStore, events: &[StoredEvent]) {
    for chunk in events.chunks(500) {
        s.insert(chunk.to_vec()).expect("insert");
    }
}

/// Every event of a text search, page after page, newest first.
fn search_all(s: &SqliteStore, t: &str) -> Vec<String> {
    let (mut got, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = s.query(&text(t), cursor, 100).expect("query");
        got.extend(page.events.into_iter().map(|e| e.output));
        pages += 1;
        assert!(pages < 10_000, "the cursor moves on");
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return got,
        }
    }
}

#[test]
fn a_needle_of_common_trigrams_skips_the_blocks_that_lack_its_long_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(&dir.path().join("events.db")).expect("opens");
    // A window of 2,000 ids cannot reach id 0 from id 5,000 by scanning; it can when the search
    // skips blocks 1 to 3 (ids 1,024..4,095), whose trigrams hold the needle's, and block 4 is
    // the open block (read, 904 ids).
    let s = s.with_scan_window(2000);
    let mut events: Vec<StoredEvent> = (0..5000).map(ev).collect();
    events[0].output = "12:00:00.000000000: Notice Read sensitive file untrusted".into();
    insert_all(&s, &events);
    let page = s
        .query(&text("notice READ sensitive file"), None, 50)
        .expect("query");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].id, 1, "ids start at 1");
    assert_eq!(page.next_cursor, None);
}

#[test]
fn results_are_those_of_a_scan_whatever_the_format_of_the_stored_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let s = SqliteStore::open(&path).expect("opens");
    let mut events: Vec<StoredEvent> = (0..6000).map(ev).collect();
    for i in [3, 1500, 2100, 2222, 4100, 5999] {
        events[i].output = format!("12:00:00.000000000: Notice Read sensitive file pid={i}");
    }
    insert_all(&s, &events);
    drop(s);
    // Block 1 as a console before long windows stored it (8 KiB of trigrams), block 2
    // damaged (a length neither format has), block 4 without a filter (as a crash leaves it).
    {
        let db = rusqlite::Connection::open(&path).expect("open");
        let outputs: Vec<String> = db
            .prepare("SELECT output FROM events WHERE id >= 1024 AND id < 2048")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("outputs");
        assert_eq!(outputs.len(), 1024);
        let changed = db
            .execute(
                "UPDATE search_blocks SET filter = ?1 WHERE block = 1",
                [old_format(&outputs)],
            )
            .expect("old format")
            + db.execute(
                "UPDATE search_blocks SET filter = substr(filter, 1, 9000) WHERE block = 2",
                [],
            )
            .expect("damage")
            + db.execute("DELETE FROM search_blocks WHERE block = 4", [])
                .expect("delete");
        assert_eq!(changed, 3);
        let old: i64 = db
            .query_row(
                "SELECT length(filter) FROM search_blocks WHERE block = 1",
                [],
                |r| r.get(0),
            )
            .expect("length");
        assert_eq!(old, 8192);
    }
    for window in [1000, 200_000] {
        let s = SqliteStore::open(&path)
            .expect("reopens")
            .with_scan_window(window);
        for needle in [
            "Notice Read sensitive file",
            "NOTICE READ SENSITIVE FILE PID=21",
            "sensitive file pid=2",
            "Error Redirect",
            "pid=3ad7b",
            "pid=5999",
            "pid=59999",
            "Notice Redirect STDOUT",
            "Critical Launch",
            "shadow pid=1",
            "ab",
        ] {
            let lower = needle.to_ascii_lowercase();
            let expected: Vec<String> = events
                .iter()
                .rev()
                .filter(|e| e.output.to_ascii_lowercase().contains(&lower))
                .map(|e| e.output.clone())
                .collect();
            assert_eq!(
                search_all(&s, needle),
                expected,
                "{needle}, window {window}"
            );
        }
    }
}
