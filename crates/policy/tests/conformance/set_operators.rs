//! §4.6 rule 5: ForAllValues / ForAnyValue on multi-valued keys, empty and missing sets.
use crate::common::*;

const TK: &str = "aws:TagKeys";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 rule 5: ForAllValues every value in set",
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["a", "b"])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAllValues one value outside",
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["a", "c"])],
        false,
    ),
    cc(
        "§4.6 rule 5: ForAllValues missing key is true (vacuous)",
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAllValues empty set is true",
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &[])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue one matches",
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["c", "b"])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue none match",
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["c", "d"])],
        false,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue missing key is false",
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[],
        false,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue empty set is false",
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#,
        &[(TK, &[])],
        false,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue:StringNotEquals true if some value is neither",
        r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["a", "c"])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue:StringNotEquals false if all are listed",
        r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["a", "b"])],
        false,
    ),
    cc(
        "§4.6 rule 5: ForAllValues:StringNotEquals true if no value is listed",
        r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["c", "d"])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAllValues:StringNotEquals false if one is listed",
        r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#,
        &[(TK, &["c", "a"])],
        false,
    ),
    cc(
        "§4.6 rule 5: ForAllValues:StringLike",
        r#"{"ForAllValues:StringLike":{"aws:TagKeys":["env*","team"]}}"#,
        &[(TK, &["env-x", "team"])],
        true,
    ),
    cc(
        "§4.6 rule 5: single-valued key as one-element set",
        r#"{"ForAllValues:StringEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAllValues on missing single-valued key is true",
        r#"{"ForAllValues:StringEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 4+5: ForAnyValue...IfExists on missing key is true",
        r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"a"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue:NumericLessThan",
        r#"{"ForAnyValue:NumericLessThan":{"aws:x":"5"}}"#,
        &[("aws:x", &["9", "3"])],
        true,
    ),
    cc(
        "§4.6 rule 5: ForAnyValue:IpAddress",
        r#"{"ForAnyValue:IpAddress":{"aws:x":"10.0.0.0/8"}}"#,
        &[("aws:x", &["192.0.2.1", "10.9.9.9"])],
        true,
    ),
    cc(
        "§4.7.3 cognito amr ForAnyValue:StringLike",
        r#"{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}"#,
        &[(
            "cognito-identity.amazonaws.com:amr",
            &["authenticated", "graph.facebook.com"],
        )],
        true,
    ),
];

#[test]
fn set_operators() {
    run_conditions(CASES);
}
