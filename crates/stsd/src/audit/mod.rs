//! The audit trail: every STS and IAM call becomes a CloudTrail-style event.
//!
//! The request path builds the event (sanitized: no secret, session token, TOTP code or assertion ever enters
//! it) and hands it to a bounded queue; a background writer drains the queue in batches into the store (one
//! transaction per batch: group commit) and, optionally, a JSON-lines file. A full queue blocks the caller —
//! back-pressure, never a dropped event. The server answers a request only once its event is stored
//! ([`Audit::acknowledged`]), so a node killed at any moment loses no event of a request it answered.
//! [`lookup`] serves CloudTrail's `LookupEvents` from the stored events.

pub mod event;
pub mod lookup;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::app::Clock;
use crate::store::{AuditRow, Store};

pub use event::{record_call, CallError, CallInfo};

/// Queue capacity (in requests; a cross-account AssumeRole is one request carrying two events).
pub const DEFAULT_CAPACITY: usize = 8192;
/// Most events written in one transaction.
pub const MAX_BATCH: usize = 4096;
/// Default retention of stored events.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// How often the writer purges events past retention.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

struct Settings {
    retention_days: u32,
    sink: Option<std::fs::File>,
}

struct Shared {
    enqueued: AtomicU64,
    persisted: Mutex<u64>,
    cv: Condvar,
    /// `persisted`, for async waiters (requests waiting for their event before they answer).
    durable: tokio::sync::watch::Sender<u64>,
    settings: Mutex<Settings>,
}

/// Handle to the audit writer. Dropping it lets the writer finish the queue and exit.
pub struct Audit {
    tx: SyncSender<Vec<AuditRow>>,
    shared: Arc<Shared>,
}

impl Audit {
    /// Start a writer over `store` with a queue of `capacity` requests.
    pub fn start(store: Arc<dyn Store>, clock: Clock, capacity: usize) -> Audit {
        let (tx, rx) = sync_channel(capacity.max(1));
        let shared = Arc::new(Shared {
            enqueued: AtomicU64::new(0),
            persisted: Mutex::new(0),
            cv: Condvar::new(),
            durable: tokio::sync::watch::Sender::new(0),
            settings: Mutex::new(Settings {
                retention_days: DEFAULT_RETENTION_DAYS,
                sink: None,
            }),
        });
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("stsd-audit".into())
            .spawn(move || writer(&*store, &clock, &rx, &sh));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the audit writer");
        }
        Audit { tx, shared }
    }

    /// Retention (days; 0 keeps events forever) and the optional JSON-lines sink.
    pub fn configure(&self, retention_days: u32, sink: Option<std::fs::File>) {
        if let Ok(mut s) = self.shared.settings.lock() {
            s.retention_days = retention_days;
            s.sink = sink;
        }
    }

    /// Queue the events of one request. Blocks while the queue is full (back-pressure).
    pub fn submit(&self, rows: Vec<AuditRow>) {
        if rows.is_empty() {
            return;
        }
        self.shared.enqueued.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(rows).is_err() {
            tracing::error!("audit writer is gone; event not recorded");
            // Count it as settled so flushes do not wait for it forever.
            if let Ok(mut p) = self.shared.persisted.lock() {
                *p += 1;
            }
        }
    }

    /// Wait (without blocking a thread) until every event queued so far — including the caller's own — is
    /// stored, or `timeout` passes. True when stored. Call after the request's event was submitted.
    pub async fn acknowledged(&self, timeout: Duration) -> bool {
        let target = self.shared.enqueued.load(Ordering::SeqCst);
        let mut rx = self.shared.durable.subscribe();
        let stored = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= target))
            .await
            .is_ok_and(|r| r.is_ok());
        stored
    }

    /// Requests whose events are queued but not yet stored.
    pub fn queue_depth(&self) -> u64 {
        let persisted = self.shared.persisted.lock().map_or(0, |p| *p);
        self.shared
            .enqueued
            .load(Ordering::SeqCst)
            .saturating_sub(persisted)
    }

    /// Wait until everything queued before this call is stored (or `timeout` passes). True when flushed.
    pub fn flush(&self, timeout: Duration) -> bool {
        let target = self.shared.enqueued.load(Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        let Ok(mut p) = self.shared.persisted.lock() else {
            return false;
        };
        while *p < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.shared.cv.wait_timeout(p, left) {
                Ok((g, _)) => p = g,
                Err(_) => return false,
            }
        }
        true
    }
}

fn purge(store: &dyn Store, clock: &Clock, shared: &Shared) {
    let days = shared.settings.lock().map_or(0, |s| s.retention_days);
    if days == 0 {
        return;
    }
    let cutoff = clock.now() - i64::from(days) * 86_400;
    match store.purge_audit(cutoff) {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "purged audit events past retention"),
        Err(e) => tracing::warn!(error = %e, "purging audit events failed"),
    }
}

/// The background writer: group whatever is queued into one transaction; retry a failed write (the queue
/// fills and callers wait) rather than lose it.
fn writer(store: &dyn Store, clock: &Clock, rx: &Receiver<Vec<AuditRow>>, shared: &Shared) {
    let mut last_purge = Instant::now();
    purge(store, clock, shared);
    loop {
        let first = match rx.recv_timeout(PURGE_EVERY) {
            Ok(rows) => rows,
            Err(RecvTimeoutError::Timeout) => {
                purge(store, clock, shared);
                last_purge = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = first;
        let mut requests = 1u64;
        // Group commit: take everything queued — one fsync covers many requests instead of one each. Requests
        // wait for their batch before they answer, so there is no lingering: under load the queue fills
        // while the previous batch commits.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => {
                    batch.extend(more);
                    requests += 1;
                }
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(10);
        while let Err(e) = store.append_audit(&batch) {
            tracing::error!(error = %e, events = batch.len(), "writing audit events failed; retrying");
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        if let Ok(mut s) = shared.settings.lock() {
            if let Some(f) = s.sink.as_mut() {
                let mut buf = Vec::new();
                for r in &batch {
                    buf.extend_from_slice(r.body.as_bytes());
                    buf.push(b'\n');
                }
                if let Err(e) = f.write_all(&buf).and_then(|()| f.flush()) {
                    tracing::warn!(error = %e, "writing the audit log file failed");
                }
            }
        }
        if let Ok(mut p) = shared.persisted.lock() {
            *p += requests;
            shared.durable.send_replace(*p);
        }
        shared.cv.notify_all();
        if last_purge.elapsed() >= PURGE_EVERY {
            purge(store, clock, shared);
            last_purge = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditQuery, Change, Feed, Snapshot, StoreError};
    use std::sync::atomic::AtomicBool;

    /// A store whose audit writes wait on a gate and are counted.
    #[derive(Default)]
    struct GatedStore {
        open: AtomicBool,
        rows: Mutex<Vec<AuditRow>>,
        writes: AtomicU64,
    }

    impl Store for GatedStore {
        fn load_all(&self) -> Result<Snapshot, StoreError> {
            Ok(Snapshot::default())
        }
        fn apply(&self, _: &[Change]) -> Result<i64, StoreError> {
            Ok(1)
        }
        fn changes_since(&self, _: i64) -> Result<Option<Feed>, StoreError> {
            Ok(None)
        }
        fn update_meta(
            &self,
            _: &str,
            _: &mut crate::store::MetaUpdate<'_>,
        ) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
        fn get_meta(&self, _: &str) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
        fn put_meta(&self, _: &str, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        fn claim_once(&self, _: &str, _: &str, _: i64, _: i64) -> Result<bool, StoreError> {
            Ok(true)
        }
        fn record_failure(
            &self,
            _: &str,
            _: i64,
            _: crate::store::FailurePolicy,
        ) -> Result<Option<i64>, StoreError> {
            Ok(None)
        }
        fn locked_until(&self, _: &str, _: i64) -> Result<Option<i64>, StoreError> {
            Ok(None)
        }
        fn clear_failures(&self, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
            while !self.open.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.rows.lock().unwrap().extend_from_slice(rows);
            Ok(())
        }
        fn query_audit(&self, _: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
            Ok(vec![])
        }
    }

    fn row(i: usize) -> AuditRow {
        AuditRow {
            event_id: format!("e{i}"),
            body: format!("{{\"i\":{i}}}"),
            ..AuditRow::default()
        }
    }

    #[test]
    fn writes_in_batches_without_loss() {
        let store = Arc::new(GatedStore::default());
        let audit = Arc::new(Audit::start(store.clone(), Clock::fixed(0), 10_000));
        for i in 0..2000 {
            audit.submit(vec![row(i)]);
        }
        store.open.store(true, Ordering::SeqCst);
        assert!(audit.flush(Duration::from_secs(10)));
        let rows = store.rows.lock().unwrap();
        assert_eq!(rows.len(), 2000);
        // Order preserved.
        assert!(rows
            .iter()
            .enumerate()
            .all(|(i, r)| r.event_id == format!("e{i}")));
        let writes = store.writes.load(Ordering::SeqCst);
        assert!(writes <= 10, "2000 queued events took {writes} writes");
    }

    #[test]
    fn full_queue_blocks_instead_of_dropping() {
        let store = Arc::new(GatedStore::default());
        let audit = Arc::new(Audit::start(store.clone(), Clock::fixed(0), 4));
        let done = Arc::new(AtomicU64::new(0));
        let (a, d) = (audit.clone(), done.clone());
        let producer = std::thread::spawn(move || {
            for i in 0..50 {
                a.submit(vec![row(i)]);
                d.fetch_add(1, Ordering::SeqCst);
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        let submitted = done.load(Ordering::SeqCst);
        // The writer holds one batch, the queue holds at most 4: the producer is blocked.
        assert!(submitted < 50, "producer was not blocked ({submitted})");
        store.open.store(true, Ordering::SeqCst);
        producer.join().unwrap();
        assert!(audit.flush(Duration::from_secs(10)));
        assert_eq!(store.rows.lock().unwrap().len(), 50);
    }

    #[test]
    fn sink_gets_one_line_per_event() {
        let store = Arc::new(GatedStore::default());
        store.open.store(true, Ordering::SeqCst);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::start(store, Clock::fixed(0), 16);
        audit.configure(90, Some(std::fs::File::create(&path).unwrap()));
        audit.submit(vec![row(1), row(2)]);
        audit.submit(vec![row(3)]);
        assert!(audit.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
    }
}
