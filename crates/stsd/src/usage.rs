//! Last-used tracking: when each access key and each role was last used (`GetAccessKeyLastUsed`,
//! `RoleLastUsed`, the credential report).
//!
//! **Off the request path.** A request that uses a key or a role only updates an entry of an in-memory table
//! ([`Usage`], sharded mutexes, no allocation when the entry exists); it never takes the state lock and never
//! touches the store. A background flusher (`Node::start_usage_flusher`) moves the table into the state and the store
//! every [`FLUSH_EVERY`] in one transaction ([`apply`], run by `Node::flush_usage`): at most one row per key or role per interval, kept
//! apart from the user and role rows (`store::Kind::Usage`), so recording a use never rewrites an entity.
//!
//! **Visibility.** Reads merge the table with the stored value ([`key_last_used`], [`role_last_used`]), so a
//! use is visible at once through the server that saw it, and in the store (other nodes, restarts) within
//! [`FLUSH_EVERY`]. A graceful shutdown flushes; a crash loses at most the uses of the last interval. With several
//! nodes on one store each writes the uses it saw, compared with its own view of the stored value, so a node
//! that has not yet seen another's newer row may write a date up to one interval older over it.
//!
//! **What counts as a use** (AWS: "the last time the key was used to sign an AWS API request"; a role's
//! last-used date is "when the role was last used to make an AWS request"): a request whose SigV4 signature
//! verified — whatever the authorization decision — records its long-term access key (service and region from
//! the signature scope) or, for a role session, its role; a successful `AssumeRole*` records the role too.
//! Temporary `ASIA…` keys themselves are not tracked, as on AWS.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::{usage_key, KeyUse};
use crate::state::{State, Touched};
use crate::store::Kind;

/// How often pending uses are written to the store (the bound on their visibility to other nodes and on what
/// a crash can lose).
pub const FLUSH_EVERY: Duration = Duration::from_secs(15);

/// Region recorded for a role assumed by an unsigned request (`AssumeRoleWithWebIdentity`/`SAML` carry no
/// signature scope): the region of STS's global endpoint.
pub const UNSIGNED_REGION: &str = "us-east-1";

const SHARDS: usize = 16;

/// What was used: a long-term access key, or a role (by unique ID) of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `AKIA…`; its owner is looked up when flushed.
    Key,
    /// `AROA…` of `account`.
    Role { account: String },
}

/// One pending use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub subject: Subject,
    pub last: KeyUse,
}

/// The in-memory table of uses not yet flushed, keyed by unique ID (`AKIA…` or `AROA…`: the prefixes keep
/// them apart).
pub struct Usage {
    shards: Vec<Mutex<HashMap<String, Pending>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl Usage {
    fn shard(&self, id: &str) -> Option<&Mutex<HashMap<String, Pending>>> {
        let n = usize::try_from(self.hasher.hash_one(id) % SHARDS as u64).unwrap_or(0);
        self.shards.get(n)
    }

    /// A long-term access key signed a request at `now` for `service` in `region`.
    pub fn key_used(&self, key_id: &str, now: i64, service: &str, region: &str) {
        self.record(key_id, || Subject::Key, now, service, region);
    }

    /// The role with unique ID `role_id` of `account` was used (assumed, or its session made a request).
    pub fn role_used(&self, account: &str, role_id: &str, now: i64, region: &str) {
        self.record(
            role_id,
            || Subject::Role {
                account: account.to_string(),
            },
            now,
            "",
            region,
        );
    }

    fn record(
        &self,
        id: &str,
        subject: impl FnOnce() -> Subject,
        now: i64,
        service: &str,
        region: &str,
    ) {
        let Some(shard) = self.shard(id) else { return };
        let Ok(mut map) = shard.lock() else { return };
        if let Some(p) = map.get_mut(id) {
            // Keep the latest use; allocate only when the service or region changed.
            if now >= p.last.date {
                p.last.date = now;
                if p.last.service != service {
                    service.clone_into(&mut p.last.service);
                }
                if p.last.region != region {
                    region.clone_into(&mut p.last.region);
                }
            }
            return;
        }
        map.insert(
            id.to_string(),
            Pending {
                subject: subject(),
                last: KeyUse {
                    date: now,
                    service: service.to_string(),
                    region: region.to_string(),
                },
            },
        );
    }

    /// The pending (not yet flushed) use of a key or role.
    pub fn pending(&self, id: &str) -> Option<KeyUse> {
        let map = self.shard(id)?.lock().ok()?;
        map.get(id).map(|p| p.last.clone())
    }

    /// Take every pending use, leaving the table empty.
    pub fn take(&self) -> Vec<(String, Pending)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            if let Ok(mut map) = shard.lock() {
                out.extend(map.drain());
            }
        }
        out
    }

    /// Put back uses a failed flush could not store (a later use of the same subject wins).
    pub fn restore(&self, items: Vec<(String, Pending)>) {
        for (id, p) in items {
            let Some(shard) = self.shard(&id) else {
                continue;
            };
            let Ok(mut map) = shard.lock() else { continue };
            match map.get_mut(&id) {
                Some(cur) if cur.last.date >= p.last.date => {}
                Some(cur) => *cur = p,
                None => {
                    map.insert(id, p);
                }
            }
        }
    }
}

/// When access key `key_id` of `acct` was last used: the stored use or a newer pending one.
pub fn key_last_used(usage: &Usage, acct: &crate::model::Account, key_id: &str) -> Option<KeyUse> {
    KeyUse::latest(
        acct.usage.get(&usage_key(key_id)).cloned(),
        usage.pending(key_id),
    )
}

/// When the role with unique ID `role_id` of `acct` was last used.
pub fn role_last_used(
    usage: &Usage,
    acct: &crate::model::Account,
    role_id: &str,
) -> Option<KeyUse> {
    KeyUse::latest(
        acct.usage.get(&usage_key(role_id)).cloned(),
        usage.pending(role_id),
    )
}

/// Write `pending` uses into a state copy: one row per key or role whose use is newer than the stored one;
/// uses of keys and roles deleted meanwhile are dropped. Returns how many rows it touched. (The node runs it
/// inside one write: `Node::flush_usage`.)
pub fn apply(st: &mut State, t: &mut Touched, pending: &[(String, Pending)]) -> usize {
    let mut written = 0;
    for (id, p) in pending {
        let account = match &p.subject {
            Subject::Key => match st.keys.get(id) {
                Some(owner) => owner.account.clone(),
                None => continue,
            },
            Subject::Role { account } => account.clone(),
        };
        let Some(acct) = st.account_mut(&account) else {
            continue;
        };
        if matches!(p.subject, Subject::Role { .. }) && !acct.roles.values().any(|r| r.id == *id) {
            continue;
        }
        let key = usage_key(id);
        if acct.usage.get(&key).is_some_and(|u| u.date >= p.last.date) {
            continue;
        }
        acct.usage.insert(key.clone(), p.last.clone());
        t.touch(Kind::Usage, &account, &key);
        written += 1;
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessKey, AccountMeta, Doc, DocKind, KeyStatus, Role, User};
    use crate::node::{Clock, Config, Node};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Change, Feed, Snapshot, Store, StoreError};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const ACCT: &str = "111122223333";
    const KEY: &str = "AKIAEXAMPLEKEY000001";
    const ROLE: &str = "AROAEXAMPLEROLE000001";

    /// The SQLite store, counting transactions and the rows they write.
    struct Counting {
        inner: SqliteStore,
        applies: Arc<AtomicUsize>,
        rows: Arc<AtomicUsize>,
    }

    impl Store for Counting {
        fn load_all(&self) -> Result<Snapshot, StoreError> {
            self.inner.load_all()
        }
        fn apply(&self, changes: &[Change]) -> Result<i64, StoreError> {
            self.applies.fetch_add(1, Ordering::SeqCst);
            self.rows.fetch_add(changes.len(), Ordering::SeqCst);
            self.inner.apply(changes)
        }
        fn changes_since(&self, g: i64) -> Result<Option<Feed>, StoreError> {
            self.inner.changes_since(g)
        }
        fn update_meta(
            &self,
            name: &str,
            f: &mut crate::store::MetaUpdate<'_>,
        ) -> Result<Option<String>, StoreError> {
            self.inner.update_meta(name, f)
        }
        fn record_failure(
            &self,
            key: &str,
            now: i64,
            p: crate::store::FailurePolicy,
        ) -> Result<Option<i64>, StoreError> {
            self.inner.record_failure(key, now, p)
        }
        fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
            self.inner.locked_until(key, now)
        }
        fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
            self.inner.clear_failures(key)
        }
        fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError> {
            self.inner.get_meta(name)
        }
        fn put_meta(&self, name: &str, value: &str) -> Result<(), StoreError> {
            self.inner.put_meta(name, value)
        }
        fn claim_once(&self, s: &str, id: &str, e: i64, n: i64) -> Result<bool, StoreError> {
            self.inner.claim_once(s, id, e, n)
        }
    }

    fn open(path: &std::path::Path) -> (Node, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let applies = Arc::new(AtomicUsize::new(0));
        let rows = Arc::new(AtomicUsize::new(0));
        let store = Counting {
            inner: SqliteStore::open(path).unwrap(),
            applies: applies.clone(),
            rows: rows.clone(),
        };
        let app = Node::new(Box::new(store), Config::default(), Clock::fixed(1_000)).unwrap();
        (app, applies, rows)
    }

    fn seed(app: &Node) {
        app.write(|st, t| {
            let mut a = crate::model::Account::new(AccountMeta {
                id: ACCT.into(),
                name: "a".into(),
                created: 0,
                root_keys: Vec::new(),
                alias: None,
                password_policy: None,
            });
            a.users.insert(
                "alice".into(),
                User {
                    name: "alice".into(),
                    id: "AIDAEXAMPLEUSER000001".into(),
                    path: "/".into(),
                    created: 0,
                    tags: vec![],
                    inline: Default::default(),
                    attached: vec![],
                    groups: vec![],
                    boundary: None,
                    keys: vec![AccessKey {
                        id: KEY.into(),
                        secret: "s".into(),
                        status: KeyStatus::Active,
                        created: 0,
                    }],
                    login_profile: None,
                    password_last_used: None,
                },
            );
            a.roles.insert(
                "deploy".into(),
                Role {
                    name: "deploy".into(),
                    id: ROLE.into(),
                    path: "/".into(),
                    created: 0,
                    trust: Doc {
                        text: "{}".into(),
                        kind: DocKind::Trust,
                        principal_ids: vec![],
                        compiled: None,
                    },
                    description: None,
                    max_session_duration: 3600,
                    boundary: None,
                    tags: vec![],
                    inline: Default::default(),
                    attached: vec![],
                },
            );
            st.accounts.insert(ACCT.into(), Arc::new(a));
            t.touch(Kind::Account, ACCT, ACCT);
            t.touch(Kind::User, ACCT, "alice");
            t.touch(Kind::Role, ACCT, "deploy");
            Ok(())
        })
        .unwrap();
    }

    fn stored(app: &Node, id: &str) -> Option<KeyUse> {
        let st = app.read().unwrap();
        st.accounts.get(ACCT)?.usage.get(&usage_key(id)).cloned()
    }

    #[test]
    fn many_uses_become_one_row_per_subject_per_flush_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stsd.db");
        {
            let (app, applies, rows) = open(&path);
            seed(&app);
            let before = applies.load(Ordering::SeqCst);
            for i in 0..1000 {
                app.usage.key_used(KEY, 2_000 + i, "sts", "eu-west-1");
                app.usage.role_used(ACCT, ROLE, 2_000 + i, "eu-west-1");
            }
            // An older use arriving late does not move the date back.
            app.usage.key_used(KEY, 1_500, "iam", "us-east-1");
            // Visible before any flush, through the pending table.
            let acct = app.read().unwrap().accounts.get(ACCT).cloned().unwrap();
            assert_eq!(key_last_used(&app.usage, &acct, KEY).unwrap().date, 2_999);
            assert_eq!(stored(&app, KEY), None);
            let rows_before = rows.load(Ordering::SeqCst);
            assert_eq!(app.flush_usage(), 2);
            assert_eq!(
                applies.load(Ordering::SeqCst),
                before + 1,
                "one transaction"
            );
            assert_eq!(rows.load(Ordering::SeqCst), rows_before + 2, "one row each");
            // Nothing pending: no write at all.
            assert_eq!(app.flush_usage(), 0);
            assert_eq!(applies.load(Ordering::SeqCst), before + 1);
        }
        let (app, _, _) = open(&path);
        assert_eq!(
            stored(&app, KEY),
            Some(KeyUse {
                date: 2_999,
                service: "sts".into(),
                region: "eu-west-1".into()
            })
        );
        assert_eq!(stored(&app, ROLE).map(|u| u.date), Some(2_999));
        // A use older than the stored one writes nothing.
        app.usage.key_used(KEY, 2_500, "sts", "eu-west-1");
        assert_eq!(app.flush_usage(), 0);
    }

    #[test]
    fn uses_of_deleted_subjects_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _, _) = open(&dir.path().join("stsd.db"));
        seed(&app);
        app.usage
            .key_used("AKIAEXAMPLEGONE00001", 2_000, "sts", "us-east-1");
        app.usage
            .role_used(ACCT, "AROAEXAMPLEGONE00001", 2_000, "us-east-1");
        app.usage
            .role_used("999999999999", ROLE, 2_000, "us-east-1");
        assert_eq!(app.flush_usage(), 0);
        assert!(app
            .read()
            .unwrap()
            .accounts
            .get(ACCT)
            .unwrap()
            .usage
            .is_empty());
    }

    #[test]
    fn restore_keeps_the_later_use() {
        let u = Usage::default();
        u.key_used(KEY, 10, "sts", "r1");
        let taken = u.take();
        assert_eq!(u.pending(KEY), None);
        u.key_used(KEY, 20, "iam", "r2");
        u.restore(taken);
        assert_eq!(
            u.pending(KEY).map(|k| (k.date, k.service)),
            Some((20, "iam".into()))
        );
    }
}
