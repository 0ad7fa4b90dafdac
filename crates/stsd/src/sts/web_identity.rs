//! AssumeRoleWithWebIdentity (unsigned): an OIDC ID token, verified against the issuer's JWKS (see
//! [`crate::oidc`]) and an IAM OIDC provider of the role's account, is traded for role credentials after the
//! role's trust policy allows `Federated: <provider ARN>` (reference §2.9, §4.7.3, §4.9).

use super::credentials::{
    invalid_role_arn, length, mint_for, name_like, packed_size, parse_role_arn, session_policies,
    session_policy_ids, write_credentials,
};
use super::{UnsignedCtx, UnsignedHandler};
use crate::authz;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::oidc::{self, TokenError};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::tokens::{Claims, SessionKind};
use crate::validate as v;
use serde_json::Value;

const ACTION: &str = "sts:AssumeRoleWithWebIdentity";
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

pub fn handler(action: &str) -> Option<UnsignedHandler> {
    match action {
        "AssumeRoleWithWebIdentity" => Some(assume_role_with_web_identity),
        _ => None,
    }
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Invalid(m) => ApiError::new(ErrorCode::InvalidIdentityToken, m),
        TokenError::Expired(m) => ApiError::new(ErrorCode::ExpiredTokenException, m),
        TokenError::Communication(m) => ApiError::new(ErrorCode::IDPCommunicationError, m),
    }
}

fn invalid_token(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidIdentityToken, m)
}

/// Session tags and transitive keys from the `https://aws.amazon.com/tags` claim
/// (`{"principal_tags": {"K": ["v"]}, "transitive_tag_keys": ["K"]}`); rule violations are
/// `InvalidIdentityToken`.
type TokenTags = (Vec<(String, String)>, Vec<String>);

fn token_tags(claim: Option<&Value>) -> ApiResult<Option<TokenTags>> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let bad = |m: &str| invalid_token(format!("Invalid session tags in the ID token: {m}"));
    let obj = claim.as_object().ok_or_else(|| bad("not an object"))?;
    let mut tags: Vec<(String, String)> = Vec::new();
    if let Some(pt) = obj.get("principal_tags") {
        let pt = pt
            .as_object()
            .ok_or_else(|| bad("principal_tags is not an object"))?;
        for (k, val) in pt {
            let value = match val {
                Value::String(s) => s.clone(),
                Value::Array(a) if a.len() == 1 => a[0]
                    .as_str()
                    .ok_or_else(|| bad("tag values must be strings"))?
                    .to_string(),
                _ => return Err(bad("each tag takes exactly one string value")),
            };
            v::check_tag_key(k, "tags.member.key").map_err(|e| bad(&e.message))?;
            if value.chars().count() > 256
                || !value.chars().all(|c| {
                    c.is_alphabetic()
                        || c.is_numeric()
                        || c.is_whitespace()
                        || "_.:/=+-@".contains(c)
                })
            {
                return Err(bad(&format!("invalid value for tag {k}")));
            }
            if tags.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
                return Err(bad("duplicate tag keys (keys are case-insensitive)"));
            }
            tags.push((k.clone(), value));
        }
    }
    if tags.len() > 50 {
        return Err(bad("more than 50 tags"));
    }
    let mut transitive: Vec<String> = Vec::new();
    if let Some(tk) = obj.get("transitive_tag_keys") {
        let list = tk
            .as_array()
            .ok_or_else(|| bad("transitive_tag_keys is not an array"))?;
        for k in list {
            let k = k
                .as_str()
                .ok_or_else(|| bad("transitive tag keys must be strings"))?;
            let Some((key, _)) = tags.iter().find(|(t, _)| t.eq_ignore_ascii_case(k)) else {
                return Err(bad(&format!(
                    "the transitive tag key {k} must also be a session tag"
                )));
            };
            if !transitive.contains(key) {
                transitive.push(key.clone());
            }
        }
    }
    Ok(Some((tags, transitive)))
}

/// The `https://aws.amazon.com/source_identity` claim: 2..64, `[\w+=,.@-]`, not `aws:`.
fn source_identity(claim: Option<&Value>) -> ApiResult<Option<String>> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let si = claim
        .as_str()
        .ok_or_else(|| invalid_token("The source identity claim must be a string."))?;
    let n = si.chars().count();
    if !(2..=64).contains(&n)
        || !name_like(si)
        || (si.len() >= 4 && si[..4].eq_ignore_ascii_case("aws:"))
    {
        return Err(invalid_token(
            "The source identity claim must be 2-64 characters of [\\w+=,.@-] and must not start with aws:.",
        ));
    }
    Ok(Some(si.to_string()))
}

fn assume_role_with_web_identity(ctx: &UnsignedCtx<'_>, p: &Params) -> ApiResult<Option<String>> {
    // Parameters.
    let role_arn = v::arn(p, "RoleArn")?;
    let (role_account, role_path, role_name) =
        parse_role_arn(role_arn).ok_or_else(|| invalid_role_arn(role_arn))?;
    let session_name = p.required("RoleSessionName")?;
    length(session_name, "roleSessionName", 2, 64)?;
    if !name_like(session_name) {
        return Err(ApiError::validation(
            session_name,
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    let token = p.required("WebIdentityToken")?;
    length(token, "webIdentityToken", 4, oidc::MAX_TOKEN_LEN)?;
    if let Some(pid) = p.get("ProviderId") {
        length(pid, "providerId", 4, 2048)?;
        return Err(ApiError::new(
            ErrorCode::InvalidParameterValue,
            "ProviderId is only for OAuth 2.0 access tokens, which stsd does not accept; omit it for OpenID Connect ID tokens.",
        ));
    }
    let requested = v::int_range(p, "DurationSeconds", 900, 43200)?;
    let (session_policy, policy_arns) = session_policies(p, Some(2048))?;
    if let Some(m) = p.get("MinimumSessionTokenSize") {
        if m.parse::<u32>().is_err() {
            return Err(ApiError::validation(
                m,
                "minimumSessionTokenSize",
                "Member must be an integer",
            ));
        }
    }
    let allow_http = ctx.app.config.allow_http_oidc;

    // The token: parse, find the provider by `iss` in the role's account, audience.
    let unverified = oidc::parse(token).map_err(token_error)?;
    let iss = unverified
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_token("The ID token has no iss claim."))?
        .to_string();
    let denied = || ApiError::access_denied(format!("Not authorized to perform {ACTION}"));
    let no_provider = || {
        invalid_token(format!(
            "No OpenIDConnect provider found in your account for {iss}"
        ))
    };
    let (prefix, http) = oidc::strip_scheme(&iss, allow_http).ok_or_else(no_provider)?;
    let prefix = prefix.to_string();
    let client_ids = {
        let st = ctx.app.read()?;
        let o = st
            .accounts
            .get(role_account)
            .and_then(|a| a.oidc_providers.get(&prefix.to_lowercase()))
            .filter(|o| o.url == prefix && o.insecure_http == http)
            .ok_or_else(no_provider)?;
        o.client_ids.clone()
    };
    let provider_arn = oidc::provider_arn(role_account, &prefix);
    let audiences = oidc::string_values(&unverified.claims, "aud");
    let audience = audiences
        .iter()
        .find(|a| client_ids.contains(a))
        .cloned()
        .ok_or_else(|| invalid_token("Incorrect token audience"))?;

    // Signature (refusing none/HMAC before any key is looked at), then time and subject.
    let alg = oidc::algorithm(&unverified.alg).map_err(token_error)?;
    let fetch = oidc::FetchOptions {
        allow_http,
        timeout: ctx.app.config.oidc_fetch_timeout,
    };
    let jwk = oidc::key_for(&iss, unverified.kid.as_deref(), alg, fetch).map_err(token_error)?;
    let claims = oidc::verify(token, &jwk, alg).map_err(token_error)?;
    if claims.get("iss").and_then(Value::as_str) != Some(iss.as_str()) {
        return Err(invalid_token(
            "The ID token's issuer changed during verification.",
        ));
    }
    oidc::check_times(&claims, ctx.now).map_err(token_error)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_token("The ID token has no sub claim."))?
        .to_string();
    if !(6..=255).contains(&sub.chars().count()) {
        return Err(invalid_token(
            "The ID token's sub claim must be 6 to 255 characters long.",
        ));
    }
    let tag_claim = token_tags(claims.get(TAGS_CLAIM))?;
    let source_identity = source_identity(claims.get(SOURCE_IDENTITY_CLAIM))?;
    let (tags, transitive) = tag_claim.clone().unwrap_or_default();
    let amr = oidc::string_values(&claims, "amr");
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .map(str::to_string);

    // The role and its trust policy.
    let st = ctx.app.read()?;
    let acct = st.accounts.get(role_account).ok_or_else(denied)?;
    let role = acct
        .roles
        .get(&role_name.to_lowercase())
        .filter(|r| r.path == role_path && r.name == role_name)
        .ok_or_else(denied)?;
    let dur = requested.unwrap_or(3600);
    if dur > i64::from(role.max_session_duration) {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let packed = packed_size(session_policy.as_deref(), &policy_arns, &tags)?;

    let mut federation_keys = vec![
        (format!("{prefix}:aud"), vec![audience.clone()]),
        (format!("{prefix}:sub"), vec![sub.clone()]),
    ];
    if let Some(azp) = &azp {
        federation_keys.push((format!("{prefix}:azp"), vec![azp.clone()]));
    }
    if !amr.is_empty() {
        federation_keys.push((format!("{prefix}:amr"), amr.clone()));
    }
    let facts = authz::AssumeFacts {
        session_name,
        source_identity: source_identity.as_deref(),
        request_tags: &tags,
        transitive_tag_keys: &transitive,
        federation_keys: &federation_keys,
        federated_provider: Some(&provider_arn),
        tags_session: tag_claim.is_some(),
        ..authz::AssumeFacts::default()
    };
    let assumer = authz::Assumer::Federated {
        principal: policy::Principal::web_identity(&provider_arn),
    };
    authz::authorize_assume(
        &st,
        ctx.app,
        &assumer,
        ctx.request(),
        authz::RoleTarget {
            role,
            arn: role_arn,
            account: role_account,
        },
        ACTION,
        &facts,
    )
    .map_err(|_| denied())?;
    let policy_ids = session_policy_ids(acct, &policy_arns)?;
    // What later requests with the session still see: `aud`, `sub` and `amr` (not `azp`).
    federation_keys.retain(|(k, _)| !k.ends_with(":azp"));

    let session = Claims {
        account: role_account.to_string(),
        kind: SessionKind::Role {
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.id.clone(),
        },
        session_name: session_name.to_string(),
        issued: ctx.now,
        expires: ctx.now + dur,
        policy: session_policy,
        policy_arns,
        policy_ids,
        tags,
        transitive,
        source_identity: source_identity.clone(),
        mfa_at: None,
        chained: false,
        issuer_arn: provider_arn.clone(),
        federated_provider: Some(provider_arn.clone()),
        federation_keys,
        console: false,
    };
    let role_id = role.id.clone();
    let role_display = role.name.clone();
    drop(st);
    let (akid, secret, session_token) = mint_for(ctx.app, &session)?;
    ctx.app.usage.role_used(
        role_account,
        &role_id,
        ctx.now,
        crate::usage::UNSIGNED_REGION,
    );
    let mut x = Xml::new();
    write_credentials(&mut x, &akid, &secret, &session_token, session.expires);
    x.elem("SubjectFromWebIdentityToken", &sub);
    x.open("AssumedRoleUser")
        .elem("AssumedRoleId", &format!("{role_id}:{session_name}"))
        .elem(
            "Arn",
            &format!("arn:aws:sts::{role_account}:assumed-role/{role_display}/{session_name}"),
        )
        .close("AssumedRoleUser");
    if let Some(pct) = packed {
        x.num("PackedPolicySize", pct);
    }
    x.elem("Provider", &provider_arn)
        .elem("Audience", &audience);
    x.opt("SourceIdentity", source_identity.as_deref());
    Ok(Some(x.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_claim() {
        let c = json!({"principal_tags": {"Team": ["blue"], "Env": "prod"}, "transitive_tag_keys": ["team"]});
        let (tags, tr) = token_tags(Some(&c)).unwrap().unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tr, vec!["Team".to_string()]);
        assert!(token_tags(Some(&json!({"principal_tags": {"a": ["x", "y"]}}))).is_err());
        assert!(token_tags(Some(&json!({"principal_tags": {"aws:x": ["x"]}}))).is_err());
        assert!(token_tags(Some(
            &json!({"principal_tags": {"a": ["x"]}, "transitive_tag_keys": ["b"]})
        ))
        .is_err());
        assert!(token_tags(None).unwrap().is_none());
    }

    #[test]
    fn source_identity_claim() {
        assert_eq!(
            source_identity(Some(&json!("alice@example.com"))).unwrap(),
            Some("alice@example.com".into())
        );
        assert!(source_identity(Some(&json!("aws:x"))).is_err());
        assert!(source_identity(Some(&json!("a"))).is_err());
        assert!(source_identity(Some(&json!(5))).is_err());
    }
}
