//! `sigv4-baseline`: the ceiling stsd is measured against (issue #14). A minimal HTTP/1.1 server that does
//! what any SigV4 service must do for a request — read the body, parse and verify the signature with the same
//! `sigv4` crate stsd uses (signing keys cached per day, as stsd caches them) — and then answers a fixed small
//! XML body, with no policy evaluation, no state, no audit trail.
//!
//! It knows two keys: the one given on the command line (the benchmark user's) and a fixed session key it
//! hands out in its fixed answer, so `loadgen --mode caller-identity-session` (which first calls AssumeRole and
//! then signs with the credentials it got) runs against it unchanged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// The session credentials in the fixed answer.
const SESSION_KEY: &str = "ASIABASELINE00000001";
const SESSION_SECRET: &str = "baselineSessionSecretKey0000000000000000";
const SESSION_TOKEN: &str = "baseline-session-token";
const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(about = "A bare SigV4-verifying server: the ceiling for stsd's benchmarks")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18557")]
    listen: SocketAddr,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY")]
    secret_access_key: String,
}

/// (access key, date, region, service): what a derived signing key depends on.
type Scope = (String, String, String, String);

struct Keys {
    secrets: HashMap<String, String>,
    /// Derived signing keys by (access key, date, region, service).
    derived: Mutex<HashMap<Scope, [u8; 32]>>,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

fn answer(status: u16, body: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/xml"),
    );
    resp
}

const OK_BODY: &str = concat!(
    r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>"#,
    "<AccessKeyId>ASIABASELINE00000001</AccessKeyId>",
    "<SecretAccessKey>baselineSessionSecretKey0000000000000000</SecretAccessKey>",
    "<SessionToken>baseline-session-token</SessionToken>",
    "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult>",
    "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>",
    "</AssumeRoleResponse>\n"
);
const DENIED_BODY: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>\n";

fn verify(keys: &Keys, parts: &hyper::http::request::Parts, body: &[u8]) -> bool {
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let req = sigv4::HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    let Ok(Some(auth)) = sigv4::parse(&req) else {
        return false;
    };
    if sigv4::check_scope_and_time(&auth, "sts", now_unix(), sigv4::MAX_EXPIRES_SECS).is_err() {
        return false;
    }
    let c = &auth.credential;
    let Some(secret) = keys.secrets.get(&c.access_key_id) else {
        return false;
    };
    if c.access_key_id == SESSION_KEY && auth.security_token.as_deref() != Some(SESSION_TOKEN) {
        return false;
    }
    let id = (
        c.access_key_id.clone(),
        c.date.clone(),
        c.region.clone(),
        c.service.clone(),
    );
    let key = {
        let mut derived = keys.derived.lock().unwrap_or_else(|p| p.into_inner());
        *derived
            .entry(id)
            .or_insert_with(|| sigv4::signing_key(secret, &c.date, &c.region, &c.service))
    };
    sigv4::verify(&auth, &req, &key).is_ok()
}

async fn handle(
    keys: Arc<Keys>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
        return Ok(answer(413, DENIED_BODY));
    };
    let body = body.to_bytes();
    Ok(if verify(&keys, &parts, &body) {
        answer(200, OK_BODY)
    } else {
        answer(403, DENIED_BODY)
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let keys = Arc::new(Keys {
        secrets: HashMap::from([
            (args.access_key_id.clone(), args.secret_access_key.clone()),
            (SESSION_KEY.to_string(), SESSION_SECRET.to_string()),
        ]),
        derived: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("bind {}", args.listen))?;
    eprintln!("sigv4-baseline listening on {}", args.listen);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let keys = keys.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(keys.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
