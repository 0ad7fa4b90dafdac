//! Any input: parsing never panics, and whatever parses serialises to a document that parses
//! back to an equal policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Policy, PolicyKind};

const KINDS: [PolicyKind; 6] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Boundary,
    PolicyKind::Session,
    PolicyKind::Scp,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        match Policy::parse_with_limit(text, kind, usize::MAX) {
            Ok(p) => {
                let json = p.to_json();
                let again = Policy::parse_with_limit(&json, kind, usize::MAX)
                    .unwrap_or_else(|e| panic!("canonical form rejected: {e}\n{json}"));
                assert_eq!(again, p, "round trip changed the policy");
                let _ = p.context_keys().count();
                let _ = p.principal_arns().count();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
