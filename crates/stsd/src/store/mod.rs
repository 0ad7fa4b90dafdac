//! Persistence. Action code never talks SQL: it mutates a copy of the in-memory [`crate::state::State`] and the
//! state hands a list of [`Change`]s to a [`Store`] in one transaction. The embedded default is SQLite
//! ([`sqlite::SqliteStore`]); several nodes share one PostgreSQL database ([`postgres::PgStore`]).
//!
//! **Generations and revisions.** Every committed transaction gets the next *generation* (a total order of
//! writes, across nodes). Each entity row carries the generation that last wrote it, its *revision*. A change
//! names the revision its writer saw (`expected`); if the row moved on meanwhile — another node wrote it — the
//! whole transaction fails with [`StoreError::Conflict`] instead of overwriting: no lost or torn updates.
//! [`Store::changes_since`] is the change feed other nodes apply to their snapshots.

pub mod postgres;
pub mod sqlite;

/// Entity kinds, one row per entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Account,
    User,
    Group,
    Role,
    Policy,
    /// A virtual MFA device, keyed by lower-cased device name.
    MfaDevice,
    /// An IAM OIDC provider, keyed by lower-cased URL without scheme.
    OidcProvider,
    /// An IAM SAML provider, keyed by lower-cased name.
    SamlProvider,
    /// An instance profile, keyed by lower-cased name.
    InstanceProfile,
    /// When an access key or role was last used, keyed by its lower-cased unique ID.
    Usage,
    /// The account's credential report, keyed by the account ID.
    CredentialReport,
    /// A resource-based policy of another service's resource, keyed by `model::resource_policy_key`.
    ResourcePolicy,
    /// An S3 bucket registered to the account, keyed by bucket name.
    Bucket,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Role => "role",
            Kind::Policy => "policy",
            Kind::MfaDevice => "mfa",
            Kind::OidcProvider => "oidc",
            Kind::SamlProvider => "saml",
            Kind::InstanceProfile => "instance-profile",
            Kind::Usage => "usage",
            Kind::CredentialReport => "credential-report",
            Kind::ResourcePolicy => "resource-policy",
            Kind::Bucket => "bucket",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "account" => Kind::Account,
            "user" => Kind::User,
            "group" => Kind::Group,
            "role" => Kind::Role,
            "policy" => Kind::Policy,
            "mfa" => Kind::MfaDevice,
            "oidc" => Kind::OidcProvider,
            "saml" => Kind::SamlProvider,
            "instance-profile" => Kind::InstanceProfile,
            "usage" => Kind::Usage,
            "credential-report" => Kind::CredentialReport,
            "resource-policy" => Kind::ResourcePolicy,
            "bucket" => Kind::Bucket,
            _ => return None,
        })
    }
}

/// One stored entity: JSON body under (kind, account, key), with the generation that last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub account: String,
    pub key: String,
    pub body: String,
    /// The generation that wrote this version (0 for rows written before generations existed).
    pub revision: i64,
}

/// One write of a transaction. `expected` is the revision the writer saw: `None` means the row must not
/// exist yet (a create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put {
        record: Record,
        expected: Option<i64>,
    },
    Delete {
        kind: Kind,
        account: String,
        key: String,
        expected: Option<i64>,
    },
}

/// Everything stored, as of one generation.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub records: Vec<Record>,
    pub generation: i64,
}

/// What changed after some generation, up to `generation`: the current version of each changed row, or its
/// deletion.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    pub puts: Vec<Record>,
    pub deletes: Vec<(Kind, String, String)>,
    pub generation: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A row changed since the writer read it (another node wrote it); nothing was written.
    #[error("concurrent modification of {0}")]
    Conflict(String),
}

/// The function of an atomic meta update: the current value in, the new value (or `None`: unchanged) out.
pub type MetaUpdate<'a> = dyn FnMut(Option<&str>) -> Result<Option<String>, StoreError> + 'a;

/// A durable store. `apply` is atomic: all changes or none, durable when it returns.
pub trait Store: Send + Sync {
    fn load_all(&self) -> Result<Snapshot, StoreError>;
    /// Commit `changes` as one transaction at the next generation, which is returned.
    fn apply(&self, changes: &[Change]) -> Result<i64, StoreError>;
    /// Rows changed after `generation`; `None` when the change log no longer reaches back that far (the
    /// caller then reloads everything).
    fn changes_since(&self, generation: i64) -> Result<Option<Feed>, StoreError>;
    /// Block until another writer may have committed (a push notification) or `timeout` passes. Stores
    /// without notifications (the embedded one: a single node) just wait.
    fn wait_for_change(&self, timeout: std::time::Duration) {
        std::thread::sleep(timeout);
    }
    /// Whether other nodes may write to this store too (then a node follows the change feed).
    fn is_shared(&self) -> bool {
        false
    }
    /// Whether the store is reachable now.
    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Small named blobs outside the entity model (token keys, server settings).
    fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn put_meta(&self, name: &str, value: &str) -> Result<(), StoreError>;
    /// Atomic read-modify-write of a named blob: `f` sees the current value and returns the new one (or
    /// `None` to leave it). Concurrent callers on any node are serialized. Returns the value now stored.
    fn update_meta(&self, name: &str, f: &mut MetaUpdate<'_>)
        -> Result<Option<String>, StoreError>;
    /// Count one failure of `key` (a wrong MFA code for a caller and device) under `policy`; returns when
    /// the key is locked until, if this failure started a lockout. Shared by every node on the store.
    fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: FailurePolicy,
    ) -> Result<Option<i64>, StoreError>;
    /// Until when `key` is locked out, if it is at `now`.
    fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError>;
    /// Forget `key`'s failures (a success).
    fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
    /// Append audit events in one transaction, in order.
    fn append_audit(&self, _rows: &[AuditRow]) -> Result<(), StoreError> {
        Err(StoreError::Backend(
            "this store does not keep audit events".into(),
        ))
    }
    /// Audit events matching `q`, ordered by `seq` (descending unless `q.ascending`).
    fn query_audit(&self, _q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        Ok(vec![])
    }
    /// Remove audit events older than `before` (Unix seconds); returns how many.
    fn purge_audit(&self, _before: i64) -> Result<usize, StoreError> {
        Ok(0)
    }
    /// Record the one use of a single-use credential (a SAML assertion ID in its issuer's `scope`), kept until
    /// `expires` (Unix seconds). `Ok(true)` the first time; `Ok(false)` while an unexpired claim exists. Durable
    /// and atomic, so the guard holds across restarts and for every node sharing the store.
    fn claim_once(&self, scope: &str, id: &str, expires: i64, now: i64)
        -> Result<bool, StoreError>;
}

/// When failures lock a key: `limit` within `window` seconds lock it for `lockout` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    pub limit: u32,
    pub window: i64,
    pub lockout: i64,
}

/// The failure counter of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub window_start: i64,
    pub count: u32,
    pub locked_until: i64,
}

impl Failures {
    /// The counter after one more failure at `now`, and whether that failure started a lockout.
    pub fn after_failure(self, now: i64, p: FailurePolicy) -> (Failures, bool) {
        let mut f = self;
        if now - f.window_start >= p.window {
            f.window_start = now;
            f.count = 0;
        }
        f.count += 1;
        if f.count >= p.limit {
            f.locked_until = now + p.lockout;
            f.count = 0;
            f.window_start = now;
            (f, true)
        } else {
            (f, false)
        }
    }
}

/// One stored audit event: the CloudTrail record (`body`, JSON) and the columns `LookupEvents` filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRow {
    /// Insertion order, assigned by the store (0 before insertion).
    pub seq: i64,
    /// The account that sees the event (`recipientAccountId`; empty when unknown).
    pub account: String,
    pub event_id: String,
    pub event_time: i64,
    pub event_name: String,
    pub event_source: String,
    pub username: String,
    pub access_key_id: String,
    pub read_only: bool,
    /// `(ResourceType, ResourceName)` pairs.
    pub resources: Vec<(String, String)>,
    pub body: String,
}

/// One `LookupAttributes` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditFilter {
    EventName(String),
    Username(String),
    AccessKeyId(String),
    ResourceName(String),
    EventSource(String),
    ReadOnly(bool),
    EventId(String),
}

/// A query over stored audit events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this account's events (`None`: all, for export).
    pub account: Option<String>,
    /// `event_time >= since`.
    pub since: Option<i64>,
    /// `event_time <= until`.
    pub until: Option<i64>,
    pub filter: Option<AuditFilter>,
    /// Continue after this `seq` (exclusive, in the query's direction).
    pub cursor: Option<i64>,
    pub ascending: bool,
    pub limit: usize,
}

/// The behaviour every backend must have, run against each (SQLite always; PostgreSQL against the real server
/// `scripts/test.sh` starts).
#[cfg(test)]
pub mod tests {
    use super::*;

    fn user(key: &str, body: &str) -> Record {
        Record {
            kind: Kind::User,
            account: "1".into(),
            key: key.into(),
            body: body.into(),
            revision: 0,
        }
    }

    /// Leaves exactly one user (`alice`) and the meta value `k` = `v` behind.
    #[allow(clippy::unwrap_used, clippy::panic)]
    pub fn contract(s: &dyn Store) {
        let start = s.load_all().unwrap().generation;
        // Creates: a second create of the same row conflicts and writes nothing.
        let g1 = s
            .apply(&[Change::Put {
                record: user("alice", "{\"v\":1}"),
                expected: None,
            }])
            .unwrap();
        assert!(g1 > start);
        let g2 = s
            .apply(&[Change::Put {
                record: user("bob", "{}"),
                expected: None,
            }])
            .unwrap();
        assert_eq!(g2, g1 + 1, "generations are consecutive");
        let again = s.apply(&[
            Change::Put {
                record: user("carol", "{}"),
                expected: None,
            },
            Change::Put {
                record: user("bob", "{\"twice\":true}"),
                expected: None,
            },
        ]);
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        // Updates name the revision they read: a stale one conflicts (another node wrote first).
        let g3 = s
            .apply(&[Change::Put {
                record: user("alice", "{\"v\":2}"),
                expected: Some(g1),
            }])
            .unwrap();
        let stale = s.apply(&[Change::Put {
            record: user("alice", "{\"v\":3}"),
            expected: Some(g1),
        }]);
        assert!(matches!(stale, Err(StoreError::Conflict(_))));
        let snap = s.load_all().unwrap();
        assert_eq!(snap.generation, g3);
        let alice = snap.records.iter().find(|r| r.key == "alice").unwrap();
        assert_eq!((alice.body.as_str(), alice.revision), ("{\"v\":2}", g3));
        assert!(
            !snap.records.iter().any(|r| r.key == "carol"),
            "a failed transaction wrote nothing"
        );
        // The change feed: current versions of what changed, and deletions.
        let g4 = s
            .apply(&[Change::Delete {
                kind: Kind::User,
                account: "1".into(),
                key: "bob".into(),
                expected: Some(g2),
            }])
            .unwrap();
        let feed = s.changes_since(g2).unwrap().unwrap();
        assert_eq!(feed.generation, g4);
        assert_eq!(feed.puts.len(), 1);
        assert_eq!(feed.puts[0].key, "alice");
        assert_eq!(feed.puts[0].revision, g3);
        assert_eq!(
            feed.deletes,
            vec![(Kind::User, "1".to_string(), "bob".to_string())]
        );
        let none = s.changes_since(g4).unwrap().unwrap();
        assert!(none.puts.is_empty() && none.deletes.is_empty());
        // Atomic read-modify-write of meta values.
        s.put_meta("k", "u").unwrap();
        let v = s
            .update_meta("k", &mut |cur| {
                assert_eq!(cur, Some("u"));
                Ok(Some("v".into()))
            })
            .unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        let kept = s.update_meta("k", &mut |_| Ok(None)).unwrap();
        assert_eq!(kept.as_deref(), Some("v"));
        assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("v"));
        // Single-use claims.
        let scope = format!("test:{g4}");
        assert!(s.claim_once(&scope, "a", 2000, 1000).unwrap());
        assert!(!s.claim_once(&scope, "a", 2000, 1001).unwrap());
        assert!(
            s.claim_once(&scope, "a", 4000, 2000).unwrap(),
            "expired claims are forgotten"
        );
        // Failure counters: a lockout after `limit` failures within the window, visible to every node.
        let p = FailurePolicy {
            limit: 3,
            window: 100,
            lockout: 50,
        };
        let key = format!("mfa:{g4}");
        assert_eq!(s.record_failure(&key, 1000, p).unwrap(), None);
        assert_eq!(s.record_failure(&key, 1001, p).unwrap(), None);
        assert_eq!(s.locked_until(&key, 1001).unwrap(), None);
        assert_eq!(s.record_failure(&key, 1002, p).unwrap(), Some(1052));
        assert_eq!(s.locked_until(&key, 1010).unwrap(), Some(1052));
        assert_eq!(s.locked_until(&key, 1052).unwrap(), None);
        s.clear_failures(&key).unwrap();
        assert_eq!(s.locked_until(&key, 1010).unwrap(), None);
        s.ping().unwrap();
    }
}
