//! §4.8 same-account vs cross-account and explicit deny precedence.
use crate::common::*;
use policy::{Effect, PolicyKind, PolicyType};

const R: PolicyKind = PolicyKind::Resource;
const TO_ALICE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_BOB: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_OTHER_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:GetObject","Resource":"*"}}"#;
const DENY_ALICE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:*","Resource":"*"}}"#;

#[test]
fn same_account() {
    run_scenarios(&[
        Scenario {
            rule: "§4.8 step 5: no policy allows → implicit deny (identity)",
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 same account: identity allow suffices",
            identity: &[ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 same account: resource policy allow suffices",
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 1: explicit deny in identity wins over resource allow",
            identity: &[DENY_S3_GET],
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 1: explicit deny in resource policy wins over identity allow",
            identity: &[ALLOW_ALL],
            resource_policy: Some((DENY_ALICE, R, ACCOUNT)),
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Resource),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 1: deny in one identity policy beats allow in another",
            identity: &[ALLOW_ALL, DENY_S3_GET],
            effect: Effect::ExplicitDeny,
            ..BASE
        },
        Scenario {
            rule: "§4.8 root: all actions on its own account allowed",
            who: Who::Root,
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 root: explicit deny in resource policy still applies",
            who: Who::Root,
            resource_policy: Some((
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
                R,
                ACCOUNT,
            )),
            effect: Effect::ExplicitDeny,
            ..BASE
        },
    ]);
}

#[test]
fn cross_account() {
    run_scenarios(&[
        Scenario {
            rule: "§4.8 cross-account: identity allow alone is not enough",
            who: Who::OtherUser,
            identity: &[ALLOW_IAM_ONLY],
            action: "iam:GetUser",
            resource: "arn:aws:iam::111122223333:user/alice",
            denied_by: Some(PolicyType::Resource),
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: resource policy in B naming the user, identity in A allows",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((TO_BOB, R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: resource names the user but identity does not allow",
            who: Who::OtherUser,
            resource_policy: Some((TO_BOB, R, ACCOUNT)),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: granting to account A alone is not enough",
            who: Who::OtherUser,
            resource_policy: Some((TO_OTHER_ACCOUNT, R, ACCOUNT)),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: account grant + identity allow",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((TO_OTHER_ACCOUNT, R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: resource policy that does not name the caller",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Resource),
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: resource ARN account decides when there is no resource policy",
            who: Who::User,
            identity: &[ALLOW_IAM_ONLY],
            action: "iam:GetUser",
            resource: "arn:aws:iam::444455556666:user/bob",
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Resource),
            ..BASE
        },
        Scenario {
            rule: "§4.8 cross-account: boundary still applies",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            boundary: Some(ALLOW_IAM_ONLY),
            resource_policy: Some((TO_BOB, R, ACCOUNT)),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Boundary),
            ..BASE
        },
    ]);
}
