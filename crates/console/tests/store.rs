//! The SQLite store: durability shape, filters, pagination, aggregates, retention, schema checks.

use std::collections::BTreeMap;

use mamori_console::model::{EventFilter, GroupBy, StoredEvent};
use mamori_console::store::{EventStore, SqliteStore, StoreError};

fn ev(i: i64, rule: &str, priority: &str, ns: Option<&str>) -> StoredEvent {
    StoredEvent {
        id: 0,
        time_ns: 1_700_000_000_000_000_000 + i * 1_000_000_000,
        source: "syscall".into(),
        rule: rule.into(),
        priority: priority.into(),
        output: format!("event {i} by {rule}"),
        hostname: "node-1".into(),
        tags: vec!["container".into()],
        namespace: ns.map(str::to_string),
        pod: ns.map(|n| format!("{n}-pod")),
        container: Some("3ad7b26ded6d".into()),
        image: Some("nginx:1.25".into()),
        status: None,
        fields: BTreeMap::from([("proc.name".into(), serde_json::json!("cat"))]).into(),
    }
}

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(&dir.path().join("events.db")).expect("opens");
    (dir, s)
}

#[test]
fn inserted_events_come_back_whole() {
    let (_d, s) = store();
    let ids = s
        .insert(&[ev(
            1,
            "Read sensitive file untrusted",
            "warning",
            Some("default"),
        )])
        .expect("insert");
    let got = s.get(ids[0]).expect("get").expect("present");
    let mut want = ev(
        1,
        "Read sensitive file untrusted",
        "warning",
        Some("default"),
    );
    want.id = ids[0];
    assert_eq!(got, want);
    assert_eq!(s.get(ids[0] + 100).expect("get"), None);
}

#[test]
fn filters_combine_and_pages_walk_back_without_overlap() {
    let (_d, s) = store();
    let mut batch = Vec::new();
    for i in 0..120 {
        let rule = if i % 3 == 0 {
            "Terminal shell in container"
        } else {
            "Write below etc"
        };
        let prio = if i % 2 == 0 { "notice" } else { "error" };
        batch.push(ev(
            i,
            rule,
            prio,
            Some(if i % 4 == 0 { "shop" } else { "default" }),
        ));
    }
    s.insert(&batch).expect("insert");

    let f = EventFilter {
        rule: Some("Terminal shell in container".into()),
        ..EventFilter::default()
    };
    assert_eq!(s.count(&f).expect("count"), 40);

    let f = EventFilter {
        min_priority: Some("error".into()),
        namespace: Some("default".into()),
        ..EventFilter::default()
    };
    let expected = batch
        .iter()
        .filter(|e| e.priority == "error" && e.namespace.as_deref() == Some("default"))
        .count();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.query(&f, cursor, 7).expect("query");
        assert!(page.events.len() <= 7);
        for e in &page.events {
            assert_eq!(e.priority, "error");
            assert_eq!(e.namespace.as_deref(), Some("default"));
        }
        seen.extend(page.events.iter().map(|e| e.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), expected);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );

    let text = EventFilter {
        text: Some("EVENT 11 BY".into()),
        ..EventFilter::default()
    };
    assert_eq!(s.count(&text).expect("count"), 1);
}

#[test]
fn aggregates_group_and_bucket() {
    let (_d, s) = store();
    let batch: Vec<_> = (0..30)
        .map(|i| {
            ev(
                i,
                if i < 20 { "A" } else { "B" },
                if i < 5 { "critical" } else { "warning" },
                None,
            )
        })
        .collect();
    s.insert(&batch).expect("insert");
    let all = EventFilter::default();
    let by_rule = s.aggregate(&all, GroupBy::Rule, 0, 10).expect("agg");
    assert_eq!((by_rule[0].key.as_str(), by_rule[0].count), ("A", 20));
    assert_eq!((by_rule[1].key.as_str(), by_rule[1].count), ("B", 10));
    let by_prio = s.aggregate(&all, GroupBy::Priority, 0, 10).expect("agg");
    assert_eq!((by_prio[0].key.as_str(), by_prio[0].count), ("warning", 25));
    let by_ns = s.aggregate(&all, GroupBy::Namespace, 0, 10).expect("agg");
    assert_eq!(by_ns[0].key, "(none)");
    // 30 events one second apart in 10-second buckets: three buckets of ten.
    let by_time = s.aggregate(&all, GroupBy::Time, 10, 100).expect("agg");
    assert_eq!(by_time.iter().map(|b| b.count).sum::<u64>(), 30);
    assert!(by_time.len() == 3 || by_time.len() == 4, "{by_time:?}");
    assert!(matches!(
        s.aggregate(&all, GroupBy::Time, 0, 10),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn unknown_priority_filter_is_invalid() {
    let (_d, s) = store();
    let f = EventFilter {
        min_priority: Some("loud".into()),
        ..EventFilter::default()
    };
    assert!(matches!(s.count(&f), Err(StoreError::Invalid(_))));
}

#[test]
fn retention_keeps_the_newest_rows() {
    let (_d, s) = store();
    let batch: Vec<_> = (0..50).map(|i| ev(i, "A", "notice", None)).collect();
    let ids = s.insert(&batch).expect("insert");
    assert_eq!(s.enforce_retention(None, Some(20)).expect("retention"), 30);
    assert_eq!(s.count(&EventFilter::default()).expect("count"), 20);
    assert!(s.get(ids[29]).expect("get").is_none());
    assert!(s.get(ids[30]).expect("get").is_some());
    // Events from 2023 are older than a day.
    assert_eq!(
        s.enforce_retention(Some(86_400_000_000_000), None)
            .expect("retention"),
        20
    );
}

#[test]
fn events_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    {
        let s = SqliteStore::open(&path).expect("opens");
        s.insert(&[ev(1, "A", "notice", None)]).expect("insert");
    }
    let s = SqliteStore::open(&path).expect("reopens");
    assert_eq!(s.count(&EventFilter::default()).expect("count"), 1);
}

#[test]
fn foreign_and_future_databases_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("foreign.db");
    let c = rusqlite::Connection::open(&foreign).expect("sqlite");
    c.execute_batch("CREATE TABLE t(x)").expect("create");
    drop(c);
    let err = SqliteStore::open(&foreign).expect_err("refused");
    assert!(
        err.to_string().contains("no mamori schema version"),
        "{err}"
    );

    let future = dir.path().join("future.db");
    let c = rusqlite::Connection::open(&future).expect("sqlite");
    c.execute_batch("PRAGMA user_version = 99").expect("pragma");
    drop(c);
    let err = SqliteStore::open(&future).expect_err("refused");
    assert!(err.to_string().contains("newer"), "{err}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).expect("write");
    assert!(SqliteStore::open(&garbage).is_err());
}

#[test]
fn tokens_are_stored_by_hash_and_role() {
    use mamori_console::auth::{ensure_tokens, role_of, OperatorTokens, Role};
    let (_d, s) = store();
    let new = ensure_tokens(&s, &OperatorTokens::default()).expect("tokens");
    let admin = new.admin.expect("admin generated");
    let ro = new.read_only.expect("read-only generated");
    let ingest = new.ingest.expect("ingest generated");
    assert_eq!(admin.len(), 64);
    assert_eq!(role_of(&s, &admin).expect("role"), Some(Role::Admin));
    assert_eq!(role_of(&s, &ro).expect("role"), Some(Role::ReadOnly));
    assert_eq!(role_of(&s, &ingest).expect("role"), Some(Role::Ingest));
    assert_eq!(role_of(&s, "nope").expect("role"), None);
    // Only hashes are kept.
    let c = rusqlite::Connection::open(s.path()).expect("sqlite");
    let secrets: i64 = c
        .query_row(
            "SELECT count(*) FROM tokens WHERE hash IN (?1, ?2, ?3)",
            [&admin, &ro, &ingest],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(secrets, 0);
    // A second start generates nothing new; operator tokens replace the built-in ones.
    let again = ensure_tokens(&s, &OperatorTokens::default()).expect("tokens");
    assert_eq!(again, Default::default());
    let op = OperatorTokens {
        admin: Some("operator-chosen-token-1234".into()),
        ingest: Some("operator-ingest-token-5678".into()),
    };
    ensure_tokens(&s, &op).expect("tokens");
    assert_eq!(role_of(&s, &admin).expect("role"), None);
    assert_eq!(role_of(&s, &ingest).expect("role"), None);
    assert_eq!(
        role_of(&s, "operator-chosen-token-1234").expect("role"),
        Some(Role::Admin)
    );
    assert_eq!(
        role_of(&s, "operator-ingest-token-5678").expect("role"),
        Some(Role::Ingest)
    );
    let short = OperatorTokens {
        admin: Some("short".into()),
        ingest: None,
    };
    assert!(ensure_tokens(&s, &short).is_err());
}

#[test]
fn named_tokens_are_created_listed_rotated_and_deleted() {
    use mamori_console::auth::{create_token, role_of, Role};
    let (_d, s) = store();
    let a = create_token(&s, "node-1", Role::Ingest).expect("create");
    let b = create_token(&s, "node-2", Role::Ingest).expect("create");
    assert_ne!(a, b);
    assert_eq!(role_of(&s, &a).expect("role"), Some(Role::Ingest));
    let names: Vec<_> = s
        .tokens()
        .expect("list")
        .into_iter()
        .map(|t| (t.name, t.role))
        .collect();
    assert_eq!(
        names,
        [
            ("node-1".to_string(), "ingest".to_string()),
            ("node-2".to_string(), "ingest".to_string())
        ]
    );
    // Rotating a name invalidates its old secret only.
    let a2 = create_token(&s, "node-1", Role::Ingest).expect("rotate");
    assert_eq!(role_of(&s, &a).expect("role"), None);
    assert_eq!(role_of(&s, &a2).expect("role"), Some(Role::Ingest));
    assert_eq!(role_of(&s, &b).expect("role"), Some(Role::Ingest));
    assert!(s.delete_token("node-2").expect("delete"));
    assert!(!s.delete_token("node-2").expect("delete"));
    assert_eq!(role_of(&s, &b).expect("role"), None);
    assert!(create_token(&s, "bad name", Role::Ingest).is_err());
}

#[test]
fn a_version_3_store_is_migrated_and_keeps_its_tokens() {
    use mamori_console::auth::{hash_token, role_of, Role};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    // The v1..v3 schema's token table, as an older console left it.
    let c = rusqlite::Connection::open(&path).expect("sqlite");
    c.execute_batch(
        "CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, created_ns INTEGER NOT NULL);
         CREATE TABLE events (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, source TEXT NOT NULL,
           rule TEXT NOT NULL, priority INTEGER NOT NULL, output TEXT NOT NULL, hostname TEXT NOT NULL,
           tags TEXT NOT NULL, namespace TEXT, pod TEXT, container TEXT, image TEXT, status TEXT,
           fields TEXT NOT NULL);
         CREATE INDEX events_status ON events(status);
         CREATE TABLE alarms (name TEXT PRIMARY KEY, definition TEXT NOT NULL, state TEXT NOT NULL,
           state_since_ns INTEGER NOT NULL, last_value REAL, last_evaluated_ns INTEGER, acknowledged_ns INTEGER);
         CREATE TABLE alarm_history (id INTEGER PRIMARY KEY, alarm TEXT NOT NULL, time_ns INTEGER NOT NULL,
           from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL, reason TEXT NOT NULL);
         CREATE TABLE reports (id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, tool TEXT NOT NULL,
           targets TEXT NOT NULL, counts TEXT NOT NULL, current INTEGER NOT NULL DEFAULT 1);
         CREATE TABLE findings (id INTEGER PRIMARY KEY, report_id INTEGER NOT NULL, severity TEXT NOT NULL,
           rule_id TEXT NOT NULL, nist TEXT NOT NULL, body TEXT NOT NULL);
         CREATE TABLE finding_risks (finding_id INTEGER NOT NULL, report_id INTEGER NOT NULL,
           risk TEXT NOT NULL, severity TEXT NOT NULL);
         PRAGMA user_version = 3;",
    )
    .expect("old schema");
    c.execute(
        "INSERT INTO tokens VALUES (?1, 'admin', 1), (?2, 'read-only', 1)",
        [
            hash_token("old-admin-token-0123"),
            hash_token("old-ro-token-0123"),
        ],
    )
    .expect("tokens");
    drop(c);
    let s = SqliteStore::open(&path).expect("migrates");
    assert_eq!(
        role_of(&s, "old-admin-token-0123").expect("role"),
        Some(Role::Admin)
    );
    assert!(s.has_token("read-only").expect("by name"));
    assert!(!s.has_token("ingest").expect("by name"));
}

#[test]
fn concurrent_inserts_each_get_their_own_ids() {
    let (_d, s) = store();
    let s = std::sync::Arc::new(s);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for b in 0..20 {
                    let batch: Vec<_> = (0..50)
                        .map(|i| {
                            ev(
                                t * 10_000 + b * 100 + i,
                                &format!("rule-{t}"),
                                "notice",
                                None,
                            )
                        })
                        .collect();
                    let ids = s.insert(&batch).expect("insert");
                    assert_eq!(ids.len(), 50);
                    mine.extend(ids);
                }
                (t, mine)
            })
        })
        .collect();
    for h in threads {
        let (t, ids) = h.join().expect("thread");
        // Every id a caller got back holds that caller's event.
        for id in ids.iter().step_by(97) {
            let e = s.get(*id).expect("get").expect("stored");
            assert_eq!(e.rule, format!("rule-{t}"));
        }
    }
    let all = s.count(&EventFilter::default()).expect("count");
    assert_eq!(all, 8 * 20 * 50);
    let st = s.ingest_stats();
    assert_eq!((st.batches, st.events), (160, 8000));
}

#[test]
fn substring_search_is_bounded_per_page_and_resumable() {
    let (_d, s) = store();
    let s = s.with_scan_window(1000);
    let window = 1000;
    // One match at the very start, then more than a window of non-matching events.
    let mut first = ev(0, "A", "notice", None);
    first.output = "needle here".into();
    s.insert(&[first]).expect("insert");
    let filler: Vec<_> = (1..=(window + 10))
        .map(|i| ev(i, "A", "notice", None))
        .collect();
    for chunk in filler.chunks(500) {
        s.insert(chunk).expect("insert");
    }
    let f = EventFilter {
        text: Some("NEEDLE".into()),
        ..EventFilter::default()
    };
    let page = s.query(&f, None, 10).expect("query");
    assert!(page.events.is_empty(), "the newest window holds no match");
    let cursor = page.next_cursor.expect("more to search");
    let page = s.query(&f, Some(cursor), 10).expect("query");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].output, "needle here");
    assert_eq!(page.next_cursor, None);
}

fn needle_filter(text: &str) -> EventFilter {
    EventFilter {
        text: Some(text.into()),
        ..EventFilter::default()
    }
}

fn fillers(from: i64, to: i64) -> Vec<StoredEvent> {
    (from..to).map(|i| ev(i, "A", "notice", None)).collect()
}

fn insert_all(s: &SqliteStore, events: &[StoredEvent]) {
    for chunk in events.chunks(500) {
        s.insert(chunk).expect("insert");
    }
}

#[test]
fn text_search_skips_blocks_whose_filter_lacks_the_needle() {
    let (_d, s) = store();
    // A window of 2,000 ids cannot reach id 1 from id 3,001 by scanning; it can when the
    // search index rules out block 1 (ids 1,024..2,047), which holds no needle.
    let s = s.with_scan_window(2000);
    let mut first = ev(0, "A", "notice", None);
    first.output = "a Needle here".into();
    s.insert(&[first]).expect("insert");
    insert_all(&s, &fillers(1, 3001));
    let page = s
        .query(&needle_filter("NEEDLE h"), None, 10)
        .expect("query");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].output, "a Needle here");
    assert_eq!(page.next_cursor, None);
    // Other filters still apply to the rows read.
    let f = EventFilter {
        rule: Some("B".into()),
        ..needle_filter("needle")
    };
    assert!(s.query(&f, None, 10).expect("query").events.is_empty());
    // A needle in every event: pages walk back without overlap, as without the index.
    let f = needle_filter("by a");
    let p1 = s.query(&f, None, 700).expect("query");
    assert_eq!(p1.events.len(), 700);
    let p2 = s.query(&f, p1.next_cursor, 700).expect("query");
    assert!(p2.events[0].id < p1.events[699].id);
}

#[test]
fn text_search_finds_events_written_before_a_restart_in_a_block_completed_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    {
        let s = SqliteStore::open(&path).expect("opens");
        let mut first = ev(0, "A", "notice", None);
        first.output = "needle before restart".into();
        s.insert(&[first]).expect("insert");
        insert_all(&s, &fillers(1, 600));
    }
    // The reopened writer completes block 0 (ids 0..1,023): its filter must hold the events
    // the first run wrote, or the search below would skip the block.
    let s = SqliteStore::open(&path).expect("reopens");
    insert_all(&s, &fillers(600, 2200));
    let page = s.query(&needle_filter("needle"), None, 10).expect("query");
    assert_eq!(page.events.len(), 1, "{page:?}");
    assert_eq!(page.events[0].output, "needle before restart");
}

#[test]
fn a_version_4_store_is_migrated_with_its_events_search_filters_and_time_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    // A store as a version-4 console left it: text columns, an index on time_ns, no search
    // filters, no interned names, no block time ranges.
    mamori_console::store::sqlite::create_at_version(&path, 4).expect("v4 schema");
    let mut want = Vec::new();
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        let tx = c.unchecked_transaction().expect("tx");
        for i in 0..2501i64 {
            let mut e = ev(
                i,
                ["A", "B", "C"][i as usize % 3],
                ["notice", "critical"][i as usize % 2],
                (i % 5 != 0).then_some(["default", "shop"][i as usize % 2]),
            );
            if i == 0 {
                e.output = "old needle".into();
            }
            if i % 7 == 0 {
                e.status = Some("block".into());
                e.source = "policy".into();
            }
            e.id = i + 1;
            tx.execute(
                "INSERT INTO events (id, time_ns, source, rule, priority, output, hostname, tags,
                   namespace, pod, container, image, status, fields)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                rusqlite::params![
                    e.id,
                    e.time_ns,
                    e.source,
                    e.rule,
                    if e.priority == "critical" { 2 } else { 5 },
                    e.output,
                    e.hostname,
                    serde_json::to_string(&e.tags).expect("tags"),
                    e.namespace,
                    e.pod,
                    e.container,
                    e.image,
                    e.status,
                    e.fields.as_json(),
                ],
            )
            .expect("v4 row");
            want.push(e);
        }
        tx.commit().expect("commit");
    }
    let s = SqliteStore::open(&path)
        .expect("migrates")
        .with_scan_window(1500);
    // Every event reads back exactly as it was written.
    for e in &want {
        assert_eq!(s.get(e.id).expect("get").as_ref(), Some(e));
    }
    let c = rusqlite::Connection::open(&path).expect("sqlite");
    let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).expect("count") };
    assert_eq!(count("PRAGMA user_version"), 6);
    assert_eq!(
        count("SELECT count(*) FROM search_blocks"),
        2,
        "blocks 0 and 1 are complete, block 2 is open"
    );
    assert_eq!(count("SELECT count(*) FROM block_times"), 3);
    assert_eq!(
        count("SELECT count(*) FROM sqlite_master WHERE name = 'events_time'"),
        0
    );
    // Reaching id 1 from id 2,501 within 1,500 ids needs block 1 to be ruled out.
    let page = s
        .query(&needle_filter("old needle"), None, 10)
        .expect("query");
    assert_eq!(page.events.len(), 1, "{page:?}");
    // Filters on interned names, and aggregates, agree with the rows.
    let f = EventFilter {
        rule: Some("B".into()),
        namespace: Some("shop".into()),
        status: Some("block".into()),
        source: Some("policy".into()),
        ..EventFilter::default()
    };
    let expected = want
        .iter()
        .filter(|e| {
            e.rule == "B"
                && e.namespace.as_deref() == Some("shop")
                && e.status.as_deref() == Some("block")
                && e.source == "policy"
        })
        .count();
    assert!(expected > 0);
    assert_eq!(s.count(&f).expect("count") as usize, expected);
    let by_ns = s
        .aggregate(&EventFilter::default(), GroupBy::Namespace, 0, 10)
        .expect("agg");
    let keys: Vec<(&str, u64)> = by_ns.iter().map(|b| (b.key.as_str(), b.count)).collect();
    assert_eq!(
        keys,
        vec![("default", 1000), ("shop", 1000), ("(none)", 501)]
    );
    // New events go on after the migrated ones, with names shared with them.
    let ids = s
        .insert(&[ev(9000, "B", "notice", Some("shop"))])
        .expect("insert");
    assert_eq!(ids, vec![2502]);
    let f = EventFilter {
        rule: Some("B".into()),
        namespace: Some("shop".into()),
        ..EventFilter::default()
    };
    assert_eq!(s.query(&f, None, 1).expect("page").events[0].id, 2502);
}

#[test]
fn time_filters_return_exactly_the_events_in_range_whatever_the_arrival_order() {
    let (_d, s) = store();
    // Times out of id order: a node whose batch arrives late, and times jumping back and forth
    // across block boundaries.
    let mut all = Vec::new();
    for i in 0..5000i64 {
        let t = match i % 4 {
            0 => i,
            1 => 5000 - i,
            2 => i / 2,
            _ => (i * 7919) % 5000,
        };
        let mut e = ev(t, ["A", "B"][i as usize % 2], "notice", Some("default"));
        e.output = format!("n{i}");
        all.push(e);
    }
    insert_all(&s, &all);
    let base = 1_700_000_000_000_000_000i64;
    for (since, until) in [
        (Some(0), Some(10)),
        (Some(4990), None),
        (None, Some(3)),
        (Some(1200), Some(1300)),
        (Some(2500), Some(2501)),
        (Some(6000), None),
        (None, Some(-1)),
    ] {
        let f = EventFilter {
            since_ns: since.map(|t: i64| base + t * 1_000_000_000),
            until_ns: until.map(|t: i64| base + t * 1_000_000_000),
            rule: Some("B".into()),
            ..EventFilter::default()
        };
        let want = all
            .iter()
            .filter(|e| {
                e.rule == "B"
                    && f.since_ns.is_none_or(|t| e.time_ns >= t)
                    && f.until_ns.is_none_or(|t| e.time_ns < t)
            })
            .count();
        assert_eq!(
            s.count(&f).expect("count") as usize,
            want,
            "{since:?}..{until:?}"
        );
        let mut seen = 0;
        let mut cursor = None;
        loop {
            let page = s.query(&f, cursor, 97).expect("page");
            seen += page.events.len();
            for e in &page.events {
                assert!(f.since_ns.is_none_or(|t| e.time_ns >= t));
                assert!(f.until_ns.is_none_or(|t| e.time_ns < t));
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, want, "{since:?}..{until:?}");
        let buckets = s.aggregate(&f, GroupBy::Time, 60, 10_000).expect("agg");
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>() as usize, want);
    }
}

#[test]
fn retention_by_age_deletes_old_events_wherever_they_are() {
    let (_d, s) = store();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    let day = 86_400_000_000_000i64;
    // Old and new events interleaved across three blocks.
    let events: Vec<_> = (0..3000i64)
        .map(|i| {
            let mut e = ev(i, "A", "notice", None);
            e.time_ns = if i % 3 == 0 { now - 3 * day } else { now - i };
            e
        })
        .collect();
    insert_all(&s, &events);
    assert_eq!(
        s.enforce_retention(Some(day), None).expect("retention"),
        1000
    );
    assert_eq!(s.count(&EventFilter::default()).expect("count"), 2000);
    let old = EventFilter {
        until_ns: Some(now - day),
        ..EventFilter::default()
    };
    assert_eq!(s.count(&old).expect("count"), 0);
}

#[test]
fn retention_drops_the_search_filters_of_deleted_blocks() {
    let (d, s) = store();
    insert_all(&s, &fillers(0, 3000));
    s.enforce_retention(None, Some(500)).expect("retention");
    let c = rusqlite::Connection::open(d.path().join("events.db")).expect("sqlite");
    let blocks: Vec<i64> = c
        .prepare("SELECT block FROM search_blocks ORDER BY block")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    // Ids 2,501..3,000 remain: all in block 2, which is still open.
    assert_eq!(blocks, Vec::<i64>::new());
    assert_eq!(
        s.query(&needle_filter("by a"), None, 1000)
            .expect("query")
            .events
            .len(),
        500
    );
}

#[test]
fn text_search_is_case_insensitive_for_ascii_and_exact_for_other_letters() {
    let (_d, s) = store();
    let mut a = ev(0, "A", "notice", None);
    a.output = "Datei /tmp/Übung geöffnet".into();
    s.insert(&[a]).expect("insert");
    let found = |t: &str| {
        s.query(&needle_filter(t), None, 10)
            .expect("query")
            .events
            .len()
    };
    assert_eq!(found("DATEI /TMP/Übung"), 1);
    assert_eq!(found("geöffnet"), 1);
    assert_eq!(found("übung"), 0);
    // Shorter than a trigram: the bounded scan, same answer.
    assert_eq!(found("Üb"), 1);
    assert_eq!(found("üb"), 0);
}

#[test]
fn text_search_pages_find_every_match_once_whatever_the_window() {
    let (_d, s) = store();
    let events: Vec<_> = (0..5000)
        .map(|i| {
            let mut e = ev(i, "A", "notice", None);
            if i % 37 == 0 || (1500..1600).contains(&i) {
                e.output = format!("hit {i}");
            }
            e
        })
        .collect();
    insert_all(&s, &events);
    let expected: Vec<String> = (0..5000)
        .rev()
        .filter(|i| i % 37 == 0 || (1500..1600).contains(i))
        .map(|i| format!("hit {i}"))
        .collect();
    for window in [700, 1024, 1500, 3000, 200_000] {
        let s2 = SqliteStore::open(s.path())
            .expect("reopen")
            .with_scan_window(window);
        let mut got = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = s2.query(&needle_filter("HIT "), cursor, 7).expect("query");
            got.extend(page.events.into_iter().map(|e| e.output));
            pages += 1;
            assert!(pages < 1000, "the cursor moves on");
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, expected, "window {window}");
    }
}
