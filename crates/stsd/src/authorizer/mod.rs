//! `/_stsd/authorize`: the decision endpoint that lets any HTTP service behind a reverse proxy (nginx
//! `auth_request`) or the `stsd-authz-layer` tower layer accept stsd credentials with full IAM evaluation.
//!
//! The proxy forwards the client's headers plus `X-Original-Method`, `X-Original-URI` (path and query as the
//! client sent them), `X-Stsd-Service` (the route table) and optionally `X-Original-Content-Length`,
//! `X-Real-IP` and `X-Forwarded-Proto`. stsd verifies the SigV4 signature over what the proxy saw — method,
//! URI, headers and the client's `X-Amz-Content-Sha256`; the body is not forwarded and so not checked —
//! maps the request through the service's route table ([`routes`], [`s3`]) to actions, resources and
//! condition keys, and evaluates each with the caller's policies and the owning account's resource-based
//! policy ([`crate::authz::authorize_resource`]).
//!
//! Answers: `200` with `X-Stsd-Principal-Arn`, `X-Stsd-Account`, `X-Stsd-Session-Tags` (JSON); `401` for an
//! unsigned request; `403` for bad credentials or signature, a request no route matches, or a denial — with
//! an AWS-style XML error (S3's format for `s3`) in the body and, on one line, in `X-Stsd-Error` (nginx
//! cannot read an `auth_request` body, but `auth_request_set` can read a header). A request that breaks the
//! proxy contract (a missing header, an unknown route table) is `400`, which nginx turns into `500`: fail
//! closed. Every decision (`200`, `401`, `403`) is an audit event with the service's event source.

use std::net::SocketAddr;

use crate::app::App;
use crate::error::ApiError;
use crate::identity::{Caller, RequestMeta};
use crate::protocol::query::Params;
use crate::routes;
pub use crate::routes::RouteTables;
use crate::routes::{Refused, RouteRequest, Routed, Table};

/// Where the endpoint is served.
pub const PATH: &str = "/_stsd/authorize";
/// Longest `X-Original-URI` accepted.
pub const MAX_URI_LEN: usize = 16 * 1024;
/// Longest `X-Original-Method` accepted.
pub const MAX_METHOD_LEN: usize = 32;
/// Longest message copied into the `X-Stsd-Error` header (proxies limit response header sizes).
const MAX_HEADER_MESSAGE: usize = 1024;

/// Headers of the proxy contract: not part of the client's request.
const CONTRACT_HEADERS: &[&str] = &[
    "x-original-method",
    "x-original-uri",
    "x-original-content-length",
    "x-stsd-service",
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "connection",
    "content-length",
    "transfer-encoding",
];

/// The endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    /// The HTTP response (unknown statuses become 500; header values that cannot be sent are dropped).
    pub fn into_response(self) -> axum::response::Response {
        use axum::http::{HeaderName, HeaderValue, StatusCode};
        let mut resp = axum::response::Response::new(axum::body::Body::from(self.body));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = resp.headers_mut();
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(k), v);
            }
        }
        resp
    }

    /// The metrics outcome: `ok` or the error code.
    pub fn outcome(&self) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| *k == "x-stsd-error-code")
            .map_or("ok", |(_, v)| v.as_str())
    }
}

/// An error in the format of the service's table (S3's `<Error>` or the Query protocol's `<ErrorResponse>`).
fn error_answer(
    status: u16,
    s3_format: bool,
    code: &str,
    message: &str,
    request_id: &str,
    resource: Option<&str>,
) -> Answer {
    use crate::protocol::xml::escape;
    let body = if s3_format {
        let resource = resource
            .map(|r| format!("<Resource>{}</Resource>", escape(r)))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message>{resource}<RequestId>{}</RequestId><HostId>{}</HostId></Error>",
            escape(code),
            escape(message),
            escape(request_id),
            escape(request_id)
        )
    } else {
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(code),
            escape(message),
            escape(request_id)
        )
    };
    let short: String = message.chars().take(MAX_HEADER_MESSAGE).collect();
    let header_body = if short.len() == message.len() {
        body.clone()
    } else {
        error_answer(status, s3_format, code, &short, request_id, resource).body
    };
    Answer {
        status,
        headers: vec![
            ("content-type", "application/xml".to_string()),
            ("x-stsd-error", ascii_only(&header_body)),
            ("x-stsd-error-code", ascii_only(code)),
            ("x-amzn-requestid", request_id.to_string()),
        ],
        body,
    }
}

/// Header-safe text: characters outside printable ASCII as XML character references.
fn ascii_only(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            out.push_str(&format!("&#x{:X};", u32::from(c)));
        }
    }
    out
}

/// JSON with every non-ASCII character escaped (`\uXXXX`), so it fits in a header.
fn ascii_json(v: &serde_json::Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The request as the proxy describes it.
struct Described<'h> {
    method: &'h str,
    path: &'h str,
    query: &'h str,
    service: &'h str,
    /// The client's headers (contract headers removed, its `Content-Length` restored).
    headers: Vec<(&'h str, &'h str)>,
}

fn header<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn describe(headers: &axum::http::HeaderMap) -> Result<Described<'_>, String> {
    let method = header(headers, "x-original-method").ok_or("missing X-Original-Method")?;
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-')
    {
        return Err("X-Original-Method is not an HTTP method".into());
    }
    let uri = header(headers, "x-original-uri").ok_or("missing X-Original-URI")?;
    if uri.len() > MAX_URI_LEN || !uri.starts_with('/') || uri.contains('#') {
        return Err(format!(
            "X-Original-URI must be an origin-form request target (path and query) of at most {MAX_URI_LEN} bytes"
        ));
    }
    let service = header(headers, "x-stsd-service").ok_or("missing X-Stsd-Service")?;
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut client: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| !CONTRACT_HEADERS.contains(&k.as_str()))
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    if let Some(len) = header(headers, "x-original-content-length").filter(|l| !l.is_empty()) {
        client.push(("content-length", len));
    }
    Ok(Described {
        method,
        path,
        query,
        service,
        headers: client,
    })
}

/// Transport facts of the client's request, as the proxy reports them (`X-Real-IP`, `X-Forwarded-Proto`);
/// without them, the proxy's own address.
fn client_meta(headers: &axum::http::HeaderMap, peer: SocketAddr) -> RequestMeta {
    let source_ip = header(headers, "x-real-ip")
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .unwrap_or_else(|| peer.ip());
    RequestMeta {
        source_ip: source_ip.to_string(),
        secure_transport: header(headers, "x-forwarded-proto")
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")),
        user_agent: header(headers, "user-agent")
            .unwrap_or("")
            .chars()
            .take(1024)
            .collect(),
    }
}

/// An authentication failure in the table's own error vocabulary.
fn auth_error(
    e: &ApiError,
    s3_format: bool,
    presigned: bool,
    key_id: Option<&str>,
) -> (&'static str, String) {
    let code = e.code.as_str();
    if !s3_format {
        return (code, e.message.clone());
    }
    match code {
        "InvalidClientTokenId"
            if key_id.is_some_and(|k| k.starts_with(crate::ids::TEMPORARY_PREFIX)) =>
        {
            (
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.".into(),
            )
        }
        "InvalidClientTokenId" => (
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.".into(),
        ),
        "ExpiredToken" => ("ExpiredToken", "The provided token has expired.".into()),
        "SignatureDoesNotMatch"
            if e.message.starts_with("Signature expired")
                || e.message.starts_with("Signature not yet current") =>
        {
            if presigned {
                ("AccessDenied", "Request has expired".into())
            } else {
                (
                    "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large."
                        .into(),
                )
            }
        }
        "SignatureDoesNotMatch" => ("SignatureDoesNotMatch", e.message.clone()),
        _ if presigned => ("AuthorizationQueryParametersError", e.message.clone()),
        _ => ("AuthorizationHeaderMalformed", e.message.clone()),
    }
}

/// The audit record of one decision.
struct Decided<'a> {
    table: Table<'a>,
    meta: &'a RequestMeta,
    caller: Option<&'a Caller>,
    routed: Option<&'a Routed>,
    owner: Option<String>,
    scope_key_id: Option<&'a str>,
    region: Option<&'a str>,
    error: Option<(&'a str, &'a str)>,
}

fn record(app: &App, request_id: &str, d: &Decided<'_>) {
    let params = Params::default();
    let request_json = d.routed.map(|r| r.request_parameters.clone());
    let action = d.routed.map_or("Unknown", |r| r.operation.as_str());
    let resources: &[(String, String)] = d.routed.map_or(&[], |r| r.resources.as_slice());
    let info = crate::audit::CallInfo {
        event_source: d.table.event_source(),
        action,
        params: &params,
        request_json: request_json.as_ref(),
        meta: d.meta,
        caller: d.caller,
        scope_key_id: d.scope_key_id,
        region: d.region,
        request_id,
        now: app.clock.now(),
        typed: None,
        result: match d.error {
            None => Ok(()),
            Some((code, message)) => Err(crate::audit::CallError { code, message }),
        },
    };
    let extra = crate::audit::event::ResourceEvent {
        resources,
        owner_account: d.owner.as_deref(),
        read_only: d.routed.map(|r| r.read_only),
    };
    app.audit.submit(crate::audit::event::build_rows_for(
        &app.node, &info, &extra,
    ));
}

/// Decide one request (no I/O besides queueing its audit event; the caller waits for the event to be stored
/// before answering).
pub fn decide(
    app: &App,
    headers: &axum::http::HeaderMap,
    peer: SocketAddr,
    request_id: &str,
) -> Answer {
    let d = match describe(headers) {
        Ok(d) => d,
        Err(why) => {
            tracing::warn!(reason = %why, "authorize request breaks the proxy contract");
            return error_answer(400, false, "InvalidRequest", &why, request_id, None);
        }
    };
    let Some(table) = app.routes.get(d.service) else {
        let why = format!(
            "X-Stsd-Service names no route table: `{}`",
            d.service.chars().take(64).collect::<String>()
        );
        tracing::warn!(reason = %why, "authorize request breaks the proxy contract");
        return error_answer(400, false, "InvalidRequest", &why, request_id, None);
    };
    let s3_format = table.is_s3();
    let meta = client_meta(headers, peer);
    let http = sigv4::HttpRequest {
        method: d.method,
        path: d.path,
        query: d.query,
        headers: &d.headers,
        body: b"",
    };
    let presigned = d.query.contains("X-Amz-");
    let authorization = d
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| *v);
    let query_params = Params::from_pairs(
        routes::decode_query(d.query)
            .iter()
            .filter(|(k, _)| k == "X-Amz-Credential")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let (scope_key_id, region) = crate::audit::event::signature_scope(authorization, &query_params);
    let mut decided = Decided {
        table,
        meta: &meta,
        caller: None,
        routed: None,
        owner: None,
        scope_key_id,
        region,
        error: None,
    };
    let opts = sigv4::VerifyOptions {
        s3: s3_format,
        body_not_forwarded: true,
    };
    let caller = match crate::auth::authenticate_with(app, &http, table.signing_name(), opts) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let sigv2 = d.query.contains("AWSAccessKeyId=");
            let (status, code, message) = if sigv2 {
                (
                    403,
                    "AccessDenied",
                    "Signature Version 2 is not supported: sign requests with Signature Version 4.",
                )
            } else {
                (
                    401,
                    "AccessDenied",
                    "The request is not signed: stsd accepts only requests signed with stsd credentials.",
                )
            };
            decided.error = Some((code, message));
            record(app, request_id, &decided);
            return error_answer(status, s3_format, code, message, request_id, None);
        }
        Err(e) => {
            let (code, message) = auth_error(&e, s3_format, presigned, scope_key_id);
            decided.error = Some((code, &message));
            record(app, request_id, &decided);
            return error_answer(403, s3_format, code, &message, request_id, None);
        }
    };
    decided.caller = Some(&caller);
    let host = d
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or("", |(_, v)| *v);
    let rreq = RouteRequest {
        method: d.method,
        path: d.path,
        query: d.query,
        headers: &d.headers,
        host,
        caller_account: &caller.account,
        region: &caller.region,
    };
    let routed = match table.route(&rreq) {
        Ok(r) => r,
        Err(Refused { code, message }) => {
            decided.error = Some((code, &message));
            record(app, request_id, &decided);
            return error_answer(403, s3_format, code, &message, request_id, None);
        }
    };
    decided.routed = Some(&routed);
    let Ok(st) = app.read() else {
        return error_answer(
            500,
            s3_format,
            "InternalError",
            "We encountered an internal error. Please try again.",
            request_id,
            None,
        );
    };
    let info = crate::authz::RequestInfo {
        meta: &meta,
        now: app.clock.now(),
    };
    let mut denied = None;
    for check in &routed.checks {
        if let crate::resources::Owner::Known(a) =
            crate::resources::owner_of(&st, &check.policy_arn)
            && a.id() != caller.account
            && decided.owner.is_none()
        {
            decided.owner = Some(a.id().to_string());
        }
        let req = crate::authz::ResourceRequest {
            action: &check.action,
            resource: &check.resource,
            policy_arn: &check.policy_arn,
            keys: &check.keys,
            region: &caller.region,
        };
        if let Err(d) = crate::authz::authorize_resource(app.gateway(), &st, &caller, info, &req) {
            denied = Some((d, check.resource.clone()));
            break;
        }
    }
    drop(st);
    if let Some((d, resource)) = denied {
        decided.error = Some(("AccessDenied", &d.message));
        record(app, request_id, &decided);
        let resource = if d.message == "Access Denied" {
            None
        } else {
            Some(resource.as_str())
        };
        return error_answer(
            403,
            s3_format,
            "AccessDenied",
            &d.message,
            request_id,
            resource,
        );
    }
    record(app, request_id, &decided);
    let tags: serde_json::Map<String, serde_json::Value> = caller
        .session
        .as_deref()
        .map(|c| {
            c.tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    Answer {
        status: 200,
        headers: vec![
            ("x-stsd-principal-arn", ascii_only(&caller.arn)),
            ("x-stsd-account", caller.account.clone()),
            (
                "x-stsd-session-tags",
                ascii_json(&serde_json::Value::Object(tags)),
            ),
            ("x-stsd-principal-id", ascii_only(&caller.user_id)),
            (
                "x-stsd-action",
                ascii_only(
                    &routed
                        .checks
                        .first()
                        .map_or(String::new(), |c| c.action.clone()),
                ),
            ),
            ("x-amzn-requestid", request_id.to_string()),
        ],
        body: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_fit_in_a_header() {
        let a = error_answer(
            403,
            true,
            "AccessDenied",
            "User: arn:aws:iam::1:user/ü <x> is not",
            "RID",
            Some("arn:aws:s3:::b/k"),
        );
        assert!(a.body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
        ));
        assert!(
            a.body.contains("&lt;x&gt;")
                && a.body.contains("<Resource>arn:aws:s3:::b/k</Resource>")
        );
        let h = &a
            .headers
            .iter()
            .find(|(k, _)| *k == "x-stsd-error")
            .unwrap()
            .1;
        assert!(h.bytes().all(|b| (b' '..=b'~').contains(&b)));
        assert!(h.contains("&#xFC;"));
        let long = "x".repeat(5000);
        let a = error_answer(403, false, "AccessDenied", &long, "RID", None);
        assert!(a.body.starts_with("<ErrorResponse>"));
        assert!(
            a.headers
                .iter()
                .find(|(k, _)| *k == "x-stsd-error")
                .unwrap()
                .1
                .len()
                < 1300
        );
    }

    #[test]
    fn session_tags_json_is_ascii() {
        let v = serde_json::json!({"team": "blü", "x": "\u{1F600}"});
        assert_eq!(ascii_json(&v), r#"{"team":"bl\u00fc","x":"\ud83d\ude00"}"#);
        let back: serde_json::Value = serde_json::from_str(&ascii_json(&v)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn the_contract_is_checked() {
        let mut h = axum::http::HeaderMap::new();
        assert!(describe(&h).is_err());
        h.insert("x-original-method", "GET".parse().unwrap());
        h.insert("x-original-uri", "http://evil/x".parse().unwrap());
        h.insert("x-stsd-service", "s3".parse().unwrap());
        assert!(describe(&h).is_err());
        h.insert("x-original-uri", "/b/k?x=1".parse().unwrap());
        h.insert("x-original-content-length", "5".parse().unwrap());
        h.insert("content-length", "0".parse().unwrap());
        h.insert("x-amz-date", "20250101T000000Z".parse().unwrap());
        let d = describe(&h).unwrap();
        assert_eq!(
            (d.method, d.path, d.query, d.service),
            ("GET", "/b/k", "x=1", "s3")
        );
        assert!(d.headers.contains(&("content-length", "5")));
        assert!(!d.headers.contains(&("content-length", "0")));
        assert!(
            d.headers
                .iter()
                .all(|(k, _)| !k.starts_with("x-original") && *k != "x-stsd-service")
        );
        h.insert("x-original-method", "get /x".parse().unwrap());
        assert!(describe(&h).is_err());
        h.insert("x-original-method", "GET".parse().unwrap());
        h.insert(
            "x-original-uri",
            format!("/{}", "a".repeat(MAX_URI_LEN)).parse().unwrap(),
        );
        assert!(describe(&h).is_err());
    }
}
