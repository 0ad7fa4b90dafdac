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
        })
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
        self.state.read().map_err(|_| ApiError::internal())
    }

    /// Run a mutation. The closure validates before it mutates; if it fails after mutating, or the store
    /// refuses the commit, memory is reloaded from the store so nothing half-done stays visible.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut State, &mut Touched) -> ApiResult<T>,
    ) -> ApiResult<T> {
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
