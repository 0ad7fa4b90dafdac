//! The application: state, store, configuration and clock shared by every request.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use crate::error::{ApiError, ApiResult};
use crate::state::{State, Touched};
use crate::store::{Store, StoreError};

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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_presign_secs: 900,
            max_body_bytes: 16 * 1024 * 1024,
            allow_http_oidc: false,
            oidc_fetch_timeout: crate::oidc::DEFAULT_FETCH_TIMEOUT,
        }
    }
}

/// Time source. Injectable so tests can move time without sleeping.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Option<i64>,
    /// Seconds added to the system time (`STSD_CLOCK_OFFSET_SECS`: lets end-to-end tests observe expiry
    /// without waiting).
    offset: i64,
}

impl Clock {
    pub fn fixed(at: i64) -> Clock {
        Clock {
            fixed: Some(at),
            offset: 0,
        }
    }
    pub fn with_offset(offset: i64) -> Clock {
        Clock {
            fixed: None,
            offset,
        }
    }
    pub fn now(&self) -> i64 {
        self.fixed
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp() + self.offset)
    }
}

/// (access key ID, date, region, service): what a SigV4 signing key depends on.
type SigningKeyId = (String, String, String, String);

pub struct App {
    state: RwLock<State>,
    store: std::sync::Arc<dyn Store>,
    /// The audit trail's writer (events are queued here and stored in batches off the request path).
    pub audit: crate::audit::Audit,
    pub config: Config,
    pub clock: Clock,
    /// The account created on first start; only its root may create accounts.
    pub management_account: String,
    /// Keys sealing session tokens.
    pub tokens: crate::tokens::KeyRing,
    /// SigV4 signing keys per (key id, date, region, service): one HMAC chain per key per day.
    signing_keys: Mutex<HashMap<SigningKeyId, [u8; 32]>>,
    session_policies: Mutex<HashMap<String, std::sync::Arc<policy::Policy>>>,
    /// Wrong MFA codes per device (the guessing guard).
    pub mfa_failures: crate::mfa::FailureGuard,
    /// Uses of access keys and roles not yet flushed to the store ([`crate::usage`]).
    pub usage: crate::usage::Usage,
}

impl App {
    pub fn new(store: Box<dyn Store>, config: Config, clock: Clock) -> Result<App, StoreError> {
        let state = State::load(store.as_ref())?;
        let management_account = store.get_meta("management_account")?.unwrap_or_default();
        let tokens = crate::tokens::KeyRing::load(store.as_ref(), clock.now())?;
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::from(store);
        let audit = crate::audit::Audit::start(
            store.clone(),
            clock.clone(),
            crate::audit::DEFAULT_CAPACITY,
        );
        Ok(App {
            audit,
            tokens,
            state: RwLock::new(state),
            store,
            config,
            clock,
            management_account,
            signing_keys: Mutex::new(HashMap::new()),
            session_policies: Mutex::new(HashMap::new()),
            mfa_failures: crate::mfa::FailureGuard::default(),
            usage: crate::usage::Usage::default(),
        })
    }

    /// Panic while holding the state's write lock, as a handler bug would (tests of crash containment).
    #[cfg(test)]
    pub(crate) fn poison_state_for_test(&self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = self.state.write();
            std::panic::resume_unwind(Box::new("handler bug"));
        }));
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn set_management_account(&mut self, id: &str) -> Result<(), StoreError> {
        self.store.put_meta("management_account", id)?;
        self.management_account = id.to_string();
        Ok(())
    }

    pub fn read(&self) -> ApiResult<RwLockReadGuard<'_, State>> {
        if let Ok(guard) = self.state.read() {
            return Ok(guard);
        }
        // (The poisoned read guard is dropped by now: recovery needs the write lock.)
        self.recover_state();
        self.state.read().map_err(|_| ApiError::internal())
    }

    /// A handler that panicked while holding the state lock poisoned it, and may have left a mutation half
    /// done. The store holds exactly what was acknowledged, so memory is reloaded from it and the lock made
    /// usable again: a panic costs its own request, never the server.
    fn recover_state(&self) {
        let mut guard = match self.state.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !self.state.is_poisoned() {
            return;
        }
        match State::load(self.store.as_ref()) {
            Ok(fresh) => {
                *guard = fresh;
                self.state.clear_poison();
                tracing::error!("a request panicked while holding the state lock; state reloaded from the store");
            }
            Err(e) => tracing::error!(error = %e, "reloading state after a panic failed"),
        }
    }

    /// Run a mutation. The closure validates before it mutates; if it fails after mutating, or the store
    /// refuses the commit, memory is reloaded from the store so nothing half-done stays visible.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut State, &mut Touched) -> ApiResult<T>,
    ) -> ApiResult<T> {
        if self.state.is_poisoned() {
            self.recover_state();
        }
        let mut st = self.state.write().map_err(|_| ApiError::internal())?;
        let mut touched = Touched::default();
        let result = f(&mut st, &mut touched);
        if touched.is_empty() {
            return result;
        }
        let commit = match &result {
            Ok(_) => st.changes(&touched).and_then(|c| self.store.apply(&c)),
            Err(_) => Err(StoreError::Backend("action failed after mutating".into())),
        };
        match commit {
            Ok(()) => {
                st.reindex();
                result
            }
            Err(e) => {
                if result.is_ok() {
                    tracing::error!(error = %e, "store commit failed; reloading state");
                }
                match State::load(self.store.as_ref()) {
                    Ok(fresh) => *st = fresh,
                    Err(le) => tracing::error!(error = %le, "reloading state failed"),
                }
                result.and(Err(ApiError::internal()))
            }
        }
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
        let k = (
            key_id.to_string(),
            date.to_string(),
            region.to_string(),
            service.to_string(),
        );
        if let Ok(cache) = self.signing_keys.lock() {
            if let Some(v) = cache.get(&k) {
                return *v;
            }
        }
        let v = sigv4::signing_key(secret, date, region, service);
        if let Ok(mut cache) = self.signing_keys.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(k, v);
        }
        v
    }

    /// A session's inline policy, compiled once and cached by its text (sessions repeat it on every call).
    pub fn session_policy(&self, text: &str) -> ApiResult<std::sync::Arc<policy::Policy>> {
        if let Ok(cache) = self.session_policies.lock() {
            if let Some(p) = cache.get(text) {
                return Ok(p.clone());
            }
        }
        let p = crate::authz::compile_with_limit(
            text,
            policy::PolicyKind::Session,
            policy::MAX_WIRE_CHARS,
        )?;
        if let Ok(mut cache) = self.session_policies.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(text.to_string(), p.clone());
        }
        Ok(p)
    }

    /// Forget cached signing keys of a key ID (its secret changed or it was deleted).
    pub fn forget_signing_keys(&self, key_id: &str) {
        if let Ok(mut cache) = self.signing_keys.lock() {
            cache.retain(|k, _| k.0 != key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_under_the_state_lock_costs_one_request_not_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        let app = App::new(
            Box::new(store),
            Config::default(),
            Clock::fixed(1_700_000_000),
        )
        .unwrap();
        app.poison_state_for_test();
        assert!(app.state.is_poisoned());
        // The next reader and writer get a state reloaded from the store.
        assert!(app.read().is_ok());
        assert!(!app.state.is_poisoned());
        app.poison_state_for_test();
        assert!(app.write(|_, _| Ok(())).is_ok());
        assert!(!app.state.is_poisoned());
    }
}
