//! The request pipelines, below the HTTP server and the console (which both run requests through them):
//! the AWS Query pipeline ([`process`]: decode → route → authenticate → dispatch to the typed action →
//! answer, every request recorded in the audit trail) and the helpers both need.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::action::Ctx;
use crate::app::App;
use crate::auth::authenticate;
use crate::cloudtrail::JsonError;
use crate::error::{ApiError, ErrorCode};
use crate::identity::RequestMeta;
use crate::protocol::query::Params;
use crate::protocol::{Service, success_body};

/// Serve on `listener` until `shutdown` resolves, then drain in-flight requests.
/// The part of the body that carries parameters: a POST's form body; nothing for other methods or content types.
pub(crate) fn form_body<'a>(parts: &axum::http::request::Parts, body: &'a [u8]) -> &'a [u8] {
    let is_form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if parts.method == axum::http::Method::POST && is_form {
        body
    } else {
        b""
    }
}

/// Which service an action belongs to.
pub(crate) fn service_of(action: &str) -> Option<Service> {
    if crate::sts::handler(action).is_some() || crate::sts::unsigned_handler(action).is_some() {
        Some(Service::Sts)
    } else if crate::iam::handler(action).is_some() {
        Some(Service::Iam)
    } else {
        None
    }
}

/// Transport facts of a request.
pub(crate) fn request_meta(parts: &axum::http::request::Parts, peer: SocketAddr) -> RequestMeta {
    RequestMeta {
        source_ip: peer.ip().to_string(),
        secure_transport: false,
        user_agent: parts
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    }
}

/// The service and action a decoded request names, or the error (and the namespace to word it in) when it
/// names none, an unknown one, or the wrong API version.
pub(crate) fn route(params: &Params) -> Result<(Service, &str), (Service, ApiError)> {
    let guessed = if params.get("Version") == Some(crate::protocol::IAM_VERSION) {
        Service::Iam
    } else {
        Service::Sts
    };
    let Some(action) = params.get("Action") else {
        return Err((
            guessed,
            ApiError::new(ErrorCode::MissingAction, "Missing Action"),
        ));
    };
    let unknown = |service| {
        (
            service,
            ApiError::new(
                ErrorCode::InvalidAction,
                format!(
                    "Could not find operation {action} for version {}",
                    params.get("Version").unwrap_or("NO_VERSION_SPECIFIED")
                ),
            ),
        )
    };
    let service = service_of(action).ok_or_else(|| unknown(guessed))?;
    if params.get("Version") != Some(service.version()) {
        return Err(unknown(service));
    }
    Ok((service, action))
}

/// Record a request refused before it reached an action — undecodable, no or an unknown `Action`, the wrong
/// `Version`, too large, too slow — so probes show in the audit trail too. The event carries whatever the
/// request named (`eventName` is its `Action`, or `Unknown`) and no authenticated identity: nothing was
/// verified, only the signature scope's key ID is noted.
pub(crate) fn record_rejected(
    app: &App,
    service: Service,
    params: &Params,
    parts: &axum::http::request::Parts,
    peer: SocketAddr,
    request_id: &str,
    err: &ApiError,
) {
    let meta = request_meta(parts, peer);
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let (scope_key_id, region) = crate::audit::event::signature_scope(authorization, params);
    let action: String = params
        .get("Action")
        .map_or_else(|| "Unknown".to_string(), |a| a.chars().take(128).collect());
    app.record(&crate::audit::CallInfo {
        event_source: service.event_source(),
        action: &action,
        params,
        request_json: None,
        meta: &meta,
        caller: None,
        scope_key_id,
        region,
        request_id,
        now: app.clock.now(),
        // Refused before an action ran: nothing was decoded.
        typed: None,
        result: Err(crate::audit::CallError::from(err)),
    });
}

/// The synchronous request pipeline (runs on the blocking pool: actions may commit to the store).
pub(crate) fn process(
    app: &App,
    parts: &axum::http::request::Parts,
    query: &str,
    body: &[u8],
    peer: SocketAddr,
    request_id: &str,
) -> (Service, String, Result<String, ApiError>) {
    // Metrics label only known actions: what an unknown request names is unbounded.
    let unknown = || "Unknown".to_string();
    let params = match Params::decode(query, form_body(parts, body)).map_err(ApiError::from) {
        Ok(p) => p,
        Err(e) => {
            record_rejected(
                app,
                Service::Sts,
                &Params::default(),
                parts,
                peer,
                request_id,
                &e,
            );
            return (Service::Sts, unknown(), Err(e));
        }
    };
    let (service, action) = match route(&params) {
        Ok(routed) => routed,
        Err((service, e)) => {
            record_rejected(app, service, &params, parts, peer, request_id, &e);
            return (service, unknown(), Err(e));
        }
    };
    let meta = request_meta(parts, peer);
    // What the audit event needs from inside the pipeline: the caller, and the typed input and output.
    let mut audit_caller: Option<crate::identity::Caller> = None;
    let audit_slot = crate::action::audit_slot::AuditSlot::default();
    let result = (|| {
        let headers: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
            .collect();
        let path = parts.uri.path();
        let http = sigv4::HttpRequest {
            method: parts.method.as_str(),
            path,
            query,
            headers: &headers,
            body,
        };
        // Unsigned STS actions: the caller proves itself with a token or assertion, not with SigV4.
        if let Some(handler) = crate::sts::unsigned_handler(action) {
            let uctx = crate::sts::UnsignedCtx {
                node: app,
                meta: &meta,
                now: app.clock.now(),
                audit: &audit_slot,
            };
            let out = handler(&uctx, &params)?;
            return Ok(success_body(service, action, out.as_deref(), request_id));
        }
        let caller = authenticate(app, &http, service)?;
        let Some(caller) = caller else {
            return Err(ApiError::new(
                ErrorCode::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        };
        let caller = &*audit_caller.insert(caller);
        let ctx = Ctx {
            node: app,
            caller,
            meta: &meta,
            now: app.clock.now(),
            audit: &audit_slot,
        };
        let handler = match service {
            Service::Sts => crate::sts::handler(action),
            Service::Iam => crate::iam::handler(action),
        };
        let Some(handler) = handler else {
            return Err(ApiError::new(
                ErrorCode::InvalidAction,
                format!("Could not find operation {action}"),
            ));
        };
        let out = handler(&ctx, &params)?;
        tracing::debug!(action, caller = %caller.arn, "ok");
        Ok(success_body(service, action, out.as_deref(), request_id))
    })();
    if let Err(e) = &result {
        tracing::info!(action, code = e.code.as_str(), "request failed");
    }
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let (scope_key_id, region) = crate::audit::event::signature_scope(authorization, &params);
    let typed = audit_slot.get();
    app.record(&crate::audit::CallInfo {
        event_source: service.event_source(),
        action,
        params: &params,
        request_json: None,
        meta: &meta,
        caller: audit_caller.as_ref(),
        scope_key_id,
        region,
        request_id,
        now: app.clock.now(),
        typed: typed.as_deref(),
        result: result
            .as_ref()
            .map(|_| ())
            .map_err(crate::audit::CallError::from),
    });
    drop(typed);
    (service, action.to_string(), result)
}

/// Is this request a CloudTrail JSON call?
pub fn is_cloudtrail(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| operation_of(t).is_some())
}

/// The operation named by `X-Amz-Target`: `CloudTrail_20131101.Op`, or the fully qualified
/// `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.Op` newer SDKs send.
fn operation_of(target: &str) -> Option<&str> {
    let t = target
        .strip_prefix("com.amazonaws.cloudtrail.v20131101.")
        .unwrap_or(target);
    t.strip_prefix(crate::cloudtrail::TARGET_PREFIX)
}

/// Serve one CloudTrail JSON request; returns (status, JSON body).
pub fn serve_cloudtrail(
    app: &App,
    parts: &axum::http::request::Parts,
    query: &str,
    body: &[u8],
    meta: &RequestMeta,
    request_id: &str,
) -> (u16, String) {
    let mut seen = Seen::default();
    let result = serve_inner(app, parts, query, body, meta, &mut seen);
    // CloudTrail records its own API calls (event source cloudtrail.amazonaws.com), allowed or not.
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let no_params = crate::protocol::query::Params::default();
    let (scope_key_id, region) = crate::audit::event::signature_scope(authorization, &no_params);
    let operation = seen.operation.chars().take(128).collect::<String>();
    app.record(&crate::audit::CallInfo {
        event_source: crate::cloudtrail::EVENT_SOURCE,
        action: if operation.is_empty() {
            "Unknown"
        } else {
            &operation
        },
        params: &no_params,
        request_json: Some(seen.input.as_ref().unwrap_or(&Value::Null)),
        meta,
        caller: seen.caller.as_ref(),
        scope_key_id,
        region,
        request_id,
        now: app.clock.now(),
        typed: None,
        result: match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(crate::audit::CallError {
                code: &e.ty,
                message: &e.message,
            }),
        },
    });
    match result {
        Ok(v) => (200, v.to_string()),
        Err(e) => (e.status, e.body()),
    }
}

/// What a call revealed on its way through, for its own audit event.
#[derive(Default)]
struct Seen {
    operation: String,
    caller: Option<crate::identity::Caller>,
    input: Option<Value>,
}

fn serve_inner(
    app: &App,
    parts: &axum::http::request::Parts,
    query: &str,
    body: &[u8],
    meta: &RequestMeta,
    seen: &mut Seen,
) -> Result<Value, JsonError> {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = operation_of(target).unwrap_or("");
    seen.operation = operation.to_string();
    if parts.method != axum::http::Method::POST {
        return Err(JsonError::bad(
            "UnknownOperationException",
            "CloudTrail operations are POST requests.",
        ));
    }
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let http = sigv4::HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        headers: &headers,
        body,
    };
    let caller = crate::auth::authenticate_as(app, &http, "cloudtrail")?.ok_or_else(|| {
        JsonError::bad(
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        )
    })?;
    let caller = &*seen.caller.insert(caller);
    if operation != "LookupEvents" {
        return Err(JsonError::bad(
            "UnknownOperationException",
            format!("Unknown operation {operation}"),
        ));
    }
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| {
            JsonError::bad(
                "SerializationException",
                "The request body is not valid JSON.",
            )
        })?
    };
    seen.input = Some(input.clone());
    // LookupEvents is no typed Query action: its requestParameters are the JSON request as sent.
    let no_typed = crate::action::audit_slot::AuditSlot::default();
    let ctx = crate::action::Ctx {
        node: app,
        caller,
        meta,
        now: app.clock.now(),
        audit: &no_typed,
    };
    // Read-your-writes: events of calls answered before this one are stored first.
    crate::cloudtrail::lookup_events(&ctx, &input, &|| app.audit.flush(Duration::from_secs(5)))
}
