//! A [`tower::Layer`] that lets an axum or hyper service accept **stsd credentials** — long-term keys and
//! sessions, with stsd's full IAM policy evaluation — by asking stsd's `/_stsd/authorize` about every request.
//!
//! ```no_run
//! # async fn run() {
//! use stsd_authz_layer::{AuthzConfig, AuthzLayer, Principal};
//! let layer = AuthzLayer::new(AuthzConfig::new("http://127.0.0.1:8556", "notes"));
//! let app: axum::Router = axum::Router::new()
//!     .route("/notes/{id}", axum::routing::get(|axum::Extension(p): axum::Extension<Principal>| async move { p.arn }))
//!     .layer(layer);
//! # let _ = app;
//! # }
//! ```
//!
//! For each request the layer sends stsd the method, the URI (path and query as received), the headers (the
//! signature, `Host`, `X-Amz-Date`, `X-Amz-Security-Token`, `X-Amz-Content-Sha256`, …) and `X-Stsd-Service`
//! (the route table stsd maps the request with) — never the body — over a keep-alive connection pool, with a
//! per-request timeout.
//!
//! * **Allowed** (`200`): the request goes to the inner service with a [`Principal`] extension (ARN, account,
//!   unique ID, session tags, the action stsd authorized). Client-sent `X-Stsd-*` headers are removed.
//! * **Refused** (`401` unsigned, `403` bad signature or denied): stsd's answer — an AWS-style XML error — goes
//!   back to the client; the inner service is not called.
//! * **stsd unreachable, slow or answering anything else**: `503` — fail closed.
//! * **The body**: stsd verifies the signature over the client's `X-Amz-Content-Sha256`, not over the body
//!   (it never sees it). The layer has the body, so when that header is a SHA-256 digest it reads the body (up
//!   to [`AuthzConfig::max_body_bytes`]) and refuses a mismatch (`400 XAmzContentSHA256Mismatch`); with
//!   `UNSIGNED-PAYLOAD` the body is passed through unchecked, as its signer asked; signed streaming payloads
//!   (`STREAMING-AWS4-HMAC-SHA256-*`, whose chunk signatures nobody here checks) are refused.
//! * **Cache**: allow decisions are kept for [`AuthzConfig::cache_ttl`] (default 5 s, at most
//!   [`AuthzConfig::cache_capacity`] entries), keyed by a SHA-256 of the whole signed request — method, URI and
//!   every header — so only an identical replay of a signed request (a retry) is answered from it. A cached
//!   allow is not a new decision: stsd records no audit event for it, and a revocation reaches such a replay
//!   only after the TTL.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use sha2::{Digest, Sha256};

/// Errors of bodies passed through the layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of a [`Body`]: the inner body's error, boxed.
#[derive(Debug)]
pub struct BodyError(pub BoxError);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The body type the layer hands to the inner service and returns.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BodyError>;

/// Where stsd's decision endpoint lives on the stsd server.
pub const AUTHORIZE_PATH: &str = "/_stsd/authorize";

/// How the layer talks to stsd.
#[derive(Debug, Clone)]
pub struct AuthzConfig {
    /// stsd's base URL (`http://127.0.0.1:8556`).
    pub endpoint: String,
    /// The route table stsd maps requests with (`X-Stsd-Service`): `s3` or a service of stsd's `--routes`.
    pub service: String,
    /// The longest a decision may take; past it the request is refused with `503`.
    pub timeout: Duration,
    /// Most allow decisions kept.
    pub cache_capacity: usize,
    /// How long an allow decision is reused for an identical signed request (zero: no cache).
    pub cache_ttl: Duration,
    /// Largest body read to check it against `X-Amz-Content-Sha256` (larger: `413`).
    pub max_body_bytes: usize,
}

impl AuthzConfig {
    /// Defaults: 2 s timeout, 10,000 cached decisions for 5 s, bodies up to 16 MiB checked.
    pub fn new(endpoint: impl Into<String>, service: impl Into<String>) -> AuthzConfig {
        AuthzConfig {
            endpoint: endpoint.into(),
            service: service.into(),
            timeout: Duration::from_secs(2),
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(5),
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Who stsd says made the request: put into the request's extensions for handlers
/// (`axum::Extension<Principal>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `arn:aws:iam::A:user/alice`, `arn:aws:sts::A:assumed-role/R/S`, …
    pub arn: String,
    /// The caller's account.
    pub account: String,
    /// `aws:userid` (`AIDA…`, `AROA…:session`, or the account for the root).
    pub principal_id: String,
    /// The session's tags (empty for long-term keys).
    pub session_tags: BTreeMap<String, String>,
    /// The (first) action stsd authorized, e.g. `notes:GetNote`.
    pub action: String,
}

/// The client's address, if the server puts it in the request's extensions: sent to stsd as `X-Real-IP`
/// (`aws:SourceIp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// Counters for observability and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Decisions asked of stsd.
    pub asked: AtomicU64,
    /// Requests answered from the cache.
    pub cache_hits: AtomicU64,
    /// Requests refused because stsd could not be asked (unreachable, timeout, unexpected answer).
    pub unavailable: AtomicU64,
}

struct Cache {
    map: HashMap<[u8; 32], (Instant, Arc<Principal>)>,
    order: VecDeque<[u8; 32]>,
}

struct Shared {
    config: AuthzConfig,
    authorize_uri: Uri,
    client: Client<HttpConnector, Empty<Bytes>>,
    cache: Mutex<Cache>,
    stats: Stats,
}

/// The layer. Cheap to clone (shares one connection pool and one cache).
#[derive(Clone)]
pub struct AuthzLayer {
    shared: Arc<Shared>,
}

impl AuthzLayer {
    /// A layer asking the stsd at `config.endpoint`. An endpoint that is not a valid `http://` URL makes every
    /// request fail closed (`503`) and is logged.
    pub fn new(config: AuthzConfig) -> AuthzLayer {
        let base = config.endpoint.trim_end_matches('/');
        let authorize_uri = format!("{base}{AUTHORIZE_PATH}")
            .parse::<Uri>()
            .unwrap_or_else(|e| {
                tracing::error!(endpoint = %config.endpoint, error = %e, "stsd endpoint is not a URL: every request will be refused");
                Uri::from_static("http://invalid.invalid/")
            });
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.timeout));
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        AuthzLayer {
            shared: Arc::new(Shared {
                config,
                authorize_uri,
                client,
                cache: Mutex::new(Cache {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                }),
                stats: Stats::default(),
            }),
        }
    }

    /// The layer's counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }
}

impl<S> tower::Layer<S> for AuthzLayer {
    type Service = Authz<S>;
    fn layer(&self, inner: S) -> Authz<S> {
        Authz {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service the layer wraps around `S`.
#[derive(Clone)]
pub struct Authz<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Headers of a connection, not of the request (never forwarded to stsd).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "expect",
];

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut r = Response::new(full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|never| match never {}).boxed_unsync()
}

/// The cache key: every part of the signed request the decision depends on.
fn cache_key(service: &str, method: &http::Method, uri: &Uri, headers: &HeaderMap) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(service.as_bytes());
    h.update([0]);
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(uri.to_string().as_bytes());
    for (k, v) in headers {
        h.update([0]);
        h.update(k.as_str().as_bytes());
        h.update([b':']);
        h.update(v.as_bytes());
    }
    h.finalize().into()
}

fn is_signed(uri: &Uri, headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::AUTHORIZATION)
        || uri.query().is_some_and(|q| q.contains("X-Amz-Signature="))
}

/// What the body check needs: `Some(digest)` to compare with, `None` to pass the body through.
enum PayloadRule {
    Digest([u8; 32]),
    PassThrough,
    Refuse(&'static str),
}

fn payload_rule(headers: &HeaderMap) -> PayloadRule {
    let Some(v) = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    else {
        return PayloadRule::PassThrough;
    };
    let v = v.trim();
    if v == "UNSIGNED-PAYLOAD" || v == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
        return PayloadRule::PassThrough;
    }
    if v.starts_with("STREAMING-") {
        return PayloadRule::Refuse(
            "Signed streaming payloads are not supported: their chunk signatures cannot be checked here.",
        );
    }
    let mut d = [0u8; 32];
    match hex::decode_to_slice(v, &mut d) {
        Ok(()) => PayloadRule::Digest(d),
        Err(_) => PayloadRule::Refuse(
            "x-amz-content-sha256 must be a SHA-256 digest or a payload marker.",
        ),
    }
}

/// stsd's answer to one question.
enum Verdict {
    Allow(Arc<Principal>),
    Refuse(Response<Body>),
    Unavailable(String),
}

impl Shared {
    fn cached(&self, key: &[u8; 32]) -> Option<Arc<Principal>> {
        if self.config.cache_ttl.is_zero() {
            return None;
        }
        let mut c = self.cache.lock().ok()?;
        match c.map.get(key) {
            Some((at, p)) if at.elapsed() < self.config.cache_ttl => Some(p.clone()),
            Some(_) => {
                c.map.remove(key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: [u8; 32], p: Arc<Principal>) {
        if self.config.cache_ttl.is_zero() || self.config.cache_capacity == 0 {
            return;
        }
        let Ok(mut c) = self.cache.lock() else { return };
        while c.map.len() >= self.config.cache_capacity {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            c.map.remove(&old);
        }
        if c.map.insert(key, (Instant::now(), p)).is_none() {
            c.order.push_back(key);
        }
        // Keys re-inserted after expiry may repeat in `order`; keep it bounded too.
        while c.order.len() > self.config.cache_capacity.saturating_mul(2) {
            if let Some(old) = c.order.pop_front()
                && c.order.iter().all(|k| *k != old)
            {
                c.map.remove(&old);
            }
        }
    }

    async fn ask(&self, parts: &http::request::Parts) -> Verdict {
        let mut req = Request::new(Empty::<Bytes>::new());
        *req.method_mut() = http::Method::GET;
        *req.uri_mut() = self.authorize_uri.clone();
        let h = req.headers_mut();
        for (k, v) in &parts.headers {
            if !HOP_BY_HOP.contains(&k.as_str()) && !k.as_str().starts_with("x-stsd-") {
                h.append(k.clone(), v.clone());
            }
        }
        if !h.contains_key(http::header::HOST)
            && let Some(a) = parts.uri.authority()
            && let Ok(v) = HeaderValue::from_str(a.as_str())
        {
            h.insert(http::header::HOST, v);
        }
        if let Some(len) = parts.headers.get(http::header::CONTENT_LENGTH) {
            h.insert("x-original-content-length", len.clone());
        }
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let (Ok(method), Ok(target), Ok(service)) = (
            HeaderValue::from_str(parts.method.as_str()),
            HeaderValue::from_str(target),
            HeaderValue::from_str(&self.config.service),
        ) else {
            return Verdict::Unavailable("the request cannot be described to stsd".into());
        };
        h.insert("x-original-method", method);
        h.insert("x-original-uri", target);
        h.insert("x-stsd-service", service);
        if let Some(ClientAddr(addr)) = parts.extensions.get::<ClientAddr>()
            && let Ok(v) = HeaderValue::from_str(&addr.ip().to_string())
        {
            h.insert("x-real-ip", v);
        }
        self.stats.asked.fetch_add(1, Ordering::Relaxed);
        let answer = tokio::time::timeout(self.config.timeout, async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let (head, body) = resp.into_parts();
            let body = Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((head, body))
        })
        .await;
        let (head, body) = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return Verdict::Unavailable(e),
            Err(_) => return Verdict::Unavailable("stsd did not answer in time".into()),
        };
        match head.status.as_u16() {
            200 => {
                let get = |n: &str| {
                    head.headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let session_tags =
                    serde_json::from_str::<BTreeMap<String, String>>(&get("x-stsd-session-tags"))
                        .unwrap_or_default();
                let p = Principal {
                    arn: get("x-stsd-principal-arn"),
                    account: get("x-stsd-account"),
                    principal_id: get("x-stsd-principal-id"),
                    session_tags,
                    action: get("x-stsd-action"),
                };
                if p.arn.is_empty() || p.account.is_empty() {
                    return Verdict::Unavailable("stsd allowed without naming a principal".into());
                }
                Verdict::Allow(Arc::new(p))
            }
            401 | 403 => {
                let mut r = Response::new(full(body));
                *r.status_mut() = head.status;
                for name in ["content-type", "x-amzn-requestid"] {
                    if let Some(v) = head.headers.get(name) {
                        r.headers_mut()
                            .insert(HeaderName::from_static(name), v.clone());
                    }
                }
                Verdict::Refuse(r)
            }
            other => Verdict::Unavailable(format!("stsd answered {other}")),
        }
    }
}

impl<S, B, ResBody> tower::Service<Request<B>> for Authz<S>
where
    S: tower::Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        // The clone that was polled ready serves this request (tower's contract); a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let rule = payload_rule(&parts.headers);
            if let PayloadRule::Refuse(why) = rule {
                return Ok(xml_error(StatusCode::FORBIDDEN, "AccessDenied", why));
            }
            let key = is_signed(&parts.uri, &parts.headers).then(|| {
                cache_key(
                    &shared.config.service,
                    &parts.method,
                    &parts.uri,
                    &parts.headers,
                )
            });
            let cached = key.as_ref().and_then(|k| shared.cached(k));
            let principal = match cached {
                Some(p) => {
                    shared.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    p
                }
                None => match shared.ask(&parts).await {
                    Verdict::Allow(p) => {
                        if let Some(k) = key {
                            shared.remember(k, p.clone());
                        }
                        p
                    }
                    Verdict::Refuse(r) => return Ok(r),
                    Verdict::Unavailable(why) => {
                        shared.stats.unavailable.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(reason = %why, "stsd could not decide; request refused");
                        return Ok(xml_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "ServiceUnavailable",
                            "The authorizer is unavailable. Please try again.",
                        ));
                    }
                },
            };
            let body: Body = match rule {
                PayloadRule::Digest(expected) => {
                    let limited = Limited::new(body, shared.config.max_body_bytes);
                    let bytes = match limited.collect().await {
                        Ok(c) => c.to_bytes(),
                        Err(_) => {
                            return Ok(xml_error(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "EntityTooLarge",
                                "The body is too large to check against its x-amz-content-sha256.",
                            ));
                        }
                    };
                    let actual: [u8; 32] = Sha256::digest(&bytes).into();
                    if actual != expected {
                        return Ok(xml_error(
                            StatusCode::BAD_REQUEST,
                            "XAmzContentSHA256Mismatch",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.",
                        ));
                    }
                    full(bytes)
                }
                PayloadRule::PassThrough | PayloadRule::Refuse(_) => {
                    body.map_err(|e| BodyError(e.into())).boxed_unsync()
                }
            };
            let stale: Vec<HeaderName> = parts
                .headers
                .keys()
                .filter(|k| k.as_str().starts_with("x-stsd-"))
                .cloned()
                .collect();
            for k in stale {
                parts.headers.remove(k);
            }
            parts.extensions.insert((*principal).clone());
            let request: Request<Body> = Request::from_parts(parts, body);
            let resp = call_inner(&mut inner, request).await?;
            Ok(resp.map(|b| b.map_err(|e| BodyError(e.into())).boxed_unsync()))
        })
    }
}

/// Call the inner service (a separate function, so the future's type is named with `'static` bodies).
fn call_inner<S>(inner: &mut S, req: Request<Body>) -> S::Future
where
    S: tower::Service<Request<Body>>,
{
    inner.call(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_cover_the_whole_signed_request() {
        let uri: Uri = "/notes/1?x=1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00"));
        let k = cache_key("notes", &http::Method::GET, &uri, &h);
        assert_eq!(k, cache_key("notes", &http::Method::GET, &uri, &h));
        assert_ne!(k, cache_key("other", &http::Method::GET, &uri, &h));
        assert_ne!(k, cache_key("notes", &http::Method::PUT, &uri, &h));
        assert_ne!(
            k,
            cache_key(
                "notes",
                &http::Method::GET,
                &"/notes/1?x=2".parse().unwrap(),
                &h
            )
        );
        let mut h2 = h.clone();
        h2.insert("x-amz-date", HeaderValue::from_static("20250101T000000Z"));
        assert_ne!(k, cache_key("notes", &http::Method::GET, &uri, &h2));
        assert!(is_signed(&uri, &h));
        assert!(!is_signed(&uri, &HeaderMap::new()));
        assert!(is_signed(
            &"/a?X-Amz-Signature=1".parse().unwrap(),
            &HeaderMap::new()
        ));
    }

    #[test]
    fn the_cache_is_bounded_and_expires() {
        let mut cfg = AuthzConfig::new("http://127.0.0.1:1", "notes");
        cfg.cache_capacity = 3;
        let layer = AuthzLayer::new(cfg);
        let s = &layer.shared;
        let p = Arc::new(Principal {
            arn: "a".into(),
            account: "1".into(),
            principal_id: "i".into(),
            session_tags: BTreeMap::new(),
            action: "x:Y".into(),
        });
        for i in 0..10u8 {
            s.remember([i; 32], p.clone());
        }
        let c = s.cache.lock().unwrap();
        assert!(c.map.len() <= 3 && c.order.len() <= 6);
        drop(c);
        assert!(s.cached(&[9; 32]).is_some());
        assert!(s.cached(&[0; 32]).is_none());
        let mut cfg = AuthzConfig::new("http://127.0.0.1:1", "notes");
        cfg.cache_ttl = Duration::ZERO;
        let layer = AuthzLayer::new(cfg);
        layer.shared.remember([1; 32], p);
        assert!(layer.shared.cached(&[1; 32]).is_none());
    }

    #[test]
    fn payload_rules() {
        let mut h = HeaderMap::new();
        assert!(matches!(payload_rule(&h), PayloadRule::PassThrough));
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        assert!(matches!(payload_rule(&h), PayloadRule::PassThrough));
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        );
        assert!(matches!(payload_rule(&h), PayloadRule::Refuse(_)));
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
        );
        assert!(matches!(payload_rule(&h), PayloadRule::Digest(_)));
        h.insert("x-amz-content-sha256", HeaderValue::from_static("zz"));
        assert!(matches!(payload_rule(&h), PayloadRule::Refuse(_)));
    }
}
