//! Persistence. Action code never talks SQL: it mutates a copy of the in-memory state (`crate::state`) and the
//! state hands a list of [`Change`]s to a [`Store`] in one transaction. The embedded default is SQLite
//! ([`sqlite::SqliteStore`]); several nodes share one PostgreSQL database ([`postgres::PgStore`]).
//!
//! **Generations and revisions.** Every committed transaction gets the next *generation* (a total order of
//! writes, across nodes). Each entity row carries the generation that last wrote it, its *revision*. A change
//! names the revision its writer saw (`expected`); if the row moved on meanwhile — another node wrote it — the
//! whole transaction fails with [`StoreError::Conflict`] instead of overwriting: no lost or torn updates.
//! [`Store::changes_since`] is the change feed other nodes apply to their snapshots.

pub use crate::trail::{Appended, AuditHead, AuditRow, Encoded, GroupSpan, StoredBlock};

impl StoredBlock {
    /// The store error for this block failing to decode.
    pub fn corrupt(&self, c: &crate::trail::Corrupt) -> StoreError {
        StoreError::Corrupt(format!("audit events {}..={}: {c}", self.seq, self.last()))
    }
}

pub mod audit_journal;
pub mod postgres;
pub mod sqlite;
pub mod sqlite_audit;

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

/// Why [`Store::wait_for_change`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Nothing was announced within the timeout (the follower's safety poll).
    Timeout,
    /// Commits were announced; `through` is the newest generation they named, or `None` when some
    /// announcement named none (shared metadata changed, or the notification channel reconnected).
    Notified { through: Option<i64> },
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

/// How a conflict names an entity (in logs).
pub(crate) fn entity_name(kind: Kind, account: &str, key: &str) -> String {
    format!("{} {key} of account {account}", kind.as_str())
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
    fn wait_for_change(&self, timeout: std::time::Duration) -> Wake {
        std::thread::sleep(timeout);
        Wake::Timeout
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
    /// Append encoded audit events: under the trail's lock (nothing else appends meanwhile) they are numbered
    /// and chained after the head ([`crate::trail::seal`]), and records, group spans, index entries and
    /// the new head commit in one transaction. Returns the new head.
    fn audit_append(&self, _batch: &[Encoded]) -> Result<AuditHead, StoreError> {
        Err(no_audit())
    }
    /// Whether [`Store::audit_append`] finishes in microseconds on this machine without waiting for another
    /// process or the network (the embedded store's journal: one write into the page cache), so that a
    /// request's own thread may append its events rather than hand them to the audit writer thread.
    fn audit_append_is_local(&self) -> bool {
        false
    }
    /// Make everything appended so far reach its final place (the embedded store moves its journal into
    /// `audit.db`), for a clean stop. Appends are durable without it.
    fn audit_settle(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Write already-sealed records as they are, and make `a.head` the head (copying a trail between stores).
    fn audit_import(&self, _a: &Appended) -> Result<(), StoreError> {
        Err(no_audit())
    }
    /// The trail's head (a fresh trail: `next_seq` = `first_seq` = 1, genesis hashes).
    fn audit_head(&self) -> Result<AuditHead, StoreError> {
        Err(no_audit())
    }
    /// The stored blocks holding any event `from..=to`, ascending (the first may start before `from`, the last
    /// end after `to`). Callers bound the range (a group or a chunk).
    fn audit_blocks(&self, _from: i64, _to: i64) -> Result<Vec<StoredBlock>, StoreError> {
        Err(no_audit())
    }
    /// Time spans of the groups `from..=to`, ascending.
    fn audit_spans(&self, _from: i64, _to: i64) -> Result<Vec<GroupSpan>, StoreError> {
        Err(no_audit())
    }
    /// The first group whose `hi_max` is at least `since` (no event in earlier groups is that recent).
    fn audit_first_group_since(&self, _since: i64) -> Result<Option<i64>, StoreError> {
        Err(no_audit())
    }
    /// The newest group that may hold an event at or before `until`: the last whose `lo_floor` (the
    /// earliest time in it or any later group) is at most `until` — one index seek.
    fn audit_newest_group_until(&self, _until: i64) -> Result<Option<i64>, StoreError> {
        Err(no_audit())
    }
    /// Up to `limit` groups in `from..=to` holding index key `key`, ascending or descending.
    fn audit_key_groups(
        &self,
        _key: i64,
        _from: i64,
        _to: i64,
        _descending: bool,
        _limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        Err(no_audit())
    }
    /// Remove events `..=through` with their index entries `keys` (recomputed by the caller from the records)
    /// and the groups wholly below `through + 1`; the head's `first_seq` becomes `through + 1` and its
    /// `base_hash` the hash of event `through`. Removes nothing unless `through` is below `next_seq`.
    fn audit_purge(
        &self,
        _through: i64,
        _base_hash: &[u8],
        _keys: &[(i64, i64)],
    ) -> Result<(), StoreError> {
        Err(no_audit())
    }
    /// Bytes the stored trail occupies (records and index): pages in use on SQLite, live tuple bytes on
    /// PostgreSQL (whose files keep their high-water mark until VACUUM FULL).
    fn audit_bytes(&self) -> Result<u64, StoreError> {
        Err(no_audit())
    }
    /// Record export files covering events `..=through`, if the head still says `exported_through` =
    /// `expected` (several nodes may export; one wins). Returns whether they were recorded.
    fn audit_claim_export(
        &self,
        _expected: i64,
        _through: i64,
        _files: &[ExportRecord],
    ) -> Result<bool, StoreError> {
        Err(no_audit())
    }
    /// Every export file recorded, in the order they were claimed.
    fn audit_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        Err(no_audit())
    }
    /// Store digest `d` if the newest stored digest ends at `previous_end` (`None`: no digest yet). Returns
    /// whether it was stored (another node may have written this period's digest first).
    fn audit_add_digest(
        &self,
        _d: &DigestRecord,
        _previous_end: Option<i64>,
    ) -> Result<bool, StoreError> {
        Err(no_audit())
    }
    /// Every stored digest, oldest first.
    fn audit_digests(&self) -> Result<Vec<DigestRecord>, StoreError> {
        Err(no_audit())
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

fn no_audit() -> StoreError {
    StoreError::Backend("this store does not keep audit events".into())
}

/// One exported file, as recorded in the store and listed in digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportRecord {
    /// Path relative to the export directory.
    pub name: String,
    /// The export run's event range (one run writes a file per account and region).
    pub first_seq: i64,
    pub last_seq: i64,
    /// Events in this file.
    pub events: i64,
    /// SHA-256 of the file's bytes (hex) and of the previously recorded file (hex; empty for the first).
    pub sha256: String,
    pub prev_sha256: String,
    pub oldest: i64,
    pub newest: i64,
    pub created: i64,
}

/// One signed digest: the JSON text that was signed and its signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestRecord {
    pub end_time: i64,
    pub body: String,
    /// Hex Ed25519 signature over `body`'s bytes.
    pub signature: String,
}

/// One `LookupAttributes` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditFilter {
    EventName(String),
    ResourceType(String),
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

    /// The audit trail's storage contract, on an empty trail.
    pub fn audit_contract(s: &dyn Store) {
        use crate::trail::{self, Attr};
        let fresh = s.audit_head().unwrap();
        assert_eq!(
            (fresh.first_seq, fresh.next_seq, fresh.exported_through),
            (1, 1, 0)
        );
        assert_eq!(fresh.last_hash, trail::genesis());
        let mut codec = trail::Codec::new();
        // Three groups: two full, the third half full; one CreateUser in each.
        let g = 1i64 << trail::GROUP_BITS;
        let n = 2 * g + g / 2;
        let created_at = [g / 2, g + g / 2, 2 * g + 1];
        let row = |i: i64| AuditRow {
            account: "111122223333".into(),
            event_id: format!("e{i}"),
            event_time: 1000 + i,
            event_name: if created_at.contains(&i) {
                "CreateUser"
            } else {
                "AssumeRole"
            }
            .into(),
            event_source: "sts.amazonaws.com".into(),
            username: "alice".into(),
            // Some incompressible bytes, so removing a group frees whole pages.
            body: format!(
                "{{\"i\":{i},\"pad\":\"{}\"}}",
                (0..100u64)
                    .map(|k| format!(
                        "{:016x}",
                        (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64
                    ))
                    .collect::<String>()
            ),
            ..AuditRow::default()
        };
        // Three appends: group 0 exactly, then the start of group 1, then the rest from inside group 1.
        for range in [1..g, g..g + 5, g + 5..n + 1] {
            let rows: Vec<AuditRow> = range.map(row).collect();
            let head = s.audit_append(&codec.encode(&rows)).unwrap();
            assert_eq!(head, s.audit_head().unwrap());
        }
        let head = s.audit_head().unwrap();
        assert_eq!(head.next_seq, n + 1);
        // The blocks holding events g-10..=g: the first starts before the range.
        let blocks = s.audit_blocks(g - 10, g).unwrap();
        let spans: Vec<(i64, i64)> = blocks.iter().map(|b| (b.seq, b.count)).collect();
        assert_eq!(spans, [(1, g - 1), (g, 5)]);
        assert_eq!(
            codec.decode(&blocks[0]).unwrap()[usize::try_from(g - 6).unwrap()].event_id,
            format!("e{}", g - 5)
        );
        assert_eq!(s.audit_blocks(g + 4, g + 5).unwrap().len(), 2);
        assert_eq!(s.audit_blocks(n + 1, n + 9).unwrap().len(), 0);
        assert_eq!(
            s.audit_spans(0, 10).unwrap(),
            vec![
                GroupSpan {
                    grp: 0,
                    time_lo: 1001,
                    time_hi: 1000 + g - 1,
                    hi_max: 1000 + g - 1
                },
                GroupSpan {
                    grp: 1,
                    time_lo: 1000 + g,
                    time_hi: 1000 + 2 * g - 1,
                    hi_max: 1000 + 2 * g - 1
                },
                GroupSpan {
                    grp: 2,
                    time_lo: 1000 + 2 * g,
                    time_hi: 1000 + n,
                    hi_max: 1000 + n
                },
            ]
        );
        assert_eq!(s.audit_head().unwrap().max_time, 1000 + n);
        assert_eq!(s.audit_first_group_since(0).unwrap(), Some(0));
        assert_eq!(
            s.audit_first_group_since(1000 + g + g / 4).unwrap(),
            Some(1)
        );
        assert_eq!(s.audit_first_group_since(1000 + n).unwrap(), Some(2));
        assert_eq!(s.audit_first_group_since(1000 + n + 1).unwrap(), None);
        assert_eq!(s.audit_newest_group_until(1000).unwrap(), None);
        assert_eq!(s.audit_newest_group_until(1001).unwrap(), Some(0));
        assert_eq!(s.audit_newest_group_until(1000 + g).unwrap(), Some(1));
        assert_eq!(
            s.audit_newest_group_until(1000 + 2 * g - 1).unwrap(),
            Some(1)
        );
        assert_eq!(s.audit_newest_group_until(i64::MAX).unwrap(), Some(2));
        let created = trail::key("111122223333", Attr::EventName, "CreateUser");
        assert_eq!(
            s.audit_key_groups(created, 0, 10, true, 10).unwrap(),
            [2, 1, 0]
        );
        assert_eq!(
            s.audit_key_groups(created, 0, 10, false, 2).unwrap(),
            [0, 1]
        );
        assert_eq!(s.audit_key_groups(created, 1, 1, false, 9).unwrap(), [1]);
        assert!(
            s.audit_key_groups(12345, 0, 10, true, 10)
                .unwrap()
                .is_empty()
        );
        let bytes_before = s.audit_bytes().unwrap();
        assert!(bytes_before > 0);
        // Purge group 0 (events 1..g-1).
        let keys: Vec<(i64, i64)> = s
            .audit_blocks(1, g - 1)
            .unwrap()
            .iter()
            .flat_map(|b| codec.decode(b).unwrap())
            .flat_map(|r| trail::keys_of(&r).into_iter().map(|k| (k, 0)))
            .collect();
        let base = s.audit_blocks(g - 1, g - 1).unwrap()[0].hash.clone();
        s.audit_purge(g - 1, &base, &keys).unwrap();
        let head = s.audit_head().unwrap();
        assert_eq!((head.first_seq, head.next_seq), (g, n + 1));
        assert_eq!(head.base_hash, base);
        assert!(s.audit_blocks(1, g - 1).unwrap().is_empty());
        assert_eq!(
            s.audit_key_groups(created, 0, 10, false, 10).unwrap(),
            [1, 2]
        );
        assert_eq!(s.audit_spans(0, 10).unwrap().len(), 2);
        let bytes_after = s.audit_bytes().unwrap();
        assert!(bytes_after < bytes_before, "{bytes_after} < {bytes_before}");
        // Exports: compare-and-set on `exported_through`.
        let file = ExportRecord {
            name: "a.json.gz".into(),
            first_seq: 1,
            last_seq: n,
            events: n,
            sha256: "ab".into(),
            ..ExportRecord::default()
        };
        assert!(
            s.audit_claim_export(0, n, std::slice::from_ref(&file))
                .unwrap()
        );
        assert!(
            !s.audit_claim_export(0, n, std::slice::from_ref(&file))
                .unwrap()
        );
        assert_eq!(s.audit_exports().unwrap(), vec![file]);
        assert_eq!(s.audit_head().unwrap().exported_through, n);
        // Digests: one per period, in order.
        let d = |t: i64| DigestRecord {
            end_time: t,
            body: format!("{{\"t\":{t}}}"),
            signature: "00".into(),
        };
        assert!(s.audit_add_digest(&d(3600), None).unwrap());
        assert!(!s.audit_add_digest(&d(3600), None).unwrap());
        assert!(s.audit_add_digest(&d(7200), Some(3600)).unwrap());
        assert_eq!(s.audit_digests().unwrap(), vec![d(3600), d(7200)]);
        // A key across index epochs: one event in each of three later epochs, found in order either way.
        let per_epoch = g << trail::EPOCH_BITS;
        let start = s.audit_head().unwrap().next_seq;
        let marks = [per_epoch + 3, 2 * per_epoch + 7, 3 * per_epoch + 1];
        let tagged = |i: i64| AuditRow {
            username: if marks.contains(&i) {
                "rare".into()
            } else {
                "alice".into()
            },
            body: String::new(),
            ..row(i)
        };
        let rows: Vec<_> = (start..=3 * per_epoch + 4).map(tagged).collect();
        s.audit_append(&codec.encode(&rows)).unwrap();
        let rare = trail::key("111122223333", Attr::Username, "rare");
        let groups: Vec<i64> = marks.iter().map(|&m| trail::group_of(m)).collect();
        let last = trail::group_of(3 * per_epoch + 4);
        assert_eq!(
            s.audit_key_groups(rare, 0, last, true, 2).unwrap(),
            [groups[2], groups[1]]
        );
        assert_eq!(
            s.audit_key_groups(rare, 0, last, false, 10).unwrap(),
            groups
        );
        assert_eq!(
            s.audit_key_groups(rare, groups[0] + 1, groups[2] - 1, true, 10)
                .unwrap(),
            [groups[1]]
        );
        // A late event (an old time appended last) keeps every group up to its own reachable by time.
        let late_seq = s.audit_head().unwrap().next_seq;
        let late = AuditRow {
            event_time: 1001,
            ..row(late_seq)
        };
        s.audit_append(&codec.encode(&[late])).unwrap();
        assert_eq!(
            s.audit_newest_group_until(1001).unwrap(),
            Some(trail::group_of(late_seq))
        );
        assert_eq!(s.audit_newest_group_until(1000).unwrap(), None);
    }
}
