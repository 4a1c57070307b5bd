//! Scan verdicts for the webhook: a [`VerdictSource`] backed by an [`ImageScanner`], a cache
//! keyed by image digest with a TTL, and a bounded background scan queue.
//!
//! - A reference pinned by digest (`repo@sha256:…`) is looked up by that digest. A tag
//!   reference is first mapped to the digest its last scan found; that mapping expires after
//!   [`CacheSettings::tag_ttl`], so a moved tag is noticed.
//! - A verdict older than [`CacheSettings::verdict_ttl`] (the vulnerability database changes)
//!   is still served while a rescan runs in the background ("stale while revalidate"); its
//!   `scanned_at` stays the old scan's time, so `maxScanAgeDays` still applies.
//! - On a miss the image is queued (at most [`CacheSettings::queue`] waiting, one entry per
//!   image) and the caller waits up to [`CacheSettings::budget`]; a scan that has not finished
//!   by then leaves the image **unscanned** for this review (scan-result rules with `unscanned`
//!   apply their action: `enforce` denies, `warn`/`audit` allow and record), and the next
//!   review finds the result. A full queue is reported the same way ("scan queue full").
//! - A failed scan is remembered for [`CacheSettings::error_ttl`] so a broken image is not
//!   rescanned on every review.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mamori_policy::verdict::{ImageVerdict, VerdictError, VerdictSource};

/// What a scanner found in one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedImage {
    /// The manifest digest of the image scanned (`sha256:…`).
    pub digest: String,
    /// The verdict.
    pub verdict: ImageVerdict,
}

/// Scans one image reference (as written in a pod spec). Called from the scan worker threads.
pub trait ImageScanner: Send + Sync + 'static {
    /// Scans `image`; the error text is shown in decisions (`has no scan result (…)`).
    fn scan(&self, image: &str) -> Result<ScannedImage, String>;
}

/// Cache and queue settings.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// A verdict older than this is rescanned in the background (served meanwhile).
    pub verdict_ttl: Duration,
    /// How long a tag → digest mapping is trusted.
    pub tag_ttl: Duration,
    /// How long a failed scan is remembered.
    pub error_ttl: Duration,
    /// How long a review waits for a scan it started.
    pub budget: Duration,
    /// Scans waiting at most (further misses are not queued).
    pub queue: usize,
    /// Scan worker threads.
    pub workers: usize,
    /// Verdicts kept at most (the least recently scanned go first).
    pub max_entries: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            verdict_ttl: Duration::from_secs(6 * 3600),
            tag_ttl: Duration::from_secs(600),
            error_ttl: Duration::from_secs(60),
            budget: Duration::from_millis(1500),
            queue: 64,
            workers: 1,
            max_entries: 10_000,
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache (fresh or stale).
    pub hits: AtomicU64,
    /// Lookups that had to queue (or wait for) a scan.
    pub misses: AtomicU64,
    /// Scans finished successfully.
    pub scans: AtomicU64,
    /// Scans that failed.
    pub scan_errors: AtomicU64,
    /// Misses not queued because the queue was full.
    pub queue_full: AtomicU64,
    /// Reviews that went on without a verdict because the scan did not finish in the budget.
    pub budget_exceeded: AtomicU64,
}

struct Verdict {
    verdict: ImageVerdict,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Digest → verdict.
    by_digest: HashMap<String, Verdict>,
    /// Tag reference → (digest, when resolved).
    by_tag: HashMap<String, (String, Instant)>,
    /// Reference → (error, when).
    errors: HashMap<String, (String, Instant)>,
    /// References queued or being scanned.
    pending: HashSet<String>,
}

struct Shared {
    state: Mutex<State>,
    done: Condvar,
    settings: CacheSettings,
    stats: CacheStats,
}

/// The digest-keyed verdict cache with its scan queue; implements [`VerdictSource`].
pub struct ScanCache {
    shared: Arc<Shared>,
    queue: mpsc::SyncSender<String>,
}

impl std::fmt::Debug for ScanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanCache")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

/// The digest a reference is pinned to (`…@sha256:abc` → `sha256:abc`).
pub fn pinned_digest(image: &str) -> Option<&str> {
    let (_, d) = image.rsplit_once('@')?;
    d.contains(':').then_some(d)
}

impl ScanCache {
    /// Starts `settings.workers` scan threads using `scanner`.
    pub fn start(scanner: Arc<dyn ImageScanner>, settings: CacheSettings) -> Arc<ScanCache> {
        let (tx, rx) = mpsc::sync_channel::<String>(settings.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            settings,
            stats: CacheStats::default(),
        });
        for i in 0..shared.settings.workers.max(1) {
            let rx = rx.clone();
            let shared = shared.clone();
            let scanner = scanner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mamori-scan-{i}"))
                .spawn(move || worker(&rx, &shared, scanner.as_ref()));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a scan worker thread");
            }
        }
        Arc::new(ScanCache { shared, queue: tx })
    }

    /// The counters.
    pub fn stats(&self) -> &CacheStats {
        &self.shared.stats
    }

    /// Verdicts cached.
    pub fn len(&self) -> usize {
        self.lock().by_digest.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks `image` up without queuing: `(verdict, fresh)`.
    fn cached(&self, st: &State, image: &str, now: Instant) -> Option<(ImageVerdict, bool)> {
        let s = &self.shared.settings;
        let (digest, tag_fresh) = match pinned_digest(image) {
            Some(d) => (d.to_string(), true),
            None => {
                let (d, at) = st.by_tag.get(image)?;
                (d.clone(), now.duration_since(*at) < s.tag_ttl)
            }
        };
        let v = st.by_digest.get(&digest)?;
        let fresh = tag_fresh && now.duration_since(v.at) < s.verdict_ttl;
        Some((v.verdict.clone(), fresh))
    }

    /// Queues `image` unless it is already pending; false when the queue is full.
    fn enqueue(&self, st: &mut State, image: &str) -> bool {
        if st.pending.contains(image) {
            return true;
        }
        match self.queue.try_send(image.to_string()) {
            Ok(()) => {
                st.pending.insert(image.to_string());
                true
            }
            Err(_) => false,
        }
    }
}

fn worker(rx: &Mutex<mpsc::Receiver<String>>, shared: &Shared, scanner: &dyn ImageScanner) {
    loop {
        let next = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(image) = next else { return };
        let started = Instant::now();
        let result = scanner.scan(&image);
        let now = Instant::now();
        let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        st.pending.remove(&image);
        match result {
            Ok(s) => {
                shared.stats.scans.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%image, digest = %s.digest, vulnerabilities = s.verdict.vulnerabilities.len(), took_ms = started.elapsed().as_millis() as u64, "image scanned");
                st.errors.remove(&image);
                if pinned_digest(&image).is_none() {
                    st.by_tag.insert(image.clone(), (s.digest.clone(), now));
                }
                if let Some(d) = pinned_digest(&image) {
                    // A pinned reference is cached under the digest it names.
                    if d != s.digest {
                        tracing::warn!(%image, scanned = %s.digest, "registry returned another digest than the reference pins");
                    }
                    st.by_digest.insert(
                        d.to_string(),
                        Verdict {
                            verdict: s.verdict.clone(),
                            at: now,
                        },
                    );
                }
                st.by_digest.insert(
                    s.digest,
                    Verdict {
                        verdict: s.verdict,
                        at: now,
                    },
                );
                evict(&mut st, shared.settings.max_entries);
            }
            Err(e) => {
                shared.stats.scan_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%image, error = %e, "image scan failed");
                st.errors.insert(image, (e, now));
            }
        }
        drop(st);
        shared.done.notify_all();
    }
}

fn evict(st: &mut State, max: usize) {
    while st.by_digest.len() > max.max(1) {
        let Some(oldest) = st
            .by_digest
            .iter()
            .min_by_key(|(_, v)| v.at)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        st.by_digest.remove(&oldest);
        st.by_tag.retain(|_, (d, _)| *d != oldest);
    }
    if st.by_tag.len() > max.max(1) * 2 {
        st.by_tag.clear();
    }
    if st.errors.len() > max.max(1) {
        st.errors.clear();
    }
}

impl VerdictSource for ScanCache {
    fn verdict(&self, image: &str) -> Result<Option<ImageVerdict>, VerdictError> {
        let s = &self.shared.settings;
        let err = |reason: String| VerdictError {
            image: image.to_string(),
            reason,
        };
        let start = Instant::now();
        let mut st = self.lock();
        if let Some((v, fresh)) = self.cached(&st, image, start) {
            self.shared.stats.hits.fetch_add(1, Ordering::Relaxed);
            if !fresh {
                // Stale: rescan in the background, serve the old verdict now.
                let _ = self.enqueue(&mut st, image);
            }
            return Ok(Some(v));
        }
        if let Some((e, at)) = st.errors.get(image) {
            if start.duration_since(*at) < s.error_ttl {
                return Err(err(format!("scan failed: {e}")));
            }
        }
        self.shared.stats.misses.fetch_add(1, Ordering::Relaxed);
        if !self.enqueue(&mut st, image) {
            self.shared.stats.queue_full.fetch_add(1, Ordering::Relaxed);
            return Err(err("scan queue full; not scanned yet".into()));
        }
        let deadline = start + s.budget;
        loop {
            let now = Instant::now();
            if let Some((v, _)) = self.cached(&st, image, now) {
                return Ok(Some(v));
            }
            if let Some((e, at)) = st.errors.get(image) {
                if *at >= start {
                    return Err(err(format!("scan failed: {e}")));
                }
            }
            if now >= deadline {
                self.shared
                    .stats
                    .budget_exceeded
                    .fetch_add(1, Ordering::Relaxed);
                return Err(err(format!(
                    "scan queued, not finished within {} ms",
                    s.budget.as_millis()
                )));
            }
            st = self
                .shared
                .done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Fake {
        calls: AtomicUsize,
        delay: Duration,
        digest: Mutex<String>,
    }

    impl ImageScanner for Fake {
        fn scan(&self, image: &str) -> Result<ScannedImage, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            if image.contains("broken") {
                return Err("manifest unknown".into());
            }
            Ok(ScannedImage {
                digest: self.digest.lock().unwrap().clone(),
                verdict: ImageVerdict {
                    scanned_at: time::OffsetDateTime::UNIX_EPOCH,
                    vulnerabilities: Vec::new(),
                    secrets: 0,
                    malware: 0,
                },
            })
        }
    }

    fn fake(delay_ms: u64) -> Arc<Fake> {
        Arc::new(Fake {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(delay_ms),
            digest: Mutex::new("sha256:aa".into()),
        })
    }

    #[test]
    fn miss_scans_within_budget_then_hits() {
        let f = fake(10);
        let c = ScanCache::start(f.clone(), CacheSettings::default());
        assert!(c.verdict("r/x:1").unwrap().is_some());
        assert!(c.verdict("r/x:1").unwrap().is_some());
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        // The same digest under another tag is another scan (the tag must be resolved).
        assert!(c.verdict("r/x:2").unwrap().is_some());
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
        assert_eq!(c.len(), 1, "one digest");
        assert_eq!(c.stats().hits.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn slow_scan_counts_as_unscanned_until_done() {
        let f = fake(300);
        let s = CacheSettings {
            budget: Duration::from_millis(20),
            ..CacheSettings::default()
        };
        let c = ScanCache::start(f.clone(), s);
        let e = c.verdict("r/slow:1").unwrap_err();
        assert!(e.reason.contains("not finished within 20 ms"), "{e}");
        // Asking again does not queue a second scan.
        assert!(c.verdict("r/slow:1").is_err());
        std::thread::sleep(Duration::from_millis(500));
        assert!(c.verdict("r/slow:1").unwrap().is_some());
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        assert_eq!(c.stats().budget_exceeded.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn failures_are_remembered_and_reported() {
        let f = fake(0);
        let c = ScanCache::start(f.clone(), CacheSettings::default());
        let e = c.verdict("r/broken:1").unwrap_err();
        assert_eq!(e.reason, "scan failed: manifest unknown");
        let _ = c.verdict("r/broken:1").unwrap_err();
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn expired_tags_and_verdicts_rescan_in_the_background() {
        let f = fake(0);
        let s = CacheSettings {
            tag_ttl: Duration::from_millis(30),
            ..CacheSettings::default()
        };
        let c = ScanCache::start(f.clone(), s);
        assert!(c.verdict("r/x:1").unwrap().is_some());
        *f.digest.lock().unwrap() = "sha256:bb".into();
        std::thread::sleep(Duration::from_millis(50));
        // Stale: served at once, rescan queued.
        assert!(c.verdict("r/x:1").unwrap().is_some());
        let start = Instant::now();
        while c.len() < 2 {
            assert!(start.elapsed() < Duration::from_secs(5), "rescan never ran");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn full_queue_is_reported_not_blocking() {
        let f = fake(200);
        let s = CacheSettings {
            budget: Duration::from_millis(1),
            queue: 1,
            ..CacheSettings::default()
        };
        let c = ScanCache::start(f, s);
        let mut full = 0;
        for i in 0..5 {
            if let Err(e) = c.verdict(&format!("r/q:{i}")) {
                full += usize::from(e.reason.contains("queue full"));
            }
        }
        assert!(full >= 2, "{full}");
        assert!(c.stats().queue_full.load(Ordering::Relaxed) >= 2);
    }

    #[test]
    fn digests_are_read_from_pinned_references() {
        assert_eq!(pinned_digest("r/x@sha256:ab"), Some("sha256:ab"));
        assert_eq!(pinned_digest("r/x:1"), None);
        assert_eq!(pinned_digest("r/x@latest"), None);
    }
}
