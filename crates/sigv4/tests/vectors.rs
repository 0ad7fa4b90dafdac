//! The worked vectors of the reference (§1.6.7, computed with botocore) and the wire examples, plus
//! sign→verify round trips and tamper checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use sigv4::*;

const SECRET: &str = "Zx9Tq4LmN8vB2cR7hJ5kW3pY6sD1fG0aE4uI8oPq";
const T: i64 = 1_742_040_000; // 20250315T120000Z
const CT: &str = "application/x-www-form-urlencoded; charset=utf-8";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

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

#[test]
fn reference_1_6_7_header_vector() {
    let key = signing_key(SECRET, "20250315", "us-east-1", "sts");
    assert_eq!(
        hex::encode(key),
        "e3ac0f5f60e5dc0daa4ce36bfc2c493b186232223598c9f14fdf6e0765cd4932"
    );
    let headers = [
        ("Host", "stsd.example.test:8443"),
        ("Content-Type", CT),
        ("X-Amz-Date", "20250315T120000Z"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=56d8bbcf1736acb0406130933210476d5d968106ecd9b703fedbb2de5ba5c246"),
    ];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: BODY,
    };
    verify_full(&req, SECRET, T, "sts").unwrap();
    // Our signer produces the same signature.
    let out = sign_request(&SigningParams {
        method: "POST",
        host: "stsd.example.test:8443",
        path: "/",
        query: "",
        headers: &[("content-type", CT)],
        body: BODY,
        access_key_id: "AKIABTX3GSDSQBHCDE22",
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "sts",
        timestamp: T,
    })
    .unwrap();
    let auth = out.iter().find(|(k, _)| k == "authorization").unwrap();
    assert!(
        auth.1.ends_with(
            "Signature=56d8bbcf1736acb0406130933210476d5d968106ecd9b703fedbb2de5ba5c246"
        ),
        "{}",
        auth.1
    );
}

#[test]
fn reference_1_6_7_presigned_vector() {
    let query = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIABTX3GSDSQCODWEHH%2F20250315%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20250315T120000Z&X-Amz-Expires=60&X-Amz-Security-Token=IQoFAKEsessionTOKEN%2B%2F%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=8ddf618c94dae82a361aed154b97bcad1a253b84a483fac6dc3698205c916776";
    let headers = [("host", "stsd.example.test:8443")];
    let req = HttpRequest {
        method: "GET",
        path: "/",
        query,
        headers: &headers,
        body: b"",
    };
    let auth = parse(&req).unwrap().unwrap();
    assert_eq!(
        auth.security_token.as_deref(),
        Some("IQoFAKEsessionTOKEN+/=")
    );
    assert_eq!(auth.form, SignatureForm::Presigned { expires_secs: 60 });
    verify_full(&req, SECRET, T + 30, "sts").unwrap();
    // Expired after 60 s.
    let e = verify_full(&req, SECRET, T + 61, "sts").unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    // The signer reproduces it.
    let q = presign_url_query(
        &SigningParams {
            method: "GET",
            host: "stsd.example.test:8443",
            path: "/",
            query: "Action=GetCallerIdentity&Version=2011-06-15",
            headers: &[],
            body: b"",
            access_key_id: "ASIABTX3GSDSQCODWEHH",
            secret_access_key: SECRET,
            session_token: Some("IQoFAKEsessionTOKEN+/="),
            region: "us-east-1",
            service: "sts",
            timestamp: T,
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
fn wire_examples_with_security_token_and_iam_scope() {
    // wire-examples.md §6: temporary credentials, x-amz-security-token signed.
    let headers = [
        ("Host", "stsd.example.test:8443"),
        ("Content-Type", CT),
        ("X-Amz-Date", "20250315T120000Z"),
        ("X-Amz-Security-Token", "IQoFAKEsessionTOKENforAssumedRoleDemo0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH+/="),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=ASIABTX3GSDSQCODWEHH/20250315/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=a5c55f95a8145f80af0dcaec31a59b1a38bde663582adca8157b20e0d9fcf036"),
    ];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: BODY,
    };
    verify_full(&req, SECRET, T, "sts").unwrap();
    // §14: wrong secret.
    let headers = [
        ("Host", "stsd.example.test:8443"),
        ("Content-Type", CT),
        ("X-Amz-Date", "20250315T120000Z"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=9ae8d8068c49cffe7ef573c2f3ddc95e80213410e15819912e3867b7eb516c7b"),
    ];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: BODY,
    };
    assert_eq!(
        verify_full(&req, SECRET, T, "sts").unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn scope_and_clock_errors() {
    let sign = |region: &str, service: &str, at: i64| {
        sign_request(&SigningParams {
            method: "POST",
            host: "h:1",
            path: "/",
            query: "",
            headers: &[("content-type", CT)],
            body: BODY,
            access_key_id: "AKIABTX3GSDSQBHCDE22",
            secret_access_key: SECRET,
            session_token: None,
            region,
            service,
            timestamp: at,
        })
        .unwrap()
    };
    let check = |signed: Vec<(String, String)>, now: i64, service: &str| {
        let mut h: Vec<(&str, &str)> = vec![("host", "h:1"), ("content-type", CT)];
        h.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let req = HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: BODY,
        };
        verify_full(&req, SECRET, now, service)
    };
    check(sign("mars-1", "sts", T), T, "sts").unwrap();
    let e = check(sign("us-east-1", "iam", T), T, "sts").unwrap_err();
    assert!(e.to_string().contains("correct service: 'sts'"), "{e}");
    let e = check(sign("us-east-1", "sts", T), T + 16 * 60, "sts").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Signature expired: 20250315T120000Z is now earlier than"),
        "{e}"
    );
    let e = check(sign("us-east-1", "sts", T), T - 16 * 60, "sts").unwrap_err();
    assert!(
        e.to_string().starts_with("Signature not yet current"),
        "{e}"
    );
    check(sign("us-east-1", "sts", T), T + 14 * 60, "sts").unwrap();
}

#[test]
fn malformed_headers() {
    let cases = [
        "AWS4-HMAC-SHA256 Credential=AKIA/20250315/us-east-1/sts/aws4_request",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00",
        "AWS4-ECDSA-P256-SHA256 Credential=AKIA/20250315/sts/aws4_request, SignedHeaders=host, Signature=00",
        "AWS AKIA:abc",
    ];
    for c in cases {
        let h = [
            ("host", "h"),
            ("x-amz-date", "20250315T120000Z"),
            ("authorization", c),
        ];
        let req = HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        assert_eq!(
            parse(&req).unwrap_err().code(),
            "IncompleteSignature",
            "{c}"
        );
    }
    // No date at all.
    let h = [("host", "h"), ("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20250315/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &h,
        body: b"",
    };
    assert_eq!(parse(&req).unwrap_err().code(), "IncompleteSignature");
    // Both forms.
    let h = [
        ("host", "h"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        ),
    ];
    let req = HttpRequest {
        method: "GET",
        path: "/",
        query: "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        headers: &h,
        body: b"",
    };
    assert_eq!(parse(&req).unwrap_err().code(), "IncompleteSignature");
    // Unsigned.
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &[("host", "h")],
        body: b"",
    };
    assert!(parse(&req).unwrap().is_none());
}

#[test]
fn content_sha256_rules() {
    let sign_with = |sha: &str, body: &[u8]| {
        sign_request(&SigningParams {
            method: "POST",
            host: "h",
            path: "/",
            query: "",
            headers: &[("content-type", CT), ("x-amz-content-sha256", sha)],
            body,
            access_key_id: "AKIABTX3GSDSQBHCDE22",
            secret_access_key: SECRET,
            session_token: None,
            region: "us-east-1",
            service: "sts",
            timestamp: T,
        })
        .unwrap()
    };
    // The signer always hashes the body; build the UNSIGNED-PAYLOAD canonical request by hand instead.
    let headers = [
        ("content-type", CT),
        ("host", "h"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-date", "20250315T120000Z"),
    ];
    let signed: Vec<String> = headers.iter().map(|(k, _)| k.to_string()).collect();
    let canon = canonical_request("POST", "/", "", &headers, &signed, "UNSIGNED-PAYLOAD").unwrap();
    let sts = string_to_sign(
        "20250315T120000Z",
        "20250315/us-east-1/sts/aws4_request",
        &canon,
    );
    let sig = signature(&signing_key(SECRET, "20250315", "us-east-1", "sts"), &sts);
    let authz = format!("AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, SignedHeaders={}, Signature={sig}", signed.join(";"));
    let mut h = headers.to_vec();
    h.push(("authorization", &authz));
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &h,
        body: b"anything at all",
    };
    verify_full(&req, SECRET, T, "sts").unwrap();
    // A declared hash that is not the body's hash is refused.
    let wrong = "0".repeat(64);
    let out = sign_with(&wrong, BODY);
    let mut h: Vec<(&str, &str)> = vec![
        ("host", "h"),
        ("content-type", CT),
        ("x-amz-content-sha256", &wrong),
    ];
    h.extend(out.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &h,
        body: BODY,
    };
    assert_eq!(
        verify_full(&req, SECRET, T, "sts").unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics(auth in "\\PC{0,300}", query in "\\PC{0,300}", date in "\\PC{0,20}") {
        let h = [("authorization", auth.as_str()), ("x-amz-date", date.as_str()), ("host", "h")];
        let req = HttpRequest { method: "GET", path: "/", query: &query, headers: &h, body: b"" };
        if let Ok(Some(a)) = parse(&req) {
            let _ = check_scope_and_time(&a, "sts", T, 900);
            let _ = verify(&a, &req, &[0u8; 32]);
        }
    }

    #[test]
    fn sign_then_verify(body in proptest::collection::vec(any::<u8>(), 0..200), query in "[A-Za-z0-9=&%._~+-]{0,60}",
                        secret in "[A-Za-z0-9/+]{40}", region in "[a-z]{2}-[a-z]{4,9}-[1-9]", flip in 0usize..64) {
        let q = query.replace('%', "%25");
        let out = sign_request(&SigningParams {
            method: "POST", host: "example:9", path: "/", query: &q, headers: &[("content-type", CT)], body: &body,
            access_key_id: "AKIABTX3GSDSQBHCDE22", secret_access_key: &secret, session_token: Some("tok+/="),
            region: &region, service: "iam", timestamp: T,
        }).unwrap();
        let mut h: Vec<(&str, &str)> = vec![("host", "example:9"), ("content-type", CT)];
        h.extend(out.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let req = HttpRequest { method: "POST", path: "/", query: &q, headers: &h, body: &body };
        prop_assert!(verify_full(&req, &secret, T, "iam").is_ok());
        // Flipping one hex digit of the signature fails.
        let authz = out.iter().find(|(k, _)| k == "authorization").unwrap().1.clone();
        let pos = authz.len() - 64 + flip;
        let mut bytes = authz.into_bytes();
        bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bytes).unwrap();
        let mut h2: Vec<(&str, &str)> = h.iter().filter(|(k, _)| *k != "authorization").cloned().collect();
        h2.push(("authorization", &bad));
        let req = HttpRequest { method: "POST", path: "/", query: &q, headers: &h2, body: &body };
        prop_assert_eq!(verify_full(&req, &secret, T, "iam").unwrap_err().code(), "SignatureDoesNotMatch");
    }
}
