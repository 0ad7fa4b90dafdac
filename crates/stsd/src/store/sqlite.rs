//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a committed change survives
//! `kill -9` and power loss. Schema changes are numbered migrations tracked in `PRAGMA user_version`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Change, Kind, Record, Store, StoreError};

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
];

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
    fn load_all(&self) -> Result<Vec<Record>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare("SELECT kind, account, key, body FROM entities")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, account, key, body) = row.map_err(backend)?;
            let kind = Kind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown entity kind {kind}")))?;
            out.push(Record {
                kind,
                account,
                key,
                body,
            });
        }
        Ok(out)
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(backend)?;
        for c in changes {
            match c {
                Change::Put(r) => {
                    tx.execute(
                        "INSERT INTO entities (kind, account, key, body) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (kind, account, key) DO UPDATE SET body = excluded.body",
                        params![r.kind.as_str(), r.account, r.key, r.body],
                    )
                    .map_err(backend)?;
                }
                Change::Delete { kind, account, key } => {
                    tx.execute(
                        "DELETE FROM entities WHERE kind = ?1 AND account = ?2 AND key = ?3",
                        params![kind.as_str(), account, key],
                    )
                    .map_err(backend)?;
                }
            }
        }
        tx.commit().map_err(backend)
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
            let rec = Record {
                kind: Kind::User,
                account: "1".into(),
                key: "alice".into(),
                body: "{}".into(),
            };
            s.apply(&[Change::Put(rec.clone())]).unwrap();
            s.apply(&[Change::Put(Record {
                key: "bob".into(),
                ..rec
            })])
            .unwrap();
            s.apply(&[Change::Delete {
                kind: Kind::User,
                account: "1".into(),
                key: "bob".into(),
            }])
            .unwrap();
            s.put_meta("k", "v").unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let all = s.load_all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].key, "alice");
        assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("v"));
    }
}
