//! Groups and membership. Membership is stored on the user, so a group lists its members by scanning.

use super::users::Users;
use stsd_wire::generated::iam as w;

use super::entity::{self, Entity};
use super::{Ctx, RequestFacts, page_size, paginate, path_matches, wire_group, wire_user};
use crate::error::{ApiError, ApiResult};
use crate::model::Group;
use crate::store::Kind;

fn no_group(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The group with name {name} cannot be found."))
}

entity::named!(
    /// Groups, named by their name.
    Groups: Group, groups, "Group", Kind::Group, "group/", group_arn, no_group);

pub fn create_group(
    ctx: &Ctx<'_>,
    input: w::CreateGroupRequest,
) -> ApiResult<w::CreateGroupResponse> {
    let name = input.group_name.as_str();
    let path = input.path.unwrap_or_else(|| "/".into());
    let arn = ctx.arn("group", &path, name);
    let new = entity::New {
        arn: &arn,
        key: name.to_lowercase(),
        taken: format!("Group with name {name} already exists."),
        quota: ("GroupsPerAccount", 300),
    };
    let build = |_: &_| {
        Ok(Group {
            name: name.to_string(),
            id: crate::ids::unique_id("AGPA"),
            path: path.clone(),
            created: ctx.now,
            inline: Default::default(),
            attached: Vec::new(),
        })
    };
    let facts = RequestFacts::default();
    let group =
        entity::create::<Groups, _>(ctx, "iam:CreateGroup", &new, &facts, build, |_, acct, g| {
            Ok(wire_group(acct, g))
        })?;
    Ok(w::CreateGroupResponse { group })
}

pub fn get_group(ctx: &Ctx<'_>, input: w::GetGroupRequest) -> ApiResult<w::GetGroupResponse> {
    let name = input.group_name.as_str();
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    let (acct, g) = entity::read::<Groups>(ctx, &st, "iam:GetGroup", name)?;
    let (page, next) = paginate(acct.group_members(&g.name), marker.as_deref(), max)?;
    Ok(w::GetGroupResponse {
        group: wire_group(acct, g),
        users: page.iter().map(|u| wire_user(acct, u, false)).collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn update_group(ctx: &Ctx<'_>, input: w::UpdateGroupRequest) -> ApiResult<()> {
    let name = input.group_name.as_str();
    let new_name = input.new_group_name.as_deref();
    let new_path = input.new_path;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:UpdateGroup", &Groups::arn(ctx, acct, name))?;
        let key = name.to_lowercase();
        if !acct.groups.contains_key(&key) {
            return Err(no_group(name));
        }
        if let Some(nn) = new_name
            && nn.to_lowercase() != key
            && acct.groups.contains_key(&nn.to_lowercase())
        {
            return Err(ApiError::already_exists(format!(
                "Group with name {nn} already exists."
            )));
        }
        let acct = ctx.account_mut(st)?;
        let Some(mut g) = acct.groups.remove(&key) else {
            return Err(no_group(name));
        };
        let old_name = g.name.clone();
        if let Some(np) = new_path.clone() {
            g.path = np;
        }
        if let Some(nn) = new_name {
            g.name = nn.to_string();
            // Membership is recorded by name on users: follow the rename.
            for (ukey, u) in acct.users.iter_mut() {
                for gn in u.groups.iter_mut() {
                    if gn.eq_ignore_ascii_case(&old_name) {
                        *gn = nn.to_string();
                        t.touch(Kind::User, &ctx.caller.account, ukey);
                    }
                }
            }
        }
        let new_key = g.name.to_lowercase();
        acct.groups.insert(new_key.clone(), g);
        t.touch(Kind::Group, &ctx.caller.account, &key);
        t.touch(Kind::Group, &ctx.caller.account, &new_key);
        Ok(())
    })
}

pub fn delete_group(ctx: &Ctx<'_>, input: w::DeleteGroupRequest) -> ApiResult<()> {
    entity::remove::<Groups>(ctx, "iam:DeleteGroup", &input.group_name, |acct, g| {
        if !acct.group_members(&g.name).is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        if !g.inline.is_empty() || !g.attached.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        Ok(())
    })?;
    Ok(())
}

pub fn list_groups(ctx: &Ctx<'_>, input: w::ListGroupsRequest) -> ApiResult<w::ListGroupsResponse> {
    let prefix = input.path_prefix;
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListGroups", &ctx.arn("group/", "", "*"))?;
    let acct = ctx.account(&st)?;
    let groups: Vec<&Group> = acct
        .groups
        .values()
        .filter(|g| path_matches(&g.path, prefix.as_deref()))
        .collect();
    let (page, next) = paginate(groups, marker.as_deref(), max)?;
    Ok(w::ListGroupsResponse {
        groups: page.iter().map(|g| wire_group(acct, g)).collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn add_user_to_group(ctx: &Ctx<'_>, input: w::AddUserToGroupRequest) -> ApiResult<()> {
    let group = input.group_name.as_str();
    let user = input.user_name.as_str();
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:AddUserToGroup", &Groups::arn(ctx, acct, group))?;
        let gname = Groups::find(acct, group)?.name.clone();
        let u = Users::find_mut(ctx.account_mut(st)?, user)?;
        if u.groups.iter().any(|g| g.eq_ignore_ascii_case(&gname)) {
            return Ok(());
        }
        if u.groups.len() >= 10 {
            return Err(ApiError::limit("GroupsPerUser", 10));
        }
        u.groups.push(gname);
        t.touch(Kind::User, &ctx.caller.account, user);
        Ok(())
    })
}

pub fn remove_user_from_group(
    ctx: &Ctx<'_>,
    input: w::RemoveUserFromGroupRequest,
) -> ApiResult<()> {
    let group = input.group_name.as_str();
    let user = input.user_name.as_str();
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            "iam:RemoveUserFromGroup",
            &Groups::arn(ctx, acct, group),
        )?;
        Groups::find(acct, group)?;
        let u = Users::find_mut(ctx.account_mut(st)?, user)?;
        let before = u.groups.len();
        u.groups.retain(|g| !g.eq_ignore_ascii_case(group));
        if u.groups.len() == before {
            return Err(ApiError::no_such_entity(format!(
                "The user with name {user} is not in group {group}."
            )));
        }
        t.touch(Kind::User, &ctx.caller.account, user);
        Ok(())
    })
}

pub fn list_groups_for_user(
    ctx: &Ctx<'_>,
    input: w::ListGroupsForUserRequest,
) -> ApiResult<w::ListGroupsForUserResponse> {
    let user = input.user_name.as_str();
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    let (acct, u) = entity::read::<Users>(ctx, &st, "iam:ListGroupsForUser", user)?;
    let groups: Vec<&Group> = u
        .groups
        .iter()
        .filter_map(|g| acct.groups.get(&g.to_lowercase()))
        .collect();
    let (page, next) = paginate(groups, marker.as_deref(), max)?;
    Ok(w::ListGroupsForUserResponse {
        groups: page.iter().map(|g| wire_group(acct, g)).collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}
