//! The web-identity token path on arbitrary input: JWT splitting, base64url/JSON decoding of header and
//! claims, algorithm selection and the claim checks must return a value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    if let Ok(u) = stsd::oidc::parse(&token) {
        let _ = stsd::oidc::algorithm(&u.alg);
        let _ = stsd::oidc::check_times(&u.claims, 1_700_000_000);
        for name in ["aud", "amr", "sub", "azp", "iss"] {
            let _ = stsd::oidc::string_values(&u.claims, name);
        }
    }
});
