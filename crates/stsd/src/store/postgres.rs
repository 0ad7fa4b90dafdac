//! The shared store: one PostgreSQL database that any number of stsd nodes use at once.
//!
//! * Every write transaction takes the single `generation` row `FOR UPDATE`, so commits are totally ordered
//!   and numbered; rows carry the generation that last wrote them and an update names the revision its
//!   writer saw (a stale one is a [`StoreError::Conflict`], never a lost update).
//! * The `changes` log records what each generation touched. Because generations commit in order, a reader
//!   that has applied generation G and reads `changes > G` misses nothing. Commits `NOTIFY stsd_changes`;
//!   every node `LISTEN`s on a dedicated connection ([`Store::wait_for_change`]) and catches up at once.
//! * Migrations and meta read-modify-writes run under advisory locks, so nodes starting together on an empty
//!   database agree on one schema, one first token key and one management account.
//!
//! The driver is tokio-postgres on the store's own small runtime; the synchronous [`Store`] calls hand their
//! work to it and wait on a channel, so they may be called from any thread.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::sqlite::CHANGE_LOG_KEEP;
use super::{
    AuditFilter, AuditQuery, AuditRow, Change, FailurePolicy, Failures, Feed, Kind, MetaUpdate,
    Record, Snapshot, Store, StoreError,
};

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
];

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Counts change notifications; [`Store::wait_for_change`] waits for it to move.
#[derive(Default)]
struct Notifications {
    count: Mutex<u64>,
    cv: Condvar,
}

impl Notifications {
    fn bump(&self) {
        if let Ok(mut c) = self.count.lock() {
            *c += 1;
            self.cv.notify_all();
        }
    }
}

pub struct PgStore {
    url: String,
    rt: tokio::runtime::Runtime,
    pool: Mutex<Vec<Client>>,
    /// Connections in use (bounded by [`MAX_CONNECTIONS`]).
    in_use: Mutex<usize>,
    released: Condvar,
    notifications: Arc<Notifications>,
    /// Notifications seen by the last `wait_for_change`.
    seen: Mutex<u64>,
}

impl PgStore {
    /// Connect to `url` (`postgres://user[:pass]@host:port/db`), run the migrations (safely when several
    /// nodes start together) and start listening for other nodes' commits.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
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
            seen: Mutex::new(0),
        };
        store.call(|mut c| async move {
            let r = migrate(&mut c).await;
            (c, r)
        })?;
        store.listen();
        Ok(store)
    }

    /// Run `f` with a pooled connection on the store's runtime and wait for its result.
    fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut + Send + 'static,
        Fut: Future<Output = (Client, Result<T, StoreError>)> + Send + 'static,
    {
        let _slot = self.acquire()?;
        let pooled = self.pool.lock().map_err(backend)?.pop();
        let url = self.url.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let client = match pooled {
                Some(c) if !c.is_closed() => Ok(c),
                _ => connect(&url).await,
            };
            let out = match client {
                Ok(c) => {
                    let (c, r) = f(c).await;
                    (Some(c), r)
                }
                Err(e) => (None, Err(e)),
            };
            let _ = tx.send(out);
        });
        let (client, result) = rx
            .recv_timeout(CALL_TIMEOUT)
            .map_err(|_| StoreError::Backend("the database did not answer in time".into()))?;
        if let Some(c) = client.filter(|c| !c.is_closed()) {
            if let Ok(mut pool) = self.pool.lock() {
                if pool.len() < POOL_SIZE {
                    pool.push(c);
                }
            }
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
                                    Ok(AsyncMessage::Notification(_)) => notes.bump(),
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
                                notes.bump();
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

/// The feed of `since` within an open repeatable-read transaction.
async fn read_feed(
    tx: &tokio_postgres::Transaction<'_>,
    since: i64,
) -> Result<Option<Feed>, StoreError> {
    let row = tx
        .query_one(
            "SELECT value, pruned_through FROM generation WHERE id = 1",
            &[],
        )
        .await
        .map_err(backend)?;
    let (generation, pruned): (i64, i64) = (row.get(0), row.get(1));
    if since < pruned {
        return Ok(None);
    }
    let mut feed = Feed {
        generation,
        ..Feed::default()
    };
    let rows = tx
        .query(
            "SELECT DISTINCT c.kind, c.account, c.key, e.body, e.revision FROM changes c
             LEFT JOIN entities e ON e.kind = c.kind AND e.account = c.account AND e.key = c.key
             WHERE c.generation > $1",
            &[&since],
        )
        .await
        .map_err(backend)?;
    for r in rows {
        let kind = kind_of(r.get(0))?;
        let account: String = r.get(1);
        let key: String = r.get(2);
        match r.get::<_, Option<String>>(3) {
            Some(body) => feed.puts.push(Record {
                kind,
                account,
                key,
                body,
                revision: r.get::<_, Option<i64>>(4).unwrap_or(0),
            }),
            None => feed.deletes.push((kind, account, key)),
        }
    }
    Ok(Some(feed))
}

async fn apply_changes(c: &mut Client, changes: Vec<Change>) -> Result<i64, StoreError> {
    let tx = c.transaction().await.map_err(backend)?;
    let row = tx
        .query_one("SELECT value FROM generation WHERE id = 1 FOR UPDATE", &[])
        .await
        .map_err(backend)?;
    let generation: i64 = row.get::<_, i64>(0) + 1;
    for ch in &changes {
        let (kind, account, key) = match ch {
            Change::Put {
                record: r,
                expected,
            } => {
                let n = match expected {
                    None => tx
                        .execute(
                            "INSERT INTO entities (kind, account, key, body, revision) VALUES ($1, $2, $3, $4, $5)
                             ON CONFLICT (kind, account, key) DO NOTHING",
                            &[&r.kind.as_str(), &r.account, &r.key, &r.body, &generation],
                        )
                        .await,
                    Some(rev) => tx
                        .execute(
                            "UPDATE entities SET body = $4, revision = $5
                             WHERE kind = $1 AND account = $2 AND key = $3 AND revision = $6",
                            &[&r.kind.as_str(), &r.account, &r.key, &r.body, &generation, rev],
                        )
                        .await,
                }
                .map_err(backend)?;
                if n != 1 {
                    return Err(super::sqlite::conflict(r.kind, &r.account, &r.key));
                }
                (r.kind, &r.account, &r.key)
            }
            Change::Delete {
                kind,
                account,
                key,
                expected,
            } => {
                let n = tx
                    .execute(
                        "DELETE FROM entities WHERE kind = $1 AND account = $2 AND key = $3
                         AND ($4::BIGINT IS NULL OR revision = $4)",
                        &[&kind.as_str(), account, key, expected],
                    )
                    .await
                    .map_err(backend)?;
                if n != 1 && expected.is_some() {
                    return Err(super::sqlite::conflict(*kind, account, key));
                }
                (*kind, account, key)
            }
        };
        tx.execute(
            "INSERT INTO changes (generation, kind, account, key) VALUES ($1, $2, $3, $4)",
            &[&generation, &kind.as_str(), account, key],
        )
        .await
        .map_err(backend)?;
    }
    tx.execute(
        "UPDATE generation SET value = $1 WHERE id = 1",
        &[&generation],
    )
    .await
    .map_err(backend)?;
    if generation % 1000 == 0 {
        let through = generation - CHANGE_LOG_KEEP;
        if through > 0 {
            tx.execute("DELETE FROM changes WHERE generation <= $1", &[&through])
                .await
                .map_err(backend)?;
            tx.execute(
                "UPDATE generation SET pruned_through = $1 WHERE id = 1",
                &[&through],
            )
            .await
            .map_err(backend)?;
        }
    }
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &generation.to_string()],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(generation)
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
            let r = apply_changes(&mut c, changes).await;
            (c, r)
        })
    }

    fn changes_since(&self, since: i64) -> Result<Option<Feed>, StoreError> {
        self.call(move |mut c| async move {
            let r = async {
                let tx = c
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await
                    .map_err(backend)?;
                let feed = read_feed(&tx, since).await?;
                tx.commit().await.map_err(backend)?;
                Ok(feed)
            }
            .await;
            (c, r)
        })
    }

    fn wait_for_change(&self, timeout: Duration) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let deadline = Instant::now() + timeout;
        let Ok(mut count) = self.notifications.count.lock() else {
            return;
        };
        while *count == *seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.notifications.cv.wait_timeout(count, left) {
                Ok((c, _)) => count = c,
                Err(_) => return,
            }
        }
        *seen = *count;
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

    fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.call(|mut c| async move {
            let r = async {
                let tx = c.transaction().await.map_err(backend)?;
                let stmt = tx
                    .prepare(
                        "INSERT INTO audit_events (account, event_id, event_time, event_name, event_source,
                         username, access_key_id, read_only, resources, resource_names, body)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .await
                    .map_err(backend)?;
                for r in &rows {
                    let resources = serde_json::to_string(&r.resources).map_err(backend)?;
                    let mut names = String::from("\n");
                    for (_, name) in &r.resources {
                        names.push_str(name);
                        names.push('\n');
                    }
                    tx.execute(
                        &stmt,
                        &[
                            &r.account,
                            &r.event_id,
                            &r.event_time,
                            &r.event_name,
                            &r.event_source,
                            &r.username,
                            &r.access_key_id,
                            &r.read_only,
                            &resources,
                            &names,
                            &r.body,
                        ],
                    )
                    .await
                    .map_err(backend)?;
                }
                tx.commit().await.map_err(backend)
            }
            .await;
            (c, r)
        })
    }

    fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let q = q.clone();
        self.call(move |c| async move {
            let r = query_audit(&c, &q).await;
            (c, r)
        })
    }

    fn purge_audit(&self, before: i64) -> Result<usize, StoreError> {
        self.call(move |c| async move {
            let r = c
                .execute("DELETE FROM audit_events WHERE event_time < $1", &[&before])
                .await
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .map_err(backend);
            (c, r)
        })
    }

    fn is_shared(&self) -> bool {
        true
    }
}

async fn query_audit(c: &Client, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
    use tokio_postgres::types::ToSql;
    let mut sql = String::from(
        "SELECT seq, account, event_id, event_time, event_name, event_source, username, access_key_id,
         read_only, resources, body FROM audit_events WHERE TRUE",
    );
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut cond = |part: &str, v: Box<dyn ToSql + Sync + Send>| {
        args.push(v);
        sql.push_str(" AND ");
        sql.push_str(&part.replace('?', &format!("${}", args.len())));
    };
    if let Some(a) = &q.account {
        cond("account = ?", Box::new(a.clone()));
    }
    if let Some(t) = q.since {
        cond("event_time >= ?", Box::new(t));
    }
    if let Some(t) = q.until {
        cond("event_time <= ?", Box::new(t));
    }
    if let Some(cur) = q.cursor {
        cond(
            if q.ascending { "seq > ?" } else { "seq < ?" },
            Box::new(cur),
        );
    }
    match &q.filter {
        None => {}
        Some(AuditFilter::EventName(v)) => cond("event_name = ?", Box::new(v.clone())),
        Some(AuditFilter::Username(v)) => cond("username = ?", Box::new(v.clone())),
        Some(AuditFilter::AccessKeyId(v)) => cond("access_key_id = ?", Box::new(v.clone())),
        Some(AuditFilter::EventSource(v)) => cond("event_source = ?", Box::new(v.clone())),
        Some(AuditFilter::EventId(v)) => cond("event_id = ?", Box::new(v.clone())),
        Some(AuditFilter::ReadOnly(v)) => cond("read_only = ?", Box::new(*v)),
        Some(AuditFilter::ResourceName(v)) => cond(
            "strpos(resource_names, ?) > 0",
            Box::new(format!("\n{v}\n")),
        ),
    }
    sql.push_str(if q.ascending {
        " ORDER BY seq ASC"
    } else {
        " ORDER BY seq DESC"
    });
    sql.push_str(&format!(" LIMIT {}", q.limit.clamp(1, 100_000)));
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = c.query(&sql, &params).await.map_err(backend)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let resources: String = r.get(9);
        out.push(AuditRow {
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn postgres_store_contract() {
        let Some(url) = fresh_database() else { return };
        let s = PgStore::open(&url).unwrap();
        crate::store::tests::contract(&s);
        // Reopening (another node starting) runs no migration twice and sees the same data.
        let again = PgStore::open(&url).unwrap();
        let snap = again.load_all().unwrap();
        assert_eq!(snap.records.len(), 1);
        assert_eq!(again.get_meta("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn nodes_starting_together_agree() {
        let Some(url) = fresh_database() else { return };
        // Eight stores open the empty database at once: migrations run once, one first token key.
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let s = PgStore::open(&url).unwrap();
                    crate::tokens::KeyRing::load(&s, 1_700_000_000).unwrap();
                    s.get_meta("token_keys").unwrap().unwrap()
                })
            })
            .collect();
        let keys: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            keys.windows(2).all(|w| w[0] == w[1]),
            "one first key for all"
        );
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
