//! Users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers, tags and permissions boundaries.

use super::{paginate, path_matches, write_paging, write_tags, write_user, Ctx, RequestFacts};
use crate::auth::CallerKind;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Account, User};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::store::Kind;
use crate::validate as v;

pub(super) fn no_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

pub(super) fn user_arn_for(ctx: &Ctx<'_>, acct: &Account, name: &str) -> String {
    acct.users
        .get(&name.to_lowercase())
        .map(|u| acct.user_arn(u))
        .unwrap_or_else(|| ctx.arn("user/", "", name))
}

/// Check that a boundary ARN names an existing managed policy the caller's account can use.
pub(super) fn check_boundary(acct: &Account, arn: &str) -> ApiResult<()> {
    if arn.starts_with("arn:aws:iam::aws:policy/") {
        return Err(ApiError::no_such_entity(format!(
            "Policy {arn} does not exist or is not attachable."
        )));
    }
    if acct.policy_by_arn(arn).is_none() {
        if !arn.starts_with("arn:aws:iam::") {
            return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
        }
        return Err(ApiError::no_such_entity(format!(
            "Policy {arn} does not exist or is not attachable."
        )));
    }
    Ok(())
}

pub fn create_user(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 64)?;
    let path = v::path(p, "Path")?;
    let tags = v::tags(p, true)?;
    let boundary = p.get("PermissionsBoundary").map(str::to_string);
    let arn = ctx.arn("user", &path, name);
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:CreateUser",
            &arn,
            &RequestFacts {
                tags: &tags,
                permissions_boundary: boundary.as_deref(),
                ..RequestFacts::default()
            },
        )?;
        let acct = ctx.account_mut(st)?;
        if acct.users.contains_key(&name.to_lowercase()) {
            return Err(ApiError::already_exists(format!(
                "User with name {name} already exists."
            )));
        }
        if acct.users.len() >= 5000 {
            return Err(ApiError::limit("UsersPerAccount", 5000));
        }
        if let Some(b) = &boundary {
            check_boundary(acct, b)?;
        }
        let u = User {
            name: name.to_string(),
            id: crate::ids::unique_id("AIDA"),
            path: path.clone(),
            created: ctx.now,
            tags: tags.clone(),
            inline: Default::default(),
            attached: Vec::new(),
            groups: Vec::new(),
            boundary: boundary.clone(),
            keys: Vec::new(),
            login_profile: None,
            password_last_used: None,
        };
        let mut x = Xml::new();
        x.open("User");
        write_user(&mut x, acct, &u, true);
        x.close("User");
        acct.users.insert(name.to_lowercase(), u);
        t.touch(Kind::User, &ctx.caller.account, name);
        Ok(Some(x.finish()))
    })
}

pub fn get_user(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    let name = match v::opt_name(p, "UserName", 128)? {
        Some(n) => n.to_string(),
        None => match &ctx.caller.kind {
            CallerKind::User { name, .. } => name.clone(),
            CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. } => {
                return Err(ApiError::new(
                    ErrorCode::ValidationError,
                    "Must specify userName when calling with non-User credentials",
                ));
            }
            CallerKind::Root => {
                // Root: AWS returns the root "user" shape.
                ctx.authorize(&st, "iam:GetUser", &acct.root_arn())?;
                let mut x = Xml::new();
                x.open("User")
                    .elem("UserId", acct.id())
                    .elem("Arn", &acct.root_arn())
                    .elem("CreateDate", &super::fmt_time(acct.meta.created))
                    .close("User");
                return Ok(Some(x.finish()));
            }
        },
    };
    ctx.authorize(&st, "iam:GetUser", &user_arn_for(ctx, acct, &name))?;
    let u = acct
        .users
        .get(&name.to_lowercase())
        .ok_or_else(|| no_user(&name))?;
    let mut x = Xml::new();
    x.open("User");
    write_user(&mut x, acct, u, true);
    x.close("User");
    Ok(Some(x.finish()))
}

pub fn update_user(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    let new_name = v::opt_name(p, "NewUserName", 64)?;
    let new_path = if p.contains("NewPath") {
        Some(v::path(p, "NewPath")?)
    } else {
        None
    };
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:UpdateUser", &user_arn_for(ctx, acct, name))?;
        let acct = ctx.account_mut(st)?;
        let key = name.to_lowercase();
        if !acct.users.contains_key(&key) {
            return Err(no_user(name));
        }
        if let Some(nn) = new_name {
            if nn.to_lowercase() != key && acct.users.contains_key(&nn.to_lowercase()) {
                return Err(ApiError::already_exists(format!(
                    "User with name {nn} already exists."
                )));
            }
        }
        let Some(mut u) = acct.users.remove(&key) else {
            return Err(no_user(name));
        };
        if let Some(np) = new_path.clone() {
            u.path = np;
        }
        if let Some(nn) = new_name {
            u.name = nn.to_string();
        }
        let new_key = u.name.to_lowercase();
        acct.users.insert(new_key.clone(), u);
        t.touch(Kind::User, &ctx.caller.account, &key);
        t.touch(Kind::User, &ctx.caller.account, &new_key);
        Ok(None)
    })
}

pub fn delete_user(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:DeleteUser", &user_arn_for(ctx, acct, name))?;
        let acct = ctx.account_mut(st)?;
        let key = name.to_lowercase();
        let u = acct.users.get(&key).ok_or_else(|| no_user(name))?;
        if !u.keys.is_empty() || !u.inline.is_empty() || !u.attached.is_empty() || !u.groups.is_empty() {
            return Err(ApiError::delete_conflict("Cannot delete entity, must delete access keys, policies and group memberships first."));
        }
        if u.login_profile.is_some() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must delete login profile first.",
            ));
        }
        let owner = crate::model::MfaOwner::User { id: u.id.clone() };
        if acct.mfa_devices_of(&owner).next().is_some() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must remove MFA devices first.",
            ));
        }
        acct.users.remove(&key);
        t.touch(Kind::User, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn list_users(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let prefix = v::path_prefix(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListUsers", &ctx.arn("user/", "", "*"))?;
    let acct = ctx.account(&st)?;
    let users: Vec<&User> = acct
        .users
        .values()
        .filter(|u| path_matches(&u.path, prefix.as_deref()))
        .collect();
    let (page, next) = paginate(users, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("Users", &page, |x, u| write_user(x, acct, u, false));
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn tag_user(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    let tags = v::tags(p, true)?;
    if !p.contains("Tags") && tags.is_empty() && p.struct_list("Tags")?.is_none() {
        return Err(ApiError::missing("tags"));
    }
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(
            st,
            "iam:TagUser",
            &user_arn_for(ctx, acct, name),
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let acct = ctx.account_mut(st)?;
        let u = acct
            .users
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| no_user(name))?;
        u.tags = v::merge_tags(&u.tags, &tags, true)?;
        t.touch(Kind::User, &ctx.caller.account, name);
        Ok(None)
    })
}

pub fn untag_user(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    let keys = v::tag_keys(p)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(
            st,
            "iam:UntagUser",
            &user_arn_for(ctx, acct, name),
            &RequestFacts {
                tag_keys: &keys,
                ..RequestFacts::default()
            },
        )?;
        let acct = ctx.account_mut(st)?;
        let u = acct
            .users
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| no_user(name))?;
        u.tags
            .retain(|tag| !keys.iter().any(|k| k.eq_ignore_ascii_case(&tag.key)));
        t.touch(Kind::User, &ctx.caller.account, name);
        Ok(None)
    })
}

pub fn list_user_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:ListUserTags", &user_arn_for(ctx, acct, name))?;
    let u = acct
        .users
        .get(&name.to_lowercase())
        .ok_or_else(|| no_user(name))?;
    let (page, next) = paginate(u.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn put_boundary(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    let arn = v::arn(p, "PermissionsBoundary")?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(
            st,
            "iam:PutUserPermissionsBoundary",
            &user_arn_for(ctx, acct, name),
            &RequestFacts {
                permissions_boundary: Some(arn),
                ..RequestFacts::default()
            },
        )?;
        if !acct.users.contains_key(&name.to_lowercase()) {
            return Err(no_user(name));
        }
        check_boundary(acct, arn)?;
        let acct = ctx.account_mut(st)?;
        let u = acct
            .users
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| no_user(name))?;
        u.boundary = Some(arn.to_string());
        t.touch(Kind::User, &ctx.caller.account, name);
        Ok(None)
    })
}

pub fn delete_boundary(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "UserName", 128)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            "iam:DeleteUserPermissionsBoundary",
            &user_arn_for(ctx, acct, name),
        )?;
        let acct = ctx.account_mut(st)?;
        let u = acct
            .users
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| no_user(name))?;
        if u.boundary.take().is_none() {
            return Err(ApiError::new(
                ErrorCode::NoSuchEntity,
                format!("The user with name {name} has no permissions boundary."),
            ));
        }
        t.touch(Kind::User, &ctx.caller.account, name);
        Ok(None)
    })
}
