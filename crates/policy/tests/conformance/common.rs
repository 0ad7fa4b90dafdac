//! Shared harness for the conformance tables. Every case names the rule of
//! `shared/docs/aws-reference.md` it checks; a failing run lists every failing case with its rule.

use policy::{
    Context, Effect, Policy, PolicyKind, PolicySet, PolicySource, PolicyType, Principal, Request,
    evaluate,
};

pub type Keys = &'static [(&'static str, &'static [&'static str])];

pub const ACCOUNT: &str = "111122223333";

pub fn ctx(keys: Keys) -> Context {
    let mut c = Context::new();
    for (k, v) in keys {
        c.insert(k, v.iter().copied());
    }
    c
}

pub fn alice() -> Principal {
    Principal::user("arn:aws:iam::111122223333:user/alice").with_user_id("AIDAEXAMPLEALICE00001")
}

/// Collects failures instead of stopping at the first one.
#[derive(Default)]
pub struct Report(Vec<String>);

impl Report {
    pub fn check(&mut self, ok: bool, rule: &str, what: impl std::fmt::Display) {
        if !ok {
            self.0.push(format!("[{rule}] {what}"));
        }
    }
    pub fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} conformance case(s) failed:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

/// A condition block evaluated in an identity policy `Allow s3:GetObject on *` for an IAM user.
pub struct CondCase {
    pub rule: &'static str,
    pub condition: &'static str,
    pub keys: Keys,
    pub allow: bool,
}

pub const fn cc(rule: &'static str, condition: &'static str, keys: Keys, allow: bool) -> CondCase {
    CondCase {
        rule,
        condition,
        keys,
        allow,
    }
}

pub fn with_condition(version: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"{version}","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{condition}}}}}"#
    )
}

pub fn run_conditions(cases: &[CondCase]) {
    let mut r = Report::default();
    for c in cases {
        let doc = with_condition("2012-10-17", c.condition);
        let p = match Policy::parse(&doc, PolicyKind::Identity) {
            Ok(p) => p,
            Err(e) => {
                r.check(false, c.rule, format!("{} did not parse: {e}", c.condition));
                continue;
            }
        };
        let who = alice();
        let context = ctx(c.keys);
        let set = PolicySet::new().identity(&p, "p", PolicySource::User);
        let d = evaluate(
            &Request::new(&who, "s3:GetObject", "arn:aws:s3:::b/k", &context),
            &set,
        );
        r.check(
            d.is_allowed() == c.allow,
            c.rule,
            format!(
                "{} with {:?}: expected {}, got {:?}",
                c.condition,
                c.keys,
                if c.allow { "Allow" } else { "deny" },
                d.effect
            ),
        );
    }
    r.finish();
}

/// A document that must be rejected (or accepted) for a kind.
pub struct ParseCase {
    pub rule: &'static str,
    pub kind: PolicyKind,
    pub doc: &'static str,
    /// `None`: must parse. `Some(text)`: must fail with a message containing `text`.
    pub error: Option<&'static str>,
}

pub const fn pc(
    rule: &'static str,
    kind: PolicyKind,
    doc: &'static str,
    error: Option<&'static str>,
) -> ParseCase {
    ParseCase {
        rule,
        kind,
        doc,
        error,
    }
}

pub fn run_parse(cases: &[ParseCase]) {
    let mut r = Report::default();
    for c in cases {
        match (Policy::parse(c.doc, c.kind), c.error) {
            (Ok(_), None) => {}
            (Ok(_), Some(want)) => r.check(
                false,
                c.rule,
                format!("{} accepted; expected `{want}`", c.doc),
            ),
            (Err(e), None) => r.check(false, c.rule, format!("{} rejected: {e}", c.doc)),
            (Err(e), Some(want)) => r.check(
                e.to_string().contains(want) && !e.is_too_large(),
                c.rule,
                format!("{}: got `{e}`, expected `{want}`", c.doc),
            ),
        }
    }
    r.finish();
}

/// Which principal makes a scenario request.
#[derive(Clone, Copy)]
pub enum Who {
    /// IAM user alice in ACCOUNT.
    User,
    /// IAM user bob in OTHER.
    OtherUser,
    /// Session `s` of role `R` in ACCOUNT.
    Session,
    /// Session `s` of role `R` in OTHER.
    OtherSession,
    /// Federated user `fed` in ACCOUNT, created by alice.
    Federated,
    /// Root of ACCOUNT.
    Root,
    Anonymous,
    /// AssumeRoleWithWebIdentity caller through the GitHub OIDC provider of ACCOUNT.
    WebIdentity,
    /// AssumeRoleWithSAML caller through saml-provider/Corp of ACCOUNT.
    Saml,
}

impl Who {
    pub fn principal(self) -> Principal {
        match self {
            Who::User => alice(),
            Who::OtherUser => Principal::user("arn:aws:iam::444455556666:user/bob"),
            Who::Session => Principal::assumed_role(
                "arn:aws:sts::111122223333:assumed-role/R/s",
                "arn:aws:iam::111122223333:role/R",
            )
            .with_user_id("AROAEXAMPLEROLE000001:s"),
            Who::OtherSession => Principal::assumed_role(
                "arn:aws:sts::444455556666:assumed-role/R/s",
                "arn:aws:iam::444455556666:role/R",
            ),
            Who::Federated => Principal::federated_user(
                "arn:aws:sts::111122223333:federated-user/fed",
                Some("arn:aws:iam::111122223333:user/alice"),
            ),
            Who::Root => Principal::root(ACCOUNT),
            Who::Anonymous => Principal::anonymous(),
            Who::WebIdentity => Principal::web_identity(
                "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
            ),
            Who::Saml => Principal::saml("arn:aws:iam::111122223333:saml-provider/Corp"),
        }
    }
}

/// A full evaluation scenario.
pub struct Scenario {
    pub rule: &'static str,
    pub who: Who,
    pub action: &'static str,
    pub resource: &'static str,
    pub identity: &'static [&'static str],
    /// (document, kind, owner account)
    pub resource_policy: Option<(&'static str, PolicyKind, &'static str)>,
    pub boundary: Option<&'static str>,
    pub session: &'static [&'static str],
    pub scps: &'static [&'static [&'static str]],
    pub keys: Keys,
    pub effect: Effect,
    pub denied_by: Option<PolicyType>,
}

pub const BASE: Scenario = Scenario {
    rule: "",
    who: Who::User,
    action: "s3:GetObject",
    resource: "arn:aws:s3:::bucket/key",
    identity: &[],
    resource_policy: None,
    boundary: None,
    session: &[],
    scps: &[],
    keys: &[],
    effect: Effect::ImplicitDeny,
    denied_by: None,
};

fn parse(r: &mut Report, rule: &str, doc: &str, kind: PolicyKind) -> Option<Policy> {
    match Policy::parse(doc, kind) {
        Ok(p) => Some(p),
        Err(e) => {
            r.check(false, rule, format!("{doc} did not parse as {kind:?}: {e}"));
            None
        }
    }
}

pub fn run_scenarios(cases: &[Scenario]) {
    let mut r = Report::default();
    for c in cases {
        let mut ok = true;
        let mut idp = Vec::new();
        for d in c.identity {
            match parse(&mut r, c.rule, d, PolicyKind::Identity) {
                Some(p) => idp.push(p),
                None => ok = false,
            }
        }
        let rp = c
            .resource_policy
            .and_then(|(d, k, owner)| parse(&mut r, c.rule, d, k).map(|p| (p, owner)));
        let bp = c
            .boundary
            .and_then(|d| parse(&mut r, c.rule, d, PolicyKind::Boundary));
        let mut sp = Vec::new();
        for d in c.session {
            match parse(&mut r, c.rule, d, PolicyKind::Session) {
                Some(p) => sp.push(p),
                None => ok = false,
            }
        }
        let mut scp = Vec::new();
        for level in c.scps {
            let mut l = Vec::new();
            for d in *level {
                match parse(&mut r, c.rule, d, PolicyKind::Scp) {
                    Some(p) => l.push(p),
                    None => ok = false,
                }
            }
            scp.push(l);
        }
        if !ok
            || c.resource_policy.is_some() != rp.is_some()
            || c.boundary.is_some() != bp.is_some()
        {
            continue;
        }
        let mut set = PolicySet::new();
        for p in &idp {
            set = set.identity(p, "identity", PolicySource::UserManaged);
        }
        if let Some((p, owner)) = &rp {
            set = set.resource(p, "resource", owner);
        }
        if let Some(b) = &bp {
            set = set.boundary(b, "boundary");
        }
        for s in &sp {
            set = set.session(s, "session");
        }
        for l in &scp {
            set = set.scp_level(
                l.iter()
                    .map(|p| policy::PolicyRef::new(p, "scp", PolicySource::None))
                    .collect(),
            );
        }
        let who = c.who.principal();
        let mut context = ctx(c.keys);
        who.fill_context(&mut context);
        let d = evaluate(&Request::new(&who, c.action, c.resource, &context), &set);
        r.check(
            d.effect == c.effect && (c.denied_by.is_none() || d.denied_by == c.denied_by),
            c.rule,
            format!(
                "{} {} on {}: expected {:?}/{:?}, got {:?}/{:?}",
                who.arn, c.action, c.resource, c.effect, c.denied_by, d.effect, d.denied_by
            ),
        );
    }
    r.finish();
}

/// `{"Version":"2012-10-17","Statement":{"Effect":E,"Action":A,"Resource":R}}`-style helper docs.
pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
pub const ALLOW_S3_GET: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
pub const DENY_S3_GET: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}}"#;
pub const ALLOW_IAM_ONLY: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#;
