//! Criterion benchmark of verifying a request (issue #14): `cargo bench -p sigv4`.
//!
//! * `verify/assume_role_header`: parse the `Authorization` header of a signed AssumeRole POST and verify its
//!   signature with a cached signing key (what stsd does for every request once the key is cached).
//! * `verify/signing_key`: derive the signing key (what a cache miss adds).
#![expect(
    clippy::unwrap_used,
    reason = "bench code: a failed unwrap fails the bench"
)]
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sigv4::{HttpRequest, SigningParams, parse, sign_request, signing_key, verify};

fn bench(c: &mut Criterion) {
    let body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fbench-role&RoleSessionName=bench-session";
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let extra = [(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )];
    let signed = sign_request(&SigningParams {
        method: "POST",
        host: "127.0.0.1:8556",
        path: "/",
        query: "",
        headers: &extra,
        body,
        access_key_id: "AKIAEXAMPLEEXAMPLE01",
        secret_access_key: secret,
        session_token: None,
        region: "us-east-1",
        service: "sts",
        timestamp: 1_700_000_000,
    })
    .unwrap();
    let mut headers: Vec<(&str, &str)> = vec![("host", "127.0.0.1:8556"), extra[0]];
    headers.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let key = signing_key(secret, "20231114", "us-east-1", "sts");
    let mut g = c.benchmark_group("verify");
    g.bench_function("assume_role_header", |b| {
        b.iter(|| {
            let auth = parse(black_box(&req)).unwrap().unwrap();
            verify(&auth, &req, &key).unwrap();
        });
    });
    g.bench_function("signing_key", |b| {
        b.iter(|| signing_key(black_box(secret), "20231114", "us-east-1", "sts"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
