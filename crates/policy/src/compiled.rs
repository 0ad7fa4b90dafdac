//! The evaluation form of a policy: pre-compiled patterns, an action index and prepared
//! condition keys, so that evaluating a request touches only the statements that can match its
//! action and allocates nothing.

use crate::condition::{self, Condition, Operator};
use crate::context::{Key, Principal, PrincipalKind, Request};
use crate::document::{PolicyDocument, PrincipalType, PrincipalValue, StatementEffect};
use crate::pattern::{self, Mode, Pattern};

/// How strongly a resource-policy statement names the caller (reference §4.8 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grant {
    /// Names the caller's account (`"A"` / `arn:aws:iam::A:root`): only delegates; the
    /// caller's identity policies must allow as well.
    Account,
    /// Names the caller's role (for a role session) or the IAM user behind a federated user:
    /// no identity allow needed, but the boundary and session policies still apply.
    Role,
    /// Names the caller itself (user ARN, session ARN, federated-user ARN, a federated or
    /// service principal, or `*`): allowed at once in the same account.
    Direct,
}

#[derive(Debug, Clone, PartialEq)]
enum ActionPat {
    Any,
    Svc { service: Box<str>, name: Pattern },
}

impl ActionPat {
    #[inline]
    fn matches(&self, svc: &str, name: &str) -> bool {
        match self {
            ActionPat::Any => true,
            ActionPat::Svc { service, name: n } => {
                service.eq_ignore_ascii_case(svc) && n.matches_fold(name)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum PEntry {
    /// `"*"` (bare): everyone.
    Any,
    /// `{"AWS": "*"}`: every AWS principal, including anonymous.
    AwsAny,
    Account(Box<str>),
    AwsArn(Box<str>),
    UniqueId(Box<str>),
    ServiceAny,
    Service(Box<str>),
    FederatedAny,
    Federated(Box<str>),
    /// Never matches: stsd has no S3 canonical users.
    Canonical,
}

/// One identity a caller can be matched as (reference §4.2 NotPrincipal semantics: a caller
/// is checked as its account, then its role, then its session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Account,
    Role,
    Itself,
}

fn is_aws_kind(p: &Principal) -> bool {
    matches!(
        p.kind,
        PrincipalKind::Root
            | PrincipalKind::User
            | PrincipalKind::AssumedRole { .. }
            | PrincipalKind::FederatedUser { .. }
            | PrincipalKind::Anonymous
    )
}

fn levels(p: &Principal) -> &'static [Level] {
    match p.kind {
        PrincipalKind::Root => &[Level::Account],
        PrincipalKind::User => &[Level::Account, Level::Itself],
        PrincipalKind::AssumedRole { .. }
        | PrincipalKind::FederatedUser {
            source_user_arn: Some(_),
        } => &[Level::Account, Level::Role, Level::Itself],
        PrincipalKind::FederatedUser {
            source_user_arn: None,
        } => &[Level::Account, Level::Itself],
        _ => &[Level::Itself],
    }
}

impl PEntry {
    fn covers(&self, p: &Principal, level: Level) -> bool {
        match self {
            PEntry::Any => true,
            PEntry::AwsAny => is_aws_kind(p),
            PEntry::Account(a) => {
                level == Level::Account
                    && **a == *p.account
                    && is_aws_kind(p)
                    && p.kind != PrincipalKind::Anonymous
            }
            PEntry::AwsArn(arn) => match (&p.kind, level) {
                (
                    PrincipalKind::User
                    | PrincipalKind::AssumedRole { .. }
                    | PrincipalKind::FederatedUser { .. },
                    Level::Itself,
                ) => **arn == *p.arn,
                (PrincipalKind::AssumedRole { role_arn }, Level::Role) => **arn == **role_arn,
                (
                    PrincipalKind::FederatedUser {
                        source_user_arn: Some(u),
                    },
                    Level::Role,
                ) => **arn == **u,
                _ => false,
            },
            PEntry::UniqueId(id) => match (&p.kind, level) {
                (PrincipalKind::User, Level::Itself)
                | (PrincipalKind::AssumedRole { .. }, Level::Role) => p.unique_id() == Some(&**id),
                _ => false,
            },
            PEntry::ServiceAny => matches!(p.kind, PrincipalKind::Service { .. }),
            PEntry::Service(s) => {
                matches!(&p.kind, PrincipalKind::Service { service } if **service == **s)
            }
            PEntry::FederatedAny => matches!(
                p.kind,
                PrincipalKind::WebIdentity { .. } | PrincipalKind::Saml { .. }
            ),
            PEntry::Federated(f) => match &p.kind {
                PrincipalKind::WebIdentity { provider } => **provider == **f,
                PrincipalKind::Saml { provider_arn } => **provider_arn == **f,
                _ => false,
            },
            PEntry::Canonical => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct CPrincipal {
    negated: bool,
    entries: Box<[PEntry]>,
}

impl CPrincipal {
    /// The grant this element gives the caller, if it applies to the caller at all.
    fn grant(&self, p: &Principal) -> Option<Grant> {
        let covered = |l: Level| self.entries.iter().any(|e| e.covers(p, l));
        if self.negated {
            // NotPrincipal applies unless every identity of the caller is listed. A
            // NotPrincipal grant only delegates (Allow + NotPrincipal is discouraged by AWS).
            let all = levels(p).iter().all(|&l| covered(l));
            return (!all).then_some(Grant::Account);
        }
        let mut best = None;
        for &l in levels(p) {
            if covered(l) {
                let g = match l {
                    Level::Account if p.kind == PrincipalKind::Root => Grant::Direct,
                    Level::Account => Grant::Account,
                    Level::Role => Grant::Role,
                    Level::Itself => Grant::Direct,
                };
                best = best.max(Some(g));
            }
        }
        // `*` names the caller itself (stsd reading; see README).
        if self
            .entries
            .iter()
            .any(|e| matches!(e, PEntry::Any) || (matches!(e, PEntry::AwsAny) && is_aws_kind(p)))
        {
            best = Some(Grant::Direct);
        }
        best
    }
}

/// A compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CStatement {
    pub effect: StatementEffect,
    principal: Option<CPrincipal>,
    actions_negated: bool,
    actions: Box<[ActionPat]>,
    /// `None`: no Resource element (trust policies) — applies to any resource.
    resources_negated: bool,
    resources: Option<Box<[Pattern]>>,
    conditions: Box<[Condition]>,
}

impl CStatement {
    #[inline]
    fn action_matches(&self, svc: &str, name: &str) -> bool {
        self.actions.iter().any(|a| a.matches(svc, name)) != self.actions_negated
    }

    #[inline]
    fn resource_matches(&self, req: &Request<'_>) -> bool {
        match &self.resources {
            None => true,
            Some(rs) => {
                rs.iter().any(|r| r.matches(req.resource, req.context)) != self.resources_negated
            }
        }
    }

    /// Whether the statement applies to the request, and the grant it gives when it has a
    /// principal element. `known_action` skips the action check when the index already proved it.
    #[inline]
    pub(crate) fn applies(
        &self,
        req: &Request<'_>,
        svc: &str,
        name: &str,
        known_action: bool,
    ) -> Option<Option<Grant>> {
        if !known_action && !self.action_matches(svc, name) {
            return None;
        }
        let grant = match &self.principal {
            None => None,
            Some(p) => Some(p.grant(req.principal)?),
        };
        if !self.resource_matches(req) {
            return None;
        }
        if !self.conditions.iter().all(|c| c.eval(req.context)) {
            return None;
        }
        Some(grant)
    }
}

/// Case-folded FNV-1a over ASCII (action names are ASCII; other bytes hash as-is).
#[inline]
fn ihash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Bucket {
    hash: u64,
    name: Box<str>,
    stmts: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct ServiceIndex {
    hash: u64,
    service: Box<str>,
    /// Statements with a wildcard action name in this service: the action is re-checked.
    wildcard: Vec<u32>,
    /// Exact action names, sorted by hash: the action is known to match.
    exact: Vec<Bucket>,
}

/// Statement lists per action, so that a request only visits statements that can match.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ActionIndex {
    /// `*` actions and `NotAction` statements: visited for every request.
    always: Vec<u32>,
    services: Vec<ServiceIndex>,
}

fn find<'a, T>(v: &'a [T], hash: u64, key: impl Fn(&T) -> (u64, &str), s: &str) -> Option<&'a T> {
    let start = v.partition_point(|x| key(x).0 < hash);
    v.get(start..)?
        .iter()
        .take_while(|x| key(x).0 == hash)
        .find(|x| key(x).1.eq_ignore_ascii_case(s))
}

impl ActionIndex {
    fn build(stmts: &[CStatement]) -> ActionIndex {
        let mut idx = ActionIndex::default();
        for (i, s) in stmts.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if s.actions_negated || s.actions.iter().any(|a| matches!(a, ActionPat::Any)) {
                idx.always.push(i);
                continue;
            }
            for a in s.actions.iter() {
                let ActionPat::Svc { service, name } = a else {
                    continue;
                };
                let h = ihash(service);
                let pos = match idx
                    .services
                    .iter()
                    .position(|x| x.hash == h && x.service.eq_ignore_ascii_case(service))
                {
                    Some(p) => p,
                    None => {
                        idx.services.push(ServiceIndex {
                            hash: h,
                            service: service.clone(),
                            ..ServiceIndex::default()
                        });
                        idx.services.len() - 1
                    }
                };
                let Some(svc) = idx.services.get_mut(pos) else {
                    continue;
                };
                // A statement with any wildcard name in this service goes to `wildcard` only,
                // so it is never visited twice for one request.
                let wild = s.actions.iter().any(|b| match b {
                    ActionPat::Svc { service: s2, name } => {
                        s2.eq_ignore_ascii_case(service) && !matches!(name, Pattern::Exact(_))
                    }
                    ActionPat::Any => false,
                });
                if wild {
                    if svc.wildcard.last() != Some(&i) {
                        svc.wildcard.push(i);
                    }
                } else if let Pattern::Exact(n) = name {
                    let hn = ihash(n);
                    match svc
                        .exact
                        .iter_mut()
                        .find(|b| b.hash == hn && b.name.eq_ignore_ascii_case(n))
                    {
                        Some(b) => {
                            if b.stmts.last() != Some(&i) {
                                b.stmts.push(i);
                            }
                        }
                        None => svc.exact.push(Bucket {
                            hash: hn,
                            name: n.clone(),
                            stmts: vec![i],
                        }),
                    }
                }
            }
        }
        idx.services.sort_by_key(|s| s.hash);
        for s in &mut idx.services {
            s.exact.sort_by_key(|b| b.hash);
        }
        idx
    }

    /// Calls `f(statement index, action already known to match)` for each candidate.
    #[inline]
    pub(crate) fn for_each_candidate(&self, svc: &str, name: &str, mut f: impl FnMut(u32, bool)) {
        for &i in &self.always {
            f(i, false);
        }
        if svc.is_empty() {
            return;
        }
        if let Some(s) = find(&self.services, ihash(svc), |x| (x.hash, &*x.service), svc) {
            for &i in &s.wildcard {
                f(i, false);
            }
            if let Some(b) = find(&s.exact, ihash(name), |x| (x.hash, &*x.name), name) {
                for &i in &b.stmts {
                    f(i, true);
                }
            }
        }
    }
}

/// The compiled policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Compiled {
    pub statements: Vec<CStatement>,
    pub index: ActionIndex,
}

/// Splits `service:Action`; a request action without `:` has an empty service.
#[inline]
pub(crate) fn split_action(action: &str) -> (&str, &str) {
    action.split_once(':').unwrap_or(("", action))
}

fn compile_principal(negated: bool, v: &PrincipalValue) -> CPrincipal {
    let mut entries = Vec::new();
    match v {
        PrincipalValue::Any => entries.push(PEntry::Any),
        PrincipalValue::Map(m) => {
            for (t, l) in m {
                for s in &l.items {
                    entries.push(match (t, s.as_str()) {
                        (PrincipalType::Aws, "*") => PEntry::AwsAny,
                        (PrincipalType::Aws, s) => {
                            if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                                PEntry::Account(s.into())
                            } else if let Some(acct) = s
                                .strip_prefix("arn:")
                                .and_then(|r| r.strip_suffix(":root"))
                                .and_then(|r| r.rsplit(':').next())
                                .filter(|_| s.contains(":iam::"))
                            {
                                PEntry::Account(acct.into())
                            } else if s.starts_with("arn:") {
                                PEntry::AwsArn(s.into())
                            } else {
                                PEntry::UniqueId(s.into())
                            }
                        }
                        (PrincipalType::Service, "*") => PEntry::ServiceAny,
                        (PrincipalType::Service, s) => PEntry::Service(s.into()),
                        (PrincipalType::Federated, "*") => PEntry::FederatedAny,
                        (PrincipalType::Federated, s) => PEntry::Federated(s.into()),
                        (PrincipalType::CanonicalUser, _) => PEntry::Canonical,
                    });
                }
            }
        }
    }
    CPrincipal {
        negated,
        entries: entries.into_boxed_slice(),
    }
}

/// Compiles a validated document. Values were checked while parsing, so failures here cannot
/// happen; they are still reported rather than panicking.
pub(crate) fn compile(doc: &PolicyDocument) -> Result<Compiled, String> {
    let vars = doc.variables_enabled();
    let mut statements = Vec::with_capacity(doc.statements.len());
    for s in &doc.statements {
        let actions = s
            .action
            .values
            .iter()
            .map(|a| {
                if a == "*" {
                    ActionPat::Any
                } else {
                    let (svc, name) = split_action(a);
                    let toks: Vec<_> = crate::glob::tokenize(name, true);
                    let t = pattern::Tokenized {
                        toks: toks.into_iter().map(pattern::TTok::T).collect(),
                        var_outside_resource_part: false,
                        has_vars: false,
                    };
                    ActionPat::Svc {
                        service: svc.to_ascii_lowercase().into(),
                        name: Pattern::compile(t),
                    }
                }
            })
            .collect();
        let resources = match &s.resource {
            None => None,
            Some(r) => Some(
                r.values
                    .iter()
                    .map(|v| pattern::tokenize(v, Mode::Arn, vars).map(Pattern::compile))
                    .collect::<Result<Box<[_]>, _>>()?,
            ),
        };
        let mut conditions = Vec::new();
        for b in s.condition.iter().flatten() {
            let op = Operator::parse(&b.operator)
                .ok_or_else(|| format!("unknown operator `{}`", b.operator))?;
            for (key, vals) in &b.entries {
                let texts: Vec<String> = vals.items.iter().map(|v| v.text.clone()).collect();
                conditions.push(Condition {
                    op,
                    key: Key::new(key),
                    values: condition::compile_values(op, &texts, vars)?,
                });
            }
        }
        statements.push(CStatement {
            effect: s.effect,
            principal: s
                .principal
                .as_ref()
                .map(|p| compile_principal(p.negated, &p.value)),
            actions_negated: s.action.negated,
            actions,
            resources_negated: s.resource.as_ref().is_some_and(|r| r.negated),
            resources,
            conditions: conditions.into_boxed_slice(),
        });
    }
    let index = ActionIndex::build(&statements);
    Ok(Compiled { statements, index })
}
