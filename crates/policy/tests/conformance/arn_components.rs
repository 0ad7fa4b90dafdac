//! ARN condition operators compare component by component (issue #11 item 5), and how that
//! differs from `StringLike` and from the `Resource` element.
//!
//! Each case names the AWS page it rests on:
//!
//! * `[ARN ops]` IAM User Guide, "IAM JSON policy elements: Condition operators", section
//!   "Amazon Resource Name (ARN) condition operators": `ArnEquals`/`ArnLike` are "case-sensitive
//!   matching of the ARN. Each of the six colon-delimited components of the ARN is checked
//!   separately and each can include multi-character match wildcards (*) or single-character
//!   match wildcards (?)"; `ArnNotEquals`/`ArnNotLike` are the negations.
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>
//! * `[String ops]` the same page, "String condition operators": `StringLike` values "can
//!   include multi-character match wildcards (*) and single-character match wildcards (?)
//!   anywhere in the string".
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String>
//! * `[Missing key]` the same page, top: a negated operator such as `ArnNotLike` is true when the
//!   key is absent; `[IfExists]` its "...IfExists condition operators" section.
//! * `[Set ops]` IAM User Guide, "Set operators for multivalued context keys" (`ForAnyValue`,
//!   `ForAllValues`).
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>
//! * `[ARN format]` IAM User Guide / AWS General Reference, "Amazon Resource Names (ARNs)":
//!   `arn:partition:service:region:account-id:resource-id`; the resource part may itself contain
//!   colons (`resource-type:resource-id`).
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>
//! * `[Resource wildcards]` IAM User Guide, "IAM JSON policy elements: Resource", section "Using
//!   wildcards in resource ARNs": "If the * wildcard is the last character of a resource ARN
//!   segment, it can expand to match beyond the colon boundaries."
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>
//! * `[stsd shape]` the docs do not say what a value or pattern without the six components
//!   matches; stsd's choice (crate README): nothing, so the negated operators are true.
use crate::common::*;
use policy::Effect;

const SA: &str = "aws:SourceArn";
/// The User Guide's example pattern and the value a `*` would reach only by spanning colons.
const SPANNING: &str =
    "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
const PLAIN: &str = "arn:aws:someservice:us-east-2:111122223333:finance/document.txt";
/// Also spanning, in the caller's own account (so the `Resource` scenarios stay same-account).
const SPANNING_OWN: &str =
    "arn:aws:someservice:us-east-2:111122223333:store/abc:111122223333:finance/document.txt";

const CASES: &[CondCase] = &[
    cc(
        "[ARN ops] ArnLike: a * in the region does not span colons into the account",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        false,
    ),
    cc(
        "[ARN ops] ArnLike: the account matches, but the resource part is not finance/*",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING_OWN])],
        false,
    ),
    cc(
        "[String ops] StringLike: the same pattern matches (* spans anything)",
        r#"{"StringLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        true,
    ),
    cc(
        "[ARN ops] ArnEquals behaves as ArnLike: no match",
        r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        false,
    ),
    cc(
        "[ARN ops] ArnLike: each component matched on its own does match",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[PLAIN])],
        true,
    ),
    cc(
        "[ARN ops] ArnNotLike: negation of the component-wise match",
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        true,
    ),
    cc(
        "[ARN ops] ArnNotEquals: negation of the component-wise match",
        r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        true,
    ),
    cc(
        "[ARN ops] ArnNotLike: a component-wise match makes it false",
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[PLAIN])],
        false,
    ),
    cc(
        "[IfExists] ArnLikeIfExists with the key present: component-wise, no match",
        r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        false,
    ),
    cc(
        "[IfExists] ArnEqualsIfExists with the key absent: true",
        r#"{"ArnEqualsIfExists":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[],
        true,
    ),
    cc(
        "[Missing key] ArnNotLike with the key absent: true",
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[],
        true,
    ),
    cc(
        "[Set ops] ForAnyValue:ArnLike: true only through the value that matches per component",
        r#"{"ForAnyValue:ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING, PLAIN])],
        true,
    ),
    cc(
        "[Set ops] ForAnyValue:ArnLike: the spanning value alone does not match",
        r#"{"ForAnyValue:ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[SPANNING])],
        false,
    ),
    cc(
        "[Set ops] ForAllValues:ArnLike: the spanning value fails the set",
        r#"{"ForAllValues:ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[PLAIN, SPANNING])],
        false,
    ),
    cc(
        "[Set ops] ForAllValues:ArnEquals: every value matches per component",
        r#"{"ForAllValues:ArnEquals":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[PLAIN])],
        true,
    ),
    cc(
        "[Set ops] ForAnyValue:ArnNotLike: some value fails the component-wise match",
        r#"{"ForAnyValue:ArnNotLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#,
        &[(SA, &[PLAIN, SPANNING])],
        true,
    ),
    cc(
        "[ARN ops] a * inside a component stays in it (account 1111*3333)",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::1111*3333:role/R"}}"#,
        &[(SA, &["arn:aws:iam::1111:3333:role/R"])],
        false,
    ),
    cc(
        "[String ops] the same value under StringLike: * covers the colon",
        r#"{"StringLike":{"aws:SourceArn":"arn:aws:iam::1111*3333:role/R"}}"#,
        &[(SA, &["arn:aws:iam::1111:3333:role/R"])],
        true,
    ),
    cc(
        "[ARN ops] ? matches one character of its component, never the colon",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:us-east-?:111122223333:x"}}"#,
        &[(SA, &["arn:aws:s3:us-east-:1:111122223333:x"])],
        false,
    ),
    cc(
        "[ARN ops] ? within its component",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:us-east-?:111122223333:x"}}"#,
        &[(SA, &["arn:aws:s3:us-east-1:111122223333:x"])],
        true,
    ),
    cc(
        "[ARN ops] wildcards in every component, partition included",
        r#"{"ArnLike":{"aws:SourceArn":"arn:*:s3:*:*:*"}}"#,
        &[(SA, &["arn:aws-cn:s3:::bucket"])],
        true,
    ),
    cc(
        "[ARN format] the resource part keeps its colons; its * may cover them",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:logs:*:111122223333:log-group:*"}}"#,
        &[(
            SA,
            &["arn:aws:logs:us-east-1:111122223333:log-group:/aws/x:log-stream:y"],
        )],
        true,
    ),
    cc(
        "[ARN format] the resource part is compared as written after the fifth colon",
        r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:logs:us-east-1:111122223333:log-group:a:*"}}"#,
        &[(SA, &["arn:aws:logs:us-east-1:111122223333:log-group:b:x"])],
        false,
    ),
    cc(
        "[ARN format] [stsd shape] a pattern with five components matches no ARN",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*"}}"#,
        &[(SA, &["arn:aws:iam::111122223333:role/R"])],
        false,
    ),
    cc(
        "[stsd shape] a bare * is not an ARN pattern",
        r#"{"ArnLike":{"aws:SourceArn":"*"}}"#,
        &[(SA, &["arn:aws:iam::111122223333:role/R"])],
        false,
    ),
    cc(
        "[stsd shape] ArnNotLike with a pattern that has no ARN shape: true",
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:iam::*"}}"#,
        &[(SA, &["arn:aws:iam::111122223333:role/R"])],
        true,
    ),
    cc(
        "[stsd shape] a value without six components matches nothing",
        r#"{"ArnLike":{"aws:SourceArn":"arn:*:*:*:*:*"}}"#,
        &[(SA, &["arn:aws:iam:111122223333"])],
        false,
    ),
    cc(
        "[stsd shape] ArnNotLike with a value without six components: true",
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:*:*:*:*:*"}}"#,
        &[(SA, &["not-an-arn"])],
        true,
    ),
    cc(
        "[ARN ops] a variable in the account component: substituted, then compared per component",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:${aws:PrincipalAccount}:*"}}"#,
        &[
            ("aws:PrincipalAccount", &["111122223333"]),
            (SA, &["arn:aws:sns:us-east-1:111122223333:topic"]),
        ],
        true,
    ),
    cc(
        "[ARN ops] a variable in the account component: another account does not match",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:${aws:PrincipalAccount}:*"}}"#,
        &[
            ("aws:PrincipalAccount", &["111122223333"]),
            (
                SA,
                &["arn:aws:sns:us-east-1:999999999999:store:111122223333:topic"],
            ),
        ],
        false,
    ),
    cc(
        "[ARN ops] a variable holding a whole ARN is split after substitution",
        r#"{"ArnEquals":{"aws:SourceArn":"${aws:PrincipalArn}"}}"#,
        &[
            ("aws:PrincipalArn", &["arn:aws:iam::111122223333:role/R"]),
            (SA, &["arn:aws:iam::111122223333:role/R"]),
        ],
        true,
    ),
];

#[test]
fn arn_operators_compare_components() {
    run_conditions(CASES);
}

const RESOURCE_EXAMPLE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:someservice:*:111122223333:finance/*"}}"#;
const RESOURCE_MID: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:someservice:us-*-2:111122223333:finance/*"}}"#;

/// The `Resource` element keeps its own rule: a `*` that ends a segment may run over colons.
#[test]
fn resource_element_differs() {
    run_scenarios(&[
        Scenario {
            rule: "[Resource wildcards] a segment-final * expands beyond the colon boundaries",
            identity: &[RESOURCE_EXAMPLE],
            resource: SPANNING_OWN,
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "[Resource wildcards] the plain ARN matches as well",
            identity: &[RESOURCE_EXAMPLE],
            resource: PLAIN,
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "[Resource wildcards] a * inside a segment stays in it",
            identity: &[RESOURCE_MID],
            resource: "arn:aws:someservice:us-east:2:111122223333:finance/d",
            ..BASE
        },
    ]);
}
