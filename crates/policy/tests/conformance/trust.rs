//! §4.9 trust-policy evaluation for AssumeRole, AssumeRoleWithWebIdentity, AssumeRoleWithSAML,
//! sts:TagSession, sts:SetSourceIdentity, sts:SetContext; §4.12 ExternalId.
use crate::common::*;
use policy::{
    Context, Effect, Policy, PolicyKind, PolicyRef, PolicySet, PolicySource, PolicyType, Request,
    evaluate_actions, evaluate_trust,
};

const ROLE: &str = "arn:aws:iam::111122223333:role/Target";

const TRUST_USER: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}}"#;
const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#;
const TRUST_ROLE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"sts:AssumeRole"}}"#;
const TRUST_SESSION: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s"},"Action":"sts:AssumeRole"}}"#;
const TRUST_PARTNER: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Partner-7f3a"}}}}"#;
const TRUST_OIDC: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
  "Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],
  "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
               "StringLike":{"token.actions.githubusercontent.com:sub":"repo:example-org/*:ref:refs/heads/main"}}},
 {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/Corp"},
  "Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}"#;
const TRUST_DENY_TAGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]},
 {"Effect":"Deny","Principal":"*","Action":"sts:TagSession","Condition":{"StringEquals":{"aws:RequestTag/admin":"true"}}}]}"#;
const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/Target"}}"#;
const ALLOW_ASSUME_ANY: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:*","Resource":"*"}}"#;
const DENY_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}}"#;

struct TrustCase {
    rule: &'static str,
    who: Who,
    trust: &'static str,
    identity: &'static [&'static str],
    boundary: Option<&'static str>,
    session: &'static [&'static str],
    actions: &'static [&'static str],
    keys: Keys,
    effect: Effect,
    denied_by: Option<PolicyType>,
}

const T: TrustCase = TrustCase {
    rule: "",
    who: Who::User,
    trust: TRUST_USER,
    identity: &[],
    boundary: None,
    session: &[],
    actions: &["sts:AssumeRole"],
    keys: &[],
    effect: Effect::Allow,
    denied_by: None,
};

fn run(cases: &[TrustCase]) {
    let mut r = Report::default();
    for c in cases {
        let trust = Policy::parse(c.trust, PolicyKind::Trust).unwrap();
        let idp: Vec<Policy> = c
            .identity
            .iter()
            .map(|d| Policy::parse(d, PolicyKind::Identity).unwrap())
            .collect();
        let bp = c
            .boundary
            .map(|d| Policy::parse(d, PolicyKind::Boundary).unwrap());
        let sp: Vec<Policy> = c
            .session
            .iter()
            .map(|d| Policy::parse(d, PolicyKind::Session).unwrap())
            .collect();
        let mut set = PolicySet::new();
        for p in &idp {
            set = set.identity(p, "id", PolicySource::UserManaged);
        }
        if let Some(b) = &bp {
            set = set.boundary(b, "b");
        }
        for s in &sp {
            set = set.session(s, "s");
        }
        let who = c.who.principal();
        let mut context: Context = ctx(c.keys);
        who.fill_context(&mut context);
        let mut last = None;
        for a in c.actions {
            let req = Request::new(&who, a, ROLE, &context);
            let d = evaluate_trust(
                &req,
                PolicyRef::new(&trust, "trust", PolicySource::Resource),
                ACCOUNT,
                &set,
            );
            let stop = !d.is_allowed();
            last = Some((d.effect, d.denied_by));
            if stop {
                break;
            }
        }
        let (effect, denied_by) = last.unwrap();
        r.check(
            effect == c.effect && (c.denied_by.is_none() || denied_by == c.denied_by),
            c.rule,
            format!(
                "{} {:?}: expected {:?}/{:?}, got {:?}/{:?}",
                who.arn, c.actions, c.effect, c.denied_by, effect, denied_by
            ),
        );
    }
    r.finish();
}

#[test]
fn assume_role_same_account() {
    run(&[
        TrustCase {
            rule: "§4.9 same account, trust names the user: no identity allow needed",
            ..T
        },
        TrustCase {
            rule: "§4.9 same account, trust names the account: identity must allow",
            trust: TRUST_ACCOUNT,
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..T
        },
        TrustCase {
            rule: "§4.9 same account, trust names the account + identity allow",
            trust: TRUST_ACCOUNT,
            identity: &[ALLOW_ASSUME],
            ..T
        },
        TrustCase {
            rule: "§4.9 an identity allow alone never suffices",
            trust: TRUST_ROLE,
            identity: &[ALLOW_ASSUME_ANY],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
        TrustCase {
            rule: "§4.9 trust names the caller's role: no identity allow needed",
            who: Who::Session,
            trust: TRUST_ROLE,
            ..T
        },
        TrustCase {
            rule: "§4.9 trust names the caller's role: session policy must allow",
            who: Who::Session,
            trust: TRUST_ROLE,
            session: &[ALLOW_IAM_ONLY],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Session),
            ..T
        },
        TrustCase {
            rule: "§4.9 trust names the caller's role: boundary must allow",
            who: Who::Session,
            trust: TRUST_ROLE,
            boundary: Some(ALLOW_IAM_ONLY),
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Boundary),
            ..T
        },
        TrustCase {
            rule: "§4.9 trust names the session ARN: not narrowed by session policy",
            who: Who::Session,
            trust: TRUST_SESSION,
            session: &[ALLOW_IAM_ONLY],
            ..T
        },
        TrustCase {
            rule: "§4.9 explicit deny in the caller's identity policy refuses",
            identity: &[DENY_ASSUME],
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..T
        },
        TrustCase {
            rule: "§4.9 trust for another principal",
            who: Who::Session,
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
    ]);
}

#[test]
fn assume_role_cross_account() {
    run(&[
        TrustCase {
            rule: "§4.9/§4.12 cross-account with ExternalId and identity allow",
            who: Who::OtherUser,
            trust: TRUST_PARTNER,
            identity: &[ALLOW_ASSUME_ANY],
            keys: &[("sts:ExternalId", &["Partner-7f3a"])],
            ..T
        },
        TrustCase {
            rule: "§4.12 missing ExternalId → denied",
            who: Who::OtherUser,
            trust: TRUST_PARTNER,
            identity: &[ALLOW_ASSUME_ANY],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
        TrustCase {
            rule: "§4.12 wrong ExternalId → denied",
            who: Who::OtherUser,
            trust: TRUST_PARTNER,
            identity: &[ALLOW_ASSUME_ANY],
            keys: &[("sts:ExternalId", &["other"])],
            effect: Effect::ImplicitDeny,
            ..T
        },
        TrustCase {
            rule: "§4.9 cross-account needs the caller's identity allow",
            who: Who::OtherUser,
            trust: TRUST_PARTNER,
            keys: &[("sts:ExternalId", &["Partner-7f3a"])],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Identity),
            ..T
        },
        TrustCase {
            rule: "§4.9 cross-account role session via its account",
            who: Who::OtherSession,
            trust: TRUST_PARTNER,
            identity: &[ALLOW_ASSUME_ANY],
            keys: &[("sts:ExternalId", &["Partner-7f3a"])],
            ..T
        },
    ]);
}

#[test]
fn federation_and_permission_only_actions() {
    run(&[
        TrustCase {
            rule: "§4.9 AssumeRoleWithWebIdentity: Federated provider + claims",
            who: Who::WebIdentity,
            trust: TRUST_OIDC,
            actions: &["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
            keys: &[
                (
                    "token.actions.githubusercontent.com:aud",
                    &["sts.amazonaws.com"],
                ),
                (
                    "token.actions.githubusercontent.com:sub",
                    &["repo:example-org/app:ref:refs/heads/main"],
                ),
            ],
            ..T
        },
        TrustCase {
            rule: "§4.9 AssumeRoleWithWebIdentity: wrong branch",
            who: Who::WebIdentity,
            trust: TRUST_OIDC,
            actions: &["sts:AssumeRoleWithWebIdentity"],
            keys: &[
                (
                    "token.actions.githubusercontent.com:aud",
                    &["sts.amazonaws.com"],
                ),
                (
                    "token.actions.githubusercontent.com:sub",
                    &["repo:example-org/app:ref:refs/heads/dev"],
                ),
            ],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
        TrustCase {
            rule: "§4.9 AssumeRoleWithSAML with SAML:aud (key names case-insensitive)",
            who: Who::Saml,
            trust: TRUST_OIDC,
            actions: &["sts:AssumeRoleWithSAML"],
            keys: &[("saml:aud", &["https://signin.aws.amazon.com/saml"])],
            ..T
        },
        TrustCase {
            rule: "§4.9 SAML caller may not use the web-identity statement",
            who: Who::Saml,
            trust: TRUST_OIDC,
            actions: &["sts:AssumeRoleWithWebIdentity"],
            effect: Effect::ImplicitDeny,
            ..T
        },
        TrustCase {
            rule: "§4.9 sts:TagSession must be allowed separately",
            who: Who::Saml,
            trust: TRUST_OIDC,
            actions: &["sts:AssumeRoleWithSAML", "sts:TagSession"],
            keys: &[("saml:aud", &["https://signin.aws.amazon.com/saml"])],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
        TrustCase {
            rule: "§4.9 AssumeRole + TagSession + SetSourceIdentity all allowed",
            trust: TRUST_DENY_TAGS,
            actions: &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            ..T
        },
        TrustCase {
            rule: "§4.9 explicit deny in the role trust policy",
            trust: TRUST_DENY_TAGS,
            actions: &["sts:AssumeRole", "sts:TagSession"],
            keys: &[("aws:RequestTag/admin", &["true"])],
            effect: Effect::ExplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
        TrustCase {
            rule: "§4.9 sts:SetContext not granted",
            trust: TRUST_DENY_TAGS,
            actions: &["sts:AssumeRole", "sts:SetContext"],
            effect: Effect::ImplicitDeny,
            denied_by: Some(PolicyType::Trust),
            ..T
        },
    ]);
}

#[test]
fn denial_messages() {
    let trust = Policy::parse(TRUST_DENY_TAGS, PolicyKind::Trust).unwrap();
    let who = Who::User.principal();
    let ctx = ctx(&[("aws:RequestTag/admin", &["true"])]);
    let set = PolicySet::new().resource(&trust, "trust", ACCOUNT);
    let d = evaluate_actions(
        &Request::new(&who, "", ROLE, &ctx),
        &["sts:AssumeRole", "sts:TagSession"],
        &set,
    );
    assert_eq!(d.effect, Effect::ExplicitDeny);
    assert_eq!(
        d.denial_message(&who.arn, "sts:TagSession", ROLE),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:TagSession on resource: arn:aws:iam::111122223333:role/Target with an explicit deny in a role trust policy"
    );
    assert_eq!(d.matched.len(), 1);
    assert_eq!(d.matched[0].statement_index, 1);
    assert_eq!(d.matched[0].span.start.line, 2);
}

#[test]
fn trust_validation() {
    run_parse(&[
        pc(
            "§4.1 trust policies: Principal required",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
            Some("Missing required field Principal"),
        ),
        pc(
            "§4.1 trust policies: no Resource",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}}"#,
            Some("Has prohibited field Resource"),
        ),
        pc(
            "§4.9 trust policies allow only STS actions",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}}"#,
            Some("may only specify STS"),
        ),
        pc(
            "§4.9 typical trust policy parses",
            PolicyKind::Trust,
            TRUST_OIDC,
            None,
        ),
        pc(
            "§4.1 Id allowed in resource-based (trust) policies",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Id":"x","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
            None,
        ),
    ]);
}
