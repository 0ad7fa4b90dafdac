//! The OIDC client behind `AssumeRoleWithWebIdentity`: compact-JWS parsing, the issuer's discovery document
//! and JWKS fetched with a timeout and a size limit and cached per issuer, and signature verification
//! (RS256/RS384/RS512/ES256/ES384 through `jsonwebtoken`'s pure-Rust backend).
//!
//! Nothing here trusts a token before its signature is checked: [`parse`] only exposes the header and the
//! claims needed to find the provider and the key; [`verify`] returns the verified claims.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Per-request timeout of discovery and JWKS fetches (connect + response).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document or JWKS accepted.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;
/// How long a fetched JWKS is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);
/// At most one refresh per issuer in this interval when a token names an unknown `kid`.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Accepted clock skew for `iat` / `nbf` in the future (seconds).
pub const LEEWAY_SECS: i64 = 60;
/// Longest accepted token (the API's own limit).
pub const MAX_TOKEN_LEN: usize = 20_000;
/// Most keys kept from one JWKS.
const MAX_KEYS: usize = 100;

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
    let header: Value = b64url(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_jwt)?;
    let claims: Value = b64url(c)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_jwt)?;
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
            )))
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
        if let Some(t) = numeric_date(claims, name)? {
            if t > now.saturating_add(LEEWAY_SECS) {
                return Err(invalid(format!(
                    "The {name} claim of the ID token is in the future."
                )));
            }
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
        return (usable_keys.len() == 1).then(|| usable_keys[0].clone());
    }
    usable(first, alg).then(|| first.clone())
}

struct Entry {
    keys: Vec<Jwk>,
    fetched: Instant,
}

fn cache() -> &'static Mutex<HashMap<String, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The verification key for a token from `issuer` (its full URL, the token's `iss`): from the cache, or
/// fetched (discovery → `jwks_uri` → JWKS) when absent, stale, or missing the `kid` (rate-limited).
pub fn key_for(
    issuer: &str,
    kid: Option<&str>,
    alg: Algorithm,
    allow_http: bool,
) -> Result<Jwk, TokenError> {
    let cached = cache().lock().ok().and_then(|c| {
        c.get(issuer)
            .map(|e| (pick(&e.keys, kid, alg), e.fetched.elapsed()))
    });
    match cached {
        Some((Some(k), age)) if age < CACHE_TTL => return Ok(k),
        Some((None, age)) if age < MIN_REFRESH_INTERVAL => {
            return Err(unknown_key(kid));
        }
        _ => {}
    }
    let keys = match fetch_jwks(issuer, allow_http) {
        Ok(keys) => keys,
        // A stale key still verifies while the issuer is unreachable.
        Err(e) => return cached.and_then(|(k, _)| k).ok_or(e),
    };
    let found = pick(&keys, kid, alg);
    if let Ok(mut c) = cache().lock() {
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(
            issuer.to_string(),
            Entry {
                keys,
                fetched: Instant::now(),
            },
        );
    }
    found.ok_or_else(|| unknown_key(kid))
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

/// Forget the cached keys of every issuer (tests).
pub fn clear_cache() {
    if let Ok(mut c) = cache().lock() {
        c.clear();
    }
}

fn scheme_ok(url: &str, allow_http: bool) -> bool {
    url.starts_with("https://") || (allow_http && url.starts_with("http://"))
}

fn fetch_json(agent: &ureq::Agent, url: &str) -> Result<Value, TokenError> {
    let comm = |what: &str| {
        TokenError::Communication(format!(
            "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements ({what})"
        ))
    };
    let mut resp = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| {
            tracing::warn!(url, error = %e, "OIDC fetch failed");
            comm("request failed")
        })?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT_BYTES)
        .read_to_vec()
        .map_err(|e| {
            tracing::warn!(url, error = %e, "OIDC response unreadable");
            comm("response unreadable or too large")
        })?;
    serde_json::from_slice(&body).map_err(|_| comm("response is not JSON"))
}

/// Discovery document, then the JWKS it names; keys that do not parse are skipped.
fn fetch_jwks(issuer: &str, allow_http: bool) -> Result<Vec<Jwk>, TokenError> {
    let comm = |what: &str| {
        TokenError::Communication(format!(
            "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements ({what})"
        ))
    };
    if !scheme_ok(issuer, allow_http) {
        return Err(comm("issuer URL scheme not allowed"));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .https_only(!allow_http)
        .max_redirects(3)
        .user_agent("stsd-oidc")
        .build()
        .into();
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery = fetch_json(&agent, &discovery_url)?;
    let jwks_uri = discovery
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| comm("discovery document has no jwks_uri"))?;
    if !scheme_ok(jwks_uri, allow_http) {
        return Err(comm("jwks_uri scheme not allowed"));
    }
    let jwks = fetch_json(&agent, jwks_uri)?;
    let keys = jwks
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
