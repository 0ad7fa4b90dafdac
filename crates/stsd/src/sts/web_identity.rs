//! AssumeRoleWithWebIdentity (unsigned): an OIDC ID token, verified against the issuer's JWKS (see
//! [`crate::oidc`]) and an IAM OIDC provider of the role's account, is traded for role credentials after the
//! role's trust policy allows `Federated: <provider ARN>` (reference §2.9, §4.7.3, §4.9).

use super::UnsignedCtx;
use super::assume::Assumption;
use super::credentials::{name_like, typed_session_policies};
use crate::authz;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::oidc::{self, TokenError};
use crate::validate as v;
use serde_json::Value;
use stsd_wire::generated::sts as w;

const ACTION: &str = "sts:AssumeRoleWithWebIdentity";
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

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
                Value::Array(a) if a.len() == 1 => a
                    .first()
                    .and_then(Value::as_str)
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
        || si.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
    {
        return Err(invalid_token(
            "The source identity claim must be 2-64 characters of [\\w+=,.@-] and must not start with aws:.",
        ));
    }
    Ok(Some(si.to_string()))
}

pub(super) fn assume_role_with_web_identity(
    ctx: &UnsignedCtx<'_>,
    input: w::AssumeRoleWithWebIdentityRequest,
) -> ApiResult<w::AssumeRoleWithWebIdentityResponse> {
    // Parameters (lengths and patterns checked by the model; the token is at most `oidc::MAX_TOKEN_LEN`).
    let role_arn = input.role_arn.as_str();
    let (role_account, _, _) = super::assume::role_arn(role_arn)?;
    let session_name = input.role_session_name.as_str();
    let token = input.web_identity_token.as_str();
    if input.provider_id.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidParameterValue,
            "ProviderId is only for OAuth 2.0 access tokens, which stsd does not accept; omit it for OpenID Connect ID tokens.",
        ));
    }
    let (session_policy, policy_arns) = typed_session_policies(input.policy, input.policy_arns)?;
    let allow_http = ctx.node.config.allow_http_oidc;

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
        let st = ctx.node.read()?;
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
        timeout: ctx.node.config.oidc_fetch_timeout,
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

    let mut trust_keys = vec![
        (format!("{prefix}:aud"), vec![audience.clone()]),
        (format!("{prefix}:sub"), vec![sub.clone()]),
    ];
    if let Some(azp) = &azp {
        trust_keys.push((format!("{prefix}:azp"), vec![azp.clone()]));
    }
    if !amr.is_empty() {
        trust_keys.push((format!("{prefix}:amr"), amr.clone()));
    }
    // What later requests with the session still see: `aud`, `sub` and `amr` (not `azp`).
    let session_keys: Vec<(String, Vec<String>)> = trust_keys
        .iter()
        .filter(|(k, _)| !k.ends_with(":azp"))
        .cloned()
        .collect();

    // The role, its trust policy and the session: the shared pipeline.
    let assumption = Assumption {
        action: ACTION,
        assumer: authz::Assumer::Federated {
            principal: policy::Principal::web_identity(&provider_arn),
        },
        role_arn,
        session_name,
        requested_seconds: input.duration_seconds,
        chained: false,
        provider_limit_seconds: None,
        session_policy,
        policy_arns,
        tags,
        request_tags: None,
        transitive,
        transitive_requested: None,
        tags_session: tag_claim.is_some(),
        external_id: None,
        source_identity_requested: source_identity.as_deref(),
        source_identity: source_identity.clone(),
        mfa_at: None,
        trust_keys,
        session_keys,
        federated_provider: Some(provider_arn.clone()),
        issuer_arn: provider_arn.clone(),
    };
    let granted = {
        let st = ctx.node.read()?;
        super::assume::grant(&st, ctx.node, ctx.request(), assumption, |_| denied())?
    };
    let issued = granted.issue(ctx.node, crate::usage::UNSIGNED_REGION)?;
    Ok(w::AssumeRoleWithWebIdentityResponse {
        credentials: Some(issued.credentials),
        subject_from_web_identity_token: Some(sub),
        assumed_role_user: Some(issued.assumed_role_user),
        packed_policy_size: issued.packed_policy_size,
        provider: Some(provider_arn),
        audience: Some(audience),
        source_identity,
    })
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
        assert!(
            token_tags(Some(
                &json!({"principal_tags": {"a": ["x"]}, "transitive_tag_keys": ["b"]})
            ))
            .is_err()
        );
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
