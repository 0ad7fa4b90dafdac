//! The SAML parsing paths on arbitrary input: the AssumeRoleWithSAML response path (base64 and raw XML
//! wrapped in base64) and the metadata parser must return a value or an error, never panic and never
//! overflow the stack.
//!
//! Every input runs on a thread with a 256 KiB stack, so a parser that recurses per nesting level fails here
//! long before it would on a server thread. Besides the raw input, the target builds a deeply nested document
//! from it: the first two bytes give a repeat count (up to 20,000), the rest is the unit repeated (e.g. `<a>`).
#![no_main]

use libfuzzer_sys::fuzz_target;

const SMALL_STACK: usize = 256 * 1024;
const MAX_DOC: usize = 100_000;

fn check(text: &str) {
    let _ = stsd::saml::verify_response(text, &[], "https://idp.example.test", 0);
    let b64 = data_encoding::BASE64.encode(text.as_bytes());
    let _ = stsd::saml::verify_response(&b64, &[], "https://idp.example.test", 0);
    let _ = stsd::saml::parse_metadata(text);
}

fn run(data: &[u8]) {
    check(&String::from_utf8_lossy(data));
    if let [hi, lo, unit @ ..] = data {
        if !unit.is_empty() {
            let n = usize::from(u16::from_be_bytes([*hi, *lo])) % 20_000;
            let n = n.min(MAX_DOC / unit.len());
            check(&String::from_utf8_lossy(&unit.repeat(n)));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    let worker = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || run(&data))
        .expect("spawn fuzz worker");
    if worker.join().is_err() {
        panic!("the SAML parsers panicked");
    }
});
