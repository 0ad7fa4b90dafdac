//! HTTP front end: one route carries the Query protocol for both STS and IAM. Decode → authenticate →
//! dispatch (the action authorizes) → encode. Every failure becomes an AWS error envelope.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::pipeline::{form_body, process, record_rejected, request_meta};
use crate::protocol::query::Params;
use crate::protocol::{Service, error_body};

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send its request line and headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Actions that carry no SigV4 signature (the caller proves itself with a token or assertion).
pub async fn run(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let router = Router::new().fallback(handle).with_state(app);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // A client gets HEADER_TIMEOUT to send its request head (slow-loris connections are closed).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req.map(Body::new))
            });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    // Drain: in-flight requests finish, idle keep-alive connections close.
    graceful.shutdown().await;
    Ok(())
}

/// Send `resp` only once the request's audit event is stored, so a node killed right after answering has lost
/// no event of a request it answered. If the store cannot take events (refusing them, or storing nothing for
/// [`crate::audit::STALL_AFTER`]), the answer goes out anyway (availability) and the event stays queued for the
/// writer's retries.
async fn acknowledged(app: &App, resp: Response) -> Response {
    if !app.audit.acknowledged().await {
        tracing::warn!(
            "answering before the audit event was stored (the store is not taking events)"
        );
    }
    resp
}

/// A small unauthenticated text answer (health endpoints).
fn plain(status: u16, text: &str) -> Response {
    let mut resp = Response::new(Body::from(format!("{text}\n")));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    resp
}

fn respond(status: u16, body: String, request_id: &str, now: i64) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    let date = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0)),
    );
    if let Ok(v) = HeaderValue::from_str(&date) {
        h.insert("date", v);
    }
    resp
}

fn error_response(service: Service, err: &ApiError, request_id: &str, now: i64) -> Response {
    respond(
        err.code.status(),
        error_body(service, err, request_id),
        request_id,
        now,
    )
}

/// A body over the limit. `drained` tells whether the rest was read and discarded (so the client sees the
/// error response instead of a reset) or reading stopped at the drain cap.
struct TooLarge {
    drained: bool,
}

/// Read at most `limit` bytes. Past the limit keep reading and discarding up to `DRAIN_CAP` so that a client
/// still sending gets an error envelope rather than a broken pipe.
async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, TooLarge> {
    use http_body_util::BodyExt;
    const DRAIN_CAP: usize = 64 * 1024 * 1024;
    let mut body = body;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(TooLarge { drained: false });
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_CAP {
            return Err(TooLarge { drained: false });
        }
        if seen <= limit {
            buf.extend_from_slice(&data);
        }
    }
    if seen > limit {
        return Err(TooLarge { drained: true });
    }
    Ok(axum::body::Bytes::from(buf))
}

/// The largest `User-Agent` (it becomes `aws:UserAgent`, matched by the caller's `StringLike` patterns) and
/// form body a request may carry and still run on the async worker. Every other context value is bounded by
/// parameter validation (`RoleArn`, 2,048 characters, is the longest), so a pattern on the inline path costs
/// at most ~2,000 steps; larger requests take the blocking pool, where a slow policy delays only itself.
const INLINE_MAX_USER_AGENT: usize = 1024;
const INLINE_MAX_BODY: usize = 64 * 1024;

/// Whether a request is one of the read-only STS calls that never block (no store access, no MFA write),
/// and small enough that evaluating it cannot hold an async worker for long (see [`INLINE_MAX_USER_AGENT`]).
/// `body` must be [`form_body`], the same parameters `process` will see: anything else would let a request
/// whose ignored body names such a call run another action (e.g. one that fetches from an OIDC issuer) inline.
fn runs_inline(headers: &axum::http::HeaderMap, query: &str, body: &[u8]) -> bool {
    let user_agent = headers.get("user-agent").map_or(0, |v| v.len());
    if user_agent > INLINE_MAX_USER_AGENT
        || body.len() > INLINE_MAX_BODY
        || query.len() > INLINE_MAX_BODY
    {
        return false;
    }
    let mut action = None;
    for part in [query.as_bytes(), body] {
        // Keys are decoded as `form_urlencoded::parse` decodes them (`%41ction` is `Action`); of the values only
        // the action's (decoding every value — a percent-encoded `RoleArn` — cost more than the check).
        // A pair holds no `&`, so decoding the whole pair is exactly what the decoder reads (the value may hold
        // `=`: only the first one separates).
        for pair in part.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let Some((key, _)) = form_urlencoded::parse(key).next() else {
                continue;
            };
            match &*key {
                "Action" => {
                    action = form_urlencoded::parse(pair)
                        .next()
                        .map(|(_, v)| v.into_owned());
                }
                "SerialNumber" | "TokenCode" => return false,
                _ => {}
            }
        }
    }
    matches!(
        action.as_deref(),
        Some("AssumeRole" | "GetCallerIdentity" | "GetAccessKeyInfo")
    )
}

async fn handle(
    AxState(app): AxState<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let request_id = crate::ids::request_id();
    let now = app.clock.now();
    let started = std::time::Instant::now();
    // The authorizer of other services (nginx `auth_request`, stsd-authz-layer): any method, no body read.
    if req.uri().path() == crate::authorizer::PATH {
        let answer = crate::authorizer::decide(&app, req.headers(), peer, &request_id);
        app.metrics
            .request("Authorize", answer.outcome(), started.elapsed());
        return acknowledged(&app, answer.into_response()).await;
    }
    // The web console: its own pages, whose data comes from API calls run through `process` below.
    if crate::console::owns(req.uri().path()) {
        return crate::console::serve(app, req, peer).await;
    }
    if req.method() == axum::http::Method::GET {
        match req.uri().path() {
            // Prometheus metrics (no secrets in them; put stsd behind a proxy to restrict who scrapes).
            "/metrics" => {
                let mut resp = plain(200, app.render_metrics().trim_end());
                resp.headers_mut().insert(
                    "content-type",
                    HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                return resp;
            }
            // Liveness: the process answers.
            "/healthz" => return plain(200, "ok"),
            // Readiness, for load balancers: the store answers and this node is in sync with it.
            "/readyz" => {
                let app2 = app.clone();
                return match tokio::task::spawn_blocking(move || app2.ready()).await {
                    Ok(Ok(())) => plain(200, "ready"),
                    Ok(Err(why)) => plain(503, &why),
                    Err(_) => plain(503, "readiness check failed"),
                };
            }
            _ => {}
        }
    }
    let (parts, body) = req.into_parts();
    let limit = app.config.max_body_bytes;
    // Guess the namespace for early errors from the Version parameter in the URL, if any.
    let query = parts.uri.query().unwrap_or("").to_string();
    let early_service = if query.contains("Version=2010-05-08") {
        Service::Iam
    } else {
        Service::Sts
    };
    if app.audit.is_failing() {
        // The store refuses audit events (e.g. the disk is full): act on nothing that could not be recorded.
        // Clients retry ServiceUnavailable; service resumes by itself once the writer's retry succeeds.
        app.metrics
            .request("-", "ServiceUnavailable", started.elapsed());
        let err = ApiError::new(
            ErrorCode::ServiceUnavailable,
            "The service cannot record requests right now. Please try again later.",
        );
        return error_response(early_service, &err, &request_id, now);
    }

    let body = match tokio::time::timeout(BODY_TIMEOUT, read_limited(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(too_large)) => {
            let err = ApiError::new(
                ErrorCode::RequestEntityTooLarge,
                format!("Request body must be at most {limit} bytes."),
            );
            let mut resp = error_response(early_service, &err, &request_id, now);
            audit_rejected_head(&app, early_service, &query, parts, peer, &request_id, err).await;
            if !too_large.drained {
                // We stopped reading: tell the client the connection ends here.
                resp.headers_mut()
                    .insert("connection", HeaderValue::from_static("close"));
            }
            return acknowledged(&app, resp).await;
        }
        Err(_) => {
            let err = ApiError::new(
                ErrorCode::RequestTimeout,
                "Your socket connection to the server was not read from or written to within the timeout period.",
            );
            let mut resp = error_response(early_service, &err, &request_id, now);
            audit_rejected_head(&app, early_service, &query, parts, peer, &request_id, err).await;
            resp.headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            return acknowledged(&app, resp).await;
        }
    };
    if crate::pipeline::is_cloudtrail(&parts.headers) {
        let app2 = app.clone();
        let rid = request_id.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let meta = request_meta(&parts, peer);
            crate::pipeline::serve_cloudtrail(&app2, &parts, &query, &body, &meta, &rid)
        })
        .await;
        let (status, json) = joined.unwrap_or_else(|_| {
            (
                500,
                r#"{"__type":"InternalFailure","message":"An internal error occurred."}"#.into(),
            )
        });
        let outcome = if status == 200 {
            "ok".to_string()
        } else {
            serde_json::from_str::<serde_json::Value>(&json)
                .ok()
                .and_then(|v| v.get("__type")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "InternalFailure".into())
        };
        app.metrics
            .request("LookupEvents", &outcome, started.elapsed());
        let mut resp = respond(status, json, &request_id, now);
        resp.headers_mut().insert(
            "content-type",
            HeaderValue::from_static(crate::cloudtrail::CONTENT_TYPE),
        );
        return acknowledged(&app, resp).await;
    }
    // The hot read-only STS calls run on the async worker: they never touch the store, and handing every
    // request to the blocking pool cost more (thread wake-ups) than the work itself. Anything that may
    // write (IAM mutations, MFA codes) goes to the blocking pool.
    let joined = if runs_inline(&parts.headers, &query, form_body(&parts, &body)) {
        let _pending = app.audit.pending();
        Ok(process(&app, &parts, &query, &body, peer, &request_id))
    } else {
        let app2 = app.clone();
        let rid = request_id.clone();
        tokio::task::spawn_blocking(move || {
            let _pending = app2.audit.pending();
            process(&app2, &parts, &query, &body, peer, &rid)
        })
        .await
    };
    let resp = match joined {
        Ok((_, label, Ok(xml))) => {
            app.metrics.request(&label, "ok", started.elapsed());
            respond(200, xml, &request_id, now)
        }
        Ok((service, label, Err(e))) => {
            app.metrics
                .request(&label, e.code.as_str(), started.elapsed());
            error_response(service, &e, &request_id, now)
        }
        Err(_) => error_response(
            early_service,
            &ApiError::new(ErrorCode::InternalFailure, "An internal error occurred."),
            &request_id,
            now,
        ),
    };
    acknowledged(&app, resp).await
}

/// [`record_rejected`] for a request whose body was never read (too large, too slow): only the query string's
/// parameters are known. Runs on the blocking pool (the audit queue applies back-pressure).
async fn audit_rejected_head(
    app: &Arc<App>,
    service: Service,
    query: &str,
    parts: axum::http::request::Parts,
    peer: SocketAddr,
    request_id: &str,
    err: ApiError,
) {
    let app = app.clone();
    let query = query.to_string();
    let request_id = request_id.to_string();
    let _ = tokio::task::spawn_blocking(move || {
        let params = Params::decode(&query, b"").unwrap_or_default();
        record_rejected(&app, service, &params, &parts, peer, &request_id, &err);
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(user_agent: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("user-agent", HeaderValue::from_str(user_agent).unwrap());
        h
    }

    #[test]
    fn only_small_read_only_sts_calls_run_inline() {
        let ua = headers("aws-cli/2.15.0 Python/3.11");
        assert!(runs_inline(
            &ua,
            "",
            b"Action=AssumeRole&Version=2011-06-15"
        ));
        assert!(runs_inline(&ua, "Action=GetCallerIdentity", b""));
        assert!(!runs_inline(&ua, "", b"Action=GetSessionToken"));
        assert!(!runs_inline(
            &ua,
            "",
            b"Action=AssumeRole&SerialNumber=x&TokenCode=123456"
        ));
        // A long User-Agent is matched by the caller's patterns: the blocking pool takes it.
        let long = headers(&"a".repeat(INLINE_MAX_USER_AGENT + 1));
        assert!(!runs_inline(&long, "Action=GetCallerIdentity", b""));
        let edge = headers(&"a".repeat(INLINE_MAX_USER_AGENT));
        assert!(runs_inline(&edge, "Action=GetCallerIdentity", b""));
        let big_body = format!("Action=AssumeRole&Pad={}", "x".repeat(INLINE_MAX_BODY));
        assert!(!runs_inline(&ua, "", big_body.as_bytes()));
        // Encoded keys and values are read as the parameter decoder reads them.
        assert!(runs_inline(&ua, "", b"%41ction=Assume%52ole"));
        assert!(!runs_inline(&ua, "", b"Action=AssumeRole&Serial%4Eumber=x"));
        assert!(!runs_inline(
            &ua,
            "",
            b"Action=AssumeRole&Action=GetSessionToken"
        ));
        assert!(runs_inline(&ua, "", b"&&Action&Action=AssumeRole&=x&"));
    }

    /// What `runs_inline` decided before it skipped decoding values: every pair decoded.
    fn runs_inline_reference(query: &str, body: &[u8]) -> bool {
        let mut action = None;
        for part in [query.as_bytes(), body] {
            for (k, v) in form_urlencoded::parse(part) {
                match &*k {
                    "Action" => action = Some(v.into_owned()),
                    "SerialNumber" | "TokenCode" => return false,
                    _ => {}
                }
            }
        }
        matches!(
            action.as_deref(),
            Some("AssumeRole" | "GetCallerIdentity" | "GetAccessKeyInfo")
        )
    }

    /// Query strings of pairs whose keys and values may be percent- or plus-encoded, or lack their `=`.
    fn form() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop::sample::select(vec![
            "Action",
            "%41ction",
            "Act%69on",
            "SerialNumber",
            "Serial%4Eumber",
            "TokenCode",
            "Token%43ode",
            "Version",
            "",
            "A",
        ]);
        let value = prop::sample::select(vec![
            "AssumeRole",
            "Assume%52ole",
            "GetCallerIdentity",
            "Get%43allerIdentity",
            "GetAccessKeyInfo",
            "GetSessionToken",
            "Assume+Role",
            "AssumeRole=x",
            "=",
            "",
            "%",
        ]);
        prop::collection::vec((key, value, any::<bool>()), 0..6).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v, eq)| {
                    if *eq {
                        format!("{k}={v}")
                    } else {
                        format!("{k}{v}")
                    }
                })
                .collect::<Vec<_>>()
                .join("&")
        })
    }

    proptest::proptest! {
        #[test]
        fn inline_check_reads_parameters_as_the_decoder_does(query in form(), body in form()) {
            let ua = headers("aws-cli/2.15.0 Python/3.11");
            proptest::prop_assert_eq!(
                runs_inline(&ua, &query, body.as_bytes()),
                runs_inline_reference(&query, body.as_bytes())
            );
        }
    }
}
