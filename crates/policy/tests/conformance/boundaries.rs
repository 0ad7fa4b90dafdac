//! §4.8 step 6: permissions boundaries only narrow; step 4 for resource grants.
use crate::common::*;
use policy::{Effect, PolicyKind, PolicyType};

const R: PolicyKind = PolicyKind::Resource;
const TO_ALICE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_ROLE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_SESSION: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s"},"Action":"s3:GetObject","Resource":"*"}}"#;
const TO_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"*"}}"#;
const BOUNDARY_DENY_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;

#[test]
fn boundaries() {
    run_scenarios(&[
        Scenario {
            rule: "§4.8 step 6: identity and boundary both allow",
            identity: &[ALLOW_S3_GET],
            boundary: Some(ALLOW_ALL),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 6: boundary does not allow → implicit deny (boundary)",
            identity: &[ALLOW_S3_GET],
            boundary: Some(ALLOW_IAM_ONLY),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Boundary),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 6: boundary never grants",
            identity: &[ALLOW_IAM_ONLY],
            boundary: Some(ALLOW_ALL),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 1: explicit deny in boundary",
            identity: &[ALLOW_ALL],
            boundary: Some(BOUNDARY_DENY_S3),
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Boundary),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: resource policy naming the user ARN is not limited by the boundary",
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            boundary: Some(ALLOW_IAM_ONLY),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: resource policy naming the session ARN is not limited by the boundary",
            who: Who::Session,
            resource_policy: Some((TO_SESSION, R, ACCOUNT)),
            boundary: Some(ALLOW_IAM_ONLY),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: resource policy naming the role ARN is limited by the boundary",
            who: Who::Session,
            resource_policy: Some((TO_ROLE, R, ACCOUNT)),
            boundary: Some(ALLOW_IAM_ONLY),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Boundary),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: role-ARN grant needs no identity allow when the boundary allows",
            who: Who::Session,
            resource_policy: Some((TO_ROLE, R, ACCOUNT)),
            boundary: Some(ALLOW_ALL),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: account grant only delegates (identity must allow)",
            resource_policy: Some((TO_ACCOUNT, R, ACCOUNT)),
            boundary: Some(ALLOW_ALL),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.8 step 4: explicit deny in the boundary still beats a direct resource grant",
            resource_policy: Some((TO_ALICE, R, ACCOUNT)),
            boundary: Some(BOUNDARY_DENY_S3),
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Boundary),
            ..BASE
        },
    ]);
}
