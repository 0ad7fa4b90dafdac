//! The tower layer (`stsd-authz-layer`) protecting its example notes service, end to end: the real `stsd` binary
//! with the example's route file, the example's axum app behind the layer on a loopback port, and requests signed
//! by the AWS SDK for Rust's signer (`aws-sigv4`) with stsd credentials — an IAM user's keys and a role session
//! with tags obtained through `aws-sdk-sts`.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]

#[expect(
    dead_code,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#[path = "../../stsd-authz-layer/examples/protected_service.rs"]
mod example;

use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use stsd_authz_layer::{AuthzConfig, AuthzLayer};

mod common;
use common::{ACCOUNT, KEY, SECRET, Server, free_port, start_stsd};

/// stsd with the example service's route file.
fn start_with_routes() -> Server {
    start_stsd(&[
        "--routes",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../stsd-authz-layer/examples/notes-routes.json"
        ),
    ])
}

fn creds(key: &str, secret: &str, token: Option<String>) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(key, secret, token, None, "test")
}

fn iam(endpoint: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(creds(KEY, SECRET, None))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

fn sts(endpoint: &str, key: &str, secret: &str) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_sts::config::Region::new("eu-west-1"))
        .credentials_provider(creds(key, secret, None))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// A response as the client sees it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange over a fresh connection (`Connection: close`).
fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Sign a request for the `notes` service with the AWS SDK for Rust's signer (headers: host,
/// x-amz-content-sha256, x-amz-date, x-amz-security-token, authorization).
fn signed(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    c: &aws_credential_types::Credentials,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let identity = c.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("notes")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let host = format!("127.0.0.1:{port}");
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.clone())];
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    );
    let url = format!("http://{host}{path}");
    let signable = SignableRequest::new(
        method,
        url.clone(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder().method(method).uri(&url);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let mut req = req.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req.headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

async fn serve_example(layer: AuthzLayer) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, example::app(layer)).await.unwrap();
    });
    port
}

/// Run a blocking exchange off the async workers (the example service runs on them).
async fn call(
    port: u16,
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    body: &'static [u8],
) -> Reply {
    tokio::task::spawn_blocking(move || exchange(port, method, path, &headers, body))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_protects_the_example_service() {
    let s = start_with_routes();
    let iam = iam(&s.endpoint);
    // A writer who may read every note and write the public ones.
    iam.create_user().user_name("writer").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["notes:GetNote","notes:ListNotes"],"Resource":"*"},
        {"Effect":"Allow","Action":"notes:PutNote","Resource":"arn:aws:notes:*:111122223333:note/public-*"},
        {"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}"#;
    iam.put_user_policy()
        .user_name("writer")
        .policy_name("notes")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name("writer")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let writer = creds(k.access_key_id(), k.secret_access_key(), None);
    // A role whose sessions carry tags.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#
    );
    iam.create_role()
        .role_name("reader")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("reader")
        .policy_name("read")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"notes:GetNote","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let session = sts(&s.endpoint, k.access_key_id(), k.secret_access_key())
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/reader"))
        .role_session_name("reading")
        .tags(
            aws_sdk_sts::types::Tag::builder()
                .key("team")
                .value("blue")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let reader = creds(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
    );

    let layer = AuthzLayer::new(AuthzConfig::new(s.endpoint.clone(), "notes"));
    let port = serve_example(layer.clone()).await;

    // The writer writes a public note and reads it back; the service knows who wrote.
    let h = signed(port, "PUT", "/notes/public-1", b"hello", &writer, &[]);
    let r = call(port, "PUT", "/notes/public-1", h, b"hello").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("x-principal-arn"),
        Some("arn:aws:iam::111122223333:user/writer")
    );
    let h = signed(port, "GET", "/notes/public-1", b"", &writer, &[]);
    let r = call(port, "GET", "/notes/public-1", h.clone(), b"").await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"), "{r:?}");
    // The identical signed request again: answered from the layer's cache, stsd is not asked.
    let asked = layer
        .stats()
        .asked
        .load(std::sync::atomic::Ordering::Relaxed);
    let r = call(port, "GET", "/notes/public-1", h, b"").await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
    assert_eq!(
        layer
            .stats()
            .asked
            .load(std::sync::atomic::Ordering::Relaxed),
        asked
    );
    assert_eq!(
        layer
            .stats()
            .cache_hits
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // Not allowed: a private note. stsd's XML error reaches the client; the handler never runs.
    let h = signed(port, "PUT", "/notes/secret", b"x", &writer, &[]);
    let r = call(port, "PUT", "/notes/secret", h, b"x").await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        r.body.contains("<Code>AccessDenied</Code>") && r.body.contains("notes:PutNote"),
        "{}",
        r.body
    );
    assert!(r.header("x-principal-arn").is_none());

    // A role session: its tags reach the handler; its policy allows reading only.
    let h = signed(port, "GET", "/notes/public-1", b"", &reader, &[]);
    let r = call(port, "GET", "/notes/public-1", h, b"").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("x-principal-arn"),
        Some("arn:aws:sts::111122223333:assumed-role/reader/reading")
    );
    assert_eq!(r.header("x-session-team"), Some("blue"));
    let h = signed(port, "DELETE", "/notes/public-1", b"", &reader, &[]);
    assert_eq!(
        call(port, "DELETE", "/notes/public-1", h, b"").await.status,
        403
    );

    // Unsigned: 401. A wrong secret: 403 SignatureDoesNotMatch. A client's X-Stsd-* headers change nothing.
    let r = call(
        port,
        "GET",
        "/notes/public-1",
        vec![
            ("host".into(), format!("127.0.0.1:{port}")),
            (
                "x-stsd-principal-arn".into(),
                "arn:aws:iam::111122223333:root".into(),
            ),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 401, "{r:?}");
    let h = signed(
        port,
        "GET",
        "/notes/public-1",
        b"",
        &creds(k.access_key_id(), "wrong-secret", None),
        &[],
    );
    let r = call(port, "GET", "/notes/public-1", h, b"").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("SignatureDoesNotMatch"), "{}", r.body);

    // The body is not part of what stsd checks; the layer checks it against the signed x-amz-content-sha256.
    let h = signed(port, "PUT", "/notes/public-2", b"signed body", &writer, &[]);
    let r = call(port, "PUT", "/notes/public-2", h, b"other body!").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("XAmzContentSHA256Mismatch"));
    let h = signed(port, "GET", "/notes/public-2", b"", &writer, &[]);
    assert_eq!(
        call(port, "GET", "/notes/public-2", h, b"").await.status,
        404,
        "the mismatched write never reached the service"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_fails_closed() {
    let c = creds(KEY, SECRET, None);
    // Nothing listens: 503.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let layer = AuthzLayer::new(AuthzConfig::new(dead, "notes"));
    let port = serve_example(layer.clone()).await;
    let h = signed(port, "GET", "/notes", b"", &c, &[]);
    let r = call(port, "GET", "/notes", h, b"").await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("ServiceUnavailable"));
    assert_eq!(
        layer
            .stats()
            .unavailable
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Something that accepts and never answers: 503 once the per-request timeout passes.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let mut cfg = AuthzConfig::new(format!("http://127.0.0.1:{silent_port}"), "notes");
    cfg.timeout = Duration::from_millis(300);
    let port = serve_example(AuthzLayer::new(cfg)).await;
    let h = signed(port, "GET", "/notes", b"", &c, &[]);
    let r = call(port, "GET", "/notes", h, b"").await;
    assert_eq!(r.status, 503, "{r:?}");
}
