//! §4.6 String family: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
//! StringNotEqualsIgnoreCase, StringLike, StringNotLike.
use crate::common::*;

const CASES: &[CondCase] = &[
    cc(
        "§4.6 StringEquals exact",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        true,
    ),
    cc(
        "§4.6 StringEquals case-sensitive value (rule 7)",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:PrincipalTag/team", &["Blue"])],
        false,
    ),
    cc(
        "§4.6 rule 7: key names case-insensitive",
        r#"{"StringEquals":{"AWS:principaltag/TEAM":"blue"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        true,
    ),
    cc(
        "§4.6 rule 2: policy values OR-ed for positive operators",
        r#"{"StringEquals":{"aws:PrincipalTag/team":["red","blue"]}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        true,
    ),
    cc(
        "§4.6 StringEquals: * is literal",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"b*"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        false,
    ),
    cc(
        "§4.6 StringEquals: literal * equals *",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"b*"}}"#,
        &[("aws:PrincipalTag/team", &["b*"])],
        true,
    ),
    cc(
        "§4.6 rule 3: StringEquals on missing key is false",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[],
        false,
    ),
    cc(
        "§4.6 StringNotEquals different value",
        r#"{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:PrincipalTag/team", &["red"])],
        true,
    ),
    cc(
        "§4.6 StringNotEquals same value",
        r#"{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        false,
    ),
    cc(
        "§4.6 rule 2: negated operators AND their values",
        r#"{"StringNotEquals":{"aws:PrincipalTag/team":["red","blue"]}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        false,
    ),
    cc(
        "§4.6 rule 2: negated, neither value",
        r#"{"StringNotEquals":{"aws:PrincipalTag/team":["red","blue"]}}"#,
        &[("aws:PrincipalTag/team", &["green"])],
        true,
    ),
    cc(
        "§4.6 rule 3: StringNotEquals on missing key is true",
        r#"{"StringNotEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 StringEqualsIgnoreCase",
        r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        true,
    ),
    cc(
        "§4.6 StringEqualsIgnoreCase non-ASCII",
        r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ÉQUIPE"}}"#,
        &[("aws:PrincipalTag/team", &["équipe"])],
        true,
    ),
    cc(
        "§4.6 StringEqualsIgnoreCase mismatch",
        r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}"#,
        &[("aws:PrincipalTag/team", &["blues"])],
        false,
    ),
    cc(
        "§4.6 StringNotEqualsIgnoreCase",
        r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}"#,
        &[("aws:PrincipalTag/team", &["blue"])],
        false,
    ),
    cc(
        "§4.6 rule 3: StringNotEqualsIgnoreCase missing key",
        r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"BLUE"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 StringLike *",
        r#"{"StringLike":{"s3:prefix":"home/*"}}"#,
        &[("s3:prefix", &["home/alice/x"])],
        true,
    ),
    cc(
        "§4.6 StringLike ?",
        r#"{"StringLike":{"s3:prefix":"v?"}}"#,
        &[("s3:prefix", &["v1"])],
        true,
    ),
    cc(
        "§4.6 StringLike ? is exactly one char",
        r#"{"StringLike":{"s3:prefix":"v?"}}"#,
        &[("s3:prefix", &["v12"])],
        false,
    ),
    cc(
        "§4.6 StringLike is case-sensitive",
        r#"{"StringLike":{"s3:prefix":"home/*"}}"#,
        &[("s3:prefix", &["Home/x"])],
        false,
    ),
    cc(
        "§4.4 StringLike treats an ARN as one string",
        r#"{"StringLike":{"aws:PrincipalArn":"arn:aws:x:*:111122223333:finance/*"}}"#,
        &[(
            "aws:PrincipalArn",
            &["arn:aws:x:us-east-2:999999999999:store/abc:111122223333:finance/d.txt"],
        )],
        true,
    ),
    cc(
        "§4.6 StringNotLike",
        r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#,
        &[("s3:prefix", &["tmp/x"])],
        true,
    ),
    cc(
        "§4.6 StringNotLike matching value",
        r#"{"StringNotLike":{"s3:prefix":["tmp/*","home/*"]}}"#,
        &[("s3:prefix", &["home/x"])],
        false,
    ),
    cc(
        "§4.6 rule 3: StringNotLike missing key",
        r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 1: keys in one block AND-ed",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"blue","aws:PrincipalTag/dept":"eng"}}"#,
        &[
            ("aws:PrincipalTag/team", &["blue"]),
            ("aws:PrincipalTag/dept", &["ops"]),
        ],
        false,
    ),
    cc(
        "§4.6 rule 1: keys in one block AND-ed (both true)",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"blue","aws:PrincipalTag/dept":"eng"}}"#,
        &[
            ("aws:PrincipalTag/team", &["blue"]),
            ("aws:PrincipalTag/dept", &["eng"]),
        ],
        true,
    ),
    cc(
        "§4.6 rule 1: operator blocks AND-ed",
        r#"{"StringEquals":{"aws:PrincipalTag/team":"blue"},"StringLike":{"s3:prefix":"x*"}}"#,
        &[("aws:PrincipalTag/team", &["blue"]), ("s3:prefix", &["y"])],
        false,
    ),
    cc(
        "§4.1 numbers as string-operator values",
        r#"{"StringEquals":{"aws:PrincipalTag/n":42}}"#,
        &[("aws:PrincipalTag/n", &["42"])],
        true,
    ),
    cc(
        "§4.6 rule 6: plain operator on multi-valued key behaves as ForAnyValue",
        r#"{"StringEquals":{"aws:TagKeys":"a"}}"#,
        &[("aws:TagKeys", &["b", "a"])],
        true,
    ),
];

#[test]
fn string_operators() {
    run_conditions(CASES);
}
