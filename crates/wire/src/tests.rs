//! Tests of the generated layer as a whole: patterns, decoders, validators, encoders, and drift from the models.

use proptest::prelude::*;

use crate::generated::{iam, sts};
use crate::{Input, Output, Params};

#[test]
fn every_generated_pattern_compiles() {
    for check in iam::PATTERN_CHECKS.iter().chain(sts::PATTERN_CHECKS) {
        // A pattern that failed to compile would refuse everything, including this value that all accept
        // except the enum-like/number ones; calling it at least forces the compile.
        let _ = check("a");
    }
    for pat in [
        "[\\w+=,.@-]+",
        "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
        "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        "v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
    ] {
        assert!(
            crate::validate::compile(&translated(pat)).is_some(),
            "{pat}"
        );
    }
}

/// The generator's translation of the patterns used above, as they appear in the generated code.
fn translated(pat: &str) -> String {
    let w = pat.replace("\\w", "0-9A-Za-z_");
    format!("^(?:{w})$")
}

/// The models write supplementary-plane code points as `\u10000`..`\u10FFFF`; they must stay code points
/// (read as four-digit escapes they would refuse every character beyond the BMP and admit stray ones).
#[test]
fn supplementary_code_points_in_patterns() {
    let with = |arn: &str| {
        sts::AssumeRoleRequest::decode(&Params::from_pairs([
            ("RoleArn", arn),
            ("RoleSessionName", "s1"),
        ]))
    };
    assert!(with("arn:aws:iam::123456789012:role/x\u{1F600}").is_ok());
    assert!(with("arn:aws:iam::123456789012:role/x\u{10FFFF}").is_ok());
    let e = with("arn:aws:iam::123456789012:role/x\u{1}").unwrap_err();
    assert!(e.message.contains("at 'roleArn'"), "{}", e.message);
}

#[test]
fn names_paths_and_aliases() {
    let ok = Params::from_pairs([("UserName", "alice.smith@x"), ("Path", "/a/b/")]);
    let u = iam::CreateUserRequest::decode(&ok).unwrap();
    assert_eq!(u.user_name, "alice.smith@x");
    assert_eq!(u.path.as_deref(), Some("/a/b/"));
    assert_eq!(u.tags, None);

    let bad = Params::from_pairs([("UserName", "alice smith"), ("Path", "a/")]);
    let e = iam::CreateUserRequest::decode(&bad).unwrap_err();
    assert!(
        e.message.starts_with("2 validation errors detected: "),
        "{}",
        e.message
    );
    assert!(e.message.contains(
        "Value 'alice smith' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    ));
    assert!(e.message.contains("Value 'a/' at 'path'"));

    let missing = Params::from_pairs([]);
    let e = iam::CreateUserRequest::decode(&missing).unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    );

    for (alias, ok) in [
        ("my-alias", true),
        ("my--alias", false),
        ("-x1", false),
        ("ab", false),
    ] {
        let p = Params::from_pairs([("AccountAlias", alias)]);
        assert_eq!(
            iam::CreateAccountAliasRequest::decode(&p).is_ok(),
            ok,
            "{alias}"
        );
    }
}

#[test]
fn lists_of_structures_and_ranges() {
    let p = Params::from_pairs([
        ("UserName", "bob"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "a b"),
        ("Tags.member.2.Key", ""),
    ]);
    let e = iam::TagUserRequest::decode(&p).unwrap_err();
    // The empty key breaks both its length and its pattern; the missing value is a third violation.
    assert!(
        e.message.starts_with("3 validation errors detected"),
        "{}",
        e.message
    );
    assert!(e.message.contains("at 'tags.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"));
    assert!(e.message.contains("Value null at 'tags.member.value'"));

    let p = Params::from_pairs([("MaxItems", "0")]);
    let e = iam::ListUsersRequest::decode(&p).unwrap_err();
    assert!(e.message.contains("Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"));
    let p = Params::from_pairs([("MaxItems", "ten")]);
    let e = iam::ListUsersRequest::decode(&p).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid value for parameter maxItems, value: ten, type: int"
    );

    let p = Params::from_pairs([
        ("UserName", "bob"),
        ("TagKeys.member.1", "a"),
        ("TagKeys.member.2", "b"),
    ]);
    let u = iam::UntagUserRequest::decode(&p).unwrap();
    assert_eq!(u.tag_keys, vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn sensitive_members_are_marked() {
    assert_eq!(iam::AccessKey::SENSITIVE, &["SecretAccessKey"]);
    assert!(sts::Credentials::SENSITIVE.contains(&"SessionToken"));
    assert!(sts::Credentials::SENSITIVE.contains(&"SecretAccessKey"));
    assert!(iam::CreateLoginProfileRequest::SENSITIVE.contains(&"Password"));
    assert!(iam::VirtualMFADevice::SENSITIVE.contains(&"Base32StringSeed"));
    assert!(!iam::User::SENSITIVE.contains(&"UserName"));
}

#[test]
fn encodes_in_model_order_with_member_wrappers() {
    let out = iam::ListUserTagsResponse {
        tags: vec![
            iam::Tag {
                key: "a".into(),
                value: "<b>".into(),
            },
            iam::Tag {
                key: "c".into(),
                value: String::new(),
            },
        ],
        is_truncated: Some(false),
        marker: None,
    };
    assert_eq!(
        out.encode().unwrap(),
        "<Tags><member><Key>a</Key><Value>&lt;b&gt;</Value></member><member><Key>c</Key><Value></Value></member></Tags><IsTruncated>false</IsTruncated>"
    );
    let user = iam::User {
        path: Some("/".into()),
        user_name: Some("u".into()),
        user_id: "AIDA".into(),
        arn: "arn:aws:iam::1:user/u".into(),
        create_date: 0,
        ..Default::default()
    };
    let mut x = crate::xml::Xml::new();
    user.write(&mut x);
    assert_eq!(
        x.finish(),
        "<Path>/</Path><UserName>u</UserName><UserId>AIDA</UserId><Arn>arn:aws:iam::1:user/u</Arn><CreateDate>1970-01-01T00:00:00Z</CreateDate>"
    );
    assert_eq!(().encode(), None);
}

fn request_json<I: Input>(input: &I) -> String {
    let mut buf = Vec::new();
    input.write_audit(&mut buf);
    String::from_utf8(buf).unwrap()
}

fn response_json<O: Output>(output: &O) -> String {
    let mut buf = Vec::new();
    output.write_audit(&mut buf);
    String::from_utf8(buf).unwrap()
}

/// `requestParameters` of a decoded AssumeRole: CloudTrail names in sorted order (as the audit trail printed
/// the parameters before it read typed values), numbers as numbers, lists as arrays, the MFA code left out.
#[test]
fn assume_role_request_as_cloudtrail_json() {
    let p = Params::from_pairs([
        ("Action", "AssumeRole"),
        ("RoleArn", "arn:aws:iam::111122223333:role/r"),
        ("RoleSessionName", "sess"),
        ("DurationSeconds", "900"),
        ("Policy", "{\"Version\":\"2012-10-17\"}"),
        ("SerialNumber", "arn:aws:iam::111122223333:mfa/d"),
        ("TokenCode", "123456"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "blue"),
        ("Tags.member.2.Key", "env"),
        ("Tags.member.2.Value", ""),
        ("TransitiveTagKeys.member.1", "team"),
        (
            "PolicyArns.member.1.arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ),
    ]);
    let input = sts::AssumeRoleRequest::decode(&p).unwrap();
    assert_eq!(
        request_json(&input),
        r#"{"durationSeconds":900,"policy":"{\"Version\":\"2012-10-17\"}","policyArns":[{"arn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}],"roleArn":"arn:aws:iam::111122223333:role/r","roleSessionName":"sess","serialNumber":"arn:aws:iam::111122223333:mfa/d","tags":[{"key":"team","value":"blue"},{"key":"env","value":""}],"transitiveTagKeys":["team"]}"#
    );
    // No member given: `null`, as CloudTrail writes it.
    assert_eq!(request_json(&sts::GetCallerIdentityRequest {}), "null");
    assert_eq!(request_json(&iam::ListUsersRequest::default()), "null");
    // Booleans as booleans.
    let input = iam::CreatePolicyVersionRequest {
        policy_arn: "arn:aws:iam::1:policy/p".into(),
        policy_document: "{}".into(),
        set_as_default: Some(true),
    };
    assert_eq!(
        request_json(&input),
        r#"{"policyArn":"arn:aws:iam::1:policy/p","policyDocument":"{}","setAsDefault":true}"#
    );
}

/// `responseElements` of AssumeRole: the issued key ID and expiration, never the secret or the token.
#[test]
fn assume_role_response_as_cloudtrail_json() {
    let out = sts::AssumeRoleResponse {
        credentials: Some(sts::Credentials {
            access_key_id: "ASIAXYZ".into(),
            secret_access_key: "verysecretvalue".into(),
            session_token: "sessiontokenvalue".into(),
            expiration: 1_767_225_600,
        }),
        assumed_role_user: Some(sts::AssumedRoleUser {
            assumed_role_id: "AROAX:s".into(),
            arn: "arn:aws:sts::1:assumed-role/r/s".into(),
        }),
        packed_policy_size: Some(6),
        source_identity: Some("me".into()),
    };
    assert_eq!(
        response_json(&out),
        r#"{"assumedRoleUser":{"arn":"arn:aws:sts::1:assumed-role/r/s","assumedRoleId":"AROAX:s"},"credentials":{"accessKeyId":"ASIAXYZ","expiration":"2026-01-01T00:00:00Z"},"packedPolicySize":6,"sourceIdentity":"me"}"#
    );
    let mut secrets = Vec::new();
    out.visit_sensitive(&mut |s| secrets.push(s.to_string()));
    assert_eq!(secrets, ["verysecretvalue", "sessiontokenvalue"]);
    assert_eq!(response_json(&()), "null");
}

/// `responseElements` of CreateAccessKey: the key without its secret.
#[test]
fn create_access_key_response_without_the_secret() {
    let out = iam::CreateAccessKeyResponse {
        access_key: iam::AccessKey {
            user_name: Some("u".into()),
            access_key_id: "AKIAQ".into(),
            status: "Active".into(),
            secret_access_key: "verysecretvalue".into(),
            create_date: Some(0),
        },
    };
    assert_eq!(
        response_json(&out),
        r#"{"accessKey":{"accessKeyId":"AKIAQ","createDate":"1970-01-01T00:00:00Z","status":"Active","userName":"u"}}"#
    );
    let mut secrets = Vec::new();
    out.visit_sensitive(&mut |s| secrets.push(s.to_string()));
    assert_eq!(secrets, ["verysecretvalue"]);
}

/// Every member the generator marks sensitive is left out of the audit JSON: inputs with passwords, MFA codes,
/// assertions and tokens, outputs with seeds, secrets and decoded messages.
#[test]
fn sensitive_members_never_reach_audit_json() {
    const MARK: &str = "s3cr3t-value";
    let inputs = [
        request_json(&iam::ChangePasswordRequest {
            old_password: MARK.into(),
            new_password: MARK.into(),
        }),
        request_json(&iam::CreateLoginProfileRequest {
            user_name: Some("u".into()),
            password: Some(MARK.into()),
            password_reset_required: Some(true),
        }),
        request_json(&iam::EnableMFADeviceRequest {
            user_name: Some("u".into()),
            serial_number: "arn:aws:iam::1:mfa/d".into(),
            authentication_code1: MARK.into(),
            authentication_code2: MARK.into(),
        }),
        request_json(&sts::AssumeRoleWithWebIdentityRequest {
            role_arn: "arn:aws:iam::1:role/r".into(),
            role_session_name: "s".into(),
            web_identity_token: MARK.into(),
            ..Default::default()
        }),
        request_json(&sts::AssumeRoleWithSAMLRequest {
            role_arn: "arn:aws:iam::1:role/r".into(),
            principal_arn: "arn:aws:iam::1:saml-provider/p".into(),
            saml_assertion: MARK.into(),
            ..Default::default()
        }),
        request_json(&sts::GetSessionTokenRequest {
            token_code: Some(MARK.into()),
            ..Default::default()
        }),
        request_json(&sts::DecodeAuthorizationMessageRequest {
            encoded_message: MARK.into(),
        }),
    ];
    for text in &inputs {
        assert!(!text.contains(MARK), "{text}");
    }
    assert!(
        inputs[2].contains("serialNumber") && inputs[1].contains("\"passwordResetRequired\":true")
    );
    let mfa = iam::CreateVirtualMFADeviceResponse {
        virtual_mfa_device: iam::VirtualMFADevice {
            serial_number: "arn:aws:iam::1:mfa/d".into(),
            base32_string_seed: Some(MARK.as_bytes().to_vec()),
            qr_code_png: Some(MARK.as_bytes().to_vec()),
            ..Default::default()
        },
    };
    let decoded = sts::DecodeAuthorizationMessageResponse {
        decoded_message: Some(MARK.into()),
    };
    let seed_b64 = data_encoding::BASE64.encode(MARK.as_bytes());
    for text in [response_json(&mfa), response_json(&decoded)] {
        assert!(!text.contains(MARK) && !text.contains(&seed_b64), "{text}");
    }
}

#[test]
fn operation_tables_cover_the_served_list() {
    let served = include_str!("../models/served.txt");
    let n = served
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(iam::OPERATIONS.len() + sts::OPERATIONS.len(), n);
    assert!(iam::ERRORS.contains(&("NoSuchEntity", 404)));
    assert!(
        sts::OPERATIONS
            .iter()
            .any(|o| o.name == "AssumeRoleWithSAML")
    );
}

/// The generated error codes: the wire string is the variant's name, the statuses are the reference's for the
/// common errors and the model's for modeled ones.
#[test]
fn error_codes_carry_aws_statuses() {
    use crate::ErrorCode as E;
    for (code, status) in [
        (E::MissingAuthenticationToken, 403),
        (E::IncompleteSignature, 400),
        (E::InvalidClientTokenId, 403),
        (E::SignatureDoesNotMatch, 403),
        (E::ExpiredToken, 403),
        (E::AccessDenied, 403),
        (E::ValidationError, 400),
        (E::MalformedQueryString, 404),
        (E::ServiceUnavailable, 503),
        (E::NoSuchEntity, 404),
        (E::EntityAlreadyExists, 409),
        (E::LimitExceeded, 409),
        (E::DeleteConflict, 409),
        (E::ReportNotPresent, 410),
        (E::ServiceFailure, 500),
        (E::ExpiredTokenException, 400),
        (E::IDPRejectedClaim, 403),
        (E::RegionDisabledException, 403),
    ] {
        assert_eq!(code.status(), status, "{}", code.as_str());
        assert_eq!(format!("{code:?}"), code.as_str());
    }
    for (name, status) in iam::ERRORS.iter().chain(sts::ERRORS) {
        let code = E::ALL.iter().find(|c| c.as_str() == *name);
        if let Some(code) = code {
            assert_eq!(code.status(), *status, "{name}");
        }
    }
}

/// Only the two federation calls, whose proof is a token or an assertion in the input, go unsigned (the model's
/// `authtype: none`); the dispatch tables split on the same flag.
#[test]
fn only_the_federation_calls_are_unsigned() {
    let unsigned: Vec<&str> = iam::OPERATIONS
        .iter()
        .chain(sts::OPERATIONS)
        .filter(|o| !o.signed)
        .map(|o| o.name)
        .collect();
    assert_eq!(
        unsigned,
        ["AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"]
    );
    macro_rules! path_of {
        ($($p:tt)*) => {
            stringify!($($p)*).replace(' ', "")
        };
    }
    fn dispatch(action: &str) -> Option<String> {
        crate::sts_dispatch!(action, path_of, handlers)
    }
    fn dispatch_unsigned(action: &str) -> Option<String> {
        crate::sts_dispatch_unsigned!(action, path_of, handlers)
    }
    assert_eq!(
        dispatch("AssumeRole").as_deref(),
        Some("handlers::assume_role")
    );
    assert_eq!(dispatch("AssumeRoleWithSAML"), None);
    assert_eq!(
        dispatch_unsigned("AssumeRoleWithSAML").as_deref(),
        Some("handlers::assume_role_with_saml")
    );
    assert_eq!(dispatch_unsigned("AssumeRole"), None);
}

/// The checked-in generated code is what the generator makes of the checked-in models.
#[test]
fn generated_code_matches_the_models() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let status = std::process::Command::new("python3")
        .arg(format!("{root}/scripts/gen_wire.py"))
        .arg("--check")
        .status();
    match status {
        Ok(s) => assert!(
            s.success(),
            "run `python3 scripts/gen_wire.py` and commit the result"
        ),
        // No python3 on this machine: scripts/test.sh runs the same check.
        Err(e) => eprintln!("skipping the drift check: {e}"),
    }
}

/// The operation table is the action table: every AWS operation carries the catalog entry it is authorized
/// as (same service, same name); only stsd's own operations have none.
#[test]
fn every_aws_operation_carries_its_catalog_action() {
    const OWN: &[&str] = &[
        "CreateAccount",
        "RotateTokenKeys",
        "PutResourcePolicy",
        "GetResourcePolicy",
        "DeleteResourcePolicy",
        "RegisterBucket",
        "DeregisterBucket",
        "ListRegisteredBuckets",
    ];
    for (svc, ops) in [("iam", iam::OPERATIONS), ("sts", sts::OPERATIONS)] {
        for op in ops {
            match op.action {
                Some(a) => assert_eq!((a.service, a.name), (svc, op.name)),
                None => assert!(
                    OWN.contains(&op.name),
                    "{svc}:{} is not in AWS's action catalog",
                    op.name
                ),
            }
        }
    }
}

proptest! {
    /// No decoder panics, whatever the parameters (names drawn from real member paths and noise).
    #[test]
    fn decoders_never_panic(
        pairs in proptest::collection::vec(
            (prop_oneof![
                Just("UserName".to_string()),
                Just("Tags.member.1.Key".to_string()),
                Just("Tags.member.2.Value".to_string()),
                Just("TagKeys.member.1".to_string()),
                Just("MaxItems".to_string()),
                Just("PolicyArns.member.1.arn".to_string()),
                Just("ContextEntries.member.1.ContextKeyValues.member.1".to_string()),
                "[A-Za-z.0-9]{0,30}",
            ], ".{0,80}"),
            0..12,
        )
    ) {
        let p = Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for op in iam::OPERATIONS.iter().chain(sts::OPERATIONS) {
            let _ = iam::decode_op(op.name, &p).or_else(|| sts::decode_op(op.name, &p));
        }
    }
}
