//! The SAML parsing paths on arbitrary input: the AssumeRoleWithSAML response path (base64 and raw XML
//! wrapped in base64) and the metadata parser must return a value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = stsd::saml::verify_response(&text, &[], "https://idp.example.test", 0);
    let b64 = data_encoding::BASE64.encode(data);
    let _ = stsd::saml::verify_response(&b64, &[], "https://idp.example.test", 0);
    let _ = stsd::saml::parse_metadata(&text);
});
