//! STS actions. The foundation serves GetCallerIdentity and GetAccessKeyInfo; credential-issuing actions
//! come with temporary credentials.

pub(crate) mod credentials;
pub(crate) use credentials::mint_for;
mod saml;
mod web_identity;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::iam::Ctx;
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;

pub type Handler = fn(&Ctx<'_>, &Params) -> ApiResult<Option<String>>;

/// Context of an unsigned call (AssumeRoleWithWebIdentity, AssumeRoleWithSAML): no caller credentials.
pub struct UnsignedCtx<'a> {
    pub app: &'a crate::app::App,
    pub meta: &'a crate::auth::RequestMeta,
    pub now: i64,
}

impl UnsignedCtx<'_> {
    /// The transport facts and time of this request.
    pub fn request(&self) -> crate::authz::RequestInfo<'_> {
        crate::authz::RequestInfo {
            meta: self.meta,
            now: self.now,
        }
    }
}

pub type UnsignedHandler = fn(&UnsignedCtx<'_>, &Params) -> ApiResult<Option<String>>;

/// Handlers of the unsigned STS actions.
pub fn unsigned_handler(action: &str) -> Option<UnsignedHandler> {
    web_identity::handler(action).or_else(|| saml::handler(action))
}

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "GetCallerIdentity" => get_caller_identity,
        "GetAccessKeyInfo" => get_access_key_info,
        "AssumeRole" => credentials::assume_role,
        "DecodeAuthorizationMessage" => decode_authorization_message,
        "GetSessionToken" => credentials::get_session_token,
        "GetFederationToken" => credentials::get_federation_token,
        _ => return None,
    })
}

/// Always allowed, for every kind of principal (AWS: no policy can deny it).
pub fn get_caller_identity(ctx: &Ctx<'_>, _p: &Params) -> ApiResult<Option<String>> {
    let mut x = Xml::new();
    x.elem("Arn", &ctx.caller.arn)
        .elem("UserId", &ctx.caller.user_id)
        .elem("Account", &ctx.caller.account);
    Ok(Some(x.finish()))
}

/// The account of any key ID, decoded from the ID itself; keys imported verbatim (bootstrap root keys that
/// do not follow the layout) are looked up instead.
pub fn get_access_key_info(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let id = p.required("AccessKeyId")?;
    if !crate::ids::is_well_formed_key_id(id) {
        return Err(ApiError::validation(
            id,
            "accessKeyId",
            "Member must satisfy regular expression pattern: [\\w]*",
        ));
    }
    let st = ctx.app.read()?;
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
    let mut x = Xml::new();
    x.elem("Account", &account);
    Ok(Some(x.finish()))
}

/// Decode an encoded authorization failure message produced by this server (same account only).
pub fn decode_authorization_message(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let encoded = p.required("EncodedMessage")?;
    if encoded.is_empty() || encoded.chars().count() > 10_240 {
        return Err(ApiError::validation(
            "<message>",
            "encodedMessage",
            "Member must have length less than or equal to 10240",
        ));
    }
    let st = ctx.app.read()?;
    ctx.authorize(&st, "sts:DecodeAuthorizationMessage", "*")?;
    drop(st);
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidAuthorizationMessageException,
            "The encoded authorization message is invalid.",
        )
    };
    let plain = ctx
        .app
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
    let mut x = Xml::new();
    x.elem("DecodedMessage", &value.to_string());
    Ok(Some(x.finish()))
}
