//! `loadgen`: drives a running stsd with SigV4-signed requests (each signed freshly, as an SDK would) at a
//! fixed concurrency for a fixed time, then prints throughput and latency percentiles.
//!
//! Modes: `assume-role` (AssumeRole with long-term user keys), `caller-identity-session`
//! (GetCallerIdentity signed with temporary credentials obtained from one AssumeRole first),
//! `put-user-policy` (an IAM write burst: PutUserPolicy on `--user-name`, usually paced with `--rate`),
//! `authorize-s3` (an S3 GetObject of `--s3-path`, signed with session credentials, asked of
//! `/_stsd/authorize` as nginx's `auth_request` would) and `s3-get` (the same GetObject sent to `--endpoint` —
//! a proxy — as a client would).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Clone, Copy, ValueEnum, Debug)]
enum Mode {
    AssumeRole,
    CallerIdentitySession,
    PutUserPolicy,
    AuthorizeS3,
    S3Get,
}

#[derive(Parser, Debug)]
#[command(about = "Load generator for stsd")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8556")]
    endpoint: String,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Access key ID of an IAM user allowed to assume --role-arn.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY")]
    secret_access_key: String,
    #[arg(long)]
    role_arn: String,
    /// Concurrent in-flight requests.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to run (after a 1 s warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests per second in all (paced); unlimited when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// The user whose inline policies `put-user-policy` writes.
    #[arg(long, default_value = "burst")]
    user_name: String,
    /// stsd, where `s3-get` obtains its session (AssumeRole); default: --endpoint.
    #[arg(long)]
    sts_endpoint: Option<String>,
    /// The S3 object `authorize-s3` and `s3-get` read (path-style).
    #[arg(long, default_value = "/bench-data/object.txt")]
    s3_path: String,
}

struct Creds {
    key: String,
    secret: String,
    token: Option<String>,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// Send one signed Query request; returns (status, body).
async fn call(
    client: &HttpClient,
    endpoint: &str,
    host: &str,
    creds: &Creds,
    body: &str,
    service: &str,
) -> Result<(u16, Bytes)> {
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = sigv4::sign_request(&sigv4::SigningParams {
        method: "POST",
        host,
        path: "/",
        query: "",
        headers: &[("content-type", ct)],
        body: body.as_bytes(),
        access_key_id: &creds.key,
        secret_access_key: &creds.secret,
        session_token: creds.token.as_deref(),
        region: "us-east-1",
        service,
        timestamp: now_unix(),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut req = hyper::Request::post(format!("{endpoint}/"))
        .header("content-type", ct)
        .header("host", host);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body.to_string())))?;
    let resp = client.request(req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

/// Send one S3 GetObject of `path`, signed for `host`: to `{endpoint}{path}` (a proxy), or — `authorize` — to
/// `{endpoint}/_stsd/authorize` with the headers nginx's `auth_request` adds. Returns the status.
async fn s3_get(
    client: &HttpClient,
    endpoint: &str,
    host: &str,
    creds: &Creds,
    path: &str,
    authorize: bool,
) -> Result<u16> {
    let signed = sigv4::sign_request(&sigv4::SigningParams {
        method: "GET",
        host,
        path,
        query: "",
        headers: &[("x-amz-content-sha256", sigv4::EMPTY_SHA256)],
        body: b"",
        access_key_id: &creds.key,
        secret_access_key: &creds.secret,
        session_token: creds.token.as_deref(),
        region: "us-east-1",
        service: "s3",
        timestamp: now_unix(),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = if authorize {
        format!("{endpoint}/_stsd/authorize")
    } else {
        format!("{endpoint}{path}")
    };
    let mut req = hyper::Request::get(url)
        .header("host", host)
        .header("x-amz-content-sha256", sigv4::EMPTY_SHA256);
    if authorize {
        req = req
            .header("x-original-method", "GET")
            .header("x-original-uri", path)
            .header("x-stsd-service", "s3");
    }
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = client.request(req.body(Full::new(Bytes::new()))?).await?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await?;
    Ok(status)
}

fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml.get(start..)?.find(&format!("</{tag}>"))?;
    xml.get(start..end).map(|s| s.replace("&amp;", "&"))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let endpoint = args.endpoint.trim_end_matches('/').to_string();
    let host = endpoint
        .strip_prefix("http://")
        .context("endpoint must be http://")?
        .to_string();
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency * 2)
        .build_http();
    let user = Creds {
        key: args.access_key_id.clone(),
        secret: args.secret_access_key.clone(),
        token: None,
    };
    let assume_body = {
        let mut f = form_urlencoded::Serializer::new(String::new());
        f.append_pair("Action", "AssumeRole")
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", &args.role_arn)
            .append_pair("RoleSessionName", "loadgen");
        f.finish()
    };
    let (creds, body, service) = match args.mode {
        Mode::AssumeRole => (user, assume_body, "sts"),
        Mode::PutUserPolicy => {
            let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
            let mut f = form_urlencoded::Serializer::new(String::new());
            f.append_pair("Action", "PutUserPolicy")
                .append_pair("Version", "2010-05-08")
                .append_pair("UserName", &args.user_name)
                .append_pair("PolicyName", "burst")
                .append_pair("PolicyDocument", doc);
            (user, f.finish(), "iam")
        }
        Mode::CallerIdentitySession | Mode::AuthorizeS3 | Mode::S3Get => {
            let sts_endpoint = args
                .sts_endpoint
                .as_deref()
                .unwrap_or(&endpoint)
                .trim_end_matches('/')
                .to_string();
            let sts_host = sts_endpoint
                .strip_prefix("http://")
                .context("--sts-endpoint must be http://")?
                .to_string();
            let (status, bytes) = call(
                &client,
                &sts_endpoint,
                &sts_host,
                &user,
                &assume_body,
                "sts",
            )
            .await?;
            let text = String::from_utf8_lossy(&bytes).to_string();
            if status != 200 {
                bail!("AssumeRole failed ({status}): {text}");
            }
            let session = Creds {
                key: xml_text(&text, "AccessKeyId").context("AccessKeyId")?,
                secret: xml_text(&text, "SecretAccessKey").context("SecretAccessKey")?,
                token: Some(xml_text(&text, "SessionToken").context("SessionToken")?),
            };
            (
                session,
                "Action=GetCallerIdentity&Version=2011-06-15".to_string(),
                "sts",
            )
        }
    };
    // Each task paces itself so that all together send `rate` requests per second.
    let interval = args
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(args.concurrency as f64 / r));
    let creds = Arc::new(creds);
    let body = Arc::new(body);
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let start = Instant::now();
    for task in 0..args.concurrency {
        let (client, endpoint, host) = (client.clone(), endpoint.clone(), host.clone());
        let (creds, body, recording, stop) =
            (creds.clone(), body.clone(), recording.clone(), stop.clone());
        let (mode, s3_path) = (args.mode, args.s3_path.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            // Paced tasks are spread evenly over one interval, so the server sees a steady stream rather than
            // all tasks at once.
            let mut next = start
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(task as f64 / args.concurrency.max(1) as f64)
                });
            while !stop.load(Ordering::Relaxed) {
                // Paced: latency counts from when the request was due, so a server that falls behind is charged
                // for the wait (no coordinated omission).
                let t0 = match interval {
                    Some(i) => {
                        tokio::time::sleep_until(next.into()).await;
                        let due = next;
                        next += i;
                        due
                    }
                    None => Instant::now(),
                };
                let ok = match mode {
                    Mode::AuthorizeS3 | Mode::S3Get => matches!(
                        s3_get(
                            &client,
                            &endpoint,
                            &host,
                            &creds,
                            &s3_path,
                            matches!(mode, Mode::AuthorizeS3)
                        )
                        .await,
                        Ok(200)
                    ),
                    _ => matches!(
                        call(&client, &endpoint, &host, &creds, &body, service).await,
                        Ok((200, _))
                    ),
                };
                if recording.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    all.sort_unstable();
    println!(
        "mode={:?} concurrency={} requests={} errors={} throughput={:.0} req/s p50={:.2} ms p99={:.2} ms max={:.2} ms",
        args.mode,
        args.concurrency,
        all.len(),
        errors,
        all.len() as f64 / elapsed,
        percentile(&all, 0.50) as f64 / 1000.0,
        percentile(&all, 0.99) as f64 / 1000.0,
        all.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    Ok(())
}
