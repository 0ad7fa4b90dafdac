//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a committed change survives
//! `kill -9` and power loss. Schema changes are numbered migrations tracked in `PRAGMA user_version`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    AuditFilter, AuditQuery, AuditRow, Change, FailurePolicy, Failures, Feed, Kind, MetaUpdate,
    Record, Snapshot, Store, StoreError,
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
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Backend("store lock poisoned".into()))
    }
}

pub(crate) fn conflict(kind: Kind, account: &str, key: &str) -> StoreError {
    StoreError::Conflict(format!("{} {key} of account {account}", kind.as_str()))
}

fn current_generation(tx: &rusqlite::Transaction<'_>) -> Result<i64, StoreError> {
    tx.query_row("SELECT value FROM generation WHERE id = 1", [], |r| {
        r.get(0)
    })
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
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend)?;
    let version = usize::try_from(version)
        .map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {version} is newer than this stsd ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

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
                        None => tx.execute(
                            "INSERT INTO entities (kind, account, key, body, revision) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (kind, account, key) DO NOTHING",
                            params![r.kind.as_str(), r.account, r.key, r.body, generation],
                        ),
                        Some(rev) => tx.execute(
                            "UPDATE entities SET body = ?4, revision = ?5
                             WHERE kind = ?1 AND account = ?2 AND key = ?3 AND revision = ?6",
                            params![r.kind.as_str(), r.account, r.key, r.body, generation, rev],
                        ),
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
            tx.execute(
                "INSERT INTO changes (generation, kind, account, key) VALUES (?1, ?2, ?3, ?4)",
                params![generation, kind.as_str(), account, key],
            )
            .map_err(backend)?;
        }
        tx.execute(
            "UPDATE generation SET value = ?1 WHERE id = 1",
            params![generation],
        )
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

    fn append_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(backend)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO audit_events (account, event_id, event_time, event_name, event_source, username,
                     access_key_id, read_only, resources, resource_names, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(backend)?;
            for r in rows {
                let resources = serde_json::to_string(&r.resources)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                // "\n"-delimited names so one `instr` finds an exact name.
                let mut names = String::from("\n");
                for (_, name) in &r.resources {
                    names.push_str(name);
                    names.push('\n');
                }
                stmt.execute(params![
                    r.account,
                    r.event_id,
                    r.event_time,
                    r.event_name,
                    r.event_source,
                    r.username,
                    r.access_key_id,
                    r.read_only,
                    resources,
                    names,
                    r.body
                ])
                .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        use rusqlite::types::Value;
        let mut sql = String::from(
            "SELECT seq, account, event_id, event_time, event_name, event_source, username, access_key_id,
             read_only, resources, body FROM audit_events WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut cond = |sql_part: &str, v: Value| {
            sql.push_str(" AND ");
            sql.push_str(&sql_part.replace('?', &format!("?{}", args.len() + 1)));
            args.push(v);
        };
        if let Some(a) = &q.account {
            cond("account = ?", Value::Text(a.clone()));
        }
        if let Some(t) = q.since {
            cond("event_time >= ?", Value::Integer(t));
        }
        if let Some(t) = q.until {
            cond("event_time <= ?", Value::Integer(t));
        }
        if let Some(c) = q.cursor {
            let op = if q.ascending { "seq > ?" } else { "seq < ?" };
            cond(op, Value::Integer(c));
        }
        match &q.filter {
            None => {}
            Some(AuditFilter::EventName(v)) => cond("event_name = ?", Value::Text(v.clone())),
            Some(AuditFilter::Username(v)) => cond("username = ?", Value::Text(v.clone())),
            Some(AuditFilter::AccessKeyId(v)) => cond("access_key_id = ?", Value::Text(v.clone())),
            Some(AuditFilter::EventSource(v)) => cond("event_source = ?", Value::Text(v.clone())),
            Some(AuditFilter::EventId(v)) => cond("event_id = ?", Value::Text(v.clone())),
            Some(AuditFilter::ReadOnly(v)) => cond("read_only = ?", Value::Integer(i64::from(*v))),
            Some(AuditFilter::ResourceName(v)) => cond(
                "instr(resource_names, ?) > 0",
                Value::Text(format!("\n{v}\n")),
            ),
        }
        sql.push_str(if q.ascending {
            " ORDER BY seq ASC"
        } else {
            " ORDER BY seq DESC"
        });
        sql.push_str(&format!(" LIMIT {}", q.limit.clamp(1, 100_000)));
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
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

    fn purge_audit(&self, before: i64) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "DELETE FROM audit_events WHERE event_time < ?1",
            params![before],
        )
        .map_err(backend)
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
    fn audit_events_filter_page_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        let rows: Vec<AuditRow> = (0..10)
            .map(|i| AuditRow {
                account: if i % 2 == 0 { "a".into() } else { "b".into() },
                event_id: format!("e{i}"),
                event_time: 1000 + i,
                event_name: if i < 5 {
                    "AssumeRole".into()
                } else {
                    "ListUsers".into()
                },
                resources: vec![("AWS::IAM::Role".into(), format!("r{i}"))],
                body: "{}".into(),
                ..AuditRow::default()
            })
            .collect();
        s.append_audit(&rows).unwrap();
        let q = AuditQuery {
            account: Some("a".into()),
            limit: 2,
            ..AuditQuery::default()
        };
        let page = s.query_audit(&q).unwrap();
        assert_eq!(
            page.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(),
            ["e8", "e6"]
        );
        let page2 = s
            .query_audit(&AuditQuery {
                cursor: Some(page[1].seq),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(page2[0].event_id, "e4");
        let by_res = s
            .query_audit(&AuditQuery {
                filter: Some(AuditFilter::ResourceName("r3".into())),
                limit: 50,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(by_res.len(), 1);
        assert_eq!(by_res[0].resources[0].1, "r3");
        assert_eq!(s.purge_audit(1005).unwrap(), 5);
        assert_eq!(
            s.query_audit(&AuditQuery {
                limit: 50,
                ..AuditQuery::default()
            })
            .unwrap()
            .len(),
            5
        );
    }
}
