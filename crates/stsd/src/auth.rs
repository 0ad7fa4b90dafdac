//! Authentication: turn a SigV4-signed request into a [`Caller`], following the verification order of
//! the reference (§1.6.9): form → parse → scope/time → key → signature.

use crate::app::App;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::KeyStatus;
use crate::protocol::Service;

/// Who is calling, as resolved from their credentials.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: String,
    pub kind: CallerKind,
    /// `arn:aws:iam::A:root`, `arn:aws:iam::A:user/path/name`, …
    pub arn: String,
    /// `aws:userid`: the account ID for root, `AIDA…` for users.
    pub user_id: String,
    pub access_key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    Root,
    /// An IAM user; the lower-cased name is the key into the account's users.
    User {
        key: String,
        name: String,
    },
}

impl Caller {
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
        }
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
    let Some(auth) = sigv4::parse(req).map_err(|e| sig_err(&e))? else {
        return Ok(None);
    };
    sigv4::check_scope_and_time(
        &auth,
        service.signing_name(),
        app.clock.now(),
        app.config.max_presign_secs,
    )
    .map_err(|e| sig_err(&e))?;
    let key_id = auth.credential.access_key_id.as_str();
    if key_id.starts_with(crate::ids::TEMPORARY_PREFIX) && auth.security_token.is_none() {
        return Err(invalid_key());
    }
    let st = app.read()?;
    let owner = st.keys.get(key_id).ok_or_else(invalid_key)?;
    let acct = st.accounts.get(&owner.account).ok_or_else(invalid_key)?;
    let (secret, caller) = match &owner.user {
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
            };
            (k.secret.clone(), caller)
        }
    };
    drop(st);
    let c = &auth.credential;
    let key = app.signing_key(key_id, &secret, &c.date, &c.region, &c.service);
    sigv4::verify(&auth, req, &key).map_err(|e| sig_err(&e))?;
    Ok(Some(caller))
}
