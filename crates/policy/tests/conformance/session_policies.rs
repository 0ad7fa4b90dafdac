//! §4.8 step 7 and §2.4: session policies only narrow; federated users need one.
use crate::common::*;
use policy::{Effect, PolicyKind, PolicyType};

const R: PolicyKind = PolicyKind::Resource;
const TO_ROLE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_SESSION: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_FED: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:federated-user/fed"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_ALICE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"*"}}"#;

#[test]
fn session_policies() {
    run_scenarios(&[
        Scenario {
            rule: "§4.8 step 7: role session without session policy is allowed by identity",
            who: Who::Session,
            identity: &[ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 7: session policy must allow",
            who: Who::Session,
            identity: &[ALLOW_S3_GET],
            session: &[ALLOW_IAM_ONLY],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Session),
            ..BASE
        },
        Scenario {
            rule: "§2.4 session policy never adds permissions",
            who: Who::Session,
            identity: &[ALLOW_IAM_ONLY],
            session: &[ALLOW_ALL],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§2.4 intersection: both allow",
            who: Who::Session,
            identity: &[ALLOW_ALL],
            session: &[ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§2.4 several session policies (inline + managed) act as one",
            who: Who::Session,
            identity: &[ALLOW_ALL],
            session: &[ALLOW_IAM_ONLY, ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 1: explicit deny in session policy",
            who: Who::Session,
            identity: &[ALLOW_ALL],
            session: &[DENY_S3_GET],
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Session),
            ..BASE
        },
        Scenario {
            rule: "§2.4/§4.8 step 7: federated user without session policy has no permissions",
            who: Who::Federated,
            identity: &[ALLOW_ALL],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Session),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 7: federated user with session policy",
            who: Who::Federated,
            identity: &[ALLOW_ALL],
            session: &[ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 7: GetSessionToken sessions are not session principals",
            who: Who::User,
            identity: &[ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: resource policy naming the session ARN is not limited by the session policy",
            who: Who::Session,
            resource_policy: Some((TO_SESSION, R, ACCOUNT)),
            session: &[ALLOW_IAM_ONLY],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: resource policy naming the role ARN is limited by the session policy",
            who: Who::Session,
            resource_policy: Some((TO_ROLE, R, ACCOUNT)),
            session: &[ALLOW_IAM_ONLY],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Session),
            ..BASE
        },
        Scenario {
            rule: "§2.4 resource policy naming the federated-user ARN grants without session policy",
            who: Who::Federated,
            resource_policy: Some((TO_FED, R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: resource policy naming the IAM user behind a federated user is limited by the session policy",
            who: Who::Federated,
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            session: &[ALLOW_IAM_ONLY],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Session),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: ... and allowed when the session policy allows",
            who: Who::Federated,
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            session: &[ALLOW_S3_GET],
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}
