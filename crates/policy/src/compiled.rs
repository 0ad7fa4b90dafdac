//! The evaluation form of a policy: pre-compiled patterns, an action index and prepared
//! condition keys, so that evaluating a request touches only the statements that can match its
//! action and allocates nothing.

use crate::condition::{self, Condition, Operator};
use crate::context::{Key, Principal, PrincipalKind, Request};
use crate::document::{PolicyDocument, PrincipalType, PrincipalValue, StatementEffect};
use crate::glob::Tok;
use crate::pattern::{self, Mode, Pattern};
use smallvec::SmallVec;

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
    /// principal element.
    #[inline]
    pub(crate) fn applies(
        &self,
        req: &Request<'_>,
        svc: &str,
        name: &str,
    ) -> Option<Option<Grant>> {
        if !self.action_matches(svc, name) {
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
fn ihash(s: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in s {
        h = fnv_step(h, b);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[inline]
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
}

/// Statements filed under one (case-folded) string.
#[derive(Debug, Clone, PartialEq, Default)]
struct Bucket {
    hash: u64,
    key: Box<str>,
    stmts: Vec<u32>,
}

fn find_bucket<'a>(v: &'a [Bucket], hash: u64, key: &[u8]) -> Option<&'a Bucket> {
    let start = v.partition_point(|x| x.hash < hash);
    v.get(start..)?
        .iter()
        .take_while(|x| x.hash == hash)
        .find(|x| x.key.as_bytes().eq_ignore_ascii_case(key))
}

#[derive(Debug, Clone, PartialEq, Default)]
struct ServiceIndex {
    hash: u64,
    service: Box<str>,
    /// Exact action names, sorted by hash.
    exact: Vec<Bucket>,
    /// Literal prefixes of wildcard action names (`Get` for `Get*`, `List` for `List?ags*`),
    /// sorted by hash: a request only probes the prefixes of its own action name.
    prefixes: Vec<Bucket>,
    /// The distinct byte lengths present in `prefixes`, ascending.
    prefix_lens: Vec<usize>,
    /// Wildcard names without a literal prefix (`*Tag*`): always candidates for this service.
    other: Vec<u32>,
}

/// Statement lists per action, so that a request only visits statements that can match its
/// action: cost grows with the number of *candidate* statements and only logarithmically with
/// the rest.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ActionIndex {
    /// `*` actions and `NotAction` statements: candidates for every request.
    always: Vec<u32>,
    /// Per service prefix, sorted by hash.
    services: Vec<ServiceIndex>,
}

/// Candidate statements for one request. Inline capacity covers typical policies; very large
/// policy sets with many candidates spill to the heap.
pub(crate) type Candidates = SmallVec<[u32; 32]>;

impl ActionIndex {
    fn build(stmts: &[CStatement]) -> ActionIndex {
        // (service, kind, key, statement); kind 0 = exact name, 1 = literal prefix, 2 = other.
        let mut entries: Vec<(String, u8, String, u32)> = Vec::new();
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
                let (kind, key) = match name {
                    Pattern::Exact(n) => (0, n.to_string()),
                    Pattern::Prefix(p) => (1, p.to_string()),
                    Pattern::Glob(toks) => {
                        let lit: String = toks
                            .iter()
                            .map_while(|t| match t {
                                Tok::Lit(c) => Some(*c),
                                _ => None,
                            })
                            .collect();
                        if lit.is_empty() { (2, lit) } else { (1, lit) }
                    }
                    _ => (2, String::new()),
                };
                entries.push((
                    service.to_ascii_lowercase(),
                    kind,
                    key.to_ascii_lowercase(),
                    i,
                ));
            }
        }
        entries.sort_unstable();
        entries.dedup();
        for (svc, kind, key, stmt) in entries {
            if idx.services.last().is_none_or(|s| *s.service != *svc) {
                idx.services.push(ServiceIndex {
                    hash: ihash(svc.as_bytes()),
                    service: svc.into(),
                    ..ServiceIndex::default()
                });
            }
            let Some(s) = idx.services.last_mut() else {
                continue;
            };
            let list = match kind {
                0 => &mut s.exact,
                1 => &mut s.prefixes,
                _ => {
                    s.other.push(stmt);
                    continue;
                }
            };
            match list.last_mut() {
                Some(b) if *b.key == *key => b.stmts.push(stmt),
                _ => list.push(Bucket {
                    hash: ihash(key.as_bytes()),
                    key: key.into(),
                    stmts: vec![stmt],
                }),
            }
        }
        idx.services.sort_by_key(|s| s.hash);
        for s in &mut idx.services {
            s.other.sort_unstable();
            s.other.dedup();
            s.exact.sort_by_key(|b| b.hash);
            s.prefixes.sort_by_key(|b| b.hash);
            s.prefix_lens = s.prefixes.iter().map(|b| b.key.len()).collect();
            s.prefix_lens.sort_unstable();
            s.prefix_lens.dedup();
        }
        idx
    }

    /// The statements that can match `svc:name`, ascending and without duplicates.
    #[inline]
    pub(crate) fn candidates(&self, svc: &str, name: &str, out: &mut Candidates) {
        out.clear();
        out.extend_from_slice(&self.always);
        if !svc.is_empty() {
            let h = ihash(svc.as_bytes());
            let start = self.services.partition_point(|x| x.hash < h);
            let found = self
                .services
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|x| x.hash == h)
                .find(|x| x.service.eq_ignore_ascii_case(svc));
            if let Some(s) = found {
                out.extend_from_slice(&s.other);
                let nb = name.as_bytes();
                if let Some(b) = find_bucket(&s.exact, ihash(nb), nb) {
                    out.extend_from_slice(&b.stmts);
                }
                if !s.prefix_lens.is_empty() {
                    let mut h = FNV_OFFSET;
                    let mut lens = s.prefix_lens.iter().peekable();
                    for (n, &b) in nb.iter().enumerate() {
                        h = fnv_step(h, b);
                        let len = n + 1;
                        while lens.next_if(|&&l| l < len).is_some() {}
                        let Some(&&l) = lens.peek() else { break };
                        if l == len
                            && let Some(bk) =
                                find_bucket(&s.prefixes, h, nb.get(..len).unwrap_or_default())
                        {
                            out.extend_from_slice(&bk.stmts);
                        }
                    }
                }
            }
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }
}

/// The compiled policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Compiled {
    pub statements: Vec<CStatement>,
    pub index: ActionIndex,
}

impl Compiled {
    /// Replace `AWS` principal ARNs by the unique IDs `id_of` knows for them.
    pub(crate) fn bind_principal_ids<'a>(&mut self, id_of: impl Fn(&str) -> Option<&'a str>) {
        for s in &mut self.statements {
            let Some(p) = &mut s.principal else { continue };
            for e in p.entries.iter_mut() {
                if let PEntry::AwsArn(arn) = e
                    && let Some(id) = id_of(arn)
                {
                    *e = PEntry::UniqueId(id.into());
                }
            }
        }
    }
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
                    return Ok(ActionPat::Any);
                }
                let (svc, name) = split_action(a);
                // Action names are matched case-insensitively: fold once here.
                let name = pattern::compile_pattern(&name.to_ascii_lowercase(), Mode::Glob, false)?;
                Ok(ActionPat::Svc {
                    service: svc.to_ascii_lowercase().into(),
                    name,
                })
            })
            .collect::<Result<Box<[_]>, String>>()?;
        let resources = match &s.resource {
            None => None,
            Some(r) => Some(
                r.values
                    .iter()
                    .map(|v| pattern::compile_pattern(v, Mode::Arn, vars))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Policy, PolicyKind};

    fn cands(doc: &str, action: &str) -> Vec<u32> {
        let p = Policy::parse(doc, PolicyKind::Identity).unwrap();
        let (svc, name) = split_action(action);
        let mut out = Candidates::new();
        p.inner.compiled.index.candidates(svc, name, &mut out);
        out.to_vec()
    }

    #[test]
    fn index_finds_exactly_the_possible_statements() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"},
            {"Effect":"Allow","Action":"s3:*Tagging","Resource":"*"},
            {"Effect":"Allow","Action":"iam:GetUser","Resource":"*"},
            {"Effect":"Allow","NotAction":"iam:*","Resource":"*"},
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Allow","Action":["S3:GETOBJECT","s3:GetO?ject"],"Resource":"*"},
            {"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(cands(doc, "s3:GetObject"), [0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(cands(doc, "S3:getobject"), [0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(cands(doc, "s3:ListBucket"), [1, 2, 4, 5, 7]);
        assert_eq!(cands(doc, "iam:GetUser"), [3, 4, 5]);
        assert_eq!(cands(doc, "ec2:RunInstances"), [4, 5]);
        assert_eq!(cands(doc, "noservice"), [4, 5]);
    }
}
