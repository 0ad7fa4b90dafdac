//! Authorization: the one place that builds policy-engine requests. It gathers the policies that apply to a
//! caller (user + groups, boundary), fills the global condition keys AWS fills for the caller, asks the engine,
//! and words a denial the way AWS does.

use std::sync::Arc;

use crate::auth::{Caller, CallerKind};
use crate::error::{ApiError, ApiResult};
use crate::iam::Ctx;
use crate::model::Account;
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

/// Characters that count toward IAM's size quotas (whitespace excluded).
pub fn non_whitespace_len(text: &str) -> usize {
    policy::non_whitespace_len(text)
}

/// AWS principal ARNs named in a trust policy.
pub fn principal_arns(p: &policy::Policy) -> Vec<String> {
    p.principal_arns().map(str::to_string).collect()
}

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

fn inline_into(
    out: &mut Vec<(String, policy::PolicySource, Arc<policy::Policy>)>,
    inline: &std::collections::BTreeMap<String, crate::model::Doc>,
    source: policy::PolicySource,
) {
    for (name, d) in inline {
        if let Some(c) = &d.compiled {
            out.push((name.clone(), source, c.clone()));
        }
    }
}

fn managed_into(
    out: &mut Vec<(String, policy::PolicySource, Arc<policy::Policy>)>,
    acct: &Account,
    attached: &[String],
) {
    for arn in attached {
        if let Some(c) = acct
            .policy_by_arn(arn)
            .and_then(|p| p.default_doc())
            .and_then(|v| v.doc.compiled.clone())
        {
            out.push((arn.clone(), policy::PolicySource::UserManaged, c));
        }
    }
}

/// The default version of a managed policy of `acct`, compiled.
pub fn managed_policy(acct: &Account, arn: &str) -> Option<Arc<policy::Policy>> {
    acct.policy_by_arn(arn)
        .and_then(|p| p.default_doc())
        .and_then(|v| v.doc.compiled.clone())
}

/// The entity is missing, or its permissions boundary is set but unusable: nothing may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unusable;

/// `Err` when a boundary is set but unusable: then nothing may be allowed.
fn boundary_of(
    acct: &Account,
    boundary: Option<&String>,
) -> Result<Option<(String, Arc<policy::Policy>)>, Unusable> {
    match boundary {
        None => Ok(None),
        Some(b) => managed_policy(acct, b)
            .map(|c| Some((b.clone(), c)))
            .ok_or(Unusable),
    }
}

/// A user's inline and attached policies, those of its groups, and its boundary.
pub fn user_policies(acct: &Account, user_key: &str) -> Result<PrincipalPolicies, Unusable> {
    let u = acct.users.get(user_key).ok_or(Unusable)?;
    let mut identity = Vec::new();
    inline_into(&mut identity, &u.inline, policy::PolicySource::User);
    managed_into(&mut identity, acct, &u.attached);
    for gname in &u.groups {
        if let Some(g) = acct.groups.get(&gname.to_lowercase()) {
            inline_into(&mut identity, &g.inline, policy::PolicySource::Group);
            managed_into(&mut identity, acct, &g.attached);
        }
    }
    Ok(PrincipalPolicies {
        identity,
        boundary: boundary_of(acct, u.boundary.as_ref())?,
    })
}

/// A group's inline and attached policies.
pub fn group_policies(acct: &Account, group_key: &str) -> Result<PrincipalPolicies, Unusable> {
    let g = acct.groups.get(group_key).ok_or(Unusable)?;
    let mut identity = Vec::new();
    inline_into(&mut identity, &g.inline, policy::PolicySource::Group);
    managed_into(&mut identity, acct, &g.attached);
    Ok(PrincipalPolicies {
        identity,
        boundary: None,
    })
}

/// A role's inline and attached policies and its boundary.
pub fn role_policies(acct: &Account, role_key: &str) -> Result<PrincipalPolicies, Unusable> {
    let r = acct.roles.get(role_key).ok_or(Unusable)?;
    let mut identity = Vec::new();
    inline_into(&mut identity, &r.inline, policy::PolicySource::Role);
    managed_into(&mut identity, acct, &r.attached);
    Ok(PrincipalPolicies {
        identity,
        boundary: boundary_of(acct, r.boundary.as_ref())?,
    })
}

/// The policies in force for the caller: its identity policies and boundary plus, for sessions, the
/// session policies. `Err(reason)` when the caller can be allowed nothing at all.
pub struct CallerPolicies {
    pub principal: PrincipalPolicies,
    /// (label, policy) of the session policies (inline first, then managed ARNs); empty → none.
    pub session: Vec<(String, Arc<policy::Policy>)>,
    /// A session policy set was given (even if one of its ARNs no longer exists).
    pub has_session_policy: bool,
}

impl CallerPolicies {
    pub fn set(&self) -> policy::PolicySet<'_> {
        let mut set = self.principal.set();
        for (label, p) in &self.session {
            set = set.session(p, label);
        }
        set
    }
}

/// Gather what applies to `caller` (in its own account).
pub fn caller_policies(
    st: &State,
    app: &crate::app::App,
    caller: &Caller,
) -> Result<CallerPolicies, String> {
    let acct = st
        .accounts
        .get(&caller.account)
        .ok_or_else(|| "because the account does not exist".to_string())?;
    let principal = match &caller.kind {
        CallerKind::Root => PrincipalPolicies::default(),
        CallerKind::User { key, .. } | CallerKind::FederatedUser { user_key: key, .. } => {
            user_policies(acct, key)
                .map_err(|Unusable| "because no identity-based policy allows it".to_string())?
        }
        CallerKind::AssumedRole { role_key, .. } => role_policies(acct, role_key)
            .map_err(|Unusable| "because the role no longer exists".to_string())?,
    };
    let mut session = Vec::new();
    let mut has_session_policy = false;
    if let Some(claims) = caller.session.as_deref() {
        if let Some(text) = &claims.policy {
            has_session_policy = true;
            let p = app
                .session_policy(text)
                .map_err(|_| "because the session policy is invalid".to_string())?;
            session.push(("session-policy".to_string(), p));
        }
        for arn in &claims.policy_arns {
            has_session_policy = true;
            if let Some(p) = managed_policy(acct, arn) {
                session.push((arn.clone(), p));
            }
        }
    }
    Ok(CallerPolicies {
        principal,
        session,
        has_session_policy,
    })
}

/// Which calls the kind of temporary credentials may make at all, before any policy (AWS's fixed rules):
/// GetSessionToken sessions call IAM only after MFA and STS only for AssumeRole/GetCallerIdentity;
/// federated users call no IAM and only GetCallerIdentity.
fn session_may_call(caller: &Caller, action: &str) -> bool {
    let Some(claims) = caller.session.as_deref() else {
        return true;
    };
    let is_iam = action.len() > 4 && action[..4].eq_ignore_ascii_case("iam:");
    let is_sts = action.len() > 4 && action[..4].eq_ignore_ascii_case("sts:");
    match claims.kind {
        SessionKind::User { .. } | SessionKind::Root => {
            if is_iam {
                claims.mfa_at.is_some()
            } else if is_sts {
                action.eq_ignore_ascii_case("sts:AssumeRole")
                    || action.eq_ignore_ascii_case("sts:GetCallerIdentity")
            } else {
                true
            }
        }
        SessionKind::Federated { .. } => !is_iam && !is_sts,
        SessionKind::Role { .. } => true,
    }
}

/// The request context AWS builds for `caller`: principal keys, tags, session keys, request keys.
pub fn caller_context(st: &State, ctx: &Ctx<'_>, principal: &policy::Principal) -> policy::Context {
    let caller = ctx.caller;
    let mut context = policy::Context::new();
    principal.fill_context(&mut context);
    fill_request_keys(&mut context, ctx);
    if let Some(acct) = st.accounts.get(&caller.account) {
        let tags = match &caller.kind {
            CallerKind::User { key, .. } => acct.users.get(key).map(|u| u.tags.as_slice()),
            CallerKind::AssumedRole { role_key, .. } => {
                acct.roles.get(role_key).map(|r| r.tags.as_slice())
            }
            _ => None,
        };
        for t in tags.unwrap_or_default() {
            context.set(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
        }
    }
    if let Some(c) = caller.session.as_deref() {
        // Session tags override the entity's tags of the same key.
        for (k, v) in &c.tags {
            context.set(&format!("aws:PrincipalTag/{k}"), v.clone());
        }
        context.set("aws:TokenIssueTime", crate::iam::fmt_time(c.issued));
        match c.mfa_at {
            Some(at) => {
                context.set("aws:MultiFactorAuthPresent", "true");
                context.set("aws:MultiFactorAuthAge", (ctx.now - at).max(0).to_string());
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

/// Authorize a call made in the caller's own account (IAM actions, identity-checked STS actions).
pub fn authorize_iam(
    st: &State,
    ctx: &Ctx<'_>,
    action: &str,
    resource: &str,
    extra: &[(String, Vec<String>)],
) -> ApiResult<()> {
    let caller = ctx.caller;
    let deny = |reason: &str| {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {reason}",
            caller.arn
        ))
    };
    if !session_may_call(caller, action) {
        return Err(deny(&format!(
            "because no session policy allows the {action} action"
        )));
    }
    // The root user may do everything in its own account (no SCPs in stsd).
    if caller.kind == CallerKind::Root {
        return Ok(());
    }
    let policies = caller_policies(st, ctx.app, caller).map_err(|r| deny(&r))?;
    let principal = caller.principal();
    let mut context = caller_context(st, ctx, &principal);
    for (k, v) in extra {
        context.insert(k, v.iter().cloned());
    }
    let set = policies.set();
    let req = policy::Request::new(&principal, action, resource, &context);
    let decision = policy::evaluate(&req, &set);
    if decision.is_allowed() {
        return Ok(());
    }
    Err(denial(ctx.app, caller, &req, &decision))
}

/// Purpose tag of encoded authorization failure messages.
pub const AUTHZ_MESSAGE_PURPOSE: &[u8] = b"stsd-authorization-message-v1";
/// DecodeAuthorizationMessage accepts at most 10,240 characters; keep the encoded form below that.
const MAX_ENCODED_MESSAGE: usize = 10_000;

/// AWS's AccessDenied text plus (stsd extension) an encoded authorization failure message that
/// `sts:DecodeAuthorizationMessage` turns back into the decision details, as AWS services that encode do.
pub fn denial(
    app: &crate::app::App,
    caller: &Caller,
    req: &policy::Request<'_>,
    decision: &policy::Decision<'_>,
) -> ApiError {
    let text = decision.denial_message(&caller.arn, req.action, req.resource);
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
        let Some(encoded) = app
            .tokens
            .seal_message(AUTHZ_MESSAGE_PURPOSE, json.as_bytes())
        else {
            return ApiError::access_denied(text);
        };
        if encoded.len() <= MAX_ENCODED_MESSAGE || conditions.is_empty() {
            return ApiError::access_denied(format!(
                "{text}. Encoded authorization failure message: {encoded}"
            ));
        }
        conditions.pop();
    }
}

/// Request-level global keys: time, transport, source IP, user agent.
pub fn fill_request_keys(context: &mut policy::Context, ctx: &Ctx<'_>) {
    context.set("aws:CurrentTime", crate::iam::fmt_time(ctx.now));
    context.set("aws:EpochTime", ctx.now.to_string());
    context.set(
        "aws:SecureTransport",
        if ctx.meta.secure_transport {
            "true"
        } else {
            "false"
        },
    );
    if !ctx.meta.source_ip.is_empty() {
        context.set("aws:SourceIp", ctx.meta.source_ip.clone());
    }
    if !ctx.meta.user_agent.is_empty() {
        context.set("aws:UserAgent", ctx.meta.user_agent.clone());
    }
    context.set("aws:RequestedRegion", "us-east-1");
    context.set("aws:ViaAWSService", "false");
}
