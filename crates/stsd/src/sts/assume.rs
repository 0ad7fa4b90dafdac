//! The one AssumeRole pipeline. AssumeRole, AssumeRoleWithWebIdentity and AssumeRoleWithSAML each run their
//! own authentication step (a signed caller and its session; an OIDC ID token; a SAML assertion) and state
//! what it established as an [`Assumption`]; from there the work is the same for all three and happens here,
//! in this order: find the role (a missing role is answered like a refused one), the session duration, the
//! packed size of session policies and tags, the trust evaluation through the authorization gateway
//! (`authz::authorize_assume`, which builds the one trust context), the session policies' IDs, and the
//! sealed claims. [`Granted::issue`] then mints the credentials.

use super::credentials::{mint_for, packed_size, parse_role_arn, session_policy_ids};
use crate::authz::{self, RequestInfo, TrustDenied};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::State;
use crate::tokens::{Claims, SessionKind};
use stsd_wire::generated::sts as w;

/// The longest session a chained role assumption may ask for.
const CHAINED_MAX_SECONDS: i64 = 3600;
/// The session length when the request asks for none.
const DEFAULT_SECONDS: i64 = 3600;

/// What an `AssumeRole*` call asks for, once its authentication step has run.
pub(crate) struct Assumption<'a> {
    /// `sts:AssumeRole`, `sts:AssumeRoleWithWebIdentity` or `sts:AssumeRoleWithSAML`.
    pub action: &'static str,
    /// Who asks: the signed caller (its own policies must allow too) or the federated principal.
    pub assumer: authz::Assumer<'a>,
    /// `RoleArn` as given (already known to be a role ARN: see [`role_arn`]).
    pub role_arn: &'a str,
    pub session_name: &'a str,
    /// `DurationSeconds` as requested.
    pub requested_seconds: Option<i64>,
    /// The caller is itself a role session (role chaining: at most one hour).
    pub chained: bool,
    /// A shorter lifetime the identity provider sets (SAML `SessionDuration`, `SessionNotOnOrAfter`).
    pub provider_limit_seconds: Option<i64>,
    /// The inline session policy and the managed session policy ARNs.
    pub session_policy: Option<String>,
    pub policy_arns: Vec<String>,
    /// Every tag the session will carry (inherited transitive tags included).
    pub tags: Vec<(String, String)>,
    /// The tags this request passes, for `aws:RequestTag/*` (`None`: all of `tags`).
    pub request_tags: Option<Vec<(String, String)>>,
    /// Keys of `tags` that are transitive (inherited ones included).
    pub transitive: Vec<String>,
    /// The transitive keys this request names, for `sts:TransitiveTagKeys` (`None`: all of `transitive`).
    pub transitive_requested: Option<Vec<String>>,
    /// The call needs `sts:TagSession` too.
    pub tags_session: bool,
    /// `sts:ExternalId`.
    pub external_id: Option<&'a str>,
    /// `sts:SourceIdentity` as this request sets it.
    pub source_identity_requested: Option<&'a str>,
    /// The source identity the session carries (inherited through chaining, or set now).
    pub source_identity: Option<String>,
    /// When MFA was authenticated (with this request, or earlier in the caller's session).
    pub mfa_at: Option<i64>,
    /// Keys the token or assertion establishes for the trust evaluation (`<issuer>:sub`, `saml:*`, …).
    pub trust_keys: Vec<(String, Vec<String>)>,
    /// The part of those the session keeps for later requests.
    pub session_keys: Vec<(String, Vec<String>)>,
    /// `aws:FederatedProvider`: the OIDC or SAML provider ARN of a federated call.
    pub federated_provider: Option<String>,
    /// Who issued the session (the caller's ARN, or the provider's).
    pub issuer_arn: String,
}

/// An authorized assumption: the claims to seal and what the answer reports.
pub(crate) struct Granted {
    pub claims: Claims,
    role_id: String,
    role_name: String,
    role_account: String,
    packed: Option<usize>,
}

/// The credentials of a granted assumption and the members every `AssumeRole*` answer has.
pub(crate) struct Issued {
    pub credentials: w::Credentials,
    pub assumed_role_user: w::AssumedRoleUser,
    pub packed_policy_size: Option<i64>,
}

/// `RoleArn` split into (account, path, name); not a role ARN at all is refused before anything else, as AWS
/// does.
pub(crate) fn role_arn(arn: &str) -> ApiResult<(&str, &str, &str)> {
    parse_role_arn(arn).ok_or_else(|| super::credentials::invalid_role_arn(arn))
}

/// The session length: the request's (or one hour), within the chaining limit and the role's
/// `MaxSessionDuration`, then shortened to the identity provider's limit.
fn session_seconds(a: &Assumption<'_>, role_max: i64) -> ApiResult<i64> {
    let requested = a.requested_seconds.unwrap_or(DEFAULT_SECONDS);
    if a.chained && requested > CHAINED_MAX_SECONDS {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if requested > role_max {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(a.provider_limit_seconds
        .map_or(requested, |limit| requested.min(limit)))
}

/// Run the shared pipeline on the snapshot `st`. `refuse` answers a role that does not exist (`None`) or does
/// not trust the assumer (`Some`): each action words that its own way, and must not reveal which it was when
/// the role is another account's.
pub(crate) fn grant(
    st: &State,
    node: &crate::node::Node,
    request: RequestInfo<'_>,
    a: Assumption<'_>,
    refuse: impl Fn(Option<TrustDenied>) -> ApiError,
) -> ApiResult<Granted> {
    let (role_account, role_path, role_name) = role_arn(a.role_arn)?;
    let acct = st.accounts.get(role_account).ok_or_else(|| refuse(None))?;
    let role = acct
        .roles
        .get(&role_name.to_lowercase())
        .filter(|r| r.path == role_path && r.name == role_name)
        .ok_or_else(|| refuse(None))?;
    let seconds = session_seconds(&a, i64::from(role.max_session_duration))?;
    let packed = packed_size(a.session_policy.as_deref(), &a.policy_arns, &a.tags)?;

    let facts = authz::AssumeFacts {
        session_name: a.session_name,
        external_id: a.external_id,
        source_identity: a.source_identity_requested,
        request_tags: a.request_tags.as_deref().unwrap_or(&a.tags),
        transitive_tag_keys: a.transitive_requested.as_deref().unwrap_or(&a.transitive),
        federation_keys: &a.trust_keys,
        federated_provider: a.federated_provider.as_deref(),
        mfa_at: a.mfa_at,
        tags_session: a.tags_session,
    };
    let target = authz::RoleTarget {
        role,
        arn: a.role_arn,
        account: role_account,
    };
    authz::authorize_assume(
        node.gateway(),
        st,
        &a.assumer,
        request,
        target,
        a.action,
        &facts,
    )
    .map_err(|d| refuse(Some(d)))?;
    let policy_ids = session_policy_ids(acct, &a.policy_arns)?;

    let claims = Claims {
        account: role_account.to_string(),
        kind: SessionKind::Role {
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.id.clone(),
        },
        session_name: a.session_name.to_string(),
        issued: request.now,
        expires: request.now + seconds,
        policy: a.session_policy,
        policy_arns: a.policy_arns,
        policy_ids,
        tags: a.tags,
        transitive: a.transitive,
        source_identity: a.source_identity,
        mfa_at: a.mfa_at,
        chained: a.chained,
        issuer_arn: a.issuer_arn,
        federated_provider: a.federated_provider,
        federation_keys: a.session_keys,
        console: false,
    };
    Ok(Granted {
        claims,
        role_id: role.id.clone(),
        role_name: role.name.clone(),
        role_account: role_account.to_string(),
        packed,
    })
}

impl Granted {
    /// Seal the claims into new `ASIA` credentials and record the role's use (from `region`).
    pub(crate) fn issue(self, node: &crate::node::Node, region: &str) -> ApiResult<Issued> {
        let (akid, secret, token) = mint_for(node, &self.claims)?;
        node.usage.role_used(
            &self.role_account,
            &self.role_id,
            self.claims.issued,
            region,
        );
        let session = &self.claims.session_name;
        Ok(Issued {
            credentials: super::credentials::wire_credentials(
                akid,
                secret,
                token,
                self.claims.expires,
            ),
            assumed_role_user: w::AssumedRoleUser {
                assumed_role_id: format!("{}:{session}", self.role_id),
                arn: format!(
                    "arn:aws:sts::{}:assumed-role/{}/{session}",
                    self.role_account, self.role_name
                ),
            },
            packed_policy_size: self.packed.and_then(|n| i64::try_from(n).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(requested: Option<i64>, chained: bool, limit: Option<i64>) -> Assumption<'static> {
        Assumption {
            action: "sts:AssumeRole",
            assumer: authz::Assumer::Federated {
                principal: policy::Principal::web_identity(
                    "arn:aws:iam::111122223333:oidc-provider/x",
                ),
            },
            role_arn: "arn:aws:iam::111122223333:role/R",
            session_name: "s",
            requested_seconds: requested,
            chained,
            provider_limit_seconds: limit,
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            request_tags: None,
            transitive: Vec::new(),
            transitive_requested: None,
            tags_session: false,
            external_id: None,
            source_identity_requested: None,
            source_identity: None,
            mfa_at: None,
            trust_keys: Vec::new(),
            session_keys: Vec::new(),
            federated_provider: None,
            issuer_arn: String::new(),
        }
    }

    #[test]
    fn session_length_rules() {
        // One hour unless asked; the role's maximum; one hour when chaining; the provider's limit shortens.
        assert_eq!(
            session_seconds(&asking(None, false, None), 43_200).unwrap(),
            3600
        );
        assert_eq!(
            session_seconds(&asking(Some(43_200), false, None), 43_200).unwrap(),
            43_200
        );
        let too_long = session_seconds(&asking(Some(7200), false, None), 3600).unwrap_err();
        assert!(
            too_long.message.contains("MaxSessionDuration"),
            "{}",
            too_long.message
        );
        let chained = session_seconds(&asking(Some(3601), true, None), 43_200).unwrap_err();
        assert!(
            chained.message.contains("role chaining"),
            "{}",
            chained.message
        );
        assert_eq!(
            session_seconds(&asking(None, true, None), 43_200).unwrap(),
            3600
        );
        assert_eq!(
            session_seconds(&asking(Some(7200), false, Some(900)), 43_200).unwrap(),
            900
        );
        assert_eq!(
            session_seconds(&asking(None, false, Some(7200)), 43_200).unwrap(),
            3600
        );
    }
}
