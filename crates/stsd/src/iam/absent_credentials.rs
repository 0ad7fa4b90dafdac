//! Credential kinds stsd does not have — SSH public
//! keys, service-specific credentials, signing and server certificates — answered truthfully: listings are
//! empty and getters say `NoSuchEntity`, after the same authorization as AWS. Auditing and infrastructure tools
//! (Terraform's `force_destroy` users, Cloud Custodian filters, Prowler) call these and handle exactly these
//! answers.

use super::users::{no_user, user_arn_for};
use super::{write_paging, Ctx, Handler};
use crate::auth::CallerKind;
use crate::error::{ApiError, ApiResult};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::validate as v;

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "ListSSHPublicKeys" => list_ssh_public_keys,
        "ListServiceSpecificCredentials" => list_service_specific_credentials,
        "ListSigningCertificates" => list_signing_certificates,
        "ListServerCertificates" => list_server_certificates,
        _ => return None,
    })
}

/// The user a call is about (`UserName`, or the calling user), after authorizing `action` on it. `None` is the
/// account root (no `UserName`, called by the root).
pub(super) fn subject(ctx: &Ctx<'_>, p: &Params, action: &str) -> ApiResult<Option<String>> {
    let name = match v::opt_name(p, "UserName", 128)? {
        Some(n) => Some(n.to_string()),
        None => match &ctx.caller.kind {
            CallerKind::User { name, .. } => Some(name.clone()),
            CallerKind::Root => None,
            _ => {
                return Err(ApiError::new(
                    crate::error::ErrorCode::ValidationError,
                    "Must specify userName when calling with non-User credentials",
                ))
            }
        },
    };
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    let arn = match &name {
        Some(n) => user_arn_for(ctx, acct, n),
        None => acct.root_arn(),
    };
    ctx.authorize(&st, action, &arn)?;
    if let Some(n) = &name {
        let u = acct
            .users
            .get(&n.to_lowercase())
            .ok_or_else(|| no_user(n))?;
        return Ok(Some(u.name.clone()));
    }
    Ok(None)
}

/// An empty listing under `tag`, with the paging members when the shape has them.
fn empty(tag: &str, paged: bool) -> Option<String> {
    let mut x = Xml::new();
    x.list::<()>(tag, &[], |_, ()| {});
    if paged {
        write_paging(&mut x, None);
    }
    Some(x.finish())
}

pub fn list_ssh_public_keys(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    v::paging(p)?;
    subject(ctx, p, "iam:ListSSHPublicKeys")?;
    Ok(empty("SSHPublicKeys", true))
}

pub fn list_service_specific_credentials(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    subject(ctx, p, "iam:ListServiceSpecificCredentials")?;
    Ok(empty("ServiceSpecificCredentials", false))
}

pub fn list_signing_certificates(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    v::paging(p)?;
    subject(ctx, p, "iam:ListSigningCertificates")?;
    Ok(empty("Certificates", true))
}

pub fn list_server_certificates(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    v::path_prefix(p)?;
    v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListServerCertificates", "*")?;
    Ok(empty("ServerCertificateMetadataList", true))
}
