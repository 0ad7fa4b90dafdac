//! AWS's evaluation logic (reference §4.8, §4.9): combining identity, resource, boundary,
//! session and organization policies into one decision, with the statements that made it.

use smallvec::SmallVec;

use crate::Policy;
use crate::compiled::{Candidates, Grant, split_action};
use crate::context::{PrincipalKind, Request, arn_account};
use crate::document::{Span, StatementEffect};
use crate::kind::{PolicyKind, PolicyType};

/// The outcome of an authorization question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The request is allowed.
    Allow,
    /// A matching `Deny` statement refused it.
    ExplicitDeny,
    /// No applicable `Allow` (or a required layer did not allow).
    ImplicitDeny,
}

impl Effect {
    /// The simulator's `EvalDecision` value.
    pub fn as_eval_decision(self) -> &'static str {
        match self {
            Effect::Allow => "allowed",
            Effect::ExplicitDeny => "explicitDeny",
            Effect::ImplicitDeny => "implicitDeny",
        }
    }
}

/// Where a policy comes from, for the simulator's `SourcePolicyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// A user's inline policy.
    User,
    /// A group's inline policy.
    Group,
    /// A role's inline policy.
    Role,
    /// A customer-managed policy.
    UserManaged,
    /// An AWS-managed policy.
    AwsManaged,
    /// A resource-based (or trust) policy.
    Resource,
    /// Anything else (session policies, simulator input, SCPs).
    None,
}

impl PolicySource {
    /// The `SourcePolicyType` string (`user`, `group`, `role`, `user-managed`, `aws-managed`,
    /// `resource`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::User => "user",
            PolicySource::Group => "group",
            PolicySource::Role => "role",
            PolicySource::UserManaged => "user-managed",
            PolicySource::AwsManaged => "aws-managed",
            PolicySource::Resource => "resource",
            PolicySource::None => "none",
        }
    }
}

/// A policy plus the caller's label for it (policy name, ARN, simulator `PolicyInputList.N`).
#[derive(Debug, Clone, Copy)]
pub struct PolicyRef<'a> {
    /// The compiled policy.
    pub policy: &'a Policy,
    /// Reported back in [`MatchedStatement::label`] (`SourcePolicyId`).
    pub label: &'a str,
    /// Reported back in [`MatchedStatement::source`] (`SourcePolicyType`).
    pub source: PolicySource,
}

impl<'a> PolicyRef<'a> {
    /// Labels a policy.
    pub fn new(policy: &'a Policy, label: &'a str, source: PolicySource) -> PolicyRef<'a> {
        PolicyRef {
            policy,
            label,
            source,
        }
    }
}

/// A resource-based policy and the account that owns the resource.
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    /// The policy (a [`PolicyKind::Trust`] policy is reported as "role trust policy" and must
    /// allow explicitly even in the same account).
    pub policy: PolicyRef<'a>,
    /// The resource owner's account ID, to tell same-account from cross-account requests.
    pub owner_account: &'a str,
}

/// Every policy that applies to one request (reference §4.8 inputs).
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// Identity policies: a user's inline + attached + every group's inline + attached, or a
    /// role's inline + attached. For a federated user, the IAM user's policies.
    pub identity: Vec<PolicyRef<'a>>,
    /// The resource-based policy (for stsd: the role trust policy for `sts:AssumeRole*`).
    pub resource: Option<ResourcePolicy<'a>>,
    /// The permissions boundary; empty means the principal has none. Several entries are
    /// treated as one boundary whose statements are their union.
    pub boundary: Vec<PolicyRef<'a>>,
    /// Session policies (inline + managed ARNs of the current session), treated as one policy;
    /// empty means no session policy.
    pub session: Vec<PolicyRef<'a>>,
    /// SCP levels, root first; each level must allow. Empty means organizations do not apply.
    pub organization: Vec<Vec<PolicyRef<'a>>>,
    /// The account owning the resource when there is no resource policy to say it. If neither
    /// is given, the account field of the request's resource ARN is used (empty = same account).
    pub resource_account: Option<&'a str>,
}

impl<'a> PolicySet<'a> {
    /// An empty set.
    pub fn new() -> PolicySet<'a> {
        PolicySet::default()
    }

    /// Adds an identity policy.
    #[must_use]
    pub fn identity(mut self, policy: &'a Policy, label: &'a str, source: PolicySource) -> Self {
        self.identity.push(PolicyRef::new(policy, label, source));
        self
    }

    /// Sets the resource-based policy.
    #[must_use]
    pub fn resource(mut self, policy: &'a Policy, label: &'a str, owner_account: &'a str) -> Self {
        self.resource = Some(ResourcePolicy {
            policy: PolicyRef::new(policy, label, PolicySource::Resource),
            owner_account,
        });
        self
    }

    /// Adds a permissions boundary policy.
    #[must_use]
    pub fn boundary(mut self, policy: &'a Policy, label: &'a str) -> Self {
        self.boundary
            .push(PolicyRef::new(policy, label, PolicySource::UserManaged));
        self
    }

    /// Adds a session policy.
    #[must_use]
    pub fn session(mut self, policy: &'a Policy, label: &'a str) -> Self {
        self.session
            .push(PolicyRef::new(policy, label, PolicySource::None));
        self
    }

    /// Adds one SCP level (root first).
    #[must_use]
    pub fn scp_level(mut self, policies: Vec<PolicyRef<'a>>) -> Self {
        self.organization.push(policies);
        self
    }

    /// Sets the resource owner account.
    #[must_use]
    pub fn resource_account(mut self, account: &'a str) -> Self {
        self.resource_account = Some(account);
        self
    }
}

/// A statement that matched the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedStatement<'a> {
    /// Which layer the policy was in.
    pub policy_type: PolicyType,
    /// The caller's label for the policy (`SourcePolicyId`).
    pub label: &'a str,
    /// Where the policy came from (`SourcePolicyType`).
    pub source: PolicySource,
    /// 0-based index of the statement in its policy.
    pub statement_index: usize,
    /// The statement's `Sid`.
    pub sid: Option<&'a str>,
    /// `Allow` or `Deny`.
    pub effect: StatementEffect,
    /// Where the statement is in the policy text.
    pub span: Span,
}

/// The answer to an authorization question, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    /// Allow, explicit deny or implicit deny.
    pub effect: Effect,
    /// For denials, the policy type that denied: the one holding the explicit deny, or the
    /// first type that failed to allow. `None` when allowed.
    pub denied_by: Option<PolicyType>,
    /// For an explicit deny, the matching `Deny` statements; otherwise the matching `Allow`
    /// statements of every layer (for an implicit deny: those of the layers that did allow).
    pub matched: SmallVec<[MatchedStatement<'a>; 4]>,
    /// Whether the permissions boundary allowed (`None` without a boundary).
    pub allowed_by_boundary: Option<bool>,
    /// Whether every SCP level allowed (`None` without organizations).
    pub allowed_by_organizations: Option<bool>,
    /// Whether the session policies allowed (`None` without session policies).
    pub allowed_by_session_policy: Option<bool>,
    /// Whether an identity policy allowed.
    pub allowed_by_identity: bool,
    /// How the resource-based policy named the caller in a matching `Allow`, if it did.
    pub resource_grant: Option<Grant>,
}

impl Decision<'_> {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// The end of AWS's AccessDenied message: `because no identity-based policy allows the
    /// ACTION action` or `with an explicit deny in an identity-based policy`. `None` when allowed.
    pub fn reason(&self, action: &str) -> Option<String> {
        let t = self.denied_by?;
        Some(match self.effect {
            Effect::Allow => return None,
            Effect::ExplicitDeny => format!("with an explicit deny in {}", t.with_article()),
            Effect::ImplicitDeny => {
                format!("because no {} allows the {action} action", t.description())
            }
        })
    }

    /// AWS's full message: `User: ARN is not authorized to perform: ACTION on resource: RES
    /// because no identity-based policy allows the ACTION action`.
    pub fn denial_message(&self, principal_arn: &str, action: &str, resource: &str) -> String {
        let mut m = format!(
            "User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
        );
        if let Some(r) = self.reason(action) {
            m.push(' ');
            m.push_str(&r);
        }
        m
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Layer {
    allow: bool,
    deny: bool,
    grant: Option<Grant>,
}

type Matches<'a> = SmallVec<[MatchedStatement<'a>; 4]>;

fn scan<'a>(
    req: &Request<'_>,
    svc: &str,
    name: &str,
    policies: &[PolicyRef<'a>],
    ptype: PolicyType,
    out: &mut Matches<'a>,
) -> Layer {
    let mut l = Layer::default();
    let mut cands = Candidates::new();
    for pr in policies {
        let inner = &pr.policy.inner;
        inner.compiled.index.candidates(svc, name, &mut cands);
        for &i in &cands {
            let i = i as usize;
            let Some(st) = inner.compiled.statements.get(i) else {
                continue;
            };
            if let Some(grant) = st.applies(req, svc, name) {
                match st.effect {
                    StatementEffect::Deny => l.deny = true,
                    StatementEffect::Allow => {
                        l.allow = true;
                        l.grant = l.grant.max(grant);
                    }
                }
                let doc_stmt = inner.doc.statements.get(i);
                out.push(MatchedStatement {
                    policy_type: ptype,
                    label: pr.label,
                    source: pr.source,
                    statement_index: i,
                    sid: doc_stmt.and_then(|s| s.sid.as_deref()),
                    effect: st.effect,
                    span: inner.spans.get(i).copied().unwrap_or_default(),
                });
            }
        }
    }
    l
}

/// Decides `req` against `set` with AWS's algorithm (reference §4.8).
///
/// Explicit deny wins everywhere. Then SCP levels must each allow. Same account: a resource
/// policy naming the caller itself allows at once; naming its role skips the identity check but
/// not the boundary and session checks; otherwise an identity policy must allow, then the
/// boundary, then (for role sessions and federated users) the session policy. Cross-account:
/// the resource policy must allow *and* the caller's identity, boundary and session policies
/// must allow. A trust policy ([`PolicyKind::Trust`]) must allow even in the same account.
pub fn evaluate<'a>(req: &Request<'_>, set: &PolicySet<'a>) -> Decision<'a> {
    evaluate_inner(req, set, set.resource.as_ref())
}

/// Decides an `sts:AssumeRole*` (or `sts:TagSession`, `sts:SetSourceIdentity`,
/// `sts:SetContext`) request: `trust` is the role's trust policy, `role_account` the role's
/// account, `caller` the caller's own policies (identity, boundary, session, SCPs; empty for
/// web-identity and SAML callers). `req.resource` is the role ARN (reference §4.9).
///
/// Same account, a trust policy naming the user or session needs no identity allow; naming
/// the caller's role needs the boundary/session to allow; naming the account needs an identity
/// allow. Cross-account always needs the caller's identity policies to allow too.
pub fn evaluate_trust<'a>(
    req: &Request<'_>,
    trust: PolicyRef<'a>,
    role_account: &'a str,
    caller: &PolicySet<'a>,
) -> Decision<'a> {
    let rp = ResourcePolicy {
        policy: trust,
        owner_account: role_account,
    };
    evaluate_inner(req, caller, Some(&rp))
}

/// Evaluates each action with the same principal, resource and context (AWS evaluates
/// `sts:AssumeRole`, `sts:TagSession`, … separately, and all must be allowed). Returns the first
/// decision that is not `Allow`, or the last `Allow`.
pub fn evaluate_actions<'a>(
    req: &Request<'_>,
    actions: &[&str],
    set: &PolicySet<'a>,
) -> Decision<'a> {
    let mut last = None;
    for a in actions {
        let r = Request { action: a, ..*req };
        let d = evaluate(&r, set);
        if !d.is_allowed() {
            return d;
        }
        last = Some(d);
    }
    last.unwrap_or_else(|| implicit(PolicyType::Identity, SmallVec::new()))
}

fn implicit<'a>(t: PolicyType, matched: Matches<'a>) -> Decision<'a> {
    Decision {
        effect: Effect::ImplicitDeny,
        denied_by: Some(t),
        matched,
        allowed_by_boundary: None,
        allowed_by_organizations: None,
        allowed_by_session_policy: None,
        allowed_by_identity: false,
        resource_grant: None,
    }
}

fn evaluate_inner<'a>(
    req: &Request<'_>,
    set: &PolicySet<'a>,
    resource: Option<&ResourcePolicy<'a>>,
) -> Decision<'a> {
    let (svc, name) = split_action(req.action);
    let p = req.principal;
    let mut m: Matches<'a> = SmallVec::new();

    // Principals that are not IAM identities (web identity, SAML, service, anonymous) have no
    // identity side and no organization: only the resource policy can allow.
    let external = matches!(
        p.kind,
        PrincipalKind::WebIdentity { .. }
            | PrincipalKind::Saml { .. }
            | PrincipalKind::Service { .. }
            | PrincipalKind::Anonymous
    );

    let mut scp_ok = true;
    let mut scp_deny = false;
    if !external {
        for level in &set.organization {
            let l = scan(req, svc, name, level, PolicyType::Scp, &mut m);
            scp_deny |= l.deny;
            scp_ok &= l.allow;
        }
    }
    let res_type = match resource {
        Some(r) if r.policy.policy.kind() == PolicyKind::Trust => PolicyType::Trust,
        _ => PolicyType::Resource,
    };
    let res = match resource {
        Some(r) => scan(
            req,
            svc,
            name,
            std::slice::from_ref(&r.policy),
            res_type,
            &mut m,
        ),
        None => Layer::default(),
    };
    let (idn, bnd, ses) = if external {
        (Layer::default(), Layer::default(), Layer::default())
    } else {
        (
            scan(req, svc, name, &set.identity, PolicyType::Identity, &mut m),
            scan(req, svc, name, &set.boundary, PolicyType::Boundary, &mut m),
            scan(req, svc, name, &set.session, PolicyType::Session, &mut m),
        )
    };

    let has_boundary = !set.boundary.is_empty() && !external;
    let has_session = !set.session.is_empty() && !external;
    let has_orgs = !set.organization.is_empty() && !external;
    let mut d = Decision {
        effect: Effect::Allow,
        denied_by: None,
        matched: SmallVec::new(),
        allowed_by_boundary: has_boundary.then_some(bnd.allow),
        allowed_by_organizations: has_orgs.then_some(scp_ok),
        allowed_by_session_policy: has_session.then_some(ses.allow),
        allowed_by_identity: idn.allow,
        resource_grant: res.grant,
    };

    // 1. Explicit deny anywhere.
    let deny_type = if scp_deny {
        Some(PolicyType::Scp)
    } else if res.deny {
        Some(res_type)
    } else if idn.deny {
        Some(PolicyType::Identity)
    } else if bnd.deny {
        Some(PolicyType::Boundary)
    } else if ses.deny {
        Some(PolicyType::Session)
    } else {
        None
    };
    if let Some(t) = deny_type {
        m.retain(|s| s.effect == StatementEffect::Deny);
        d.effect = Effect::ExplicitDeny;
        d.denied_by = Some(t);
        d.matched = m;
        return d;
    }
    d.matched = m;

    let deny = |mut d: Decision<'a>, t: PolicyType| {
        d.effect = Effect::ImplicitDeny;
        d.denied_by = Some(t);
        d
    };

    if external {
        return match res.grant {
            Some(_) => d,
            None => deny(d, res_type),
        };
    }

    // 2. Every SCP level must allow.
    if has_orgs && !scp_ok {
        return deny(d, PolicyType::Scp);
    }

    let resource_account = resource
        .map(|r| r.owner_account)
        .or(set.resource_account)
        .unwrap_or_else(|| arn_account(req.resource));
    let cross = !resource_account.is_empty() && resource_account != p.account;
    let is_root = p.kind == PrincipalKind::Root;

    // The caller's own side: identity allow (unless waived), boundary, session (steps 5–7).
    let own_side = |d: Decision<'a>, need_identity: bool| -> Decision<'a> {
        if need_identity && !is_root && !idn.allow {
            return deny(d, PolicyType::Identity);
        }
        if has_boundary && !bnd.allow {
            return deny(d, PolicyType::Boundary);
        }
        if p.is_session() {
            if has_session {
                if !ses.allow {
                    return deny(d, PolicyType::Session);
                }
            } else if matches!(p.kind, PrincipalKind::FederatedUser { .. }) {
                // A federated user without a session policy has no permissions.
                return deny(d, PolicyType::Session);
            }
        }
        d
    };

    if cross {
        // Both sides must allow; no step-4 shortcut.
        if res.grant.is_none() {
            return deny(d, res_type);
        }
        return own_side(d, true);
    }

    if res_type == PolicyType::Trust && res.grant.is_none() {
        // A trust policy must allow explicitly, whatever the identity policies say.
        return deny(d, PolicyType::Trust);
    }
    match res.grant {
        Some(Grant::Direct) => d,
        Some(Grant::Role) => own_side(d, false),
        Some(Grant::Account) | None => own_side(d, true),
    }
}
