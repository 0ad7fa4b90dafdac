//! Untrusted request bytes through the whole verifier: `parse`, `check_scope_and_time`, `verify` and the
//! canonicalization helpers must never panic. Then a sign→verify round trip on the same parts must pass.
//!
//! Input layout (lossy UTF-8): `METHOD\nPATH\nQUERY\nName:value\n...\n\nBODY`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn split(data: &[u8]) -> (String, Vec<u8>) {
    match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            data[i + 2..].to_vec(),
        ),
        None => (String::from_utf8_lossy(data).into_owned(), Vec::new()),
    }
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = split(data);
    let mut lines = head.split('\n');
    let method = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("");
    let query = lines.next().unwrap_or("");
    let headers: Vec<(&str, &str)> = lines
        .take(64)
        .map(|l| l.split_once(':').unwrap_or((l, "")))
        .collect();
    let req = sigv4::HttpRequest {
        method,
        path,
        query,
        headers: &headers,
        body: &body,
    };

    // Never panics, whatever the input.
    if let Ok(Some(auth)) = sigv4::parse(&req) {
        let _ = sigv4::check_scope_and_time(&auth, "sts", auth.timestamp, 900);
        let _ = sigv4::check_scope_and_time(&auth, "iam", i64::MAX, u64::MAX);
        let _ = sigv4::check_scope_and_time(&auth, "iam", i64::MIN, 0);
        let _ = sigv4::canonical_request_for(&auth, &req);
        let c = &auth.credential;
        let key = sigv4::signing_key("secret", &c.date, &c.region, &c.service);
        let _ = sigv4::verify(&auth, &req, &key);
    }
    let _ = sigv4::canonical_query(query, true);
    let _ = sigv4::canonical_uri(path);
    let _ = sigv4::parse_amz_date(query);
    let _ = sigv4::parse_http_date(query);

    // Round trip: sign the same parts with our signer, then verify. Only for inputs a real client could
    // send: a token method, plain lower-case header names the signer does not own, a host.
    let plain = |n: &str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && !n.starts_with("x-amz-")
            && !matches!(n, "host" | "authorization" | "date")
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok || !headers.iter().all(|(k, _)| plain(k)) || query.contains("X-Amz-") {
        return;
    }
    let Ok(signed) = sigv4::sign_request(&sigv4::SigningParams {
        method,
        host: "fuzz.example:1",
        path,
        query,
        headers: &headers,
        body: &body,
        access_key_id: "AKIAFUZZ",
        secret_access_key: "secret",
        session_token: Some("token"),
        region: "us-east-1",
        service: "sts",
        timestamp: 1_742_040_000,
    }) else {
        return; // e.g. an undecodable query
    };
    let mut all = headers.clone();
    all.push(("host", "fuzz.example:1"));
    all.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let req = sigv4::HttpRequest {
        headers: &all,
        ..req
    };
    let auth = sigv4::parse(&req).ok().flatten().expect("our signature parses");
    sigv4::check_scope_and_time(&auth, "sts", 1_742_040_000, 900).expect("scope");
    let key = sigv4::signing_key("secret", "20250315", "us-east-1", "sts");
    sigv4::verify(&auth, &req, &key).expect("round trip verifies");
});
