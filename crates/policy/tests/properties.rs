//! Property tests: parse → serialise → parse round trip; statement order never changes a
//! decision; adding a Deny never turns a denial into an Allow; deep nesting is refused without
//! exhausting a small stack.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]
#![expect(
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a bad index fails the test"
)]
use policy::{
    Context, Effect, Policy, PolicyKind, PolicySet, PolicySource, Principal, Request, evaluate,
};
use proptest::prelude::*;

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "S3:getobject",
    "iam:GetUser",
    "iam:*User*",
    "*",
    "sts:AssumeRole",
    "s3:?etObject",
    "ec2:Describe*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:iam::111122223333:user/*",
    "arn:aws:iam::*",
    "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/x",
    "arn:aws:s3:::*/x",
];
const CONDITIONS: &[&str] = &[
    r#""StringEquals":{"aws:PrincipalTag/team":["blue","red"]}"#,
    r#""StringNotEquals":{"aws:PrincipalTag/team":"blue"}"#,
    r#""StringLikeIfExists":{"s3:prefix":"home/${aws:username}/*"}"#,
    r#""IpAddress":{"aws:SourceIp":"10.0.0.0/8"}"#,
    r#""NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}"#,
    r#""Bool":{"aws:SecureTransport":true}"#,
    r#""NumericLessThan":{"aws:MultiFactorAuthAge":3600}"#,
    r#""DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}"#,
    r#""ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}"#,
    r#""ForAnyValue:StringLike":{"aws:TagKeys":"e*"}"#,
    r#""Null":{"aws:PrincipalTag/team":"false"}"#,
    r#""ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}"#,
];
const REQ_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:GetUser",
    "iam:ListUsers",
    "ec2:DescribeVpcs",
    "sts:AssumeRole",
];
const REQ_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/alice/x",
    "arn:aws:s3:::b/shared/x",
    "arn:aws:s3:::b/blue/x",
    "arn:aws:iam::111122223333:user/alice",
    "*",
];

fn list(items: &[String], as_array: bool) -> String {
    if items.len() == 1 && !as_array {
        items[0].clone()
    } else {
        format!("[{}]", items.join(","))
    }
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

prop_compose! {
    fn statement()(
        sid in proptest::option::of("[A-Za-z0-9]{1,6}"),
        deny in any::<bool>(),
        not_action in prop::bool::weighted(0.15),
        actions in prop::collection::vec(prop::sample::select(ACTIONS), 1..3),
        actions_array in any::<bool>(),
        not_resource in prop::bool::weighted(0.15),
        resources in prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
        resources_array in any::<bool>(),
        conditions in prop::collection::btree_set(0..CONDITIONS.len(), 0..3),
    ) -> (Option<String>, String) {
        let actions: Vec<String> = actions.iter().map(|a| q(a)).collect();
        let resources: Vec<String> = resources.iter().map(|r| q(r)).collect();
        let mut s = String::from("{");
        s.push_str(&format!(r#""Effect":"{}""#, if deny { "Deny" } else { "Allow" }));
        s.push_str(&format!(r#","{}":{}"#, if not_action { "NotAction" } else { "Action" }, list(&actions, actions_array)));
        s.push_str(&format!(r#","{}":{}"#, if not_resource { "NotResource" } else { "Resource" }, list(&resources, resources_array)));
        if !conditions.is_empty() {
            let c: Vec<&str> = conditions.iter().map(|&i| CONDITIONS[i]).collect();
            s.push_str(&format!(r#","Condition":{{{}}}"#, c.join(",")));
        }
        s.push('}');
        (sid, s)
    }
}

fn document(stmts: &[(Option<String>, String)], as_array: bool, version: bool) -> String {
    // Sids must be unique: number them.
    let body: Vec<String> = stmts
        .iter()
        .enumerate()
        .map(|(i, (sid, s))| match sid {
            Some(sid) => format!(r#"{{"Sid":"{sid}{i}",{}"#, &s[1..]),
            None => s.clone(),
        })
        .collect();
    let v = if version {
        r#""Version":"2012-10-17","#
    } else {
        ""
    };
    format!(r#"{{{v}"Statement":{}}}"#, list(&body, as_array))
}

prop_compose! {
    fn request_context()(
        team in proptest::option::of(prop::sample::select(&["blue", "red", "green"][..])),
        ip in proptest::option::of(prop::sample::select(&["10.1.2.3", "192.0.2.9", "2001:db8::1", "203.0.113.1"][..])),
        secure in proptest::option::of(any::<bool>()),
        mfa_age in proptest::option::of(0u32..10_000),
        tag_keys in proptest::option::of(prop::collection::vec(prop::sample::select(&["env", "team", "cost"][..]), 0..3)),
        prefix in proptest::option::of(prop::sample::select(&["home/alice/x", "home/bob/x", "tmp"][..])),
    ) -> Context {
        let mut c = Context::new();
        if let Some(t) = team { c.set("aws:PrincipalTag/team", t); }
        if let Some(i) = ip { c.set("aws:SourceIp", i); }
        if let Some(s) = secure { c.set("aws:SecureTransport", s.to_string()); }
        if let Some(a) = mfa_age { c.set("aws:MultiFactorAuthAge", a.to_string()); }
        if let Some(k) = tag_keys { c.insert("aws:TagKeys", k); }
        if let Some(p) = prefix { c.set("s3:prefix", p); }
        c.set("aws:CurrentTime", "2025-01-01T00:00:00Z");
        c
    }
}

fn principal(kind: u8) -> Principal {
    match kind % 3 {
        0 => Principal::user("arn:aws:iam::111122223333:user/alice"),
        1 => Principal::assumed_role(
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:iam::111122223333:role/R",
        ),
        _ => Principal::federated_user("arn:aws:sts::111122223333:federated-user/f", None),
    }
}

struct World {
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    session: Option<Policy>,
}

impl World {
    fn decide(&self, who: &Principal, action: &str, resource: &str, ctx: &Context) -> Effect {
        let mut ctx = ctx.clone();
        who.fill_context(&mut ctx);
        let mut set = PolicySet::new();
        for p in &self.identity {
            set = set.identity(p, "p", PolicySource::UserManaged);
        }
        if let Some(b) = &self.boundary {
            set = set.boundary(b, "b");
        }
        if let Some(s) = &self.session {
            set = set.session(s, "s");
        }
        evaluate(&Request::new(who, action, resource, &ctx), &set).effect
    }
}

fn parse(stmts: &[(Option<String>, String)], kind: PolicyKind) -> Policy {
    Policy::parse_with_limit(&document(stmts, true, true), kind, usize::MAX).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(stmts in prop::collection::vec(statement(), 1..6), as_array in any::<bool>(), version in any::<bool>()) {
        let doc = document(&stmts, as_array, version);
        let p = Policy::parse_with_limit(&doc, PolicyKind::Identity, usize::MAX).unwrap();
        let json = p.to_json();
        let again = Policy::parse_with_limit(&json, PolicyKind::Identity, usize::MAX).unwrap();
        prop_assert_eq!(&again, &p);
        prop_assert_eq!(again.to_json(), json);
    }

    #[test]
    fn statement_order_does_not_matter(
        stmts in prop::collection::vec(statement(), 1..8),
        perm in any::<prop::sample::Index>(),
        ctx in request_context(),
        kind in any::<u8>(),
        action in prop::sample::select(REQ_ACTIONS),
        resource in prop::sample::select(REQ_RESOURCES),
    ) {
        let mut shuffled = stmts.clone();
        let k = perm.index(shuffled.len());
        shuffled.rotate_left(k);
        shuffled.reverse();
        let who = principal(kind);
        let a = World { identity: vec![parse(&stmts, PolicyKind::Identity)], boundary: None, session: None };
        let b = World { identity: vec![parse(&shuffled, PolicyKind::Identity)], boundary: None, session: None };
        prop_assert_eq!(a.decide(&who, action, resource, &ctx), b.decide(&who, action, resource, &ctx));
        // Splitting the statements over several policies does not matter either.
        let (x, y) = stmts.split_at(stmts.len() / 2);
        let mut parts = Vec::new();
        if !x.is_empty() { parts.push(parse(x, PolicyKind::Identity)); }
        if !y.is_empty() { parts.push(parse(y, PolicyKind::Identity)); }
        let c = World { identity: parts, boundary: None, session: None };
        prop_assert_eq!(a.decide(&who, action, resource, &ctx), c.decide(&who, action, resource, &ctx));
    }

    #[test]
    fn adding_a_deny_never_allows(
        identity in prop::collection::vec(statement(), 1..6),
        boundary in proptest::option::of(prop::collection::vec(statement(), 1..3)),
        session in proptest::option::of(prop::collection::vec(statement(), 1..3)),
        extra in statement(),
        layer in 0u8..3,
        ctx in request_context(),
        kind in any::<u8>(),
        action in prop::sample::select(REQ_ACTIONS),
        resource in prop::sample::select(REQ_RESOURCES),
    ) {
        let who = principal(kind);
        let before = World {
            identity: vec![parse(&identity, PolicyKind::Identity)],
            boundary: boundary.as_ref().map(|b| parse(b, PolicyKind::Boundary)),
            session: session.as_ref().map(|s| parse(s, PolicyKind::Session)),
        };
        let deny = (None, extra.1.replacen(r#""Effect":"Allow""#, r#""Effect":"Deny""#, 1));
        let mut after = World {
            identity: before.identity.clone(),
            boundary: before.boundary.clone(),
            session: before.session.clone(),
        };
        let with = |v: &Option<Vec<(Option<String>, String)>>| {
            let mut v = v.clone().unwrap_or_default();
            v.push(deny.clone());
            v
        };
        match layer {
            0 => after.identity.push(parse(std::slice::from_ref(&deny), PolicyKind::Identity)),
            1 if boundary.is_some() => after.boundary = Some(parse(&with(&boundary), PolicyKind::Boundary)),
            2 if session.is_some() => after.session = Some(parse(&with(&session), PolicyKind::Session)),
            _ => after.identity.push(parse(std::slice::from_ref(&deny), PolicyKind::Identity)),
        }
        let b = before.decide(&who, action, resource, &ctx);
        let a = after.decide(&who, action, resource, &ctx);
        if a == Effect::Allow {
            prop_assert_eq!(b, Effect::Allow);
        }
        if b == Effect::ExplicitDeny {
            prop_assert_eq!(a, Effect::ExplicitDeny);
        }
    }
}

/// Runs `f` on a thread with a 256 KiB stack, as the fuzz targets do: unbounded recursion in
/// the parser would overflow it and abort the test run.
fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn_scoped(s, f)
            .unwrap()
            .join()
            .unwrap()
    })
}

/// Where the deep value goes: alone, or as a condition value / a statement inside a policy.
fn embed(place: u8, deep: &str) -> String {
    match place % 3 {
        0 => deep.to_owned(),
        1 => format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringLike":{{"aws:x":{deep}}}}}}}}}"#
        ),
        _ => format!(r#"{{"Version":"2012-10-17","Statement":[{deep}]}}"#),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Balanced documents nested 33 to 10,000 levels deep (arrays and objects mixed, each level
    /// chosen at random): every parse entry refuses them, with an error and without overflowing
    /// a small stack.
    #[test]
    fn deep_nesting_is_an_error(
        levels in prop::collection::vec(any::<bool>(), 33..10_000),
        place in any::<u8>(),
        kind in 0usize..6,
    ) {
        let mut deep = String::new();
        for &obj in &levels {
            deep.push_str(if obj { r#"{"k":"# } else { "[" });
        }
        deep.push_str("\"v\"");
        for &obj in levels.iter().rev() {
            deep.push(if obj { '}' } else { ']' });
        }
        let doc = embed(place, &deep);
        let kind = [
            PolicyKind::Identity,
            PolicyKind::Resource,
            PolicyKind::Trust,
            PolicyKind::Boundary,
            PolicyKind::Session,
            PolicyKind::Scp,
        ][kind];
        let (a, b) = on_small_stack(|| {
            (
                Policy::parse(&doc, kind).map(|_| ()),
                Policy::parse_with_limit(&doc, kind, usize::MAX).map(|_| ()),
            )
        });
        prop_assert!(a.is_err());
        let e = b.unwrap_err();
        prop_assert!(e.to_string().contains("nested too deeply"), "{}", e);
    }
}
