//! STS actions. The foundation serves GetCallerIdentity and GetAccessKeyInfo; credential-issuing actions
//! come with temporary credentials.

mod assume;
pub(crate) mod credentials;
pub(crate) use credentials::mint_for;
mod saml;
mod web_identity;

use crate::action::{Ctx, Handler, typed, typed_unsigned};
pub use crate::action::{UnsignedCtx, UnsignedHandler};
use crate::error::{ApiError, ApiResult, ErrorCode};
use stsd_wire::generated::sts as w;

/// Every STS action under its operation's snake_case name, where the generated dispatch tables find it.
mod handlers {
    pub(super) use super::credentials::{assume_role, get_federation_token, get_session_token};
    pub(super) use super::saml::assume_role_with_saml;
    pub(super) use super::web_identity::assume_role_with_web_identity;
    pub(super) use super::{
        decode_authorization_message, get_access_key_info, get_caller_identity,
    };
}

/// Handlers of the unsigned STS actions (the model's `authtype: none`).
pub fn unsigned_handler(action: &str) -> Option<UnsignedHandler> {
    stsd_wire::sts_dispatch_unsigned!(action, typed_unsigned, handlers)
}

/// Handlers of the signed STS actions.
pub fn handler(action: &str) -> Option<Handler> {
    stsd_wire::sts_dispatch!(action, typed, handlers)
}

/// Always allowed, for every kind of principal (AWS: no policy can deny it).
pub fn get_caller_identity(
    ctx: &Ctx<'_>,
    _input: w::GetCallerIdentityRequest,
) -> ApiResult<w::GetCallerIdentityResponse> {
    Ok(w::GetCallerIdentityResponse {
        user_id: Some(ctx.caller.user_id.clone()),
        account: Some(ctx.caller.account.clone()),
        arn: Some(ctx.caller.arn.clone()),
    })
}

/// The account of any key ID, decoded from the ID itself; keys imported verbatim (bootstrap root keys that
/// do not follow the layout) are looked up instead.
pub fn get_access_key_info(
    ctx: &Ctx<'_>,
    input: w::GetAccessKeyInfoRequest,
) -> ApiResult<w::GetAccessKeyInfoResponse> {
    let id = input.access_key_id.as_str();
    let st = ctx.node.read()?;
    ctx.authorize(&st, "sts:GetAccessKeyInfo", "*")?;
    let account = st
        .keys
        .get(id)
        .map(|o| o.account.clone())
        .or_else(|| crate::ids::account_from_key_id(id))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameterValue,
                "The specified access key ID is not valid.",
            )
        })?;
    Ok(w::GetAccessKeyInfoResponse {
        account: Some(account),
    })
}

/// Decode an encoded authorization failure message produced by this server (same account only).
pub fn decode_authorization_message(
    ctx: &Ctx<'_>,
    input: w::DecodeAuthorizationMessageRequest,
) -> ApiResult<w::DecodeAuthorizationMessageResponse> {
    let encoded = input.encoded_message.as_str();
    let st = ctx.node.read()?;
    ctx.authorize(&st, "sts:DecodeAuthorizationMessage", "*")?;
    drop(st);
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidAuthorizationMessageException,
            "The encoded authorization message is invalid.",
        )
    };
    let plain = ctx
        .node
        .tokens
        .open_message(crate::authz::AUTHZ_MESSAGE_PURPOSE, encoded)
        .ok_or_else(invalid)?;
    let mut value: serde_json::Value = serde_json::from_slice(&plain).map_err(|_| invalid())?;
    if value.get("account").and_then(|a| a.as_str()) != Some(ctx.caller.account.as_str()) {
        return Err(invalid());
    }
    if let Some(obj) = value.as_object_mut() {
        obj.remove("account");
    }
    Ok(w::DecodeAuthorizationMessageResponse {
        decoded_message: Some(value.to_string()),
    })
}
