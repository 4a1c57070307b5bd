//! Group commit for event inserts.
//!
//! Every ingest call hands its batch to one writer thread over a bounded channel and waits. The
//! thread takes what is queued (up to [`MAX_GROUP_ROWS`] events), writes it in one transaction,
//! commits — one WAL sync for all of them — and only then answers each caller with its ids. A
//! caller's 2xx therefore still follows its own commit, while concurrent requests share the sync
//! that dominates the cost of a commit. If a group fails, its batches are retried one by one, so
//! that one batch cannot fail the others.
//!
//! Checkpoints (copying the WAL back into the database file) are done by a second thread with its
//! own connection, shortly after commits, so the writer does not stop for them; the writer's own
//! automatic checkpoint stays as a safety net at [`WRITER_AUTOCHECKPOINT_PAGES`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{params, Connection};

use super::names::{Kind, NameCache};
use super::rollup::Counts;
use super::search::OpenBlock;
use super::times::Spans;
use super::{classify, priority_rank};
use crate::model::{Fields, StoredEvent, PRIORITIES};
use crate::store::StoreError;

/// Most events written in one transaction (a group stops growing here; the rest waits).
pub const MAX_GROUP_ROWS: usize = 20_000;

/// How many batches may wait for the writer before callers block (back-pressure).
const QUEUE: usize = 256;

/// WAL size (pages) at which the writer checkpoints by itself, if the checkpoint thread fell
/// behind.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Pause of the checkpoint thread between two checkpoints, so that pages changed by many
/// commits are copied once.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// One event, with its JSON columns already serialised by the caller's thread.
pub(super) struct Row {
    time_ns: i64,
    source: String,
    rule: String,
    rank: i64,
    output: String,
    hostname: String,
    tags: String,
    namespace: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    image: Option<String>,
    status: Option<String>,
    fields: Fields,
}

impl Row {
    pub(super) fn from_event(ev: StoredEvent) -> Row {
        Row {
            time_ns: ev.time_ns,
            rank: priority_rank(&ev.priority).unwrap_or(PRIORITIES.len() as i64 - 1),
            tags: serde_json::to_string(&ev.tags).unwrap_or_else(|_| "[]".into()),
            source: ev.source,
            rule: ev.rule,
            output: ev.output,
            hostname: ev.hostname,
            namespace: ev.namespace,
            pod: ev.pod,
            container: ev.container,
            image: ev.image,
            status: ev.status,
            fields: ev.fields,
        }
    }
}

struct Job {
    rows: Vec<Row>,
    reply: SyncSender<Result<Vec<i64>, StoreError>>,
}

/// Counters of the writer: how well commits are shared.
#[derive(Debug, Default)]
pub(super) struct GroupStats {
    pub(super) commits: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) rows: AtomicU64,
}

/// The writer thread and the queue to it, and the checkpoint thread.
pub(super) struct GroupWriter {
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
    pub(super) stats: Arc<GroupStats>,
}

impl GroupWriter {
    /// Starts the writer on `conn` and the checkpoint thread on `checkpoint_conn` (a second
    /// read-write connection to the same database).
    pub(super) fn start(
        conn: Arc<Mutex<Connection>>,
        checkpoint_conn: Connection,
    ) -> Result<GroupWriter, StoreError> {
        let spawn_err =
            |e: std::io::Error| StoreError::Other(format!("cannot start the store writer: {e}"));
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        // Capacity 1: commits that happen while a checkpoint is pending are one request.
        let (ckpt_tx, ckpt_rx) = sync_channel::<()>(1);
        let checkpointer = std::thread::Builder::new()
            .name("mamori-store-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpoint_conn, &ckpt_rx))
            .map_err(spawn_err)?;
        let stats = Arc::new(GroupStats::default());
        let s = stats.clone();
        let thread = std::thread::Builder::new()
            .name("mamori-store-writer".into())
            .spawn(move || run(&conn, &rx, &s, &ckpt_tx, &mut WriterState::default()))
            .map_err(spawn_err)?;
        Ok(GroupWriter {
            queue: Some(tx),
            thread: Some(thread),
            checkpointer: Some(checkpointer),
            stats,
        })
    }

    /// Queues `rows` and waits until they are committed.
    pub(super) fn insert(&self, rows: Vec<Row>) -> Result<Vec<i64>, StoreError> {
        let stopped = || StoreError::Unavailable("the store writer has stopped".into());
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = sync_channel(1);
        queue.send(Job { rows, reply }).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Drop for GroupWriter {
    fn drop(&mut self) {
        // Closing the queue ends the thread once the queued batches are written.
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The writer held the checkpoint queue's sender: it is closed now.
        if let Some(t) = self.checkpointer.take() {
            let _ = t.join();
        }
    }
}

fn checkpoint_loop(conn: &Connection, rx: &Receiver<()>) {
    while rx.recv().is_ok() {
        // PASSIVE: copy what no reader still needs, never wait for the writer or readers.
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(%error, "Checkpoint failed; the writer's own checkpoint remains.");
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

/// What the writer keeps between transactions: the open block's search filter and the name ids.
#[derive(Debug, Default)]
struct WriterState {
    search: OpenBlock,
    names: NameCache,
}

fn run(
    conn: &Mutex<Connection>,
    rx: &Receiver<Job>,
    stats: &GroupStats,
    checkpoint: &SyncSender<()>,
    state: &mut WriterState,
) {
    while let Ok(first) = rx.recv() {
        let mut n = first.rows.len();
        let mut jobs = vec![first];
        while n < MAX_GROUP_ROWS {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.rows.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let mut guard = match conn.lock() {
            Ok(g) => g,
            Err(_) => {
                for j in jobs {
                    let _ = j
                        .reply
                        .send(Err(StoreError::Other("writer lock poisoned".into())));
                }
                continue;
            }
        };
        match write(&mut guard, &jobs, state) {
            Ok(ids) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .batches
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                stats.rows.fetch_add(n as u64, Ordering::Relaxed);
                for (j, ids) in jobs.into_iter().zip(ids) {
                    let _ = j.reply.send(Ok(ids));
                }
                let _ = checkpoint.try_send(());
            }
            Err(_) if jobs.len() > 1 => {
                // Find out whose batch failed: each on its own.
                for j in jobs {
                    let r = write(&mut guard, std::slice::from_ref(&j), state)
                        .map(|mut ids| ids.pop().unwrap_or_default())
                        .map_err(classify);
                    if r.is_ok() {
                        stats.commits.fetch_add(1, Ordering::Relaxed);
                        stats.batches.fetch_add(1, Ordering::Relaxed);
                        stats.rows.fetch_add(j.rows.len() as u64, Ordering::Relaxed);
                    }
                    let _ = j.reply.send(r);
                }
            }
            Err(e) => {
                let e = classify(e);
                for j in jobs {
                    let _ = j.reply.send(Err(duplicate(&e)));
                }
            }
        }
    }
}

/// Writes the batches of `jobs` in one transaction; the ids of each batch. The search index's
/// filters, the block time ranges and new names are written in the same transaction.
fn write(
    conn: &mut Connection,
    jobs: &[Job],
    state: &mut WriterState,
) -> rusqlite::Result<Vec<Vec<i64>>> {
    let r = write_tx(conn, jobs, state);
    if r.is_err() {
        // The in-memory filter may hold events that were rolled back, or miss a stored block;
        // name ids handed out in the transaction are gone.
        state.search.reset();
        state.names.reset();
    }
    r
}

fn write_tx(
    conn: &mut Connection,
    jobs: &[Job],
    state: &mut WriterState,
) -> rusqlite::Result<Vec<Vec<i64>>> {
    let tx = conn.transaction()?;
    let mut out = Vec::with_capacity(jobs.len());
    let mut spans = Spans::default();
    let mut counts = Counts::default();
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO events (time_ns, priority, source, rule, namespace, status, hostname,
               tags, pod, container, image, output, fields)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let names = &mut state.names;
        for j in jobs {
            let mut ids = Vec::with_capacity(j.rows.len());
            for r in &j.rows {
                let source = names.id(&tx, Kind::Source, &r.source)?;
                let rule = names.id(&tx, Kind::Rule, &r.rule)?;
                let namespace = match &r.namespace {
                    Some(n) => Some(names.id(&tx, Kind::Namespace, n)?),
                    None => None,
                };
                let status = match &r.status {
                    Some(s) => Some(names.id(&tx, Kind::Status, s)?),
                    None => None,
                };
                let hostname = names.id(&tx, Kind::Hostname, &r.hostname)?;
                let tags = names.id(&tx, Kind::Tags, &r.tags)?;
                stmt.execute(params![
                    r.time_ns,
                    r.rank,
                    source,
                    rule,
                    namespace,
                    status,
                    hostname,
                    tags,
                    r.pod,
                    r.container,
                    r.image,
                    r.output,
                    r.fields.as_json()
                ])?;
                let id = tx.last_insert_rowid();
                state.search.add(&tx, id, &r.output)?;
                spans.add(id, r.time_ns);
                counts.add(
                    super::search::block_of(id),
                    r.time_ns,
                    rule,
                    r.rank,
                    namespace,
                    source,
                    status,
                );
                ids.push(id);
            }
            out.push(ids);
        }
    }
    spans.store(&tx)?;
    counts.store(&tx)?;
    tx.commit()?;
    Ok(out)
}

fn duplicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
        StoreError::Open { path, reason } => StoreError::Open {
            path: path.clone(),
            reason: reason.clone(),
        },
        StoreError::Other(m) => StoreError::Other(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::StoredEvent;
    use crate::store::{EventStore, SqliteStore};

    fn ev(rule: &str) -> StoredEvent {
        StoredEvent {
            id: 0,
            time_ns: 1,
            source: "syscall".into(),
            rule: rule.into(),
            priority: "notice".into(),
            output: String::new(),
            hostname: String::new(),
            tags: Vec::new(),
            namespace: None,
            pod: None,
            container: None,
            image: None,
            status: None,
            fields: Default::default(),
        }
    }

    #[test]
    fn batches_queued_during_a_commit_share_the_next_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            std::sync::Arc::new(SqliteStore::open(&dir.path().join("events.db")).expect("store"));
        // Hold the writer connection, as a long commit would, while eight callers queue.
        let held = store.writer.lock().expect("lock");
        let callers: Vec<_> = (0..8)
            .map(|i| {
                let s = store.clone();
                std::thread::spawn(move || s.insert(vec![ev(&format!("r{i}")), ev("x")]))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
        for c in callers {
            assert_eq!(c.join().expect("thread").expect("insert").len(), 2);
        }
        let st = store.ingest_stats();
        assert_eq!((st.batches, st.events), (8, 16));
        // The first caller's batch may have been taken alone before the lock was seen; all
        // the others were queued and go in one commit.
        assert!(st.commits <= 2, "{st:?}");
    }
}
