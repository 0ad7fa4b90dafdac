//! The OIDC client behind `AssumeRoleWithWebIdentity`: compact-JWS parsing, the issuer's discovery document
//! and JWKS fetched with a timeout and a size limit and cached per issuer, and signature verification
//! (RS256/RS384/RS512/ES256/ES384 through `jsonwebtoken`'s pure-Rust backend).
//!
//! Nothing here trusts a token before its signature is checked: [`parse`] only exposes the header and the
//! claims needed to find the provider and the key; [`verify`] returns the verified claims.
//!
//! # Fetch policy
//!
//! An issuer is reached only through [`key_for`], which answers from a per-issuer cache and fetches
//! (discovery, then `jwks_uri`, then the JWKS: one *fetch*) under rules that keep any number of requests from
//! multiplying outbound fetches or pinning threads:
//!
//! - **Single flight.** At most one fetch per issuer is outstanding. A caller needing an issuer whose fetch is
//!   running waits for that fetch's result instead of starting another; it waits on the fetch's own condition
//!   variable, never while holding the cache lock (other issuers are served meanwhile), and for at most the fetch
//!   timeout plus [`WAIT_GRACE`].
//! - **Refresh interval.** After a successful fetch the issuer is not fetched again for
//!   [`MIN_REFRESH_INTERVAL`], even for a token naming an unknown `kid` (refused as an unknown key). A cached
//!   JWKS is reused for [`CACHE_TTL`].
//! - **Negative cache with backoff.** A failed fetch is remembered: no fetch for [`MIN_BACKOFF`] after a first
//!   failure, doubling with each consecutive failure up to [`MAX_BACKOFF`], reset by a success. Meanwhile
//!   callers get the remembered `IDPCommunicationError` at once (or a stale cached key that still matches).
//! - **Global cap.** At most [`MAX_CONCURRENT_FETCHES`] fetches are outstanding across all issuers; a caller that
//!   would start one more gets `IDPCommunicationError` at once (not remembered against the issuer).
//! - **Bounded time and size.** A whole fetch (both documents) ends within the fetch timeout
//!   ([`DEFAULT_FETCH_TIMEOUT`], `stsd serve --oidc-fetch-timeout-ms`); each body is at most
//!   [`MAX_DOCUMENT_BYTES`].
//! - **Off the async workers.** Fetching and waiting block the calling thread: `AssumeRoleWithWebIdentity`, the
//!   only caller, always runs on tokio's blocking pool (`server::runs_inline` never admits it).
//!
//! Untrusted JSON (JWT header and claims here and again inside `jsonwebtoken`, the discovery document, the
//! JWKS) is parsed only by `serde_json`, whose recursion limit of 128 levels (the `unbounded_depth` feature is
//! off) refuses deeper nesting with an error; tests parse 100,000 levels on a 256 KiB stack.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Default time for one whole fetch (discovery + JWKS, connect to last byte).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document or JWKS accepted.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;
/// How long a fetched JWKS is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);
/// At most one fetch per issuer in this interval after a successful one (unknown `kid` refreshes).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// No fetch for this long after a first failed fetch; doubled per consecutive failure.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Longest backoff after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Most fetches outstanding at once, all issuers together.
pub const MAX_CONCURRENT_FETCHES: usize = 8;
/// How much longer than the fetch timeout a caller waits for another caller's fetch.
pub const WAIT_GRACE: Duration = Duration::from_millis(500);
/// Accepted clock skew for `iat` / `nbf` in the future (seconds).
pub const LEEWAY_SECS: i64 = 60;
/// Longest accepted token (the API's own limit).
pub const MAX_TOKEN_LEN: usize = 20_000;
/// Most keys kept from one JWKS.
const MAX_KEYS: usize = 100;
/// Most issuers remembered; beyond it, issuers without a fetch in flight are forgotten.
const MAX_ISSUERS: usize = 10_000;

/// Why a token was refused; mapped to AWS's error codes by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `InvalidIdentityToken`.
    Invalid(String),
    /// `ExpiredTokenException`.
    Expired(String),
    /// `IDPCommunicationError`.
    Communication(String),
}

/// A parsed, not yet verified token.
#[derive(Debug, Clone)]
pub struct Unverified {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
}

/// The provider ARN for a stored URL (without scheme).
pub fn provider_arn(account: &str, url: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{url}")
}

/// Split an issuer URL into (URL without scheme, plain http). `https://` always; `http://` only when
/// `allow_http`. `None` for any other scheme.
pub fn strip_scheme(url: &str, allow_http: bool) -> Option<(&str, bool)> {
    if let Some(rest) = url.strip_prefix("https://") {
        Some((rest, false))
    } else if allow_http {
        url.strip_prefix("http://").map(|r| (r, true))
    } else {
        None
    }
}

fn invalid(msg: impl Into<String>) -> TokenError {
    TokenError::Invalid(msg.into())
}

fn b64url(part: &str) -> Option<Vec<u8>> {
    let trimmed = part.trim_end_matches('=');
    data_encoding::BASE64URL_NOPAD
        .decode(trimmed.as_bytes())
        .ok()
}

/// A base64url JWS part decoded as JSON (`serde_json`: nesting beyond 128 levels is an error).
fn json_part(part: &str) -> Option<Value> {
    b64url(part).and_then(|b| serde_json::from_slice(&b).ok())
}

/// Split and decode a compact JWS (`header.payload.signature`). Never panics on any input.
pub fn parse(token: &str) -> Result<Unverified, TokenError> {
    let not_jwt = || invalid("The ID token provided is not a valid JWT.");
    if token.len() > MAX_TOKEN_LEN {
        return Err(not_jwt());
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(not_jwt());
    };
    if h.is_empty() || c.is_empty() {
        return Err(not_jwt());
    }
    let header = json_part(h).ok_or_else(not_jwt)?;
    let claims = json_part(c).ok_or_else(not_jwt)?;
    if b64url(s).is_none() {
        return Err(not_jwt());
    }
    let (Value::Object(header), Value::Object(claims)) = (header, claims) else {
        return Err(not_jwt());
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(not_jwt)?
        .to_string();
    if header.contains_key("crit") {
        return Err(invalid(
            "The ID token uses unsupported critical header parameters.",
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(not_jwt()),
    };
    Ok(Unverified { alg, kid, claims })
}

/// The signing algorithms accepted; `none` and every HMAC algorithm are refused (a public key is not a
/// shared secret).
pub fn algorithm(alg: &str) -> Result<Algorithm, TokenError> {
    Ok(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        other => {
            return Err(invalid(format!(
                "The ID token is signed with an unsupported algorithm: {}",
                other.chars().take(32).collect::<String>()
            )));
        }
    })
}

/// Integer value of a numeric date claim (`exp`, `nbf`, `iat`); refuses strings and other types.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(format!("The {name} claim is not a valid number."))),
        Some(_) => Err(invalid(format!("The {name} claim must be a JSON number."))),
    }
}

/// `exp` required and in the future; `iat`/`nbf`, when present, not beyond `now + LEEWAY_SECS`.
pub fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), TokenError> {
    let exp =
        numeric_date(claims, "exp")?.ok_or_else(|| invalid("The ID token has no exp claim."))?;
    if exp <= now {
        return Err(TokenError::Expired(format!(
            "Token expired: current date/time {now} must be before the expiration date/time {exp}"
        )));
    }
    for name in ["nbf", "iat"] {
        if let Some(t) = numeric_date(claims, name)?
            && t > now.saturating_add(LEEWAY_SECS)
        {
            return Err(invalid(format!(
                "The {name} claim of the ID token is in the future."
            )));
        }
    }
    Ok(())
}

/// Values of a string-or-array claim (`aud`, `amr`); other types yield nothing.
pub fn string_values(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Check the signature of `token` with `jwk`; returns the (now trusted) claims.
pub fn verify(token: &str, jwk: &Jwk, alg: Algorithm) -> Result<Map<String, Value>, TokenError> {
    let bad = || invalid("The ID token signature could not be verified.");
    let key = DecodingKey::from_jwk(jwk).map_err(|_| bad())?;
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.leeway = 0;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v).map_err(|_| bad())?;
    Ok(data.claims)
}

/// Whether `jwk` may verify `alg`: signing use, matching key type and curve, matching `alg` when declared,
/// RSA moduli of at least 2048 bits.
fn usable(jwk: &Jwk, alg: Algorithm) -> bool {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return false;
    }
    if let Some(ka) = jwk.common.key_algorithm {
        let same = matches!(
            (ka, alg),
            (KeyAlgorithm::RS256, Algorithm::RS256)
                | (KeyAlgorithm::RS384, Algorithm::RS384)
                | (KeyAlgorithm::RS512, Algorithm::RS512)
                | (KeyAlgorithm::ES256, Algorithm::ES256)
                | (KeyAlgorithm::ES384, Algorithm::ES384)
        );
        if !same {
            return false;
        }
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(p), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) => {
            b64url(&p.n).is_some_and(|n| {
                let significant = n.iter().skip_while(|b| **b == 0).count();
                significant * 8 >= 2048
            })
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
            p.curve == jsonwebtoken::jwk::EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => {
            p.curve == jsonwebtoken::jwk::EllipticCurve::P384
        }
        _ => false,
    }
}

/// The key for `kid` (or the only usable key when the token names none).
fn pick(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let mut candidates = keys.iter().filter(|k| match kid {
        Some(kid) => k.common.key_id.as_deref() == Some(kid),
        None => true,
    });
    let first = candidates.next()?;
    if kid.is_none() && candidates.next().is_some() {
        // Without a kid the choice must be unambiguous.
        let usable_keys: Vec<&Jwk> = keys.iter().filter(|k| usable(k, alg)).collect();
        return match usable_keys.as_slice() {
            [only] => Some((*only).clone()),
            _ => None,
        };
    }
    usable(first, alg).then(|| first.clone())
}

/// How issuers are reached (from the server's configuration).
#[derive(Debug, Clone, Copy)]
pub struct FetchOptions {
    /// Accept `http://` issuers and JWKS URIs (`--allow-http-oidc`: local issuers and tests).
    pub allow_http: bool,
    /// Time for one whole fetch, discovery and JWKS together (`--oidc-fetch-timeout-ms`).
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            allow_http: false,
            timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }
}

/// The verification key for a token from `issuer` (its full URL, the token's `iss`): from the cache, or
/// fetched (discovery → `jwks_uri` → JWKS) when absent, stale, or missing the `kid`, under the fetch policy of
/// the module docs. Blocks the calling thread for at most the fetch timeout plus [`WAIT_GRACE`].
pub fn key_for(
    issuer: &str,
    kid: Option<&str>,
    alg: Algorithm,
    options: FetchOptions,
) -> Result<Jwk, TokenError> {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| KeyCache::new(MAX_CONCURRENT_FETCHES, Box::new(Instant::now)));
    let wait = options.timeout.saturating_add(WAIT_GRACE);
    cache.key(issuer, kid, alg, wait, || fetch_jwks(issuer, options))
}

fn unknown_key(kid: Option<&str>) -> TokenError {
    match kid {
        Some(k) => invalid(format!(
            "The ID token's key ID {} is not in the provider's JWKS.",
            k.chars().take(128).collect::<String>()
        )),
        None => invalid(
            "The ID token names no key ID and the provider's JWKS has no single usable key.",
        ),
    }
}

fn comm(what: &str) -> TokenError {
    TokenError::Communication(format!(
        "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements ({what})"
    ))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `base + d`, saturating at `base` (an `Instant` cannot represent every sum).
fn later(base: Instant, d: Duration) -> Instant {
    base.checked_add(d).unwrap_or(base)
}

type Keys = Arc<Vec<Jwk>>;
type Fetched = Result<Keys, TokenError>;

/// What is known about one issuer.
#[derive(Default)]
struct IssuerState {
    /// The last JWKS fetched successfully, and when: answers while younger than [`CACHE_TTL`], and as a
    /// fallback while the issuer fails.
    keys: Option<(Keys, Instant)>,
    /// No new fetch before this instant: the refresh interval after a success, the backoff after a failure.
    quiet_until: Option<Instant>,
    /// The last fetch failed: its error (answered until `quiet_until`) and the backoff it set.
    failure: Option<(TokenError, Duration)>,
    /// The fetch in progress, joined by every caller that needs this issuer meanwhile.
    flight: Option<Arc<Flight>>,
}

/// One outstanding fetch: its result once known, and the condition variable its waiters sleep on.
struct Flight {
    result: Mutex<Option<Fetched>>,
    done: Condvar,
    /// Waiters give up at this instant (the fetch's own timeout plus [`WAIT_GRACE`]).
    give_up: Instant,
    /// Callers that joined this fetch instead of starting their own (observed by tests).
    joined: AtomicUsize,
}

impl Flight {
    fn new(give_up: Instant) -> Flight {
        Flight {
            result: Mutex::new(None),
            done: Condvar::new(),
            give_up,
            joined: AtomicUsize::new(0),
        }
    }

    /// The fetch's result, or a communication error once `give_up` has passed.
    fn wait(&self) -> Fetched {
        let mut slot = lock(&self.result);
        loop {
            if let Some(result) = slot.as_ref() {
                return result.clone();
            }
            let left = self.give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(comm("timed out waiting for the identity provider"));
            }
            slot = self
                .done
                .wait_timeout(slot, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn complete(&self, result: Fetched) {
        *lock(&self.result) = Some(result);
        self.done.notify_all();
    }
}

/// The per-issuer JWKS cache enforcing the fetch policy; one instance serves the process ([`key_for`]).
struct KeyCache {
    /// Held only to read or update an issuer's state, never during a fetch or a wait.
    issuers: Mutex<HashMap<String, IssuerState>>,
    /// Fetches outstanding, all issuers together.
    fetching: AtomicUsize,
    max_fetching: usize,
    /// Time source for cache ages, refresh intervals and backoffs (tests move it instead of sleeping).
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
}

/// What a caller does after looking at an issuer's state.
enum Plan {
    /// Answer this error (or a stale key that matches) without any fetch.
    Answer(TokenError),
    /// Wait for the fetch another caller is running.
    Join(Arc<Flight>),
    /// Run the fetch; others join it.
    Fetch(Arc<Flight>),
}

impl KeyCache {
    fn new(max_fetching: usize, clock: Box<dyn Fn() -> Instant + Send + Sync>) -> KeyCache {
        KeyCache {
            issuers: Mutex::new(HashMap::new()),
            fetching: AtomicUsize::new(0),
            max_fetching,
            clock,
        }
    }

    /// The key for `kid`/`alg` from `issuer`; `fetch` is called only when the policy allows a fetch, and
    /// waiting for another caller's fetch lasts at most `wait`.
    fn key(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
        wait: Duration,
        fetch: impl FnOnce() -> Result<Vec<Jwk>, TokenError>,
    ) -> Result<Jwk, TokenError> {
        let now = (self.clock)();
        let (plan, known) = {
            let mut issuers = lock(&self.issuers);
            if issuers.len() >= MAX_ISSUERS && !issuers.contains_key(issuer) {
                issuers.retain(|_, s| s.flight.is_some());
            }
            let st = issuers.entry(issuer.to_string()).or_default();
            if let Some((keys, at)) = &st.keys
                && now.saturating_duration_since(*at) < CACHE_TTL
                && let Some(key) = pick(keys, kid, alg)
            {
                return Ok(key);
            }
            let known = st.keys.as_ref().map(|(keys, _)| Arc::clone(keys));
            let plan = if let Some(flight) = &st.flight {
                flight.joined.fetch_add(1, Ordering::Relaxed);
                Plan::Join(Arc::clone(flight))
            } else if st.quiet_until.is_some_and(|t| now < t) {
                Plan::Answer(
                    st.failure
                        .as_ref()
                        .map_or_else(|| unknown_key(kid), |(e, _)| e.clone()),
                )
            } else if self.reserve() {
                let flight = Arc::new(Flight::new(later(Instant::now(), wait)));
                st.flight = Some(Arc::clone(&flight));
                Plan::Fetch(flight)
            } else {
                Plan::Answer(comm("too many identity provider requests in progress"))
            };
            (plan, known)
        };
        let fetched = match plan {
            Plan::Answer(e) => Err(e),
            Plan::Join(flight) => flight.wait(),
            Plan::Fetch(flight) => {
                let mut fetching = Fetching {
                    cache: self,
                    issuer,
                    flight,
                    finished: false,
                };
                let result = fetch().map(Arc::new);
                fetching.finish(result.clone());
                result
            }
        };
        match fetched {
            Ok(keys) => pick(&keys, kid, alg).ok_or_else(|| unknown_key(kid)),
            // A stale key still verifies while the issuer is unreachable.
            Err(e) => known.and_then(|keys| pick(&keys, kid, alg)).ok_or(e),
        }
    }

    /// Take one of the global fetch slots, if one is free.
    fn reserve(&self) -> bool {
        self.fetching
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_fetching).then_some(n + 1)
            })
            .is_ok()
    }
}

/// A caller's fetch for one issuer: records the outcome in the issuer's state, wakes the waiters and frees the
/// global slot, also when the fetch unwinds.
struct Fetching<'a> {
    cache: &'a KeyCache,
    issuer: &'a str,
    flight: Arc<Flight>,
    finished: bool,
}

impl Fetching<'_> {
    fn finish(&mut self, result: Fetched) {
        self.finished = true;
        let now = (self.cache.clock)();
        {
            let mut issuers = lock(&self.cache.issuers);
            let st = issuers.entry(self.issuer.to_string()).or_default();
            if st
                .flight
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                st.flight = None;
            }
            match &result {
                Ok(keys) => {
                    st.keys = Some((Arc::clone(keys), now));
                    st.failure = None;
                    st.quiet_until = Some(later(now, MIN_REFRESH_INTERVAL));
                }
                Err(e) => {
                    let backoff = st
                        .failure
                        .as_ref()
                        .map_or(MIN_BACKOFF, |(_, b)| b.saturating_mul(2).min(MAX_BACKOFF));
                    st.failure = Some((e.clone(), backoff));
                    st.quiet_until = Some(later(now, backoff));
                }
            }
        }
        self.flight.complete(result);
    }
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(Err(comm("the fetch was abandoned")));
        }
        self.cache.fetching.fetch_sub(1, Ordering::AcqRel);
    }
}

fn scheme_ok(url: &str, allow_http: bool) -> bool {
    url.starts_with("https://") || (allow_http && url.starts_with("http://"))
}

/// Discovery document, then the JWKS it names, both within `options.timeout`.
fn fetch_jwks(issuer: &str, options: FetchOptions) -> Result<Vec<Jwk>, TokenError> {
    if !scheme_ok(issuer, options.allow_http) {
        return Err(comm("issuer URL scheme not allowed"));
    }
    let deadline = later(Instant::now(), options.timeout);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .https_only(!options.allow_http)
        .max_redirects(3)
        .user_agent("stsd-oidc")
        .build()
        .into();
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery = fetch_body(&agent, &discovery_url, deadline)?;
    let jwks_uri = parse_discovery(&discovery, options.allow_http)?;
    parse_jwks(&fetch_body(&agent, &jwks_uri, deadline)?)
}

/// GET `url`, the whole exchange ending by `deadline`, the body at most [`MAX_DOCUMENT_BYTES`].
fn fetch_body(agent: &ureq::Agent, url: &str, deadline: Instant) -> Result<Vec<u8>, TokenError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(comm("timed out"));
    }
    let mut resp = agent
        .get(url)
        .config()
        .timeout_global(Some(left))
        .build()
        .header("Accept", "application/json")
        .call()
        .map_err(|e| {
            tracing::warn!(url, error = %e, "OIDC fetch failed");
            comm("request failed")
        })?;
    resp.body_mut()
        .with_config()
        .limit(MAX_DOCUMENT_BYTES)
        .read_to_vec()
        .map_err(|e| {
            tracing::warn!(url, error = %e, "OIDC response unreadable");
            comm("response unreadable or too large")
        })
}

/// A document from the issuer as JSON (`serde_json`: nesting beyond 128 levels is an error).
fn parse_document(body: &[u8]) -> Result<Value, TokenError> {
    serde_json::from_slice(body).map_err(|e| {
        tracing::warn!(error = %e, "OIDC document is not usable JSON");
        comm("response is not JSON or nests too deeply")
    })
}

/// The `jwks_uri` named by a discovery document (untrusted input from the issuer).
pub fn parse_discovery(body: &[u8], allow_http: bool) -> Result<String, TokenError> {
    let doc = parse_document(body)?;
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| comm("discovery document has no jwks_uri"))?;
    if !scheme_ok(uri, allow_http) {
        return Err(comm("jwks_uri scheme not allowed"));
    }
    Ok(uri.to_string())
}

/// The keys of a JWKS (untrusted input from the issuer): at most the first 100 are read, keys that do not parse
/// are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, TokenError> {
    let doc = parse_document(body)?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| comm("JWKS has no keys"))?;
    Ok(keys
        .iter()
        .take(MAX_KEYS)
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: &Value) -> String {
        data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes())
    }

    #[test]
    fn parses_and_refuses() {
        let h = enc(&serde_json::json!({"alg": "RS256", "kid": "k1"}));
        let c = enc(&serde_json::json!({"iss": "https://x", "sub": "abcdef"}));
        let t = format!("{h}.{c}.c2ln");
        let u = parse(&t).unwrap();
        assert_eq!(u.alg, "RS256");
        assert_eq!(u.kid.as_deref(), Some("k1"));
        assert!(parse("a.b").is_err());
        assert!(parse(&format!("{h}.{c}.x.y")).is_err());
        assert!(parse(&format!("{h}.{c}.***")).is_err());
        assert!(algorithm("none").is_err());
        assert!(algorithm("HS256").is_err());
        assert!(algorithm("ES256").is_ok());
    }

    #[test]
    fn times() {
        let m = |v: Value| v.as_object().unwrap().clone();
        assert!(check_times(&m(serde_json::json!({"exp": 200})), 100).is_ok());
        assert!(matches!(
            check_times(&m(serde_json::json!({"exp": 100})), 100),
            Err(TokenError::Expired(_))
        ));
        assert!(check_times(&m(serde_json::json!({})), 100).is_err());
        assert!(check_times(&m(serde_json::json!({"exp": "200"})), 100).is_err());
        assert!(check_times(&m(serde_json::json!({"exp": 500, "iat": 161})), 100).is_err());
        assert!(check_times(&m(serde_json::json!({"exp": 500, "nbf": 150})), 100).is_ok());
    }

    // --- Untrusted JSON: nesting is bounded by serde_json's recursion limit --------------------------------

    /// Nesting depth fed to every JSON parse path.
    const DEEP: usize = 100_000;

    fn b64(s: &str) -> String {
        data_encoding::BASE64URL_NOPAD.encode(s.as_bytes())
    }

    fn nested(levels: usize, open: &str, inner: &str, close: &str) -> String {
        format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
    }

    /// Run `f` on a thread with a 256 KiB stack, where unbounded recursion over 100,000 levels would overflow.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn deep_json_is_an_error_on_every_parse_path() {
        on_small_stack(|| {
            let claims = b64(r#"{"iss":"https://x","sub":"abcdef","exp":2000000000}"#);
            let header = b64(r#"{"alg":"RS256","kid":"k1"}"#);
            let key = rsa_key("k1");
            for doc in [
                nested(DEEP, "[", "", "]"),
                nested(DEEP, r#"{"a":"#, "1", "}"),
                "[".repeat(DEEP),
            ] {
                // serde_json itself: the recursion limit, not the input's end, stops it.
                let err = serde_json::from_str::<Value>(&doc).unwrap_err().to_string();
                assert!(err.contains("recursion limit exceeded"), "{err}");
                // JWT header and claims (`parse` refuses such long tokens by length, so also the decoder
                // directly, and the deepest token that fits the length limit).
                assert!(json_part(&b64(&doc)).is_none());
                assert!(parse(&format!("{}.{claims}.c2ln", b64(&doc))).is_err());
                assert!(parse(&format!("{header}.{}.c2ln", b64(&doc))).is_err());
                let fits = (MAX_TOKEN_LEN - claims.len() - 8) * 3 / 4;
                let deepest = format!("{}.{claims}.c2ln", b64(doc.get(..fits).unwrap()));
                assert!(deepest.len() <= MAX_TOKEN_LEN);
                assert!(parse(&deepest).is_err());
                // jsonwebtoken's own decoding of the header (claims are decoded only after the signature).
                assert!(verify(&deepest, &key, Algorithm::RS256).is_err());
                let deep_claims = format!("{header}.{}.c2ln", b64(doc.get(..fits).unwrap()));
                assert!(verify(&deep_claims, &key, Algorithm::RS256).is_err());
                // Discovery document and JWKS, bare and inside the expected member.
                for body in [doc.clone(), format!(r#"{{"jwks_uri":{doc}}}"#)] {
                    assert!(matches!(
                        parse_discovery(body.as_bytes(), true),
                        Err(TokenError::Communication(_))
                    ));
                }
                for body in [doc.clone(), format!(r#"{{"keys":[{doc}]}}"#)] {
                    assert!(matches!(
                        parse_jwks(body.as_bytes()),
                        Err(TokenError::Communication(_))
                    ));
                }
            }
            // Under the limit, the same shapes parse on this stack.
            let shallow = nested(120, "[", "", "]");
            assert!(json_part(&b64(&shallow)).is_some());
            let jwks = format!(
                r#"{{"keys":[{{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB","z":{shallow}}}]}}"#
            );
            assert_eq!(parse_jwks(jwks.as_bytes()).unwrap().len(), 1);
            let discovery = format!(r#"{{"jwks_uri":"https://x/keys","z":{shallow}}}"#);
            assert_eq!(
                parse_discovery(discovery.as_bytes(), false).unwrap(),
                "https://x/keys"
            );
        });
    }

    // --- Fetch policy ------------------------------------------------------------------------------------

    const ISSUER: &str = "https://idp.example.com";
    const WAIT: Duration = Duration::from_secs(60);

    /// An RSA JWK `usable` for RS256 (2048-bit modulus; never used to verify a real signature).
    fn rsa_key(kid: &str) -> Jwk {
        serde_json::from_value(serde_json::json!({
            "kty": "RSA", "kid": kid, "use": "sig",
            "n": data_encoding::BASE64URL_NOPAD.encode(&[0xc5u8; 256]), "e": "AQAB"
        }))
        .unwrap()
    }

    /// A cache whose clock the test moves.
    fn test_cache(max_fetching: usize) -> (Arc<KeyCache>, Arc<Mutex<Instant>>) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock = now.clone();
        let cache = KeyCache::new(max_fetching, Box::new(move || *clock.lock().unwrap()));
        (Arc::new(cache), now)
    }

    fn advance(clock: &Mutex<Instant>, by: Duration) {
        *clock.lock().unwrap() += by;
    }

    /// Ask `cache` for `kid` of `ISSUER`; a fetch (counted in `fetches`) answers `keys`, or fails when `None`.
    fn ask(
        cache: &KeyCache,
        kid: &str,
        fetches: &AtomicUsize,
        keys: Option<&[&str]>,
    ) -> Result<Jwk, TokenError> {
        cache.key(ISSUER, Some(kid), Algorithm::RS256, WAIT, || {
            fetches.fetch_add(1, Ordering::SeqCst);
            keys.map(|ks| ks.iter().map(|k| rsa_key(k)).collect())
                .ok_or_else(|| comm("test issuer down"))
        })
    }

    fn is_comm(r: &Result<Jwk, TokenError>) -> bool {
        matches!(r, Err(TokenError::Communication(_)))
    }

    fn joined(cache: &KeyCache, issuer: &str) -> usize {
        lock(&cache.issuers)
            .get(issuer)
            .and_then(|s| s.flight.as_ref())
            .map_or(0, |f| f.joined.load(Ordering::SeqCst))
    }

    #[test]
    fn failures_are_remembered_with_a_doubling_backoff_reset_by_success() {
        let (cache, clock) = test_cache(8);
        let fetches = AtomicUsize::new(0);
        let n = || fetches.load(Ordering::SeqCst);
        assert!(is_comm(&ask(&cache, "k1", &fetches, None)));
        for _ in 0..10 {
            // Remembered: no fetch, even though the issuer would now answer.
            assert!(is_comm(&ask(&cache, "k1", &fetches, Some(&["k1"]))));
        }
        assert_eq!(n(), 1);
        let mut backoff = MIN_BACKOFF;
        for _ in 0..9 {
            advance(&clock, backoff - Duration::from_millis(1));
            assert!(is_comm(&ask(&cache, "k1", &fetches, Some(&["k1"]))));
            let before = n();
            advance(&clock, Duration::from_millis(1));
            assert!(is_comm(&ask(&cache, "k1", &fetches, None)));
            assert_eq!(n(), before + 1);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        assert_eq!(backoff, MAX_BACKOFF);
        advance(&clock, MAX_BACKOFF);
        assert!(ask(&cache, "k1", &fetches, Some(&["k1"])).is_ok());
        let before = n();
        // After a success the backoff starts again at its minimum.
        advance(&clock, MIN_REFRESH_INTERVAL);
        assert!(is_comm(&ask(&cache, "k2", &fetches, None)));
        advance(&clock, MIN_BACKOFF);
        assert!(ask(&cache, "k2", &fetches, Some(&["k1", "k2"])).is_ok());
        assert_eq!(n(), before + 2);
        assert_eq!(cache.fetching.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_unknown_kid_refreshes_at_most_once_per_interval() {
        let (cache, clock) = test_cache(8);
        let fetches = AtomicUsize::new(0);
        assert!(ask(&cache, "k1", &fetches, Some(&["k1"])).is_ok());
        for _ in 0..10 {
            let r = ask(&cache, "k2", &fetches, Some(&["k1", "k2"]));
            assert!(matches!(r, Err(TokenError::Invalid(m)) if m.contains("key ID")));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        advance(&clock, MIN_REFRESH_INTERVAL);
        assert!(ask(&cache, "k2", &fetches, Some(&["k1", "k2"])).is_ok());
        assert!(ask(&cache, "k1", &fetches, None).is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // Stale after the TTL: refetched.
        advance(&clock, CACHE_TTL);
        assert!(ask(&cache, "k1", &fetches, Some(&["k1"])).is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_stale_key_still_answers_while_the_issuer_fails() {
        let (cache, clock) = test_cache(8);
        let fetches = AtomicUsize::new(0);
        assert!(ask(&cache, "k1", &fetches, Some(&["k1"])).is_ok());
        advance(&clock, CACHE_TTL);
        assert!(ask(&cache, "k1", &fetches, None).is_ok());
        assert!(ask(&cache, "k1", &fetches, None).is_ok());
        assert!(is_comm(&ask(&cache, "k9", &fetches, None)));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    /// Starts a fetch of `issuer` on its own thread that blocks until `release` is sent; returns once it runs.
    /// Callers joining it wait at most `wait`.
    fn blocked_fetch(
        cache: &Arc<KeyCache>,
        issuer: &'static str,
        result: Option<&'static [&'static str]>,
        wait: Duration,
    ) -> (
        std::sync::mpsc::Sender<()>,
        std::thread::JoinHandle<Result<Jwk, TokenError>>,
    ) {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let cache = cache.clone();
        let handle = std::thread::spawn(move || {
            cache.key(issuer, Some("k1"), Algorithm::RS256, wait, move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                result
                    .map(|ks| ks.iter().map(|k| rsa_key(k)).collect())
                    .ok_or_else(|| comm("test issuer down"))
            })
        });
        started_rx.recv().unwrap();
        (release_tx, handle)
    }

    /// `n` callers of `issuer` on their own threads, once all of them wait on the running fetch.
    fn waiters(
        cache: &Arc<KeyCache>,
        issuer: &'static str,
        n: usize,
        fetches: &Arc<AtomicUsize>,
    ) -> Vec<std::thread::JoinHandle<Result<Jwk, TokenError>>> {
        let handles = (0..n)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                std::thread::spawn(move || {
                    cache.key(issuer, Some("k1"), Algorithm::RS256, WAIT, || {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        Ok(vec![rsa_key("k1")])
                    })
                })
            })
            .collect();
        while joined(cache, issuer) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
        handles
    }

    #[test]
    fn concurrent_misses_share_one_fetch_without_blocking_other_issuers() {
        let (cache, _) = test_cache(8);
        let fetches = Arc::new(AtomicUsize::new(0));
        let (release, first) = blocked_fetch(&cache, ISSUER, Some(&["k1"]), WAIT);
        let others = waiters(&cache, ISSUER, 5, &fetches);
        // Another issuer is fetched and answered meanwhile: no lock is held across the fetch or the waits.
        let other = cache.key(
            "https://other.example.com",
            Some("k1"),
            Algorithm::RS256,
            WAIT,
            || Ok(vec![rsa_key("k1")]),
        );
        assert!(other.is_ok());
        release.send(()).unwrap();
        assert!(first.join().unwrap().is_ok());
        for h in others {
            assert!(h.join().unwrap().is_ok());
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
        assert_eq!(cache.fetching.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn waiters_share_a_failure() {
        let (cache, _) = test_cache(8);
        let fetches = Arc::new(AtomicUsize::new(0));
        let (release, first) = blocked_fetch(&cache, ISSUER, None, WAIT);
        let others = waiters(&cache, ISSUER, 3, &fetches);
        release.send(()).unwrap();
        assert!(is_comm(&first.join().unwrap()));
        for h in others {
            assert!(is_comm(&h.join().unwrap()));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_waiter_gives_up_at_the_fetch_deadline() {
        let (cache, _) = test_cache(8);
        // The fetch's callers may wait 20 ms; this fetch hangs until released.
        let (release, first) =
            blocked_fetch(&cache, ISSUER, Some(&["k1"]), Duration::from_millis(20));
        let fetches = AtomicUsize::new(0);
        assert!(is_comm(&ask(&cache, "k1", &fetches, Some(&["k1"]))));
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
        release.send(()).unwrap();
        assert!(first.join().unwrap().is_ok());
        assert!(ask(&cache, "k1", &fetches, None).is_ok());
    }

    #[test]
    fn fetches_beyond_the_global_cap_are_refused_at_once() {
        let (cache, _) = test_cache(2);
        let (release_a, a) = blocked_fetch(&cache, "https://a.example.com", Some(&["k1"]), WAIT);
        let (release_b, b) = blocked_fetch(&cache, "https://b.example.com", Some(&["k1"]), WAIT);
        let fetches = AtomicUsize::new(0);
        let c = |cache: &KeyCache| {
            cache.key(
                "https://c.example.com",
                Some("k1"),
                Algorithm::RS256,
                WAIT,
                || {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok(vec![rsa_key("k1")])
                },
            )
        };
        assert!(is_comm(&c(&cache)));
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
        release_a.send(()).unwrap();
        release_b.send(()).unwrap();
        assert!(a.join().unwrap().is_ok() && b.join().unwrap().is_ok());
        // The refusal was not remembered against the issuer: it is fetched as soon as a slot is free.
        assert!(c(&cache).is_ok());
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(cache.fetching.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_unwinding_fetch_frees_its_slot_and_counts_as_a_failure() {
        let (cache, _) = test_cache(1);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.key(ISSUER, Some("k1"), Algorithm::RS256, WAIT, || {
                panic!("fetch blew up")
            })
        }));
        assert!(unwound.is_err());
        assert_eq!(cache.fetching.load(Ordering::SeqCst), 0);
        let fetches = AtomicUsize::new(0);
        assert!(is_comm(&ask(&cache, "k1", &fetches, Some(&["k1"]))));
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,400}") {
            let _ = parse(&s);
        }

        #[test]
        fn parse_never_panics_on_jwt_shaped(h in "[A-Za-z0-9_=-]{0,80}", c in "[A-Za-z0-9_=-]{0,80}",
                                            s in "[A-Za-z0-9_=.-]{0,40}") {
            let _ = parse(&format!("{h}.{c}.{s}"));
        }

        #[test]
        fn parse_never_panics_on_json(header in any::<Vec<(String, i64)>>(), alg in ".{0,8}") {
            let mut obj = Map::new();
            obj.insert("alg".into(), Value::String(alg));
            for (k, v) in header { obj.insert(k, Value::from(v)); }
            let t = format!("{}.{}.", enc(&Value::Object(obj.clone())), enc(&Value::Object(obj)));
            if let Ok(u) = parse(&t) { let _ = check_times(&u.claims, 0); let _ = algorithm(&u.alg); }
        }
    }
}
