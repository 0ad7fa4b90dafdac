//! Authorization: the one place that builds policy-engine requests. It gathers the policies that apply to a
//! caller (user + groups, boundary), fills the global condition keys AWS fills for the caller, asks the engine,
//! and words a denial the way AWS does.

use std::sync::Arc;

use crate::auth::CallerKind;
use crate::error::{ApiError, ApiResult};
use crate::iam::Ctx;
use crate::model::Account;
use crate::state::State;

/// Compile a document with the engine, mapping its errors to IAM's codes.
pub fn compile(text: &str, kind: policy::PolicyKind) -> ApiResult<Arc<policy::Policy>> {
    policy::Policy::parse(text, kind)
        .map(Arc::new)
        .map_err(|e| {
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

/// Policies that apply to an IAM user: its inline and attached policies and those of its groups, plus its
/// permissions boundary. `Err` when the boundary is set but unusable (then nothing may be allowed).
struct UserPolicies {
    identity: Vec<(String, policy::PolicySource, Arc<policy::Policy>)>,
    boundary: Option<(String, Arc<policy::Policy>)>,
}

fn user_policies(acct: &Account, user_key: &str) -> Result<UserPolicies, ()> {
    let mut identity = Vec::new();
    let Some(u) = acct.users.get(user_key) else {
        return Err(());
    };
    for (name, d) in &u.inline {
        if let Some(c) = &d.compiled {
            identity.push((name.clone(), policy::PolicySource::User, c.clone()));
        }
    }
    let managed = |arn: &String| {
        acct.policy_by_arn(arn)
            .and_then(|p| p.default_doc())
            .and_then(|v| v.doc.compiled.clone())
            .map(|c| (arn.clone(), policy::PolicySource::UserManaged, c))
    };
    identity.extend(u.attached.iter().filter_map(managed));
    for gname in &u.groups {
        if let Some(g) = acct.groups.get(&gname.to_lowercase()) {
            for (name, d) in &g.inline {
                if let Some(c) = &d.compiled {
                    identity.push((name.clone(), policy::PolicySource::Group, c.clone()));
                }
            }
            identity.extend(g.attached.iter().filter_map(managed));
        }
    }
    let boundary = match &u.boundary {
        None => None,
        Some(b) => {
            let c = acct
                .policy_by_arn(b)
                .and_then(|p| p.default_doc())
                .and_then(|v| v.doc.compiled.clone());
            Some((b.clone(), c.ok_or(())?))
        }
    };
    Ok(UserPolicies { identity, boundary })
}

/// Authorize an IAM (or identity-only STS) call made in the caller's own account.
pub fn authorize_iam(
    st: &State,
    ctx: &Ctx<'_>,
    action: &str,
    resource: &str,
    extra: &[(String, Vec<String>)],
) -> ApiResult<()> {
    let caller = ctx.caller;
    let user_key = match &caller.kind {
        // The root user may do everything in its own account (no SCPs in stsd).
        CallerKind::Root => return Ok(()),
        CallerKind::User { key, .. } => key,
    };
    let deny = |reason: String| {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {reason}",
            caller.arn
        ))
    };
    let acct = st
        .accounts
        .get(&caller.account)
        .ok_or_else(ApiError::internal)?;
    let Ok(policies) = user_policies(acct, user_key) else {
        return Err(deny(format!(
            "because no permissions boundary allows the {action} action"
        )));
    };
    let principal = policy::Principal::user(&caller.arn).with_user_id(&caller.user_id);
    let mut context = policy::Context::new();
    principal.fill_context(&mut context);
    fill_request_keys(&mut context, ctx);
    if let Some(u) = acct.users.get(user_key) {
        for t in &u.tags {
            context.set(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
        }
    }
    for (k, v) in extra {
        context.insert(k, v.iter().cloned());
    }
    let mut set = policy::PolicySet::new();
    for (label, source, p) in &policies.identity {
        set = set.identity(p, label, *source);
    }
    if let Some((label, p)) = &policies.boundary {
        set = set.boundary(p, label);
    }
    let req = policy::Request::new(&principal, action, resource, &context);
    let decision = policy::evaluate(&req, &set);
    if decision.is_allowed() {
        return Ok(());
    }
    Err(ApiError::access_denied(decision.denial_message(
        &caller.arn,
        action,
        resource,
    )))
}

/// Request-level global keys: time, transport, source IP, user agent.
fn fill_request_keys(context: &mut policy::Context, ctx: &Ctx<'_>) {
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
