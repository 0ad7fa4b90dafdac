//! AssumeRoleWithWebIdentity with the AWS SDK for Rust against the real `stsd` binary and a local OIDC issuer
//! (discovery + JWKS on a loopback port). The issuer's key is a fixed P-256 test key; tokens are ES256.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

mod common;
use common::{ACCOUNT, KEY, SECRET, Server, start_stsd};

const CLIENT_ID: &str = "sts.amazonaws.com";
/// A P-256 test key (PKCS#8 DER, base64) and its public point.
const TEST_KEY_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1nPORfZIuUL8zpFotNeRDK9ORazQnDthTYf/XXUhwvqhRANCAASy3dq0HqVCc8Indy+BGtPvdQ3SmQo4/x8CR51MFAek7GNq33w9nz/XFqxReZ3RpzTaeJl3plEnaASdW3o8efq2";
const TEST_KEY_X: &str = "st3atB6lQnPCJ3cvgRrT73UN0pkKOP8fAkedTBQHpOw";
const TEST_KEY_Y: &str = "Y2rffD2fP9cWrFF5ndGnNNp4mXemUSdoBJ1bejx5-rY";

fn start() -> Server {
    start_stsd(&["--allow-http-oidc"])
}

/// A minimal issuer: answers discovery and JWKS requests on a loopback port; returns its URL.
fn start_issuer() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/rust-issuer",
        listener.local_addr().unwrap().port()
    );
    let base = url.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or_default();
            let body = if path.ends_with("/.well-known/openid-configuration") {
                serde_json::json!({"issuer": base, "jwks_uri": format!("{base}/jwks")})
            } else {
                serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec-test", "use": "sig",
                    "alg": "ES256", "x": TEST_KEY_X, "y": TEST_KEY_Y}]})
            }
            .to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn token(iss: &str, aud: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("ec-test".into());
    let claims = serde_json::json!({"iss": iss, "aud": aud, "sub": "system:serviceaccount:ci:deployer",
        "iat": now, "exp": now + 600});
    let der = data_encoding::BASE64
        .decode(TEST_KEY_PKCS8.as_bytes())
        .unwrap();
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&der),
    )
    .unwrap()
}

fn creds(key: &str, secret: &str, token: Option<String>) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(key, secret, token, None, "test")
}

fn sts(endpoint: &str, c: aws_credential_types::Credentials) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .endpoint_url(endpoint)
        .region(aws_sdk_sts::config::Region::new("eu-central-1"))
        .credentials_provider(c)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
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

#[tokio::test]
async fn rust_sdk_assume_role_with_web_identity() {
    let s = start();
    let issuer = start_issuer();
    let host_path = issuer.trim_start_matches("http://").to_string();
    let iam = iam(&s.endpoint);
    let provider = iam
        .create_open_id_connect_provider()
        .url(&issuer)
        .client_id_list(CLIENT_ID)
        .send()
        .await
        .unwrap();
    let provider_arn = provider.open_id_connect_provider_arn().unwrap().to_string();
    assert_eq!(
        provider_arn,
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host_path}")
    );
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {format!("{host_path}:sub"): "system:serviceaccount:ci:*"},
                      "StringEquals": {format!("{host_path}:aud"): CLIENT_ID}}}]});
    iam.create_role()
        .role_name("k8s-deployer")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/k8s-deployer");

    let anon = sts(&s.endpoint, creds("unused", "unused", None));
    let out = anon
        .assume_role_with_web_identity()
        .role_arn(&role_arn)
        .role_session_name("pod-1")
        .web_identity_token(token(&issuer, CLIENT_ID))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some("system:serviceaccount:ci:deployer")
    );
    assert_eq!(out.provider(), Some(provider_arn.as_str()));
    assert_eq!(out.audience(), Some(CLIENT_ID));
    let c = out.credentials().unwrap();
    let me = sts(
        &s.endpoint,
        creds(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
        ),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap();
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/k8s-deployer/pod-1").as_str())
    );

    // The SDK's own credential chain, configured the standard way: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
    // (+ AWS_ROLE_SESSION_NAME), and AWS_ENDPOINT_URL_STS for the endpoint — given to aws-config as its
    // environment (`ConfigLoader::env`, aws-config's test-util), not by changing this process's variables.
    // The token file lives in aws-config's file system view too (its `Fs`, as its environment).
    let token_path = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
    let token_text = token(&issuer, CLIENT_ID);
    let env = aws_types::os_shim_internal::Env::from_slice(&[
        ("AWS_ROLE_ARN", role_arn.as_str()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path),
        ("AWS_ROLE_SESSION_NAME", "pod-2"),
        ("AWS_ENDPOINT_URL_STS", s.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ]);
    let loaded = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .env(env)
        .fs(aws_types::os_shim_internal::Fs::from_slice(&[(
            token_path,
            token_text.as_str(),
        )]))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    let provider = loaded.credentials_provider().unwrap();
    let provided =
        aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider)
            .await
            .unwrap();
    assert!(provided.access_key_id().starts_with("ASIA"));
    let me = sts(&s.endpoint, provided)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/k8s-deployer/pod-2").as_str())
    );

    let err = anon
        .assume_role_with_web_identity()
        .role_arn(&role_arn)
        .role_session_name("pod-1")
        .web_identity_token(token(&issuer, "someone-else"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_identity_token_exception(), "{err:?}");
}
