//! AssumeRoleWithSAML (unsigned): a base64 `samlp:Response`, verified against the metadata of an IAM SAML
//! provider of the role's account (see [`crate::saml`]), is traded for role credentials after the role's
//! trust policy allows `Federated: <provider ARN>` (reference §2.10, §4.7.4, §4.9).

use super::UnsignedCtx;
use super::assume::Assumption;
use super::credentials::{name_like, typed_session_policies};
use crate::authz;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::saml::{self, SamlError};
use crate::validate as v;
use stsd_wire::generated::sts as w;

const ACTION: &str = "sts:AssumeRoleWithSAML";
const ATTR: &str = "https://aws.amazon.com/SAML/Attributes/";

fn invalid_token(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidIdentityToken, m)
}

fn saml_error(e: SamlError) -> ApiError {
    match e {
        SamlError::Invalid(m) => invalid_token(m),
        SamlError::Expired(m) => ApiError::new(ErrorCode::ExpiredTokenException, m),
    }
}

/// `arn:aws:iam::ACCT:saml-provider/NAME` → (account, name).
fn parse_provider_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (acct, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("saml-provider/")?;
    (!name.is_empty() && !name.contains('/')).then_some((acct, name))
}

/// Whether the `Role` attribute lists the pair (`role,provider` or `provider,role`).
fn role_pair_present(values: &[String], role_arn: &str, provider_arn: &str) -> bool {
    values.iter().any(|v| {
        let mut parts = v.split(',').map(str::trim);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) => {
                (a == role_arn && b == provider_arn) || (a == provider_arn && b == role_arn)
            }
            _ => false,
        }
    })
}

/// Session tags, transitive keys and source identity from the assertion's AWS attributes.
type SessionAttrs = (Vec<(String, String)>, Vec<String>, Option<String>);

fn session_attributes(a: &saml::Assertion) -> ApiResult<SessionAttrs> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for (name, values) in &a.attributes {
        let Some(key) = name
            .strip_prefix(ATTR)
            .and_then(|n| n.strip_prefix("PrincipalTag:"))
        else {
            continue;
        };
        v::check_tag_key(key, "tags.member.key")
            .map_err(|_| invalid_token(format!("Invalid session tag key {key}")))?;
        let [value] = values.as_slice() else {
            return Err(invalid_token(format!(
                "Session tag {key} must have exactly one value"
            )));
        };
        if value.chars().count() > 256 {
            return Err(invalid_token(format!(
                "Session tag {key} has a value that is too long"
            )));
        }
        if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(invalid_token(format!("Duplicate session tag key {key}")));
        }
        tags.push((key.to_string(), value.clone()));
    }
    if tags.len() > 50 {
        return Err(invalid_token("Too many session tags (at most 50)"));
    }
    let mut transitive: Vec<String> = Vec::new();
    for k in a
        .attribute(&format!("{ATTR}TransitiveTagKeys"))
        .unwrap_or_default()
    {
        let Some((tk, _)) = tags.iter().find(|(t, _)| t.eq_ignore_ascii_case(k)) else {
            return Err(invalid_token(format!(
                "The transitive tag key {k} must also be a session tag"
            )));
        };
        if !transitive.contains(tk) {
            transitive.push(tk.clone());
        }
    }
    let source_identity = match a.attribute(&format!("{ATTR}SourceIdentity")) {
        None => None,
        Some([si]) => {
            if !(2..=64).contains(&si.chars().count())
                || !name_like(si)
                || si.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
            {
                return Err(invalid_token("Invalid SourceIdentity attribute"));
            }
            Some(si.clone())
        }
        Some(_) => return Err(invalid_token("SourceIdentity must have exactly one value")),
    };
    Ok((tags, transitive, source_identity))
}

/// Refuse an assertion already traded for credentials; remember it otherwise. The guard lives in the store
/// (keyed by issuer and assertion ID, kept until the assertion's `NotOnOrAfter` plus the clock leeway), so it
/// survives restarts and holds for every node sharing the store.
fn check_replay(app: &crate::node::Node, a: &saml::Assertion, now: i64) -> ApiResult<()> {
    let scope = format!("saml:{}", a.issuer);
    let first_use = app
        .store()
        .claim_once(&scope, &a.id, a.not_on_or_after + saml::LEEWAY, now)
        .map_err(|e| {
            tracing::error!(error = %e, "SAML replay guard unavailable");
            ApiError::internal()
        })?;
    if first_use {
        Ok(())
    } else {
        Err(invalid_token("The SAML assertion has already been used"))
    }
}

pub(super) fn assume_role_with_saml(
    ctx: &UnsignedCtx<'_>,
    input: w::AssumeRoleWithSAMLRequest,
) -> ApiResult<w::AssumeRoleWithSAMLResponse> {
    // Parameters (lengths checked by the model: the assertion is 4..=100,000 characters).
    let role_arn = input.role_arn.as_str();
    let (role_account, _, _) = super::assume::role_arn(role_arn)?;
    let provider_arn = input.principal_arn.as_str();
    let assertion_b64 = input.saml_assertion.as_str();
    let (session_policy, policy_arns) = typed_session_policies(input.policy, input.policy_arns)?;
    let denied = || ApiError::access_denied(format!("Not authorized to perform {ACTION}"));

    // The provider, in the role's account.
    let no_provider = || invalid_token("Specified provider doesn't exist.");
    let (provider_account, provider_name) =
        parse_provider_arn(provider_arn).ok_or_else(no_provider)?;
    if provider_account != role_account {
        return Err(no_provider());
    }
    let (entity_id, certs, valid_until) = {
        let st = ctx.node.read()?;
        let o = st
            .accounts
            .get(role_account)
            .and_then(|a| a.saml_providers.get(&provider_name.to_lowercase()))
            .filter(|o| o.name == provider_name)
            .ok_or_else(no_provider)?;
        let certs: Vec<Vec<u8>> = o
            .certs
            .iter()
            .filter_map(|c| data_encoding::BASE64.decode(c.as_bytes()).ok())
            .collect();
        (o.entity_id.clone(), certs, o.valid_until)
    };
    if valid_until.is_some_and(|vu| vu <= ctx.now) {
        return Err(invalid_token(
            "The metadata of the specified provider has expired.",
        ));
    }

    // The response: signature, issuer, audience, recipient, times — then only the signed assertion is read.
    let a =
        saml::verify_response(assertion_b64, &certs, &entity_id, ctx.now).map_err(saml_error)?;
    let roles = a.attribute(&format!("{ATTR}Role")).unwrap_or_default();
    if !role_pair_present(roles, role_arn, provider_arn) {
        return Err(denied());
    }
    let session_name = match a.attribute(&format!("{ATTR}RoleSessionName")) {
        Some([n]) => n.trim().to_string(),
        _ => {
            return Err(invalid_token(
                "RoleSessionName is required in AuthnResponse",
            ));
        }
    };
    if !(2..=64).contains(&session_name.chars().count()) || !name_like(&session_name) {
        return Err(invalid_token(
            "RoleSessionName in AuthnResponse must satisfy [a-zA-Z_0-9+=,.@-]{2,64}",
        ));
    }
    let session_duration = match a.attribute(&format!("{ATTR}SessionDuration")) {
        None => None,
        Some([d]) => Some(
            d.trim()
                .parse::<i64>()
                .ok()
                .filter(|d| (900..=43200).contains(d))
                .ok_or_else(|| invalid_token("SessionDuration must be between 900 and 43200"))?,
        ),
        Some(_) => return Err(invalid_token("SessionDuration must have exactly one value")),
    };
    let (tags, transitive, source_identity) = session_attributes(&a)?;
    let name_qualifier = saml::name_qualifier(&a.issuer, role_account, provider_name);

    // The assertion's own lifetime limits the session's.
    let provider_limit = match (session_duration, a.session_not_on_or_after) {
        (Some(sd), Some(snooa)) => Some(sd.min(snooa - ctx.now)),
        (sd, snooa) => sd.or(snooa.map(|t| t - ctx.now)),
    };
    if provider_limit.is_some_and(|l| l <= 0) {
        return Err(ApiError::new(
            ErrorCode::ExpiredTokenException,
            "The SAML session has expired (SessionNotOnOrAfter).",
        ));
    }

    // saml:* keys for the trust evaluation: the assertion's standard keys and its directory attributes.
    let mut trust_keys: Vec<(String, Vec<String>)> = vec![
        ("saml:aud".into(), vec![a.recipient.clone()]),
        ("saml:iss".into(), vec![a.issuer.clone()]),
        ("saml:sub".into(), vec![a.subject.clone()]),
        ("saml:sub_type".into(), vec![a.subject_type.clone()]),
        ("saml:namequalifier".into(), vec![name_qualifier.clone()]),
        (
            "saml:doc".into(),
            vec![format!("{role_account}/{provider_name}")],
        ),
    ];
    let mut mapped: Vec<&str> = Vec::new();
    for (name, values) in &a.attributes {
        if let Some(key) = saml::directory_key(name)
            && !mapped.contains(&key)
            && !values.is_empty()
        {
            mapped.push(key);
            trust_keys.push((format!("saml:{key}"), values.clone()));
        }
    }
    // What later requests with the session still see.
    let session_keys = vec![
        ("saml:sub".to_string(), vec![a.subject.clone()]),
        ("saml:sub_type".to_string(), vec![a.subject_type.clone()]),
        (
            "saml:namequalifier".to_string(),
            vec![name_qualifier.clone()],
        ),
        ("saml:aud".to_string(), vec![a.recipient.clone()]),
    ];

    // The role, its trust policy and the session: the shared pipeline.
    let assumption = Assumption {
        action: ACTION,
        assumer: authz::Assumer::Federated {
            principal: policy::Principal::saml(provider_arn),
        },
        role_arn,
        session_name: &session_name,
        requested_seconds: input.duration_seconds,
        chained: false,
        provider_limit_seconds: provider_limit,
        session_policy,
        policy_arns,
        tags_session: !tags.is_empty() || !transitive.is_empty(),
        tags,
        request_tags: None,
        transitive,
        transitive_requested: None,
        external_id: None,
        source_identity_requested: source_identity.as_deref(),
        source_identity: source_identity.clone(),
        mfa_at: None,
        trust_keys,
        session_keys,
        federated_provider: Some(provider_arn.to_string()),
        issuer_arn: provider_arn.to_string(),
    };
    let granted = {
        let st = ctx.node.read()?;
        super::assume::grant(&st, ctx.node, ctx.request(), assumption, |_| denied())?
    };
    // An assertion is traded for credentials once (durable), and only once it has been granted.
    check_replay(ctx.node, &a, ctx.now)?;
    let issued = granted.issue(ctx.node, crate::usage::UNSIGNED_REGION)?;
    Ok(w::AssumeRoleWithSAMLResponse {
        credentials: Some(issued.credentials),
        assumed_role_user: Some(issued.assumed_role_user),
        packed_policy_size: issued.packed_policy_size,
        subject: Some(a.subject.clone()),
        subject_type: Some(a.subject_type.clone()),
        issuer: Some(a.issuer.clone()),
        audience: Some(a.recipient.clone()),
        name_qualifier: Some(name_qualifier),
        source_identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_pairs() {
        let r = "arn:aws:iam::123456789012:role/R";
        let p = "arn:aws:iam::123456789012:saml-provider/P";
        assert!(role_pair_present(&[format!("{r},{p}")], r, p));
        assert!(role_pair_present(&[format!("{p}, {r}")], r, p));
        assert!(!role_pair_present(&[format!("{r},{r}")], r, p));
        assert!(!role_pair_present(&[format!("{r},{p},x")], r, p));
        assert_eq!(parse_provider_arn(p), Some(("123456789012", "P")));
    }
}
