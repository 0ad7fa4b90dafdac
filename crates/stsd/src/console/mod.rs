//! The web console at `/console`: server-rendered HTML (maud) plus one small embedded CSS and JS file.
//!
//! **No back door.** After sign-in the console holds *temporary credentials* of the signed-in user (a console
//! session token, [`crate::tokens::Claims::console`]) and every page is the answer of a real SigV4-signed API
//! request made with them and run through the same pipeline as an external client's
//! ([`crate::pipeline::process`]: authenticate → authorize with the policy engine → act → audit; LookupEvents
//! through [`crate::pipeline::serve_cloudtrail`]). The only things the console reads without an API call are what
//! sign-in itself needs (the password hash, the user's MFA device, an alias), as SigV4 verification reads keys.
//!
//! **The browser never sees the credentials.** It holds an opaque random session ID in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` when the request came over HTTPS through a proxy that says so with
//! `X-Forwarded-Proto: https`). Sessions are kept in the store ([`TABLE`]): every node sharing it serves
//! a signed-in browser, and a restart signs nobody out. Every POST carries a CSRF token
//! (the session's, or for sign-in a double-submitted pre-session cookie), compared in constant time. Sign-in
//! failures are limited per user and per source IP (in the store's failure counters: shared by every node);
//! sessions end after [`IDLE_SECS`] without a request, at
//! the credentials' expiry, or at sign-out (the session and its credentials are forgotten at once).

mod pages;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use data_encoding::BASE64URL_NOPAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::model::MfaOwner;
use crate::protocol::Service;
use crate::tokens::{Claims, SessionKind};

/// Where the console lives.
pub const PREFIX: &str = "/console";
/// A console session ends after this long without a request.
pub const IDLE_SECS: i64 = 30 * 60;
/// How long the credentials of a user's console session live (AWS: 12 hours).
const USER_SESSION_SECS: i64 = 12 * 3600;
/// The root's console session (as GetSessionToken for the root: at most an hour).
const ROOT_SESSION_SECS: i64 = 3600;
/// Failed sign-ins allowed per user and per source IP within [`LIMIT_WINDOW_SECS`].
const MAX_FAILURES_PER_USER: u32 = 5;
const MAX_FAILURES_PER_IP: u32 = 20;
const LIMIT_WINDOW_SECS: i64 = 15 * 60;
/// A half-done sign-in (password accepted, MFA code awaited) lasts this long.
const PENDING_SECS: i64 = 5 * 60;
/// The largest form the console reads.
const MAX_FORM: usize = 256 * 1024;
/// Recently used roles kept for "Switch role".
const RECENT_ROLES: usize = 5;

const SESSION_COOKIE: &str = "stsd_console";
const PRE_COOKIE: &str = "stsd_console_pre";
const PENDING_COOKIE: &str = "stsd_console_mfa";

/// Temporary credentials the console acts with. Stored as access key ID and session token only: the secret is
/// derived again from them by the token key ring ([`crate::tokens::KeyRing::open`]) when a session is read.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Creds {
    pub akid: String,
    #[serde(skip)]
    pub secret: Zeroizing<String>,
    pub token: String,
    pub expires: i64,
}

/// A role the console switched into.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ActiveRole {
    pub creds: Creds,
    /// `arn:aws:sts::A:assumed-role/R/S`.
    pub arn: String,
    pub account: String,
    pub display: String,
    pub color: String,
}

/// An entry of the "recently used roles" list.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecentRole {
    pub account: String,
    pub role: String,
    pub display: String,
    pub color: String,
}

/// A signed-in browser.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub csrf: String,
    pub account: String,
    pub arn: String,
    /// The user name (or `root`).
    pub name: String,
    /// The user's MFA device serial, if any (switch role asks for its code).
    pub mfa_serial: Option<String>,
    pub user: Creds,
    pub role: Option<ActiveRole>,
    pub recent: Vec<RecentRole>,
    pub last_seen: i64,
    /// The password must be changed before anything else (`PasswordResetRequired`, or an expired password).
    pub must_change_password: bool,
    /// A message shown once on the next page (e.g. a new access key's secret).
    pub notice: Option<String>,
}

impl Session {
    /// The credentials pages act with: the role's after a switch, else the user's.
    fn active(&self) -> &Creds {
        self.role.as_ref().map_or(&self.user, |r| &r.creds)
    }

    fn alive(&self, now: i64) -> bool {
        now - self.last_seen < IDLE_SECS && now < self.user.expires
    }
}

/// A sign-in whose password was right and whose MFA code is awaited.
#[derive(Clone, Serialize, Deserialize)]
struct Pending {
    account: String,
    who: Who,
    serial: String,
    csrf: String,
    created: i64,
    /// The password must be changed once signed in.
    must_change: bool,
}

#[derive(Clone, Serialize, Deserialize)]
enum Who {
    Root,
    User {
        key: String,
        name: String,
        id: String,
        path: String,
    },
}

/// The store's meta entry holding every console session and half-done sign-in, keyed by the SHA-256 of their
/// IDs (the store never sees an ID a browser could present). One entry, read and rewritten atomically by
/// `update_meta`, so every node sharing the store sees a sign-in or a sign-out at once, and ended sessions are
/// pruned at every write: the entry holds only live sessions.
const TABLE: &str = "console_sessions";
/// Live console sessions at most (the table is rewritten whole; a sign-in beyond this is refused).
const MAX_SESSIONS: usize = 10_000;
/// A session's last use is written back at most this often (reading a page is otherwise a read).
const TOUCH_SECS: i64 = 60;

#[derive(Default, Serialize, Deserialize)]
struct Table {
    #[serde(default)]
    sessions: std::collections::BTreeMap<String, Session>,
    #[serde(default)]
    pending: std::collections::BTreeMap<String, Pending>,
}

fn id_key(id: &str) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(id.as_bytes()))
}

fn parse_table(text: Option<&str>) -> Table {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// Run `f` on the table atomically (across nodes), after dropping what has ended. `None` when the store
/// cannot be written (the caller refuses what it was doing).
fn with_table<T>(app: &App, now: i64, mut f: impl FnMut(&mut Table) -> T) -> Option<T> {
    let mut out = None;
    let result = app.store().update_meta(TABLE, &mut |cur| {
        let mut t = parse_table(cur);
        t.sessions.retain(|_, x| x.alive(now));
        t.pending.retain(|_, p| now - p.created < PENDING_SECS);
        out = Some(f(&mut t));
        serde_json::to_string(&t)
            .map(Some)
            .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
    });
    match result {
        Ok(_) => out,
        Err(e) => {
            tracing::error!(error = %e, "console sessions unavailable");
            None
        }
    }
}

/// Console sessions, kept in the store (see [`TABLE`]).
pub(crate) mod sessions {
    use super::{
        MAX_SESSIONS, Pending, Session, TOUCH_SECS, id_key, parse_table, random_token, with_table,
    };
    use crate::app::App;

    /// The live session `id` names, with its credentials' secrets derived again, its idle clock moved on.
    pub fn get(app: &App, id: &str, now: i64) -> Option<Session> {
        let key = id_key(id);
        let stored = app.store().get_meta(super::TABLE).ok()?;
        let mut s = parse_table(stored.as_deref()).sessions.remove(&key)?;
        if !s.alive(now) {
            return None;
        }
        if now - s.last_seen >= TOUCH_SECS {
            // Re-read under the update: a sign-out on another node in between wins.
            s = with_table(app, now, |t| {
                t.sessions.get_mut(&key).map(|x| {
                    x.last_seen = now;
                    x.clone()
                })
            })??;
        }
        let (_, secret) = app.tokens.open(&s.user.akid, &s.user.token, now).ok()?;
        s.user.secret = secret.into();
        if let Some(role) = s.role.as_mut() {
            match app.tokens.open(&role.creds.akid, &role.creds.token, now) {
                Ok((_, secret)) => role.creds.secret = secret.into(),
                // The role session expired: back to the user.
                Err(_) => s.role = None,
            }
        }
        Some(s)
    }

    /// Change the stored session `id` (nothing if it has ended meanwhile).
    pub fn update(app: &App, id: &str, now: i64, f: impl FnOnce(&mut Session)) {
        let key = id_key(id);
        let mut f = Some(f);
        with_table(app, now, |t| {
            if let (Some(x), Some(f)) = (t.sessions.get_mut(&key), f.take()) {
                f(x);
            }
        });
    }

    /// Store a new session; returns its ID (`None`: the store cannot take it, or too many sessions).
    pub fn insert(app: &App, s: &Session, now: i64) -> Option<String> {
        let id = random_token();
        let key = id_key(&id);
        let stored = with_table(app, now, |t| {
            if t.sessions.len() >= MAX_SESSIONS {
                return false;
            }
            t.sessions.insert(key.clone(), s.clone());
            true
        })?;
        stored.then_some(id)
    }

    /// Sign-out: the session and its credentials are forgotten on every node.
    pub fn remove(app: &App, id: &str, now: i64) {
        let key = id_key(id);
        with_table(app, now, |t| t.sessions.remove(&key));
    }

    pub(super) fn add_pending(app: &App, p: &Pending, now: i64) -> Option<String> {
        let id = random_token();
        let key = id_key(&id);
        with_table(app, now, |t| t.pending.insert(key.clone(), p.clone()))?;
        Some(id)
    }

    pub(super) fn pending(app: &App, id: &str, now: i64) -> Option<Pending> {
        let stored = app.store().get_meta(super::TABLE).ok()?;
        parse_table(stored.as_deref())
            .pending
            .remove(&id_key(id))
            .filter(|p| now - p.created < super::PENDING_SECS)
    }

    pub(super) fn remove_pending(app: &App, id: &str, now: i64) {
        let key = id_key(id);
        with_table(app, now, |t| t.pending.remove(&key));
    }
}

/// The sign-in failure budget of `key` (a user or a source IP): `limit` failures within [`LIMIT_WINDOW_SECS`],
/// then refused for as long. Kept in the store's failure counters (as the MFA guessing guard's), so every node
/// sharing the store enforces one budget and a restart does not reset it.
fn budget(limit: u32) -> crate::store::FailurePolicy {
    crate::store::FailurePolicy {
        limit,
        window: LIMIT_WINDOW_SECS,
        lockout: LIMIT_WINDOW_SECS,
    }
}

/// Whether `key` is out of sign-in attempts. A store that cannot answer refuses the sign-in (fails closed).
fn throttled(app: &App, key: &str, now: i64) -> bool {
    app.store()
        .locked_until(key, now)
        .map_or(true, |l| l.is_some())
}

fn count_failure(app: &App, key: &str, limit: u32, now: i64) {
    if let Err(e) = app.store().record_failure(key, now, budget(limit)) {
        tracing::error!(error = %e, "console sign-in failure not counted");
    }
}

/// 256 random bits, URL-safe.
fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    BASE64URL_NOPAD.encode(&b)
}

fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether `path` belongs to the console.
pub fn owns(path: &str) -> bool {
    path == PREFIX || path.starts_with("/console/")
}

/// A request as the console's routes see it.
pub(crate) struct Req<'a> {
    pub app: &'a App,
    pub method: axum::http::Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
    pub cookies: HashMap<String, String>,
    pub peer: SocketAddr,
    pub secure: bool,
    pub user_agent: String,
    pub now: i64,
}

impl Req<'_> {
    pub fn q(&self, k: &str) -> &str {
        self.query.get(k).map_or("", String::as_str)
    }
    pub fn f(&self, k: &str) -> &str {
        self.form.get(k).map_or("", |s| s.trim())
    }
    /// A form field as typed (passwords are not trimmed).
    pub fn raw(&self, k: &str) -> &str {
        self.form.get(k).map_or("", String::as_str)
    }
}

/// What a route answers.
pub(crate) struct Out {
    pub status: u16,
    pub body: String,
    pub content_type: &'static str,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub cache: bool,
}

impl Out {
    pub fn html(status: u16, body: String) -> Out {
        Out {
            status,
            body,
            content_type: "text/html; charset=utf-8",
            location: None,
            cookies: Vec::new(),
            cache: false,
        }
    }
    pub fn redirect(to: &str) -> Out {
        let mut o = Out::html(303, String::new());
        o.location = Some(to.to_string());
        o
    }
    fn cookie(mut self, c: String) -> Out {
        self.cookies.push(c);
        self
    }
}

fn cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path={PREFIX}; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

fn into_response(o: Out) -> Response {
    let mut resp = Response::new(Body::from(o.body));
    *resp.status_mut() =
        StatusCode::from_u16(o.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(o.content_type));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "cache-control",
        HeaderValue::from_static(if o.cache {
            "public, max-age=300"
        } else {
            "no-store"
        }),
    );
    if let Some(l) = o.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert("location", l);
    }
    for c in o.cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append("set-cookie", v);
        }
    }
    resp
}

/// Serve a `/console*` request.
pub async fn serve(app: Arc<App>, req: Request, peer: SocketAddr) -> Response {
    let (parts, body) = req.into_parts();
    let body = match tokio::time::timeout(
        Duration::from_secs(30),
        axum::body::to_bytes(body, MAX_FORM),
    )
    .await
    {
        Ok(Ok(b)) => b,
        _ => {
            return into_response(Out::html(
                413,
                pages::message("Request refused", "The form is too large or too slow."),
            ));
        }
    };
    let app2 = app.clone();
    let out = tokio::task::spawn_blocking(move || {
        let _pending = app2.audit.pending();
        let req = request(&app2, &parts, &body, peer);
        route(&req)
    })
    .await
    .unwrap_or_else(|_| {
        Out::html(
            500,
            pages::message("Something went wrong", "An internal error occurred."),
        )
    });
    // As for API answers: the audit events of the calls this page made are stored before it is sent.
    if !app.audit.acknowledged().await {
        tracing::warn!("console page sent before its audit events were stored");
    }
    into_response(out)
}

fn request<'a>(
    app: &'a App,
    parts: &axum::http::request::Parts,
    body: &[u8],
    peer: SocketAddr,
) -> Req<'a> {
    let pairs = |b: &[u8]| -> HashMap<String, String> {
        form_urlencoded::parse(b)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut cookies = HashMap::new();
    for h in parts.headers.get_all("cookie") {
        for c in h.to_str().unwrap_or("").split(';') {
            if let Some((k, v)) = c.trim().split_once('=') {
                cookies.insert(k.to_string(), v.to_string());
            }
        }
    }
    let is_form = header("content-type")
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded");
    Req {
        app,
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: pairs(parts.uri.query().unwrap_or("").as_bytes()),
        form: if is_form { pairs(body) } else { HashMap::new() },
        cookies,
        peer,
        secure: header("x-forwarded-proto").eq_ignore_ascii_case("https"),
        user_agent: "stsd-console".to_string(),
        now: app.clock.now(),
    }
}

fn route(r: &Req<'_>) -> Out {
    let path = r.path.trim_end_matches('/');
    let post = r.method == axum::http::Method::POST;
    let get = r.method == axum::http::Method::GET || r.method == axum::http::Method::HEAD;
    match path {
        "/console/static/console.css" if get => {
            return asset(
                include_str!("assets/console.css"),
                "text/css; charset=utf-8",
            );
        }
        "/console/static/console.js" if get => {
            return asset(
                include_str!("assets/console.js"),
                "application/javascript; charset=utf-8",
            );
        }
        "/console/signin" if post => return sign_in(r),
        "/console/signin/mfa" if post => return sign_in_mfa(r),
        _ => {}
    }
    let sid = r.cookies.get(SESSION_COOKIE).cloned().unwrap_or_default();
    let Some(session) = (!sid.is_empty())
        .then(|| sessions::get(r.app, &sid, r.now))
        .flatten()
    else {
        if post {
            return Out::html(
                403,
                pages::message(
                    "Signed out",
                    "Your console session has ended. Sign in again.",
                ),
            );
        }
        return sign_in_page(r, None, 200);
    };
    if post && !same_secret(r.f("csrf"), &session.csrf) {
        return Out::html(
            403,
            pages::message(
                "Request refused",
                "The form's CSRF token is missing or wrong. Reload the page and try again.",
            ),
        );
    }
    let s = Signed {
        r,
        sid: &sid,
        session: &session,
    };
    if session.must_change_password && path != "/console/password" && path != "/console/signout" {
        return Out::redirect("/console/password");
    }
    // Names in paths are percent-encoded by the pages that link to them (`+`, `=`, `@` … are legal in IAM names).
    let decoded: Vec<String> = path
        .split('/')
        .skip(2)
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let seg: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (post, seg.as_slice()) {
        (false, [] | ["home"]) => pages::home(&s),
        (true, ["signout"]) => {
            sessions::remove(r.app, &sid, r.now);
            Out::redirect(PREFIX).cookie(cookie(SESSION_COOKIE, "", r.secure, Some(0)))
        }
        (false, ["users"]) => pages::users(&s),
        (true, ["users"]) => pages::create_user(&s),
        (true, ["users", name, "password"]) => pages::set_user_password(&s, name),
        (false, ["users", name]) => pages::user(&s, name),
        (false, ["groups"]) => pages::groups(&s),
        (false, ["groups", name]) => pages::group(&s, name),
        (false, ["roles"]) => pages::roles(&s),
        (true, ["roles"]) => pages::create_role(&s),
        (false, ["roles", name]) => pages::role(&s, name),
        (false, ["roles", name, "revoke"]) => pages::revoke_confirm(&s, name),
        (true, ["roles", name, "revoke"]) => pages::revoke(&s, name),
        (false, ["policies"]) => pages::policies(&s),
        (false, ["policy"]) => pages::policy(&s),
        (false, ["switch"]) => pages::switch_form(&s, None),
        (true, ["switch"]) => switch_role(&s),
        (true, ["back"]) => {
            sessions::update(r.app, &sid, r.now, |x| x.role = None);
            Out::redirect("/console/home")
        }
        (false, ["keys"]) => pages::keys(&s),
        (true, ["keys", op]) => pages::keys_action(&s, op),
        (false, ["mfa"]) => pages::mfa(&s, None),
        (true, ["mfa", op]) => pages::mfa_action(&s, op),
        (false, ["simulate"]) => pages::simulate_form(&s),
        (true, ["simulate"]) => pages::simulate(&s),
        (false, ["audit"]) => pages::audit(&s),
        (false, ["password"]) => pages::password(&s, None),
        (true, ["password"]) => pages::change_password(&s),
        _ => Out::html(
            404,
            pages::message("Not found", "There is no such console page."),
        ),
    }
}

fn asset(text: &'static str, content_type: &'static str) -> Out {
    let mut o = Out::html(200, text.to_string());
    o.content_type = content_type;
    o.cache = true;
    o
}

/// A request of a signed-in browser.
pub(crate) struct Signed<'a> {
    pub r: &'a Req<'a>,
    pub sid: &'a str,
    pub session: &'a Session,
}

impl Signed<'_> {
    /// Run an IAM or STS Query action with the session's active credentials through the API pipeline.
    pub fn call(&self, service: Service, params: &[(&str, &str)]) -> Result<Xml, ApiError> {
        call_with(self.r, self.session.active(), service, params)
    }

    /// Run LookupEvents (CloudTrail JSON) with the session's active credentials.
    pub fn lookup_events(&self, input: &serde_json::Value) -> Result<serde_json::Value, ApiError> {
        let creds = self.session.active();
        let body = input.to_string();
        let signed = sign(
            self.r,
            creds,
            "cloudtrail",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "CloudTrail_20131101.LookupEvents"),
            ],
            body.as_bytes(),
        )?;
        let meta = crate::identity::RequestMeta {
            source_ip: self.r.peer.ip().to_string(),
            // As for API requests: stsd itself speaks plain HTTP (a proxy's header is not proof of TLS).
            secure_transport: false,
            user_agent: self.r.user_agent.clone(),
        };
        let rid = crate::ids::request_id();
        let (status, json) = crate::pipeline::serve_cloudtrail(
            self.r.app,
            &signed,
            "",
            body.as_bytes(),
            &meta,
            &rid,
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        if status == 200 {
            Ok(v)
        } else {
            let code = v
                .get("__type")
                .and_then(|t| t.as_str())
                .unwrap_or("InternalFailure");
            let msg = v
                .get("message")
                .or_else(|| v.get("Message"))
                .and_then(|m| m.as_str())
                .unwrap_or("");
            Err(ApiError::new(
                if code.contains("AccessDenied") {
                    ErrorCode::AccessDenied
                } else {
                    ErrorCode::InvalidInput
                },
                format!("{code}: {msg}"),
            ))
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut Session)) {
        sessions::update(self.r.app, self.sid, self.r.now, f);
    }
}

/// Request parts signed with `creds` for the SigV4 service `service`.
fn sign(
    r: &Req<'_>,
    creds: &Creds,
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<axum::http::request::Parts, ApiError> {
    const HOST: &str = "console.stsd.internal";
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("user-agent", &r.user_agent));
    let added = sigv4::sign_request(&sigv4::SigningParams {
        method: "POST",
        host: HOST,
        path: "/",
        query: "",
        headers: &all,
        body,
        access_key_id: &creds.akid,
        secret_access_key: &creds.secret,
        session_token: Some(&creds.token),
        region: "us-east-1",
        service,
        timestamp: r.now,
    })
    .map_err(|_| ApiError::internal())?;
    let mut b = axum::http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", HOST);
    for (k, v) in all.iter().copied() {
        b = b.header(k, v);
    }
    for (k, v) in &added {
        b = b.header(k.as_str(), v.as_str());
    }
    let req = b.body(()).map_err(|_| ApiError::internal())?;
    Ok(req.into_parts().0)
}

/// The XML answer of a successful call.
pub(crate) struct Xml(pub String);

fn call_with(
    r: &Req<'_>,
    creds: &Creds,
    service: Service,
    params: &[(&str, &str)],
) -> Result<Xml, ApiError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Version", service.version());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let parts = sign(
        r,
        creds,
        service.signing_name(),
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body.as_bytes(),
    )?;
    let rid = crate::ids::request_id();
    let (_, _, result) = crate::pipeline::process(r.app, &parts, "", body.as_bytes(), r.peer, &rid);
    result.map(Xml)
}

// ---------------------------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------------------------

fn sign_in_page(r: &Req<'_>, error: Option<&str>, status: u16) -> Out {
    let pre = r
        .cookies
        .get(PRE_COOKIE)
        .filter(|c| c.len() == 43)
        .cloned()
        .unwrap_or_else(random_token);
    let account = r.f("account").to_string();
    let user = r.f("username").to_string();
    Out::html(status, pages::sign_in(&pre, &account, &user, error))
        .cookie(cookie(PRE_COOKIE, &pre, r.secure, None))
}

/// The account named by an ID or an alias.
fn resolve_account(app: &App, name: &str) -> Option<String> {
    let st = app.read().ok()?;
    if st.account(name).is_some() {
        return Some(name.to_string());
    }
    st.accounts
        .values()
        .find(|a| a.meta.alias.as_deref() == Some(name))
        .map(|a| a.id().to_string())
}

/// Who a name and password are, if they are right: an IAM user with a login profile, or the root by its
/// access key ID (as the user name) and secret access key (as the password). Also returns the MFA device
/// serial the sign-in must be completed with, and whether the password must be changed first.
fn check_password(
    app: &App,
    account: &str,
    name: &str,
    password: &str,
    now: i64,
) -> Result<(Who, Option<String>, bool), &'static str> {
    const WRONG: &str = "Your authentication information is incorrect. Please try again.";
    let st = app.read().map_err(|_| "The service is unavailable.")?;
    let acct = st.account(account).ok_or(WRONG)?;
    if name.starts_with("AKIA") || name.starts_with("ASIA") {
        let ok = acct.meta.root_keys.iter().any(|k| {
            k.status == crate::model::KeyStatus::Active
                && same_secret(&k.id, name)
                && same_secret(&k.secret, password)
        });
        if !ok {
            return Err(WRONG);
        }
        let serial = acct
            .mfa_devices_of(&MfaOwner::Root)
            .next()
            .map(|(_, d)| acct.mfa_serial(d));
        return Ok((Who::Root, serial, false));
    }
    let user = acct.users.get(&name.to_lowercase());
    let profile = user.and_then(|u| u.login_profile.as_ref());
    let Some((u, lp)) = user.zip(profile) else {
        // Spend the same time as a real check, so timing does not tell which users exist.
        let _ = crate::iam::verify_password(DUMMY_HASH, password);
        return Err(WRONG);
    };
    if !crate::iam::verify_password(&lp.hash, password) {
        return Err(WRONG);
    }
    let policy = acct.meta.password_policy.as_ref();
    let expired = crate::iam::password_expired(policy, lp, now);
    if expired && policy.is_some_and(|p| p.hard_expiry) {
        return Err("Your password has expired. Ask an administrator to reset it.");
    }
    let owner = MfaOwner::User { id: u.id.clone() };
    let serial = acct
        .mfa_devices_of(&owner)
        .next()
        .map(|(_, d)| acct.mfa_serial(d));
    Ok((
        Who::User {
            key: name.to_lowercase(),
            name: u.name.clone(),
            id: u.id.clone(),
            path: u.path.clone(),
        },
        serial,
        lp.reset_required || expired,
    ))
}

/// A well-formed argon2id hash of a random password, verified against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RzZGNvbnNvbGVkdW1teQ$8u2Ldh6C0Ls3Kb2YwAeJcL7A0Hn0n8mS3Kp9q0ZB1nQ";

fn sign_in(r: &Req<'_>) -> Out {
    let pre = r.cookies.get(PRE_COOKIE).map_or("", String::as_str);
    if pre.is_empty() || !same_secret(r.f("csrf"), pre) {
        return Out::html(
            403,
            pages::message(
                "Request refused",
                "The sign-in form's CSRF token is missing or wrong. Reload the sign-in page.",
            ),
        );
    }
    let account_name = r.f("account");
    let name = r.f("username");
    let ip_key = format!("console-ip:{}", r.peer.ip());
    let resolved = resolve_account(r.app, account_name);
    // Counted per account ID when the name resolves, so an alias and the ID share one budget.
    let user_key = format!(
        "console-user:{}/{}",
        resolved
            .clone()
            .unwrap_or_else(|| account_name.to_lowercase()),
        name.to_lowercase()
    );
    if throttled(r.app, &ip_key, r.now) || throttled(r.app, &user_key, r.now) {
        return sign_in_page(
            r,
            Some("Too many failed sign-in attempts. Wait 15 minutes and try again."),
            429,
        );
    }
    let result = resolved
        .ok_or("Your authentication information is incorrect. Please try again.")
        .and_then(|account| {
            check_password(r.app, &account, name, r.raw("password"), r.now)
                .map(|(who, serial, change)| (account, who, serial, change))
        });
    let (account, who, serial, must_change) = match result {
        Ok(x) => x,
        Err(why) => {
            count_failure(r.app, &ip_key, MAX_FAILURES_PER_IP, r.now);
            count_failure(r.app, &user_key, MAX_FAILURES_PER_USER, r.now);
            tracing::info!(account = account_name, "console sign-in refused");
            return sign_in_page(r, Some(why), 401);
        }
    };
    if let Err(e) = r.app.store().clear_failures(&user_key) {
        tracing::error!(error = %e, "console sign-in failures not cleared");
    }
    if let Some(serial) = serial {
        let csrf = random_token();
        let pending = Pending {
            account,
            who,
            serial,
            csrf: csrf.clone(),
            created: r.now,
            must_change,
        };
        let Some(id) = sessions::add_pending(r.app, &pending, r.now) else {
            return unavailable();
        };
        return Out::html(200, pages::mfa_step(&csrf, None)).cookie(cookie(
            PENDING_COOKIE,
            &id,
            r.secure,
            Some(PENDING_SECS),
        ));
    }
    start_session(r, &account, &who, None, None, must_change)
}

/// The store cannot keep a session right now.
fn unavailable() -> Out {
    Out::html(
        503,
        pages::message(
            "Service unavailable",
            "The console cannot start a session right now. Try again shortly.",
        ),
    )
}

fn sign_in_mfa(r: &Req<'_>) -> Out {
    let id = r.cookies.get(PENDING_COOKIE).cloned().unwrap_or_default();
    let pending = sessions::pending(r.app, &id, r.now)
        .map(|x| (x.account, x.who, x.serial, x.csrf, x.must_change));
    let Some((account, who, serial, csrf, must_change)) = pending else {
        return sign_in_page(r, Some("The sign-in took too long. Start again."), 401);
    };
    if !same_secret(r.f("csrf"), &csrf) {
        return Out::html(
            403,
            pages::message(
                "Request refused",
                "The form's CSRF token is missing or wrong.",
            ),
        );
    }
    let user_key = match &who {
        Who::Root => None,
        Who::User { key, .. } => Some(key.as_str()),
    };
    // The MFA guessing guard of the API applies (5 wrong codes lock the device for 15 minutes).
    if let Err(e) = crate::mfa::verify_code(r.app, &account, user_key, &serial, r.f("code"), r.now)
    {
        count_failure(
            r.app,
            &format!("console-ip:{}", r.peer.ip()),
            MAX_FAILURES_PER_IP,
            r.now,
        );
        let msg = if e.code == ErrorCode::AccessDenied && e.message.contains("locked") {
            e.message
        } else {
            "The MFA code is not valid. Try again with the next code.".to_string()
        };
        return Out::html(401, pages::mfa_step(&csrf, Some(&msg)));
    }
    sessions::remove_pending(r.app, &id, r.now);
    start_session(r, &account, &who, Some(r.now), Some(serial), must_change).cookie(cookie(
        PENDING_COOKIE,
        "",
        r.secure,
        Some(0),
    ))
}

/// Mint the console session's credentials and remember the session.
fn start_session(
    r: &Req<'_>,
    account: &str,
    who: &Who,
    mfa_at: Option<i64>,
    mfa_serial: Option<String>,
    must_change_password: bool,
) -> Out {
    let (kind, arn, name, secs) = match who {
        Who::Root => (
            SessionKind::Root,
            format!("arn:aws:iam::{account}:root"),
            "root".to_string(),
            ROOT_SESSION_SECS,
        ),
        Who::User {
            key,
            name,
            id,
            path,
        } => (
            SessionKind::User {
                user_key: key.clone(),
                user_name: name.clone(),
                user_id: id.clone(),
                user_path: path.clone(),
            },
            format!("arn:aws:iam::{account}:user{path}{name}"),
            name.clone(),
            USER_SESSION_SECS,
        ),
    };
    let claims = Claims {
        mfa_at,
        console: true,
        ..Claims::plain(account, kind, &arn, r.now, r.now + secs)
    };
    let Ok((akid, secret, token)) = crate::sts::mint_for(r.app, &claims) else {
        return Out::html(
            500,
            pages::message("Something went wrong", "Could not start a console session."),
        );
    };
    if let Who::User { key, .. } = who {
        // PasswordLastUsed. A failure here must not keep the user out.
        let account = account.to_string();
        let key = key.clone();
        let _ = r.app.write(|st, t| {
            if let Some(u) = st.account_mut(&account).and_then(|a| a.users.get_mut(&key)) {
                u.password_last_used = Some(r.now);
                t.touch(crate::store::Kind::User, &account, &key);
            }
            Ok(())
        });
    }
    tracing::info!(%arn, "console sign-in");
    let session = Session {
        csrf: random_token(),
        account: account.to_string(),
        arn,
        name,
        mfa_serial,
        user: Creds {
            akid,
            secret: Zeroizing::new(secret),
            token,
            expires: claims.expires,
        },
        role: None,
        recent: Vec::new(),
        last_seen: r.now,
        must_change_password,
        notice: None,
    };
    let Some(id) = sessions::insert(r.app, &session, r.now) else {
        return unavailable();
    };
    let to = if must_change_password {
        "/console/password"
    } else {
        "/console/home"
    };
    Out::redirect(to)
        .cookie(cookie(SESSION_COOKIE, &id, r.secure, None))
        .cookie(cookie(PRE_COOKIE, "", r.secure, Some(0)))
}

// ---------------------------------------------------------------------------------------------------------
// Switch role
// ---------------------------------------------------------------------------------------------------------

/// Colours a switched role can be shown in (CSS classes: no inline style under the CSP).
pub(crate) const COLORS: &[&str] = &["red", "orange", "yellow", "green", "blue", "purple"];

fn switch_role(s: &Signed<'_>) -> Out {
    let r = s.r;
    let account_in = r.f("account");
    let role = r.f("role");
    let display_in = r.f("display");
    let color = if COLORS.contains(&r.f("color")) {
        r.f("color")
    } else {
        "blue"
    };
    let account = resolve_account(r.app, account_in).unwrap_or_else(|| account_in.to_string());
    let display = if display_in.is_empty() {
        format!("{role} @ {account}")
    } else {
        display_in.chars().take(64).collect()
    };
    let role_arn = format!("arn:aws:iam::{account}:role/{role}");
    let session_name: String = s
        .session
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .take(64)
        .collect();
    let session_name = if session_name.len() < 2 {
        "console".to_string()
    } else {
        session_name
    };
    let code = r.f("code");
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", role_arn.as_str()),
        ("RoleSessionName", session_name.as_str()),
    ];
    let serial = s.session.mfa_serial.clone().unwrap_or_default();
    if !code.is_empty() {
        if serial.is_empty() {
            return pages::switch_form(
                s,
                Some("You have no MFA device; leave the MFA code empty."),
            );
        }
        params.push(("SerialNumber", &serial));
        params.push(("TokenCode", code));
    }
    // Switching always starts from the signed-in user's own credentials, as AWS's console does.
    let answer = call_with(r, &s.session.user, Service::Sts, &params);
    let xml = match answer {
        Ok(x) => x,
        Err(e) => {
            let hint = if code.is_empty() && e.code == ErrorCode::AccessDenied {
                " If the role's trust policy requires MFA, enter a code from your MFA device."
            } else {
                ""
            };
            return pages::switch_form(
                s,
                Some(&format!("{}: {}{hint}", e.code.as_str(), e.message)),
            );
        }
    };
    let doc = pages::parse(&xml);
    let get = |t: &str| pages::first(&doc, t).unwrap_or_default();
    let expires = crate::cloudtrail::parse_time(&get("Expiration")).unwrap_or(r.now + 3600);
    let active = ActiveRole {
        creds: Creds {
            akid: get("AccessKeyId"),
            secret: Zeroizing::new(get("SecretAccessKey")),
            token: get("SessionToken"),
            expires,
        },
        arn: get("Arn"),
        account: account.clone(),
        display: display.clone(),
        color: color.to_string(),
    };
    let recent = RecentRole {
        account,
        role: role.to_string(),
        display,
        color: color.to_string(),
    };
    s.update(|x| {
        x.role = Some(active);
        x.recent
            .retain(|e| !(e.account == recent.account && e.role == recent.role));
        x.recent.insert(0, recent);
        x.recent.truncate(RECENT_ROLES);
    });
    Out::redirect("/console/home")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let c = cookie(SESSION_COOKIE, "x", false, None);
        assert_eq!(
            c,
            "stsd_console=x; Path=/console; HttpOnly; SameSite=Strict"
        );
        assert!(cookie(SESSION_COOKIE, "x", true, Some(0)).ends_with("; Max-Age=0; Secure"));
    }

    #[test]
    fn failures_are_limited_per_key_and_window_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let app = App::new(
            Box::new(store),
            crate::app::Config::default(),
            crate::app::Clock::fixed(100),
        )
        .unwrap();
        for _ in 0..MAX_FAILURES_PER_USER {
            assert!(!throttled(&app, "console-user:a/u", 100));
            count_failure(&app, "console-user:a/u", MAX_FAILURES_PER_USER, 100);
        }
        assert!(throttled(&app, "console-user:a/u", 100));
        assert!(!throttled(&app, "console-user:a/other", 100));
        assert!(!throttled(
            &app,
            "console-user:a/u",
            100 + LIMIT_WINDOW_SECS + 1
        ));
        app.store().clear_failures("console-user:a/u").unwrap();
        assert!(!throttled(&app, "console-user:a/u", 100));
    }

    fn app(dir: &tempfile::TempDir, now: i64) -> App {
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        App::new(
            Box::new(store),
            crate::app::Config::default(),
            crate::app::Clock::fixed(now),
        )
        .unwrap()
    }

    /// A session with real console credentials of the root, issued at `now`, expiring at `expires`.
    fn session(app: &App, now: i64, expires: i64) -> Session {
        let claims = Claims {
            account: "111122223333".into(),
            kind: SessionKind::Root,
            session_name: String::new(),
            issued: now,
            expires,
            policy: None,
            policy_arns: Vec::new(),
            policy_ids: Vec::new(),
            tags: Vec::new(),
            transitive: Vec::new(),
            source_identity: None,
            mfa_at: None,
            chained: false,
            issuer_arn: String::new(),
            federated_provider: None,
            federation_keys: Vec::new(),
            console: true,
        };
        let (akid, secret, token) = crate::sts::mint_for(app, &claims).unwrap();
        Session {
            csrf: "c".into(),
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:root".into(),
            name: "root".into(),
            mfa_serial: None,
            user: Creds {
                akid,
                secret: Zeroizing::new(secret),
                token,
                expires,
            },
            role: None,
            recent: Vec::new(),
            last_seen: now,
            must_change_password: false,
            notice: None,
        }
    }

    #[test]
    fn sessions_live_in_the_store_and_end_when_idle_expired_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = time::OffsetDateTime::now_utc().unix_timestamp();
        let a = app(&dir, t0);
        let s = session(&a, t0, t0 + 3600);
        let id = sessions::insert(&a, &s, t0).unwrap();
        assert_eq!(id.len(), 43);
        // Another node on the same store (here: the same store reopened) sees it, with the secret derived again.
        drop(a);
        let a = app(&dir, t0);
        let got = sessions::get(&a, &id, t0 + 10).unwrap();
        assert_eq!(got.user.secret.as_str(), s.user.secret.as_str());
        // The store holds neither the ID nor the secret.
        let table = a.store().get_meta(TABLE).unwrap().unwrap();
        assert!(!table.contains(&id) && !table.contains(s.user.secret.as_str()));
        // Requests within the idle window move the idle clock (written back at most every TOUCH_SECS).
        assert!(sessions::get(&a, &id, t0 + IDLE_SECS - 1).is_some());
        assert!(sessions::get(&a, &id, t0 + 2 * IDLE_SECS - 2).is_some());
        // Idle too long: gone for good.
        assert!(sessions::get(&a, &id, t0 + 3 * IDLE_SECS).is_none());
        // The credentials' expiry ends it whatever the activity.
        let s = session(&a, t0, t0 + 100);
        let id = sessions::insert(&a, &s, t0).unwrap();
        assert!(sessions::get(&a, &id, t0 + 99).is_some());
        assert!(sessions::get(&a, &id, t0 + 100).is_none());
        // Sign-out forgets it.
        let s = session(&a, t0, t0 + 3600);
        let id = sessions::insert(&a, &s, t0).unwrap();
        sessions::update(&a, &id, t0 + 1, |x| x.notice = Some("n".into()));
        assert_eq!(
            sessions::get(&a, &id, t0 + 2).unwrap().notice.as_deref(),
            Some("n")
        );
        sessions::remove(&a, &id, t0 + 3);
        assert!(sessions::get(&a, &id, t0 + 4).is_none());
        assert!(sessions::get(&a, "unknown", t0 + 4).is_none());
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(!crate::iam::verify_password(DUMMY_HASH, "anything"));
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(owns("/console") && owns("/console/roles") && !owns("/consoles"));
    }
}
