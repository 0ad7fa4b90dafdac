//! The audit trail: every STS and IAM call becomes a CloudTrail-style event.
//!
//! The request path builds the event (sanitized: no secret, session token, TOTP code or assertion ever enters
//! it) and hands it to a bounded queue; one writer at a time takes the whole queue as a batch, compresses it as
//! one block ([`trail`]) and appends it to the store (group commit) and, optionally, a JSON-lines file. Under
//! load that writer is a background thread; a lone request on the embedded store appends its own events
//! ([`Audit::submit`]). A full queue blocks the caller — back-pressure, never a dropped event. The
//! server answers a request only once its event is stored ([`Audit::acknowledged`]), so a node killed at any
//! moment loses no event of a request it answered. [`lookup`] serves CloudTrail's `LookupEvents` ([`query`]).
//!
//! A maintenance thread exports events to files for log shippers ([`export`]), writes signed digests
//! ([`digest`]) and removes events past retention or beyond the size limit — only once they are exported,
//! never silently. [`verify`] checks the whole trail.

pub mod digest;
pub mod event;
pub mod export;
pub mod synth;
/// Reading the stored trail (`LookupEvents`, export): `stsd_core::trail_query`.
pub use stsd_core::trail_query as query;
pub mod verify;

pub use stsd_core::trail;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::node::Clock;
use crate::store::{AuditRow, Store, StoreError};

pub use event::{CallError, CallInfo, record_call};

/// Queued events not stored for this long make the store count as failing (requests waiting for their events
/// are answered, new ones refused with `ServiceUnavailable`) until the writer stores again.
pub const STALL_AFTER: Duration = Duration::from_secs(5);

/// How often the watchdog looks: a stall is declared between STALL_AFTER - WATCH_STEP and STALL_AFTER +
/// WATCH_STEP after the events came (it counts from the last look that saw nothing waiting).
const WATCH_STEP: Duration = Duration::from_millis(500);
/// Queue capacity (in requests; a cross-account AssumeRole is one request carrying two events).
pub const DEFAULT_CAPACITY: usize = 8192;
/// Most events written in one transaction.
pub const MAX_BATCH: usize = 4096;
/// The longest the writer holds a group open for requests still being processed (see [`Audit::pending`]).
const MAX_LINGER: Duration = Duration::from_millis(1);
/// How long the writer sleeps between looks at the queue while it holds a group open.
const LINGER_STEP: Duration = Duration::from_micros(150);
/// Default retention of stored events.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Default export and digest period.
pub const DEFAULT_INTERVAL_SECS: u64 = 3600;
/// How often maintenance checks retention and size, by default.
pub const DEFAULT_CHECK_SECS: u64 = 60;
/// Groups removed per purge transaction (bounded work between appends).
const PURGE_GROUPS: i64 = 128;
/// A purge for size goes down to this share of the limit, so it does not run again at the next event.
const SIZE_LOW_WATER: f64 = 0.9;

/// How the trail is kept: retention, size limit, export, digests.
#[derive(Default)]
pub struct Settings {
    /// Days to keep events (0: forever).
    pub retention_days: u32,
    /// Bytes the stored trail may occupy (0: no limit).
    pub max_bytes: u64,
    /// Export files here every `export_interval` (none: no periodic export).
    pub export_dir: Option<PathBuf>,
    pub export_interval: Duration,
    /// Where events removed by retention or the size limit are exported first when `export_dir` is unset.
    pub archive_dir: Option<PathBuf>,
    /// Sign a digest every `digest_interval` with this key (none: no digests).
    pub signer: Option<Arc<digest::Signer>>,
    pub digest_interval: Duration,
    /// How often retention and the size limit are checked (zero: every minute).
    pub check_interval: Duration,
    /// The account and region digests are filed under.
    pub account: String,
    pub region: String,
    /// Also append every event to this file as JSON lines.
    pub sink: Option<std::fs::File>,
}

/// Counters of what maintenance did (for `/metrics`).
#[derive(Debug, Default)]
pub struct Stats {
    pub purged_for_age: AtomicU64,
    pub purged_for_size: AtomicU64,
    pub exported_events: AtomicU64,
    pub export_files: AtomicU64,
    pub digests: AtomicU64,
    pub failures: AtomicU64,
    pub stored_bytes: AtomicU64,
    /// Group commits of the writer, and the events they stored (their ratio is the mean group size).
    pub commits: AtomicU64,
    pub committed_events: AtomicU64,
    /// How long each group commit took in the store (every answer in the group waited for it).
    pub commit_durations: crate::metrics::LatencyHistogram,
}

/// A reading of [`Stats`] at one moment.
pub use stsd_core::trail::StatsSnapshot;

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            purged_for_age: get(&self.purged_for_age),
            purged_for_size: get(&self.purged_for_size),
            exported_events: get(&self.exported_events),
            export_files: get(&self.export_files),
            digests: get(&self.digests),
            failures: get(&self.failures),
            stored_bytes: get(&self.stored_bytes),
            commits: get(&self.commits),
            committed_events: get(&self.committed_events),
        }
    }
}

struct Shared {
    /// Tickets handed out: requests ever queued (a mirror of `Queue::issued` readable without the lock).
    enqueued: AtomicU64,
    /// Requests being processed that have not queued their events yet ([`Audit::pending`]).
    in_flight: AtomicU64,
    /// Tickets whose events are stored: always every ticket up to this one (batches are taken and stored in
    /// ticket order, one writer at a time).
    persisted: Mutex<u64>,
    cv: Condvar,
    /// Threads waiting on `cv` ([`Audit::flush`]); changed and read under `persisted`'s lock. A notify is a
    /// system call even with nobody waiting, and batches are stored thousands of times a second.
    flushers: AtomicU64,
    /// `persisted`, for async waiters (requests waiting for their event before they answer).
    durable: tokio::sync::watch::Sender<u64>,
    /// True while the store refuses events (e.g. the disk is full); cleared by the next write that succeeds.
    failing: tokio::sync::watch::Sender<bool>,
    queue: Mutex<Queue>,
    /// Wakes the writer thread: events wait and nobody is writing them, or the handle was dropped.
    wake: Condvar,
    /// Wakes submitters blocked on a full queue.
    space: Condvar,
    /// Most requests the queue holds before a submitter waits (back-pressure).
    capacity: u64,
    /// The store appends in microseconds on this machine (see [`Store::audit_append_is_local`]): an idle
    /// trail is written by the submitting request's own thread.
    inline: bool,
    /// The block compressor; held by whoever writes (never contended: one writer at a time).
    codec: Mutex<trail::Codec>,
    sink: Mutex<Option<std::fs::File>>,
    has_sink: AtomicBool,
    stats: Stats,
    stop: AtomicBool,
}

/// Events waiting to be written, and who writes.
#[derive(Default)]
struct Queue {
    rows: Vec<AuditRow>,
    /// Submitters waiting for room.
    blocked: u64,
    /// The writer thread waits for work.
    writer_idle: bool,
    /// Requests whose events are in `rows`.
    requests: u64,
    /// Tickets handed out so far (the last queued request's ticket).
    issued: u64,
    /// A batch taken from here is being written (by the writer thread or a request's thread): others queue
    /// behind it, so batches reach the store in ticket order.
    writing: bool,
    /// Requests write their own batches only from this moment on: pushed forward whenever a batch had others
    /// queue behind it or grouped several requests — a sign of load, under which the writer thread's bigger
    /// blocks cost less per event than many one-event blocks written by the requests.
    own_writes_from: Option<Instant>,
}

/// How long a sign of load keeps requests from writing their own batches.
const LOADED_FOR: Duration = Duration::from_millis(20);

impl Queue {
    /// Take everything queued: the rows, how many requests they are, and the ticket they reach.
    fn take(&mut self, sh: &Shared) -> (Vec<AuditRow>, u64, u64) {
        if self.blocked > 0 {
            sh.space.notify_all();
        }
        let requests = std::mem::take(&mut self.requests);
        (std::mem::take(&mut self.rows), requests, self.issued)
    }
}

/// Wake the writer thread if it waits for work (a condvar notify is a system call even with no waiter).
fn wake_writer(sh: &Shared, q: &Queue) {
    if q.writer_idle {
        sh.wake.notify_one();
    }
}

/// The batch as blocks for the store.
fn encode(sh: &Shared, batch: &[AuditRow]) -> Result<Vec<trail::Encoded>, StoreError> {
    let mut codec = sh
        .codec
        .lock()
        .map_err(|_| StoreError::Backend("the audit codec is poisoned".into()))?;
    Ok(codec.encode(batch))
}

/// Account for a batch the store refused: it is kept and retried, and until then the store counts as failing
/// (new requests are refused rather than acted on unrecorded).
fn failed(sh: &Shared, e: &StoreError, events: usize) {
    tracing::error!(error = %e, events, "writing audit events failed; retrying");
    sh.stats.failures.fetch_add(1, Ordering::Relaxed);
    sh.failing.send_replace(true);
}

/// Account for a stored batch: counters, the JSON-lines sink, and the tickets now durable (waking the
/// requests waiting for them).
fn stored(sh: &Shared, batch: &[AuditRow], upto: u64) {
    sh.stats.commits.fetch_add(1, Ordering::Relaxed);
    sh.stats
        .committed_events
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    if *sh.failing.borrow() {
        tracing::info!("the store takes audit events again");
        sh.failing.send_replace(false);
    }
    if sh.has_sink.load(Ordering::Relaxed)
        && let Ok(mut s) = sh.sink.lock()
        && let Some(f) = s.as_mut()
    {
        let mut buf = Vec::new();
        for row in batch {
            buf.extend_from_slice(row.body.as_bytes());
            buf.push(b'\n');
        }
        if let Err(e) = f.write_all(&buf).and_then(|()| f.flush()) {
            tracing::warn!(error = %e, "writing the audit log file failed");
        }
    }
    if let Ok(mut p) = sh.persisted.lock() {
        *p = (*p).max(upto);
        sh.durable.send_replace(*p);
        if sh.flushers.load(Ordering::SeqCst) > 0 {
            sh.cv.notify_all();
        }
    }
}

/// Handle to the audit writer. Dropping it lets the writer finish the queue and exit.
pub struct Audit {
    recording: bool,
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    clock: Clock,
}

impl Audit {
    /// Start a writer over `store` with a queue of `capacity` requests.
    pub fn start(store: Arc<dyn Store>, clock: Clock, capacity: usize) -> Audit {
        let shared = Arc::new(Shared {
            enqueued: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            persisted: Mutex::new(0),
            cv: Condvar::new(),
            flushers: AtomicU64::new(0),
            durable: tokio::sync::watch::Sender::new(0),
            failing: tokio::sync::watch::Sender::new(false),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            space: Condvar::new(),
            capacity: capacity.max(1) as u64,
            inline: store.audit_append_is_local(),
            codec: Mutex::new(trail::Codec::new()),
            sink: Mutex::new(None),
            has_sink: AtomicBool::new(false),
            stats: Stats::default(),
            stop: AtomicBool::new(false),
        });
        let (sh, st) = (shared.clone(), store.clone());
        let spawned = std::thread::Builder::new()
            .name("stsd-audit".into())
            .spawn(move || writer(&*st, &sh));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the audit writer");
        }
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("stsd-audit-watch".into())
            .spawn(move || watchdog(&sh));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the audit watchdog");
        }
        Audit {
            recording: true,
            shared,
            store,
            clock,
        }
    }

    /// Recording switched off: nothing is built, queued or stored. For measuring what recording costs
    /// (`serve --audit-disabled-for-benchmarks`); never for production.
    pub fn disabled(store: Arc<dyn Store>, clock: Clock) -> Audit {
        let mut a = Audit::start(store, clock, 1);
        a.recording = false;
        a
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Start maintenance (export, digests, retention, size limit) with `settings`.
    pub fn configure(&self, mut settings: Settings) {
        if let Ok(mut s) = self.shared.sink.lock() {
            *s = settings.sink.take();
            self.shared.has_sink.store(s.is_some(), Ordering::Relaxed);
        }
        if let Some(dir) = settings.export_dir.as_deref()
            && let Err(e) = export::recover(&*self.store, dir)
        {
            tracing::warn!(error = %e, "finishing interrupted audit exports failed");
        }
        let (store, clock, shared) = (self.store.clone(), self.clock.clone(), self.shared.clone());
        let spawned = std::thread::Builder::new()
            .name("stsd-audit-maintenance".into())
            .spawn(move || maintain(&*store, &clock, &shared, &settings));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start audit maintenance");
        }
    }

    /// Queue the events of one request. Blocks while the queue is full (back-pressure). Each batch is
    /// compressed as one block ([`trail`]): events written together share most of their text.
    ///
    /// Who writes: when nobody is writing and the store appends locally (the embedded store's journal), this
    /// thread writes the queue itself, at once — a lone request then waits for no other thread (handing its
    /// events to the writer thread and being woken back cost two thread wake-ups, ~0.1 ms of a lone
    /// AssumeRole's 0.3). Otherwise — another request in flight, or a sign of load in the last `LOADED_FOR`
    /// (events queued behind a batch, a batch of several requests): many one-event blocks cost more than the
    /// writer thread's bigger ones — and for whatever queues while a batch is being written, the writer thread
    /// does (grouping requests still being processed, see [`Audit::pending`]).
    pub fn submit(&self, rows: Vec<AuditRow>) {
        if !self.recording || rows.is_empty() {
            return;
        }
        // This request is no longer one the writer should wait for: its events are on their way.
        settle_pending(&self.shared);
        let sh = &*self.shared;
        let Ok(mut q) = sh.queue.lock() else {
            tracing::error!("audit queue is poisoned; event not recorded");
            return;
        };
        while q.requests >= sh.capacity && !sh.stop.load(Ordering::SeqCst) {
            q.blocked += 1;
            let waited = sh.space.wait(q);
            q = match waited {
                Ok(g) => g,
                Err(_) => return,
            };
            q.blocked -= 1;
        }
        q.rows.extend(rows);
        q.requests += 1;
        q.issued += 1;
        sh.enqueued.store(q.issued, Ordering::SeqCst);
        if q.writing {
            // The batch being written ends with a look at the queue: these events are next.
            return;
        }
        // Under load (other requests being processed) the writer thread groups them into one block; a lone
        // request writes its own.
        if !sh.inline
            || sh.in_flight.load(Ordering::SeqCst) > 0
            || q.own_writes_from.is_some_and(|t| Instant::now() < t)
            || *sh.failing.borrow()
        {
            // The writer thread writes (and, after a failure, retries with back-off).
            wake_writer(sh, &q);
            return;
        }
        q.writing = true;
        let (batch, requests, upto) = q.take(sh);
        drop(q);
        let written = encode(sh, &batch).and_then(|encoded| {
            sh.stats
                .commit_durations
                .time(|| self.store.audit_append(&encoded))
        });
        match &written {
            Ok(_) => stored(sh, &batch, upto),
            Err(e) => failed(sh, e, batch.len()),
        }
        let Ok(mut q) = sh.queue.lock() else { return };
        q.writing = false;
        if written.is_err() {
            // Back in front of what queued meanwhile, for the writer thread to retry.
            let later = std::mem::replace(&mut q.rows, batch);
            q.rows.extend(later);
            q.requests += requests;
        }
        if !q.rows.is_empty() {
            q.own_writes_from = Some(Instant::now() + LOADED_FOR);
            wake_writer(sh, &q);
        }
    }

    /// Mark a request as being processed until the guard drops (after its events were submitted). The writer
    /// holds a group open while such requests exist — for at most [`MAX_LINGER`] — so that under load one
    /// commit stores many requests' events instead of a few; with no other request in flight (a lone client)
    /// it commits at once.
    /// The request counts as in flight until it submits its events (or, if it submits none, until the guard
    /// drops): `process` runs on one thread without yielding, so the thread's own count ties the two.
    pub fn pending(&self) -> Pending<'_> {
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        PENDING_HERE.set(PENDING_HERE.get() + 1);
        Pending(&self.shared)
    }

    /// Wait (without blocking a thread) until every event queued so far — including the caller's own — is
    /// stored, or the store is failing: refusing events, or making no progress for [`STALL_AFTER`] (the
    /// watchdog's verdict — one shared check instead of a timer per request, which was ~1 % of an
    /// AssumeRole's CPU). True when stored. Call after the request's event was submitted.
    pub async fn acknowledged(&self) -> bool {
        let target = self.shared.enqueued.load(Ordering::SeqCst);
        let mut stored = self.shared.durable.subscribe();
        let mut failing = self.shared.failing.subscribe();
        tokio::select! {
            r = stored.wait_for(|p| *p >= target) => r.is_ok(),
            _ = failing.wait_for(|f| *f) => *self.shared.durable.borrow() >= target,
        }
    }

    /// Whether the store is refusing audit events right now (the server then refuses new requests, see
    /// `server::handle`, rather than act without a record).
    pub fn is_failing(&self) -> bool {
        *self.shared.failing.borrow()
    }

    /// Requests whose events are queued but not yet stored.
    pub fn queue_depth(&self) -> u64 {
        let persisted = self.shared.persisted.lock().map_or(0, |p| *p);
        self.shared
            .enqueued
            .load(Ordering::SeqCst)
            .saturating_sub(persisted)
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
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
            self.shared.flushers.fetch_add(1, Ordering::SeqCst);
            let waited = self.shared.cv.wait_timeout(p, left);
            match waited {
                Ok((g, _)) => p = g,
                Err(_) => return false,
            }
            self.shared.flushers.fetch_sub(1, Ordering::SeqCst);
        }
        true
    }
}

/// See [`Audit::pending`].
pub struct Pending<'a>(&'a Shared);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        settle_pending(self.0);
    }
}

/// End one of this thread's in-flight requests, if it has one not yet ended.
fn settle_pending(shared: &Shared) {
    let here = PENDING_HERE.get();
    if here > 0 {
        PENDING_HERE.set(here - 1);
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        // Under the queue's lock: the writer checks `stop` under it before it waits.
        let q = self.shared.queue.lock();
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        self.shared.space.notify_all();
        drop(q);
    }
}

thread_local! {
    /// In-flight requests ([`Audit::pending`]) on this thread that have not submitted their events yet.
    static PENDING_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Declare the store failing when queued events have not been stored for [`STALL_AFTER`] (a write that hangs
/// rather than fails: the writer cannot say so itself). The writer's next successful write clears it.
fn watchdog(shared: &Shared) {
    let step = WATCH_STEP;
    let mut last = 0u64;
    let mut since = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        let persisted = shared.persisted.lock().map_or(0, |p| *p);
        let waiting = shared.enqueued.load(Ordering::SeqCst) > persisted;
        if !waiting || persisted != last {
            last = persisted;
            since = Instant::now();
        } else if since.elapsed() >= STALL_AFTER && !*shared.failing.borrow() {
            tracing::error!(
                seconds = since.elapsed().as_secs(),
                "the audit store has stored no event for a while; answering without waiting for it"
            );
            shared.failing.send_replace(true);
        }
    }
}

/// The writer thread: writes what queues while nobody else is writing (on a store that is not local, always;
/// on a local one, what queued behind a batch being written, and retries after failures). It groups: while
/// other requests are still being processed (they will queue their events within microseconds) it waits for
/// them up to MAX_LINGER — one block then covers many requests. It retries a failed write (the queue fills
/// and callers wait) rather than lose it.
fn writer(store: &dyn Store, sh: &Shared) {
    loop {
        let Ok(mut q) = sh.queue.lock() else { return };
        while q.rows.is_empty() || q.writing {
            if q.rows.is_empty() && sh.stop.load(Ordering::SeqCst) {
                return;
            }
            q.writer_idle = true;
            let waited = sh.wake.wait_timeout(q, Duration::from_secs(1));
            q = match waited {
                Ok((g, _)) => g,
                Err(_) => return,
            };
            q.writer_idle = false;
        }
        q.writing = true;
        let (mut batch, mut requests, mut upto) = q.take(sh);
        drop(q);
        // The writer sleeps rather than waits on the queue meanwhile: a request queueing wakes nobody.
        let opened = Instant::now();
        while batch.len() < MAX_BATCH {
            let left = MAX_LINGER.saturating_sub(opened.elapsed());
            if left.is_zero() || sh.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            std::thread::sleep(left.min(LINGER_STEP));
            if let Ok(mut q) = sh.queue.lock() {
                let (more, n, reached) = q.take(sh);
                batch.extend(more);
                requests += n;
                upto = reached;
            }
        }
        let mut backoff = Duration::from_millis(10);
        loop {
            match encode(sh, &batch).and_then(|encoded| {
                sh.stats
                    .commit_durations
                    .time(|| store.audit_append(&encoded))
            }) {
                Ok(_) => break,
                Err(e) => {
                    failed(sh, &e, batch.len());
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        stored(sh, &batch, upto);
        if let Ok(mut q) = sh.queue.lock() {
            q.writing = false;
            if requests > 1 {
                q.own_writes_from = Some(Instant::now() + LOADED_FOR);
            }
        }
    }
}

/// Copy a whole trail — records with their chain hashes, export records and digests — into an empty one, so
/// that `verify` holds on the copy exactly as on the original. Returns the events copied.
pub fn copy_trail(src: &dyn Store, dst: &dyn Store) -> Result<i64, StoreError> {
    use crate::store::Appended;
    let head = src.audit_head()?;
    if dst.audit_head()?.next_seq != 1 {
        return Err(StoreError::Conflict(
            "the destination already has audit events".into(),
        ));
    }
    let mut codec = trail::Codec::new();
    let mut at = head.first_seq;
    let (mut last_hash, mut max_time) = (head.base_hash.clone(), 0);
    while at < head.next_seq {
        let blocks = src.audit_blocks(at, (at + 4095).min(head.next_seq - 1))?;
        let Some(last) = blocks.last() else { break };
        let mut spans: Vec<crate::store::GroupSpan> = Vec::new();
        let mut keys = Vec::new();
        for b in &blocks {
            let rows = codec.decode(b).map_err(|c| b.corrupt(&c))?;
            for row in rows {
                let g = trail::group_of(row.seq);
                max_time = max_time.max(row.event_time);
                trail::widen_spans(&mut spans, g, row.event_time, max_time);
                keys.extend(trail::keys_of(&row).into_iter().map(|k| (k, g)));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        last_hash.clone_from(&last.hash);
        at = last.last() + 1;
        dst.audit_import(&Appended {
            spans,
            keys,
            head: crate::store::AuditHead {
                next_seq: at,
                last_hash: last_hash.clone(),
                max_time,
                ..head.clone()
            },
            blocks,
        })?;
    }
    if at == head.first_seq {
        // Nothing stored (all exported and removed): still carry the head over.
        dst.audit_import(&Appended {
            head: head.clone(),
            ..Appended::default()
        })?;
    }
    let exports = src.audit_exports()?;
    if !exports.is_empty() {
        dst.audit_claim_export(0, head.exported_through, &exports)?;
    }
    let mut previous = None;
    for d in src.audit_digests()? {
        dst.audit_add_digest(&d, previous)?;
        previous = Some(d.end_time);
    }
    Ok(head.next_seq - head.first_seq)
}

/// Why a maintenance step failed.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(
        "events must be exported before they are removed, but no export directory is configured"
    )]
    NoArchive,
}

/// The maintenance thread: exports and digests at period ends, retention and size checks every minute.
fn maintain(store: &dyn Store, clock: &Clock, shared: &Shared, s: &Settings) {
    let export_every = i64::try_from(s.export_interval.as_secs().max(1)).unwrap_or(3600);
    let digest_every = i64::try_from(s.digest_interval.as_secs().max(1)).unwrap_or(3600);
    let check = if s.check_interval.is_zero() {
        Duration::from_secs(DEFAULT_CHECK_SECS)
    } else {
        s.check_interval
    };
    let tick = s.export_interval.min(s.digest_interval).min(check).clamp(
        Duration::from_millis(200),
        check.max(Duration::from_millis(200)),
    );
    let mut last_export = digest::period_end(clock.now(), export_every);
    let mut last_digest = digest::period_end(clock.now(), digest_every);
    let mut last_purge: Option<Instant> = None;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = clock.now();
        let export_due =
            s.export_dir.is_some() && digest::period_end(now, export_every) > last_export;
        let digest_due = s.signer.is_some() && digest::period_end(now, digest_every) > last_digest;
        let mut failed = false;
        if export_due || (digest_due && s.export_dir.is_some()) {
            match export_now(store, s.export_dir.as_deref(), None, now, shared) {
                Ok(()) => last_export = digest::period_end(now, export_every),
                Err(e) => {
                    tracing::error!(error = %e, "exporting audit events failed; will retry");
                    failed = true;
                }
            }
        }
        if digest_due
            && !failed
            && let Some(signer) = &s.signer
        {
            let end = digest::period_end(now, digest_every);
            match digest::write(
                store,
                signer,
                &s.account,
                &s.region,
                end,
                digest_every,
                s.export_dir.as_deref(),
            ) {
                Ok(written) => {
                    last_digest = end;
                    if written.is_some() {
                        shared.stats.digests.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "writing the audit digest failed; will retry");
                    failed = true;
                }
            }
        }
        if last_purge.is_none_or(|t| t.elapsed() >= check) {
            match purge(store, s, now, shared) {
                Ok(()) => last_purge = Some(Instant::now()),
                Err(e) => {
                    tracing::error!(error = %e, "removing old audit events failed; will retry");
                    failed = true;
                }
            }
        }
        if failed {
            shared.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(tick);
    }
}

fn export_now(
    store: &dyn Store,
    dir: Option<&std::path::Path>,
    through: Option<i64>,
    now: i64,
    shared: &Shared,
) -> Result<(), MaintenanceError> {
    let dir = dir.ok_or(MaintenanceError::NoArchive)?;
    let done = export::export(store, dir, through, now)?;
    if done.events > 0 {
        tracing::info!(events = done.events, files = done.files, dir = %dir.display(), "exported audit events");
        shared
            .stats
            .exported_events
            .fetch_add(u64::try_from(done.events).unwrap_or(0), Ordering::Relaxed);
        shared
            .stats
            .export_files
            .fetch_add(u64::try_from(done.files).unwrap_or(0), Ordering::Relaxed);
    }
    Ok(())
}

/// Remove events past retention and beyond the size limit, oldest first, whole groups at a time — each only
/// after it is exported.
fn purge(
    store: &dyn Store,
    s: &Settings,
    now: i64,
    shared: &Shared,
) -> Result<(), MaintenanceError> {
    let head = store.audit_head()?;
    let bytes = store.audit_bytes()?;
    shared.stats.stored_bytes.store(bytes, Ordering::Relaxed);
    let stored = head.next_seq - head.first_seq;
    if stored <= 0 {
        return Ok(());
    }
    // By age: the leading groups whose newest event is older than the cutoff.
    let mut by_age = head.first_seq - 1;
    if s.retention_days > 0 {
        let cutoff = now - i64::from(s.retention_days) * 86_400;
        let (mut g, last) = (
            trail::group_of(head.first_seq),
            trail::group_of(head.next_seq - 1),
        );
        'scan: while g <= last {
            let spans = store.audit_spans(g, (g + 1023).min(last))?;
            if spans.is_empty() {
                break;
            }
            for span in spans {
                if span.time_hi >= cutoff {
                    break 'scan;
                }
                by_age = trail::group_bounds(span.grp).1.min(head.next_seq - 1);
                g = span.grp + 1;
            }
        }
    }
    // By size: enough of the oldest events to go below the low-water mark (estimated from the average size).
    let mut by_size = head.first_seq - 1;
    if s.max_bytes > 0 && bytes > s.max_bytes {
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "an estimate in bytes: a float product of a positive size and a fraction below 1"
        )]
        let excess = bytes.saturating_sub((s.max_bytes as f64 * SIZE_LOW_WATER) as u64);
        let per_event = (bytes / u64::try_from(stored).unwrap_or(1)).max(1);
        let n = i64::try_from(excess.div_ceil(per_event))
            .unwrap_or(i64::MAX)
            .min(stored);
        by_size = trail::group_bounds(trail::group_of(head.first_seq + n - 1))
            .1
            .min(head.next_seq - 1);
    }
    let through = by_age.max(by_size);
    if through < head.first_seq {
        return Ok(());
    }
    if head.exported_through < through {
        let dir = s.export_dir.as_deref().or(s.archive_dir.as_deref());
        export_now(store, dir, Some(through), now, shared)?;
    }
    let mut codec = trail::Codec::new();
    let mut from = head.first_seq;
    let mut purged_through = from - 1;
    while from <= through {
        let to = trail::group_bounds(trail::group_of(from) + PURGE_GROUPS - 1)
            .1
            .min(through);
        // Whole blocks only: one that reaches past `to` stays (with the events before `to` in it) for now.
        let mut blocks = store.audit_blocks(from, to)?;
        blocks.retain(|b| b.last() <= to);
        let Some(last) = blocks.last() else { break };
        let (end, base) = (last.last(), last.hash.clone());
        let mut keys = Vec::new();
        for b in &blocks {
            match codec.decode(b) {
                Ok(rows) => keys.extend(rows.iter().flat_map(|row| {
                    trail::keys_of(row)
                        .into_iter()
                        .map(|k| (k, trail::group_of(row.seq)))
                })),
                // An undecodable block has no keys to remove; its groups' entries stay (harmless).
                Err(c) => {
                    tracing::warn!(seq = b.seq, error = %c, "removing an undecodable audit block")
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        store.audit_purge(end, &base, &keys)?;
        let n = u64::try_from(end - from + 1).unwrap_or(0);
        if end <= by_age {
            shared.stats.purged_for_age.fetch_add(n, Ordering::Relaxed);
        } else {
            shared.stats.purged_for_size.fetch_add(n, Ordering::Relaxed);
        }
        purged_through = end;
        from = end + 1;
    }
    if purged_through < head.first_seq {
        return Ok(());
    }
    let reason = if through <= by_age {
        "retention"
    } else {
        "size limit"
    };
    tracing::info!(
        events = purged_through - head.first_seq + 1,
        through = purged_through,
        reason,
        "removed exported audit events from the store"
    );
    shared
        .stats
        .stored_bytes
        .store(store.audit_bytes()?, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Change, Feed, Snapshot, StoreError};
    use std::sync::atomic::AtomicBool;

    /// A store whose audit writes wait on a gate and are counted.
    #[derive(Default)]
    struct GatedStore {
        open: AtomicBool,
        rows: Mutex<Vec<AuditRow>>,
        writes: AtomicU64,
        /// Claims appends are local (as the embedded store's journal does).
        local: bool,
        /// Appends still to fail.
        fail: AtomicU64,
        /// The threads that appended.
        appenders: Mutex<std::collections::HashSet<std::thread::ThreadId>>,
    }

    impl GatedStore {
        fn local() -> GatedStore {
            GatedStore {
                open: AtomicBool::new(true),
                local: true,
                ..GatedStore::default()
            }
        }

        fn ids(&self) -> Vec<String> {
            self.rows
                .lock()
                .unwrap()
                .iter()
                .map(|r| r.event_id.clone())
                .collect()
        }
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
        fn audit_append(
            &self,
            batch: &[trail::Encoded],
        ) -> Result<crate::store::AuditHead, StoreError> {
            while !self.open.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
            }
            if self
                .fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
                .is_ok()
            {
                return Err(StoreError::Backend("disk full".into()));
            }
            self.appenders
                .lock()
                .unwrap()
                .insert(std::thread::current().id());
            self.writes.fetch_add(1, Ordering::SeqCst);
            let mut codec = trail::Codec::new();
            let mut rows = self.rows.lock().unwrap();
            for e in batch {
                let b = crate::store::StoredBlock {
                    seq: 1,
                    count: i64::try_from(e.events.len()).unwrap(),
                    hash: Vec::new(),
                    data: e.data.clone(),
                };
                rows.extend(codec.decode(&b).unwrap());
            }
            Ok(crate::store::AuditHead::default())
        }
        fn audit_append_is_local(&self) -> bool {
            self.local
        }
        fn audit_head(&self) -> Result<crate::store::AuditHead, StoreError> {
            Ok(crate::store::AuditHead::default())
        }
        fn audit_bytes(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    /// Wait until the writer thread lets go of the queue: it stores a batch (so `flush` returns) just before.
    fn let_go(audit: &Audit) {
        while audit.shared.queue.lock().unwrap().writing {
            std::thread::sleep(Duration::from_millis(1));
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
        assert!(
            rows.iter()
                .enumerate()
                .all(|(i, r)| r.event_id == format!("e{i}"))
        );
        let writes = store.writes.load(Ordering::SeqCst);
        assert!(writes <= 10, "2000 queued events took {writes} writes");
    }

    /// A store that hangs (rather than fails) stalls the writer: after STALL_AFTER the watchdog declares the store
    /// failing, so a waiting request is answered and new ones are refused, until the writer stores again.
    #[test]
    fn a_hanging_store_is_declared_failing_and_recovers() {
        let store = Arc::new(GatedStore::default());
        let audit = Arc::new(Audit::start(store.clone(), Clock::fixed(0), 100));
        audit.submit(vec![row(0)]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        assert!(!rt.block_on(audit.acknowledged()), "answered as stored");
        let waited = started.elapsed();
        assert!(
            waited >= STALL_AFTER - WATCH_STEP && waited < STALL_AFTER + Duration::from_secs(2),
            "{waited:?}"
        );
        assert!(audit.is_failing());
        store.open.store(true, Ordering::SeqCst);
        assert!(audit.flush(Duration::from_secs(5)));
        let cleared = Instant::now();
        while audit.is_failing() && cleared.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !audit.is_failing(),
            "still failing after the store took the event"
        );
        audit.submit(vec![row(1)]);
        assert!(rt.block_on(audit.acknowledged()));
    }

    #[test]
    fn requests_in_flight_hold_a_group_open_only_briefly() {
        let store = Arc::new(GatedStore::default());
        store.open.store(true, Ordering::SeqCst);
        let audit = Arc::new(Audit::start(store.clone(), Clock::fixed(0), 10_000));
        // Another request is being processed and never finishes: the writer must still commit (after at most
        // MAX_LINGER), not wait for it.
        let (release, stuck_until) = std::sync::mpsc::channel::<()>();
        let (held, is_held) = std::sync::mpsc::channel::<()>();
        let a2 = audit.clone();
        let stuck = std::thread::spawn(move || {
            let _stuck = a2.pending();
            held.send(()).unwrap();
            let _ = stuck_until.recv();
        });
        is_held.recv().unwrap();
        let started = Instant::now();
        audit.submit(vec![row(0)]);
        assert!(audit.flush(Duration::from_secs(5)));
        assert!(started.elapsed() < Duration::from_secs(1));
        // Events queued by requests that finish while the group is open join it.
        let waiting: Vec<_> = (1..=8).map(|_| audit.pending()).collect();
        let before = store.writes.load(Ordering::SeqCst);
        for (i, p) in waiting.into_iter().enumerate() {
            audit.submit(vec![row(i + 1)]);
            drop(p);
        }
        assert!(audit.flush(Duration::from_secs(5)));
        assert_eq!(store.rows.lock().unwrap().len(), 9);
        assert!(store.writes.load(Ordering::SeqCst) > before);
        release.send(()).unwrap();
        stuck.join().unwrap();
        assert_eq!(audit.shared.in_flight.load(Ordering::SeqCst), 0);
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

    /// On a local store a lone request appends its own events: stored when `submit` returns, by its own
    /// thread (no hand-off to the writer thread and back).
    #[test]
    fn a_lone_request_appends_its_own_events_on_a_local_store() {
        let store = Arc::new(GatedStore::local());
        let audit = Audit::start(store.clone(), Clock::fixed(0), 100);
        let p = audit.pending();
        audit.submit(vec![row(0), row(1)]);
        drop(p);
        assert_eq!(store.ids(), ["e0", "e1"]);
        assert_eq!(audit.queue_depth(), 0);
        let me = std::thread::current().id();
        assert_eq!(*store.appenders.lock().unwrap(), [me].into());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(audit.acknowledged()));
        // With another request in flight the writer thread groups them instead.
        let other = audit.pending();
        let submitter = std::thread::scope(|s| {
            s.spawn(|| {
                let _mine = audit.pending();
                audit.submit(vec![row(2)]);
                std::thread::current().id()
            })
            .join()
        })
        .unwrap();
        drop(other);
        assert!(audit.flush(Duration::from_secs(5)));
        assert_eq!(store.ids(), ["e0", "e1", "e2"]);
        let appenders = store.appenders.lock().unwrap();
        assert_eq!(appenders.len(), 2, "this thread and the writer thread");
        assert!(!appenders.contains(&submitter));
    }

    /// Events queued behind a batch being written are a sign of load: for LOADED_FOR the writer thread writes
    /// (bigger blocks), then a lone request writes its own again.
    #[test]
    fn under_load_requests_leave_writing_to_the_writer_thread() {
        let store = Arc::new(GatedStore::local());
        store.open.store(false, Ordering::SeqCst);
        let audit = Arc::new(Audit::start(store.clone(), Clock::fixed(0), 100));
        let a = audit.clone();
        let first = std::thread::spawn(move || a.submit(vec![row(0)]));
        while !audit.shared.queue.lock().unwrap().writing {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Queued behind the first request's own write (held at the store's gate).
        audit.submit(vec![row(1)]);
        audit.submit(vec![row(2)]);
        let opened = Instant::now();
        store.open.store(true, Ordering::SeqCst);
        first.join().unwrap();
        assert!(audit.flush(Duration::from_secs(5)));
        let noted = audit.shared.queue.lock().unwrap().own_writes_from;
        assert!(
            noted.is_some_and(|t| t >= opened + LOADED_FOR),
            "load not noted: {noted:?}"
        );
        // While the sign of load is fresh (held so here: a slow machine must not age it), the writer writes.
        let set_mark = |at: Instant| audit.shared.queue.lock().unwrap().own_writes_from = Some(at);
        set_mark(Instant::now() + Duration::from_secs(3600));
        let me = std::thread::current().id();
        audit.submit(vec![row(3)]);
        assert!(audit.flush(Duration::from_secs(5)));
        assert!(!store.appenders.lock().unwrap().contains(&me));
        // Once it is old, a lone request writes its own again.
        let_go(&audit);
        set_mark(Instant::now());
        audit.submit(vec![row(4)]);
        assert_eq!(store.ids(), ["e0", "e1", "e2", "e3", "e4"]);
        assert!(store.appenders.lock().unwrap().contains(&me));
    }

    /// Requests on many threads, some writing their own events and some queueing behind a batch being
    /// written: every event is stored once, each thread's in its order, and each request's acknowledgement
    /// means its events are stored.
    #[test]
    fn concurrent_submitters_on_a_local_store_lose_nothing() {
        let store = Arc::new(GatedStore::local());
        let audit = Arc::new(Audit::start(store.clone(), Clock::fixed(0), 64));
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let (audit, store) = (audit.clone(), store.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    for i in 0..300 {
                        let id = t * 1000 + i;
                        let p = (i % 3 == 0).then(|| audit.pending());
                        audit.submit(vec![row(id)]);
                        drop(p);
                        assert!(rt.block_on(audit.acknowledged()));
                        let want = format!("e{id}");
                        assert!(
                            store.ids().contains(&want),
                            "{want} acknowledged, not stored"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let ids = store.ids();
        assert_eq!(ids.len(), 1800);
        for t in 0..6 {
            let mine: Vec<_> = ids
                .iter()
                .filter_map(|id| id.strip_prefix('e')?.parse::<usize>().ok())
                .filter(|n| n / 1000 == t)
                .collect();
            let want: Vec<_> = (0..300).map(|i| t * 1000 + i).collect();
            assert_eq!(mine, want, "thread {t}");
        }
        assert_eq!(audit.queue_depth(), 0);
    }

    /// A request's own append that fails goes back to the queue, in front, for the writer thread to retry;
    /// meanwhile the store counts as failing and requests queue rather than append themselves.
    #[test]
    fn a_failed_own_append_is_retried_by_the_writer_in_order() {
        let store = Arc::new(GatedStore::local());
        store.fail.store(2, Ordering::SeqCst);
        let audit = Audit::start(store.clone(), Clock::fixed(0), 100);
        audit.submit(vec![row(0)]);
        assert!(store.ids().is_empty());
        assert!(audit.is_failing());
        audit.submit(vec![row(1)]);
        assert!(audit.flush(Duration::from_secs(5)));
        assert_eq!(store.ids(), ["e0", "e1"]);
        assert!(!audit.is_failing());
        assert_eq!(store.fail.load(Ordering::SeqCst), 0);
        // Recovered: a lone request appends its own again (once the writer thread's batch of both requests,
        // a sign of load, is LOADED_FOR old).
        std::thread::sleep(LOADED_FOR + Duration::from_millis(5));
        let_go(&audit);
        audit.submit(vec![row(2)]);
        assert_eq!(store.ids(), ["e0", "e1", "e2"]);
    }

    #[test]
    fn sink_gets_one_line_per_event() {
        let store = Arc::new(GatedStore::default());
        store.open.store(true, Ordering::SeqCst);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::start(store, Clock::fixed(0), 16);
        audit.configure(Settings {
            retention_days: 90,
            sink: Some(std::fs::File::create(&path).unwrap()),
            ..Settings::default()
        });
        audit.submit(vec![row(1), row(2)]);
        audit.submit(vec![row(3)]);
        assert!(audit.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
    }
}
