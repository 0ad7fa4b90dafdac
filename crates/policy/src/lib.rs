//! The IAM policy engine for `stsd`: the AWS policy language and AWS's evaluation logic as a
//! pure library — no I/O, no clock, no async.
//!
//! * [`Policy::parse`] validates a document for a [`PolicyKind`] with AWS's
//!   `MalformedPolicyDocument` rules and size limits, and compiles it once into an evaluation
//!   form (pre-compiled wildcard patterns, an action index, prepared condition keys).
//! * [`evaluate`] decides a [`Request`] against a [`PolicySet`] (identity, resource, boundary,
//!   session and organization policies) and returns a [`Decision`]: the effect, the policy type
//!   that denied, and the statements that decided it.
//! * [`evaluate_trust`] decides `sts:AssumeRole*` against a role trust policy.
//!
//! Section numbers in the docs refer to `shared/docs/aws-reference.md`.

mod arn;
mod compiled;
mod condition;
mod context;
mod document;
mod error;
mod eval;
mod glob;
mod json;
mod kind;
mod pattern;
mod values;

use std::sync::Arc;

pub use compiled::Grant;
pub use condition::{BaseOperator, Operator, SetQualifier};
pub use context::{Context, Principal, PrincipalKind, Request, arn_account};
pub use document::{
    ConditionBlock, ListElement, OneOrMany, PolicyDocument, PrincipalElement, PrincipalType,
    PrincipalValue, Scalar, ScalarKind, Span, Statement, StatementEffect, Version,
    non_whitespace_len,
};
pub use error::{Location, Malformed, PolicyError};
pub use eval::{
    Decision, Effect, MatchedStatement, PolicyRef, PolicySet, PolicySource, ResourcePolicy,
    evaluate, evaluate_actions, evaluate_trust,
};
pub use json::Position;
pub use kind::{MAX_WIRE_CHARS, PolicyKind, PolicyType, SizeLimit};

#[derive(Debug)]
struct Inner {
    kind: PolicyKind,
    doc: PolicyDocument,
    spans: Vec<Span>,
    compiled: compiled::Compiled,
    context_keys: Vec<String>,
}

/// A validated, compiled policy. Cloning is cheap (one reference count); share freely across
/// threads.
#[derive(Debug, Clone)]
pub struct Policy {
    inner: Arc<Inner>,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.inner.kind == other.inner.kind && self.inner.doc == other.inner.doc
    }
}

impl Eq for Policy {}

/// A statement's identity inside its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementInfo<'a> {
    /// 0-based position in the policy.
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<&'a str>,
    /// `Allow` or `Deny`.
    pub effect: StatementEffect,
    /// Where the statement is in the source text.
    pub span: Span,
    /// The statement as written.
    pub statement: &'a Statement,
}

impl Policy {
    /// Parses, validates and compiles `doc` as a policy of `kind`, enforcing the kind's
    /// default size limit ([`PolicyKind::size_limit`]) and the 131,072-character wire limit.
    pub fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Policy::parse_with_size_limit(doc, kind, kind.size_limit())
    }

    /// Like [`Policy::parse`] with a different maximum size, counted like the kind's default
    /// (non-whitespace characters except for session and resource policies). Use it for inline
    /// policies (the remaining aggregate budget) and adjusted quotas.
    pub fn parse_with_limit(
        doc: &str,
        kind: PolicyKind,
        max: usize,
    ) -> Result<Policy, PolicyError> {
        Policy::parse_with_size_limit(
            doc,
            kind,
            SizeLimit {
                max,
                ..kind.size_limit()
            },
        )
    }

    /// Like [`Policy::parse`] with an explicit size rule.
    pub fn parse_with_size_limit(
        doc: &str,
        kind: PolicyKind,
        limit: SizeLimit,
    ) -> Result<Policy, PolicyError> {
        let (parsed, spans) = document::parse_document(doc, kind, limit)?;
        Policy::from_document(parsed, spans, kind)
    }

    fn from_document(
        doc: PolicyDocument,
        spans: Vec<Span>,
        kind: PolicyKind,
    ) -> Result<Policy, PolicyError> {
        let compiled = compiled::compile(&doc).map_err(|d| {
            PolicyError::new("Syntax errors in policy.", Some(d), Location::default())
        })?;
        let context_keys = collect_context_keys(&doc);
        Ok(Policy {
            inner: Arc::new(Inner {
                kind,
                doc,
                spans,
                compiled,
                context_keys,
            }),
        })
    }

    /// The kind the policy was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// The document as written.
    pub fn document(&self) -> &PolicyDocument {
        &self.inner.doc
    }

    /// The statements with their index and `Sid`.
    pub fn statements(&self) -> impl Iterator<Item = StatementInfo<'_>> {
        self.inner
            .doc
            .statements
            .iter()
            .enumerate()
            .map(|(index, s)| StatementInfo {
                index,
                sid: s.sid.as_deref(),
                effect: s.effect,
                span: self.inner.spans.get(index).copied().unwrap_or_default(),
                statement: s,
            })
    }

    /// Number of statements.
    pub fn len(&self) -> usize {
        self.inner.doc.statements.len()
    }

    /// Always false: a policy has at least one statement.
    pub fn is_empty(&self) -> bool {
        self.inner.doc.statements.is_empty()
    }

    /// ARNs in `AWS` entries of `Principal`/`NotPrincipal` (`arn:aws:iam::A:user/x`,
    /// `…:role/x`, `…:root`, session ARNs), so the server can check that they exist. Account
    /// IDs, unique IDs and `*` are not included.
    pub fn principal_arns(&self) -> impl Iterator<Item = &str> {
        self.principal_values(PrincipalType::Aws)
            .filter(|s| s.starts_with("arn:"))
    }

    /// The same policy with `AWS` principals that name IAM users or roles by ARN bound to the unique
    /// IDs IAM recorded for them when the policy was stored (reference §3.1, §4.2): a principal
    /// `arn:aws:iam::A:user/bob` bound to `AIDA…` then matches only the user with that ID, so a
    /// namesake created after `bob` was deleted gains nothing. `ids` holds (ARN, unique ID) pairs;
    /// ARNs not listed keep matching by ARN. The document as written is unchanged.
    #[must_use]
    pub fn with_principal_ids(&self, ids: &[(String, String)]) -> Policy {
        if ids.is_empty() {
            return self.clone();
        }
        let mut compiled = self.inner.compiled.clone();
        compiled.bind_principal_ids(|arn| {
            ids.iter()
                .find(|(a, _)| a == arn)
                .map(|(_, id)| id.as_str())
        });
        Policy {
            inner: Arc::new(Inner {
                kind: self.inner.kind,
                doc: self.inner.doc.clone(),
                spans: self.inner.spans.clone(),
                compiled,
                context_keys: self.inner.context_keys.clone(),
            }),
        }
    }

    /// Values of `Federated` principals (OIDC/SAML provider ARNs or well-known provider names).
    pub fn federated_principals(&self) -> impl Iterator<Item = &str> {
        self.principal_values(PrincipalType::Federated)
            .filter(|s| *s != "*")
    }

    fn principal_values(&self, t: PrincipalType) -> impl Iterator<Item = &str> {
        self.inner
            .doc
            .statements
            .iter()
            .filter_map(|s| s.principal.as_ref())
            .flat_map(move |p| match &p.value {
                PrincipalValue::Any => None,
                PrincipalValue::Map(m) => Some(
                    m.iter()
                        .filter(move |(pt, _)| *pt == t)
                        .flat_map(|(_, l)| l.items.iter().map(String::as_str)),
                ),
            })
            .flatten()
    }

    /// Context keys the policy refers to, in first-use order, each once (compared
    /// case-insensitively): condition keys and the keys of policy variables (when the version
    /// enables them). For `GetContextKeysFor*Policy` and the simulator's `MissingContextValues`.
    pub fn context_keys(&self) -> impl Iterator<Item = &str> {
        self.inner.context_keys.iter().map(String::as_str)
    }

    /// Canonical JSON serialisation; parsing it gives an equal policy.
    pub fn to_json(&self) -> String {
        self.inner.doc.to_json()
    }
}

fn collect_context_keys(doc: &PolicyDocument) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut add = |k: &str| {
        if !keys.iter().any(|x| context::fold_eq(x, k)) {
            keys.push(k.to_owned());
        }
    };
    let vars = doc.variables_enabled();
    let add_vars = |s: &str, add: &mut dyn FnMut(&str)| {
        if !vars || !s.contains("${") {
            return;
        }
        if let Ok(t) = pattern::tokenize(s, pattern::Mode::Literal, true) {
            for tok in &t.toks {
                if let pattern::TTok::Var(v) = tok {
                    add(&v.key.name);
                }
            }
        }
    };
    for s in &doc.statements {
        if let Some(r) = &s.resource {
            for v in &r.values.items {
                add_vars(v, &mut add);
            }
        }
        for b in s.condition.iter().flatten() {
            let var_ok = Operator::parse(&b.operator).is_some_and(|o| o.base.allows_variables());
            for (k, vals) in &b.entries {
                add(k);
                if var_ok {
                    for v in &vals.items {
                        add_vars(&v.text, &mut add);
                    }
                }
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every public way into the JSON parser refuses hostile nesting with a clean error, on a
    /// 256 KiB stack.
    #[test]
    fn every_parse_entry_bounds_nesting() {
        use crate::json::tests::on_small_stack;
        let policy = |inner: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"aws:x":{inner}}}}}}}]}}"#
            )
        };
        let docs = [
            "[".repeat(100_000),
            "{".repeat(100_000),
            r#"{"a":"#.repeat(26_000),
            policy(&"[".repeat(100_000)),
            policy(&format!("{}1{}", "[".repeat(60_000), "]".repeat(60_000))),
        ];
        let kinds = [
            PolicyKind::Identity,
            PolicyKind::Resource,
            PolicyKind::Trust,
            PolicyKind::Boundary,
            PolicyKind::Session,
            PolicyKind::Scp,
        ];
        let malformed = |r: Result<Policy, PolicyError>| match r {
            Err(e) => e.malformed().map(|m| m.to_string()).unwrap_or_default(),
            Ok(_) => String::from("accepted"),
        };
        let deep = |m: &str| m.contains("nested too deeply") || m.contains("expected a string key");
        for doc in &docs {
            for kind in kinds {
                // Most default limits refuse these sizes before any JSON is read; resource
                // policies allow the whole wire size, so their JSON is read.
                let e = on_small_stack(|| Policy::parse(doc, kind)).unwrap_err();
                assert!(e.is_too_large() || deep(&e.to_string()), "{kind:?}: {e}");
                let unlimited = SizeLimit {
                    max: usize::MAX,
                    ..kind.size_limit()
                };
                for m in [
                    on_small_stack(|| malformed(Policy::parse_with_limit(doc, kind, usize::MAX))),
                    on_small_stack(|| {
                        malformed(Policy::parse_with_size_limit(doc, kind, unlimited))
                    }),
                ] {
                    assert!(deep(&m), "{kind:?}: {m}");
                }
            }
        }
        // Nesting within the limit still reaches the validator (which refuses the array).
        let m = malformed(Policy::parse_with_limit(
            &policy(&format!("{}1{}", "[".repeat(20), "]".repeat(20))),
            PolicyKind::Identity,
            usize::MAX,
        ));
        assert!(!m.contains("nested too deeply"), "{m}");
    }

    #[test]
    fn policy_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Policy>();
    }

    #[test]
    fn smoke() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"iam:Get*","Resource":"*",
               "Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}"}}}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(
            p.context_keys().collect::<Vec<_>>(),
            ["aws:PrincipalTag/team", "aws:username"]
        );
        let who = Principal::user("arn:aws:iam::111122223333:user/bob");
        let mut ctx = Context::new();
        who.fill_context(&mut ctx);
        ctx.set("aws:PrincipalTag/Team", "bob");
        let set = PolicySet::new().identity(&p, "inline", PolicySource::User);
        let d = evaluate(
            &Request::new(
                &who,
                "IAM:getuser",
                "arn:aws:iam::111122223333:user/x",
                &ctx,
            ),
            &set,
        );
        assert_eq!(d.effect, Effect::Allow);
        assert_eq!(d.matched.len(), 1);
        assert_eq!(d.matched[0].sid, Some("A"));
        let d = evaluate(&Request::new(&who, "iam:CreateUser", "*", &ctx), &set);
        assert_eq!(d.effect, Effect::ImplicitDeny);
        assert_eq!(
            d.denial_message(&who.arn, "iam:CreateUser", "*"),
            "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: iam:CreateUser on resource: * because no identity-based policy allows the iam:CreateUser action"
        );
        let again = Policy::parse(&p.to_json(), PolicyKind::Identity).unwrap();
        assert_eq!(again, p);
    }
}
