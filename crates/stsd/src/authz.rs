//! Authorization: the one gateway to the policy engine. Every decision stsd makes about a request — IAM
//! actions, `cloudtrail:LookupEvents`, the caller side and the trust side of every `AssumeRole*` — is built
//! here, in three steps that no handler repeats:
//!
//! 1. **Who is calling.** The user or role behind the credentials is found by the unique ID the credentials
//!    carry ([`caller_entity`]); a deleted entity, or a re-created namesake with a new ID, is nobody.
//! 2. **Which policies apply.** Identity policies (user + groups, or role), the boundary and the session
//!    policies ([`CallerPolicies::resolve`]). Anything expected that cannot be resolved or compiled makes the
//!    caller allowed nothing ([`Unusable`]): fail closed, logged, and named in the denial.
//! 3. **What the request says.** The global keys for the caller and the transport ([`caller_context`]), then
//!    the keys the action supports according to AWS's action catalog, filled from typed request facts
//!    ([`RequestFacts`], [`action_keys`]) and from the target entity (`aws:ResourceTag/*`,
//!    `iam:ResourceTag/*`, its boundary). Trust evaluations get their keys from [`AssumeFacts`].

use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::identity::{Caller, CallerKind, RequestMeta};
use crate::metrics::{Decision, DecisionKind};
use crate::model::{Account, Doc, Group, Role, Tag, User};
use crate::state::State;
use crate::tokens::SessionKind;

/// Compile a document with the engine, mapping its errors to IAM's codes.
pub fn compile(text: &str, kind: policy::PolicyKind) -> ApiResult<Arc<policy::Policy>> {
    map_compiled(policy::Policy::parse(text, kind))
}

/// Compile with an explicit size budget (characters without whitespace).
pub fn compile_with_limit(
    text: &str,
    kind: policy::PolicyKind,
    limit: usize,
) -> ApiResult<Arc<policy::Policy>> {
    map_compiled(policy::Policy::parse_with_limit(text, kind, limit))
}

fn map_compiled(r: Result<policy::Policy, policy::PolicyError>) -> ApiResult<Arc<policy::Policy>> {
    r.map(Arc::new).map_err(|e| {
        if e.is_too_large() {
            ApiError::new(crate::error::ErrorCode::LimitExceeded, e.to_string())
        } else {
            ApiError::malformed_policy(e.to_string())
        }
    })
}

/// Compiled inline session policies, by their text: a session repeats its policy on every call, and compiling
/// it once is enough.
#[derive(Default)]
pub struct SessionPolicies {
    cache: std::sync::Mutex<std::collections::HashMap<String, Arc<policy::Policy>>>,
}

impl SessionPolicies {
    /// Entries kept before the cache starts over.
    const MAX: usize = 10_000;

    /// The compiled policy for `text` (compiled now if it is new).
    pub fn get(&self, text: &str) -> ApiResult<Arc<policy::Policy>> {
        if let Ok(cache) = self.cache.lock()
            && let Some(p) = cache.get(text)
        {
            return Ok(p.clone());
        }
        let p = compile_with_limit(text, policy::PolicyKind::Session, policy::MAX_WIRE_CHARS)?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > Self::MAX {
                cache.clear();
            }
            cache.insert(text.to_string(), p.clone());
        }
        Ok(p)
    }
}

/// What the gateway uses besides a snapshot, a caller, the request's facts and its time: the compiled session
/// policies, the key ring that seals authorization failure messages, and the decision counters. Borrowed from
/// the node; the gateway never sees the application object.
#[derive(Clone, Copy)]
pub struct Gateway<'a> {
    pub session_policies: &'a SessionPolicies,
    pub tokens: &'a crate::tokens::KeyRing,
    pub metrics: &'a crate::metrics::Metrics,
}

/// Characters that count toward IAM's size quotas (whitespace excluded).
pub fn non_whitespace_len(text: &str) -> usize {
    policy::non_whitespace_len(text)
}

/// AWS principal ARNs named in a trust policy.
pub fn principal_arns(p: &policy::Policy) -> Vec<String> {
    p.principal_arns().map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------------------
// 1. Who is calling
// ---------------------------------------------------------------------------------------------------------

/// Why a caller is allowed nothing at all. Never treated as "no such policy": the request is denied and the
/// reason is part of the denial (and of the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// The user or role behind the credentials no longer exists (or was re-created with a new unique ID).
    PrincipalGone,
    /// An identity policy or boundary that applies cannot be resolved or compiled.
    Policy(String),
    /// A session policy of the session cannot be resolved or compiled.
    SessionPolicy(String),
}

impl Unusable {
    /// The `because …` clause of the denial.
    pub fn reason(&self) -> String {
        match self {
            Unusable::PrincipalGone => "because the principal no longer exists".to_string(),
            Unusable::Policy(p) => format!("because the policy {p} cannot be evaluated"),
            Unusable::SessionPolicy(p) => {
                format!("because the session policy {p} cannot be evaluated")
            }
        }
    }
}

/// The IAM entity behind a caller.
#[derive(Debug, Clone, Copy)]
pub enum Entity<'a> {
    Root,
    User(&'a User),
    Role(&'a Role),
}

impl<'a> Entity<'a> {
    /// The entity's own tags (`aws:PrincipalTag/*`).
    pub fn tags(&self) -> &'a [Tag] {
        match self {
            Entity::Root => &[],
            Entity::User(u) => &u.tags,
            Entity::Role(r) => &r.tags,
        }
    }
}

/// Find the caller's user or role by the unique ID its credentials carry. A long-term key belongs to the user
/// holding it; a session carries the ID sealed when it was issued.
pub fn caller_entity<'a>(acct: &'a Account, caller: &Caller) -> Result<Entity<'a>, Unusable> {
    let session = caller.session.as_deref().map(|c| &c.kind);
    match &caller.kind {
        CallerKind::Root => Ok(Entity::Root),
        CallerKind::User { key, .. } => acct
            .users
            .get(key)
            .filter(|u| u.id == caller.user_id)
            .map(Entity::User)
            .ok_or(Unusable::PrincipalGone),
        CallerKind::FederatedUser { user_key, .. } => {
            let id = match session {
                Some(SessionKind::Federated { user_id, .. }) => user_id.as_deref(),
                _ => None,
            };
            acct.users
                .get(user_key)
                .filter(|u| id.is_none_or(|id| u.id == id))
                .map(Entity::User)
                .ok_or(Unusable::PrincipalGone)
        }
        CallerKind::AssumedRole { role_key, .. } => {
            let Some(SessionKind::Role { role_id, .. }) = session else {
                return Err(Unusable::PrincipalGone);
            };
            acct.roles
                .get(role_key)
                .filter(|r| r.id == *role_id)
                .map(Entity::Role)
                .ok_or(Unusable::PrincipalGone)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 2. Which policies apply
// ---------------------------------------------------------------------------------------------------------

/// The policies attached to a principal: identity policies (with the label and source simulation reports)
/// and the permissions boundary.
#[derive(Clone, Default)]
pub struct PrincipalPolicies {
    pub identity: Vec<(String, policy::PolicySource, Arc<policy::Policy>)>,
    pub boundary: Option<(String, Arc<policy::Policy>)>,
}

impl PrincipalPolicies {
    /// A policy set over these policies (identity + boundary), to which callers add session/resource parts.
    pub fn set(&self) -> policy::PolicySet<'_> {
        let mut set = policy::PolicySet::new();
        for (label, source, p) in &self.identity {
            set = set.identity(p, label, *source);
        }
        if let Some((label, p)) = &self.boundary {
            set = set.boundary(p, label);
        }
        set
    }
}

type Labelled = Vec<(String, policy::PolicySource, Arc<policy::Policy>)>;

fn inline_into(
    out: &mut Labelled,
    inline: &std::collections::BTreeMap<String, Doc>,
    source: policy::PolicySource,
) -> Result<(), Unusable> {
    for (name, d) in inline {
        let compiled = d.compiled.clone().ok_or_else(|| unusable_policy(name))?;
        out.push((name.clone(), source, compiled));
    }
    Ok(())
}

fn managed_into(out: &mut Labelled, acct: &Account, attached: &[String]) -> Result<(), Unusable> {
    for arn in attached {
        let compiled = managed_policy(acct, arn).ok_or_else(|| unusable_policy(arn))?;
        out.push((arn.clone(), policy::PolicySource::UserManaged, compiled));
    }
    Ok(())
}

fn unusable_policy(label: &str) -> Unusable {
    tracing::warn!(
        policy = label,
        "a policy that applies cannot be evaluated; the principal is allowed nothing"
    );
    Unusable::Policy(label.to_string())
}

/// The default version of a managed policy of `acct`, compiled.
pub fn managed_policy(acct: &Account, arn: &str) -> Option<Arc<policy::Policy>> {
    acct.policy_by_arn(arn)
        .and_then(|p| p.default_doc())
        .and_then(|v| v.doc.compiled.clone())
}

fn boundary_of(
    acct: &Account,
    boundary: Option<&String>,
) -> Result<Option<(String, Arc<policy::Policy>)>, Unusable> {
    match boundary {
        None => Ok(None),
        Some(b) => managed_policy(acct, b)
            .map(|c| Some((b.clone(), c)))
            .ok_or_else(|| unusable_policy(b)),
    }
}

/// A user's inline and attached policies, those of its groups, and its boundary.
pub fn user_policies(acct: &Account, u: &User) -> Result<PrincipalPolicies, Unusable> {
    let mut identity = Vec::new();
    inline_into(&mut identity, &u.inline, policy::PolicySource::User)?;
    managed_into(&mut identity, acct, &u.attached)?;
    for gname in &u.groups {
        if let Some(g) = acct.groups.get(&gname.to_lowercase()) {
            inline_into(&mut identity, &g.inline, policy::PolicySource::Group)?;
            managed_into(&mut identity, acct, &g.attached)?;
        }
    }
    Ok(PrincipalPolicies {
        identity,
        boundary: boundary_of(acct, u.boundary.as_ref())?,
    })
}

/// A group's inline and attached policies.
pub fn group_policies(acct: &Account, g: &Group) -> Result<PrincipalPolicies, Unusable> {
    let mut identity = Vec::new();
    inline_into(&mut identity, &g.inline, policy::PolicySource::Group)?;
    managed_into(&mut identity, acct, &g.attached)?;
    Ok(PrincipalPolicies {
        identity,
        boundary: None,
    })
}

/// A role's inline and attached policies and its boundary.
pub fn role_policies(acct: &Account, r: &Role) -> Result<PrincipalPolicies, Unusable> {
    let mut identity = Vec::new();
    inline_into(&mut identity, &r.inline, policy::PolicySource::Role)?;
    managed_into(&mut identity, acct, &r.attached)?;
    Ok(PrincipalPolicies {
        identity,
        boundary: boundary_of(acct, r.boundary.as_ref())?,
    })
}

/// The policies in force for a caller: its identity policies and boundary plus, for sessions, the session
/// policies.
pub struct CallerPolicies {
    pub principal: PrincipalPolicies,
    /// (label, policy) of the session policies (inline first, then managed ARNs).
    pub session: Vec<(String, Arc<policy::Policy>)>,
}

impl CallerPolicies {
    /// Gather what applies to the caller whose entity is `entity` (in its own account `acct`).
    pub fn resolve(
        session_policies: &SessionPolicies,
        acct: &Account,
        entity: Entity<'_>,
        caller: &Caller,
    ) -> Result<CallerPolicies, Unusable> {
        let principal = match entity {
            Entity::Root => PrincipalPolicies::default(),
            Entity::User(u) => user_policies(acct, u)?,
            Entity::Role(r) => role_policies(acct, r)?,
        };
        let mut session = Vec::new();
        if let Some(claims) = caller.session.as_deref() {
            if let Some(text) = &claims.policy {
                let p = session_policies
                    .get(text)
                    .map_err(|_| Unusable::SessionPolicy("(inline)".to_string()))?;
                session.push(("session-policy".to_string(), p));
            }
            for (i, arn) in claims.policy_arns.iter().enumerate() {
                // Bound to the policy's unique ID at issue time (absent only in older tokens).
                let current = acct.policy_by_arn(arn);
                let same = match claims.policy_ids.get(i) {
                    Some(id) => current.is_some_and(|p| p.id == *id),
                    None => current.is_some(),
                };
                let compiled = managed_policy(acct, arn).filter(|_| same).ok_or_else(|| {
                    tracing::warn!(policy = %arn, "a session policy no longer resolves; the session is allowed nothing");
                    Unusable::SessionPolicy(arn.clone())
                })?;
                session.push((arn.clone(), compiled));
            }
        }
        Ok(CallerPolicies { principal, session })
    }

    pub fn set(&self) -> policy::PolicySet<'_> {
        let mut set = self.principal.set();
        for (label, p) in &self.session {
            set = set.session(p, label);
        }
        set
    }
}

/// Which calls the kind of temporary credentials may make at all, before any policy (AWS's fixed rules):
/// GetSessionToken sessions call IAM only after MFA — without it AWS answers as if the token were invalid
/// (`InvalidClientTokenId`, from the GetSessionToken documentation) — and STS only for
/// AssumeRole/GetCallerIdentity; federated users call no IAM and only GetCallerIdentity.
fn session_may_call(caller: &Caller, action: &str, resource: &str) -> ApiResult<()> {
    let Some(claims) = caller.session.as_deref() else {
        return Ok(());
    };
    let is_iam = action.len() > 4
        && action
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("iam:"));
    let is_sts = action.len() > 4
        && action
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("sts:"));
    let no_session_policy = || {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} because no session policy allows the {action} action",
            caller.arn
        ))
    };
    match claims.kind {
        SessionKind::User { .. } | SessionKind::Root => {
            if is_iam && claims.mfa_at.is_none() && !claims.console {
                Err(ApiError::new(
                    crate::error::ErrorCode::InvalidClientTokenId,
                    "The security token included in the request is invalid",
                ))
            } else if is_sts
                && !action.eq_ignore_ascii_case("sts:AssumeRole")
                && !action.eq_ignore_ascii_case("sts:GetCallerIdentity")
            {
                Err(no_session_policy())
            } else {
                Ok(())
            }
        }
        SessionKind::Federated { .. } if is_iam || is_sts => Err(no_session_policy()),
        SessionKind::Federated { .. } | SessionKind::Role { .. } => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// 3. What the request says
// ---------------------------------------------------------------------------------------------------------

/// The transport facts and the time of a request (signed or not).
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub meta: &'a RequestMeta,
    pub now: i64,
}

/// Request-level global keys: time, transport, source IP, user agent.
pub fn fill_request_keys(context: &mut policy::Context, r: RequestInfo<'_>) {
    context.set("aws:CurrentTime", stsd_wire::time::iso8601(r.now));
    context.set("aws:EpochTime", r.now.to_string());
    context.set(
        "aws:SecureTransport",
        if r.meta.secure_transport {
            "true"
        } else {
            "false"
        },
    );
    if !r.meta.source_ip.is_empty() {
        context.set("aws:SourceIp", r.meta.source_ip.clone());
    }
    if !r.meta.user_agent.is_empty() {
        context.set("aws:UserAgent", r.meta.user_agent.clone());
    }
    context.set("aws:RequestedRegion", "us-east-1");
    context.set("aws:ViaAWSService", "false");
}

/// The global keys AWS fills for `caller`: principal keys, its own tags (`entity_tags`, found by unique ID),
/// session keys and request keys.
pub fn caller_context(
    caller: &Caller,
    principal: &policy::Principal,
    entity_tags: &[Tag],
    r: RequestInfo<'_>,
) -> policy::Context {
    let mut context = policy::Context::new();
    principal.fill_context(&mut context);
    fill_request_keys(&mut context, r);
    for t in entity_tags {
        context.set(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
    }
    if let Some(c) = caller.session.as_deref() {
        // Session tags override the entity's tags of the same key.
        for (k, v) in &c.tags {
            context.set(&format!("aws:PrincipalTag/{k}"), v.clone());
        }
        context.set("aws:TokenIssueTime", stsd_wire::time::iso8601(c.issued));
        match c.mfa_at {
            Some(at) => {
                context.set("aws:MultiFactorAuthPresent", "true");
                context.set("aws:MultiFactorAuthAge", (r.now - at).max(0).to_string());
            }
            None => {
                context.set("aws:MultiFactorAuthPresent", "false");
            }
        }
        if let Some(si) = &c.source_identity {
            context.set("aws:SourceIdentity", si.clone());
        }
        if let Some(fp) = &c.federated_provider {
            context.set("aws:FederatedProvider", fp.clone());
        }
        for (k, vals) in &c.federation_keys {
            context.insert(k, vals.iter().cloned());
        }
    }
    context
}

/// What an IAM request says that AWS turns into condition keys. Handlers describe their request with it;
/// which keys an action actually gets is decided by [`action_keys`] from AWS's action catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// Tags the request attaches (`aws:RequestTag/*`, `aws:TagKeys`).
    pub tags: &'a [Tag],
    /// Tag keys the request removes (`aws:TagKeys`).
    pub tag_keys: &'a [String],
    /// The permissions boundary the request sets (`iam:PermissionsBoundary`); when absent, the target
    /// user's or role's current boundary is the key's value.
    pub permissions_boundary: Option<&'a str>,
    /// The managed policy the request attaches or detaches (`iam:PolicyARN`).
    pub policy_arn: Option<&'a str>,
    /// The service a role is passed to (`iam:PassedToService`, for `iam:PassRole`).
    pub passed_to_service: Option<&'a str>,
    /// The resource a passed role will be used with (`iam:AssociatedResourceArn`, for `iam:PassRole`).
    pub associated_resource_arn: Option<&'a str>,
}

/// What the target of a request contributes to its context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    pub tags: &'a [Tag],
    pub boundary: Option<&'a str>,
}

/// The IAM entity an ARN of `acct` names, if it exists and the ARN is exactly its ARN.
pub fn target<'a>(acct: &'a Account, arn: &str) -> Target<'a> {
    let Some(resource) = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_prefix(acct.id()))
        .and_then(|r| r.strip_prefix(':'))
    else {
        return Target::default();
    };
    let Some((kind, rest)) = resource.split_once('/') else {
        return Target::default();
    };
    let name = rest.rsplit('/').next().unwrap_or(rest).to_lowercase();
    match kind {
        "user" => acct
            .users
            .get(&name)
            .filter(|u| acct.user_arn(u) == arn)
            .map(|u| Target {
                tags: &u.tags,
                boundary: u.boundary.as_deref(),
            }),
        "role" => acct
            .roles
            .get(&name)
            .filter(|r| acct.role_arn(r) == arn)
            .map(|r| Target {
                tags: &r.tags,
                boundary: r.boundary.as_deref(),
            }),
        "policy" => acct.policy_by_arn(arn).map(|p| Target {
            tags: &p.tags,
            boundary: None,
        }),
        "oidc-provider" => acct
            .oidc_providers
            .get(&rest.to_lowercase())
            .map(|o| Target {
                tags: &o.tags,
                boundary: None,
            }),
        "saml-provider" => acct
            .saml_providers
            .get(&name)
            .filter(|s| s.name == rest)
            .map(|s| Target {
                tags: &s.tags,
                boundary: None,
            }),
        "mfa" => acct
            .mfa_key_by_serial(arn)
            .and_then(|k| acct.mfa_devices.get(&k))
            .map(|d| Target {
                tags: &d.tags,
                boundary: None,
            }),
        "instance-profile" => acct
            .instance_profiles
            .get(&name)
            .filter(|p| acct.instance_profile_arn(p) == arn)
            .map(|p| Target {
                tags: &p.tags,
                boundary: None,
            }),
        _ => None,
    }
    .unwrap_or_default()
}

/// The condition keys `action` supports — according to AWS's action catalog — that this request carries:
/// `aws:RequestTag/*` and `aws:TagKeys` from the request's tags, `iam:PermissionsBoundary`, `iam:PolicyARN`,
/// `iam:PassedToService` / `iam:AssociatedResourceArn` (a role passed with `iam:PassRole`), and
/// `aws:ResourceTag/*` / `iam:ResourceTag/*` from the target. Keys the action does not support are never
/// set, as on AWS; actions outside the catalog (stsd's extensions) get none.
pub fn action_keys(
    context: &mut policy::Context,
    action: &str,
    target: Target<'_>,
    facts: &RequestFacts<'_>,
) {
    let Some(a) = action_catalog::action_by_qualified_name(action) else {
        return;
    };
    // Each fact is looked at before the catalog: most requests carry none of them, and matching the action's key
    // templates costs more than the request's other context keys together.
    if !facts.tags.is_empty() && a.supports_condition_key("aws:RequestTag/k") {
        for t in facts.tags {
            context.set(&format!("aws:RequestTag/{}", t.key), t.value.clone());
        }
    }
    if (!facts.tags.is_empty() || !facts.tag_keys.is_empty())
        && a.supports_condition_key("aws:TagKeys")
    {
        let keys: Vec<String> = facts
            .tags
            .iter()
            .map(|t| t.key.clone())
            .chain(facts.tag_keys.iter().cloned())
            .collect();
        context.insert("aws:TagKeys", keys);
    }
    if let Some(b) = facts.permissions_boundary.or(target.boundary)
        && a.supports_condition_key("iam:PermissionsBoundary")
    {
        context.set("iam:PermissionsBoundary", b);
    }
    if let Some(p) = facts.policy_arn
        && a.supports_condition_key("iam:PolicyARN")
    {
        context.set("iam:PolicyARN", p);
    }
    if let Some(s) = facts.passed_to_service
        && a.supports_condition_key("iam:PassedToService")
    {
        context.set("iam:PassedToService", s);
    }
    if let Some(r) = facts.associated_resource_arn
        && a.supports_condition_key("iam:AssociatedResourceArn")
    {
        context.set("iam:AssociatedResourceArn", r);
    }
    if !target.tags.is_empty() {
        for (prefix, sample) in [
            ("aws:ResourceTag/", "aws:ResourceTag/k"),
            ("iam:ResourceTag/", "iam:ResourceTag/k"),
        ] {
            if a.supports_condition_key(sample) {
                for t in target.tags {
                    context.set(&format!("{prefix}{}", t.key), t.value.clone());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------------------------

/// Authorize a call in the caller's own account (IAM actions, identity-checked STS actions, LookupEvents):
/// `action` on `resource`, with what the request says in `facts`.
pub fn authorize(
    gw: Gateway<'_>,
    st: &State,
    caller: &Caller,
    r: RequestInfo<'_>,
    action: &str,
    resource: &str,
    facts: &RequestFacts<'_>,
) -> ApiResult<()> {
    let deny = |reason: &str| {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {reason}",
            caller.arn
        ))
    };
    session_may_call(caller, action, resource)?;
    // The root user may do everything in its own account (no SCPs in stsd).
    if caller.kind == CallerKind::Root {
        gw.metrics.decision(DecisionKind::Identity, Decision::Allow);
        return Ok(());
    }
    let acct = st
        .accounts
        .get(&caller.account)
        .ok_or_else(|| deny(&Unusable::PrincipalGone.reason()))?;
    let entity = caller_entity(acct, caller).map_err(|u| deny(&u.reason()))?;
    let policies = CallerPolicies::resolve(gw.session_policies, acct, entity, caller)
        .map_err(|u| deny(&u.reason()))?;
    let principal = caller.principal();
    let mut context = caller_context(caller, &principal, entity.tags(), r);
    action_keys(&mut context, action, target(acct, resource), facts);
    let set = policies.set();
    let req = policy::Request::new(&principal, action, resource, &context);
    let decision = policy::evaluate(&req, &set);
    gw.metrics
        .decision(DecisionKind::Identity, decision.effect.into());
    if decision.is_allowed() {
        return Ok(());
    }
    Err(denial(gw.tokens, caller, &req, &decision))
}

/// One question about a request to another service's resource (`/_stsd/authorize`): `action` on `resource`,
/// with the condition keys the service's route table read from the request. The resource-based policy that
/// applies is the one stored for `policy_arn` (the bucket, for an S3 object) in the account that owns it.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRequest<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    /// The ARN whose owner and resource-based policy apply.
    pub policy_arn: &'a str,
    /// Service condition keys from the request (`s3:prefix`, `s3:x-amz-copy-source`, …).
    pub keys: &'a [(String, Vec<String>)],
    /// `aws:RequestedRegion`: the region of the request's signature scope.
    pub region: &'a str,
}

/// Why a request to another service's resource was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDenied {
    /// AWS's AccessDenied text for a resource of the caller's own account; for another account's resource only
    /// `Access Denied`, as S3 answers (nothing about the other account's policy is revealed).
    pub message: String,
    /// Whether an explicit deny decided it.
    pub explicit: bool,
}

/// Authorize one request to another service's resource with AWS's full logic: the caller's identity
/// policies, boundary and session policies (gathered as for every decision: [`caller_entity`],
/// [`CallerPolicies::resolve`], [`caller_context`]) and the resource-based policy of the owning account —
/// same-account or cross-account ([`policy::evaluate`]). A resource whose owner cannot be told apart (an S3
/// bucket registered to two accounts at once) and an unregistered S3 bucket (except to create it) are refused.
pub fn authorize_resource(
    gw: Gateway<'_>,
    st: &State,
    caller: &Caller,
    r: RequestInfo<'_>,
    req: &ResourceRequest<'_>,
) -> Result<(), ResourceDenied> {
    let action = req.action;
    let opaque = || ResourceDenied {
        message: "Access Denied".into(),
        explicit: false,
    };
    let detailed = |reason: &str| ResourceDenied {
        message: format!(
            "User: {} is not authorized to perform: {action} on resource: {} {reason}",
            caller.arn, req.resource
        ),
        explicit: false,
    };
    session_may_call(caller, action, req.resource).map_err(|e| ResourceDenied {
        message: e.message,
        explicit: false,
    })?;
    let s3_bucket = crate::resources::parse_arn(req.policy_arn)
        .filter(|a| a.service == "s3" && a.account.is_empty())
        .is_some();
    let (owner_acct, owner_id) = match crate::resources::owner_of(st, req.policy_arn) {
        crate::resources::Owner::Known(a) => (Some(a), a.id()),
        crate::resources::Owner::Ambiguous => {
            return Err(detailed(
                "because the bucket is registered to more than one account",
            ));
        }
        crate::resources::Owner::Unknown if s3_bucket => {
            if action.eq_ignore_ascii_case("s3:CreateBucket") {
                (None, caller.account.as_str())
            } else {
                return Err(detailed(
                    "because the bucket is not registered to any account",
                ));
            }
        }
        crate::resources::Owner::Unknown => {
            let named = crate::resources::parse_arn(req.policy_arn).map_or("", |a| a.account);
            (
                None,
                if named.is_empty() {
                    caller.account.as_str()
                } else {
                    named
                },
            )
        }
    };
    let same_account = owner_id == caller.account;
    let deny_with = |d: &policy::Decision<'_>, preq: &policy::Request<'_>| {
        if same_account {
            ResourceDenied {
                message: d.denial_message(&caller.arn, preq.action, preq.resource),
                explicit: d.effect == policy::Effect::ExplicitDeny,
            }
        } else {
            ResourceDenied {
                explicit: d.effect == policy::Effect::ExplicitDeny,
                ..opaque()
            }
        }
    };
    let acct = st
        .accounts
        .get(&caller.account)
        .ok_or_else(|| detailed(&Unusable::PrincipalGone.reason()))?;
    let entity = caller_entity(acct, caller).map_err(|u| detailed(&u.reason()))?;
    let policies = CallerPolicies::resolve(gw.session_policies, acct, entity, caller)
        .map_err(|u| detailed(&u.reason()))?;
    let principal = caller.principal();
    let mut context = caller_context(caller, &principal, entity.tags(), r);
    if !req.region.is_empty() {
        context.set("aws:RequestedRegion", req.region);
    }
    context.set("aws:ResourceAccount", owner_id);
    if req.action.len() > 3
        && req
            .action
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("s3:"))
    {
        context.set("s3:ResourceAccount", owner_id);
    }
    for (k, vals) in req.keys {
        context.insert(k, vals.iter().cloned());
    }
    let resource_policy = owner_acct.and_then(|a| crate::resources::policy_of(a, req.policy_arn));
    let compiled = match resource_policy {
        Some(rp) => Some(rp.doc.compiled.clone().ok_or_else(|| {
            tracing::warn!(resource = %req.policy_arn, "a resource policy cannot be evaluated; the resource is allowed to nobody");
            detailed("because the resource-based policy cannot be evaluated")
        })?),
        None => None,
    };
    let label = "resource-policy";
    let mut set = policies.set().resource_account(owner_id);
    if let Some(p) = &compiled {
        set = set.resource(p, label, owner_id);
    }
    let preq = policy::Request::new(&principal, action, req.resource, &context);
    let decision = policy::evaluate(&preq, &set);
    gw.metrics
        .decision(DecisionKind::Resource, decision.effect.into());
    if decision.is_allowed() {
        return Ok(());
    }
    Err(deny_with(&decision, &preq))
}

/// What an `AssumeRole*` request says that becomes condition keys of its trust evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssumeFacts<'a> {
    /// `sts:RoleSessionName`.
    pub session_name: &'a str,
    /// `sts:ExternalId`.
    pub external_id: Option<&'a str>,
    /// `sts:SourceIdentity` (the value this request sets).
    pub source_identity: Option<&'a str>,
    /// Session tags passed by this request (not inherited ones): `aws:RequestTag/*`, `aws:TagKeys`.
    pub request_tags: &'a [(String, String)],
    /// `sts:TransitiveTagKeys` of this request.
    pub transitive_tag_keys: &'a [String],
    /// Keys established by the identity provider's token or assertion (`<issuer>:sub`, `saml:*`, …).
    pub federation_keys: &'a [(String, Vec<String>)],
    /// `aws:FederatedProvider` of an `AssumeRoleWith*` call.
    pub federated_provider: Option<&'a str>,
    /// MFA authenticated with this request (overrides the caller's session MFA).
    pub mfa_at: Option<i64>,
    /// The call also needs `sts:TagSession` (tags or transitive keys were passed).
    pub tags_session: bool,
}

/// Who asks to assume a role: a signed caller (AssumeRole; its own policies must allow too) or a federated
/// principal proven by a token or assertion.
pub enum Assumer<'a> {
    Caller { caller: &'a Caller },
    Federated { principal: policy::Principal },
}

/// The role an `AssumeRole*` call asks for.
#[derive(Debug, Clone, Copy)]
pub struct RoleTarget<'a> {
    pub role: &'a Role,
    pub arn: &'a str,
    pub account: &'a str,
}

/// Why an `AssumeRole*` call was refused: the engine's request and decision, for the caller's wording.
pub struct TrustDenied {
    pub message: String,
    /// The sealed decision, for a denial the caller may decode (same account only).
    pub encoded: Option<String>,
}

/// Authorize an `AssumeRole*` call for `role`: `action` and, as the request needs them, `sts:TagSession` and
/// `sts:SetSourceIdentity`, each against the role's trust policy and (for a signed caller) the caller's own
/// policies. The context is built once, here, for all of them.
pub fn authorize_assume(
    gw: Gateway<'_>,
    st: &State,
    assumer: &Assumer<'_>,
    r: RequestInfo<'_>,
    target: RoleTarget<'_>,
    action: &str,
    facts: &AssumeFacts<'_>,
) -> Result<(), TrustDenied> {
    let RoleTarget {
        role,
        arn: role_arn,
        account: role_account,
    } = target;
    let trust = role.trust.compiled.clone().ok_or_else(|| TrustDenied {
        message: "because the role's trust policy cannot be evaluated".into(),
        encoded: None,
    })?;
    let (principal, mut context, caller_policies, caller) = match assumer {
        Assumer::Caller { caller } => {
            let principal = caller.principal();
            let resolved = st
                .accounts
                .get(&caller.account)
                .ok_or(Unusable::PrincipalGone)
                .and_then(|acct| {
                    let entity = caller_entity(acct, caller)?;
                    let policies =
                        CallerPolicies::resolve(gw.session_policies, acct, entity, caller)?;
                    Ok((entity, policies))
                });
            let (entity, policies) = resolved.map_err(|u| TrustDenied {
                message: u.reason(),
                encoded: None,
            })?;
            let context = caller_context(caller, &principal, entity.tags(), r);
            (principal, context, Some(policies), Some(caller))
        }
        Assumer::Federated { principal } => {
            let mut context = policy::Context::new();
            principal.fill_context(&mut context);
            fill_request_keys(&mut context, r);
            (principal.clone(), context, None, None)
        }
    };
    if let Some(fp) = facts.federated_provider {
        context.set("aws:FederatedProvider", fp);
    }
    if let Some(at) = facts.mfa_at {
        context.set("aws:MultiFactorAuthPresent", "true");
        context.set("aws:MultiFactorAuthAge", (r.now - at).max(0).to_string());
    }
    context.set("sts:RoleSessionName", facts.session_name);
    if let Some(e) = facts.external_id {
        context.set("sts:ExternalId", e);
    }
    if let Some(si) = facts.source_identity {
        context.set("sts:SourceIdentity", si);
    }
    for (k, vals) in facts.federation_keys {
        context.insert(k, vals.iter().cloned());
    }
    if !facts.transitive_tag_keys.is_empty() {
        context.insert(
            "sts:TransitiveTagKeys",
            facts.transitive_tag_keys.iter().cloned(),
        );
    }
    // Session tags and the role's own tags, as the catalog lists them for the action.
    let request_tags: Vec<Tag> = facts
        .request_tags
        .iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    let tag_facts = RequestFacts {
        tags: &request_tags,
        ..RequestFacts::default()
    };
    let role_target = Target {
        tags: &role.tags,
        boundary: None,
    };
    for a in [action, "sts:TagSession"] {
        action_keys(&mut context, a, role_target, &tag_facts);
    }
    let empty = policy::PolicySet::new();
    let caller_set = caller_policies.as_ref().map_or(empty, CallerPolicies::set);
    let trust_ref = policy::PolicyRef::new(&trust, "trust-policy", policy::PolicySource::Resource);
    let mut checks = vec![action];
    if facts.tags_session {
        checks.push("sts:TagSession");
    }
    if facts.source_identity.is_some() {
        checks.push("sts:SetSourceIdentity");
    }
    for a in checks {
        let req = policy::Request::new(&principal, a, role_arn, &context);
        let d = policy::evaluate_trust(&req, trust_ref, role_account, &caller_set);
        if !d.is_allowed() {
            gw.metrics.decision(DecisionKind::Trust, d.effect.into());
            let encoded = caller
                .filter(|c| c.account == role_account)
                .and_then(|c| encoded_decision(gw.tokens, c, &req, &d));
            return Err(TrustDenied {
                message: d
                    .reason(a)
                    .unwrap_or_else(|| "because no role trust policy allows it".into()),
                encoded,
            });
        }
    }
    gw.metrics.decision(DecisionKind::Trust, Decision::Allow);
    Ok(())
}

/// Purpose tag of encoded authorization failure messages.
pub const AUTHZ_MESSAGE_PURPOSE: &[u8] = b"stsd-authorization-message-v1";
/// DecodeAuthorizationMessage accepts at most 10,240 characters; keep the encoded form below that.
const MAX_ENCODED_MESSAGE: usize = 10_000;

/// AWS's AccessDenied text plus (stsd extension) an encoded authorization failure message that
/// `sts:DecodeAuthorizationMessage` turns back into the decision details, as AWS services that encode do.
/// Only for decisions about the caller's own account: nothing about another account's resources is ever
/// encoded.
pub fn denial(
    tokens: &crate::tokens::KeyRing,
    caller: &Caller,
    req: &policy::Request<'_>,
    decision: &policy::Decision<'_>,
) -> ApiError {
    let text = decision.denial_message(&caller.arn, req.action, req.resource);
    match encoded_decision(tokens, caller, req, decision) {
        Some(encoded) => ApiError::access_denied(format!(
            "{text}. Encoded authorization failure message: {encoded}"
        )),
        None => ApiError::access_denied(text),
    }
}

/// The sealed decision details (matched statements and context), sized for DecodeAuthorizationMessage.
fn encoded_decision(
    tokens: &crate::tokens::KeyRing,
    caller: &Caller,
    req: &policy::Request<'_>,
    decision: &policy::Decision<'_>,
) -> Option<String> {
    let matched: Vec<serde_json::Value> = decision
        .matched
        .iter()
        .map(|m| {
            serde_json::json!({
                "statementId": m.sid.unwrap_or_default(),
                "effect": m.effect.as_str(),
                "policyId": m.label,
                "policyType": m.policy_type.description(),
                "statementIndex": m.statement_index,
            })
        })
        .collect();
    let mut conditions: Vec<serde_json::Value> = req
        .context
        .iter()
        .map(|(k, vals)| {
            let values: Vec<serde_json::Value> = vals
                .iter()
                .map(|v| serde_json::json!({ "value": v }))
                .collect();
            serde_json::json!({"key": k, "values": {"items": values}})
        })
        .collect();
    let body = |conditions: &[serde_json::Value]| {
        serde_json::json!({
            "account": caller.account,
            "allowed": false,
            "explicitDeny": decision.effect == policy::Effect::ExplicitDeny,
            "matchedStatements": {"items": matched},
            "failures": {"items": []},
            "context": {
                "principal": {"id": caller.user_id, "arn": caller.arn},
                "action": req.action,
                "resource": req.resource,
                "conditions": {"items": conditions},
            },
        })
        .to_string()
    };
    // Drop context entries until the sealed form fits the decoder's input limit.
    loop {
        let json = body(&conditions);
        let encoded = tokens.seal_message(AUTHZ_MESSAGE_PURPOSE, json.as_bytes())?;
        if encoded.len() <= MAX_ENCODED_MESSAGE || conditions.is_empty() {
            return Some(encoded);
        }
        conditions.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountMeta, ManagedPolicy, PolicyVersion};

    const ACCT: &str = "111122223333";

    fn tags(v: &str) -> Vec<Tag> {
        vec![Tag {
            key: "env".into(),
            value: v.into(),
        }]
    }

    /// An account with one tagged entity of each taggable kind; the user and role have a boundary.
    fn sample_account() -> Account {
        let mut acct = Account::new(AccountMeta {
            id: ACCT.into(),
            name: "test".into(),
            created: 0,
            root_keys: vec![],
            alias: None,
            password_policy: None,
        });
        let boundary = format!("arn:aws:iam::{ACCT}:policy/b");
        let doc = |text: &str| Doc {
            text: text.into(),
            kind: crate::model::DocKind::Trust,
            principal_ids: vec![],
            compiled: None,
        };
        acct.users.insert(
            "u".into(),
            User {
                name: "u".into(),
                id: "AIDAEXAMPLEUSER000001".into(),
                path: "/".into(),
                created: 0,
                tags: tags("user"),
                inline: Default::default(),
                attached: vec![],
                groups: vec![],
                boundary: Some(boundary.clone()),
                keys: vec![],
                login_profile: None,
                password_last_used: None,
            },
        );
        acct.roles.insert(
            "r".into(),
            Role {
                name: "r".into(),
                id: "AROAEXAMPLEROLE000001".into(),
                path: "/".into(),
                created: 0,
                trust: doc("{}"),
                description: None,
                max_session_duration: 3600,
                boundary: Some(boundary),
                tags: tags("role"),
                inline: Default::default(),
                attached: vec![],
            },
        );
        acct.policies.insert(
            "p".into(),
            ManagedPolicy {
                name: "p".into(),
                id: "ANPAEXAMPLEPOLICY0001".into(),
                path: "/".into(),
                created: 0,
                updated: 0,
                description: None,
                versions: vec![PolicyVersion {
                    id: "v1".into(),
                    doc: doc("{}"),
                    created: 0,
                }],
                default_version: "v1".into(),
                next_version: 2,
                tags: tags("policy"),
            },
        );
        acct.instance_profiles.insert(
            "ip".into(),
            crate::model::InstanceProfile {
                name: "ip".into(),
                id: "AIPAEXAMPLEPROFILE001".into(),
                path: "/".into(),
                created: 0,
                roles: vec!["AROAEXAMPLEROLE000001".into()],
                tags: tags("profile"),
            },
        );
        acct
    }

    /// A resource ARN of the action's first resource type, naming a sample entity where one exists.
    fn sample_resource(a: &action_catalog::Action) -> String {
        let Some(rt) = a.resource_types.first() else {
            return "*".into();
        };
        match rt.resource_type.name {
            "user" => format!("arn:aws:iam::{ACCT}:user/u"),
            "role" => format!("arn:aws:iam::{ACCT}:role/r"),
            "policy" => format!("arn:aws:iam::{ACCT}:policy/p"),
            "group" => format!("arn:aws:iam::{ACCT}:group/g"),
            "instance-profile" => format!("arn:aws:iam::{ACCT}:instance-profile/ip"),
            "federated-user" => format!("arn:aws:sts::{ACCT}:federated-user/f"),
            _ => "*".into(),
        }
    }

    /// Every operation stsd serves with the catalog action it is authorized as: the generated operation
    /// tables hold the catalog's entries (one table), plus LookupEvents (CloudTrail's JSON protocol).
    fn served_actions() -> Vec<(&'static str, &'static action_catalog::Action)> {
        let iam = stsd_wire::generated::iam::OPERATIONS
            .iter()
            .map(|o| ("iam", o));
        let sts = stsd_wire::generated::sts::OPERATIONS
            .iter()
            .map(|o| ("sts", o));
        let mut out: Vec<_> = iam
            .chain(sts)
            .filter_map(|(service, op)| {
                let handled = match service {
                    "iam" => crate::iam::handler(op.name).is_some(),
                    _ => {
                        crate::sts::handler(op.name).is_some()
                            || crate::sts::unsigned_handler(op.name).is_some()
                    }
                };
                assert!(
                    handled,
                    "{service}:{} is served but has no handler",
                    op.name
                );
                op.action.map(|a| (service, a))
            })
            .collect();
        out.push((
            "cloudtrail",
            action_catalog::action("cloudtrail", "LookupEvents").unwrap(),
        ));
        out
    }

    /// Walks AWS's action catalog over every action stsd serves: each gets exactly the condition keys the
    /// catalog lists for it (its own and its resource types') that the request carries — and no other.
    #[test]
    fn every_served_action_gets_exactly_its_catalog_keys() {
        let acct = sample_account();
        let request_tags = vec![Tag {
            key: "team".into(),
            value: "blue".into(),
        }];
        let removed = vec!["old".to_string()];
        let boundary = format!("arn:aws:iam::{ACCT}:policy/new-boundary");
        let attached = format!("arn:aws:iam::{ACCT}:policy/p");
        let instances = format!("arn:aws:ec2:*:{ACCT}:instance/*");
        let facts = RequestFacts {
            tags: &request_tags,
            tag_keys: &removed,
            permissions_boundary: Some(&boundary),
            policy_arn: Some(&attached),
            passed_to_service: Some("ec2.amazonaws.com"),
            associated_resource_arn: Some(&instances),
        };
        let mut walked = 0;
        for (service, a) in served_actions() {
            walked += 1;
            let qualified = format!("{service}:{}", a.name);
            let resource = sample_resource(a);
            let t = target(&acct, &resource);
            let mut context = policy::Context::new();
            action_keys(&mut context, &qualified, t, &facts);
            for (key, _) in context.iter() {
                assert!(
                    a.supports_condition_key(key),
                    "{qualified} got {key}, which AWS does not list for it"
                );
            }
            let carried: [(&str, bool); 8] = [
                ("aws:RequestTag/team", true),
                ("aws:TagKeys", true),
                ("iam:PermissionsBoundary", true),
                ("iam:PolicyARN", true),
                ("iam:PassedToService", true),
                ("iam:AssociatedResourceArn", true),
                ("aws:ResourceTag/env", !t.tags.is_empty()),
                ("iam:ResourceTag/env", !t.tags.is_empty()),
            ];
            for (key, present) in carried {
                if present && a.supports_condition_key(key) {
                    assert!(
                        context.contains(key),
                        "{qualified} supports {key} and the request carries it, but it was not set"
                    );
                }
            }
        }
        assert!(
            walked >= 110,
            "only {walked} served actions found in the catalog"
        );
    }

    /// `AddRoleToInstanceProfile` checks `iam:PassRole` on the role as a pass to EC2 instances: that action
    /// (not served itself, so not in the walk above) gets exactly the two pass keys and the role's tags.
    #[test]
    fn pass_role_gets_the_pass_keys() {
        let acct = sample_account();
        let role = format!("arn:aws:iam::{ACCT}:role/r");
        let instances = format!("arn:aws:ec2:*:{ACCT}:instance/*");
        let facts = RequestFacts {
            passed_to_service: Some("ec2.amazonaws.com"),
            associated_resource_arn: Some(&instances),
            ..RequestFacts::default()
        };
        let mut c = policy::Context::new();
        action_keys(&mut c, "iam:PassRole", target(&acct, &role), &facts);
        assert_eq!(
            c.get("iam:PassedToService"),
            Some(&["ec2.amazonaws.com".to_string()][..])
        );
        assert_eq!(
            c.get("iam:AssociatedResourceArn"),
            Some(&[instances.clone()][..])
        );
        assert_eq!(
            c.get("aws:ResourceTag/env"),
            Some(&["role".to_string()][..])
        );
        let mut c = policy::Context::new();
        let profile = format!("arn:aws:iam::{ACCT}:instance-profile/ip");
        action_keys(
            &mut c,
            "iam:AddRoleToInstanceProfile",
            target(&acct, &profile),
            &facts,
        );
        assert!(!c.contains("iam:PassedToService"));
        assert_eq!(
            c.get("aws:ResourceTag/env"),
            Some(&["profile".to_string()][..])
        );
    }

    /// Two facts the walk relies on, checked by hand against the Service Authorization Reference.
    #[test]
    fn boundary_key_comes_from_the_request_or_the_target() {
        let acct = sample_account();
        let user = format!("arn:aws:iam::{ACCT}:user/u");
        let mut c = policy::Context::new();
        action_keys(
            &mut c,
            "iam:PutUserPolicy",
            target(&acct, &user),
            &RequestFacts::default(),
        );
        assert_eq!(
            c.get("iam:PermissionsBoundary"),
            Some(&[format!("arn:aws:iam::{ACCT}:policy/b")][..])
        );
        assert_eq!(
            c.get("aws:ResourceTag/env"),
            Some(&["user".to_string()][..])
        );
        let mut c = policy::Context::new();
        action_keys(
            &mut c,
            "iam:CreateUser",
            Target::default(),
            &RequestFacts::default(),
        );
        assert!(
            !c.contains("iam:PermissionsBoundary"),
            "no boundary in the request: the key is absent"
        );
        // stsd's own extension actions are not in the catalog and get no action keys.
        let mut c = policy::Context::new();
        action_keys(
            &mut c,
            "iam:CreateAccount",
            Target::default(),
            &RequestFacts {
                tags: &tags("x"),
                ..RequestFacts::default()
            },
        );
        assert!(c.is_empty());
    }

    // ---- The gateway end to end (`test_support::Harness`: signed requests through the whole pipeline) ----

    use crate::test_support::{ACCOUNT, Harness, between, owned, policy};

    fn denied(r: ApiResult<String>) -> bool {
        matches!(r, Err(e) if e.code == crate::error::ErrorCode::AccessDenied)
    }

    fn trust(account: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        )
    }

    /// A permissions boundary caps what identity policies allow; an explicit deny wins over any allow.
    #[test]
    fn a_boundary_caps_and_a_deny_wins() {
        let h = Harness::new();
        let dana = h.user("dana", Some(&policy("Allow", "iam:*", "*")));
        let boundary = h.root_iam(
            "CreatePolicy",
            &[
                ("PolicyName", "list-users-only"),
                ("PolicyDocument", &policy("Allow", "iam:ListUsers", "*")),
            ],
        );
        let boundary_arn = between(&boundary, "<Arn>", "</Arn>");
        assert!(h.call(&dana, "iam", "ListRoles", &[]).is_ok());
        h.root_iam(
            "PutUserPermissionsBoundary",
            &[("UserName", "dana"), ("PermissionsBoundary", &boundary_arn)],
        );
        assert!(h.call(&dana, "iam", "ListUsers", &[]).is_ok());
        assert!(denied(h.call(&dana, "iam", "ListRoles", &[])));
        h.root_iam(
            "PutUserPolicy",
            &[
                ("UserName", "dana"),
                ("PolicyName", "deny"),
                ("PolicyDocument", &policy("Deny", "iam:ListUsers", "*")),
            ],
        );
        assert!(denied(h.call(&dana, "iam", "ListUsers", &[])));
    }

    /// A managed session policy is bound to the policy's ID: deleting it (or re-creating one of the same name)
    /// leaves the session allowed nothing, never more.
    #[test]
    fn a_session_policy_that_disappears_leaves_the_session_nothing() {
        let h = Harness::new();
        let erin = h.user("erin", Some(&policy("Allow", "sts:AssumeRole", "*")));
        h.root_iam(
            "CreateRole",
            &[
                ("RoleName", "admin"),
                ("AssumeRolePolicyDocument", &trust(ACCOUNT)),
            ],
        );
        h.root_iam(
            "PutRolePolicy",
            &[
                ("RoleName", "admin"),
                ("PolicyName", "all"),
                ("PolicyDocument", &policy("Allow", "*", "*")),
            ],
        );
        let scope = || {
            h.root_iam(
                "CreatePolicy",
                &[
                    ("PolicyName", "scope"),
                    ("PolicyDocument", &policy("Allow", "iam:ListUsers", "*")),
                ],
            )
        };
        let scope_arn = between(&scope(), "<Arn>", "</Arn>");
        let xml = h
            .call(
                &erin,
                "sts",
                "AssumeRole",
                &owned(&[
                    ("RoleArn", &format!("arn:aws:iam::{ACCOUNT}:role/admin")),
                    ("RoleSessionName", "scoped"),
                    ("PolicyArns.member.1.arn", &scope_arn),
                ]),
            )
            .unwrap();
        let session = Harness::session_keys(&xml);
        // The intersection of the role's policy and the session policy.
        assert!(h.call(&session, "iam", "ListUsers", &[]).is_ok());
        assert!(denied(h.call(&session, "iam", "ListRoles", &[])));
        h.root_iam("DeletePolicy", &[("PolicyArn", &scope_arn)]);
        assert!(denied(h.call(&session, "iam", "ListUsers", &[])));
        scope();
        assert!(denied(h.call(&session, "iam", "ListUsers", &[])));
        assert!(denied(h.call(&session, "iam", "ListRoles", &[])));
    }

    /// Cross-account: the role's account must trust the caller's, and the caller's account must allow the
    /// caller `sts:AssumeRole` on the role. Either side alone is refused, with the same answer whether or
    /// not the role exists.
    #[test]
    fn cross_account_assumption_needs_both_sides() {
        let h = Harness::new();
        let created = h.root_iam(
            "CreateAccount",
            &[("AccountName", "partner"), ("AccountId", "444455556666")],
        );
        let partner = crate::test_support::Keys {
            akid: between(&created, "<AccessKeyId>", "</AccessKeyId>"),
            secret: between(&created, "<SecretAccessKey>", "</SecretAccessKey>"),
            token: None,
        };
        let partner_iam = |action: &str, params: &[(&str, &str)]| {
            h.call(&partner, "iam", action, &owned(params)).unwrap()
        };
        partner_iam(
            "CreateRole",
            &[
                ("RoleName", "shared"),
                ("AssumeRolePolicyDocument", &trust(ACCOUNT)),
            ],
        );
        partner_iam(
            "CreateRole",
            &[
                ("RoleName", "private"),
                ("AssumeRolePolicyDocument", &trust("444455556666")),
            ],
        );
        let assume = |keys: &crate::test_support::Keys, role: &str| {
            h.call(
                keys,
                "sts",
                "AssumeRole",
                &owned(&[
                    ("RoleArn", &format!("arn:aws:iam::444455556666:role/{role}")),
                    ("RoleSessionName", "visit"),
                ]),
            )
        };
        // Trusted by the role's account, but not allowed by its own: refused.
        let frank = h.user("frank", None);
        let r = assume(&frank, "shared");
        assert!(denied(r.clone()), "{r:?}");
        // Allowed by both: granted, in the partner account.
        let gina = h.user("gina", Some(&policy("Allow", "sts:AssumeRole", "*")));
        let xml = assume(&gina, "shared").unwrap();
        assert!(
            xml.contains("arn:aws:sts::444455556666:assumed-role/shared/visit"),
            "{xml}"
        );
        // Allowed by its own account, not trusted by the role: refused — as for a role that does not exist,
        // word for word.
        let untrusted = assume(&gina, "private").unwrap_err();
        let missing = assume(&gina, "missing").unwrap_err();
        assert_eq!(untrusted.code, crate::error::ErrorCode::AccessDenied);
        assert_eq!(
            untrusted.message.replace("private", "NAME"),
            missing.message.replace("missing", "NAME")
        );
        assert!(
            !untrusted.message.contains("Encoded"),
            "{}",
            untrusted.message
        );
    }
}
