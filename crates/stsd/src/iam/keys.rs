//! Access keys: at most two per user (and per root), Active/Inactive, secrets returned only at creation.

use super::entity::{Entity, Subject};
use super::users::Users;
use stsd_wire::generated::iam as w;

use super::{Ctx, page_size, paginate};
use crate::error::{ApiError, ApiResult};
use crate::model::{AccessKey, Account, KeyStatus};
use crate::state::State;
use crate::store::Kind;

pub const MAX_KEYS: usize = 2;

fn keys<'a>(acct: &'a Account, o: &Subject) -> ApiResult<&'a Vec<AccessKey>> {
    match o {
        Subject::Root => Ok(&acct.meta.root_keys),
        Subject::User(n) => Users::find(acct, n).map(|u| &u.keys),
    }
}

fn keys_mut<'a>(acct: &'a mut Account, o: &Subject) -> ApiResult<&'a mut Vec<AccessKey>> {
    match o {
        Subject::Root => Ok(&mut acct.meta.root_keys),
        Subject::User(n) => Users::find_mut(acct, n).map(|u| &mut u.keys),
    }
}

fn touch(ctx: &Ctx<'_>, t: &mut crate::state::Touched, o: &Subject) {
    match o {
        Subject::Root => t.touch(Kind::Account, &ctx.caller.account, &ctx.caller.account),
        Subject::User(n) => t.touch(Kind::User, &ctx.caller.account, n),
    }
}

fn user_name_of(acct: &Account, o: &Subject) -> Option<String> {
    match o {
        Subject::Root => None,
        Subject::User(n) => Users::find(acct, n).ok().map(|u| u.name.clone()),
    }
}

pub fn create_access_key(
    ctx: &Ctx<'_>,
    input: w::CreateAccessKeyRequest,
) -> ApiResult<w::CreateAccessKeyResponse> {
    let o = Subject::of(ctx, input.user_name.as_deref())?;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:CreateAccessKey", &o.arn(ctx, acct))?;
        if keys(acct, &o)?.len() >= MAX_KEYS {
            return Err(ApiError::limit("AccessKeysPerUser", MAX_KEYS));
        }
        let user_name = user_name_of(acct, &o);
        let key = AccessKey {
            id: crate::ids::access_key_id(crate::ids::LONG_TERM_PREFIX, &ctx.caller.account),
            secret: crate::ids::secret_access_key(),
            status: KeyStatus::Active,
            created: ctx.now,
        };
        let out = w::AccessKey {
            user_name,
            access_key_id: key.id.clone(),
            status: key.status.as_str().to_string(),
            secret_access_key: key.secret.to_string(),
            create_date: Some(key.created),
        };
        keys_mut(ctx.account_mut(st)?, &o)?.push(key);
        touch(ctx, t, &o);
        Ok(w::CreateAccessKeyResponse { access_key: out })
    })
}

fn no_key(id: &str) -> ApiError {
    ApiError::no_such_entity(format!("The Access Key with id {id} cannot be found."))
}

pub fn update_access_key(ctx: &Ctx<'_>, input: w::UpdateAccessKeyRequest) -> ApiResult<()> {
    let o = Subject::of(ctx, input.user_name.as_deref())?;
    let id = input.access_key_id.as_str();
    // The model's `statusType` also lists `Expired`, which no caller may set.
    let status = match input.status.as_str() {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(ApiError::validation(
                other,
                "status",
                "Member must satisfy enum value set: [Active, Inactive]",
            ));
        }
    };
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:UpdateAccessKey", &o.arn(ctx, acct))?;
        if !keys(acct, &o)?.iter().any(|k| k.id == id) {
            return Err(no_key(id));
        }
        for k in keys_mut(ctx.account_mut(st)?, &o)?
            .iter_mut()
            .filter(|k| k.id == id)
        {
            k.status = status;
        }
        touch(ctx, t, &o);
        Ok(())
    })
}

pub fn delete_access_key(ctx: &Ctx<'_>, input: w::DeleteAccessKeyRequest) -> ApiResult<()> {
    let o = Subject::of(ctx, input.user_name.as_deref())?;
    let id = input.access_key_id.as_str();
    let out = ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:DeleteAccessKey", &o.arn(ctx, acct))?;
        if !keys(acct, &o)?.iter().any(|k| k.id == id) {
            return Err(no_key(id));
        }
        let acct = ctx.account_mut(st)?;
        keys_mut(acct, &o)?.retain(|k| k.id != id);
        touch(ctx, t, &o);
        let usage = crate::model::usage_key(id);
        if acct.usage.remove(&usage).is_some() {
            t.touch(Kind::Usage, &ctx.caller.account, &usage);
        }
        Ok(())
    });
    ctx.node.forget_signing_keys(id);
    out
}

pub fn list_access_keys(
    ctx: &Ctx<'_>,
    input: w::ListAccessKeysRequest,
) -> ApiResult<w::ListAccessKeysResponse> {
    let o = Subject::of(ctx, input.user_name.as_deref())?;
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:ListAccessKeys", &o.arn(ctx, acct))?;
    let user_name = user_name_of(acct, &o);
    let (page, next) = paginate(keys(acct, &o)?.iter().collect(), marker.as_deref(), max)?;
    Ok(w::ListAccessKeysResponse {
        access_key_metadata: page
            .iter()
            .map(|k| w::AccessKeyMetadata {
                user_name: user_name.clone(),
                access_key_id: Some(k.id.clone()),
                status: Some(k.status.as_str().to_string()),
                create_date: Some(k.created),
            })
            .collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn get_access_key_last_used(
    ctx: &Ctx<'_>,
    input: w::GetAccessKeyLastUsedRequest,
) -> ApiResult<w::GetAccessKeyLastUsedResponse> {
    let id = input.access_key_id.as_str();
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    let (user_name, key) =
        find_key(&st, acct, id).ok_or_else(|| ApiError::access_denied("Access Denied"))?;
    let arn = match &user_name {
        Some(n) => Users::arn(ctx, acct, n),
        None => acct.root_arn(),
    };
    ctx.authorize(&st, "iam:GetAccessKeyLastUsed", &arn)?;
    let last = match crate::usage::key_last_used(&ctx.node.usage, acct, &key.id) {
        Some(u) => w::AccessKeyLastUsed {
            last_used_date: Some(u.date),
            service_name: u.service,
            region: u.region,
        },
        None => w::AccessKeyLastUsed {
            last_used_date: None,
            service_name: "N/A".into(),
            region: "N/A".into(),
        },
    };
    Ok(w::GetAccessKeyLastUsedResponse {
        user_name,
        access_key_last_used: Some(last),
    })
}

fn find_key<'a>(
    st: &'a State,
    acct: &'a Account,
    id: &str,
) -> Option<(Option<String>, &'a AccessKey)> {
    let owner = st.keys.get(id)?;
    if owner.account != acct.id() {
        return None;
    }
    match &owner.user {
        None => acct
            .meta
            .root_keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| (None, k)),
        Some(u) => {
            let user = acct.users.get(u)?;
            user.keys
                .iter()
                .find(|k| k.id == id)
                .map(|k| (Some(user.name.clone()), k))
        }
    }
}
