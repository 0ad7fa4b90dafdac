//! §4.6 Null operator and the IfExists suffix (rules 3 and 4).
use crate::common::*;
use policy::{Effect, PolicyType};

const K: &str = "aws:PrincipalTag/team";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 Null true: key absent",
        r#"{"Null":{"aws:PrincipalTag/team":"true"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 Null true: key present",
        r#"{"Null":{"aws:PrincipalTag/team":"true"}}"#,
        &[(K, &["x"])],
        false,
    ),
    cc(
        "§4.6 Null false: key present",
        r#"{"Null":{"aws:PrincipalTag/team":"false"}}"#,
        &[(K, &["x"])],
        true,
    ),
    cc(
        "§4.6 Null false: key absent",
        r#"{"Null":{"aws:PrincipalTag/team":"false"}}"#,
        &[],
        false,
    ),
    cc(
        "§4.1 Null JSON boolean",
        r#"{"Null":{"aws:PrincipalTag/team":true}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 Null: empty list is absent",
        r#"{"Null":{"aws:TagKeys":"true"}}"#,
        &[("aws:TagKeys", &[])],
        true,
    ),
    cc(
        "§4.6 rule 4: StringEqualsIfExists missing key → true",
        r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 4: StringEqualsIfExists present → evaluated",
        r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}"#,
        &[(K, &["red"])],
        false,
    ),
    cc(
        "§4.6 rule 4: StringNotEqualsIfExists missing key → true",
        r#"{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 4: NumericLessThanIfExists missing",
        r#"{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"60"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 4: IpAddressIfExists present outside",
        r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &[("aws:SourceIp", &["192.0.2.1"])],
        false,
    ),
    cc(
        "§4.6 rule 4: DateGreaterThanIfExists missing",
        r#"{"DateGreaterThanIfExists":{"aws:TokenIssueTime":"2020-01-01"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 4: ArnLikeIfExists missing",
        r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::x"}}"#,
        &[],
        true,
    ),
];

#[test]
fn null_and_if_exists() {
    run_conditions(CASES);
}

#[test]
fn deny_with_not_equals_if_exists() {
    const P: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"blue"}}}]}"#;
    const Q: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#;
    run_scenarios(&[
        Scenario {
            rule: "§4.6 rule 4: Deny + StringNotEqualsIfExists denies requests lacking the key",
            identity: &[P],
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.5/§4.6 rule 3: Deny + StringNotEquals denies when the tag is absent",
            identity: &[Q],
            effect: Effect::ExplicitDeny,
            ..BASE
        },
        Scenario {
            rule: "§4.6 rule 4: Deny + StringNotEqualsIfExists lets the right value through",
            identity: &[P],
            keys: &[(K, &["blue"])],
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}
