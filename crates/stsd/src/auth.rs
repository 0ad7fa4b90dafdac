//! Authentication: turn a SigV4-signed request into a [`Caller`], following the verification order of
//! the reference (§1.6.9): form → parse → scope/time → key → signature.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::{Caller, CallerKind, session_caller};
use crate::model::KeyStatus;
use crate::node::Node;
use crate::protocol::Service;
use crate::tokens::{SessionKind, TokenError};

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
    node: &Node,
    req: &sigv4::HttpRequest<'_>,
    service: Service,
) -> ApiResult<Option<Caller>> {
    authenticate_as(node, req, service.signing_name())
}

/// [`authenticate`] for a request signed for the SigV4 service name `signing_name` (e.g. `cloudtrail`).
pub fn authenticate_as(
    node: &Node,
    req: &sigv4::HttpRequest<'_>,
    signing_name: &str,
) -> ApiResult<Option<Caller>> {
    authenticate_with(node, req, signing_name, sigv4::VerifyOptions::default())
}

/// [`authenticate_as`] under the verifier's `opts`: S3's canonicalization rules, or a request whose body is not
/// available (`/_stsd/authorize` checks what a proxy saw, without the body).
pub fn authenticate_with(
    node: &Node,
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
        node.clock.now(),
        node.config.max_presign_secs,
    )
    .map_err(|e| sig_err(&e))?;
    let key_id = auth.credential.access_key_id.as_str();
    if key_id.starts_with(crate::ids::TEMPORARY_PREFIX) && auth.security_token.is_none() {
        return Err(invalid_key());
    }
    if key_id.starts_with(crate::ids::TEMPORARY_PREFIX) {
        let token = auth.security_token.as_deref().unwrap_or_default();
        let (claims, secret) = node
            .tokens
            .open(key_id, token, node.clock.now())
            .map_err(|e| match e {
                TokenError::Invalid => invalid_key(),
                TokenError::Expired => ApiError::new(
                    ErrorCode::ExpiredToken,
                    "The security token included in the request is expired",
                ),
            })?;
        let mut caller = session_caller(key_id, claims);
        let c = &auth.credential;
        let key = node.signing_key(key_id, &secret, &c.date, &c.region, &c.service);
        sigv4::verify_with(&auth, req, &key, opts).map_err(|e| sig_err(&e))?;
        // A role session making a request is a use of the role.
        if let Some(SessionKind::Role { role_id, .. }) = caller.session.as_deref().map(|s| &s.kind)
        {
            node.usage
                .role_used(&caller.account, role_id, node.clock.now(), &c.region);
        }
        caller.region.clone_from(&c.region);
        return Ok(Some(caller));
    }
    let st = node.read()?;
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
    let key = node.signing_key(key_id, &secret, &c.date, &c.region, &c.service);
    sigv4::verify_with(&auth, req, &key, opts).map_err(|e| sig_err(&e))?;
    // The key signed a request: that is a use, whatever the authorization decision will be.
    node.usage
        .key_used(key_id, node.clock.now(), &c.service, &c.region);
    caller.region.clone_from(&c.region);
    Ok(Some(caller))
}

#[cfg(test)]
mod tests {
    #![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
    //! Authentication through the whole pipeline (`test_support::Harness`): which credentials are a caller,
    //! and which are refused with which code.

    use crate::error::{ApiError, ErrorCode};
    use crate::test_support::{ACCOUNT, Harness, Keys, between, owned, policy};

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
