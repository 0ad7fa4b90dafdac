//! The web-identity paths on arbitrary input: JWT splitting, base64url/JSON decoding of header and claims,
//! algorithm selection and the claim checks, and the parsers of an issuer's discovery document and JWKS must
//! return a value or an error, never panic.
//!
//! Each input runs on a thread with a 256 KiB stack, so that unbounded recursion (deeply nested JSON) overflows
//! and crashes at the depths a CI-sized run reaches. Seeds, including deep nesting (20,000 levels of raw JSON,
//! tokens nested up to the 20,000-character limit): `seeds/jwt`.
//!
//! `cd crates/stsd/fuzz && mkdir -p corpus/jwt && cargo +nightly fuzz run jwt corpus/jwt seeds/jwt -- -max_total_time=60`
#![no_main]

use libfuzzer_sys::fuzz_target;

const STACK: usize = 256 * 1024;

fn check_token(token: &str) {
    if let Ok(u) = stsd::oidc::parse(token) {
        let _ = stsd::oidc::algorithm(&u.alg);
        let _ = stsd::oidc::check_times(&u.claims, 1_700_000_000);
        for name in ["aud", "amr", "sub", "azp", "iss"] {
            let _ = stsd::oidc::string_values(&u.claims, name);
        }
    }
}

fn check(data: &[u8]) {
    // The input as a token.
    check_token(&String::from_utf8_lossy(data));
    // The input as the JSON of a token's header and claims.
    let part = data_encoding::BASE64URL_NOPAD.encode(data);
    check_token(&format!("{part}.{part}.c2ln"));
    // The input as the issuer's documents.
    let _ = stsd::oidc::parse_discovery(data, true);
    let _ = stsd::oidc::parse_jwks(data);
}

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    let worker = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || check(&data));
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => panic!("cannot start the fuzz worker thread: {e}"),
    }
});
