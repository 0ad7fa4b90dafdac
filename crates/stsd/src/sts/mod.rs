//! STS actions. The foundation serves GetCallerIdentity and GetAccessKeyInfo; credential-issuing actions
//! come with temporary credentials.

mod assume;
pub(crate) mod credentials;
pub(crate) use credentials::mint_for;
mod saml;
mod web_identity;

use crate::action::{typed, Ctx, Handler};
pub use crate::action::{UnsignedCtx, UnsignedHandler};
use crate::error::{ApiError, ApiResult, ErrorCode};
use stsd_wire::generated::sts as w;

/// Handlers of the unsigned STS actions.
pub fn unsigned_handler(action: &str) -> Option<UnsignedHandler> {
    web_identity::handler(action).or_else(|| saml::handler(action))
}

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "GetCallerIdentity" => typed!(get_caller_identity),
        "GetAccessKeyInfo" => typed!(get_access_key_info),
        "AssumeRole" => typed!(credentials::assume_role),
        "DecodeAuthorizationMessage" => typed!(decode_authorization_message),
        "GetSessionToken" => typed!(credentials::get_session_token),
        "GetFederationToken" => typed!(credentials::get_federation_token),
        _ => return None,
    })
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
