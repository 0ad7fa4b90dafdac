//! The embedded store's audit trail: its own SQLite file (`audit.db` beside `stsd.db`), so recording never
//! waits behind IAM writes and its size is its own.
//!
//! An append is made durable by the journal ([`super::audit_journal`]: one `pwrite` per group commit — what
//! an answered request relies on: it survives `kill -9`) and reaches `audit.db` with the other groups of the
//! last [`FLUSH_EVERY`] in one transaction; every read of the trail first stores what is journaled, so it sees
//! every appended event. `audit.db` is in WAL mode with `synchronous=NORMAL`: a power cut may lose the last
//! groups since the previous sync, which IAM state (`synchronous=FULL`) never does. One connection writes,
//! another reads (lookups do not wait for appends).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use super::audit_journal::{self, Journal, Pending};
use super::{
    Appended, AuditHead, AuditRow, DigestRecord, ExportRecord, GroupSpan, StoreError, StoredBlock,
};
use crate::trail;

const MIGRATIONS: &[&str] = &[
    // v1: records, group spans, the key index, the head, export files and digests.
    "CREATE TABLE audit_records (
        seq INTEGER PRIMARY KEY,
        hash BLOB NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE audit_spans (
        grp INTEGER PRIMARY KEY,
        time_lo INTEGER NOT NULL,
        time_hi INTEGER NOT NULL,
        hi_max INTEGER NOT NULL,
        lo_floor INTEGER NOT NULL
    );
    CREATE INDEX audit_spans_hi_max ON audit_spans (hi_max);
    CREATE INDEX audit_spans_lo_floor ON audit_spans (lo_floor, grp);
    CREATE TABLE audit_keys (
        epoch INTEGER NOT NULL,
        key INTEGER NOT NULL,
        grp INTEGER NOT NULL,
        PRIMARY KEY (epoch, key, grp)
    ) WITHOUT ROWID;
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        next_seq INTEGER NOT NULL,
        last_hash BLOB NOT NULL,
        first_seq INTEGER NOT NULL,
        base_hash BLOB NOT NULL,
        exported_through INTEGER NOT NULL,
        max_time INTEGER NOT NULL,
        legacy_through INTEGER NOT NULL
    );
    INSERT INTO audit_head VALUES (1, 1, zeroblob(16), 1, zeroblob(16), 0, 0, 0);
    CREATE TABLE audit_exports (
        n INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        events INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        prev_sha256 TEXT NOT NULL,
        oldest INTEGER NOT NULL,
        newest INTEGER NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE audit_digests (
        end_time INTEGER PRIMARY KEY,
        body TEXT NOT NULL,
        signature TEXT NOT NULL
    );",
    // v2: a row is a block of `events` consecutive events from `seq` (earlier rows hold one each).
    "ALTER TABLE audit_records ADD COLUMN events INTEGER NOT NULL DEFAULT 1;",
];

fn backend(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
            StoreError::Backend(
                "the audit database is full (no space left on the data directory)".into(),
            )
        }
        e => StoreError::Backend(e.to_string()),
    }
}

pub struct AuditDb {
    inner: Arc<Inner>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

struct Inner {
    writer: Arc<Mutex<Connection>>,
    reader: Mutex<Connection>,
    /// The journal, when this process owns the trail (`None`: another process does; this one stored what that
    /// one had journaled when this opened, and reads).
    journal: Option<Mutex<Journal>>,
    /// One flush at a time: a reader that finds nothing pending knows an earlier flush has committed.
    flush_lock: Mutex<()>,
    /// `audit.db` and its WAL (synced before a journal file is reused).
    db_path: PathBuf,
    /// Tells the checkpointer thread to stop.
    stop: Arc<AtomicBool>,
    /// Tells the flusher to stop (and wakes it).
    stop_flusher: (Mutex<bool>, Condvar),
}

impl Drop for AuditDb {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Ok(mut stop) = self.inner.stop_flusher.0.lock() {
            *stop = true;
        }
        self.inner.stop_flusher.1.notify_all();
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
        // A clean close leaves the journal empty: everything is in audit.db, synced.
        if let Err(e) = self.inner.close() {
            tracing::warn!(error = %e, "closing the audit journal; it is read again at the next start");
        }
    }
}

/// How often journaled groups are moved into `audit.db`.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// An append finding this many events journaled but not yet in `audit.db` stores them first (the flusher is
/// behind, or failing: memory stays bounded and a store that refuses writes is noticed by the writer).
const FLUSH_INLINE_EVENTS: i64 = 1 << 16;

/// How often the WAL is copied back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// WAL frames (pages) after which the checkpointer makes the WAL start over (16 MiB).
const RESTART_AFTER_FRAMES: i64 = 4096;

/// How long a RESTART checkpoint (which holds the writer) may wait for readers to leave the WAL.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// A RESTART holding the writer this long is logged (at debug: the flusher waits for it, requests do not —
/// they wait only for the journal).
const SLOW_RESTART: std::time::Duration = std::time::Duration::from_millis(50);

/// After a RESTART gave up on a reader, how long until the next try.
const RESTART_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// Checkpoints on their own connection and thread: SQLite's automatic checkpoint runs inside the commit that
/// crosses the threshold, so the writer — and every request waiting for its audit event — would wait for the
/// copy and its fsync. A passive checkpoint never blocks the writer.
fn spawn_checkpointer(
    path: &Path,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    writer: std::sync::Arc<Mutex<Connection>>,
) {
    let conn = match open_conn(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no audit checkpointer; the writer checkpoints itself");
            return;
        }
    };
    // A RESTART runs holding the writer (below): it may wait for readers only this long, then gives up.
    if let Err(e) = conn.busy_timeout(RESTART_WAIT) {
        tracing::warn!(error = %e, "audit checkpointer: busy timeout");
    }
    let spawned = std::thread::Builder::new()
        .name("stsd-audit-checkpoint".into())
        .spawn(move || {
            let mut restart_after = std::time::Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                // (busy, frames in the WAL, frames checkpointed)
                let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                });
                match passive {
                    Ok((0, frames))
                        if frames > RESTART_AFTER_FRAMES
                            && std::time::Instant::now() >= restart_after =>
                    {
                        // A passive checkpoint never lets the WAL start over while the writer keeps appending,
                        // so it would grow until the writer's own automatic checkpoint (fsyncs and a truncation
                        // inside a commit: tens of milliseconds every request waits for). RESTART finishes the
                        // few frames the passive run left and the next commit writes the WAL from its start
                        // again: the file keeps its size, no blocks are freed or allocated. It runs holding the
                        // writer's connection, so it never starves behind back-to-back commits (SQLite's busy
                        // handler only retries at intervals) and the writer waits for it only once. A reader
                        // still using the WAL (a long lookup, `stsd audit verify` in another process) makes it
                        // give up after RESTART_WAIT; it is tried again after RESTART_BACKOFF, and meanwhile the
                        // WAL grows as before this existed (the writer checkpoints at 64 MiB).
                        let held = writer.lock();
                        let started = std::time::Instant::now();
                        let restarted =
                            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
                        drop(held);
                        // The flusher (and a lookup, which flushes first) waited this long: the copy of the frames
                        // appended since the passive run and the database file's sync.
                        let took = started.elapsed();
                        if took >= SLOW_RESTART {
                            tracing::debug!(
                                millis = took.as_millis(),
                                "audit checkpoint (restart) held the audit flusher"
                            );
                        }
                        if !matches!(restarted, Ok(0)) {
                            tracing::debug!(result = ?restarted, "audit checkpoint (restart) deferred");
                            restart_after = std::time::Instant::now() + RESTART_BACKOFF;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "audit checkpoint"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no audit checkpointer thread");
    }
}

/// The flusher thread: every FLUSH_EVERY, move what is journaled into `audit.db`. A failure (e.g. a full
/// disk) is logged once and retried; the groups stay journaled meanwhile.
fn flusher(inner: &Inner) {
    let mut failing = false;
    loop {
        {
            let Ok(stop) = inner.stop_flusher.0.lock() else {
                return;
            };
            let Ok((stop, _)) = inner.stop_flusher.1.wait_timeout(stop, FLUSH_EVERY) else {
                return;
            };
            if *stop {
                return;
            }
        }
        match inner.flush() {
            Ok(()) if failing => {
                tracing::info!("journaled audit events are stored again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "storing journaled audit events failed; retrying");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

fn open_conn(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(backend)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(backend)?;
    // Index pages are hit at random (keys are hashes): a larger cache keeps the upper levels and the hot leaves
    // in memory.
    conn.pragma_update(None, "cache_size", -32_768)
        .map_err(backend)?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StoreError> {
    m.lock()
        .map_err(|_| StoreError::Backend("audit store lock poisoned".into()))
}

fn head_of(conn: &Connection) -> Result<(AuditHead, i64), StoreError> {
    // Cached statements: every append reads and writes the head (parsing them cost more than running them).
    let mut stmt = conn
        .prepare_cached(
            "SELECT next_seq, last_hash, first_seq, base_hash, exported_through, max_time, legacy_through
             FROM audit_head WHERE id = 1",
        )
        .map_err(backend)?;
    stmt.query_row([], |r| {
        Ok((
            AuditHead {
                next_seq: r.get(0)?,
                last_hash: r.get(1)?,
                first_seq: r.get(2)?,
                base_hash: r.get(3)?,
                exported_through: r.get(4)?,
                max_time: r.get(5)?,
            },
            r.get(6)?,
        ))
    })
    .map_err(backend)
}

/// Records, group spans and index entries of `a` (not the head).
fn write_rows(tx: &rusqlite::Transaction<'_>, a: &Appended) -> Result<(), StoreError> {
    write_records(tx, &a.blocks)?;
    write_index(tx, a)
}

/// The blocks' rows.
fn write_records(tx: &rusqlite::Transaction<'_>, blocks: &[StoredBlock]) -> Result<(), StoreError> {
    let mut ins = tx
        .prepare_cached(
            "INSERT INTO audit_records (seq, events, hash, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(backend)?;
    for b in blocks {
        ins.execute(params![b.seq, b.count, b.hash, b.data])
            .map_err(backend)?;
    }
    Ok(())
}

/// Group spans (widened, with the floors of earlier groups) and index entries of `a` (its blocks aside).
fn write_index(tx: &rusqlite::Transaction<'_>, a: &Appended) -> Result<(), StoreError> {
    let mut span = tx
        .prepare_cached(
            "INSERT INTO audit_spans (grp, time_lo, time_hi, hi_max, lo_floor) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (grp) DO UPDATE SET time_lo = min(time_lo, excluded.time_lo),
             time_hi = max(time_hi, excluded.time_hi), hi_max = max(hi_max, excluded.hi_max),
             lo_floor = min(lo_floor, excluded.lo_floor)",
        )
        .map_err(backend)?;
    let floors = trail::lo_floors(&a.spans);
    for (s, floor) in a.spans.iter().zip(&floors) {
        span.execute(params![s.grp, s.time_lo, s.time_hi, s.hi_max, floor])
            .map_err(backend)?;
    }
    if let (Some(&m), Some(first)) = (floors.first(), a.spans.first()) {
        // Earlier groups' floors come down to this batch's earliest time (with events in time order, no
        // row or a few of the newest).
        tx.prepare_cached("UPDATE audit_spans SET lo_floor = ?1 WHERE lo_floor > ?1 AND grp < ?2")
            .and_then(|mut u| u.execute(params![m, first.grp]))
            .map_err(backend)?;
    }
    let mut key = tx
        .prepare_cached("INSERT OR IGNORE INTO audit_keys (epoch, key, grp) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    for (k, g) in &a.keys {
        key.execute(params![trail::epoch_of(*g), k, g])
            .map_err(backend)?;
    }
    Ok(())
}

/// `a` as it is, and its head as the trail's whole head (an import, the legacy conversion).
fn write_appended(tx: &rusqlite::Transaction<'_>, a: &Appended) -> Result<(), StoreError> {
    write_rows(tx, a)?;
    tx.prepare_cached(
        "UPDATE audit_head SET next_seq = ?1, last_hash = ?2, first_seq = ?3, base_hash = ?4,
         max_time = ?5 WHERE id = 1",
    )
    .and_then(|mut u| {
        u.execute(params![
            a.head.next_seq,
            a.head.last_hash,
            a.head.first_seq,
            a.head.base_hash,
            a.head.max_time
        ])
    })
    .map_err(backend)?;
    Ok(())
}

/// Journaled groups that continue the stored chain, in one transaction: rows of all of them, and the chain's
/// end (`next_seq`, `last_hash`, `max_time`) from the last — the head's other fields (the oldest event, the
/// export mark) are not the journal's to set. Groups already stored are skipped; refused unless the rest
/// continues the stored chain.
fn store_journaled<'a>(
    conn: &mut Connection,
    groups: impl IntoIterator<Item = &'a Appended>,
) -> Result<usize, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let (head, _) = head_of(&tx)?;
    let mut merged = Appended::default();
    let mut n = 0;
    for a in groups {
        let Some(first) = a.blocks.first() else {
            continue;
        };
        let expected = merged.head.next_seq.max(head.next_seq);
        if a.head.next_seq <= expected {
            // Already stored: by another process that read the journal to see the newest events
            // ([`AuditDb::open`] without ownership), or at the last start.
            continue;
        }
        if first.seq != expected {
            return Err(StoreError::Corrupt(format!(
                "the audit journal continues at event {} but the trail at {expected}",
                first.seq
            )));
        }
        write_records(&tx, &a.blocks)?;
        for s in &a.spans {
            match merged.spans.last_mut() {
                Some(m) if m.grp == s.grp => {
                    m.time_lo = m.time_lo.min(s.time_lo);
                    m.time_hi = m.time_hi.max(s.time_hi);
                    m.hi_max = m.hi_max.max(s.hi_max);
                }
                _ => merged.spans.push(*s),
            }
        }
        merged.keys.extend_from_slice(&a.keys);
        merged.head.next_seq = a.head.next_seq;
        merged.head.last_hash.clone_from(&a.head.last_hash);
        merged.head.max_time = a.head.max_time;
        n += 1;
    }
    if n == 0 {
        return Ok(0);
    }
    merged.keys.sort_unstable();
    merged.keys.dedup();
    write_index(&tx, &merged)?;
    tx.prepare_cached(
        "UPDATE audit_head SET next_seq = ?1, last_hash = ?2, max_time = ?3 WHERE id = 1",
    )
    .and_then(|mut u| {
        u.execute(params![
            merged.head.next_seq,
            merged.head.last_hash,
            merged.head.max_time
        ])
    })
    .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(n)
}

/// Whether the blocks of a journaled group chain from `prev` (the hash of the event before its first).
fn chains_from(a: &Appended, prev: &[u8]) -> bool {
    let mut prev = prev.to_vec();
    for b in &a.blocks {
        if trail::chain(&prev, b.seq, &b.data) != b.hash {
            return false;
        }
        prev.clone_from(&b.hash);
    }
    a.head.last_hash == prev
}

/// Store the journal's entries that continue `audit.db`'s chain (after a crash: the groups journaled but
/// not yet moved). Entries already stored are skipped; reading stops at a gap or a broken link. Returns the
/// events stored.
fn recover(conn: &mut Connection, found: Vec<Appended>, owner: bool) -> Result<i64, StoreError> {
    let (head, _) = head_of(conn)?;
    let (mut next, mut prev) = (head.next_seq, head.last_hash);
    let mut continuing = Vec::new();
    for a in found {
        let Some(first) = a.blocks.first().map(|b| b.seq) else {
            continue;
        };
        if a.head.next_seq <= next {
            continue;
        }
        if first != next || !chains_from(&a, &prev) {
            if owner {
                tracing::warn!(
                    journaled = first,
                    stored = next,
                    "the audit journal does not continue the stored trail here; later journaled events are not stored"
                );
            }
            // Without ownership the owner may be rewriting a file right now: what follows is its to store.
            break;
        }
        next = a.head.next_seq;
        prev.clone_from(&a.head.last_hash);
        continuing.push(a);
    }
    let events = continuing
        .iter()
        .flat_map(|a| &a.blocks)
        .map(|b| b.count)
        .sum();
    store_journaled(conn, &continuing)?;
    Ok(events)
}

/// Sync `audit.db` and its WAL: a group stored by a `synchronous=NORMAL` commit is then on disk, and its
/// journal entry may be overwritten.
fn sync_db(db: &Path) -> Result<(), StoreError> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    for p in [PathBuf::from(wal), db.to_path_buf()] {
        match std::fs::File::open(&p) {
            Ok(f) => f
                .sync_data()
                .map_err(|e| StoreError::Backend(format!("syncing {}: {e}", p.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::Backend(format!("opening {}: {e}", p.display()))),
        }
    }
    Ok(())
}

impl Inner {
    /// Move every journaled group into `audit.db` (one transaction), then retire the journal file writing
    /// has left once all of it is stored and synced. A no-op without a journal.
    fn flush(&self) -> Result<(), StoreError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let _one = lock(&self.flush_lock)?;
        let taken: Vec<Pending> = std::mem::take(&mut lock(journal)?.pending);
        if !taken.is_empty() {
            let stored = lock(&self.writer)
                .and_then(|mut c| store_journaled(&mut c, taken.iter().map(|p| &p.appended)));
            let mut j = lock(journal)?;
            if let Err(e) = stored {
                // Still journaled: put them back in front, to be stored by the next flush.
                let mut back = taken;
                back.append(&mut j.pending);
                j.pending = back;
                return Err(e);
            }
            let events: i64 = taken
                .iter()
                .flat_map(|p| &p.appended.blocks)
                .map(|b| b.count)
                .sum();
            j.pending_events -= events;
        }
        let retire = {
            let j = lock(journal)?;
            j.unretired_other()
                .filter(|o| !j.pending.iter().any(|p| p.file == *o))
        };
        if let Some(o) = retire {
            sync_db(&self.db_path)?;
            *lock(journal)?.retired.get_mut(o) = true;
        }
        Ok(())
    }

    /// Take the head's fields that are `audit.db`'s (the oldest event, the export mark) — or, with `whole`
    /// (nothing pending: an import, the legacy conversion), the whole head — into the journal's head.
    fn refresh_head(&self, whole: bool) -> Result<(), StoreError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let (stored, _) = head_of(&*lock(&self.writer)?)?;
        let mut j = lock(journal)?;
        if whole && j.pending.is_empty() {
            j.head = stored;
        } else {
            j.head.first_seq = stored.first_seq;
            j.head.base_hash = stored.base_hash;
            j.head.exported_through = stored.exported_through;
        }
        Ok(())
    }

    /// Store everything journaled, sync, and start the journal over (a clean close).
    fn close(&self) -> Result<(), StoreError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        self.flush()?;
        sync_db(&self.db_path)?;
        let (head, _) = head_of(&*lock(&self.writer)?)?;
        let mut j = lock(journal)?;
        if j.pending.is_empty() {
            j.reset(head)?;
        }
        Ok(())
    }
}

impl AuditDb {
    /// Open (creating and migrating) the trail at `path`, storing what its journal holds beyond it (after a
    /// crash), and start its flusher and checkpointer.
    pub fn open(path: &Path) -> Result<AuditDb, StoreError> {
        AuditDb::open_with(path, true)
    }

    /// [`AuditDb::open`]; without `flusher`, journaled groups reach `audit.db` only when read or flushed (tests
    /// that look at the files mid-way).
    fn open_with(path: &Path, flush_thread: bool) -> Result<AuditDb, StoreError> {
        let mut writer = open_conn(path)?;
        migrate(&mut writer)?;
        let reader = open_conn(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        // The writer touches only the newest pages of each table (appends, and the newest epoch of the index):
        // a small cache holds them, and SQLite's end-of-transaction cache walk (pcache1Truncate, ~5 % of the
        // writer's time with the readers' 32 MiB cache) stays short.
        writer
            .pragma_update(None, "cache_size", -2048)
            .map_err(backend)?;
        // The writer still checkpoints if the WAL grows past 16,384 pages (64 MiB) — when the
        // checkpointer cannot keep up or is missing.
        writer
            .pragma_update(None, "wal_autocheckpoint", 16_384)
            .map_err(backend)?;
        // The WAL file is reused from its start after each restart, never cut back: truncating it inside a
        // commit (`journal_size_limit`) took ~20 ms on ext4 under load. It stays near RESTART_AFTER_FRAMES pages.
        writer
            .pragma_update(None, "journal_size_limit", -1)
            .map_err(backend)?;
        let journal = match Journal::open(path)? {
            None => {
                // Another process (a serving node) owns the journal. Its newest groups may not be in audit.db
                // yet: store those that continue the chain (the owner skips what is stored), so this process
                // reads every event appended before it opened the trail.
                recover(&mut writer, audit_journal::read_unowned(path)?, false)?;
                None
            }
            Some((mut j, found)) => {
                let recovered = recover(&mut writer, found, true)?;
                sync_db(path)?;
                if recovered > 0 {
                    tracing::info!(
                        events = recovered,
                        "stored the audit events journaled before the last stop"
                    );
                }
                let (head, _) = head_of(&writer)?;
                j.reset(head)?;
                Some(Mutex::new(j))
            }
        };
        let writer = Arc::new(Mutex::new(writer));
        spawn_checkpointer(path, stop.clone(), writer.clone());
        let inner = Arc::new(Inner {
            writer,
            reader: Mutex::new(reader),
            journal,
            flush_lock: Mutex::new(()),
            db_path: path.to_path_buf(),
            stop,
            stop_flusher: (Mutex::new(false), Condvar::new()),
        });
        let flusher = (flush_thread && inner.journal.is_some()).then(|| {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("stsd-audit-flush".into())
                .spawn(move || flusher(&inner))
        });
        let flusher = match flusher {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "no audit flusher thread; reads and appends store the journal");
                None
            }
            None => None,
        };
        Ok(AuditDb { inner, flusher })
    }

    /// Seal `batch` after the trail's end and journal it (durable once this returns; in `audit.db` within
    /// [`FLUSH_EVERY`], or at the next read). Returns the new head.
    pub fn append(&self, batch: &[trail::Encoded]) -> Result<AuditHead, StoreError> {
        let Some(journal) = &self.inner.journal else {
            return Err(StoreError::Backend(
                "the audit trail is open for writing in another stsd process".into(),
            ));
        };
        let pending = lock(journal)?.pending_events;
        if pending >= FLUSH_INLINE_EVENTS {
            // Every request waiting for this append waits for the flush too (debug: a bulk load such as
            // `stsd audit generate` does this all the time).
            tracing::debug!(
                events = pending,
                "the audit flusher is behind; storing journaled events before appending"
            );
            self.inner.flush()?;
        }
        let mut j = lock(journal)?;
        let a = trail::seal(&j.head, batch);
        if a.blocks.is_empty() {
            return Ok(j.head.clone());
        }
        let head = a.head.clone();
        j.append(a)?;
        Ok(head)
    }

    /// Whether this process owns the trail, so that an append is one journal write.
    pub fn is_journaled(&self) -> bool {
        self.inner.journal.is_some()
    }

    pub fn import(&self, a: &Appended) -> Result<(), StoreError> {
        self.inner.flush()?;
        {
            let mut conn = lock(&self.inner.writer)?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            write_appended(&tx, a)?;
            tx.commit().map_err(backend)?;
        }
        self.inner.refresh_head(true)
    }

    /// Store what is journaled now (reads do this themselves).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    /// Store what is journaled, sync, and start the journal over (a clean stop; also done on drop).
    pub fn close(&self) -> Result<(), StoreError> {
        self.inner.close()
    }

    /// The reading connection, once everything journaled is in `audit.db`.
    fn read(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.inner.flush()?;
        lock(&self.inner.reader)
    }

    pub fn head(&self) -> Result<AuditHead, StoreError> {
        head_of(&*self.read()?).map(|(h, _)| h)
    }

    pub fn blocks(&self, from: i64, to: i64) -> Result<Vec<StoredBlock>, StoreError> {
        let conn = self.read()?;
        // A block holding event `from` starts at most MAX_BLOCK_EVENTS - 1 before it.
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, events, hash, data FROM audit_records
                 WHERE seq BETWEEN ?1 AND ?2 AND seq + events > ?3 ORDER BY seq",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![from - (trail::MAX_BLOCK_EVENTS - 1), to, from],
                |r| {
                    Ok(StoredBlock {
                        seq: r.get(0)?,
                        count: r.get(1)?,
                        hash: r.get(2)?,
                        data: r.get(3)?,
                    })
                },
            )
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    pub fn spans(&self, from: i64, to: i64) -> Result<Vec<GroupSpan>, StoreError> {
        let conn = self.read()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT grp, time_lo, time_hi, hi_max FROM audit_spans WHERE grp BETWEEN ?1 AND ?2
                 ORDER BY grp",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(GroupSpan {
                    grp: r.get(0)?,
                    time_lo: r.get(1)?,
                    time_hi: r.get(2)?,
                    hi_max: r.get(3)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    pub fn first_group_since(&self, since: i64) -> Result<Option<i64>, StoreError> {
        self.read()?
            .query_row(
                "SELECT grp FROM audit_spans WHERE hi_max >= ?1 ORDER BY hi_max, grp LIMIT 1",
                params![since],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
    }

    pub fn newest_group_until(&self, until: i64) -> Result<Option<i64>, StoreError> {
        self.read()?
            .query_row(
                "SELECT grp FROM audit_spans WHERE lo_floor <= ?1 ORDER BY lo_floor DESC, grp DESC LIMIT 1",
                params![until],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
    }

    pub fn key_groups(
        &self,
        key: i64,
        from: i64,
        to: i64,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let conn = self.read()?;
        // The epochs of the range, newest (or oldest) first, each probed for the key inside SQLite (the CROSS
        // JOIN keeps the epoch list as the outer loop); rows stream in epoch order, so reading stops once
        // `limit` groups are found and the epoch they came from is complete.
        let sql = if descending {
            "WITH RECURSIVE e(x) AS (SELECT ?1 UNION ALL SELECT x - 1 FROM e WHERE x > ?2)
             SELECT k.epoch, k.grp FROM e CROSS JOIN audit_keys k
             WHERE k.epoch = e.x AND k.key = ?3 AND k.grp BETWEEN ?4 AND ?5"
        } else {
            "WITH RECURSIVE e(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM e WHERE x < ?2)
             SELECT k.epoch, k.grp FROM e CROSS JOIN audit_keys k
             WHERE k.epoch = e.x AND k.key = ?3 AND k.grp BETWEEN ?4 AND ?5"
        };
        let (lo, hi) = (trail::epoch_of(from), trail::epoch_of(to));
        if lo > hi || limit == 0 {
            return Ok(Vec::new());
        }
        let (first, last) = if descending { (hi, lo) } else { (lo, hi) };
        let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
        let mut rows = stmt
            .query(params![first, last, key, from, to])
            .map_err(backend)?;
        let mut out = Vec::new();
        let mut epoch_groups: Vec<i64> = Vec::new();
        let mut current = None;
        let flush = |out: &mut Vec<i64>, groups: &mut Vec<i64>| {
            groups.sort_unstable();
            if descending {
                groups.reverse();
            }
            out.append(groups);
        };
        while let Some(r) = rows.next().map_err(backend)? {
            let (e, g): (i64, i64) = (r.get(0).map_err(backend)?, r.get(1).map_err(backend)?);
            if current != Some(e) {
                flush(&mut out, &mut epoch_groups);
                if out.len() >= limit {
                    break;
                }
                current = Some(e);
            }
            epoch_groups.push(g);
        }
        flush(&mut out, &mut epoch_groups);
        out.truncate(limit);
        Ok(out)
    }

    pub fn purge(
        &self,
        through: i64,
        base_hash: &[u8],
        keys: &[(i64, i64)],
    ) -> Result<(), StoreError> {
        self.inner.flush()?;
        let mut conn = lock(&self.inner.writer)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let (head, _) = head_of(&tx)?;
        if through < head.first_seq || through >= head.next_seq {
            return Ok(());
        }
        let below = trail::group_of(through + 1);
        tx.execute(
            "DELETE FROM audit_records WHERE seq <= ?1",
            params![through],
        )
        .map_err(backend)?;
        tx.execute("DELETE FROM audit_spans WHERE grp < ?1", params![below])
            .map_err(backend)?;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM audit_keys WHERE epoch = ?1 AND key = ?2 AND grp = ?3")
                .map_err(backend)?;
            for (k, g) in keys.iter().filter(|(_, g)| *g < below) {
                del.execute(params![trail::epoch_of(*g), k, g])
                    .map_err(backend)?;
            }
        }
        tx.execute(
            "UPDATE audit_head SET first_seq = ?1, base_hash = ?2 WHERE id = 1",
            params![through + 1, base_hash],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        drop(conn);
        self.inner.refresh_head(false)
    }

    pub fn bytes(&self) -> Result<u64, StoreError> {
        let conn = self.read()?;
        let get = |p: &str| -> Result<i64, StoreError> {
            conn.pragma_query_value(None, p, |r| r.get(0))
                .map_err(backend)
        };
        let used = (get("page_count")? - get("freelist_count")?) * get("page_size")?;
        Ok(u64::try_from(used).unwrap_or(0))
    }

    pub fn claim_export(
        &self,
        expected: i64,
        through: i64,
        files: &[ExportRecord],
    ) -> Result<bool, StoreError> {
        self.inner.flush()?;
        let mut conn = lock(&self.inner.writer)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let (head, _) = head_of(&tx)?;
        if head.exported_through != expected {
            return Ok(false);
        }
        for f in files {
            tx.execute(
                "INSERT INTO audit_exports (name, first_seq, last_seq, events, sha256, prev_sha256, oldest,
                 newest, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    f.name,
                    f.first_seq,
                    f.last_seq,
                    f.events,
                    f.sha256,
                    f.prev_sha256,
                    f.oldest,
                    f.newest,
                    f.created
                ],
            )
            .map_err(backend)?;
        }
        tx.execute(
            "UPDATE audit_head SET exported_through = ?1 WHERE id = 1",
            params![through],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        drop(conn);
        self.inner.refresh_head(false)?;
        Ok(true)
    }

    pub fn exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        let conn = self.read()?;
        let mut stmt = conn
            .prepare(
                "SELECT name, first_seq, last_seq, events, sha256, prev_sha256, oldest, newest, created
                 FROM audit_exports ORDER BY n",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ExportRecord {
                    name: r.get(0)?,
                    first_seq: r.get(1)?,
                    last_seq: r.get(2)?,
                    events: r.get(3)?,
                    sha256: r.get(4)?,
                    prev_sha256: r.get(5)?,
                    oldest: r.get(6)?,
                    newest: r.get(7)?,
                    created: r.get(8)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    pub fn add_digest(
        &self,
        d: &DigestRecord,
        previous_end: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut conn = lock(&self.inner.writer)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let newest: Option<i64> = tx
            .query_row("SELECT max(end_time) FROM audit_digests", [], |r| r.get(0))
            .map_err(backend)?;
        if newest != previous_end {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO audit_digests (end_time, body, signature) VALUES (?1, ?2, ?3)",
            params![d.end_time, d.body, d.signature],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(true)
    }

    pub fn digests(&self) -> Result<Vec<DigestRecord>, StoreError> {
        let conn = self.read()?;
        let mut stmt = conn
            .prepare("SELECT end_time, body, signature FROM audit_digests ORDER BY end_time")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DigestRecord {
                    end_time: r.get(0)?,
                    body: r.get(1)?,
                    signature: r.get(2)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    /// Move the events of the old single-table trail (`audit_events` in `stsd.db`, before the compact
    /// format) into this one, oldest first and resumably: each chunk and the progress marker commit together.
    pub fn convert_legacy(&self, main: &Connection) -> Result<usize, StoreError> {
        let exists: Option<String> = main
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if exists.is_none() {
            return Ok(0);
        }
        self.inner.flush()?;
        let mut codec = trail::Codec::new();
        let mut moved = 0;
        loop {
            let (_, done) = head_of(&*lock(&self.inner.writer)?)?;
            let rows = legacy_rows(main, done, 4096)?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            let batch = codec.encode(&rows);
            let mut conn = lock(&self.inner.writer)?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let (head, _) = head_of(&tx)?;
            write_appended(&tx, &trail::seal(&head, &batch))?;
            tx.execute(
                "UPDATE audit_head SET legacy_through = ?1 WHERE id = 1",
                params![last],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            moved += rows.len();
        }
        main.execute_batch("DROP TABLE audit_events")
            .map_err(backend)?;
        self.inner.refresh_head(true)?;
        Ok(moved)
    }
}

/// Rows of the old `audit_events` table after `after`, in order.
pub(crate) fn legacy_rows(
    main: &Connection,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut stmt = main
        .prepare(
            "SELECT seq, account, event_id, event_time, event_name, event_source, username, access_key_id,
             read_only, resources, body FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            Ok((
                AuditRow {
                    seq: r.get(0)?,
                    account: r.get(1)?,
                    event_id: r.get(2)?,
                    event_time: r.get(3)?,
                    event_name: r.get(4)?,
                    event_source: r.get(5)?,
                    username: r.get(6)?,
                    access_key_id: r.get(7)?,
                    read_only: r.get(8)?,
                    resources: Vec::new(),
                    body: r.get(10)?,
                },
                r.get::<_, String>(9)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (mut row, resources) = row.map_err(backend)?;
        row.resources = serde_json::from_str(&resources)
            .map_err(|e| StoreError::Corrupt(format!("audit resources: {e}")))?;
        out.push(row);
    }
    Ok(out)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    super::sqlite::migrate_schema(conn, MIGRATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader holding an old snapshot (a long lookup, `stsd audit verify` in another process) blocks the WAL
    /// restart; the restart then gives up within RESTART_WAIT instead of holding the writer — and every request
    /// waiting for its audit event — for the connection's 5 s busy timeout.
    #[test]
    fn a_reader_never_holds_the_writer_through_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let db = AuditDb::open(&path).unwrap();
        let batch = |t: i64| -> Vec<trail::Encoded> {
            (0..16)
                .map(|i| trail::Encoded {
                    data: vec![u8::try_from(i).unwrap(); 2048],
                    events: vec![trail::Indexed {
                        time: t + i,
                        keys: vec![t + i],
                    }],
                })
                .collect()
        };
        db.append(&batch(0)).unwrap();
        db.flush().unwrap();
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let n: i64 = reader
            .query_row("SELECT count(*) FROM audit_records", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 16);
        // ~24 MiB of WAL with the snapshot held: past RESTART_AFTER_FRAMES, so restarts are tried and refused.
        let mut slowest = std::time::Duration::ZERO;
        let started = std::time::Instant::now();
        let mut t = 100;
        while started.elapsed() < std::time::Duration::from_secs(2) || t < 100 + 16 * 800 {
            let at = std::time::Instant::now();
            db.append(&batch(t)).unwrap();
            db.flush().unwrap();
            slowest = slowest.max(at.elapsed());
            t += 16;
        }
        reader.execute_batch("COMMIT").unwrap();
        assert!(
            slowest < std::time::Duration::from_secs(1),
            "an append waited {slowest:?} behind a refused WAL restart"
        );
    }

    /// Under steady appends the WAL starts over every ~16 MiB (the checkpointer's RESTART) instead of growing
    /// to the writer's own 64 MiB checkpoint, which fsynced and truncated inside a commit. 72 MiB of records
    /// are appended in 32 KiB commits a millisecond apart (~15 MiB/s, five times what AssumeRole at full load
    /// writes; the server's writer also pauses between commits while it gathers a group). Back to back with no
    /// pause, on a loaded machine, a refused restart's 1 s back-off once let the WAL reach 88 MiB before the test
    /// ended. The WAL file must stay below 60 MiB (typically ~20 MiB here). Without the RESTART it reaches
    /// 64 MiB before it is cut back (measured: 70 MB).
    #[test]
    fn wal_starts_over_under_steady_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let db = AuditDb::open(&path).unwrap();
        let wal = dir.path().join("audit.db-wal");
        // Incompressible 2 KiB records, as the store sees them after encoding.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut record = || -> Vec<u8> {
            (0..2048)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[0]
                })
                .collect()
        };
        let mut written = 0usize;
        let mut largest = 0u64;
        let mut t = 1_700_000_000;
        while written < 72 << 20 {
            let batch: Vec<trail::Encoded> = (0..16)
                .map(|i| {
                    t += 1;
                    trail::Encoded {
                        data: record(),
                        events: vec![trail::Indexed {
                            time: t,
                            keys: vec![t, i],
                        }],
                    }
                })
                .collect();
            written += batch.iter().map(|e| e.data.len()).sum::<usize>();
            db.append(&batch).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1));
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            largest < 60 << 20,
            "the WAL grew to {largest} bytes while 72 MiB were appended"
        );
        assert_eq!(db.head().unwrap().next_seq, 1 + (written / 2048) as i64);
    }

    fn events(t: i64, n: i64) -> Vec<trail::Encoded> {
        (0..n)
            .map(|i| trail::Encoded {
                data: format!("block at {t} #{i}").into_bytes(),
                events: vec![trail::Indexed {
                    time: t + i,
                    keys: vec![t + i, 7],
                }],
            })
            .collect()
    }

    /// The files as they are on disk now — what a process killed at this moment leaves.
    fn crash_image(from: &Path, to: &Path) {
        for name in [
            "audit.db",
            "audit.db-wal",
            "audit.journal-0",
            "audit.journal-1",
        ] {
            if from.join(name).exists() {
                std::fs::copy(from.join(name), to.join(name)).unwrap();
            }
        }
    }

    /// Appends are durable once `append` returns, though only journaled: a process killed before the flush
    /// leaves them in the journal, and the next open stores them, chained where they belong.
    #[test]
    fn journaled_events_survive_a_kill_and_are_stored_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = AuditDb::open_with(&dir.path().join("audit.db"), false).unwrap();
        db.append(&events(100, 3)).unwrap();
        db.flush().unwrap();
        db.append(&events(200, 4)).unwrap();
        let expected = db.append(&events(300, 2)).unwrap();
        let killed = tempfile::tempdir().unwrap();
        crash_image(dir.path(), killed.path());
        let stored: i64 = Connection::open(killed.path().join("audit.db"))
            .unwrap()
            .query_row("SELECT next_seq FROM audit_head", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 4, "only the flushed group is in audit.db");
        let reopened = AuditDb::open_with(&killed.path().join("audit.db"), false).unwrap();
        assert_eq!(reopened.head().unwrap(), expected);
        assert_eq!(reopened.head().unwrap(), db.head().unwrap());
        let blocks = reopened.blocks(1, 9).unwrap();
        assert_eq!(blocks, db.blocks(1, 9).unwrap());
        assert_eq!(blocks.len(), 9);
        // And the trail goes on from there.
        let next = reopened.append(&events(400, 1)).unwrap();
        assert_eq!(next.next_seq, 11);
        assert_eq!(reopened.blocks(10, 10).unwrap()[0].seq, 10);
    }

    /// A journal entry that does not continue the stored chain (a damaged or foreign journal) is not stored,
    /// nor is anything after it; the trail stays as it was.
    #[test]
    fn a_journal_that_does_not_continue_the_chain_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = AuditDb::open_with(&dir.path().join("audit.db"), false).unwrap();
        db.append(&events(100, 2)).unwrap();
        db.flush().unwrap();
        let stored = db.head().unwrap();
        db.append(&events(200, 2)).unwrap();
        let killed = tempfile::tempdir().unwrap();
        crash_image(dir.path(), killed.path());
        // The stored trail moved on meanwhile in a different way (e.g. an older copy of audit.db restored
        // beside a newer journal): its head's hash no longer matches what the journal continues from.
        let conn = Connection::open(killed.path().join("audit.db")).unwrap();
        conn.execute("UPDATE audit_head SET last_hash = zeroblob(16)", [])
            .unwrap();
        drop(conn);
        let reopened = AuditDb::open_with(&killed.path().join("audit.db"), false).unwrap();
        let head = reopened.head().unwrap();
        assert_eq!(head.next_seq, stored.next_seq);
        assert_eq!(reopened.blocks(1, 9).unwrap().len(), 2);
    }

    /// Under steady appends with flushes the journal's two files are reused in turn: their size stays near
    /// ROTATE_BYTES each, however much is appended.
    #[test]
    fn the_journal_files_are_reused_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let db = AuditDb::open_with(&dir.path().join("audit.db"), false).unwrap();
        let big = |t: i64| -> Vec<trail::Encoded> {
            (0..8)
                .map(|i| trail::Encoded {
                    data: vec![u8::try_from(i).unwrap(); 64 << 10],
                    events: vec![trail::Indexed {
                        time: t + i,
                        keys: vec![t + i],
                    }],
                })
                .collect()
        };
        // 40 MiB, flushed every 2 MiB.
        for round in 0..80 {
            db.append(&big(round * 8)).unwrap();
            if round % 4 == 3 {
                db.flush().unwrap();
            }
        }
        let size = |i: usize| {
            std::fs::metadata(dir.path().join(format!("audit.journal-{i}")))
                .unwrap()
                .len()
        };
        let limit = super::super::audit_journal::ROTATE_BYTES + (3 << 20);
        assert!(
            size(0) <= limit && size(1) <= limit,
            "journal files {} and {} bytes",
            size(0),
            size(1)
        );
        assert!(size(1) > 0, "writing never moved to the second file");
        assert_eq!(db.head().unwrap().next_seq, 1 + 80 * 8);
        drop(db);
        // A clean close leaves nothing to recover, and the reopened trail is the same.
        let reopened = AuditDb::open_with(&dir.path().join("audit.db"), false).unwrap();
        assert_eq!(reopened.head().unwrap().next_seq, 1 + 80 * 8);
    }

    /// Another process opening the trail of a serving node (`stsd audit export`, `verify`) sees every event the
    /// node appended before — journaled ones included — and cannot append; the node goes on appending and its
    /// flush skips what the other process stored.
    #[test]
    fn a_second_opener_sees_journaled_events_and_the_owner_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let owner = AuditDb::open_with(&path, false).unwrap();
        owner.append(&events(100, 2)).unwrap();
        owner.flush().unwrap();
        owner.append(&events(200, 3)).unwrap();
        let head = owner.append(&events(300, 1)).unwrap();
        let other = AuditDb::open_with(&path, false).unwrap();
        assert_eq!(other.head().unwrap(), head);
        assert_eq!(other.blocks(1, 6).unwrap().len(), 6);
        assert!(
            other.append(&events(400, 1)).is_err(),
            "only the owner appends"
        );
        // The owner's pending groups are stored already: its flush skips them and the chain goes on.
        let next = owner.append(&events(500, 2)).unwrap();
        assert_eq!(next.next_seq, 9);
        assert_eq!(owner.head().unwrap(), next);
        assert_eq!(owner.blocks(1, 8).unwrap().len(), 8);
        drop(other);
        let third = AuditDb::open_with(&path, false).unwrap();
        assert_eq!(third.head().unwrap(), next);
    }
}
