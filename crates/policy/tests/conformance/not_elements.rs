//! §4.1/§4.3/§4.4/§4.2: NotAction, NotResource, NotPrincipal.
use crate::common::*;
use policy::{Effect, PolicyKind, PolicyType};

const NOT_IAM: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#;
const DENY_NOT_IAM: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*"}]}"#;
const NOT_RES: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":["arn:aws:s3:::secret/*","arn:aws:s3:::private/*"]}}"#;
const DENY_NOT_RES: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::public/*"}]}"#;
const NOT_PRINCIPAL_DENY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::111122223333:assumed-role/R/s","arn:aws:iam::111122223333:role/R","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}}"#;
const NOT_PRINCIPAL_ROLE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"s3:*","Resource":"*"}}"#;
const R: PolicyKind = PolicyKind::Resource;

#[test]
fn not_action() {
    run_scenarios(&[
        Scenario {
            rule: "§4.3 NotAction: all actions except the listed ones",
            identity: &[NOT_IAM],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.3 NotAction: listed action excluded",
            identity: &[NOT_IAM],
            action: "iam:CreateUser",
            resource: "*",
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.3 NotAction matching is case-insensitive",
            identity: &[NOT_IAM],
            action: "IAM:CreateUser",
            resource: "*",
            ..BASE
        },
        Scenario {
            rule: "§4.3 Deny + NotAction denies everything else",
            identity: &[DENY_NOT_IAM],
            effect: Effect::ExplicitDeny,
            ..BASE
        },
        Scenario {
            rule: "§4.3 Deny + NotAction spares the listed actions",
            identity: &[DENY_NOT_IAM],
            action: "sts:GetCallerIdentity",
            resource: "*",
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}

#[test]
fn not_resource() {
    run_scenarios(&[
        Scenario {
            rule: "§4.4 NotResource: everything but the listed resources",
            identity: &[NOT_RES],
            resource: "arn:aws:s3:::data/x",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.4 NotResource: listed resource excluded",
            identity: &[NOT_RES],
            resource: "arn:aws:s3:::private/x",
            ..BASE
        },
        Scenario {
            rule: "§4.4 Deny + NotResource",
            identity: &[DENY_NOT_RES],
            resource: "arn:aws:s3:::data/x",
            effect: Effect::ExplicitDeny,
            ..BASE
        },
        Scenario {
            rule: "§4.4 Deny + NotResource spares the listed resources",
            identity: &[DENY_NOT_RES],
            resource: "arn:aws:s3:::public/x",
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}

#[test]
fn not_principal() {
    run_scenarios(&[
        Scenario {
            rule: "§4.2 Deny + NotPrincipal exempts a session listed with role and account",
            who: Who::Session,
            identity: &[ALLOW_ALL],
            resource_policy: Some((NOT_PRINCIPAL_DENY, R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 Deny + NotPrincipal denies principals not listed",
            who: Who::User,
            identity: &[ALLOW_ALL],
            resource_policy: Some((NOT_PRINCIPAL_DENY, R, ACCOUNT)),
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Resource),
            ..BASE
        },
        Scenario {
            rule: "§4.2 NotPrincipal listing only the role does not exempt its sessions (account and session still denied)",
            who: Who::Session,
            identity: &[ALLOW_ALL],
            resource_policy: Some((NOT_PRINCIPAL_ROLE_ONLY, R, ACCOUNT)),
            effect: Effect::ExplicitDeny,
            ..BASE
        },
    ]);
    run_parse(&[
        pc(
            "§4.2 NotPrincipal not allowed in identity policies",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}}"#,
            Some("should not specify a principal"),
        ),
        pc(
            "§4.2 NotPrincipal not allowed in trust policies",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
            Some("NotPrincipal"),
        ),
        pc(
            "§4.13 NotPrincipal not allowed in session policies",
            PolicyKind::Session,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}}"#,
            Some("should not specify a principal"),
        ),
        pc(
            "§4.13 Principal and NotPrincipal together",
            R,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}}"#,
            Some("both"),
        ),
        pc(
            "§4.13 Action and NotAction together",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","NotAction":"iam:*","Resource":"*"}}"#,
            Some("both"),
        ),
        pc(
            "§4.13 Resource and NotResource together",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*","NotResource":"*"}}"#,
            Some("both"),
        ),
    ]);
}
