//! The shared store: one PostgreSQL database that any number of stsd nodes use at once.
//!
//! * Every write transaction increments the single `generation` row (holding its lock), so commits are totally ordered
//!   and numbered; rows carry the generation that last wrote them and an update names the revision its
//!   writer saw (a stale one is a [`StoreError::Conflict`], never a lost update).
//! * The `changes` log records what each generation touched. Because generations commit in order, a reader
//!   that has applied generation G and reads `changes > G` misses nothing. Commits `NOTIFY stsd_changes`;
//!   every node `LISTEN`s on a dedicated connection ([`Store::wait_for_change`]) and catches up at once.
//! * Migrations and meta read-modify-writes run under advisory locks, so nodes starting together on an empty
//!   database agree on one schema, one first token key and one management account.
//!
//! * An IAM commit, another node's read of it and an audit append are each one statement (`COMMIT`, `FEED`,
//!   `APPEND`), prepared once per connection: one answer to wait for, one transaction. A commit's failed revision
//!   check divides by zero, which rolls the whole statement back; an append compares and swaps the head row and
//!   writes its rows only if that matched. The audit writer has its own connection, driven by the writer's own
//!   thread, and appends against the head it last wrote, re-reading it (two round trips, under the row lock)
//!   only when another node moved it.
//!
//! The driver is tokio-postgres on the store's own small runtime; the synchronous [`Store`] calls hand their
//! work to it and wait on a channel, so they may be called from any thread.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::sqlite::CHANGE_LOG_KEEP;
use super::{
    Appended, AuditHead, AuditRow, Change, DigestRecord, Encoded, ExportRecord, FailurePolicy,
    Failures, Feed, GroupSpan, Kind, MetaUpdate, Record, Snapshot, Store, StoreError, StoredBlock,
    Wake,
};
use crate::trail;

/// Connections kept open between calls (the LISTEN connection is separate).
const POOL_SIZE: usize = 4;
/// Most connections in use at once; further calls wait for one (a burst cannot exhaust the database's
/// `max_connections`).
const MAX_CONNECTIONS: usize = 16;
/// How long one store call may take before it is reported as a backend error.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Advisory-lock key under which migrations run.
const MIGRATION_LOCK: i64 = 0x7374_7364_0001;
/// The channel commits notify.
const CHANNEL: &str = "stsd_changes";

const MIGRATIONS: &[&str] = &[
    // v1: everything the embedded store has, in PostgreSQL types.
    "CREATE TABLE entities (
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL,
        revision BIGINT NOT NULL,
        PRIMARY KEY (kind, account, key)
    );
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE generation (
        id INT PRIMARY KEY CHECK (id = 1),
        value BIGINT NOT NULL,
        pruned_through BIGINT NOT NULL
    );
    INSERT INTO generation (id, value, pruned_through) VALUES (1, 0, 0);
    CREATE TABLE changes (
        generation BIGINT NOT NULL,
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        key TEXT NOT NULL
    );
    CREATE INDEX changes_generation ON changes (generation);
    CREATE TABLE single_use (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        expires BIGINT NOT NULL,
        PRIMARY KEY (scope, id)
    );
    CREATE INDEX single_use_expires ON single_use (expires);
    CREATE TABLE audit_events (
        seq BIGSERIAL PRIMARY KEY,
        account TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_time BIGINT NOT NULL,
        event_name TEXT NOT NULL,
        event_source TEXT NOT NULL,
        username TEXT NOT NULL,
        access_key_id TEXT NOT NULL,
        read_only BOOLEAN NOT NULL,
        resources TEXT NOT NULL,
        resource_names TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX audit_events_account_seq ON audit_events (account, seq);
    CREATE INDEX audit_events_time ON audit_events (event_time);
    CREATE TABLE failures (
        key TEXT PRIMARY KEY,
        window_start BIGINT NOT NULL,
        count INT NOT NULL,
        locked_until BIGINT NOT NULL
    );",
    // v2: the compact audit trail (see `crate::trail`); `audit_events` rows are moved into it by
    // `convert_legacy_audit` and the old table dropped.
    "CREATE TABLE audit_records (
        seq BIGINT PRIMARY KEY,
        hash BYTEA NOT NULL,
        data BYTEA NOT NULL
    );
    CREATE TABLE audit_spans (
        grp BIGINT PRIMARY KEY,
        time_lo BIGINT NOT NULL,
        time_hi BIGINT NOT NULL,
        hi_max BIGINT NOT NULL,
        lo_floor BIGINT NOT NULL
    );
    CREATE INDEX audit_spans_hi_max ON audit_spans (hi_max);
    CREATE INDEX audit_spans_lo_floor ON audit_spans (lo_floor, grp);
    CREATE TABLE audit_keys (
        epoch BIGINT NOT NULL,
        key BIGINT NOT NULL,
        grp BIGINT NOT NULL,
        PRIMARY KEY (epoch, key, grp)
    );
    CREATE TABLE audit_head (
        id INT PRIMARY KEY CHECK (id = 1),
        next_seq BIGINT NOT NULL,
        last_hash BYTEA NOT NULL,
        first_seq BIGINT NOT NULL,
        base_hash BYTEA NOT NULL,
        exported_through BIGINT NOT NULL,
        max_time BIGINT NOT NULL,
        legacy_through BIGINT NOT NULL,
        live_bytes BIGINT NOT NULL
    );
    INSERT INTO audit_head VALUES (1, 1, decode('00000000000000000000000000000000', 'hex'), 1,
        decode('00000000000000000000000000000000', 'hex'), 0, 0, 0, 0);
    CREATE TABLE audit_exports (
        n BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        events BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        prev_sha256 TEXT NOT NULL,
        oldest BIGINT NOT NULL,
        newest BIGINT NOT NULL,
        created BIGINT NOT NULL
    );
    CREATE TABLE audit_digests (
        end_time BIGINT PRIMARY KEY,
        body TEXT NOT NULL,
        signature TEXT NOT NULL
    );",
    // v3: a row is a block of `events` consecutive events from `seq` (earlier rows hold one each).
    "ALTER TABLE audit_records ADD COLUMN events BIGINT NOT NULL DEFAULT 1;",
];

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Change notifications not yet taken by [`Store::wait_for_change`].
#[derive(Default)]
struct Notifications {
    pending: Mutex<Pending>,
    cv: Condvar,
}

#[derive(Default)]
struct Pending {
    /// Announcements since the follower last looked.
    any: bool,
    /// The newest generation they named, if every one named one.
    through: Option<i64>,
    /// Some announcement named no generation (metadata, or a reconnect that may have missed commits).
    unknown: bool,
}

impl Notifications {
    /// One announcement: a commit's generation, or `None` for anything else.
    fn bump(&self, generation: Option<i64>) {
        if let Ok(mut p) = self.pending.lock() {
            p.any = true;
            match generation {
                Some(g) => p.through = Some(p.through.map_or(g, |t| t.max(g))),
                None => p.unknown = true,
            }
            self.cv.notify_all();
        }
    }

    /// Wait for announcements (or `timeout`) and take them.
    fn wait(&self, timeout: Duration) -> Wake {
        let deadline = Instant::now() + timeout;
        let Ok(mut p) = self.pending.lock() else {
            return Wake::Timeout;
        };
        while !p.any {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Timeout;
            }
            match self.cv.wait_timeout(p, left) {
                Ok((g, _)) => p = g,
                Err(_) => return Wake::Timeout,
            }
        }
        let through = if p.unknown { None } else { p.through };
        *p = Pending::default();
        Wake::Notified { through }
    }
}

pub struct PgStore {
    url: String,
    rt: tokio::runtime::Runtime,
    pool: Mutex<Vec<Conn>>,
    /// Connections in use (bounded by [`MAX_CONNECTIONS`]).
    in_use: Mutex<usize>,
    released: Condvar,
    notifications: Arc<Notifications>,
    /// The audit writer's own connection (beside the pool's [`MAX_CONNECTIONS`]), its statements prepared once,
    /// on the current-thread runtime that drives it ([`PgStore::with_audit_conn`]); held for the whole of an
    /// append, so one node's appends run one at a time. `None` until first used or after it broke.
    audit: Mutex<Option<(tokio::runtime::Runtime, AuditConn)>>,
    /// Appends that found the head moved since this node's last one (and took the two-round-trip way).
    audit_head_misses: std::sync::atomic::AtomicU64,
}

/// A pooled connection, with the statements of the calls every write and every follower makes (an IAM commit,
/// a read of the change feed) prepared on it the first time each is needed: sent unnamed, PostgreSQL parsed and
/// planned them again each time, which was most of a commit's server time.
struct Conn {
    client: Client,
    commit: Option<tokio_postgres::Statement>,
    feed: Option<tokio_postgres::Statement>,
}

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            commit: None,
            feed: None,
        }
    }

    /// [`COMMIT`] on this connection (prepared now if it is not yet).
    async fn commit_statement(&mut self) -> Result<tokio_postgres::Statement, StoreError> {
        use tokio_postgres::types::Type;
        const TA: Type = Type::TEXT_ARRAY;
        const IA: Type = Type::INT8_ARRAY;
        // updates, inserts, checked deletes, unchecked deletes, the count checked, the channel
        let types = [
            TA, TA, TA, TA, IA, TA, TA, TA, TA, TA, TA, TA, IA, TA, TA, TA,
        ];
        let types = [types.as_slice(), &[Type::INT8, Type::TEXT]].concat();
        prepared(&self.client, &mut self.commit, COMMIT, &types).await
    }

    /// [`FEED`] on this connection (prepared now if it is not yet).
    async fn feed_statement(&mut self) -> Result<tokio_postgres::Statement, StoreError> {
        let types = [tokio_postgres::types::Type::INT8];
        prepared(&self.client, &mut self.feed, FEED, &types).await
    }
}

/// The statement `slot` holds, or `sql` prepared on `client` now (and kept in `slot`).
async fn prepared(
    client: &Client,
    slot: &mut Option<tokio_postgres::Statement>,
    sql: &str,
    types: &[tokio_postgres::types::Type],
) -> Result<tokio_postgres::Statement, StoreError> {
    if let Some(s) = slot {
        return Ok(s.clone());
    }
    let s = client.prepare_typed(sql, types).await.map_err(backend)?;
    *slot = Some(s.clone());
    Ok(s)
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The audit writer's connection: no statement is parsed or planned again per append (PostgreSQL's logged
/// durations put parsing at a third of an append's server time), and appends never queue behind IAM calls
/// for a pooled connection.
struct AuditConn {
    client: Client,
    st: AuditStatements,
    /// The trail's head as this connection's last append left it: the next append checks it in the same round
    /// trip as its writes ([`append_expecting`]) instead of reading it first. Only a hint; `None` when unknown.
    head: Option<AuditHead>,
}

/// The statements of an append, prepared on one connection.
struct AuditStatements {
    head_for_update: tokio_postgres::Statement,
    append: tokio_postgres::Statement,
}

impl AuditStatements {
    /// Prepare them both, pipelined (one round trip).
    async fn prepare<C: tokio_postgres::GenericClient>(c: &C) -> Result<Self, StoreError> {
        use tokio_postgres::types::Type;
        // Associated consts: each use is a fresh value.
        const I: Type = Type::INT8;
        const B: Type = Type::BYTEA;
        const IA: Type = Type::INT8_ARRAY;
        const BA: Type = Type::BYTEA_ARRAY;
        let append_types = [
            I, B, I, B, I, I, // the head expected
            I, B, I, B, I, I, // the new head
            IA, IA, BA, BA, // records
            IA, IA, IA, IA, IA, // spans
            I, I, // floors
            IA, IA, // keys
        ];
        let (head_for_update, append) = tokio::try_join!(
            c.prepare_typed(HEAD_FOR_UPDATE, &[]),
            c.prepare_typed(APPEND, &append_types),
        )
        .map_err(backend)?;
        Ok(AuditStatements {
            head_for_update,
            append,
        })
    }
}

impl PgStore {
    /// Connect to `url` (`postgres://user[:pass]@host:port/db`), run the migrations (safely when several
    /// nodes start together) and start listening for other nodes' commits.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        // One worker: its work is waiting on sockets (the CPU is in the callers' threads), and a second worker
        // only added wake-ups (a call's future and its connection's task woken on different threads): 6.3 → 3.5
        // context switches per IAM write on this runtime.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stsd-postgres")
            .enable_all()
            .build()
            .map_err(backend)?;
        let store = PgStore {
            url: url.to_string(),
            rt,
            pool: Mutex::new(Vec::new()),
            in_use: Mutex::new(0),
            released: Condvar::new(),
            notifications: Arc::new(Notifications::default()),
            audit: Mutex::new(None),
            audit_head_misses: Default::default(),
        };
        store.call(|mut c| async move {
            let r = migrate(&mut c).await;
            (c, r)
        })?;
        store.listen();
        Ok(store)
    }

    /// Run `fut` on the store's runtime and wait for its output (at most [`CALL_TIMEOUT`]).
    fn on_runtime<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(CALL_TIMEOUT)
            .map_err(|_| StoreError::Backend("the database did not answer in time".into()))
    }

    /// Run `f` with a pooled connection on the store's runtime and wait for its result.
    fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = (Conn, Result<T, StoreError>)> + Send + 'static,
    {
        let _slot = self.acquire()?;
        let pooled = self.pool.lock().map_err(backend)?.pop();
        let url = self.url.clone();
        let (client, result) = self.on_runtime(async move {
            let client = match pooled {
                Some(c) if !c.is_closed() => Ok(c),
                _ => connect(&url).await.map(Conn::new),
            };
            match client {
                Ok(c) => {
                    let (mut c, r) = f(c).await;
                    if matches!(r, Err(StoreError::Backend(_) | StoreError::Corrupt(_))) {
                        // Whatever failed (a schema change under a prepared statement, a broken link) is not
                        // carried into the next call: its statements are prepared again.
                        c.commit = None;
                        c.feed = None;
                    }
                    (Some(c), r)
                }
                Err(e) => (None, Err(e)),
            }
        })?;
        if let Some(c) = client.filter(|c| !c.is_closed())
            && let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOL_SIZE
        {
            pool.push(c);
        }
        result
    }

    /// Run `f` with the audit writer's connection (connecting and preparing first if there is none), holding
    /// it, and this node's other appends, until `f` is done. After an error the connection is dropped.
    ///
    /// The connection lives on a current-thread runtime of its own that the calling thread drives (the audit
    /// writer's, never an async worker's): a request and its answer cross no other thread of stsd's.
    fn with_audit_conn<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(AuditConn) -> Fut,
        Fut: Future<Output = (AuditConn, Result<T, StoreError>)>,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StoreError::Backend(
                "an audit append must not block an async runtime's thread".into(),
            ));
        }
        let mut held = self.audit.lock().map_err(backend)?;
        let (rt, conn) = match held.take() {
            Some((rt, c)) if !c.client.is_closed() => (rt, Some(c)),
            _ => (
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(backend)?,
                None,
            ),
        };
        let url = self.url.clone();
        let append = async move {
            let conn = match conn {
                Some(c) => c,
                None => {
                    let opened = async {
                        // `connect` spawns the connection's task on this runtime.
                        let client = connect(&url).await?;
                        let st = AuditStatements::prepare(&client).await?;
                        Ok(AuditConn {
                            client,
                            st,
                            head: None,
                        })
                    };
                    match opened.await {
                        Ok(c) => c,
                        Err(e) => return (None, Err(e)),
                    }
                }
            };
            let (c, r) = f(conn).await;
            (Some(c), r)
        };
        // The timer is made inside the runtime (it needs its clock).
        let out = rt.block_on(async { tokio::time::timeout(CALL_TIMEOUT, append).await });
        let Ok((conn, result)) = out else {
            return Err(StoreError::Backend(
                "the database did not answer in time".into(),
            ));
        };
        // After a failure start over with a new connection (and runtime): whatever broke (a dropped link,
        // statements a schema change invalidated) is not carried into the next append.
        if result.is_ok()
            && let Some(c) = conn.filter(|c| !c.client.is_closed())
        {
            *held = Some((rt, c));
        }
        result
    }

    /// Wait for a connection slot; released when the guard drops.
    fn acquire(&self) -> Result<Slot<'_>, StoreError> {
        let mut n = self.in_use.lock().map_err(backend)?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        while *n >= MAX_CONNECTIONS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Backend(
                    "no database connection free in time".into(),
                ));
            }
            n = self.released.wait_timeout(n, left).map_err(backend)?.0;
        }
        *n += 1;
        Ok(Slot(self))
    }

    /// A dedicated connection that LISTENs for commits of every node and bumps the notification counter;
    /// reconnects (and bumps, so followers re-check) after losing the database.
    fn listen(&self) {
        let url = self.url.clone();
        let notes = self.notifications.clone();
        self.rt.spawn(async move {
            use futures_util::StreamExt;
            let mut backoff = Duration::from_millis(100);
            loop {
                match tokio_postgres::connect(&url, NoTls).await {
                    Ok((client, mut conn)) => {
                        let mut messages =
                            futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                        let driver = async {
                            while let Some(m) = messages.next().await {
                                match m {
                                    Ok(AsyncMessage::Notification(n)) => {
                                        notes.bump(n.payload().parse().ok())
                                    }
                                    Ok(_) => {}
                                    Err(_) => break,
                                }
                            }
                        };
                        let subscribe = async {
                            if client
                                .batch_execute(&format!("LISTEN {CHANNEL}"))
                                .await
                                .is_ok()
                            {
                                // Something may have been committed while we were not listening.
                                notes.bump(None);
                                backoff = Duration::from_millis(100);
                            }
                            std::future::pending::<()>().await;
                        };
                        tokio::select! { () = driver => {}, () = subscribe => {} }
                        tracing::warn!("lost the database's change notifications; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot reach the database for change notifications"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }
}

/// One connection slot in use.
struct Slot<'a>(&'a PgStore);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.in_use.lock() {
            *n = n.saturating_sub(1);
            self.0.released.notify_one();
        }
    }
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(backend)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

async fn migrate(c: &mut Client) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    let result = async {
        c.batch_execute("CREATE TABLE IF NOT EXISTS stsd_schema (version INT NOT NULL)")
            .await
            .map_err(backend)?;
        let row = c
            .query_opt("SELECT version FROM stsd_schema", &[])
            .await
            .map_err(backend)?;
        let version = match row {
            Some(r) => usize::try_from(r.get::<_, i32>(0))
                .map_err(|_| StoreError::Corrupt("negative schema version".into()))?,
            None => {
                c.execute("INSERT INTO stsd_schema (version) VALUES (0)", &[])
                    .await
                    .map_err(backend)?;
                0
            }
        };
        if version > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "database schema version {version} is newer than this stsd ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = c.transaction().await.map_err(backend)?;
            tx.batch_execute(sql).await.map_err(backend)?;
            let v = i32::try_from(i + 1).map_err(backend)?;
            tx.execute("UPDATE stsd_schema SET version = $1", &[&v])
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
        }
        let moved = convert_legacy_audit(c).await?;
        if moved > 0 {
            tracing::info!(
                events = moved,
                "moved the audit trail into the compact format"
            );
        }
        Ok(())
    }
    .await;
    let unlock = c
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result?;
    unlock.map_err(backend)?;
    Ok(())
}

fn kind_of(s: &str) -> Result<Kind, StoreError> {
    Kind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown entity kind {s}")))
}

/// What changed after generation `since`: one statement (so one snapshot for the generation and the log, and
/// one answer to wait for). `None` when the log no longer reaches back to `since` (the caller reloads
/// everything).
async fn read_feed(c: &mut Conn, since: i64) -> Result<Option<Feed>, StoreError> {
    let st = c.feed_statement().await?;
    let rows = c.query(&st, &[&since]).await.map_err(backend)?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("the generation row is missing".into()))?;
    let (generation, pruned): (i64, i64) = (row.get(0), row.get(1));
    if since < pruned {
        return Ok(None);
    }
    let mut feed = Feed {
        generation,
        ..Feed::default()
    };
    for r in rows {
        // The generation row alone (nothing changed) has no kind.
        let Some(kind) = r.get::<_, Option<&str>>(2) else {
            continue;
        };
        let kind = kind_of(kind)?;
        let account: String = r.get(3);
        let key: String = r.get(4);
        match r.get::<_, Option<String>>(5) {
            Some(body) => feed.puts.push(Record {
                kind,
                account,
                key,
                body,
                revision: r.get::<_, Option<i64>>(6).unwrap_or(0),
            }),
            None => feed.deletes.push((kind, account, key)),
        }
    }
    Ok(Some(feed))
}

/// The generation, how far the log was pruned, and each entity changed after generation `$1` with its current
/// row (none: deleted); one row with a null kind when nothing changed.
const FEED: &str = "SELECT g.value, g.pruned_through, c.kind, c.account, c.key, e.body, e.revision
     FROM generation g
     LEFT JOIN (SELECT DISTINCT kind, account, key FROM changes WHERE generation > $1) c ON true
     LEFT JOIN entities e ON e.kind = c.kind AND e.account = c.account AND e.key = c.key
     WHERE g.id = 1";

/// One IAM commit: one statement ([`COMMIT`]), so one answer to wait for and one transaction. A change whose
/// expected revision does not hold (or an insert of a key that exists) divides by zero, which rolls the whole
/// statement back: a [`StoreError::Conflict`]. Every thousandth generation then prunes the change log in a
/// transaction of its own.
async fn apply_changes(c: &mut Conn, changes: &[Change]) -> Result<i64, StoreError> {
    use tokio_postgres::error::SqlState;
    let mut updates = Columns::default();
    let mut inserts = Columns::default();
    let mut checked_deletes = Columns::default();
    let mut deletes = Columns::default();
    for ch in changes {
        match ch {
            Change::Put {
                record: r,
                expected,
            } => {
                let columns = match expected {
                    Some(rev) => {
                        updates.revisions.push(*rev);
                        &mut updates
                    }
                    None => &mut inserts,
                };
                columns.push(r.kind, &r.account, &r.key);
                columns.bodies.push(&r.body);
            }
            Change::Delete {
                kind,
                account,
                key,
                expected,
            } => match expected {
                Some(rev) => {
                    checked_deletes.push(*kind, account, key);
                    checked_deletes.revisions.push(*rev);
                }
                None => deletes.push(*kind, account, key),
            },
        }
    }
    let checked = updates.kinds.len() + inserts.kinds.len() + checked_deletes.kinds.len();
    let checked = i64::try_from(checked).unwrap_or(i64::MAX);
    let st = c.commit_statement().await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 18] = [
        &updates.kinds,
        &updates.accounts,
        &updates.keys,
        &updates.bodies,
        &updates.revisions,
        &inserts.kinds,
        &inserts.accounts,
        &inserts.keys,
        &inserts.bodies,
        &checked_deletes.kinds,
        &checked_deletes.accounts,
        &checked_deletes.keys,
        &checked_deletes.revisions,
        &deletes.kinds,
        &deletes.accounts,
        &deletes.keys,
        &checked,
        &CHANNEL,
    ];
    let generation: i64 = match c.query_one(&st, &params).await {
        Ok(row) => row.get(0),
        Err(e) if e.code() == Some(&SqlState::DIVISION_BY_ZERO) => {
            let rows: Vec<String> = changes
                .iter()
                .map(|ch| {
                    let (kind, account, key) = match ch {
                        Change::Put { record: r, .. } => (r.kind, &r.account, &r.key),
                        Change::Delete {
                            kind, account, key, ..
                        } => (*kind, account, key),
                    };
                    super::entity_name(kind, account, key)
                })
                .collect();
            return Err(StoreError::Conflict(format!("one of: {}", rows.join(", "))));
        }
        Err(e) => return Err(backend(e)),
    };
    if generation % 1000 == 0 {
        // Housekeeping after the commit: a failure here must not report the committed write as failed (the
        // next prune removes what this one left).
        if let Err(e) = prune_change_log(c, generation - CHANGE_LOG_KEEP).await {
            tracing::warn!(error = %e, "pruning the change log failed; the next prune will");
        }
    }
    Ok(generation)
}

/// The columns of the changes that take one path through [`COMMIT`], an array each.
#[derive(Default)]
struct Columns<'a> {
    kinds: Vec<&'a str>,
    accounts: Vec<&'a str>,
    keys: Vec<&'a str>,
    bodies: Vec<&'a str>,
    revisions: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, kind: Kind, account: &'a str, key: &'a str) {
        self.kinds.push(kind.as_str());
        self.accounts.push(account);
        self.keys.push(key);
    }
}

/// An IAM commit as one statement (its own transaction). `g` increments the generation row before anything
/// else runs (the main query reads it first; every part that writes reads it too), so its row lock orders every
/// node's commits, and each row written takes the new generation as its revision. Updates (`$1`–`$5`) and
/// deletes (`$10`–`$13`) name the revision their writer saw: under READ COMMITTED a row another commit changed
/// meanwhile is re-checked in its newest version and no longer matches; an insert (`$6`–`$9`) of a key that
/// exists does nothing. Either way fewer rows than the `$17` checked changes were written, and the division by
/// zero undoes it all. Unchecked deletes (`$14`–`$16`: rows the writer never saw) remove what is there. Then
/// the change log, and `NOTIFY` on `$18` with the generation (delivered when the transaction commits).
const COMMIT: &str = "WITH g AS (UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value),
     u AS (UPDATE entities e SET body = c.body, revision = (SELECT value FROM g)
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS c(kind, account, key, body, rev)
           WHERE e.kind = c.kind AND e.account = c.account AND e.key = c.key AND e.revision = c.rev RETURNING 1),
     i AS (INSERT INTO entities (kind, account, key, body, revision)
           SELECT c.*, (SELECT value FROM g) FROM UNNEST($6::text[], $7::text[], $8::text[], $9::text[]) AS c
           ON CONFLICT (kind, account, key) DO NOTHING RETURNING 1),
     dc AS (DELETE FROM entities e
           USING UNNEST($10::text[], $11::text[], $12::text[], $13::bigint[]) AS c(kind, account, key, rev)
           WHERE (SELECT value FROM g) IS NOT NULL
             AND e.kind = c.kind AND e.account = c.account AND e.key = c.key AND e.revision = c.rev RETURNING 1),
     d AS (DELETE FROM entities e USING UNNEST($14::text[], $15::text[], $16::text[]) AS c(kind, account, key)
           WHERE (SELECT value FROM g) IS NOT NULL
             AND e.kind = c.kind AND e.account = c.account AND e.key = c.key),
     l AS (INSERT INTO changes (generation, kind, account, key)
           SELECT (SELECT value FROM g), * FROM UNNEST($1::text[] || $6::text[] || $10::text[] || $14::text[],
             $2::text[] || $7::text[] || $11::text[] || $15::text[], $3::text[] || $8::text[] || $12::text[] || $16::text[]))
     SELECT g.value, 1 / (((SELECT count(*) FROM u) + (SELECT count(*) FROM i) + (SELECT count(*) FROM dc)) = $17)::int,
       pg_notify($18, g.value::text)
     FROM g";

/// Drop the change log through generation `through` (if positive), in a transaction of its own.
async fn prune_change_log(c: &mut Client, through: i64) -> Result<(), StoreError> {
    if through <= 0 {
        return Ok(());
    }
    let tx = c.transaction().await.map_err(backend)?;
    tx.execute("DELETE FROM changes WHERE generation <= $1", &[&through])
        .await
        .map_err(backend)?;
    tx.execute(
        "UPDATE generation SET pruned_through = GREATEST(pruned_through, $1) WHERE id = 1",
        &[&through],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)
}

impl Store for PgStore {
    fn load_all(&self) -> Result<Snapshot, StoreError> {
        self.call(|mut c| async move {
            let r = async {
                let tx = c
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await
                    .map_err(backend)?;
                let generation: i64 = tx
                    .query_one("SELECT value FROM generation WHERE id = 1", &[])
                    .await
                    .map_err(backend)?
                    .get(0);
                let rows = tx
                    .query(
                        "SELECT kind, account, key, body, revision FROM entities",
                        &[],
                    )
                    .await
                    .map_err(backend)?;
                let mut records = Vec::with_capacity(rows.len());
                for r in rows {
                    records.push(Record {
                        kind: kind_of(r.get(0))?,
                        account: r.get(1),
                        key: r.get(2),
                        body: r.get(3),
                        revision: r.get(4),
                    });
                }
                tx.commit().await.map_err(backend)?;
                Ok(Snapshot {
                    records,
                    generation,
                })
            }
            .await;
            (c, r)
        })
    }

    fn apply(&self, changes: &[Change]) -> Result<i64, StoreError> {
        let changes = changes.to_vec();
        self.call(|mut c| async move {
            let r = apply_changes(&mut c, &changes).await;
            (c, r)
        })
    }

    fn changes_since(&self, since: i64) -> Result<Option<Feed>, StoreError> {
        self.call(move |mut c| async move {
            let r = read_feed(&mut c, since).await;
            (c, r)
        })
    }

    fn wait_for_change(&self, timeout: Duration) -> Wake {
        self.notifications.wait(timeout)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.call(|c| async move {
            let r = c
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(backend);
            (c, r)
        })
    }

    fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.call(move |c| async move {
            let r = c
                .query_opt("SELECT value FROM meta WHERE name = $1", &[&name])
                .await
                .map(|row| row.map(|r| r.get(0)))
                .map_err(backend);
            (c, r)
        })
    }

    fn put_meta(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let (name, value) = (name.to_string(), value.to_string());
        self.call(move |c| async move {
            let r = c
                .execute(
                    "INSERT INTO meta (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[&name, &value],
                )
                .await
                .map(|_| ())
                .map_err(backend);
            (c, r)
        })
    }

    fn update_meta(
        &self,
        name: &str,
        f: &mut MetaUpdate<'_>,
    ) -> Result<Option<String>, StoreError> {
        // Compare-and-set on the value: `f` runs here, between reading and a conditional write; if another
        // node changed the value meanwhile the write matches nothing and `f` runs again on the new value.
        for _ in 0..100 {
            let current = self.get_meta(name)?;
            let Some(new) = f(current.as_deref())? else {
                return Ok(current);
            };
            let (n, cur, value) = (name.to_string(), current.clone(), new.clone());
            let written = self.call(move |c| async move {
                let r = async {
                    let rows = match &cur {
                        None => c
                            .execute(
                                "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                                &[&n, &value],
                            )
                            .await,
                        Some(old) => c
                            .execute(
                                "UPDATE meta SET value = $2 WHERE name = $1 AND value = $3",
                                &[&n, &value, old],
                            )
                            .await,
                    }
                    .map_err(backend)?;
                    if rows == 1 {
                        c.execute("SELECT pg_notify($1, 'meta')", &[&CHANNEL])
                            .await
                            .map_err(backend)?;
                    }
                    Ok(rows == 1)
                }
                .await;
                (c, r)
            })?;
            if written {
                return Ok(Some(new));
            }
        }
        Err(StoreError::Conflict(format!("meta value {name}")))
    }

    fn claim_once(
        &self,
        scope: &str,
        id: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (scope, id) = (scope.to_string(), id.to_string());
        self.call(move |mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                tx.execute("DELETE FROM single_use WHERE expires <= $1", &[&now])
                    .await
                    .map_err(backend)?;
                let n = tx
                    .execute(
                        "INSERT INTO single_use (scope, id, expires) VALUES ($1, $2, $3)
                         ON CONFLICT (scope, id) DO NOTHING",
                        &[&scope, &id, &expires],
                    )
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(n == 1)
            }
            .await;
            (c, r)
        })
    }

    fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: FailurePolicy,
    ) -> Result<Option<i64>, StoreError> {
        let key = key.to_string();
        self.call(move |mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                // Serialize concurrent failures of one key on every node, also before its row exists.
                tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
                    .await
                    .map_err(backend)?;
                let prev = tx
                    .query_opt(
                        "SELECT window_start, count, locked_until FROM failures WHERE key = $1",
                        &[&key],
                    )
                    .await
                    .map_err(backend)?
                    .map(|r| Failures {
                        window_start: r.get(0),
                        count: u32::try_from(r.get::<_, i32>(1)).unwrap_or(0),
                        locked_until: r.get(2),
                    })
                    .unwrap_or_default();
                let (next, locked) = prev.after_failure(now, policy);
                let count = i32::try_from(next.count).unwrap_or(i32::MAX);
                tx.execute(
                    "INSERT INTO failures (key, window_start, count, locked_until) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start,
                     count = excluded.count, locked_until = excluded.locked_until",
                    &[&key, &next.window_start, &count, &next.locked_until],
                )
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(locked.then_some(next.locked_until))
            }
            .await;
            (c, r)
        })
    }

    fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let key = key.to_string();
        self.call(move |c| async move {
            let r = c
                .query_opt("SELECT locked_until FROM failures WHERE key = $1", &[&key])
                .await
                .map(|row| row.map(|r| r.get::<_, i64>(0)).filter(|u| *u > now))
                .map_err(backend);
            (c, r)
        })
    }

    fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.call(move |c| async move {
            let r = c
                .execute("DELETE FROM failures WHERE key = $1", &[&key])
                .await
                .map(|_| ())
                .map_err(backend);
            (c, r)
        })
    }

    fn audit_append(&self, batch: &[Encoded]) -> Result<AuditHead, StoreError> {
        let batch = batch.to_vec();
        let (head, missed) = self.with_audit_conn(move |mut conn| async move {
            let expected = conn.head.take();
            let tried = expected.is_some();
            let r = async {
                if let Some(head) = expected
                    && let Some(a) = append_expecting(&conn, head, &batch).await?
                {
                    return Ok((a.head, false));
                }
                append_locked(&conn, |head| trail::seal(head, &batch))
                    .await
                    .map(|a| (a.head, tried))
            }
            .await;
            conn.head = r.as_ref().ok().map(|(h, _)| h.clone());
            (conn, r)
        })?;
        if missed {
            self.audit_head_misses
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(head)
    }

    fn audit_import(&self, a: &Appended) -> Result<(), StoreError> {
        let a = a.clone();
        self.with_audit_conn(move |mut conn| async move {
            let r = append_locked(&conn, |_| a).await.map(|_| ());
            conn.head = None;
            (conn, r)
        })
    }

    fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.call(move |mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                let (h, _) = audit_head(&tx, false).await?;
                tx.commit().await.map_err(backend)?;
                Ok(h)
            }
            .await;
            (c, r)
        })
    }

    fn audit_blocks(&self, from: i64, to: i64) -> Result<Vec<StoredBlock>, StoreError> {
        // A block holding event `from` starts at most MAX_BLOCK_EVENTS - 1 before it.
        let earliest = from - (trail::MAX_BLOCK_EVENTS - 1);
        self.call(move |c| async move {
            let r = async {
                let rows = c
                    .query(
                        "SELECT seq, events, hash, data FROM audit_records
                         WHERE seq BETWEEN $1 AND $2 AND seq + events > $3 ORDER BY seq",
                        &[&earliest, &to, &from],
                    )
                    .await
                    .map_err(backend)?;
                Ok(rows
                    .iter()
                    .map(|r| StoredBlock {
                        seq: r.get(0),
                        count: r.get(1),
                        hash: r.get(2),
                        data: r.get(3),
                    })
                    .collect())
            }
            .await;
            (c, r)
        })
    }

    fn audit_spans(&self, from: i64, to: i64) -> Result<Vec<GroupSpan>, StoreError> {
        self.call(move |c| async move {
            let r = async {
                let rows = c
                    .query(
                        "SELECT grp, time_lo, time_hi, hi_max FROM audit_spans WHERE grp BETWEEN $1 AND $2
                         ORDER BY grp",
                        &[&from, &to],
                    )
                    .await
                    .map_err(backend)?;
                Ok(rows
                    .iter()
                    .map(|r| GroupSpan {
                        grp: r.get(0),
                        time_lo: r.get(1),
                        time_hi: r.get(2),
                        hi_max: r.get(3),
                    })
                    .collect())
            }
            .await;
            (c, r)
        })
    }

    fn audit_first_group_since(&self, since: i64) -> Result<Option<i64>, StoreError> {
        self.call(move |c| async move {
            let r = c
                .query_opt(
                    "SELECT grp FROM audit_spans WHERE hi_max >= $1 ORDER BY hi_max, grp LIMIT 1",
                    &[&since],
                )
                .await
                .map(|row| row.map(|r| r.get(0)))
                .map_err(backend);
            (c, r)
        })
    }

    fn audit_newest_group_until(&self, until: i64) -> Result<Option<i64>, StoreError> {
        self.call(move |c| async move {
            let r = c
                .query_opt(
                    "SELECT grp FROM audit_spans WHERE lo_floor <= $1 ORDER BY lo_floor DESC, grp DESC LIMIT 1",
                    &[&until],
                )
                .await
                .map(|row| row.map(|r| r.get(0)))
                .map_err(backend);
            (c, r)
        })
    }

    fn audit_key_groups(
        &self,
        key: i64,
        from: i64,
        to: i64,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        self.call(move |c| async move {
            // Epochs in chunks: each query probes the key in up to EPOCHS_PER_QUERY epochs (index probes on
            // the leading column) and sorts the few groups it finds.
            let sql = if descending {
                "SELECT grp FROM audit_keys WHERE epoch = ANY($1) AND key = $2 AND grp BETWEEN $3 AND $4
                 ORDER BY grp DESC"
            } else {
                "SELECT grp FROM audit_keys WHERE epoch = ANY($1) AND key = $2 AND grp BETWEEN $3 AND $4
                 ORDER BY grp"
            };
            let r = async {
                let (lo, hi) = (trail::epoch_of(from), trail::epoch_of(to));
                let mut out: Vec<i64> = Vec::new();
                let mut next = if descending { hi } else { lo };
                while (lo..=hi).contains(&next) && out.len() < limit {
                    let chunk: Vec<i64> = if descending {
                        (lo.max(next - EPOCHS_PER_QUERY + 1)..=next).collect()
                    } else {
                        (next..=hi.min(next + EPOCHS_PER_QUERY - 1)).collect()
                    };
                    let rows = c
                        .query(sql, &[&chunk, &key, &from, &to])
                        .await
                        .map_err(backend)?;
                    out.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
                    next = if descending {
                        next - EPOCHS_PER_QUERY
                    } else {
                        next + EPOCHS_PER_QUERY
                    };
                }
                out.truncate(limit);
                Ok(out)
            }
            .await;
            (c, r)
        })
    }

    fn audit_purge(
        &self,
        through: i64,
        base_hash: &[u8],
        keys: &[(i64, i64)],
    ) -> Result<(), StoreError> {
        let base_hash = base_hash.to_vec();
        let below = trail::group_of(through + 1);
        let (ks, gs): (Vec<i64>, Vec<i64>) =
            keys.iter().filter(|(_, g)| *g < below).copied().unzip();
        self.call(move |mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                let (head, _) = audit_head(&tx, true).await?;
                if through < head.first_seq || through >= head.next_seq {
                    return Ok(());
                }
                let (records, payload): (i64, i64) = {
                    let r = tx
                        .query_one(
                            "WITH d AS (DELETE FROM audit_records WHERE seq <= $1
                             RETURNING octet_length(data) + octet_length(hash) AS n)
                             SELECT count(*), COALESCE(sum(n), 0)::BIGINT FROM d",
                            &[&through],
                        )
                        .await
                        .map_err(backend)?;
                    (r.get(0), r.get(1))
                };
                let spans = tx
                    .execute("DELETE FROM audit_spans WHERE grp < $1", &[&below])
                    .await
                    .map_err(backend)?;
                let keys = tx
                    .execute(
                        "DELETE FROM audit_keys k USING UNNEST($1::bigint[], $2::bigint[]) AS d(key, grp)
                         WHERE k.epoch = d.grp >> 5 AND k.key = d.key AND k.grp = d.grp",
                        &[&ks, &gs],
                    )
                    .await
                    .map_err(backend)?;
                let removed = payload
                    + records * record_bytes(0)
                    + KEY_ROW_BYTES * i64::try_from(keys).unwrap_or(0)
                    + SPAN_ROW_BYTES * i64::try_from(spans).unwrap_or(0);
                let next = through + 1;
                tx.execute(
                    "UPDATE audit_head SET first_seq = $1, base_hash = $2,
                     live_bytes = GREATEST(live_bytes - $3, 0) WHERE id = 1",
                    &[&next, &base_hash, &removed],
                )
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)
            }
            .await;
            (c, r)
        })
    }

    fn audit_bytes(&self) -> Result<u64, StoreError> {
        self.call(move |c| async move {
            let r = c
                .query_one("SELECT live_bytes FROM audit_head WHERE id = 1", &[])
                .await
                .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
                .map_err(backend);
            (c, r)
        })
    }

    fn audit_claim_export(
        &self,
        expected: i64,
        through: i64,
        files: &[ExportRecord],
    ) -> Result<bool, StoreError> {
        let files = files.to_vec();
        self.call(move |mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                let (head, _) = audit_head(&tx, true).await?;
                if head.exported_through != expected {
                    return Ok(false);
                }
                for f in &files {
                    tx.execute(
                        "INSERT INTO audit_exports (name, first_seq, last_seq, events, sha256, prev_sha256,
                         oldest, newest, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        &[
                            &f.name,
                            &f.first_seq,
                            &f.last_seq,
                            &f.events,
                            &f.sha256,
                            &f.prev_sha256,
                            &f.oldest,
                            &f.newest,
                            &f.created,
                        ],
                    )
                    .await
                    .map_err(backend)?;
                }
                tx.execute(
                    "UPDATE audit_head SET exported_through = $1 WHERE id = 1",
                    &[&through],
                )
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }
            .await;
            (c, r)
        })
    }

    fn audit_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        self.call(move |c| async move {
            let r = c
                .query(
                    "SELECT name, first_seq, last_seq, events, sha256, prev_sha256, oldest, newest, created
                     FROM audit_exports ORDER BY n",
                    &[],
                )
                .await
                .map(|rows| {
                    rows.iter()
                        .map(|r| ExportRecord {
                            name: r.get(0),
                            first_seq: r.get(1),
                            last_seq: r.get(2),
                            events: r.get(3),
                            sha256: r.get(4),
                            prev_sha256: r.get(5),
                            oldest: r.get(6),
                            newest: r.get(7),
                            created: r.get(8),
                        })
                        .collect()
                })
                .map_err(backend);
            (c, r)
        })
    }

    fn audit_add_digest(
        &self,
        d: &DigestRecord,
        previous_end: Option<i64>,
    ) -> Result<bool, StoreError> {
        let d = d.clone();
        self.call(move |mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                // Serialize digest writers on the trail's head row.
                audit_head(&tx, true).await?;
                let newest: Option<i64> = tx
                    .query_one("SELECT max(end_time) FROM audit_digests", &[])
                    .await
                    .map_err(backend)?
                    .get(0);
                if newest != previous_end {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO audit_digests (end_time, body, signature) VALUES ($1, $2, $3)",
                    &[&d.end_time, &d.body, &d.signature],
                )
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }
            .await;
            (c, r)
        })
    }

    fn audit_digests(&self) -> Result<Vec<DigestRecord>, StoreError> {
        self.call(move |c| async move {
            let r = c
                .query(
                    "SELECT end_time, body, signature FROM audit_digests ORDER BY end_time",
                    &[],
                )
                .await
                .map(|rows| {
                    rows.iter()
                        .map(|r| DigestRecord {
                            end_time: r.get(0),
                            body: r.get(1),
                            signature: r.get(2),
                        })
                        .collect()
                })
                .map_err(backend);
            (c, r)
        })
    }

    fn is_shared(&self) -> bool {
        true
    }
}

/// PostgreSQL's table files keep their high-water mark after a DELETE (the space is reused, not returned), so
/// the size the `--audit-max-bytes` limit is held to is the trail's live bytes, kept in the head row: each
/// row's payload plus an estimate of its tuple and index overhead (tuple header, line pointer, B-tree entries).
fn record_bytes(payload: usize) -> i64 {
    i64::try_from(payload).unwrap_or(i64::MAX) + 60
}
const KEY_ROW_BYTES: i64 = 84;
// The SQL above and below computes an index epoch as `grp >> 5`.
const _: () = assert!(trail::EPOCH_BITS == 5);
/// Index epochs one lookup query probes.
const EPOCHS_PER_QUERY: i64 = 256;
const SPAN_ROW_BYTES: i64 = 110;

/// One append in its own transaction, in two round trips: `BEGIN` pipelined with the head's `SELECT … FOR
/// UPDATE` (the row lock that orders every node's appends), then — once `make` has sealed the batch against that
/// head — [`APPEND`] and `COMMIT`, pipelined. On any error an explicit `ROLLBACK` leaves the connection idle.
/// The answer waits for the `COMMIT`: the append is durable when it returns.
async fn append_locked(
    conn: &AuditConn,
    make: impl FnOnce(&AuditHead) -> Appended,
) -> Result<Appended, StoreError> {
    let c = &conn.client;
    let r = async {
        let (begun, row) = tokio::join!(
            c.batch_execute("BEGIN"),
            c.query_one(&conn.st.head_for_update, &[])
        );
        begun.map_err(backend)?;
        let (head, _) = head_of(&row.map_err(backend)?);
        let a = make(&head);
        let commit = async { c.batch_execute("COMMIT").await.map_err(backend) };
        let (written, ()) = tokio::try_join!(append_if_head(c, &conn.st, &head, &a), commit)?;
        if !written {
            return Err(StoreError::Corrupt(
                "the audit trail's head changed under its lock".into(),
            ));
        }
        Ok(a)
    }
    .await;
    if r.is_err() {
        // Nothing to roll back is only a notice.
        let _ = c.batch_execute("ROLLBACK").await;
    }
    r
}

/// One append in one round trip and one statement, when this node knows the head: [`APPEND`] of the batch
/// sealed against `expected`, in a transaction of its own. If another node (or a purge, export or import)
/// moved the head meanwhile, nothing is written: `Ok(None)`, and the caller appends the two-round-trip way.
async fn append_expecting(
    conn: &AuditConn,
    expected: AuditHead,
    batch: &[Encoded],
) -> Result<Option<Appended>, StoreError> {
    let a = trail::seal(&expected, batch);
    let written = append_if_head(&conn.client, &conn.st, &expected, &a).await?;
    Ok(written.then_some(a))
}

/// Run [`APPEND`]: write `a` if the head row still is `expected`. Returns whether it did.
async fn append_if_head<C: tokio_postgres::GenericClient>(
    c: &C,
    st: &AuditStatements,
    expected: &AuditHead,
    a: &Appended,
) -> Result<bool, StoreError> {
    let seqs: Vec<i64> = a.blocks.iter().map(|b| b.seq).collect();
    let counts: Vec<i64> = a.blocks.iter().map(|b| b.count).collect();
    let hashes: Vec<&[u8]> = a.blocks.iter().map(|b| b.hash.as_slice()).collect();
    let data: Vec<&[u8]> = a.blocks.iter().map(|b| b.data.as_slice()).collect();
    let grps: Vec<i64> = a.spans.iter().map(|s| s.grp).collect();
    let los: Vec<i64> = a.spans.iter().map(|s| s.time_lo).collect();
    let his: Vec<i64> = a.spans.iter().map(|s| s.time_hi).collect();
    let maxes: Vec<i64> = a.spans.iter().map(|s| s.hi_max).collect();
    let floors = trail::lo_floors(&a.spans);
    let (ks, gs): (Vec<i64>, Vec<i64>) = a.keys.iter().copied().unzip();
    let added: i64 = a
        .blocks
        .iter()
        .map(|b| record_bytes(b.data.len() + b.hash.len()))
        .sum::<i64>()
        + KEY_ROW_BYTES * i64::try_from(a.keys.len()).unwrap_or(0)
        + SPAN_ROW_BYTES * i64::try_from(a.spans.len()).unwrap_or(0);
    // Earlier groups' floors come down to this batch's earliest time (few rows, if any).
    let (floor, first_grp) = (
        floors.first().copied().unwrap_or(i64::MAX),
        a.spans.first().map_or(i64::MIN, |s| s.grp),
    );
    let (e, h) = (expected, &a.head);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 25] = [
        &e.next_seq,
        &e.last_hash,
        &e.first_seq,
        &e.base_hash,
        &e.exported_through,
        &e.max_time,
        &h.next_seq,
        &h.last_hash,
        &h.first_seq,
        &h.base_hash,
        &h.max_time,
        &added,
        &seqs,
        &counts,
        &hashes,
        &data,
        &grps,
        &los,
        &his,
        &maxes,
        &floors,
        &floor,
        &first_grp,
        &ks,
        &gs,
    ];
    let row = c.query_one(&st.append, &params).await.map_err(backend)?;
    Ok(row.get::<_, i64>(0) == 1)
}

/// An append as one statement: `h` moves the head row from what the writer sealed against (`$1`–`$6`) to the
/// new head (`$7`–`$12`) — the compare and the swap in one, under the row lock that orders every node's appends
/// (a head another transaction moved meanwhile is re-checked in its newest version and no longer matches) —
/// and the records, spans, lowered floors and index keys are written only if it did. The main query reads `h`
/// first; the other parts, which nothing reads, run after it. Returns 1 when written, 0 when the head had moved.
/// Only appends, purges, export claims and digests move audit rows, and each moves the head too, so when `h`
/// matched nothing else changed since this statement's snapshot.
const APPEND: &str = "WITH h AS (UPDATE audit_head SET next_seq = $7, last_hash = $8, first_seq = $9, base_hash = $10,
         max_time = $11, live_bytes = live_bytes + $12
         WHERE id = 1 AND next_seq = $1 AND last_hash = $2 AND first_seq = $3 AND base_hash = $4
           AND exported_through = $5 AND max_time = $6 RETURNING 1),
     r AS (INSERT INTO audit_records (seq, events, hash, data)
         SELECT * FROM UNNEST($13::bigint[], $14::bigint[], $15::bytea[], $16::bytea[]) WHERE EXISTS (SELECT FROM h)),
     s AS (INSERT INTO audit_spans (grp, time_lo, time_hi, hi_max, lo_floor)
         SELECT * FROM UNNEST($17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[])
         WHERE EXISTS (SELECT FROM h)
         ON CONFLICT (grp) DO UPDATE SET time_lo = LEAST(audit_spans.time_lo, EXCLUDED.time_lo),
         time_hi = GREATEST(audit_spans.time_hi, EXCLUDED.time_hi),
         hi_max = GREATEST(audit_spans.hi_max, EXCLUDED.hi_max),
         lo_floor = LEAST(audit_spans.lo_floor, EXCLUDED.lo_floor)),
     f AS (UPDATE audit_spans SET lo_floor = $22 WHERE lo_floor > $22 AND grp < $23 AND EXISTS (SELECT FROM h)),
     k AS (INSERT INTO audit_keys (epoch, key, grp)
         SELECT g >> 5, k, g FROM UNNEST($24::bigint[], $25::bigint[]) AS u(k, g) WHERE EXISTS (SELECT FROM h)
         ON CONFLICT DO NOTHING)
     SELECT count(*) FROM h";

const HEAD_FOR_UPDATE: &str =
    "SELECT next_seq, last_hash, first_seq, base_hash, exported_through, max_time, legacy_through
         FROM audit_head WHERE id = 1 FOR UPDATE";

fn head_of(r: &tokio_postgres::Row) -> (AuditHead, i64) {
    (
        AuditHead {
            next_seq: r.get(0),
            last_hash: r.get(1),
            first_seq: r.get(2),
            base_hash: r.get(3),
            exported_through: r.get(4),
            max_time: r.get(5),
        },
        r.get(6),
    )
}

/// The audit trail's head (and the legacy conversion's progress); `lock` holds its row until the transaction
/// ends, which serializes appends, purges, export claims and digests across nodes.
async fn audit_head(
    tx: &tokio_postgres::Transaction<'_>,
    lock: bool,
) -> Result<(AuditHead, i64), StoreError> {
    let sql = if lock {
        HEAD_FOR_UPDATE
    } else {
        "SELECT next_seq, last_hash, first_seq, base_hash, exported_through, max_time, legacy_through
         FROM audit_head WHERE id = 1"
    };
    // Typed (no parameters): one round trip, no separate prepare.
    let r = tx.query_typed_one(sql, &[]).await.map_err(backend)?;
    Ok(head_of(&r))
}

/// Move the events of the old single-table trail (`audit_events`) into the compact one, a chunk per
/// transaction (each with its progress marker), then drop the old table. Runs under the migration lock.
async fn convert_legacy_audit(c: &mut Client) -> Result<usize, StoreError> {
    let exists = c
        .query_one("SELECT to_regclass('audit_events') IS NOT NULL", &[])
        .await
        .map_err(backend)?
        .get::<_, bool>(0);
    if !exists {
        return Ok(0);
    }
    let mut codec = trail::Codec::new();
    let mut moved = 0;
    loop {
        let tx = c.transaction().await.map_err(backend)?;
        let (head, done) = audit_head(&tx, true).await?;
        let rows = tx
            .query(
                "SELECT seq, account, event_id, event_time, event_name, event_source, username, access_key_id,
                 read_only, resources, body FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT 4096",
                &[&done],
            )
            .await
            .map_err(backend)?;
        let Some(last) = rows.last().map(|r| r.get::<_, i64>(0)) else {
            tx.batch_execute("DROP TABLE audit_events")
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            return Ok(moved);
        };
        let mut legacy = Vec::with_capacity(rows.len());
        for r in &rows {
            let resources: String = r.get(9);
            legacy.push(AuditRow {
                seq: r.get(0),
                account: r.get(1),
                event_id: r.get(2),
                event_time: r.get(3),
                event_name: r.get(4),
                event_source: r.get(5),
                username: r.get(6),
                access_key_id: r.get(7),
                read_only: r.get(8),
                resources: serde_json::from_str(&resources)
                    .map_err(|e| StoreError::Corrupt(format!("audit resources: {e}")))?,
                body: r.get(10),
            });
        }
        let batch = codec.encode(&legacy);
        let st = AuditStatements::prepare(&tx).await?;
        if !append_if_head(&tx, &st, &head, &trail::seal(&head, &batch)).await? {
            return Err(StoreError::Corrupt(
                "the audit trail's head changed under its lock".into(),
            ));
        }
        tx.execute(
            "UPDATE audit_head SET legacy_through = $1 WHERE id = 1",
            &[&last],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        moved += rows.len();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What the follower learns from a wake-up: the newest announced generation (so it can skip its own
    /// commits), or "unknown" as soon as one announcement named none; nothing announced is a timeout.
    #[test]
    fn notifications_name_the_newest_generation_or_none() {
        let n = Notifications::default();
        assert_eq!(n.wait(Duration::from_millis(5)), Wake::Timeout);
        n.bump(Some(7));
        n.bump(Some(5));
        assert_eq!(
            n.wait(Duration::from_secs(1)),
            Wake::Notified { through: Some(7) }
        );
        assert_eq!(n.wait(Duration::from_millis(5)), Wake::Timeout);
        n.bump(Some(9));
        n.bump(None);
        n.bump(Some(10));
        assert_eq!(
            n.wait(Duration::from_secs(1)),
            Wake::Notified { through: None }
        );
        // A waiter wakes as soon as an announcement arrives.
        let n = std::sync::Arc::new(n);
        let n2 = n.clone();
        let t = std::thread::spawn(move || n2.wait(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        n.bump(Some(11));
        assert_eq!(t.join().ok(), Some(Wake::Notified { through: Some(11) }));
    }

    /// A fresh database on the cluster named by `STSD_TEST_PG_URL` (an admin URL; `scripts/test.sh` starts
    /// one). Without it the test cannot run; `STSD_REQUIRE_PG=1` (set by the test script) makes that a
    /// failure rather than a silent pass.
    pub(crate) fn fresh_database() -> Option<String> {
        let Ok(admin) = std::env::var("STSD_TEST_PG_URL") else {
            assert!(
                std::env::var("STSD_REQUIRE_PG").is_err(),
                "STSD_REQUIRE_PG is set but STSD_TEST_PG_URL is not"
            );
            eprintln!("no PostgreSQL for this test: set STSD_TEST_PG_URL (scripts/test.sh does)");
            return None;
        };
        let name = format!("stsd_test_{}", uuid::Uuid::new_v4().simple());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (c, conn) = tokio_postgres::connect(&admin, NoTls).await.unwrap();
            tokio::spawn(conn);
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(format!("{base}/{name}"))
    }

    /// One AssumeRole-shaped audit row named `id`.
    fn event(id: &str) -> AuditRow {
        AuditRow {
            account: "111122223333".into(),
            event_id: id.into(),
            event_time: 1_000,
            event_name: "AssumeRole".into(),
            body: "{}".into(),
            ..AuditRow::default()
        }
    }

    /// Check that blocks `1..=events` form one gap-free chain from genesis and return the last hash.
    fn chain_of(s: &PgStore, events: i64) -> (usize, Vec<u8>) {
        let blocks = s.audit_blocks(1, events).unwrap();
        let (mut prev, mut want_seq) = (trail::genesis(), 1);
        for b in &blocks {
            assert_eq!(b.seq, want_seq);
            assert_eq!(
                b.hash,
                trail::chain(&prev, b.seq, &b.data),
                "block {}",
                b.seq
            );
            prev.clone_from(&b.hash);
            want_seq = b.last() + 1;
        }
        (blocks.len(), prev)
    }

    #[test]
    fn postgres_store_contract() {
        let Some(url) = fresh_database() else { return };
        let s = PgStore::open(&url).unwrap();
        crate::store::tests::contract(&s);
        crate::store::tests::audit_contract(&s);
        // Reopening (another node starting) runs no migration twice and sees the same data.
        let again = PgStore::open(&url).unwrap();
        let snap = again.load_all().unwrap();
        assert_eq!(snap.records.len(), 1);
        assert_eq!(again.get_meta("k").unwrap().as_deref(), Some("v"));
    }

    /// Several nodes appending at once (compare-and-swap appends, two stores, four threads): the appends queue on
    /// the head's row lock, so the trail comes out one gap-free chain — every event's hash follows from the one
    /// before it — and the head accounts for every event.
    /// A database of the first schema, whose trail was one row per event in `audit_events`, is moved into the
    /// compact chain when a node opens it (in chunks, each its own transaction): every event, in order, one
    /// gap-free chain, and the old table dropped.
    #[test]
    fn the_old_single_table_trail_moves_into_the_chain() {
        let Some(url) = fresh_database() else { return };
        const EVENTS: i64 = 5_000; // more than one chunk
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = || async {
            let (c, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            tokio::spawn(conn);
            c
        };
        rt.block_on(async {
            let c = client().await;
            c.batch_execute("CREATE TABLE stsd_schema (version INT NOT NULL); INSERT INTO stsd_schema VALUES (1)")
                .await
                .unwrap();
            c.batch_execute(MIGRATIONS.first().unwrap()).await.unwrap();
            c.execute(
                "INSERT INTO audit_events (account, event_id, event_time, event_name, event_source, username,
                 access_key_id, read_only, resources, resource_names, body)
                 SELECT '111122223333', 'e' || n, 1000 + n, 'AssumeRole', 'sts.amazonaws.com', 'bob', 'AKIA', true,
                 '[]', '', '{\"n\":' || n || '}' FROM generate_series(1, $1::bigint) AS n",
                &[&EVENTS],
            )
            .await
            .unwrap();
        });
        let s = PgStore::open(&url).unwrap();
        let (blocks, last) = chain_of(&s, EVENTS);
        assert!(blocks > 1, "{blocks} blocks");
        let head = s.audit_head().unwrap();
        assert_eq!((head.next_seq, head.last_hash), (EVENTS + 1, last));
        let gone = rt.block_on(async {
            let c = client().await;
            c.query_one("SELECT to_regclass('audit_events') IS NULL", &[])
                .await
                .unwrap()
                .get::<_, bool>(0)
        });
        assert!(gone);
        // Appends continue the chain.
        s.audit_append(&trail::Codec::new().encode(&[event("after")]))
            .unwrap();
        assert_eq!(
            chain_of(&s, EVENTS + 1).1,
            s.audit_head().unwrap().last_hash
        );
    }

    #[test]
    fn concurrent_appends_from_two_nodes_form_one_chain() {
        let Some(url) = fresh_database() else { return };
        let nodes = [
            Arc::new(PgStore::open(&url).unwrap()),
            Arc::new(PgStore::open(&url).unwrap()),
        ];
        const THREADS: usize = 4;
        const APPENDS: usize = 25;
        const PER_APPEND: usize = 3;
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let node = nodes[t % 2].clone();
                std::thread::spawn(move || {
                    let mut codec = trail::Codec::new();
                    for i in 0..APPENDS {
                        let rows: Vec<_> = (0..PER_APPEND)
                            .map(|k| AuditRow {
                                account: "111122223333".into(),
                                event_id: format!("t{t}-{i}-{k}"),
                                event_time: 1_000 + i64::try_from(i).unwrap(),
                                event_name: "AssumeRole".into(),
                                body: "{}".into(),
                                ..AuditRow::default()
                            })
                            .collect();
                        node.audit_append(&codec.encode(&rows)).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let total = i64::try_from(THREADS * APPENDS * PER_APPEND).unwrap();
        let head = nodes[0].audit_head().unwrap();
        assert_eq!(head.next_seq, total + 1);
        let blocks = nodes[1].audit_blocks(1, total).unwrap();
        // One block per append, none torn or interleaved.
        assert!(blocks.iter().all(|b| b.count == 3));
        assert_eq!(
            chain_of(&nodes[1], total),
            (THREADS * APPENDS, head.last_hash)
        );
    }

    /// A node appends in one round trip while its idea of the head holds; once another node has appended, its
    /// check fails, nothing of the refused transaction stays, and it appends after the other node's blocks.
    #[test]
    fn an_append_behind_another_nodes_finds_the_moved_head() {
        let Some(url) = fresh_database() else { return };
        let (a, b) = (PgStore::open(&url).unwrap(), PgStore::open(&url).unwrap());
        let mut codec = trail::Codec::new();
        let mut append =
            |node: &PgStore, id: &str| node.audit_append(&codec.encode(&[event(id)])).unwrap();
        let misses = |node: &PgStore| {
            node.audit_head_misses
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        append(&a, "a1");
        append(&a, "a2");
        append(&b, "b3");
        assert_eq!((misses(&a), misses(&b)), (0, 0));
        let head = append(&a, "a4");
        assert_eq!(misses(&a), 1, "a's head was stale after b appended");
        append(&a, "a5");
        assert_eq!(misses(&a), 1, "a knows the head again");
        assert_eq!(head.next_seq, 5);
        let (blocks, last) = chain_of(&b, 5);
        assert_eq!(blocks, 5);
        assert_eq!(b.audit_head().unwrap().last_hash, last);
    }

    /// The audit writer's connection dies (the database restarted, a proxy dropped it): at most the append in
    /// flight fails, the next one connects and prepares again, and the chain goes on where the database has it.
    #[test]
    fn the_audit_connection_is_replaced_after_it_breaks() {
        let Some(url) = fresh_database() else { return };
        let s = PgStore::open(&url).unwrap();
        let mut codec = trail::Codec::new();
        s.audit_append(&codec.encode(&[event("e1")])).unwrap();
        // Every other session on this database goes away, the audit writer's among them.
        s.call(|c| async move {
            let r = c
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .map(|_| ())
                .map_err(backend);
            (c, r)
        })
        .unwrap();
        let first = s.audit_append(&codec.encode(&[event("e2")]));
        let head = match first {
            Ok(h) => h,
            Err(_) => s.audit_append(&codec.encode(&[event("e2")])).unwrap(),
        };
        assert_eq!(head.next_seq, 3);
        let head = s.audit_append(&codec.encode(&[event("e3")])).unwrap();
        assert_eq!(head.next_seq, 4);
        assert_eq!(chain_of(&s, 3), (3, head.last_hash));
        // Called from an async worker (which it would block), an append is refused, not a panic.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let on_worker = rt.block_on(async { s.audit_append(&codec.encode(&[event("e4")])) });
        assert!(
            matches!(on_worker, Err(StoreError::Backend(_))),
            "{on_worker:?}"
        );
        assert_eq!(s.audit_head().unwrap().next_seq, 4);
    }

    #[test]
    fn a_commit_wakes_other_nodes() {
        let Some(url) = fresh_database() else { return };
        let a = PgStore::open(&url).unwrap();
        let b = Arc::new(PgStore::open(&url).unwrap());
        // Let b's listener subscribe, then consume the subscription wake-up.
        std::thread::sleep(Duration::from_millis(300));
        b.wait_for_change(Duration::from_millis(10));
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                b.wait_for_change(Duration::from_secs(10));
                t.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        a.apply(&[Change::Put {
            record: Record {
                kind: Kind::Account,
                account: "1".into(),
                key: "1".into(),
                body: "{}".into(),
                revision: 0,
            },
            expected: None,
        }])
        .unwrap();
        let waited = waiter.join().unwrap();
        assert!(
            waited < Duration::from_secs(5),
            "woken by the notification, not the timeout: {waited:?}"
        );
        assert_eq!(b.changes_since(0).unwrap().unwrap().puts.len(), 1);
    }
}
