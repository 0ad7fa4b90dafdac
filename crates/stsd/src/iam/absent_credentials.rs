//! Credential kinds stsd does not have — SSH public
//! keys, service-specific credentials, signing and server certificates — answered truthfully: listings are
//! empty and getters say `NoSuchEntity`, after the same authorization as AWS. Auditing and infrastructure tools
//! (Terraform's `force_destroy` users, Cloud Custodian filters, Prowler) call these and handle exactly these
//! answers.

use stsd_wire::generated::iam as w;

use super::Ctx;
use super::entity::{Entity, Subject};
use super::users::Users;
use crate::error::ApiResult;

/// The user a call is about (`UserName`, or the calling user), after authorizing `action` on it. `None` is the
/// account root (no `UserName`, called by the root).
pub(super) fn subject(
    ctx: &Ctx<'_>,
    user_name: Option<&str>,
    action: &str,
) -> ApiResult<Option<String>> {
    let subject = Subject::of(ctx, user_name)?;
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, action, &subject.arn(ctx, acct))?;
    match subject {
        Subject::Root => Ok(None),
        Subject::User(n) => Ok(Some(Users::find(acct, &n)?.name.clone())),
    }
}

pub fn list_ssh_public_keys(
    ctx: &Ctx<'_>,
    input: w::ListSSHPublicKeysRequest,
) -> ApiResult<w::ListSSHPublicKeysResponse> {
    subject(ctx, input.user_name.as_deref(), "iam:ListSSHPublicKeys")?;
    Ok(w::ListSSHPublicKeysResponse {
        ssh_public_keys: Some(Vec::new()),
        is_truncated: Some(false),
        marker: None,
    })
}

pub fn list_service_specific_credentials(
    ctx: &Ctx<'_>,
    input: w::ListServiceSpecificCredentialsRequest,
) -> ApiResult<w::ListServiceSpecificCredentialsResponse> {
    subject(
        ctx,
        input.user_name.as_deref(),
        "iam:ListServiceSpecificCredentials",
    )?;
    Ok(w::ListServiceSpecificCredentialsResponse {
        service_specific_credentials: Some(Vec::new()),
        ..Default::default()
    })
}

pub fn list_signing_certificates(
    ctx: &Ctx<'_>,
    input: w::ListSigningCertificatesRequest,
) -> ApiResult<w::ListSigningCertificatesResponse> {
    subject(
        ctx,
        input.user_name.as_deref(),
        "iam:ListSigningCertificates",
    )?;
    Ok(w::ListSigningCertificatesResponse {
        certificates: Vec::new(),
        is_truncated: Some(false),
        marker: None,
    })
}

pub fn list_server_certificates(
    ctx: &Ctx<'_>,
    _input: w::ListServerCertificatesRequest,
) -> ApiResult<w::ListServerCertificatesResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListServerCertificates", "*")?;
    Ok(w::ListServerCertificatesResponse {
        server_certificate_metadata_list: Vec::new(),
        is_truncated: Some(false),
        marker: None,
    })
}
