//! Authentication: turn a SigV4-signed request into a [`Caller`], following the verification order of
//! the reference (§1.6.9): form → parse → scope/time → key → signature.

use std::sync::Arc;

use crate::app::App;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::KeyStatus;
use crate::protocol::Service;
use crate::tokens::{Claims, SessionKind, TokenError};

/// Who is calling, as resolved from their credentials.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: String,
    pub kind: CallerKind,
    /// `arn:aws:iam::A:root`, `arn:aws:iam::A:user/path/name`, `arn:aws:sts::A:assumed-role/R/S`, …
    pub arn: String,
    /// `aws:userid`: the account ID for root, `AIDA…` for users, `AROA…:session` for role sessions.
    pub user_id: String,
    pub access_key_id: String,
    /// Temporary credentials: the claims sealed in the session token.
    pub session: Option<Arc<Claims>>,
    /// The region of the request's SigV4 credential scope (where last-used data says it was used).
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account root (long-term keys, or a GetSessionToken session of the root).
    Root,
    /// An IAM user (long-term keys, or a GetSessionToken session); `key` is the lower-cased name.
    User { key: String, name: String },
    /// A role session (AssumeRole*): acts as the role.
    AssumedRole { role_key: String, role_name: String },
    /// A GetFederationToken session of the IAM user `user_key`.
    FederatedUser { user_key: String, name: String },
}

impl Caller {
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::FederatedUser { .. } => "FederatedUser",
        }
    }

    /// The role ARN of a role session.
    pub fn role_arn(&self) -> Option<String> {
        match self.session.as_deref().map(|c| &c.kind) {
            Some(SessionKind::Role {
                role_name,
                role_path,
                ..
            }) => Some(format!(
                "arn:aws:iam::{}:role{}{}",
                self.account, role_path, role_name
            )),
            _ => None,
        }
    }

    /// The principal as the policy engine sees it.
    pub fn principal(&self) -> policy::Principal {
        match &self.kind {
            CallerKind::Root => policy::Principal::root(&self.account),
            CallerKind::User { .. } => {
                policy::Principal::user(&self.arn).with_user_id(&self.user_id)
            }
            CallerKind::AssumedRole { .. } => {
                let role_arn = self.role_arn().unwrap_or_default();
                policy::Principal::assumed_role(&self.arn, &role_arn).with_user_id(&self.user_id)
            }
            CallerKind::FederatedUser { .. } => {
                let user_arn = match self.session.as_deref().map(|c| &c.kind) {
                    Some(SessionKind::Federated { user_arn, .. }) => Some(user_arn.as_str()),
                    _ => None,
                };
                policy::Principal::federated_user(&self.arn, user_arn).with_user_id(&self.user_id)
            }
        }
    }

    /// Whether these are temporary credentials.
    pub fn is_session(&self) -> bool {
        self.session.is_some()
    }
}

/// Transport facts that become condition keys.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: String,
    pub secure_transport: bool,
    pub user_agent: String,
}

fn invalid_key() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidClientTokenId,
        "The security token included in the request is invalid.",
    )
}

fn sig_err(e: &sigv4::SigV4Error) -> ApiError {
    let code = match e.code() {
        "IncompleteSignature" => ErrorCode::IncompleteSignature,
        "MissingAuthenticationToken" => ErrorCode::MissingAuthenticationToken,
        "InvalidClientTokenId" => ErrorCode::InvalidClientTokenId,
        "MalformedQueryString" => ErrorCode::MalformedQueryString,
        _ => ErrorCode::SignatureDoesNotMatch,
    };
    ApiError::new(code, e.to_string())
}

/// Authenticate a request. `Ok(None)` means unsigned (allowed only for the unsigned STS actions).
pub fn authenticate(
    app: &App,
    req: &sigv4::HttpRequest<'_>,
    service: Service,
) -> ApiResult<Option<Caller>> {
    authenticate_as(app, req, service.signing_name())
}

/// [`authenticate`] for a request signed for the SigV4 service name `signing_name` (e.g. `cloudtrail`).
pub fn authenticate_as(
    app: &App,
    req: &sigv4::HttpRequest<'_>,
    signing_name: &str,
) -> ApiResult<Option<Caller>> {
    authenticate_with(app, req, signing_name, sigv4::VerifyOptions::default())
}

/// [`authenticate_as`] under the verifier's `opts`: S3's canonicalization rules, or a request whose body is not
/// available (`/_stsd/authorize` checks what a proxy saw, without the body).
pub fn authenticate_with(
    app: &App,
    req: &sigv4::HttpRequest<'_>,
    signing_name: &str,
    opts: sigv4::VerifyOptions,
) -> ApiResult<Option<Caller>> {
    let Some(auth) = sigv4::parse(req).map_err(|e| sig_err(&e))? else {
        return Ok(None);
    };
    sigv4::check_scope_and_time(
        &auth,
        signing_name,
        app.clock.now(),
        app.config.max_presign_secs,
    )
    .map_err(|e| sig_err(&e))?;
    let key_id = auth.credential.access_key_id.as_str();
    if key_id.starts_with(crate::ids::TEMPORARY_PREFIX) && auth.security_token.is_none() {
        return Err(invalid_key());
    }
    if key_id.starts_with(crate::ids::TEMPORARY_PREFIX) {
        let token = auth.security_token.as_deref().unwrap_or_default();
        let (claims, secret) =
            app.tokens
                .open(key_id, token, app.clock.now())
                .map_err(|e| match e {
                    TokenError::Invalid => invalid_key(),
                    TokenError::Expired => ApiError::new(
                        ErrorCode::ExpiredToken,
                        "The security token included in the request is expired",
                    ),
                })?;
        let mut caller = session_caller(key_id, claims);
        let c = &auth.credential;
        let key = app.signing_key(key_id, &secret, &c.date, &c.region, &c.service);
        sigv4::verify_with(&auth, req, &key, opts).map_err(|e| sig_err(&e))?;
        // A role session making a request is a use of the role.
        if let Some(SessionKind::Role { role_id, .. }) = caller.session.as_deref().map(|s| &s.kind)
        {
            app.usage
                .role_used(&caller.account, role_id, app.clock.now(), &c.region);
        }
        caller.region.clone_from(&c.region);
        return Ok(Some(caller));
    }
    let st = app.read()?;
    let owner = st.keys.get(key_id).ok_or_else(invalid_key)?;
    let acct = st.accounts.get(&owner.account).ok_or_else(invalid_key)?;
    let (secret, mut caller) = match &owner.user {
        None => {
            let k = acct
                .meta
                .root_keys
                .iter()
                .find(|k| k.id == key_id)
                .ok_or_else(invalid_key)?;
            if k.status != KeyStatus::Active {
                return Err(invalid_key());
            }
            let caller = Caller {
                account: acct.id().to_string(),
                kind: CallerKind::Root,
                arn: acct.root_arn(),
                user_id: acct.id().to_string(),
                access_key_id: key_id.to_string(),
                session: None,
                region: String::new(),
            };
            (k.secret.clone(), caller)
        }
        Some(lname) => {
            let u = acct.users.get(lname).ok_or_else(invalid_key)?;
            let k = u
                .keys
                .iter()
                .find(|k| k.id == key_id)
                .ok_or_else(invalid_key)?;
            if k.status != KeyStatus::Active {
                return Err(invalid_key());
            }
            let caller = Caller {
                account: acct.id().to_string(),
                kind: CallerKind::User {
                    key: lname.clone(),
                    name: u.name.clone(),
                },
                arn: acct.user_arn(u),
                user_id: u.id.clone(),
                access_key_id: key_id.to_string(),
                session: None,
                region: String::new(),
            };
            (k.secret.clone(), caller)
        }
    };
    drop(st);
    let c = &auth.credential;
    let key = app.signing_key(key_id, &secret, &c.date, &c.region, &c.service);
    sigv4::verify_with(&auth, req, &key, opts).map_err(|e| sig_err(&e))?;
    // The key signed a request: that is a use, whatever the authorization decision will be.
    app.usage
        .key_used(key_id, app.clock.now(), &c.service, &c.region);
    caller.region.clone_from(&c.region);
    Ok(Some(caller))
}

/// The caller a session token describes. The token alone is enough: no database read.
pub fn session_caller(access_key_id: &str, claims: Claims) -> Caller {
    let account = claims.account.clone();
    let (kind, arn, user_id) = match &claims.kind {
        SessionKind::Role {
            role_name, role_id, ..
        } => (
            CallerKind::AssumedRole {
                role_key: role_name.to_lowercase(),
                role_name: role_name.clone(),
            },
            format!(
                "arn:aws:sts::{account}:assumed-role/{role_name}/{}",
                claims.session_name
            ),
            format!("{role_id}:{}", claims.session_name),
        ),
        SessionKind::User {
            user_key,
            user_name,
            user_id,
            user_path,
        } => (
            CallerKind::User {
                key: user_key.clone(),
                name: user_name.clone(),
            },
            format!("arn:aws:iam::{account}:user{user_path}{user_name}"),
            user_id.clone(),
        ),
        SessionKind::Root => (
            CallerKind::Root,
            format!("arn:aws:iam::{account}:root"),
            account.clone(),
        ),
        SessionKind::Federated { name, user_key, .. } => (
            CallerKind::FederatedUser {
                user_key: user_key.clone(),
                name: name.clone(),
            },
            format!("arn:aws:sts::{account}:federated-user/{name}"),
            format!("{account}:{name}"),
        ),
    };
    Caller {
        account,
        kind,
        arn,
        user_id,
        access_key_id: access_key_id.to_string(),
        session: Some(Arc::new(claims)),
        region: String::new(),
    }
}

#[cfg(test)]
mod tests {
    //! Authentication through the whole pipeline (`test_support::Harness`): which credentials are a caller,
    //! and which are refused with which code.

    use crate::error::{ApiError, ErrorCode};
    use crate::test_support::{between, owned, policy, Harness, Keys, ACCOUNT};

    fn code(r: Result<String, ApiError>) -> Option<ErrorCode> {
        r.err().map(|e| e.code)
    }

    fn whoami(h: &Harness, keys: &Keys) -> Result<String, ApiError> {
        h.call(keys, "sts", "GetCallerIdentity", &[])
            .map(|xml| between(&xml, "<Arn>", "</Arn>"))
    }

    #[test]
    fn long_term_keys_are_the_user_while_active_and_the_user_exists() {
        let h = Harness::new();
        let alice = h.user("alice", None);
        assert_eq!(
            whoami(&h, &alice).unwrap(),
            format!("arn:aws:iam::{ACCOUNT}:user/alice")
        );
        assert_eq!(
            whoami(&h, &h.root).unwrap(),
            format!("arn:aws:iam::{ACCOUNT}:root")
        );

        // An unknown key, and the right key with the wrong secret.
        let unknown = Keys {
            akid: "AKIAIOSFODNN7EXAMPLE".into(),
            ..alice.clone()
        };
        assert_eq!(
            code(whoami(&h, &unknown)),
            Some(ErrorCode::InvalidClientTokenId)
        );
        let wrong_secret = Keys {
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ..alice.clone()
        };
        assert_eq!(
            code(whoami(&h, &wrong_secret)),
            Some(ErrorCode::SignatureDoesNotMatch)
        );

        // A signature made 16 minutes before the server's time (AWS allows 15).
        let stale = h.call_signed_at(
            &alice,
            "sts",
            "GetCallerIdentity",
            &[],
            h.app.clock.now() - 960,
        );
        assert_eq!(code(stale), Some(ErrorCode::SignatureDoesNotMatch));

        // Inactive, active again, then deleted with its user.
        let status = |s: &str| {
            h.root_iam(
                "UpdateAccessKey",
                &[
                    ("UserName", "alice"),
                    ("AccessKeyId", &alice.akid),
                    ("Status", s),
                ],
            )
        };
        status("Inactive");
        assert_eq!(
            code(whoami(&h, &alice)),
            Some(ErrorCode::InvalidClientTokenId)
        );
        status("Active");
        assert!(whoami(&h, &alice).is_ok());
        h.root_iam(
            "DeleteAccessKey",
            &[("UserName", "alice"), ("AccessKeyId", &alice.akid)],
        );
        assert_eq!(
            code(whoami(&h, &alice)),
            Some(ErrorCode::InvalidClientTokenId)
        );
    }

    #[test]
    fn session_tokens_open_only_with_their_key_and_until_they_expire() {
        let h = Harness::new();
        let alice = h.user("alice", None);
        let xml = h
            .call(
                &alice,
                "sts",
                "GetSessionToken",
                &owned(&[("DurationSeconds", "900")]),
            )
            .unwrap();
        let session = Harness::session_keys(&xml);
        assert!(session.akid.starts_with("ASIA"));
        assert_eq!(
            whoami(&h, &session).unwrap(),
            format!("arn:aws:iam::{ACCOUNT}:user/alice")
        );

        // The key without its token, a token altered by one character, another session's token.
        let no_token = Keys {
            token: None,
            ..session.clone()
        };
        assert_eq!(
            code(whoami(&h, &no_token)),
            Some(ErrorCode::InvalidClientTokenId)
        );
        let token = session.token.clone().unwrap();
        let mid = token.len() / 2;
        let flipped = if &token[mid..=mid] == "A" { "B" } else { "A" };
        let altered = Keys {
            token: Some(format!("{}{flipped}{}", &token[..mid], &token[mid + 1..])),
            ..session.clone()
        };
        assert!(whoami(&h, &altered).is_err());
        let other = Harness::session_keys(
            &h.call(
                &alice,
                "sts",
                "GetSessionToken",
                &owned(&[("DurationSeconds", "900")]),
            )
            .unwrap(),
        );
        let swapped = Keys {
            token: other.token.clone(),
            ..session.clone()
        };
        assert_eq!(
            code(whoami(&h, &swapped)),
            Some(ErrorCode::InvalidClientTokenId)
        );

        // A restart does not end a session; its expiry does.
        let h = h.restart_after(600);
        assert!(whoami(&h, &session).is_ok());
        let h = h.restart_after(300);
        assert_eq!(code(whoami(&h, &session)), Some(ErrorCode::ExpiredToken));
    }

    #[test]
    fn a_role_session_is_nobody_once_its_role_is_re_created() {
        let h = Harness::new();
        let alice = h.user("alice", Some(&policy("Allow", "sts:AssumeRole", "*")));
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let make_role = || {
            h.root_iam(
                "CreateRole",
                &[("RoleName", "reader"), ("AssumeRolePolicyDocument", &trust)],
            );
            h.root_iam(
                "PutRolePolicy",
                &[
                    ("RoleName", "reader"),
                    ("PolicyName", "list"),
                    ("PolicyDocument", &policy("Allow", "iam:ListUsers", "*")),
                ],
            );
        };
        make_role();
        let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/reader");
        let xml = h
            .call(
                &alice,
                "sts",
                "AssumeRole",
                &owned(&[("RoleArn", &role_arn), ("RoleSessionName", "s1")]),
            )
            .unwrap();
        let session = Harness::session_keys(&xml);
        assert_eq!(
            whoami(&h, &session).unwrap(),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1")
        );
        // The session has the role's permissions, not alice's.
        assert!(h.call(&session, "iam", "ListUsers", &[]).is_ok());
        assert_eq!(
            code(h.call(
                &session,
                "sts",
                "AssumeRole",
                &owned(&[("RoleArn", &role_arn), ("RoleSessionName", "s2")])
            )),
            Some(ErrorCode::AccessDenied)
        );

        // Same name, same policy, new role: the old session acts as nobody.
        h.root_iam(
            "DeleteRolePolicy",
            &[("RoleName", "reader"), ("PolicyName", "list")],
        );
        h.root_iam("DeleteRole", &[("RoleName", "reader")]);
        make_role();
        assert_eq!(
            code(h.call(&session, "iam", "ListUsers", &[])),
            Some(ErrorCode::AccessDenied)
        );
    }
}
