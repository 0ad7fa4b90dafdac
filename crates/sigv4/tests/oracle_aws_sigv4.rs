//! Differential test against the AWS SDK for Rust's signer (`aws-sigv4`): random requests signed by it,
//! in the header and presigned forms, must parse, pass the scope and clock checks, and verify here; a
//! one-bit change to the signature, body, a signed header, the query or the path must then fail. Our own
//! signer must produce the same signatures as `aws-sigv4` for the same request.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#![expect(
    clippy::indexing_slicing,
    reason = "test code: a bad index fails the test"
)]
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use proptest::prelude::*;

/// Percent-encode everything but unreserved (as the SDKs do), or only what a URI cannot carry.
const MINIMAL: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'=')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// 0: everything but unreserved (SDK style); 1: only what a URI cannot carry; 2: form style (space as `+`).
fn encode(s: &str, style: u8) -> String {
    match style {
        0 => sigv4::uri_encode(s),
        1 => percent_encoding::utf8_percent_encode(s, MINIMAL).to_string(),
        _ => percent_encoding::utf8_percent_encode(s, MINIMAL)
            .to_string()
            .replace("%20", "+"),
    }
}

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    host: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    secret: String,
    token: Option<String>,
    region: String,
    service: &'static str,
    time: u64,
    /// `None`: header form; `Some(secs)`: presigned.
    presign: Option<u64>,
    content_sha256: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let path = prop::collection::vec(
        prop_oneof![
            "[A-Za-z0-9._~:@!$'()*,;=-]{0,8}",
            Just(".".to_string()),
            Just("..".to_string()),
            "%[0-9A-F]{2}",
        ],
        0..5,
    )
    .prop_map(|segs| format!("/{}", segs.join("/")));
    let query =
        prop::collection::vec(("\\PC{0,8}", "\\PC{0,12}", 0u8..3), 0..5).prop_map(|pairs| {
            pairs
                .iter()
                .filter(|(k, _, _)| !k.starts_with("X-Amz-"))
                .map(|(k, v, style)| format!("{}={}", encode(k, *style), encode(v, *style)))
                .collect::<Vec<_>>()
                .join("&")
        });
    let headers = prop::collection::vec(
        (
            prop_oneof![
                Just("content-type".to_string()),
                "x-custom-[a-z]{1,6}",
                "x-amz-meta-[a-z]{1,6}",
                Just("X-Mixed-Case".to_string()),
            ],
            // Words with runs of spaces, and leading/trailing spaces: exercises trimming and collapsing.
            " {0,2}[!-~]{1,6}( {1,3}[!-~]{1,6}){0,3} {0,2}",
        ),
        0..4,
    );
    let host = prop_oneof![
        Just("stsd.example.test:8443".to_string()),
        "[a-z]{1,10}(\\.[a-z]{1,5})?(:[1-9][0-9]{0,3})?",
    ];
    (
        (any::<bool>(), host, path, query, headers),
        prop::collection::vec(any::<u8>(), 0..64),
        (
            "[A-Za-z0-9/+]{40}",
            prop::option::of("[A-Za-z0-9/+=]{16,64}"),
            "[a-z]{2}-[a-z]{4,9}-[1-9]",
            any::<bool>(),
        ),
        (
            1_420_070_400u64..2_000_000_000,
            prop::option::of(1u64..3600),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (post, host, path, query, headers),
                body,
                (secret, token, region, iam),
                (time, presign, content_sha256),
            )| Case {
                method: if post { "POST" } else { "GET" },
                host,
                path,
                query,
                headers,
                body: if post { body } else { Vec::new() },
                secret,
                token,
                region,
                service: if iam { "iam" } else { "sts" },
                time,
                presign,
                content_sha256: content_sha256 && presign.is_none(),
            },
        )
}

/// A request as received by the server.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sign with `aws-sigv4`; returns the request as the server would see it and the signature.
fn sign_with_aws(c: &Case) -> (Received, String) {
    let identity = Credentials::new(
        "AKIAORACLEEXAMPLE",
        c.secret.clone(),
        c.token.clone(),
        None,
        "oracle",
    )
    .into();
    let mut settings = SigningSettings::default();
    if let Some(secs) = c.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(secs));
    }
    if c.content_sha256 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&c.region)
        .name(c.service)
        .time(UNIX_EPOCH + Duration::from_secs(c.time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = if c.query.is_empty() {
        format!("https://{}{}", c.host, c.path)
    } else {
        format!("https://{}{}?{}", c.host, c.path, c.query)
    };
    let mut headers: Vec<(String, String)> = vec![("host".into(), c.host.clone())];
    headers.extend(c.headers.iter().cloned());
    let signable = SignableRequest::new(
        c.method,
        uri.clone(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&c.body),
    )
    .unwrap();
    let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method(c.method).uri(&uri);
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    // Added after signing, never signed by the SDK: must be tolerated.
    builder = builder.header("user-agent", "oracle/1.0");
    let mut req = builder.body(c.body.clone()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    let received = Received {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect(),
        body: req.body().clone(),
    };
    (received, signature)
}

fn check(r: &Received, c: &Case, now: i64) -> Result<(), sigv4::SigV4Error> {
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
        body: &r.body,
    };
    let auth = sigv4::parse(&req)?.expect("signed");
    sigv4::check_scope_and_time(&auth, c.service, now, 3600)?;
    let cr = &auth.credential;
    let key = sigv4::signing_key(&c.secret, &cr.date, &cr.region, &cr.service);
    sigv4::verify(&auth, &req, &key)
}

/// Flip bit 0 of the `n`-th ASCII alphanumeric character of `s` that is not inside a `%XX` escape.
fn flip_alnum(s: &str, n: usize) -> Option<String> {
    let bytes = s.as_bytes();
    let candidates: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_alphanumeric())
        .filter(|&i| !(i >= 1 && bytes[i - 1] == b'%' || i >= 2 && bytes[i - 2] == b'%'))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let i = candidates[n % candidates.len()];
    let mut b = bytes.to_vec();
    b[i] ^= 1;
    String::from_utf8(b).ok()
}

fn amz_header_names(r: &Received) -> Vec<String> {
    r.headers.iter().map(|(k, _)| k.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(300) })]

    #[test]
    fn aws_sigv4_signed_requests_verify(c in case(), n in any::<usize>(), what in 0u8..5) {
        let (r, aws_signature) = sign_with_aws(&c);
        let now = i64::try_from(c.time).unwrap() + i64::try_from(c.presign.unwrap_or(30) / 2).unwrap();
        check(&r, &c, now).map_err(|e| TestCaseError::fail(format!("{e}: {r:?}")))?;

        // One-bit changes fail.
        let mut bad = r.clone();
        match what {
            0 => {
                // The signature: in the Authorization header or the X-Amz-Signature parameter.
                let flip_last = |s: &mut String| {
                    let last = s.pop().unwrap();
                    s.push(if last == '0' { '1' } else { '0' });
                };
                if c.presign.is_some() {
                    flip_last(&mut bad.query);
                } else {
                    let a = bad.headers.iter_mut().find(|(k, _)| k == "authorization").unwrap();
                    flip_last(&mut a.1);
                }
            }
            1 if !bad.body.is_empty() => {
                let i = n % bad.body.len();
                bad.body[i] ^= 1 << (n % 8);
            }
            2 => {
                // A signed header's value (host is always signed).
                let signed: Vec<String> = amz_header_names(&r)
                    .into_iter()
                    .filter(|k| k != "authorization" && k != "user-agent" && k != "x-amz-security-token")
                    .collect();
                let name = &signed[n % signed.len()];
                let h = bad.headers.iter_mut().find(|(k, _)| k == name).unwrap();
                match flip_alnum(&h.1, n / 7) {
                    Some(v) => h.1 = v,
                    None => h.1.push('x'),
                }
            }
            3 => match flip_alnum(&bad.query, n) {
                // Do not touch the presign parameters' names (that changes the form, tested elsewhere).
                Some(q) if !q.contains("X-Amz-") || c.presign.is_none() || q.matches("X-Amz-").count() == r.query.matches("X-Amz-").count() => bad.query = q,
                _ => bad.method = if c.method == "GET" { "GEU".into() } else { "POSU".into() },
            },
            _ => match flip_alnum(&bad.path, n) {
                // A change inside a segment removed by `..` is no change at all.
                Some(p) if sigv4::canonical_uri(&p) != sigv4::canonical_uri(&r.path) => bad.path = p,
                _ => bad.method = if c.method == "GET" { "GEU".into() } else { "POSU".into() },
            },
        }
        if what != 1 || !r.body.is_empty() {
            prop_assert!(check(&bad, &c, now).is_err(), "{bad:?}");
        }

        // Our signer agrees with aws-sigv4 on the same request.
        let given: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut given_with_hash = given.clone();
        let body_hash = sigv4::hash_body(&c.body);
        if c.content_sha256 {
            given_with_hash.push(("x-amz-content-sha256", &body_hash));
        }
        let p = sigv4::SigningParams {
            method: c.method,
            host: &c.host,
            path: &c.path,
            query: &c.query,
            headers: &given_with_hash,
            body: &c.body,
            access_key_id: "AKIAORACLEEXAMPLE",
            secret_access_key: &c.secret,
            session_token: c.token.as_deref(),
            region: &c.region,
            service: c.service,
            timestamp: i64::try_from(c.time).unwrap(),
        };
        let ours = match c.presign {
            None => {
                let out = sigv4::sign_request(&p).unwrap();
                let authz = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
                authz.rsplit("Signature=").next().unwrap().to_string()
            }
            Some(secs) => {
                let q = sigv4::presign_url_query(&p, secs).unwrap();
                q.rsplit("X-Amz-Signature=").next().unwrap().to_string()
            }
        };
        prop_assert_eq!(ours, aws_signature);
    }
}

#[test]
fn presigned_clock_window_with_aws_sigv4() {
    let c = Case {
        method: "GET",
        host: "stsd.example.test:8443".into(),
        path: "/".into(),
        query: "Action=GetCallerIdentity&Version=2011-06-15".into(),
        headers: vec![],
        body: vec![],
        secret: "Zx9Tq4LmN8vB2cR7hJ5kW3pY6sD1fG0aE4uI8oPq".into(),
        token: Some("IQoFAKEsessionTOKEN+/=".into()),
        region: "us-east-1".into(),
        service: "sts",
        time: 1_742_040_000,
        presign: Some(60),
        content_sha256: false,
    };
    let (r, _) = sign_with_aws(&c);
    let t = 1_742_040_000i64;
    check(&r, &c, t).unwrap();
    check(&r, &c, t + 60).unwrap();
    assert!(
        check(&r, &c, t + 61)
            .unwrap_err()
            .to_string()
            .starts_with("Signature expired")
    );
    check(&r, &c, t - 900).unwrap();
    assert!(
        check(&r, &c, t - 901)
            .unwrap_err()
            .to_string()
            .starts_with("Signature not yet current")
    );
    let _ = SystemTime::now();
}
