//! The worked vectors of the reference (§1.6.7, computed with botocore), every signed request of
//! `wire-examples.md` (copied to `tests/wire_examples/`), and the verification rules of §1.6, each test
//! named after the reference section or AWS example it reproduces.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]

use std::fs;
use std::path::Path;

use sigv4::*;

const SECRET: &str = "Zx9Tq4LmN8vB2cR7hJ5kW3pY6sD1fG0aE4uI8oPq";
const T: i64 = 1_742_040_000; // 20250315T120000Z
const CT: &str = "application/x-www-form-urlencoded; charset=utf-8";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const HOST: &str = "stsd.example.test:8443";

/// The whole server-side sequence: parse, scope and clock, key, signature.
fn verify_full(
    req: &HttpRequest<'_>,
    secret: &str,
    now: i64,
    service: &str,
) -> Result<(), SigV4Error> {
    let auth = parse(req)?.expect("signed");
    check_scope_and_time(&auth, service, now, 900)?;
    let c = &auth.credential;
    verify(
        &auth,
        req,
        &signing_key(secret, &c.date, &c.region, &c.service),
    )
}

fn post<'a>(headers: &'a [(&'a str, &'a str)], body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body,
    }
}

fn params<'a>(headers: &'a [(&'a str, &'a str)], body: &'a [u8]) -> SigningParams<'a> {
    SigningParams {
        method: "POST",
        host: HOST,
        path: "/",
        query: "",
        headers,
        body,
        access_key_id: "AKIABTX3GSDSQBHCDE22",
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "sts",
        timestamp: T,
    }
}

/// Headers of a signed request: the given ones plus what the signer returned.
fn with_signed<'a>(
    given: &[(&'a str, &'a str)],
    signed: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut h = given.to_vec();
    h.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    h
}

const VECTOR_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=56d8bbcf1736acb0406130933210476d5d968106ecd9b703fedbb2de5ba5c246";

#[test]
fn reference_1_6_7_header_vector() {
    let key = signing_key(SECRET, "20250315", "us-east-1", "sts");
    assert_eq!(
        hex::encode(key),
        "e3ac0f5f60e5dc0daa4ce36bfc2c493b186232223598c9f14fdf6e0765cd4932"
    );
    let headers = [
        ("Host", HOST),
        ("Content-Type", CT),
        ("X-Amz-Date", "20250315T120000Z"),
        ("Authorization", VECTOR_AUTH),
    ];
    let req = post(&headers, BODY);
    let auth = parse(&req).unwrap().unwrap();
    assert_eq!(
        canonical_request_for(&auth, &req).unwrap(),
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:stsd.example.test:8443\nx-amz-date:20250315T120000Z\n\ncontent-type;host;x-amz-date\nab821ae955788b0e33ebd34c208442ccfc2d406e2edc5e7a39bd6458fbb4f843"
    );
    assert_eq!(
        string_to_sign_for(&auth, &req).unwrap(),
        "AWS4-HMAC-SHA256\n20250315T120000Z\n20250315/us-east-1/sts/aws4_request\nafdb32a6cf8da881e82deb97b3d710ef5a81a029fbb08ccbaf14d4318490aaa5"
    );
    verify_full(&req, SECRET, T, "sts").unwrap();
    // Our signer produces the same Authorization header.
    let out = sign_request(&params(&[("content-type", CT)], BODY)).unwrap();
    assert_eq!(
        out,
        [
            ("x-amz-date".to_string(), "20250315T120000Z".to_string()),
            ("authorization".to_string(), VECTOR_AUTH.to_string())
        ]
    );
}

const PRESIGNED_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIABTX3GSDSQCODWEHH%2F20250315%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20250315T120000Z&X-Amz-Expires=60&X-Amz-Security-Token=IQoFAKEsessionTOKEN%2B%2F%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=8ddf618c94dae82a361aed154b97bcad1a253b84a483fac6dc3698205c916776";

#[test]
fn reference_1_6_7_presigned_vector() {
    let headers = [("host", HOST)];
    let req = HttpRequest {
        method: "GET",
        path: "/",
        query: PRESIGNED_QUERY,
        headers: &headers,
        body: b"",
    };
    let auth = parse(&req).unwrap().unwrap();
    assert_eq!(
        auth.security_token.as_deref(),
        Some("IQoFAKEsessionTOKEN+/=")
    );
    assert_eq!(auth.form, SignatureForm::Presigned { expires_secs: 60 });
    let canonical = canonical_request_for(&auth, &req).unwrap();
    assert_eq!(
        canonical.lines().nth(2),
        Some(
            "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIABTX3GSDSQCODWEHH%2F20250315%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20250315T120000Z&X-Amz-Expires=60&X-Amz-Security-Token=IQoFAKEsessionTOKEN%2B%2F%3D&X-Amz-SignedHeaders=host"
        )
    );
    assert!(canonical.ends_with(&format!("\nhost:{HOST}\n\nhost\n{EMPTY_SHA256}")));
    verify_full(&req, SECRET, T + 30, "sts").unwrap();
    // Expired after 60 s.
    let e = verify_full(&req, SECRET, T + 61, "sts").unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    assert!(e.to_string().starts_with("Signature expired"), "{e}");
    // The signer reproduces it.
    let q = presign_url_query(
        &SigningParams {
            method: "GET",
            query: "Action=GetCallerIdentity&Version=2011-06-15",
            body: b"",
            access_key_id: "ASIABTX3GSDSQCODWEHH",
            session_token: Some("IQoFAKEsessionTOKEN+/="),
            ..params(&[], b"")
        },
        60,
    )
    .unwrap();
    assert!(
        q.ends_with(
            "X-Amz-Signature=8ddf618c94dae82a361aed154b97bcad1a253b84a483fac6dc3698205c916776"
        ),
        "{q}"
    );
}

#[test]
fn reference_1_5_presigned_url_checked_with_the_method_received() {
    // boto/boto3#756: a URL presigned for POST and fetched with GET fails, as on AWS.
    let headers = [("host", HOST)];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: PRESIGNED_QUERY,
        headers: &headers,
        body: b"",
    };
    let e = verify_full(&req, SECRET, T, "sts").unwrap_err();
    assert_eq!(e.to_string(), SIGNATURE_MISMATCH_MESSAGE);
}

/// A request of `wire-examples.md` in HTTP/1.1 text form.
struct WireRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn parse_http(text: &str) -> WireRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let target = request_line.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_string(), v.trim().to_string())
        })
        .collect();
    WireRequest {
        method,
        path: path.into(),
        query: query.into(),
        headers,
        body: body.to_string(),
    }
}

#[test]
fn wire_examples_every_signed_request_verifies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire_examples");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 16, "{names:?}");
    for name in names {
        let w = parse_http(&fs::read_to_string(dir.join(&name)).unwrap());
        if let Some((_, len)) = w.headers.iter().find(|(k, _)| k == "Content-Length") {
            assert_eq!(
                len.parse::<usize>().unwrap(),
                w.body.len(),
                "{name}: body extracted exactly"
            );
        }
        let headers: Vec<(&str, &str)> = w
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = HttpRequest {
            method: &w.method,
            path: &w.path,
            query: &w.query,
            headers: &headers,
            body: w.body.as_bytes(),
        };
        let auth = parse(&req).unwrap().unwrap();
        let service = auth.credential.service.clone();
        let result = verify_full(&req, SECRET, T, &service);
        if name.contains("signaturedoesnotmatch") {
            // §14: signed with a wrong secret.
            assert_eq!(
                result.unwrap_err().to_string(),
                SIGNATURE_MISMATCH_MESSAGE,
                "{name}"
            );
        } else {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
            // A one-byte change of the body fails.
            let mut body = w.body.clone().into_bytes();
            if let Some(b) = body.last_mut() {
                *b ^= 1;
                let changed = HttpRequest { body: &body, ..req };
                assert_eq!(
                    verify_full(&changed, SECRET, T, &service)
                        .unwrap_err()
                        .code(),
                    "SignatureDoesNotMatch",
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn reference_1_6_3_scope_and_1_6_8_clock_errors() {
    let sign = |region: &str, service: &str, at: i64| {
        sign_request(&SigningParams {
            region,
            service,
            timestamp: at,
            ..params(&[("content-type", CT)], BODY)
        })
        .unwrap()
    };
    let check = |signed: Vec<(String, String)>, now: i64, service: &str| {
        let h = with_signed(&[("host", HOST), ("content-type", CT)], &signed);
        verify_full(&post(&h, BODY), SECRET, now, service)
    };
    // Any region is accepted (clients sign with their configured region).
    check(sign("mars-1", "sts", T), T, "sts").unwrap();
    let e = check(sign("us-east-1", "iam", T), T, "sts").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Credential should be scoped to correct service: 'sts'."
    );
    assert_eq!(e.http_status(), 403);
    let e = check(sign("us-east-1", "sts", T), T + 16 * 60, "sts").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Signature expired: 20250315T120000Z is now earlier than 20250315T120100Z (20250315T121600Z - 15 min.)"
    );
    let e = check(sign("us-east-1", "sts", T), T - 16 * 60, "sts").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Signature not yet current: 20250315T120000Z is still later than 20250315T115900Z (20250315T114400Z + 15 min.)"
    );
    check(sign("us-east-1", "sts", T), T + 15 * 60, "sts").unwrap();
    check(sign("us-east-1", "sts", T), T - 15 * 60, "sts").unwrap();
}

#[test]
fn reference_1_6_1_both_forms_or_repeated_authorization_are_incomplete() {
    let h = [
        ("host", HOST),
        ("x-amz-date", "20250315T120000Z"),
        ("authorization", VECTOR_AUTH),
    ];
    let req = HttpRequest {
        method: "GET",
        path: "/",
        query: PRESIGNED_QUERY,
        headers: &h,
        body: b"",
    };
    let e = parse(&req).unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("IncompleteSignature", 400));
    let h = [
        ("host", HOST),
        ("x-amz-date", "20250315T120000Z"),
        ("authorization", VECTOR_AUTH),
        ("Authorization", VECTOR_AUTH),
    ];
    assert_eq!(
        parse(&post(&h, BODY)).unwrap_err().code(),
        "IncompleteSignature"
    );
    // Unsigned: the server decides.
    assert!(parse(&post(&[("host", HOST)], BODY)).unwrap().is_none());
    // X-Amz-Date alone is not a signature.
    let req = HttpRequest {
        query: "X-Amz-Date=20250315T120000Z",
        ..post(&[("host", HOST)], BODY)
    };
    assert!(parse(&req).unwrap().is_none());
}

#[test]
fn reference_1_6_10_sigv4a_is_incomplete() {
    let h = [
        ("host", HOST),
        ("x-amz-date", "20250315T120000Z"),
        ("x-amz-region-set", "*"),
        (
            "authorization",
            "AWS4-ECDSA-P256-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=3045022100",
        ),
    ];
    let e = parse(&post(&h, BODY)).unwrap_err();
    assert_eq!(e.code(), "IncompleteSignature");
    assert!(e.to_string().contains("SigV4a"), "{e}");
}

#[test]
fn reference_1_6_2_required_signed_headers() {
    let sig = |signed: &str, headers: &[(&str, &str)]| -> Result<(), SigV4Error> {
        // Sign exactly `signed` by hand, then verify.
        let names: Vec<String> = signed.split(';').map(String::from).collect();
        // A signed header missing from the request: any signature will do.
        let canonical = canonical_request("POST", "/", "", headers, &names, &hash_body(BODY))
            .unwrap_or_default();
        let sts = string_to_sign(
            "20250315T120000Z",
            "20250315/us-east-1/sts/aws4_request",
            &canonical,
        );
        let s = signature(&signing_key(SECRET, "20250315", "us-east-1", "sts"), &sts);
        let authz = format!(
            "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders={signed}, Signature={s}"
        );
        let mut h = headers.to_vec();
        h.push(("authorization", &authz));
        verify_full(&post(&h, BODY), SECRET, T, "sts")
    };
    let base = [("host", HOST), ("x-amz-date", "20250315T120000Z")];
    sig("host;x-amz-date", &base).unwrap();
    assert_eq!(
        sig("x-amz-date", &base).unwrap_err().to_string(),
        "'Host' must be a signed header."
    );
    assert_eq!(
        sig("host", &base).unwrap_err().to_string(),
        "'X-Amz-Date' must be a signed header."
    );
    // Every other x-amz-* header present must be signed...
    let extra = [
        ("host", HOST),
        ("x-amz-date", "20250315T120000Z"),
        ("X-Amz-Target", "x"),
    ];
    assert_eq!(
        sig("host;x-amz-date", &extra).unwrap_err().to_string(),
        "Header 'x-amz-target' must be a signed header."
    );
    sig("host;x-amz-date;x-amz-target", &extra).unwrap();
    // ...except the session token (signed or not, reference §1.6.5).
    let token = [
        ("host", HOST),
        ("x-amz-date", "20250315T120000Z"),
        ("x-amz-security-token", "tok"),
    ];
    sig("host;x-amz-date", &token).unwrap();
    sig("host;x-amz-date;x-amz-security-token", &token).unwrap();
    // Unsigned non-amz headers (user-agent, amz-sdk-*) are fine.
    let ua = [
        ("host", HOST),
        ("x-amz-date", "20250315T120000Z"),
        ("user-agent", "aws-cli/2"),
        ("amz-sdk-request", "attempt=1"),
    ];
    sig("host;x-amz-date", &ua).unwrap();
    // A signed header missing from the request.
    let e = sig("content-type;host;x-amz-date", &base).unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    // With only a Date header, x-amz-date need not be signed.
    let dated = [("host", HOST), ("date", "Sat, 15 Mar 2025 12:00:00 GMT")];
    sig("date;host", &dated).unwrap();
    sig("host", &dated).unwrap();
}

#[test]
fn reference_1_6_2_header_values_trimmed_collapsed_and_joined() {
    let given = [
        ("content-type", CT),
        ("x-custom", "  a   b  "),
        ("X-Custom", "c"),
    ];
    let out = sign_request(&params(&given, BODY)).unwrap();
    // Received with different spacing: same canonical value.
    let received = [
        ("Host", HOST),
        ("Content-Type", CT),
        ("X-Custom", "a b"),
        ("x-custom", "   c "),
    ];
    let h = with_signed(&received, &out);
    verify_full(&post(&h, BODY), SECRET, T, "sts").unwrap();
    // Reordering repeated values changes the signature.
    let swapped = [
        ("Host", HOST),
        ("Content-Type", CT),
        ("x-custom", "c"),
        ("X-Custom", "a b"),
    ];
    let h = with_signed(&swapped, &out);
    assert!(verify_full(&post(&h, BODY), SECRET, T, "sts").is_err());
}

#[test]
fn reference_1_6_2_content_sha256() {
    // UNSIGNED-PAYLOAD, signed: the marker is used and the body is not checked.
    let given = [
        ("content-type", CT),
        ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
    ];
    let out = sign_request(&params(&given, BODY)).unwrap();
    let mut received = vec![("host", HOST)];
    received.extend_from_slice(&given);
    let h = with_signed(&received, &out);
    verify_full(&post(&h, b"anything at all"), SECRET, T, "sts").unwrap();
    // A real hash must be the body's.
    let good = hash_body(BODY);
    let given = [
        ("content-type", CT),
        ("x-amz-content-sha256", good.as_str()),
    ];
    let out = sign_request(&params(&given, BODY)).unwrap();
    let mut received = vec![("host", HOST)];
    received.extend_from_slice(&given);
    let h = with_signed(&received, &out);
    verify_full(&post(&h, BODY), SECRET, T, "sts").unwrap();
    let e = verify_full(
        &post(&h, b"Action=GetCallerIdentity&Version=2011-06-16"),
        SECRET,
        T,
        "sts",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
    // A declared hash that is not the body's, even if signed.
    let wrong = "0".repeat(64);
    let given = [
        ("content-type", CT),
        ("x-amz-content-sha256", wrong.as_str()),
    ];
    let out = sign_request(&params(&given, BODY)).unwrap();
    let mut received = vec![("host", HOST)];
    received.extend_from_slice(&given);
    let h = with_signed(&received, &out);
    assert_eq!(
        verify_full(&post(&h, BODY), SECRET, T, "sts")
            .unwrap_err()
            .code(),
        "SignatureDoesNotMatch"
    );
    // STREAMING-* is S3 only.
    let given = [("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")];
    let out = sign_request(&params(&given, BODY)).unwrap();
    let mut received = vec![("host", HOST)];
    received.extend_from_slice(&given);
    let h = with_signed(&received, &out);
    assert_eq!(
        verify_full(&post(&h, BODY), SECRET, T, "sts")
            .unwrap_err()
            .code(),
        "IncompleteSignature"
    );
}

#[test]
fn reference_1_6_4_signature_compared_exactly() {
    let upper = VECTOR_AUTH.replace(
        "56d8bbcf1736acb0406130933210476d5d968106ecd9b703fedbb2de5ba5c246",
        "56D8BBCF1736ACB0406130933210476D5D968106ECD9B703FEDBB2DE5BA5C246",
    );
    let short = VECTOR_AUTH.replace("c246", "c24");
    for authz in [upper.as_str(), short.as_str()] {
        let h = [
            ("Host", HOST),
            ("Content-Type", CT),
            ("X-Amz-Date", "20250315T120000Z"),
            ("Authorization", authz),
        ];
        assert_eq!(
            verify_full(&post(&h, BODY), SECRET, T, "sts")
                .unwrap_err()
                .to_string(),
            SIGNATURE_MISMATCH_MESSAGE
        );
    }
}

#[test]
fn reference_1_6_6_presigned_with_extra_signed_header() {
    // EKS-style tokens sign `host;x-k8s-aws-id`; the header must then be present.
    let p = SigningParams {
        method: "GET",
        query: "Action=GetCallerIdentity&Version=2011-06-15",
        headers: &[("x-k8s-aws-id", "my-cluster")],
        body: b"",
        ..params(&[], b"")
    };
    let q = presign_url_query(&p, 60).unwrap();
    assert!(q.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"), "{q}");
    let req = |headers| HttpRequest {
        method: "GET",
        path: "/",
        query: &q,
        headers,
        body: b"",
    };
    verify_full(
        &req(&[("host", HOST), ("x-k8s-aws-id", "my-cluster")]),
        SECRET,
        T,
        "sts",
    )
    .unwrap();
    assert!(verify_full(&req(&[("host", HOST)]), SECRET, T, "sts").is_err());
    assert!(
        verify_full(
            &req(&[("host", HOST), ("x-k8s-aws-id", "other")]),
            SECRET,
            T,
            "sts"
        )
        .is_err()
    );
    // Capped by the server's maximum.
    let long = presign_url_query(&p, 604_800).unwrap();
    let r = HttpRequest {
        query: &long,
        ..req(&[("host", HOST), ("x-k8s-aws-id", "my-cluster")])
    };
    let auth = parse(&r).unwrap().unwrap();
    assert!(check_scope_and_time(&auth, "sts", T + 901, 900).is_err());
    check_scope_and_time(&auth, "sts", T + 901, 604_800).unwrap();
}

#[test]
fn reference_1_6_1_date_header_fallback() {
    let headers = [("Host", HOST), ("Date", "Sat, 15 Mar 2025 12:00:00 GMT")];
    let names = vec!["date".to_string(), "host".to_string()];
    let canonical = canonical_request("POST", "/", "", &headers, &names, &hash_body(BODY)).unwrap();
    let sts = string_to_sign(
        "20250315T120000Z",
        "20250315/us-east-1/sts/aws4_request",
        &canonical,
    );
    let s = signature(&signing_key(SECRET, "20250315", "us-east-1", "sts"), &sts);
    let authz = format!(
        "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders=date;host, Signature={s}"
    );
    let mut h = headers.to_vec();
    h.push(("Authorization", &authz));
    verify_full(&post(&h, BODY), SECRET, T, "sts").unwrap();
    assert!(verify_full(&post(&h, BODY), SECRET, T + 901, "sts").is_err());
}

#[test]
fn signer_owns_host_date_token_and_authorization() {
    let given = [
        ("Host", "evil"),
        ("X-Amz-Date", "19700101T000000Z"),
        ("authorization", "x"),
        ("content-type", CT),
    ];
    let out = sign_request(&SigningParams {
        session_token: Some("tok"),
        ..params(&given, BODY)
    })
    .unwrap();
    let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["x-amz-date", "x-amz-security-token", "authorization"]
    );
    assert!(
        out[2]
            .1
            .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,")
    );
    let h = with_signed(&[("host", HOST), ("content-type", CT)], &out);
    verify_full(&post(&h, BODY), SECRET, T, "sts").unwrap();
    // Header names the verifier would refuse are refused when signing.
    assert!(sign_request(&params(&[("bad name", "x")], BODY)).is_err());
}
