//! §4.2 Principal element forms and how request principals match them (resource policies).
use crate::common::*;
use policy::{Effect, PolicyKind, PolicyType};

macro_rules! rp {
    ($principal:literal) => {
        concat!(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"#,
            $principal,
            r#","Action":"s3:GetObject","Resource":"*"}}"#
        )
    };
}

const R: PolicyKind = PolicyKind::Resource;

#[test]
fn principal_forms() {
    run_scenarios(&[
        Scenario {
            rule: "§4.2 \"*\" is everyone, including anonymous",
            who: Who::Anonymous,
            resource_policy: Some((rp!(r#""*""#), R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 {\"AWS\":\"*\"} is everyone",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((rp!(r#"{"AWS":"*"}"#), R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 account shorthand names the account (same account: identity must allow)",
            resource_policy: Some((rp!(r#"{"AWS":"111122223333"}"#), R, ACCOUNT)),
            denied_by: Some(PolicyType::Identity),
            ..BASE
        },
        Scenario {
            rule: "§4.2 account shorthand + identity allow",
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((rp!(r#"{"AWS":"111122223333"}"#), R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 root ARN equals account shorthand",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#),
                R,
                ACCOUNT,
            )),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 account principal does not match another account",
            who: Who::OtherUser,
            identity: &[ALLOW_S3_GET],
            resource_policy: Some((rp!(r#"{"AWS":"111122223333"}"#), R, ACCOUNT)),
            denied_by: Some(PolicyType::Resource),
            ..BASE
        },
        Scenario {
            rule: "§4.2 user ARN matches that user",
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#),
                R,
                ACCOUNT,
            )),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 user ARN does not match another user",
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:iam::111122223333:user/bob"}"#),
                R,
                ACCOUNT,
            )),
            ..BASE
        },
        Scenario {
            rule: "§4.2 unique ID (as IAM stores it) matches the user",
            resource_policy: Some((rp!(r#"{"AWS":"AIDAEXAMPLEALICE00001"}"#), R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 role ARN matches sessions of the role",
            who: Who::Session,
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:iam::111122223333:role/R"}"#),
                R,
                ACCOUNT,
            )),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 role unique ID matches sessions of the role",
            who: Who::Session,
            resource_policy: Some((rp!(r#"{"AWS":"AROAEXAMPLEROLE000001"}"#), R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 session ARN matches exactly that session",
            who: Who::Session,
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s"}"#),
                R,
                ACCOUNT,
            )),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 session ARN does not match another session",
            who: Who::Session,
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/R/other"}"#),
                R,
                ACCOUNT,
            )),
            ..BASE
        },
        Scenario {
            rule: "§4.2 federated user matches its federated-user ARN",
            who: Who::Federated,
            resource_policy: Some((
                rp!(r#"{"AWS":"arn:aws:sts::111122223333:federated-user/fed"}"#),
                R,
                ACCOUNT,
            )),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 root matches the account",
            who: Who::Root,
            resource_policy: Some((rp!(r#"{"AWS":"111122223333"}"#), R, ACCOUNT)),
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.2 anonymous does not match an account",
            who: Who::Anonymous,
            resource_policy: Some((rp!(r#"{"AWS":"111122223333"}"#), R, ACCOUNT)),
            ..BASE
        },
        Scenario {
            rule: "§4.2 Service principal does not match IAM users",
            resource_policy: Some((rp!(r#"{"Service":"ec2.amazonaws.com"}"#), R, ACCOUNT)),
            ..BASE
        },
        Scenario {
            rule: "§4.2 values in arrays are OR-ed",
            resource_policy: Some((
                rp!(
                    r#"{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:user/alice"]}"#
                ),
                R,
                ACCOUNT,
            )),
            effect: Effect::Allow,
            ..BASE
        },
    ]);
}

#[test]
fn principal_validation() {
    run_parse(&[
        pc(
            "§4.2 wildcards inside principal strings are not allowed",
            R,
            rp!(r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#),
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 wildcard in session ARN not allowed",
            R,
            rp!(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/R/*"}"#),
            Some("Invalid principal"),
        ),
        pc("§4.2 bare \"*\" allowed", R, rp!(r#""*""#), None),
        pc(
            "§4.2 AWS/Service/Federated/CanonicalUser forms",
            R,
            rp!(
                r#"{"AWS":["111122223333","arn:aws:iam::111122223333:root"],"Service":"ec2.amazonaws.com","Federated":"accounts.google.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#
            ),
            None,
        ),
        pc(
            "§4.2 CanonicalUser rejected in IAM-stored policies",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"sts:AssumeRole"}}"#,
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 unknown principal type",
            R,
            rp!(r#"{"Users":"x"}"#),
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 a principal string other than * is invalid",
            R,
            rp!(r#""111122223333""#),
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 empty principal object",
            R,
            rp!(r#"{}"#),
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 empty principal array",
            R,
            rp!(r#"{"AWS":[]}"#),
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 malformed account",
            R,
            rp!(r#"{"AWS":"12345"}"#),
            Some("Invalid principal"),
        ),
        pc(
            "§4.2 unique IDs accepted",
            R,
            rp!(r#"{"AWS":"AROAEXAMPLEROLE000001"}"#),
            None,
        ),
    ]);
}

#[test]
fn principal_arns_are_reported() {
    let p = policy::Policy::parse(
        rp!(r#"{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/R"],"Federated":"accounts.google.com"}"#),
        R,
    )
    .unwrap();
    assert_eq!(
        p.principal_arns().collect::<Vec<_>>(),
        [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:role/R"
        ]
    );
    assert_eq!(
        p.federated_principals().collect::<Vec<_>>(),
        ["accounts.google.com"]
    );
}

/// §3.1/§4.2: IAM stores a named user or role principal as its unique ID. Once bound, the ARN
/// names only the entity that had it when the policy was stored: a namesake re-created after a
/// deletion (same ARN, new ID) matches nothing, and a session of a re-created role neither.
#[test]
fn principals_bound_to_unique_ids() {
    use policy::{
        Context, Policy, PolicyRef, PolicySet, PolicySource, Principal, Request, evaluate_trust,
    };
    let trust = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":[
            "arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/R"]},
            "Action":"sts:AssumeRole"}}"#,
        PolicyKind::Trust,
    )
    .unwrap();
    let bound = trust.with_principal_ids(&[
        (
            "arn:aws:iam::111122223333:user/alice".into(),
            "AIDAEXAMPLEALICE00001".into(),
        ),
        (
            "arn:aws:iam::111122223333:role/R".into(),
            "AROAEXAMPLEROLE000001".into(),
        ),
    ]);
    let ctx = Context::new();
    let allowed = |policy: &Policy, who: &Principal| {
        let req = Request::new(
            who,
            "sts:AssumeRole",
            "arn:aws:iam::111122223333:role/T",
            &ctx,
        );
        let r = PolicyRef::new(policy, "trust", PolicySource::Resource);
        evaluate_trust(&req, r, ACCOUNT, &PolicySet::new()).is_allowed()
    };
    let original = alice();
    let namesake = Principal::user("arn:aws:iam::111122223333:user/alice")
        .with_user_id("AIDAEXAMPLEALICE00002");
    let session = |id: &str| {
        Principal::assumed_role(
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:iam::111122223333:role/R",
        )
        .with_user_id(&format!("{id}:s"))
    };
    // By ARN (unbound) both the original and the namesake match.
    assert!(allowed(&trust, &original) && allowed(&trust, &namesake));
    // Bound: only the entity with the recorded ID.
    assert!(
        allowed(&bound, &original),
        "§4.2 bound principal matches its entity"
    );
    assert!(
        !allowed(&bound, &namesake),
        "§3.1 a re-created namesake matches nothing"
    );
    assert!(
        allowed(&bound, &session("AROAEXAMPLEROLE000001")),
        "§4.2 sessions of the bound role"
    );
    assert!(
        !allowed(&bound, &session("AROAEXAMPLEROLE000002")),
        "§3.1 sessions of a re-created role"
    );
    // The document as written is unchanged.
    assert_eq!(bound.to_json(), trust.to_json());
}
