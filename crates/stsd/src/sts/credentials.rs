//! The credential-issuing STS actions: AssumeRole, GetSessionToken, GetFederationToken.
//! Sessions are stateless: everything a later request needs is sealed into the token (see `tokens`).

use crate::action::{Ctx, tags_in};
use crate::authz;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::{Caller, CallerKind};
use crate::tokens::{Claims, SessionKind};
use stsd_wire::generated::sts as w;

/// Plaintext budget of inline session policy + policy ARNs, and the packed budget incl. tags.
const SESSION_POLICY_PLAINTEXT: usize = 2048;
const PACKED_BUDGET: usize = 4096;

fn validation(value: &str, member: &str, constraint: &str) -> ApiError {
    ApiError::validation(value, member, constraint)
}

/// `[\w+=,.@-]`
pub(crate) fn name_like(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `SerialNumber` + `TokenCode` (each checked by the model), both or neither.
fn mfa_params(serial: Option<String>, code: Option<String>) -> ApiResult<Option<(String, String)>> {
    match (serial, code) {
        (None, None) => Ok(None),
        (Some(serial), Some(code)) => Ok(Some((serial, code))),
        _ => Err(ApiError::new(
            ErrorCode::ValidationError,
            "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.",
        )),
    }
}

/// Verify an MFA code for the calling IAM user or root (long-term identity behind the credentials).
fn verify_mfa(ctx: &Ctx<'_>, serial: &str, code: &str) -> ApiResult<i64> {
    let user_key = match &ctx.caller.kind {
        CallerKind::User { key, .. } => Some(key.as_str()),
        CallerKind::Root => None,
        _ => {
            return Err(ApiError::access_denied(
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            ));
        }
    };
    crate::mfa::verify_code(
        ctx.node,
        &ctx.caller.account,
        user_key,
        serial,
        code,
        ctx.now,
    )?;
    Ok(ctx.now)
}

/// Session tags: ≤ 50 and key/value rules (the model), case-insensitive duplicates and `aws:` keys refused.
fn session_tags(tags: Option<Vec<w::Tag>>) -> ApiResult<Vec<(String, String)>> {
    let tags = tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| stsd_wire::generated::iam::Tag {
            key: t.key,
            value: t.value,
        })
        .collect();
    let tags = tags_in(Some(tags), true).map_err(|e| {
        if e.code == ErrorCode::InvalidInput {
            ApiError::new(ErrorCode::InvalidParameterValue, e.message)
        } else {
            e
        }
    })?;
    Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
}

/// [`session_policies`] for typed inputs: the model has checked the document's length and characters and the
/// ARNs' lengths; the rest (compilation, managed-policy ARNs, the plaintext budget) is stsd's.
pub(crate) fn typed_session_policies(
    policy: Option<String>,
    arns: Option<Vec<w::PolicyDescriptorType>>,
) -> ApiResult<(Option<String>, Vec<String>)> {
    if let Some(text) = &policy {
        authz::compile_with_limit(text, policy::PolicyKind::Session, policy::MAX_WIRE_CHARS)
            .map_err(|e| ApiError::malformed_policy(e.message))?;
    }
    let arns = arns.unwrap_or_default();
    // AWS allows ten; the model does not say.
    if arns.len() > 10 {
        return Err(validation(
            "[...]",
            "policyArns",
            "Member must have length less than or equal to 10",
        ));
    }
    let mut out = Vec::new();
    for item in arns {
        let arn = item
            .arn
            .ok_or_else(|| ApiError::missing("policyArns.member.arn"))?;
        if !arn.starts_with("arn:aws:iam::") || !arn.contains(":policy/") {
            return Err(validation(
                &arn,
                "policyArns.member.arn",
                "Member must be a managed policy ARN",
            ));
        }
        out.push(arn);
    }
    let plaintext = policy.as_deref().map_or(0, policy::non_whitespace_len)
        + out.iter().map(String::len).sum::<usize>();
    if plaintext > SESSION_POLICY_PLAINTEXT {
        return Err(ApiError::new(
            ErrorCode::PackedPolicyTooLarge,
            format!(
                "Session policy plaintext is {plaintext} characters; the limit is {SESSION_POLICY_PLAINTEXT}."
            ),
        ));
    }
    Ok((policy, out))
}

/// The unique IDs of the managed session policies, which must be customer managed policies of `acct` (the
/// account whose entity the session acts as). Recorded in the token: a session policy that later disappears
/// or is re-created under the same ARN leaves the session with no permissions.
pub(crate) fn session_policy_ids(
    acct: &crate::model::Account,
    arns: &[String],
) -> ApiResult<Vec<String>> {
    arns.iter()
        .map(|arn| {
            acct.policy_by_arn(arn)
                .map(|p| p.id.clone())
                .ok_or_else(|| {
                    ApiError::validation(
                        arn,
                        "policyArns.member.arn",
                        &format!("Policy {arn} does not exist or is not attachable."),
                    )
                })
        })
        .collect()
}

/// `RoleArn` that is not a role ARN at all: refused before any authorization, as AWS does.
pub(crate) fn invalid_role_arn(arn: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationError, format!("{arn} is invalid"))
}

/// stsd's packed size: session policy + ARNs + tags against a fixed budget, as a percentage.
pub(crate) fn packed_size(
    policy: Option<&str>,
    arns: &[String],
    tags: &[(String, String)],
) -> ApiResult<Option<usize>> {
    if policy.is_none() && arns.is_empty() && tags.is_empty() {
        return Ok(None);
    }
    let bytes = policy.map_or(0, policy::non_whitespace_len)
        + arns.iter().map(String::len).sum::<usize>()
        + tags
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    let pct = (bytes * 100).div_ceil(PACKED_BUDGET);
    if pct > 100 {
        return Err(ApiError::new(
            ErrorCode::PackedPolicyTooLarge,
            format!(
                "Packed size of session policies and session tags consumes {pct}% of allotted space, please use a smaller policy or fewer tags."
            ),
        ));
    }
    Ok(Some(pct))
}

/// The typed `Credentials` shape (secret and token are sensitive: never audited).
pub(crate) fn wire_credentials(
    akid: String,
    secret: String,
    token: String,
    expires: i64,
) -> w::Credentials {
    w::Credentials {
        access_key_id: akid,
        secret_access_key: secret,
        session_token: token,
        expiration: expires,
    }
}

/// Mint `ASIA` credentials for `claims` (the key encodes the session's account).
fn mint(ctx: &Ctx<'_>, claims: &Claims) -> ApiResult<(String, String, String)> {
    mint_for(ctx.node, claims)
}

/// Mint `ASIA` credentials for `claims`: (access key ID, secret, session token).
pub(crate) fn mint_for(
    app: &crate::node::Node,
    claims: &Claims,
) -> ApiResult<(String, String, String)> {
    let akid = crate::ids::access_key_id(crate::ids::TEMPORARY_PREFIX, &claims.account);
    let (secret, token) = app
        .tokens
        .seal(&akid, claims)
        .map_err(|_| ApiError::internal())?;
    Ok((akid, secret, token))
}

fn refuse_session(caller: &Caller, action: &str) -> ApiResult<()> {
    if caller.is_session() {
        return Err(ApiError::access_denied(format!(
            "Cannot call {action} with session credentials"
        )));
    }
    Ok(())
}

/// Split `arn:aws:iam::ACCT:role/path/Name` into (account, path, name).
pub(crate) fn parse_role_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (acct, resource) = rest.split_once(':')?;
    let res = resource.strip_prefix("role")?;
    if !res.starts_with('/') {
        return None;
    }
    let idx = res.rfind('/')?;
    let (path, name) = res.split_at_checked(idx + 1)?;
    Some((acct, path, name))
}

pub fn assume_role(ctx: &Ctx<'_>, input: w::AssumeRoleRequest) -> ApiResult<w::AssumeRoleResponse> {
    let caller = ctx.caller;
    let role_arn = input.role_arn.as_str();
    let (role_account, _, _) = super::assume::role_arn(role_arn)?;
    let session_name = input.role_session_name.as_str();
    let mfa = mfa_params(input.serial_number, input.token_code)?;
    let (session_policy, policy_arns) = typed_session_policies(input.policy, input.policy_arns)?;
    let tags_given = input.tags.as_ref().is_some_and(|t| !t.is_empty());
    let mut tags = session_tags(input.tags)?;
    let transitive_req = input.transitive_tag_keys.unwrap_or_default();
    for k in &transitive_req {
        if !tags.iter().any(|(tk, _)| tk.eq_ignore_ascii_case(k)) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "The transitive tag key {k} must also be a session tag passed in the request."
                ),
            ));
        }
    }
    let source_identity = input.source_identity;
    if let Some(si) = &source_identity
        && si.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
    {
        return Err(validation(
            si,
            "sourceIdentity",
            "Member must not start with 'aws:'",
        ));
    }
    if input.provided_contexts.is_some_and(|l| !l.is_empty()) {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "ProvidedContexts are not supported: no context provider is configured.",
        ));
    }
    if caller.kind == CallerKind::Root {
        return Err(ApiError::access_denied(
            "Roles may not be assumed by root accounts.",
        ));
    }
    // The same answer for a role that does not exist as for one that does not trust the caller: another
    // account's roles are not enumerable.
    let not_authorized = || {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.arn
        ))
    };
    if matches!(caller.kind, CallerKind::FederatedUser { .. }) {
        return Err(not_authorized());
    }
    // MFA checked before anything is evaluated, so the context carries it.
    let mfa_at = match &mfa {
        Some((serial, code)) => Some(verify_mfa(ctx, serial, code)?),
        None => caller.session.as_deref().and_then(|c| c.mfa_at),
    };

    // Chaining: inherited transitive tags and source identity.
    let chained = matches!(caller.kind, CallerKind::AssumedRole { .. });
    let mut transitive: Vec<String> = Vec::new();
    let mut effective_si = source_identity.clone();
    if let Some(prev) = caller.session.as_deref() {
        for (k, val) in prev
            .tags
            .iter()
            .filter(|(k, _)| prev.transitive.iter().any(|t| t.eq_ignore_ascii_case(k)))
        {
            if tags.iter().any(|(tk, _)| tk.eq_ignore_ascii_case(k)) {
                return Err(ApiError::new(
                    ErrorCode::InvalidParameterValue,
                    format!(
                        "Tag key {k} is an inherited transitive session tag and cannot be overridden."
                    ),
                ));
            }
            tags.push((k.clone(), val.clone()));
            transitive.push(k.clone());
        }
        if let Some(prev_si) = &prev.source_identity {
            match &source_identity {
                Some(si) if si != prev_si => {
                    return Err(ApiError::access_denied(
                        "The source identity of a session cannot be changed by role chaining.",
                    ));
                }
                _ => effective_si = Some(prev_si.clone()),
            }
        }
    }
    transitive.extend(transitive_req.iter().cloned());
    if tags.len() > 50 {
        return Err(ApiError::limit("SessionTags", 50));
    }
    // `aws:RequestTag/*` are the tags this request passes, not the inherited ones.
    let request_tags: Vec<(String, String)> = tags
        .iter()
        .filter(|(k, _)| !transitive.iter().any(|t| t == k) || transitive_req.contains(k))
        .cloned()
        .collect();

    let assumption = super::assume::Assumption {
        action: "sts:AssumeRole",
        assumer: authz::Assumer::Caller { caller },
        role_arn,
        session_name,
        requested_seconds: input.duration_seconds,
        chained,
        provider_limit_seconds: None,
        session_policy,
        policy_arns,
        tags,
        request_tags: Some(request_tags),
        tags_session: !transitive_req.is_empty() || tags_given,
        transitive,
        transitive_requested: Some(transitive_req),
        external_id: input.external_id.as_deref(),
        source_identity_requested: source_identity.as_deref(),
        source_identity: effective_si.clone(),
        mfa_at,
        trust_keys: Vec::new(),
        session_keys: Vec::new(),
        federated_provider: None,
        issuer_arn: caller.arn.clone(),
    };
    let granted = {
        let st = ctx.node.read()?;
        super::assume::grant(&st, ctx.node, ctx.request(), assumption, |denied| {
            let Some(d) = denied else {
                return not_authorized();
            };
            // Another account's role: the same answer whether it exists or not, and nothing to decode.
            if role_account != caller.account {
                return not_authorized();
            }
            let text = format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn} {}",
                caller.arn, d.message
            );
            match d.encoded {
                Some(e) => ApiError::access_denied(format!(
                    "{text}. Encoded authorization failure message: {e}"
                )),
                None => ApiError::access_denied(text),
            }
        })?
    };
    let issued = granted.issue(ctx.node, &caller.region)?;
    Ok(w::AssumeRoleResponse {
        credentials: Some(issued.credentials),
        assumed_role_user: Some(issued.assumed_role_user),
        packed_policy_size: issued.packed_policy_size,
        source_identity: effective_si,
    })
}

pub fn get_session_token(
    ctx: &Ctx<'_>,
    input: w::GetSessionTokenRequest,
) -> ApiResult<w::GetSessionTokenResponse> {
    let caller = ctx.caller;
    let requested = input.duration_seconds;
    let mfa = mfa_params(input.serial_number, input.token_code)?;
    refuse_session(caller, "GetSessionToken")?;
    let (kind, dur) = match &caller.kind {
        CallerKind::Root => (SessionKind::Root, requested.unwrap_or(3600).min(3600)),
        CallerKind::User { key, name } => {
            let st = ctx.node.read()?;
            let acct = st
                .accounts
                .get(&caller.account)
                .ok_or_else(ApiError::internal)?;
            let u = acct.users.get(key).ok_or_else(ApiError::internal)?;
            let kind = SessionKind::User {
                user_key: key.clone(),
                user_name: name.clone(),
                user_id: u.id.clone(),
                user_path: u.path.clone(),
            };
            (kind, requested.unwrap_or(43_200))
        }
        _ => {
            return Err(ApiError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
    };
    let mfa_at = match &mfa {
        Some((serial, code)) => Some(verify_mfa(ctx, serial, code)?),
        None => None,
    };
    let claims = Claims {
        mfa_at,
        ..Claims::plain(&caller.account, kind, &caller.arn, ctx.now, ctx.now + dur)
    };
    let (akid, secret, token) = mint(ctx, &claims)?;
    Ok(w::GetSessionTokenResponse {
        credentials: Some(wire_credentials(akid, secret, token, claims.expires)),
    })
}

pub fn get_federation_token(
    ctx: &Ctx<'_>,
    input: w::GetFederationTokenRequest,
) -> ApiResult<w::GetFederationTokenResponse> {
    let caller = ctx.caller;
    let name = input.name.as_str();
    let requested = input.duration_seconds;
    let (session_policy, policy_arns) = typed_session_policies(input.policy, input.policy_arns)?;
    let tags = session_tags(input.tags)?;
    refuse_session(caller, "GetFederationToken")?;
    let (user_key, user_arn, dur) = match &caller.kind {
        CallerKind::User { key, .. } => {
            (key.clone(), caller.arn.clone(), requested.unwrap_or(43_200))
        }
        CallerKind::Root => {
            return Err(ApiError::access_denied(
                "GetFederationToken is not supported for the account root by stsd; call it as an IAM user.",
            ));
        }
        _ => {
            return Err(ApiError::access_denied(
                "Cannot call GetFederationToken with session credentials",
            ));
        }
    };
    let fed_arn = format!("arn:aws:sts::{}:federated-user/{name}", caller.account);
    let packed = packed_size(session_policy.as_deref(), &policy_arns, &tags)?;
    let (policy_ids, user_id) = {
        let st = ctx.node.read()?;
        let request_tags: Vec<crate::model::Tag> = tags
            .iter()
            .map(|(k, v)| crate::model::Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let facts = authz::RequestFacts {
            tags: &request_tags,
            ..authz::RequestFacts::default()
        };
        ctx.authorize_request(&st, "sts:GetFederationToken", &fed_arn, &facts)?;
        if !tags.is_empty() {
            ctx.authorize_request(&st, "sts:TagSession", &fed_arn, &facts)?;
        }
        let acct = ctx.account(&st)?;
        (
            session_policy_ids(acct, &policy_arns)?,
            caller.user_id.clone(),
        )
    };
    let claims = Claims {
        account: caller.account.clone(),
        kind: SessionKind::Federated {
            name: name.to_string(),
            user_key,
            user_arn,
            user_id: Some(user_id),
        },
        session_name: String::new(),
        issued: ctx.now,
        expires: ctx.now + dur,
        policy: session_policy,
        policy_arns,
        policy_ids,
        tags,
        transitive: Vec::new(),
        source_identity: None,
        mfa_at: None,
        chained: false,
        issuer_arn: caller.arn.clone(),
        federated_provider: None,
        federation_keys: Vec::new(),
        console: false,
    };
    let (akid, secret, token) = mint(ctx, &claims)?;
    Ok(w::GetFederationTokenResponse {
        credentials: Some(wire_credentials(akid, secret, token, claims.expires)),
        federated_user: Some(w::FederatedUser {
            federated_user_id: format!("{}:{name}", caller.account),
            arn: fed_arn,
        }),
        packed_policy_size: packed.and_then(|n| i64::try_from(n).ok()),
    })
}
