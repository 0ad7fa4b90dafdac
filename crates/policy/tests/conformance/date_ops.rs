//! §4.6 Date family (ISO 8601 profiles and epoch seconds); §4.11 revocation policy.
use crate::common::*;

const T: &str = "aws:CurrentTime";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 DateLessThan ISO 8601",
        r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[(T, &["2024-12-31T23:59:59Z"])],
        true,
    ),
    cc(
        "§4.6 DateLessThan boundary",
        r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[(T, &["2025-01-01T00:00:00Z"])],
        false,
    ),
    cc(
        "§4.6 DateLessThanEquals boundary",
        r#"{"DateLessThanEquals":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[(T, &["2025-01-01T00:00:00Z"])],
        true,
    ),
    cc(
        "§4.6 DateGreaterThan with epoch request value",
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
        &[(T, &["1700000000"])],
        true,
    ),
    cc(
        "§4.6 Date epoch policy value",
        r#"{"DateLessThan":{"aws:EpochTime":1700000000}}"#,
        &[("aws:EpochTime", &["1699999999"])],
        true,
    ),
    cc(
        "§4.6 DateEquals across time zones",
        r#"{"DateEquals":{"aws:CurrentTime":"2025-01-01T01:00+01:00"}}"#,
        &[(T, &["2025-01-01T00:00:00Z"])],
        true,
    ),
    cc(
        "§4.6 Date profile YYYY-MM-DD",
        r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2025-03-01"}}"#,
        &[(T, &["2025-03-01T00:00:00Z"])],
        true,
    ),
    cc(
        "§4.6 Date profile YYYY",
        r#"{"DateLessThan":{"aws:CurrentTime":"2025"}}"#,
        &[(T, &["2024-06-01T00:00:00Z"])],
        true,
    ),
    cc(
        "§4.6 Date fractional seconds",
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[(T, &["2025-01-01T00:00:00.5Z"])],
        true,
    ),
    cc(
        "§4.6 DateNotEquals",
        r#"{"DateNotEquals":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[(T, &["2025-01-02T00:00:00Z"])],
        true,
    ),
    cc(
        "§4.6 rule 3: DateNotEquals missing key",
        r#"{"DateNotEquals":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 3: DateLessThan missing key",
        r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[],
        false,
    ),
    cc(
        "§4.6 rule 8: unreadable date request value",
        r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &[(T, &["yesterday"])],
        false,
    ),
];

#[test]
fn date_operators() {
    run_conditions(CASES);
}

#[test]
fn revoke_older_sessions() {
    // §4.11: AWSRevokeOlderSessions denies sessions issued before the timestamp.
    const REVOKE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],
        "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-03-15T12:00:00Z"}}}]}"#;
    run_scenarios(&[
        Scenario {
            rule: "§4.11 session issued before revocation is explicitly denied",
            who: Who::Session,
            identity: &[ALLOW_ALL, REVOKE],
            keys: &[("aws:TokenIssueTime", &["2025-03-15T11:00:00Z"])],
            effect: policy::Effect::ExplicitDeny,
            denied_by: Some(policy::PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.11 session issued after revocation is unaffected",
            who: Who::Session,
            identity: &[ALLOW_ALL, REVOKE],
            keys: &[("aws:TokenIssueTime", &["2025-03-15T13:00:00Z"])],
            effect: policy::Effect::Allow,
            ..BASE
        },
    ]);
}
