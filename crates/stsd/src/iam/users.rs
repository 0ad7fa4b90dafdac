//! Users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers, tags and permissions boundaries.

use stsd_wire::generated::iam as w;

use super::entity::{self, Entity};
use super::tagging;
use super::{Ctx, RequestFacts, page_size, paginate, path_matches, tags_in, wire_user};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::CallerKind;
use crate::model::{Account, User};
use crate::state::State;
use crate::store::Kind;

pub(super) fn no_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

entity::named!(
    /// Users, named by their name; tag keys compare ignoring case.
    Users: User, users, "User", Kind::User, "user/", user_arn, no_user);

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

pub fn create_user(ctx: &Ctx<'_>, input: w::CreateUserRequest) -> ApiResult<w::CreateUserResponse> {
    let name = input.user_name.as_str();
    let path = input.path.unwrap_or_else(|| "/".into());
    let tags = tags_in(input.tags, true)?;
    let boundary = input.permissions_boundary;
    let arn = ctx.arn("user", &path, name);
    let new = entity::New {
        arn: &arn,
        key: name.to_lowercase(),
        taken: format!("User with name {name} already exists."),
        quota: ("UsersPerAccount", 5000),
    };
    let facts = RequestFacts {
        tags: &tags,
        permissions_boundary: boundary.as_deref(),
        ..RequestFacts::default()
    };
    let build = |st: &State| {
        if let Some(b) = &boundary {
            check_boundary(ctx.account(st)?, b)?;
        }
        Ok(User {
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
        })
    };
    let user =
        entity::create::<Users, _>(ctx, "iam:CreateUser", &new, &facts, build, |_, acct, u| {
            Ok(wire_user(acct, u, true))
        })?;
    Ok(w::CreateUserResponse { user: Some(user) })
}

pub fn get_user(ctx: &Ctx<'_>, input: w::GetUserRequest) -> ApiResult<w::GetUserResponse> {
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    let name = match input.user_name {
        Some(n) => n,
        None => match &ctx.caller.kind {
            CallerKind::User { name, .. } => name.clone(),
            CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. } => {
                return Err(ApiError::new(
                    ErrorCode::ValidationError,
                    "Must specify userName when calling with non-User credentials",
                ));
            }
            CallerKind::Root => {
                // Root: AWS returns the root "user" shape, without a path or a name.
                ctx.authorize(&st, "iam:GetUser", &acct.root_arn())?;
                return Ok(w::GetUserResponse {
                    user: w::User {
                        user_id: acct.id().to_string(),
                        arn: acct.root_arn(),
                        create_date: acct.meta.created,
                        ..w::User::default()
                    },
                });
            }
        },
    };
    let (acct, u) = entity::read::<Users>(ctx, &st, "iam:GetUser", &name)?;
    Ok(w::GetUserResponse {
        user: wire_user(acct, u, true),
    })
}

pub fn update_user(ctx: &Ctx<'_>, input: w::UpdateUserRequest) -> ApiResult<()> {
    let name = input.user_name.as_str();
    let new_name = input.new_user_name.as_deref();
    let new_path = input.new_path;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:UpdateUser", &Users::arn(ctx, acct, name))?;
        let acct = ctx.account_mut(st)?;
        let key = name.to_lowercase();
        if !acct.users.contains_key(&key) {
            return Err(no_user(name));
        }
        if let Some(nn) = new_name
            && nn.to_lowercase() != key
            && acct.users.contains_key(&nn.to_lowercase())
        {
            return Err(ApiError::already_exists(format!(
                "User with name {nn} already exists."
            )));
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
        Ok(())
    })
}

pub fn delete_user(ctx: &Ctx<'_>, input: w::DeleteUserRequest) -> ApiResult<()> {
    entity::remove::<Users>(ctx, "iam:DeleteUser", &input.user_name, |acct, u| {
        if !u.keys.is_empty()
            || !u.inline.is_empty()
            || !u.attached.is_empty()
            || !u.groups.is_empty()
        {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must delete access keys, policies and group memberships first.",
            ));
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
        Ok(())
    })?;
    Ok(())
}

pub fn list_users(ctx: &Ctx<'_>, input: w::ListUsersRequest) -> ApiResult<w::ListUsersResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListUsers", &ctx.arn("user/", "", "*"))?;
    let acct = ctx.account(&st)?;
    let users: Vec<&User> = acct
        .users
        .values()
        .filter(|u| path_matches(&u.path, input.path_prefix.as_deref()))
        .collect();
    let (page, next) = paginate(users, input.marker.as_deref(), page_size(input.max_items))?;
    Ok(w::ListUsersResponse {
        users: page.iter().map(|u| wire_user(acct, u, false)).collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

tagging::actions!(Users, case_insensitive: true, user_name;
    tag_user(TagUserRequest), untag_user(UntagUserRequest), list_user_tags(ListUserTagsRequest) -> ListUserTagsResponse);

pub fn put_user_permissions_boundary(
    ctx: &Ctx<'_>,
    input: w::PutUserPermissionsBoundaryRequest,
) -> ApiResult<()> {
    let arn = input.permissions_boundary.as_str();
    let facts = RequestFacts {
        permissions_boundary: Some(arn),
        ..RequestFacts::default()
    };
    let action = "iam:PutUserPermissionsBoundary";
    entity::mutate_request::<Users, _>(ctx, action, &input.user_name, &facts, |st, u| {
        check_boundary(ctx.account(st)?, arn)?;
        u.boundary = Some(arn.to_string());
        Ok(())
    })
}

pub fn delete_user_permissions_boundary(
    ctx: &Ctx<'_>,
    input: w::DeleteUserPermissionsBoundaryRequest,
) -> ApiResult<()> {
    let name = input.user_name.as_str();
    let action = "iam:DeleteUserPermissionsBoundary";
    entity::mutate::<Users, _>(ctx, action, name, |_, u| {
        if u.boundary.take().is_none() {
            return Err(ApiError::no_such_entity(format!(
                "The user with name {name} has no permissions boundary."
            )));
        }
        Ok(())
    })
}
