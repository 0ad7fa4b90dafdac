//! Instance profiles: create, get, list, delete, add/remove the role, list a role's profiles, tags. A profile
//! is stored under its lower-cased name (`store::Kind::InstanceProfile`) and holds at most one role, referred
//! to by the role's unique ID. A role inside a profile cannot be deleted (`DeleteConflict`), nor a profile
//! that still holds a role.

use stsd_wire::generated::iam as w;

use super::roles::{no_role, role_arn_for};
use super::tagging::{self, Taggable};
use super::{
    Ctx, RequestFacts, RoleView, page_size, paginate, path_matches, tags_in, wire_role, wire_tags,
};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, InstanceProfile, Tag};
use crate::state::State;
use crate::store::Kind;

/// Instance profiles per account.
pub const MAX_PROFILES: usize = 1000;
/// Roles per instance profile (AWS: "this quota cannot be increased").
pub const MAX_ROLES: usize = 1;

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

/// The typed `InstanceProfile` shape; `tags` for Get/Create (List* operations omit tags).
pub fn wire_profile(
    st: &State,
    acct: &Account,
    p: &InstanceProfile,
    tags: bool,
) -> w::InstanceProfile {
    w::InstanceProfile {
        path: p.path.clone(),
        instance_profile_name: p.name.clone(),
        instance_profile_id: p.id.clone(),
        arn: acct.instance_profile_arn(p),
        create_date: p.created,
        roles: p
            .roles
            .iter()
            .filter_map(|id| acct.roles.values().find(|r| r.id == *id))
            .map(|r| wire_role(st, acct, r, &RoleView::List))
            .collect(),
        tags: if tags { wire_tags(&p.tags) } else { None },
    }
}

pub fn create_instance_profile(
    ctx: &Ctx<'_>,
    input: w::CreateInstanceProfileRequest,
) -> ApiResult<w::CreateInstanceProfileResponse> {
    let name = input.instance_profile_name.as_str();
    let path = input.path.unwrap_or_else(|| "/".into());
    let tags = tags_in(input.tags, false)?;
    let arn = ctx.arn("instance-profile", &path, name);
    ctx.node.write(|st, t| {
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
        Ok(w::CreateInstanceProfileResponse {
            instance_profile: wire_profile(st, acct, ip, true),
        })
    })
}

pub fn get_instance_profile(
    ctx: &Ctx<'_>,
    input: w::GetInstanceProfileRequest,
) -> ApiResult<w::GetInstanceProfileResponse> {
    let name = input.instance_profile_name.as_str();
    let st = ctx.node.read()?;
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
    Ok(w::GetInstanceProfileResponse {
        instance_profile: wire_profile(&st, acct, ip, true),
    })
}

pub fn list_instance_profiles(
    ctx: &Ctx<'_>,
    input: w::ListInstanceProfilesRequest,
) -> ApiResult<w::ListInstanceProfilesResponse> {
    let prefix = input.path_prefix;
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
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
    Ok(w::ListInstanceProfilesResponse {
        instance_profiles: page
            .iter()
            .map(|ip| wire_profile(&st, acct, ip, false))
            .collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn list_instance_profiles_for_role(
    ctx: &Ctx<'_>,
    input: w::ListInstanceProfilesForRoleRequest,
) -> ApiResult<w::ListInstanceProfilesForRoleResponse> {
    let role_name = input.role_name.as_str();
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
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
    Ok(w::ListInstanceProfilesForRoleResponse {
        instance_profiles: page
            .iter()
            .map(|ip| wire_profile(&st, acct, ip, false))
            .collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn delete_instance_profile(
    ctx: &Ctx<'_>,
    input: w::DeleteInstanceProfileRequest,
) -> ApiResult<()> {
    let name = input.instance_profile_name.as_str();
    ctx.node.write(|st, t| {
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
        Ok(())
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
pub fn add_role_to_instance_profile(
    ctx: &Ctx<'_>,
    input: w::AddRoleToInstanceProfileRequest,
) -> ApiResult<()> {
    let name = input.instance_profile_name.as_str();
    let role_name = input.role_name.as_str();
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

pub fn remove_role_from_instance_profile(
    ctx: &Ctx<'_>,
    input: w::RemoveRoleFromInstanceProfileRequest,
) -> ApiResult<()> {
    let name = input.instance_profile_name.as_str();
    let role_name = input.role_name.as_str();
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

/// Tag keys are case-sensitive on instance profiles (reference §3.1).
struct Profiles;

impl Taggable for Profiles {
    const WORD: &'static str = "InstanceProfile";
    const CASE_INSENSITIVE: bool = false;
    const KIND: Kind = Kind::InstanceProfile;
    fn arn(ctx: &Ctx<'_>, acct: &Account, id: &str) -> String {
        profile_arn_for(ctx, acct, id)
    }
    fn tags<'a>(acct: &'a Account, id: &str) -> ApiResult<&'a Vec<Tag>> {
        acct.instance_profiles
            .get(&id.to_lowercase())
            .map(|ip| &ip.tags)
            .ok_or_else(|| no_profile(id))
    }
    fn tags_mut<'a>(acct: &'a mut Account, id: &str) -> ApiResult<&'a mut Vec<Tag>> {
        acct.instance_profiles
            .get_mut(&id.to_lowercase())
            .map(|ip| &mut ip.tags)
            .ok_or_else(|| no_profile(id))
    }
    fn store_key(_acct: &Account, id: &str) -> String {
        id.to_lowercase()
    }
}

tagging::actions!(Profiles, instance_profile_name;
    tag_instance_profile(TagInstanceProfileRequest), untag_instance_profile(UntagInstanceProfileRequest), list_instance_profile_tags(ListInstanceProfileTagsRequest) -> ListInstanceProfileTagsResponse);
