//! Differential test of S3's rules against the AWS SDK for Rust's signer (`aws-sigv4` with the settings its S3
//! client uses: single percent-encoding, no path normalisation, `x-amz-content-sha256`): S3-style requests —
//! object keys with any characters, dot segments and doubled slashes, bodies — signed by it in the header and
//! presigned forms must verify with [`sigv4::VerifyOptions`] `s3`, also when the verifier does not get the
//! body (`body_not_forwarded`, what an authorizing proxy sees); a changed key, query, declared hash or
//! signature must not. The default (non-S3) rules must refuse keys whose S3 form differs.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#![expect(
    clippy::indexing_slicing,
    reason = "test code: a bad index fails the test"
)]
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use proptest::prelude::*;

const SECRET: &str = "Zx9Tq4LmN8vB2cR7hJ5kW3pY6sD1fG0aE4uI8oPq";

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    host: String,
    /// Already percent-encoded as an S3 client sends it.
    path: String,
    query: String,
    body: Vec<u8>,
    token: Option<String>,
    time: u64,
    presign: Option<u64>,
}

fn key_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~ +=&:@!$'()*,;-]{1,10}",
        "\\PC{1,6}",
        Just(".".to_string()),
        Just("..".to_string()),
        Just(String::new()),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            0u8..3,
            prop_oneof![
                Just("s3.example.test:9000".to_string()),
                Just("bucket.s3.example.test".to_string())
            ],
            "[a-z0-9][a-z0-9.-]{2,10}",
            prop::collection::vec(key_segment(), 0..4),
        ),
        (
            prop::collection::vec(("[a-z-]{1,8}", "\\PC{0,8}"), 0..3),
            prop::collection::vec(any::<u8>(), 0..64),
            prop::option::of("[A-Za-z0-9/+=]{16,64}"),
            1_420_070_400u64..2_000_000_000,
            prop::option::of(1u64..3600),
        ),
    )
        .prop_map(
            |((m, host, bucket, key), (query, body, token, time, presign))| {
                let method = ["GET", "PUT", "DELETE"][usize::from(m)];
                let mut path = format!("/{bucket}");
                if !key.is_empty() {
                    path.push('/');
                    let encoded: Vec<String> = key.iter().map(|s| sigv4::uri_encode(s)).collect();
                    path.push_str(&encoded.join("/"));
                }
                let query = query
                    .iter()
                    .map(|(k, v)| format!("{k}={}", sigv4::uri_encode(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                Case {
                    method,
                    host,
                    path,
                    query,
                    body: if method == "PUT" && presign.is_none() {
                        body
                    } else {
                        Vec::new()
                    },
                    token,
                    time,
                    presign,
                }
            },
        )
}

struct Received {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn sign_s3(c: &Case) -> Received {
    let identity =
        Credentials::new("AKIAORACLEEXAMPLE", SECRET, c.token.clone(), None, "oracle").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let body = match c.presign {
        Some(secs) => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(secs));
            SignableBody::UnsignedPayload
        }
        None => {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            SignableBody::Bytes(&c.body)
        }
    };
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(c.time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = if c.query.is_empty() {
        format!("http://{}{}", c.host, c.path)
    } else {
        format!("http://{}{}?{}", c.host, c.path, c.query)
    };
    let headers = [("host", c.host.as_str())];
    let signable = SignableRequest::new(c.method, uri.clone(), headers.into_iter(), body).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder()
        .method(c.method)
        .uri(&uri)
        .header("host", &c.host)
        .body(c.body.clone())
        .unwrap();
    instructions.apply_to_request_http1x(&mut req);
    Received {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect(),
        body: req.body().clone(),
    }
}

fn check(r: &Received, c: &Case, opts: sigv4::VerifyOptions, forward_body: bool) -> bool {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = sigv4::HttpRequest {
        method: &r.method,
        path: &r.path,
        query: &r.query,
        headers: &headers,
        body: if forward_body { &r.body } else { b"" },
    };
    let Ok(Some(auth)) = sigv4::parse(&req) else {
        return false;
    };
    let now = i64::try_from(c.time).unwrap();
    if sigv4::check_scope_and_time(&auth, "s3", now, 3600).is_err() {
        return false;
    }
    let cr = &auth.credential;
    let key = sigv4::signing_key(SECRET, &cr.date, &cr.region, &cr.service);
    sigv4::verify_with(&auth, &req, &key, opts).is_ok()
}

const S3: sigv4::VerifyOptions = sigv4::VerifyOptions {
    s3: true,
    body_not_forwarded: false,
};
const PROXIED: sigv4::VerifyOptions = sigv4::VerifyOptions {
    s3: true,
    body_not_forwarded: true,
};

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(300) })]

    #[test]
    fn s3_signed_requests_verify_with_and_without_the_body(c in case(), what in 0u8..4) {
        let r = sign_s3(&c);
        prop_assert!(check(&r, &c, S3, true), "S3 rules with the body: {:?}", c);
        prop_assert!(check(&r, &c, PROXIED, false), "S3 rules without the body: {:?}", c);
        // The default rules normalise and double-encode: they agree only when the path has nothing to change.
        let same_uri = sigv4::canonical_uri(&r.path) == sigv4::canonical_uri_s3(&r.path);
        if !same_uri {
            prop_assert!(!check(&r, &c, sigv4::VerifyOptions::default(), true));
        }
        // Tampering is noticed without the body too.
        let mut t = Received { method: r.method.clone(), path: r.path.clone(), query: r.query.clone(), headers: r.headers.clone(), body: r.body.clone() };
        match what {
            0 => t.path.push('x'),
            1 => t.query = if t.query.is_empty() { "a=b".into() } else { format!("{}&a=b", t.query) },
            2 => t.method = if c.method == "GET" { "DELETE".into() } else { "GET".into() },
            _ => {
                for (k, v) in &mut t.headers {
                    if k == "x-amz-content-sha256" {
                        *v = sigv4::hash_body(b"another body");
                    }
                }
                if c.presign.is_some() {
                    t.path.push_str("%20");
                }
            }
        }
        prop_assert!(!check(&t, &c, PROXIED, false), "tampered request verified: {:?}", c);
    }
}

/// A body the proxy does not forward is not checked: the declared hash is what the signature covers. (With the
/// body, the hash must match it.)
#[test]
fn declared_hash_is_trusted_only_without_the_body() {
    let c = Case {
        method: "PUT",
        host: "s3.example.test:9000".into(),
        path: "/b/k".into(),
        query: String::new(),
        body: b"hello".to_vec(),
        token: None,
        time: 1_742_040_000,
        presign: None,
    };
    let mut r = sign_s3(&c);
    r.body = b"tampered".to_vec();
    assert!(!check(&r, &c, S3, true));
    assert!(check(&r, &c, PROXIED, false));
}
