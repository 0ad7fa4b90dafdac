//! The node: this process's view of the installation — the published state snapshot and its writer, the
//! store, configuration, clock, token key ring, caches and counters — shared by every request. Everything
//! below the audit writer (authentication, the actions) works on a `Node`; the application object
//! ([`crate::app::App`]) adds the audit writer and the authorizer's route tables on top.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

pub use stsd_core::clock::Clock;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::{State, Touched};
use crate::store::{Store, StoreError};

/// Attempts of one write when other nodes keep winning the race for the same rows (with a growing random
/// pause between attempts, so contending nodes spread out).
const MAX_WRITE_ATTEMPTS: u32 = 25;

/// Tunables with AWS's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Cap on `X-Amz-Expires` of presigned requests (AWS STS is observed to honour 15 minutes).
    pub max_presign_secs: u64,
    /// Largest request body accepted (IAM's CreateSAMLProvider carries up to 10 MB of metadata).
    pub max_body_bytes: usize,
    /// Accept plain `http://` OIDC issuers (`--allow-http-oidc`: local issuers and tests).
    pub allow_http_oidc: bool,
    /// Time for one whole OIDC discovery + JWKS fetch (`--oidc-fetch-timeout-ms`; see [`crate::oidc`]).
    pub oidc_fetch_timeout: std::time::Duration,
    /// Record the audit trail. Off only to measure what recording costs (`--audit-disabled-for-benchmarks`);
    /// never in production.
    pub audit_recording: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_presign_secs: 900,
            max_body_bytes: 16 * 1024 * 1024,
            allow_http_oidc: false,
            oidc_fetch_timeout: crate::oidc::DEFAULT_FETCH_TIMEOUT,
            audit_recording: true,
        }
    }
}

/// A cached SigV4 signing key of one access key: the scope it was derived for, and the key.
struct SigningEntry {
    date: String,
    region: String,
    service: String,
    key: [u8; 32],
}

/// Scopes kept per access key (a day's key for a few region/service pairs; older days fall out first).
const SIGNING_SCOPES_PER_KEY: usize = 8;
/// Access keys with cached signing keys; the cache starts over beyond this.
const SIGNING_KEYS_CACHED: usize = 100_000;

pub struct Node {
    /// The published snapshot. Readers load it without waiting; writers publish a new one.
    state: ArcSwap<State>,
    /// Serializes this node's writers (readers never take it).
    writer: Mutex<()>,
    store: std::sync::Arc<dyn Store>,
    pub config: Config,
    pub clock: Clock,
    /// The account created on first start; only its root may create accounts.
    pub management_account: String,
    /// Keys sealing session tokens.
    pub tokens: crate::tokens::KeyRing,
    /// SigV4 signing keys per (key id, date, region, service): one HMAC chain per key per day.
    /// Access key ID → its cached signing keys (looked up by `&str`: a hit allocates nothing).
    signing_keys: Mutex<HashMap<String, Vec<SigningEntry>>>,
    /// Compiled inline session policies (the authorization gateway's cache).
    pub session_policies: crate::authz::SessionPolicies,
    /// When this node last confirmed it is in sync with the store (monotonic; readiness).
    synced: Mutex<Option<std::time::Instant>>,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Uses of access keys and roles not yet flushed to the store ([`crate::usage`]).
    pub usage: crate::usage::Usage,
}

/// How long a node may go without confirming it is in sync with a shared store before it reports not ready.
pub const MAX_SYNC_LAG: std::time::Duration = std::time::Duration::from_secs(10);
/// Safety poll of the change feed when no notification arrives.
const FEED_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// How often a follower re-reads the token key ring at most. With [`FEED_POLL`] it bounds how late a node
/// learns of a key published by another (3 s), which must stay below the delay before a new key seals.
const KEY_RING_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);
const _: () = assert!(
    KEY_RING_REFRESH.as_secs() + FEED_POLL.as_secs() < crate::tokens::PUBLISH_DELAY_SECS as u64
);

impl Node {
    pub fn new(store: Box<dyn Store>, config: Config, clock: Clock) -> Result<Node, StoreError> {
        let state = State::load(store.as_ref())?;
        let management_account = store.get_meta("management_account")?.unwrap_or_default();
        let tokens = crate::tokens::KeyRing::load(store.as_ref(), clock.now())?;
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::from(store);
        Ok(Node {
            tokens,
            state: ArcSwap::from_pointee(state),
            writer: Mutex::new(()),
            store,
            config,
            clock,
            management_account,
            signing_keys: Mutex::new(HashMap::new()),
            session_policies: crate::authz::SessionPolicies::default(),
            synced: Mutex::new(Some(std::time::Instant::now())),
            metrics: crate::metrics::Metrics::default(),
            usage: crate::usage::Usage::default(),
        })
    }

    /// Panic in the middle of a write, as a handler bug would (tests of crash containment).
    #[cfg(test)]
    pub(crate) fn panic_in_write_for_test(&self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: ApiResult<()> = self.write(|st, t| {
                st.accounts.clear();
                t.touch(crate::store::Kind::Account, "x", "x");
                std::panic::resume_unwind(Box::new("handler bug"))
            });
        }));
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The store as a shared handle (for writers that outlive a request: the audit trail's).
    pub fn shared_store(&self) -> std::sync::Arc<dyn Store> {
        self.store.clone()
    }

    /// Record `candidate` as the management account unless one is recorded already (atomically, across
    /// every node sharing the store); returns the one recorded.
    pub fn claim_management_account(&mut self, candidate: &str) -> Result<String, StoreError> {
        let recorded = self.store.update_meta("management_account", &mut |cur| {
            Ok(match cur {
                Some(id) if !id.is_empty() => None,
                _ => Some(candidate.to_string()),
            })
        })?;
        let id = recorded.unwrap_or_default();
        self.management_account = id.clone();
        Ok(id)
    }

    /// Whether the snapshot holds account `id`.
    pub fn has_account(&self, id: &str) -> bool {
        self.state.load().accounts.contains_key(id)
    }

    /// The current snapshot. Never waits: writers publish new snapshots instead of locking this one.
    pub fn read(&self) -> ApiResult<Arc<State>> {
        Ok(self.state.load_full())
    }

    /// Run a mutation. The closure works on a copy of the current snapshot, validating before it mutates
    /// and recording what it touched; the touched rows are committed to the store with the revisions the
    /// copy saw, and only then is the copy published. If the closure fails, or the store refuses, the copy
    /// is dropped and nothing half-done is ever visible. When another node changed one of the rows meanwhile
    /// (`Conflict`), the snapshot catches up with the store and the closure runs again on fresh data, so it
    /// decides as it would have on a single node (quotas, existence); after [`MAX_WRITE_ATTEMPTS`] lost races
    /// the caller gets AWS's `ConcurrentModification`.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&mut State, &mut Touched) -> ApiResult<T>,
    ) -> ApiResult<T> {
        // The writer lock guards no data (a panicking writer leaves only its own copy behind).
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            if attempt > 0 {
                use rand::Rng;
                let ceiling = 2u64.pow(attempt.min(6)); // 2 … 64 ms
                std::thread::sleep(std::time::Duration::from_millis(
                    rand::rng().random_range(1..=ceiling),
                ));
            }
            let mut st = State::clone(&self.state.load());
            let mut touched = Touched::default();
            let value = f(&mut st, &mut touched)?;
            if touched.is_empty() {
                return Ok(value);
            }
            let changes = st.changes(&touched).map_err(|e| {
                tracing::error!(error = %e, "encoding a change failed");
                ApiError::internal()
            })?;
            match self.metrics.iam_commits.time(|| self.store.apply(&changes)) {
                Ok(generation) => {
                    let contiguous = st.committed(&touched, generation);
                    self.state.store(Arc::new(st));
                    if !contiguous {
                        // Other nodes committed in between: apply their changes too.
                        self.catch_up_locked().map_err(|e| {
                            tracing::error!(error = %e, "catching up with the store failed");
                            ApiError::internal()
                        })?;
                    }
                    return Ok(value);
                }
                Err(StoreError::Conflict(what)) => {
                    tracing::debug!(%what, "write lost a race with another node; retrying on fresh state");
                    self.catch_up_locked().map_err(|e| {
                        tracing::error!(error = %e, "catching up with the store failed");
                        ApiError::internal()
                    })?;
                }
                Err(e) => {
                    self.metrics.store_error();
                    tracing::error!(error = %e, "store commit failed; nothing was changed");
                    return Err(ApiError::internal());
                }
            }
        }
        Err(ApiError::new(
            ErrorCode::ConcurrentModification,
            "The request was rejected because it attempted to modify a resource that was being modified concurrently. Retry the request.",
        ))
    }

    /// Apply what other nodes committed since this snapshot (the change feed), or reload everything when the
    /// feed no longer reaches back. Returns whether anything changed. `announced` is the newest generation a
    /// notification named, if it named one: when the snapshot holds it once the writer lock is ours (this
    /// node's own commit, whose announcement can arrive before its writer publishes), nothing is read.
    pub fn refresh(&self, announced: Option<i64>) -> Result<bool, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if self.holds(announced) {
            return Ok(false);
        }
        self.catch_up_locked()
    }

    /// Whether the snapshot holds the generation a notification `announced` (false when it named none).
    fn holds(&self, announced: Option<i64>) -> bool {
        announced.is_some_and(|g| g <= self.state.load().generation)
    }

    fn catch_up_locked(&self) -> Result<bool, StoreError> {
        let current = self.state.load_full();
        match self.store.changes_since(current.generation)? {
            Some(feed) if feed.generation <= current.generation => Ok(false),
            Some(feed) => {
                let mut st = State::clone(&current);
                st.apply_feed(feed)?;
                self.state.store(Arc::new(st));
                Ok(true)
            }
            None => {
                tracing::info!(
                    "the change log no longer reaches this snapshot; reloading everything"
                );
                self.state
                    .store(Arc::new(State::load(self.store.as_ref())?));
                Ok(true)
            }
        }
    }

    /// Follow the change feed of a shared store: other nodes' commits are applied to this node's snapshot as
    /// soon as their notification arrives (and at least every [`FEED_POLL`]), and the token key ring is
    /// re-read so keys rotated elsewhere are known before they seal. A store only this node writes needs
    /// no follower. The thread ends with the application.
    pub fn start_follower(self: &Arc<Node>) {
        if !self.store.is_shared() {
            return;
        }
        let weak = Arc::downgrade(self);
        let mut keys_read: Option<std::time::Instant> = None;
        let spawned = std::thread::Builder::new()
            .name("stsd-follower".into())
            .spawn(move || {
                loop {
                    let Some(app) = weak.upgrade() else { return };
                    let store = app.store.clone();
                    drop(app);
                    let wake = store.wait_for_change(FEED_POLL);
                    let Some(app) = weak.upgrade() else { return };
                    // The key ring is re-read at most once per KEY_RING_REFRESH, not on every commit (an IAM write
                    // burst would otherwise cost every node a key-ring read per write): a key published elsewhere
                    // is known here within KEY_RING_REFRESH + FEED_POLL, before it starts sealing.
                    let keys_due = keys_read.is_none_or(|t| t.elapsed() >= KEY_RING_REFRESH);
                    // Announcements of commits this snapshot already holds (this node's own writes) need no
                    // read of the change log.
                    let announced = match wake {
                        crate::store::Wake::Notified { through } => through,
                        crate::store::Wake::Timeout => None,
                    };
                    if app.holds(announced) && !keys_due {
                        if let Ok(mut s) = app.synced.lock() {
                            *s = Some(std::time::Instant::now());
                        }
                        continue;
                    }
                    let synced = app.refresh(announced).and_then(|_| {
                        if !keys_due {
                            return Ok(());
                        }
                        keys_read = Some(std::time::Instant::now());
                        app.tokens.reload(app.store(), app.clock.now())
                    });
                    match synced {
                        Ok(()) => {
                            if let Ok(mut s) = app.synced.lock() {
                                *s = Some(std::time::Instant::now());
                            }
                        }
                        Err(e) => {
                            app.metrics.store_error();
                            tracing::warn!(error = %e, "following the store's changes failed");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the change-feed follower");
        }
    }

    /// Ready to serve: the store answers and this node's snapshot is no further behind than
    /// [`MAX_SYNC_LAG`] (a shared store's follower confirms it continuously).
    pub fn ready(&self) -> Result<(), String> {
        // The answer is unauthenticated: the reason goes to the log, not to the caller.
        self.store.ping().map_err(|e| {
            tracing::warn!(error = %e, "readiness: the store is unreachable");
            "store unreachable".to_string()
        })?;
        if self.store.is_shared() {
            let synced = self.synced.lock().ok().and_then(|s| *s);
            match synced {
                Some(t) if t.elapsed() <= MAX_SYNC_LAG => {}
                _ => return Err("not in sync with the store".into()),
            }
        }
        Ok(())
    }

    /// How long since this node last confirmed it is in sync with the store (zero for a store only it
    /// writes; `MAX` if never).
    pub fn sync_lag(&self) -> std::time::Duration {
        if !self.store.is_shared() {
            return std::time::Duration::ZERO;
        }
        self.synced
            .lock()
            .ok()
            .and_then(|s| *s)
            .map_or(std::time::Duration::MAX, |t| t.elapsed())
    }

    /// The store generation the published snapshot reflects.
    pub fn generation(&self) -> i64 {
        self.state.load().generation
    }

    /// Cached SigV4 signing key.
    pub fn signing_key(
        &self,
        key_id: &str,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let hit = |e: &SigningEntry| e.date == date && e.region == region && e.service == service;
        if let Ok(cache) = self.signing_keys.lock()
            && let Some(e) = cache.get(key_id).and_then(|v| v.iter().find(|e| hit(e)))
        {
            return e.key;
        }
        let v = sigv4::signing_key(secret, date, region, service);
        if let Ok(mut cache) = self.signing_keys.lock() {
            if cache.len() >= SIGNING_KEYS_CACHED && !cache.contains_key(key_id) {
                cache.clear();
            }
            let entries = cache.entry(key_id.to_string()).or_default();
            if !entries.iter().any(hit) {
                if entries.len() >= SIGNING_SCOPES_PER_KEY {
                    entries.remove(0);
                }
                entries.push(SigningEntry {
                    date: date.to_string(),
                    region: region.to_string(),
                    service: service.to_string(),
                    key: v,
                });
            }
        }
        v
    }

    /// Move every pending key and role use into the state and the store, in one transaction
    /// ([`crate::usage::apply`]). If the store refuses the commit the uses go back to the table for the next
    /// flush. Returns how many rows were written.
    pub fn flush_usage(&self) -> usize {
        let pending = self.usage.take();
        if pending.is_empty() {
            return 0;
        }
        match self.write(|st, t| Ok(crate::usage::apply(st, t, &pending))) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "storing last-used data failed; retrying at the next flush");
                self.usage.restore(pending);
                0
            }
        }
    }

    /// Run [`Node::flush_usage`] every [`crate::usage::FLUSH_EVERY`] for as long as the node lives.
    pub fn start_usage_flusher(self: &Arc<Node>) {
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("stsd-usage".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(crate::usage::FLUSH_EVERY);
                    let Some(node) = weak.upgrade() else { return };
                    node.flush_usage();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the last-used flusher");
        }
    }

    /// What the authorization gateway borrows from this node.
    pub fn gateway(&self) -> crate::authz::Gateway<'_> {
        crate::authz::Gateway {
            session_policies: &self.session_policies,
            tokens: &self.tokens,
            metrics: &self.metrics,
        }
    }

    /// Forget cached signing keys of a key ID (its secret changed or it was deleted).
    pub fn forget_signing_keys(&self, key_id: &str) {
        if let Ok(mut cache) = self.signing_keys.lock() {
            cache.remove(key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app on a fresh SQLite store (the directory lives as long as the returned guard).
    fn app_on_sqlite() -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        let app = Node::new(
            Box::new(store),
            Config::default(),
            Clock::fixed(1_700_000_000),
        )
        .unwrap();
        (dir, app)
    }

    /// The cache answers what `sigv4::signing_key` derives, per scope, keeps a bounded number of scopes per key
    /// and forgets a key on demand.
    #[test]
    fn signing_keys_are_cached_per_scope() {
        let (_dir, app) = app_on_sqlite();
        let derive = |secret: &str, date: &str, region: &str| {
            sigv4::signing_key(secret, date, region, "sts")
        };
        for _ in 0..2 {
            for (date, region) in [
                ("20261130", "us-east-1"),
                ("20261130", "eu-west-1"),
                ("20261201", "us-east-1"),
            ] {
                assert_eq!(
                    app.signing_key("AKIA1", "s1", date, region, "sts"),
                    derive("s1", date, region)
                );
            }
        }
        // A cached key is served from the cache (a different secret is not consulted) until forgotten.
        assert_eq!(
            app.signing_key("AKIA1", "other", "20261130", "us-east-1", "sts"),
            derive("s1", "20261130", "us-east-1")
        );
        app.forget_signing_keys("AKIA1");
        assert_eq!(
            app.signing_key("AKIA1", "other", "20261130", "us-east-1", "sts"),
            derive("other", "20261130", "us-east-1")
        );
        for day in 0..20 {
            let date = format!("202612{:02}", day + 1);
            app.signing_key("AKIA2", "s2", &date, "us-east-1", "sts");
        }
        let cache = app.signing_keys.lock().unwrap();
        assert_eq!(
            cache.get("AKIA2").map(Vec::len),
            Some(SIGNING_SCOPES_PER_KEY)
        );
        assert_eq!(
            cache
                .get("AKIA2")
                .and_then(|v| v.last())
                .map(|e| e.date.as_str()),
            Some("20261220")
        );
    }

    #[test]
    fn a_panic_in_a_write_costs_one_request_not_the_server() {
        let (_dir, app) = app_on_sqlite();
        crate::iam::create_account_for_management(&app, "111122223333", None).unwrap();
        app.panic_in_write_for_test();
        // The half-done copy was dropped: readers see the account, and the next writer works.
        assert!(app.read().unwrap().accounts.contains_key("111122223333"));
        assert!(app.write(|_, _| Ok(())).is_ok());
        assert_eq!(app.read().unwrap().accounts.len(), 1);
        assert!(crate::iam::create_account_for_management(&app, "111122223333", None).is_err());
    }

    /// A write is all or nothing: a closure that fails after mutating its copy leaves the published
    /// snapshot and the store as they were.
    #[test]
    fn a_failed_write_leaves_no_trace() {
        use crate::test_support::{ACCOUNT, Harness};
        let h = Harness::new();
        let failed: ApiResult<()> = h.app.write(|st, t| {
            if let Some(acct) = st.account_mut(ACCOUNT) {
                acct.meta.alias = Some("half-done".into());
            }
            t.touch(crate::store::Kind::Account, ACCOUNT, ACCOUNT);
            Err(ApiError::invalid_input("refused after mutating"))
        });
        assert!(failed.is_err());
        let alias = |h: &Harness| {
            h.app
                .read()
                .unwrap()
                .account(ACCOUNT)
                .and_then(|a| a.meta.alias.clone())
        };
        assert_eq!(alias(&h), None);
        let h = h.restart_after(0);
        assert_eq!(alias(&h), None);
        // The same write, succeeding, is published and durable.
        h.app
            .write(|st, t| {
                if let Some(acct) = st.account_mut(ACCOUNT) {
                    acct.meta.alias = Some("done".into());
                }
                t.touch(crate::store::Kind::Account, ACCOUNT, ACCOUNT);
                Ok(())
            })
            .unwrap();
        assert_eq!(alias(&h).as_deref(), Some("done"));
        let h = h.restart_after(0);
        assert_eq!(alias(&h).as_deref(), Some("done"));
    }

    /// A follower woken by the announcement of a generation its snapshot already holds (its own commit) reads
    /// nothing; an announcement of a newer one, or none, catches up.
    #[test]
    fn an_announcement_the_snapshot_holds_reads_nothing() {
        use crate::test_support::Harness;
        let node1 = Harness::new();
        let node2 = node1.second_node();
        let held = node2.app.generation();
        node1.root_iam("CreateUser", &[("UserName", "bob")]);
        let committed = node1.app.generation();
        assert!(committed > held);
        assert!(!node2.app.refresh(Some(held)).unwrap());
        assert_eq!(node2.app.generation(), held, "nothing was read");
        assert!(node2.app.refresh(Some(committed)).unwrap());
        assert_eq!(node2.app.generation(), committed);
        node1.root_iam("CreateUser", &[("UserName", "carol")]);
        assert!(node2.app.refresh(None).unwrap());
        assert_eq!(node2.app.generation(), node1.app.generation());
    }

    /// Two nodes on one store: a node deciding on a stale snapshot loses the race at commit and decides
    /// again on fresh state, so quotas and existence hold as on one node (no lost update).
    #[test]
    fn a_write_on_a_stale_snapshot_is_decided_again_on_fresh_state() {
        use crate::error::ErrorCode;
        use crate::test_support::{Harness, between};
        let node1 = Harness::new();
        node1.root_iam("CreateUser", &[("UserName", "bob")]);
        node1.root_iam("CreateAccessKey", &[("UserName", "bob")]);
        let node2 = node1.second_node();
        // node1 uses bob's second key slot; node2 still sees one key.
        node1.root_iam("CreateAccessKey", &[("UserName", "bob")]);
        let third = node2.call(
            &node2.root,
            "iam",
            "CreateAccessKey",
            &crate::test_support::owned(&[("UserName", "bob")]),
        );
        assert_eq!(third.map_err(|e| e.code), Err(ErrorCode::LimitExceeded));
        // node2 caught up while deciding again: it lists both keys.
        let listed = node2.root_iam("ListAccessKeys", &[("UserName", "bob")]);
        assert_eq!(listed.matches("<AccessKeyId>").count(), 2, "{listed}");

        // Creating the same user on both: the second is EntityAlreadyExists, not an overwrite.
        let node3 = node1.second_node();
        node1.root_iam("CreateUser", &[("UserName", "carol")]);
        let again = node3.call(
            &node3.root,
            "iam",
            "CreateUser",
            &crate::test_support::owned(&[("UserName", "carol")]),
        );
        assert_eq!(
            again.map_err(|e| e.code),
            Err(ErrorCode::EntityAlreadyExists)
        );
        let id = |h: &Harness| {
            between(
                &h.root_iam("GetUser", &[("UserName", "carol")]),
                "<UserId>",
                "</UserId>",
            )
        };
        assert_eq!(id(&node1), id(&node3));
    }
}
