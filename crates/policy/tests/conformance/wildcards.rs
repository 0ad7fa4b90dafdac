//! §4.3 action matching and §4.4 resource/ARN matching.
use crate::common::*;
use policy::Effect;

const GET_STAR: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}"#;
const QMARK: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:?etUser","Resource":"*"}}"#;
const MID: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*User*","Resource":"*"}}"#;
const UPPER: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"IAM:GETUSER","Resource":"*"}}"#;
const RES: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*/test/*"}}"#;
const IAM_ANY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*"}}"#;
const MIDSEG: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::1111*3333:user/*"}}"#;
const QRES: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::111122223333:user/a?c"}}"#;
const CASE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::111122223333:user/Alice"}}"#;
const MULTI: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:GetUser","s3:GetObject"],"Resource":["arn:aws:s3:::a/*","arn:aws:s3:::b/*"]}}"#;

#[test]
fn actions() {
    run_scenarios(&[
        Scenario {
            rule: "§4.3 * in action name",
            identity: &[GET_STAR],
            action: "iam:GetUser",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 * matches empty run",
            identity: &[GET_STAR],
            action: "iam:Get",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 action prefix mismatch",
            identity: &[GET_STAR],
            action: "iam:ListUsers",
            ..BASE
        },
        Scenario {
            rule: "§4.3 service prefix must match",
            identity: &[GET_STAR],
            action: "s3:GetObject",
            ..BASE
        },
        Scenario {
            rule: "§4.3 case-insensitive service and action (pattern)",
            identity: &[GET_STAR],
            action: "IAM:getuser",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 case-insensitive service and action (exact)",
            identity: &[UPPER],
            action: "iam:GetUser",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 ? matches one character",
            identity: &[QMARK],
            action: "iam:GetUser",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 ? does not match two",
            identity: &[QMARK],
            action: "iam:GGetUser",
            ..BASE
        },
        Scenario {
            rule: "§4.3 wildcards anywhere",
            identity: &[MID],
            action: "iam:ListUserTags",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 \"*\" matches every action",
            identity: &[ALLOW_ALL],
            action: "sts:GetCallerIdentity",
            resource: "*",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 arrays of actions OR-ed",
            identity: &[MULTI],
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/x",
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}

#[test]
fn resources() {
    run_scenarios(&[
        Scenario {
            rule: "§4.4 * in the last part crosses /",
            identity: &[RES],
            resource: "arn:aws:s3:::bucket/1/2/test/x",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.4 literal parts must match",
            identity: &[RES],
            resource: "arn:aws:s3:::bucket/1/2/prod/x",
            ..BASE
        },
        Scenario {
            rule: "§4.4 segment-final * expands past colons",
            identity: &[IAM_ANY],
            action: "iam:GetUser",
            resource: "arn:aws:iam::111122223333:user/alice",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.4 mid-segment * stays in its segment",
            identity: &[MIDSEG],
            action: "iam:GetUser",
            resource: "arn:aws:iam::111122223333:user/alice",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.4 mid-segment * does not cross a colon",
            identity: &[MIDSEG],
            action: "iam:GetUser",
            resource: "arn:aws:iam::1111:3333:user/alice",
            ..BASE
        },
        Scenario {
            rule: "§4.4 ? in resource",
            identity: &[QRES],
            action: "iam:GetUser",
            resource: "arn:aws:iam::111122223333:user/abc",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.4 matching is case-sensitive",
            identity: &[CASE],
            action: "iam:GetUser",
            resource: "arn:aws:iam::111122223333:user/alice",
            ..BASE
        },
        Scenario {
            rule: "§4.4 \"Resource\": \"*\" matches everything",
            identity: &[ALLOW_S3_GET],
            resource: "anything-at-all",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.4 arrays of resources OR-ed",
            identity: &[MULTI],
            action: "s3:GetObject",
            resource: "arn:aws:s3:::a/x",
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}
