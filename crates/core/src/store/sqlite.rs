//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a committed change survives
//! `kill -9` and power loss. Schema changes are numbered migrations tracked in `PRAGMA user_version`. The
//! audit trail lives in a second file beside it ([`super::sqlite_audit`]).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite_audit::AuditDb;
use super::{
    Appended, AuditHead, Change, DigestRecord, Encoded, ExportRecord, FailurePolicy, Failures,
    Feed, GroupSpan, Kind, MetaUpdate, Record, Snapshot, Store, StoreError, StoredBlock,
};

/// Migrations in order; index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    // v1: entities and metadata.
    "CREATE TABLE entities (
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, account, key)
    );
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // v2: audit events (CloudTrail records) with the columns LookupEvents filters on.
    "CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_time INTEGER NOT NULL,
        event_name TEXT NOT NULL,
        event_source TEXT NOT NULL,
        username TEXT NOT NULL,
        access_key_id TEXT NOT NULL,
        read_only INTEGER NOT NULL,
        resources TEXT NOT NULL,
        resource_names TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX audit_events_account_seq ON audit_events (account, seq);
    CREATE INDEX audit_events_time ON audit_events (event_time);",
    // v3: single-use credentials (the SAML assertion replay guard), each kept until it expires.
    "CREATE TABLE single_use (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (scope, id)
    );
    CREATE INDEX single_use_expires ON single_use (expires);",
    // v4: generations (a total order of commits), per-row revisions and the change log.
    "ALTER TABLE entities ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value INTEGER NOT NULL,
        pruned_through INTEGER NOT NULL
    );
    INSERT INTO generation (id, value, pruned_through) VALUES (1, 0, 0);
    CREATE TABLE changes (
        generation INTEGER NOT NULL,
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        key TEXT NOT NULL
    );
    CREATE INDEX changes_generation ON changes (generation);",
    // v5: failure counters of the guessing guards (wrong MFA codes).
    "CREATE TABLE failures (
        key TEXT PRIMARY KEY,
        window_start INTEGER NOT NULL,
        count INTEGER NOT NULL,
        locked_until INTEGER NOT NULL
    );",
];

/// Generations of change log kept (older entries are pruned; a reader further behind reloads everything).
pub(crate) const CHANGE_LOG_KEEP: i64 = 100_000;

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// The audit trail, in its own file beside the main one.
    audit: AuditDb,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        migrate(&mut conn)?;
        let audit = AuditDb::open(&path.with_file_name("audit.db"))?;
        let moved = audit.convert_legacy(&conn)?;
        if moved > 0 {
            tracing::info!(
                events = moved,
                "moved the audit trail into the compact format (audit.db)"
            );
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            audit,
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Backend("store lock poisoned".into()))
    }
}

fn conflict(kind: Kind, account: &str, key: &str) -> StoreError {
    StoreError::Conflict(super::entity_name(kind, account, key))
}

fn current_generation(tx: &rusqlite::Transaction<'_>) -> Result<i64, StoreError> {
    // Cached: this runs in every IAM commit.
    tx.prepare_cached("SELECT value FROM generation WHERE id = 1")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(backend)
}

type RowResult = Result<Result<Record, StoreError>, rusqlite::Error>;

fn record_from_row(r: &rusqlite::Row<'_>) -> RowResult {
    let kind: String = r.get(0)?;
    let Some(kind) = Kind::parse(&kind) else {
        return Ok(Err(StoreError::Corrupt(format!(
            "unknown entity kind {kind}"
        ))));
    };
    Ok(Ok(Record {
        kind,
        account: r.get(1)?,
        key: r.get(2)?,
        body: r.get(3)?,
        revision: r.get(4)?,
    }))
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_schema(conn, MIGRATIONS)
}

/// Bring a database to the newest of `migrations` (its `user_version` counts those applied), each step in
/// its own transaction; a database newer than this build is refused. Shared by `stsd.db` and `audit.db`.
pub(super) fn migrate_schema(conn: &mut Connection, migrations: &[&str]) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend)?;
    let version = usize::try_from(version)
        .map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
    if version > migrations.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {version} is newer than this stsd ({})",
            migrations.len()
        )));
    }
    for (i, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

const INSERT_ENTITY: &str =
    "INSERT INTO entities (kind, account, key, body, revision) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (kind, account, key) DO NOTHING";
const UPDATE_ENTITY: &str = "UPDATE entities SET body = ?4, revision = ?5
     WHERE kind = ?1 AND account = ?2 AND key = ?3 AND revision = ?6";

impl Store for SqliteStore {
    fn load_all(&self) -> Result<Snapshot, StoreError> {
        let mut conn = self.lock()?;
        // One read transaction: the rows and the generation they reflect are consistent.
        let tx = conn.transaction().map_err(backend)?;
        let generation = current_generation(&tx)?;
        let records = {
            let mut stmt = tx
                .prepare("SELECT kind, account, key, body, revision FROM entities")
                .map_err(backend)?;
            let rows = stmt.query_map([], record_from_row).map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row.map_err(backend)??);
            }
            out
        };
        tx.commit().map_err(backend)?;
        Ok(Snapshot {
            records,
            generation,
        })
    }

    fn changes_since(&self, since: i64) -> Result<Option<Feed>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(backend)?;
        let (generation, pruned): (i64, i64) = tx
            .query_row(
                "SELECT value, pruned_through FROM generation WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(backend)?;
        if since < pruned {
            return Ok(None);
        }
        let mut feed = Feed {
            generation,
            ..Feed::default()
        };
        {
            let mut stmt = tx
                .prepare(
                    "SELECT DISTINCT c.kind, c.account, c.key, e.body, e.revision FROM changes c
                     LEFT JOIN entities e ON e.kind = c.kind AND e.account = c.account AND e.key = c.key
                     WHERE c.generation > ?1",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![since], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })
                .map_err(backend)?;
            for row in rows {
                let (kind, account, key, body, revision) = row.map_err(backend)?;
                let kind = Kind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown entity kind {kind}")))?;
                match body {
                    Some(body) => feed.puts.push(Record {
                        kind,
                        account,
                        key,
                        body,
                        revision: revision.unwrap_or(0),
                    }),
                    None => feed.deletes.push((kind, account, key)),
                }
            }
        }
        tx.commit().map_err(backend)?;
        Ok(Some(feed))
    }

    fn update_meta(
        &self,
        name: &str,
        f: &mut MetaUpdate<'_>,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let current: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        let Some(new) = f(current.as_deref())? else {
            return Ok(current);
        };
        tx.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, new],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(Some(new))
    }

    fn apply(&self, changes: &[Change]) -> Result<i64, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let generation = current_generation(&tx)? + 1;
        for c in changes {
            let (kind, account, key) = match c {
                Change::Put {
                    record: r,
                    expected,
                } => {
                    let n = match expected {
                        None => tx.prepare_cached(INSERT_ENTITY).and_then(|mut st| {
                            st.execute(params![
                                r.kind.as_str(),
                                r.account,
                                r.key,
                                r.body,
                                generation
                            ])
                        }),
                        Some(rev) => tx.prepare_cached(UPDATE_ENTITY).and_then(|mut st| {
                            let p =
                                params![r.kind.as_str(), r.account, r.key, r.body, generation, rev];
                            st.execute(p)
                        }),
                    }
                    .map_err(backend)?;
                    if n != 1 {
                        return Err(conflict(r.kind, &r.account, &r.key));
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
                            "DELETE FROM entities WHERE kind = ?1 AND account = ?2 AND key = ?3
                             AND (?4 IS NULL OR revision = ?4)",
                            params![kind.as_str(), account, key, expected],
                        )
                        .map_err(backend)?;
                    if n != 1 && expected.is_some() {
                        return Err(conflict(*kind, account, key));
                    }
                    (*kind, account, key)
                }
            };
            tx.prepare_cached(
                "INSERT INTO changes (generation, kind, account, key) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![generation, kind.as_str(), account, key]))
            .map_err(backend)?;
        }
        tx.prepare_cached("UPDATE generation SET value = ?1 WHERE id = 1")
            .and_then(|mut st| st.execute(params![generation]))
            .map_err(backend)?;
        if generation % 1000 == 0 {
            let through = generation - CHANGE_LOG_KEEP;
            if through > 0 {
                tx.execute(
                    "DELETE FROM changes WHERE generation <= ?1",
                    params![through],
                )
                .map_err(backend)?;
                tx.execute(
                    "UPDATE generation SET pruned_through = ?1 WHERE id = 1",
                    params![through],
                )
                .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(generation)
    }

    fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock()?;
        conn.query_row(
            "SELECT value FROM meta WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)
    }

    fn audit_append(&self, batch: &[Encoded]) -> Result<AuditHead, StoreError> {
        self.audit.append(batch)
    }

    fn audit_import(&self, a: &Appended) -> Result<(), StoreError> {
        self.audit.import(a)
    }

    fn audit_settle(&self) -> Result<(), StoreError> {
        self.audit.close()
    }

    fn audit_append_is_local(&self) -> bool {
        self.audit.is_journaled()
    }

    fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.audit.head()
    }

    fn audit_blocks(&self, from: i64, to: i64) -> Result<Vec<StoredBlock>, StoreError> {
        self.audit.blocks(from, to)
    }

    fn audit_spans(&self, from: i64, to: i64) -> Result<Vec<GroupSpan>, StoreError> {
        self.audit.spans(from, to)
    }

    fn audit_first_group_since(&self, since: i64) -> Result<Option<i64>, StoreError> {
        self.audit.first_group_since(since)
    }

    fn audit_newest_group_until(&self, until: i64) -> Result<Option<i64>, StoreError> {
        self.audit.newest_group_until(until)
    }

    fn audit_key_groups(
        &self,
        key: i64,
        from: i64,
        to: i64,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        self.audit.key_groups(key, from, to, descending, limit)
    }

    fn audit_purge(
        &self,
        through: i64,
        base_hash: &[u8],
        keys: &[(i64, i64)],
    ) -> Result<(), StoreError> {
        self.audit.purge(through, base_hash, keys)
    }

    fn audit_bytes(&self) -> Result<u64, StoreError> {
        self.audit.bytes()
    }

    fn audit_claim_export(
        &self,
        expected: i64,
        through: i64,
        files: &[ExportRecord],
    ) -> Result<bool, StoreError> {
        self.audit.claim_export(expected, through, files)
    }

    fn audit_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        self.audit.exports()
    }

    fn audit_add_digest(
        &self,
        d: &DigestRecord,
        previous_end: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.audit.add_digest(d, previous_end)
    }

    fn audit_digests(&self) -> Result<Vec<DigestRecord>, StoreError> {
        self.audit.digests()
    }

    fn claim_once(
        &self,
        scope: &str,
        id: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(backend)?;
        // Expired claims go first (the index keeps this cheap), so a re-used ID is judged only by live claims.
        tx.execute("DELETE FROM single_use WHERE expires <= ?1", params![now])
            .map_err(backend)?;
        let inserted = tx
            .execute(
                "INSERT INTO single_use (scope, id, expires) VALUES (?1, ?2, ?3)
                 ON CONFLICT (scope, id) DO NOTHING",
                params![scope, id, expires],
            )
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(inserted == 1)
    }

    fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: FailurePolicy,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let prev = tx
            .query_row(
                "SELECT window_start, count, locked_until FROM failures WHERE key = ?1",
                params![key],
                |r| {
                    Ok(Failures {
                        window_start: r.get(0)?,
                        count: r.get(1)?,
                        locked_until: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(backend)?
            .unwrap_or_default();
        let (next, locked) = prev.after_failure(now, policy);
        tx.execute(
            "INSERT INTO failures (key, window_start, count, locked_until) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, count = excluded.count,
             locked_until = excluded.locked_until",
            params![key, next.window_start, next.count, next.locked_until],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(locked.then_some(next.locked_until))
    }

    fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let conn = self.lock()?;
        let until: Option<i64> = conn
            .query_row(
                "SELECT locked_until FROM failures WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        Ok(until.filter(|u| *u > now))
    }

    fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute("DELETE FROM failures WHERE key = ?1", params![key])
            .map(|_| ())
            .map_err(backend)
    }

    fn put_meta(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )
        .map(|_| ())
        .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stsd.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            crate::store::tests::contract(&s);
        }
        let s = SqliteStore::open(&path).unwrap();
        let all = s.load_all().unwrap();
        assert_eq!(all.records.len(), 1);
        assert_eq!(all.records[0].key, "alice");
        assert!(all.generation > 0);
        assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn single_use_claims_survive_reopen_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stsd.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            assert!(s.claim_once("saml:idp", "_a1", 2000, 1000).unwrap());
            assert!(!s.claim_once("saml:idp", "_a1", 2000, 1001).unwrap());
            // Another issuer's namesake ID is a different credential.
            assert!(s.claim_once("saml:other", "_a1", 2000, 1001).unwrap());
        }
        let s = SqliteStore::open(&path).unwrap();
        assert!(!s.claim_once("saml:idp", "_a1", 2000, 1500).unwrap());
        // Once expired, the claim is forgotten.
        assert!(s.claim_once("saml:idp", "_a1", 4000, 2000).unwrap());
    }

    #[test]
    fn audit_contract() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        crate::store::tests::audit_contract(&s);
    }

    /// A data directory from before the compact trail: its `audit_events` rows move into `audit.db`, in order
    /// and chained, and the old table is dropped.
    #[test]
    fn legacy_audit_events_are_converted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stsd.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            let tx = conn.transaction().unwrap();
            for i in 0..5000 {
                tx.execute(
                    "INSERT INTO audit_events (account, event_id, event_time, event_name, event_source, username,
                     access_key_id, read_only, resources, resource_names, body)
                     VALUES ('1', ?1, ?2, 'AssumeRole', 'sts.amazonaws.com', 'u', 'AKIA', 1, ?3, '', ?4)",
                    params![
                        format!("e{i}"),
                        1000 + i,
                        r#"[["AWS::IAM::Role","arn:aws:iam::1:role/r"]]"#,
                        format!(r#"{{"eventID":"e{i}"}}"#)
                    ],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let head = s.audit_head().unwrap();
        assert_eq!((head.first_seq, head.next_seq), (1, 5001));
        let mut codec = crate::trail::Codec::new();
        let mut prev = crate::trail::genesis();
        let mut expect = 1;
        for b in s.audit_blocks(1, 5000).unwrap() {
            assert_eq!(b.seq, expect);
            assert_eq!(b.hash, crate::trail::chain(&prev, b.seq, &b.data));
            prev = b.hash.clone();
            for row in codec.decode(&b).unwrap() {
                assert_eq!(row.event_id, format!("e{}", row.seq - 1));
                assert_eq!(row.resources[0].0, "AWS::IAM::Role");
            }
            expect = b.last() + 1;
        }
        assert_eq!(expect, 5001);
        let gone: Option<String> = s
            .lock()
            .unwrap()
            .query_row(
                "SELECT name FROM sqlite_master WHERE name = 'audit_events'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap();
        assert!(gone.is_none());
        drop(s);
        // Reopening converts nothing twice.
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.audit_head().unwrap().next_seq, 5001);
    }
}
