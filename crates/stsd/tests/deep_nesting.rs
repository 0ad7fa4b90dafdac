//! The deep-nesting campaign (issue #17): every parser of untrusted structured input, fed documents nested
//! from just over its limit up to a million levels, on a thread with a 256 KiB stack — an eighth of what the
//! server's threads have. A parser that recursed once per level would overflow this stack long before a
//! server thread's; here each must return a clean refusal.
//!
//! Run alone with `cargo test -p stsd --test deep_nesting`. The end-to-end twin (`tests/e2e/test_robustness.py`)
//! sends the same shapes to the running server and checks it still answers.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]

const SMALL_STACK: usize = 256 * 1024;
/// Depths tried: just past stsd's XML limit (64) and serde_json's (128), then every order of magnitude.
const DEPTHS: &[usize] = &[65, 129, 1_000, 10_000, 100_000, 1_000_000];
/// serde_json accepts up to 128 levels: these are past it.
const JSON_DEPTHS: &[usize] = &[129, 1_000, 10_000, 100_000, 1_000_000];

fn on_small_stack(name: &str, f: impl FnOnce() + Send + 'static) {
    let worker = std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap();
    worker.join().unwrap_or_else(|_| panic!("{name} panicked"));
}

fn arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

fn elements(depth: usize) -> String {
    format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth))
}

fn b64url(s: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(s.as_bytes())
}

#[test]
fn saml_responses_and_metadata() {
    on_small_stack("saml", || {
        for &depth in DEPTHS {
            let doc = elements(depth);
            let b64 = data_encoding::BASE64.encode(doc.as_bytes());
            assert!(stsd::saml::verify_response(&b64, &[], "https://idp", 0).is_err());
            assert!(stsd::saml::parse_metadata(&doc).is_err());
            let md = format!(
                "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='e'>{doc}</md:EntityDescriptor>"
            );
            assert!(stsd::saml::parse_metadata(&md).is_err());
        }
    });
}

#[test]
fn policy_documents_of_every_kind() {
    use policy::PolicyKind::*;
    on_small_stack("policy", || {
        for &depth in DEPTHS {
            for doc in [arrays(depth), objects(depth)] {
                for kind in [Identity, Resource, Trust, Boundary, Session, Scp] {
                    assert!(policy::Policy::parse(&doc, kind).is_err());
                    assert!(policy::Policy::parse_with_limit(&doc, kind, usize::MAX).is_err());
                }
            }
        }
    });
}

#[test]
fn web_identity_tokens() {
    on_small_stack("jwt", || {
        let header = b64url(r#"{"alg":"RS256","kid":"k"}"#);
        let claims = b64url(r#"{"iss":"https://idp","sub":"s"}"#);
        for &depth in JSON_DEPTHS {
            for doc in [arrays(depth), objects(depth)] {
                let deep = b64url(&doc);
                assert!(stsd::oidc::parse(&format!("{deep}.{claims}.c2ln")).is_err());
                assert!(stsd::oidc::parse(&format!("{header}.{deep}.c2ln")).is_err());
            }
        }
    });
}

/// The JSON bodies stsd reads with serde_json (LookupEvents requests; OIDC discovery documents and JWKS)
/// stop at serde_json's recursion limit of 128.
#[test]
fn json_request_bodies() {
    on_small_stack("serde_json", || {
        for &depth in JSON_DEPTHS {
            for doc in [arrays(depth), objects(depth)] {
                assert!(serde_json::from_str::<serde_json::Value>(&doc).is_err());
            }
        }
    });
}

/// Query parameters are a flat map; the audit trail nests them by their dotted names only as deep as the
/// deepest operation.
#[test]
fn query_parameters_and_their_audit_record() {
    on_small_stack("query", || {
        for &depth in DEPTHS {
            let name = format!("Tags{}.Key", ".member.1".repeat(depth));
            let body = format!("Action=CreateUser&Version=2010-05-08&UserName=u&{name}=k");
            let params = stsd::protocol::query::Params::decode("", body.as_bytes()).unwrap();
            // CreateUser's tags are decoded by the generated wire layer (they were `validate::tags`).
            assert!(
                <stsd_wire::generated::iam::CreateUserRequest as stsd_wire::Input>::decode(&params)
                    .is_err()
            );
            let recorded = stsd::audit::event::request_parameters(&params);
            assert!(recorded.to_string().len() < 2_000);
        }
    });
}
