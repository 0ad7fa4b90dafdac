//! Instance profiles: create, get, list, delete, add/remove the role, list a role's profiles, tags. A profile
//! is stored under its lower-cased name (`store::Kind::InstanceProfile`) and holds at most one role, referred
//! to by the role's unique ID. A role inside a profile cannot be deleted (`DeleteConflict`), nor a profile
//! that still holds a role.

use stsd_wire::generated::iam as w;

use super::entity::{self, Entity};
use super::roles::Roles;
use super::tagging;
use super::{
    Ctx, RequestFacts, RoleView, page_size, paginate, path_matches, tags_in, wire_role, wire_tags,
};
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, InstanceProfile};
use crate::state::State;
use crate::store::Kind;

/// Instance profiles per account.
pub const MAX_PROFILES: usize = 1000;
/// Roles per instance profile (AWS: "this quota cannot be increased").
pub const MAX_ROLES: usize = 1;

fn no_profile(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("Instance Profile {name} cannot be found."))
}

entity::named!(
    /// Instance profiles, named by their name; tag keys are case-sensitive (reference §3.1).
    Profiles: InstanceProfile, instance_profiles, "InstanceProfile", Kind::InstanceProfile,
    "instance-profile/", instance_profile_arn, no_profile);

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
    let new = entity::New {
        arn: &arn,
        key: name.to_lowercase(),
        taken: format!("Instance Profile {name} already exists."),
        quota: ("InstanceProfilesPerAccount", MAX_PROFILES),
    };
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    let build = |_: &_| {
        Ok(InstanceProfile {
            name: name.to_string(),
            id: crate::ids::unique_id("AIPA"),
            path: path.clone(),
            created: ctx.now,
            roles: Vec::new(),
            tags: tags.clone(),
        })
    };
    let action = "iam:CreateInstanceProfile";
    let instance_profile =
        entity::create::<Profiles, _>(ctx, action, &new, &facts, build, |st, acct, ip| {
            Ok(wire_profile(st, acct, ip, true))
        })?;
    Ok(w::CreateInstanceProfileResponse { instance_profile })
}

pub fn get_instance_profile(
    ctx: &Ctx<'_>,
    input: w::GetInstanceProfileRequest,
) -> ApiResult<w::GetInstanceProfileResponse> {
    let name = input.instance_profile_name.as_str();
    let st = ctx.node.read()?;
    let (acct, ip) = entity::read::<Profiles>(ctx, &st, "iam:GetInstanceProfile", name)?;
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
    let action = "iam:ListInstanceProfilesForRole";
    let (acct, role) = entity::read::<Roles>(ctx, &st, action, role_name)?;
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
    entity::remove::<Profiles>(ctx, "iam:DeleteInstanceProfile", name, |_, ip| {
        if !ip.roles.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        Ok(())
    })?;
    Ok(())
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
        let action = "iam:AddRoleToInstanceProfile";
        ctx.authorize(st, action, &Profiles::arn(ctx, acct, name))?;
        let instances = format!("arn:aws:ec2:*:{}:instance/*", ctx.caller.account);
        let pass = RequestFacts {
            passed_to_service: Some("ec2.amazonaws.com"),
            associated_resource_arn: Some(&instances),
            ..RequestFacts::default()
        };
        let role_arn = Roles::arn(ctx, acct, role_name);
        ctx.authorize_request(st, "iam:PassRole", &role_arn, &pass)?;
        Profiles::find(acct, name)?;
        let role = Roles::find(acct, role_name)?;
        Roles::check_mutable(role)?;
        let role_id = role.id.clone();
        let ip = Profiles::find_mut(ctx.account_mut(st)?, name)?;
        if ip.roles.len() >= MAX_ROLES {
            return Err(ApiError::limit(
                "InstanceSessionsPerInstanceProfile",
                MAX_ROLES,
            ));
        }
        ip.roles.push(role_id);
        t.touch(Kind::InstanceProfile, &ctx.caller.account, name);
        Ok(())
    })
}

pub fn remove_role_from_instance_profile(
    ctx: &Ctx<'_>,
    input: w::RemoveRoleFromInstanceProfileRequest,
) -> ApiResult<()> {
    let name = input.instance_profile_name.as_str();
    let role_name = input.role_name.as_str();
    let action = "iam:RemoveRoleFromInstanceProfile";
    entity::mutate::<Profiles, _>(ctx, action, name, |st, ip| {
        let role_id = &Roles::find(ctx.account(st)?, role_name)?.id;
        if !ip.roles.contains(role_id) {
            return Err(ApiError::no_such_entity(format!(
                "The role with name {role_name} cannot be found in instance profile {name}."
            )));
        }
        ip.roles.retain(|r| r != role_id);
        Ok(())
    })
}

tagging::actions!(Profiles, case_insensitive: false, instance_profile_name;
    tag_instance_profile(TagInstanceProfileRequest), untag_instance_profile(UntagInstanceProfileRequest), list_instance_profile_tags(ListInstanceProfileTagsRequest) -> ListInstanceProfileTagsResponse);
