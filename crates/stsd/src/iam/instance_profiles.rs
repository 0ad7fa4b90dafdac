//! Instance profiles: create, get, list, delete, add/remove the role, list a role's profiles, tags. A profile
//! is stored under its lower-cased name (`store::Kind::InstanceProfile`) and holds at most one role, referred
//! to by the role's unique ID. A role inside a profile cannot be deleted (`DeleteConflict`), nor a profile
//! that still holds a role.

use super::roles::{no_role, role_arn_for};
use super::{
    fmt_time, paginate, path_matches, write_paging, write_role, write_tags, Ctx, Handler,
    RequestFacts, RoleView,
};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, InstanceProfile};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::state::State;
use crate::store::Kind;
use crate::validate as v;

/// Instance profiles per account.
pub const MAX_PROFILES: usize = 1000;
/// Roles per instance profile (AWS: "this quota cannot be increased").
pub const MAX_ROLES: usize = 1;

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateInstanceProfile" => create,
        "GetInstanceProfile" => get,
        "ListInstanceProfiles" => list,
        "DeleteInstanceProfile" => delete,
        "AddRoleToInstanceProfile" => add_role,
        "RemoveRoleFromInstanceProfile" => remove_role,
        "ListInstanceProfilesForRole" => list_for_role,
        "TagInstanceProfile" => tag,
        "UntagInstanceProfile" => untag,
        "ListInstanceProfileTags" => list_tags,
        _ => return None,
    })
}

fn profile_name(p: &Params) -> ApiResult<&str> {
    v::name(p, "InstanceProfileName", 128)
}

fn no_profile(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("Instance Profile {name} cannot be found."))
}

/// The ARN of the profile `name` (its stored path when it exists, for authorization).
fn profile_arn_for(ctx: &Ctx<'_>, acct: &Account, name: &str) -> String {
    acct.instance_profiles
        .get(&name.to_lowercase())
        .map(|p| acct.instance_profile_arn(p))
        .unwrap_or_else(|| ctx.arn("instance-profile/", "", name))
}

/// The `InstanceProfile` shape; `tags` for Get/Create (List* operations omit tags).
pub fn write_profile(x: &mut Xml, st: &State, acct: &Account, p: &InstanceProfile, tags: bool) {
    x.elem("Path", &p.path)
        .elem("InstanceProfileName", &p.name)
        .elem("InstanceProfileId", &p.id)
        .elem("Arn", &acct.instance_profile_arn(p))
        .elem("CreateDate", &fmt_time(p.created));
    let roles: Vec<_> = p
        .roles
        .iter()
        .filter_map(|id| acct.roles.values().find(|r| r.id == *id))
        .collect();
    x.list("Roles", &roles, |x, r| {
        write_role(x, st, acct, r, &RoleView::List);
    });
    if tags && !p.tags.is_empty() {
        write_tags(x, &p.tags);
    }
}

pub fn create(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let path = v::path(p, "Path")?;
    let tags = v::tags(p, false)?;
    let arn = ctx.arn("instance-profile", &path, name);
    ctx.app.write(|st, t| {
        let facts = RequestFacts {
            tags: &tags,
            ..RequestFacts::default()
        };
        ctx.authorize_request(st, "iam:CreateInstanceProfile", &arn, &facts)?;
        let acct = ctx.account_mut(st)?;
        let key = name.to_lowercase();
        if acct.instance_profiles.contains_key(&key) {
            return Err(ApiError::already_exists(format!(
                "Instance Profile {name} already exists."
            )));
        }
        if acct.instance_profiles.len() >= MAX_PROFILES {
            return Err(ApiError::limit("InstanceProfilesPerAccount", MAX_PROFILES));
        }
        acct.instance_profiles.insert(
            key.clone(),
            InstanceProfile {
                name: name.to_string(),
                id: crate::ids::unique_id("AIPA"),
                path: path.clone(),
                created: ctx.now,
                roles: Vec::new(),
                tags: tags.clone(),
            },
        );
        t.touch(Kind::InstanceProfile, &ctx.caller.account, &key);
        let acct = ctx.account(st)?;
        let ip = acct
            .instance_profiles
            .get(&key)
            .ok_or_else(ApiError::internal)?;
        let mut x = Xml::new();
        x.open("InstanceProfile");
        write_profile(&mut x, st, acct, ip, true);
        x.close("InstanceProfile");
        Ok(Some(x.finish()))
    })
}

pub fn get(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(
        &st,
        "iam:GetInstanceProfile",
        &profile_arn_for(ctx, acct, name),
    )?;
    let ip = acct
        .instance_profiles
        .get(&name.to_lowercase())
        .ok_or_else(|| no_profile(name))?;
    let mut x = Xml::new();
    x.open("InstanceProfile");
    write_profile(&mut x, &st, acct, ip, true);
    x.close("InstanceProfile");
    Ok(Some(x.finish()))
}

pub fn list(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let prefix = v::path_prefix(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(
        &st,
        "iam:ListInstanceProfiles",
        &ctx.arn("instance-profile/", "", "*"),
    )?;
    let acct = ctx.account(&st)?;
    let items: Vec<&InstanceProfile> = acct
        .instance_profiles
        .values()
        .filter(|ip| path_matches(&ip.path, prefix.as_deref()))
        .collect();
    let (page, next) = paginate(items, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("InstanceProfiles", &page, |x, ip| {
        write_profile(x, &st, acct, ip, false);
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn list_for_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let role_name = v::name(p, "RoleName", 64)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(
        &st,
        "iam:ListInstanceProfilesForRole",
        &role_arn_for(ctx, acct, role_name),
    )?;
    let role = acct
        .roles
        .get(&role_name.to_lowercase())
        .ok_or_else(|| no_role(role_name))?;
    let items: Vec<&InstanceProfile> = acct.instance_profiles_of(&role.id).collect();
    let (page, next) = paginate(items, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("InstanceProfiles", &page, |x, ip| {
        write_profile(x, &st, acct, ip, false);
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn delete(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            "iam:DeleteInstanceProfile",
            &profile_arn_for(ctx, acct, name),
        )?;
        let key = name.to_lowercase();
        let ip = acct
            .instance_profiles
            .get(&key)
            .ok_or_else(|| no_profile(name))?;
        if !ip.roles.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        ctx.account_mut(st)?.instance_profiles.remove(&key);
        t.touch(Kind::InstanceProfile, &ctx.caller.account, &key);
        Ok(None)
    })
}

/// The (lower-cased) key of an existing profile, or `NoSuchEntity`.
fn existing(acct: &Account, name: &str) -> ApiResult<String> {
    let key = name.to_lowercase();
    if acct.instance_profiles.contains_key(&key) {
        Ok(key)
    } else {
        Err(no_profile(name))
    }
}

/// `AddRoleToInstanceProfile` needs `iam:PassRole` on the role too (AWS: "The caller of this operation must
/// be granted the PassRole permission on the IAM role"), evaluated as a pass to EC2 instances.
pub fn add_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let role_name = v::name(p, "RoleName", 64)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            "iam:AddRoleToInstanceProfile",
            &profile_arn_for(ctx, acct, name),
        )?;
        let instances = format!("arn:aws:ec2:*:{}:instance/*", ctx.caller.account);
        let pass = RequestFacts {
            passed_to_service: Some("ec2.amazonaws.com"),
            associated_resource_arn: Some(&instances),
            ..RequestFacts::default()
        };
        ctx.authorize_request(
            st,
            "iam:PassRole",
            &role_arn_for(ctx, acct, role_name),
            &pass,
        )?;
        let key = existing(acct, name)?;
        let role = acct
            .roles
            .get(&role_name.to_lowercase())
            .ok_or_else(|| no_role(role_name))?;
        if role.path.starts_with("/aws-service-role/") {
            return Err(ApiError::new(
                crate::error::ErrorCode::UnmodifiableEntity,
                format!("Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS", role.name),
            ));
        }
        let role_id = role.id.clone();
        let ip = ctx
            .account_mut(st)?
            .instance_profiles
            .get_mut(&key)
            .ok_or_else(|| no_profile(name))?;
        if ip.roles.len() >= MAX_ROLES {
            return Err(ApiError::limit(
                "InstanceSessionsPerInstanceProfile",
                MAX_ROLES,
            ));
        }
        ip.roles.push(role_id);
        t.touch(Kind::InstanceProfile, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn remove_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let role_name = v::name(p, "RoleName", 64)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            "iam:RemoveRoleFromInstanceProfile",
            &profile_arn_for(ctx, acct, name),
        )?;
        let key = existing(acct, name)?;
        let role = acct
            .roles
            .get(&role_name.to_lowercase())
            .ok_or_else(|| no_role(role_name))?;
        let role_id = role.id.clone();
        let ip = ctx
            .account_mut(st)?
            .instance_profiles
            .get_mut(&key)
            .ok_or_else(|| no_profile(name))?;
        if !ip.roles.contains(&role_id) {
            return Err(ApiError::no_such_entity(format!(
                "The role with name {role_name} cannot be found in instance profile {name}."
            )));
        }
        ip.roles.retain(|r| *r != role_id);
        t.touch(Kind::InstanceProfile, &ctx.caller.account, &key);
        Ok(None)
    })
}

/// Authorize `action` on the profile and change it.
fn modify(
    ctx: &Ctx<'_>,
    name: &str,
    action: &str,
    facts: &RequestFacts<'_>,
    mut f: impl FnMut(&mut InstanceProfile) -> ApiResult<()>,
) -> ApiResult<()> {
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(st, action, &profile_arn_for(ctx, acct, name), facts)?;
        let key = existing(acct, name)?;
        let ip = ctx
            .account_mut(st)?
            .instance_profiles
            .get_mut(&key)
            .ok_or_else(|| no_profile(name))?;
        f(ip)?;
        t.touch(Kind::InstanceProfile, &ctx.caller.account, &key);
        Ok(())
    })
}

/// Tag keys are case-sensitive on instance profiles (reference §3.1).
pub fn tag(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let tags = v::tags(p, false)?;
    if p.struct_list("Tags")?.is_none() {
        return Err(ApiError::missing("tags"));
    }
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    modify(ctx, name, "iam:TagInstanceProfile", &facts, |ip| {
        ip.tags = v::merge_tags(&ip.tags, &tags, false)?;
        Ok(())
    })?;
    Ok(None)
}

pub fn untag(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let keys = v::tag_keys(p)?;
    let facts = RequestFacts {
        tag_keys: &keys,
        ..RequestFacts::default()
    };
    modify(ctx, name, "iam:UntagInstanceProfile", &facts, |ip| {
        ip.tags.retain(|tag| !keys.contains(&tag.key));
        Ok(())
    })?;
    Ok(None)
}

pub fn list_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = profile_name(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(
        &st,
        "iam:ListInstanceProfileTags",
        &profile_arn_for(ctx, acct, name),
    )?;
    let ip = acct
        .instance_profiles
        .get(&name.to_lowercase())
        .ok_or_else(|| no_profile(name))?;
    let (page, next) = paginate(ip.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}
