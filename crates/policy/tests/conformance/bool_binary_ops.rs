//! §4.6 Bool and BinaryEquals; §4.7.1 MultiFactorAuthPresent pitfalls.
use crate::common::*;
use policy::{Effect, PolicyType};

const MFA: &str = "aws:MultiFactorAuthPresent";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 Bool string true",
        r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        &[("aws:SecureTransport", &["true"])],
        true,
    ),
    cc(
        "§4.1 Bool JSON true equals \"true\"",
        r#"{"Bool":{"aws:SecureTransport":true}}"#,
        &[("aws:SecureTransport", &["true"])],
        true,
    ),
    cc(
        "§4.6 Bool case-insensitive [stsd]",
        r#"{"Bool":{"aws:SecureTransport":"TRUE"}}"#,
        &[("aws:SecureTransport", &["True"])],
        true,
    ),
    cc(
        "§4.6 Bool false vs true",
        r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
        &[("aws:SecureTransport", &["true"])],
        false,
    ),
    cc(
        "§4.6 rule 3: Bool on missing key is false",
        r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
        &[],
        false,
    ),
    cc(
        "§4.6 BinaryEquals base64",
        r#"{"BinaryEquals":{"aws:x":"aGVsbG8="}}"#,
        &[("aws:x", &["aGVsbG8="])],
        true,
    ),
    cc(
        "§4.6 BinaryEquals compares bytes (padding-insensitive)",
        r#"{"BinaryEquals":{"aws:x":"aGVsbG8="}}"#,
        &[("aws:x", &["aGVsbG8"])],
        true,
    ),
    cc(
        "§4.6 BinaryEquals mismatch",
        r#"{"BinaryEquals":{"aws:x":"aGVsbG8="}}"#,
        &[("aws:x", &["d29ybGQ="])],
        false,
    ),
];

#[test]
fn bool_and_binary() {
    run_conditions(CASES);
}

#[test]
fn mfa_pitfall() {
    const DENY_NO_MFA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;
    const DENY_NO_MFA_IFEXISTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;
    run_scenarios(&[
        Scenario {
            rule: "§4.7.1 Bool false + Deny does not catch long-term keys (key absent)",
            identity: &[DENY_NO_MFA],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.7.1 BoolIfExists false + Deny catches long-term keys",
            identity: &[DENY_NO_MFA_IFEXISTS],
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.7.1 BoolIfExists false + Deny lets MFA sessions through",
            identity: &[DENY_NO_MFA_IFEXISTS],
            keys: &[(MFA, &["true"])],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.7.1 Bool false + Deny denies sessions without MFA",
            identity: &[DENY_NO_MFA],
            keys: &[(MFA, &["false"])],
            effect: Effect::ExplicitDeny,
            ..BASE
        },
    ]);
}
