//! Roles: trust policy, MaxSessionDuration, description, boundary and tags.

use super::users::check_boundary;
use super::{
    compile, paginate, path_matches, tag_context, write_paging, write_role, write_tags, Ctx,
};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Account, Doc, DocKind, Role};
use crate::protocol::query::Params;
use crate::protocol::xml::Xml;
use crate::state::State;
use crate::store::Kind;
use crate::validate as v;

/// AssumeRolePolicySizeQuota (characters without whitespace).
pub const TRUST_POLICY_QUOTA: usize = 2048;

pub(super) fn no_role(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The role with name {name} cannot be found."))
}

pub(super) fn role_arn_for(ctx: &Ctx<'_>, acct: &Account, name: &str) -> String {
    acct.roles
        .get(&name.to_lowercase())
        .map(|r| acct.role_arn(r))
        .unwrap_or_else(|| ctx.arn("role/", "", name))
}

/// Roles under `/aws-service-role/` are service-linked and cannot be changed by customers.
fn check_modifiable(r: &Role) -> ApiResult<()> {
    if r.path.starts_with("/aws-service-role/") {
        return Err(ApiError::new(
            ErrorCode::UnmodifiableEntity,
            format!("Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS", r.name),
        ));
    }
    Ok(())
}

/// Validate a trust policy: grammar, size quota, and that named users and roles of accounts served here exist.
pub(super) fn compile_trust(st: &State, text: &str) -> ApiResult<Doc> {
    let doc = compile(text, DocKind::Trust)?;
    if crate::authz::non_whitespace_len(text) > TRUST_POLICY_QUOTA {
        return Err(ApiError::limit("ACLSizePerRole", TRUST_POLICY_QUOTA));
    }
    if let Some(p) = &doc.compiled {
        for arn in crate::authz::principal_arns(p) {
            if !principal_exists(st, &arn) {
                return Err(ApiError::malformed_policy(format!(
                    "Invalid principal in policy: \"AWS\":\"{arn}\""
                )));
            }
        }
    }
    Ok(doc)
}

/// `arn:aws:iam::A:user/...` and `...:role/...` must name an existing entity when account A lives here;
/// users and roles of accounts unknown to this server cannot exist.
fn principal_exists(st: &State, arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return true;
    };
    let Some((acct_id, resource)) = rest.split_once(':') else {
        return true;
    };
    let (kind, name) = match resource.split_once('/') {
        Some((k, r)) => (k, r.rsplit('/').next().unwrap_or(r)),
        None => return true,
    };
    if kind != "user" && kind != "role" {
        return true;
    }
    if name.contains('*') || name.contains('?') {
        return false;
    }
    let Some(acct) = st.accounts.get(acct_id) else {
        return false;
    };
    match kind {
        "user" => acct
            .users
            .get(&name.to_lowercase())
            .is_some_and(|u| acct.user_arn(u) == arn),
        _ => acct
            .roles
            .get(&name.to_lowercase())
            .is_some_and(|r| acct.role_arn(r) == arn),
    }
}

pub fn create_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let path = v::path(p, "Path")?;
    let trust_text = v::policy_document(p, "AssumeRolePolicyDocument")?;
    let description = v::description(p, "Description")?;
    let max = v::int_range(p, "MaxSessionDuration", 3600, 43200)?.unwrap_or(3600);
    let tags = v::tags(p, true)?;
    let boundary = p.get("PermissionsBoundary").map(str::to_string);
    let arn = ctx.arn("role", &path, name);
    ctx.app.write(|st, t| {
        ctx.authorize_with(st, "iam:CreateRole", &arn, &tag_context(&tags))?;
        let trust = compile_trust(st, trust_text)?;
        let acct = ctx.account_mut(st)?;
        if acct.roles.contains_key(&name.to_lowercase()) {
            return Err(ApiError::already_exists(format!(
                "Role with name {name} already exists."
            )));
        }
        if acct.roles.len() >= 1000 {
            return Err(ApiError::limit("RolesPerAccount", 1000));
        }
        if let Some(b) = &boundary {
            check_boundary(acct, b)?;
        }
        let r = Role {
            name: name.to_string(),
            id: crate::ids::unique_id("AROA"),
            path,
            created: ctx.now,
            trust,
            description,
            max_session_duration: u32::try_from(max).unwrap_or(3600),
            boundary,
            tags,
            inline: Default::default(),
            attached: Vec::new(),
            last_used: None,
        };
        let mut x = Xml::new();
        x.open("Role");
        write_role(&mut x, acct, &r, false);
        if !r.tags.is_empty() {
            write_tags(&mut x, &r.tags);
        }
        x.close("Role");
        acct.roles.insert(name.to_lowercase(), r);
        t.touch(Kind::Role, &ctx.caller.account, name);
        Ok(Some(x.finish()))
    })
}

pub fn get_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:GetRole", &role_arn_for(ctx, acct, name))?;
    let r = acct
        .roles
        .get(&name.to_lowercase())
        .ok_or_else(|| no_role(name))?;
    let mut x = Xml::new();
    x.open("Role");
    write_role(&mut x, acct, r, true);
    x.close("Role");
    Ok(Some(x.finish()))
}

fn mutate_role(
    ctx: &Ctx<'_>,
    name: &str,
    action: &str,
    extra: &[(String, Vec<String>)],
    f: impl FnOnce(&State, &mut Role) -> ApiResult<()>,
) -> ApiResult<()> {
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_with(st, action, &role_arn_for(ctx, acct, name), extra)?;
        let mut r = acct
            .roles
            .get(&name.to_lowercase())
            .ok_or_else(|| no_role(name))?
            .clone();
        check_modifiable(&r)?;
        f(st, &mut r)?;
        ctx.account_mut(st)?.roles.insert(name.to_lowercase(), r);
        t.touch(Kind::Role, &ctx.caller.account, name);
        Ok(())
    })
}

pub fn update_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let description = v::description(p, "Description")?;
    let max = v::int_range(p, "MaxSessionDuration", 3600, 43200)?;
    mutate_role(ctx, name, "iam:UpdateRole", &[], |_, r| {
        if let Some(d) = description {
            r.description = Some(d);
        }
        if let Some(m) = max {
            r.max_session_duration = u32::try_from(m).unwrap_or(3600);
        }
        Ok(())
    })?;
    Ok(Some(String::new()))
}

pub fn update_role_description(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let description =
        v::description(p, "Description")?.ok_or_else(|| ApiError::missing("description"))?;
    mutate_role(ctx, name, "iam:UpdateRoleDescription", &[], |_, r| {
        r.description = Some(description);
        Ok(())
    })?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    let r = acct
        .roles
        .get(&name.to_lowercase())
        .ok_or_else(|| no_role(name))?;
    let mut x = Xml::new();
    x.open("Role");
    write_role(&mut x, acct, r, true);
    x.close("Role");
    Ok(Some(x.finish()))
}

pub fn update_assume_role_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let text = v::policy_document(p, "PolicyDocument")?;
    mutate_role(ctx, name, "iam:UpdateAssumeRolePolicy", &[], |st, r| {
        r.trust = compile_trust(st, text)?;
        Ok(())
    })?;
    Ok(None)
}

pub fn delete_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:DeleteRole", &role_arn_for(ctx, acct, name))?;
        let r = acct
            .roles
            .get(&name.to_lowercase())
            .ok_or_else(|| no_role(name))?;
        check_modifiable(r)?;
        if !r.inline.is_empty() || !r.attached.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        ctx.account_mut(st)?.roles.remove(&name.to_lowercase());
        t.touch(Kind::Role, &ctx.caller.account, name);
        Ok(None)
    })
}

pub fn list_roles(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let prefix = v::path_prefix(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListRoles", &ctx.arn("role/", "", "*"))?;
    let acct = ctx.account(&st)?;
    let roles: Vec<&Role> = acct
        .roles
        .values()
        .filter(|r| path_matches(&r.path, prefix.as_deref()))
        .collect();
    let (page, next) = paginate(roles, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("Roles", &page, |x, r| write_role(x, acct, r, false));
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn tag_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let tags = v::tags(p, true)?;
    if p.struct_list("Tags")?.is_none() {
        return Err(ApiError::missing("tags"));
    }
    mutate_role(ctx, name, "iam:TagRole", &tag_context(&tags), |_, r| {
        r.tags = v::merge_tags(&r.tags, &tags, true)?;
        Ok(())
    })?;
    Ok(None)
}

pub fn untag_role(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let keys = v::tag_keys(p)?;
    let extra = vec![("aws:TagKeys".to_string(), keys.clone())];
    mutate_role(ctx, name, "iam:UntagRole", &extra, |_, r| {
        r.tags
            .retain(|tag| !keys.iter().any(|k| k.eq_ignore_ascii_case(&tag.key)));
        Ok(())
    })?;
    Ok(None)
}

pub fn list_role_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:ListRoleTags", &role_arn_for(ctx, acct, name))?;
    let r = acct
        .roles
        .get(&name.to_lowercase())
        .ok_or_else(|| no_role(name))?;
    let (page, next) = paginate(r.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn put_boundary(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    let arn = v::arn(p, "PermissionsBoundary")?.to_string();
    let extra = vec![("iam:PermissionsBoundary".to_string(), vec![arn.clone()])];
    mutate_role(
        ctx,
        name,
        "iam:PutRolePermissionsBoundary",
        &extra,
        |st, r| {
            let acct = st
                .accounts
                .get(&ctx.caller.account)
                .ok_or_else(ApiError::internal)?;
            check_boundary(acct, &arn)?;
            r.boundary = Some(arn);
            Ok(())
        },
    )?;
    Ok(None)
}

pub fn delete_boundary(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "RoleName", 64)?;
    mutate_role(
        ctx,
        name,
        "iam:DeleteRolePermissionsBoundary",
        &[],
        |_, r| {
            if r.boundary.take().is_none() {
                return Err(ApiError::no_such_entity(format!(
                    "The role with name {name} has no permissions boundary."
                )));
            }
            Ok(())
        },
    )?;
    Ok(None)
}
