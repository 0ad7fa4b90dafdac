//! Managed policies with versions, inline policies, and attachment to users, groups and roles.

use std::collections::BTreeMap;

use super::groups::{group_arn_for, no_group};
use super::roles::{no_role, role_arn_for};
use super::users::{no_user, user_arn_for};
use super::{
    compile, fmt_time, paginate, path_matches, write_paging, write_policy, write_tags, Ctx,
    RequestFacts,
};
use crate::authz::non_whitespace_len;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Account, Doc, DocKind, ManagedPolicy, PolicyVersion};
use crate::protocol::query::Params;
use crate::protocol::url_encode_policy;
use crate::protocol::xml::Xml;
use crate::store::Kind;
use crate::validate as v;

pub const MANAGED_POLICY_QUOTA: usize = 6144;
pub const MAX_VERSIONS: usize = 5;
pub const MAX_ATTACHED: usize = 10;

fn no_policy(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

/// Validate a policy ARN's shape (InvalidInput for garbage, as IAM does).
fn check_policy_arn(arn: &str) -> ApiResult<()> {
    let ok =
        arn.starts_with("arn:aws:iam::") && arn.split(':').count() == 6 && arn.contains(":policy/");
    if !ok {
        return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
    }
    Ok(())
}

fn compile_managed(text: &str) -> ApiResult<Doc> {
    let doc = compile(text, DocKind::Identity)?;
    if non_whitespace_len(text) > MANAGED_POLICY_QUOTA {
        return Err(ApiError::limit("PolicySize", MANAGED_POLICY_QUOTA));
    }
    Ok(doc)
}

pub fn create_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "PolicyName", 128)?;
    let path = v::policy_path(p)?;
    let text = v::policy_document(p, "PolicyDocument")?;
    let description = v::description(p, "Description")?;
    let tags = v::tags(p, false)?;
    let arn = ctx.arn("policy", &path, name);
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:CreatePolicy",
            &arn,
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let doc = compile_managed(text)?;
        let acct = ctx.account_mut(st)?;
        if acct.policies.contains_key(&name.to_lowercase()) {
            return Err(ApiError::already_exists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        if acct.policies.len() >= 1500 {
            return Err(ApiError::limit("PoliciesPerAccount", 1500));
        }
        let pol = ManagedPolicy {
            name: name.to_string(),
            id: crate::ids::unique_id("ANPA"),
            path: path.clone(),
            created: ctx.now,
            updated: ctx.now,
            description: description.clone(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc,
                created: ctx.now,
            }],
            default_version: "v1".into(),
            next_version: 2,
            tags: tags.clone(),
        };
        let mut x = Xml::new();
        x.open("Policy");
        write_policy(&mut x, acct, &pol, true);
        x.close("Policy");
        acct.policies.insert(name.to_lowercase(), pol);
        t.touch(Kind::Policy, &ctx.caller.account, name);
        Ok(Some(x.finish()))
    })
}

/// Find a policy of the caller's account by ARN (read side).
fn find<'a>(acct: &'a Account, arn: &str) -> ApiResult<&'a ManagedPolicy> {
    check_policy_arn(arn)?;
    acct.policy_by_arn(arn).ok_or_else(|| no_policy(arn))
}

pub fn get_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:GetPolicy", arn)?;
    let acct = ctx.account(&st)?;
    let pol = find(acct, arn)?;
    let mut x = Xml::new();
    x.open("Policy");
    write_policy(&mut x, acct, pol, true);
    x.close("Policy");
    Ok(Some(x.finish()))
}

pub fn delete_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:DeletePolicy", arn)?;
        let acct = ctx.account(st)?;
        let pol = find(acct, arn)?;
        let (attached, boundary) = acct.policy_usage(arn);
        if attached + boundary > 0 {
            return Err(ApiError::delete_conflict("Cannot delete a policy attached to entities."));
        }
        if pol.versions.len() > 1 {
            return Err(ApiError::delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        let key = pol.name.to_lowercase();
        ctx.account_mut(st)?.policies.remove(&key);
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn list_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let scope = v::one_of(p, "Scope", &["All", "AWS", "Local"])?.unwrap_or("All");
    let only_attached = v::boolean(p, "OnlyAttached")?.unwrap_or(false);
    let usage = v::one_of(
        p,
        "PolicyUsageFilter",
        &["PermissionsPolicy", "PermissionsBoundary"],
    )?;
    let prefix = v::path_prefix(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListPolicies", &ctx.arn("policy/", "", "*"))?;
    let acct = ctx.account(&st)?;
    // stsd ships no AWS-managed policies: Scope=AWS is always empty.
    let pols: Vec<&ManagedPolicy> = if scope == "AWS" {
        Vec::new()
    } else {
        acct.policies
            .values()
            .filter(|pol| path_matches(&pol.path, prefix.as_deref()))
            .filter(|pol| {
                let (a, b) = acct.policy_usage(&acct.policy_arn(pol));
                let used = match usage {
                    Some("PermissionsPolicy") => a,
                    Some(_) => b,
                    None => a + b,
                };
                !only_attached || used > 0
            })
            .collect()
    };
    let (page, next) = paginate(pols, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("Policies", &page, |x, pol| {
        write_policy(x, acct, pol, false)
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

fn write_version(x: &mut Xml, pol: &ManagedPolicy, ver: &PolicyVersion, with_doc: bool) {
    if with_doc {
        x.elem("Document", &url_encode_policy(&ver.doc.text));
    }
    x.elem("VersionId", &ver.id)
        .boolean("IsDefaultVersion", ver.id == pol.default_version)
        .elem("CreateDate", &fmt_time(ver.created));
}

fn version_id(p: &Params) -> ApiResult<&str> {
    let id = p.required("VersionId")?;
    let ok = id.strip_prefix('v').is_some_and(|rest| {
        let digits: &str = rest.split('.').next().unwrap_or("");
        !digits.is_empty() && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !ok {
        return Err(ApiError::validation(
            id,
            "versionId",
            "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
        ));
    }
    Ok(id)
}

pub fn create_policy_version(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let text = v::policy_document(p, "PolicyDocument")?;
    let set_default = v::boolean(p, "SetAsDefault")?.unwrap_or(false);
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:CreatePolicyVersion", arn)?;
        let doc = compile_managed(text)?;
        let acct = ctx.account(st)?;
        let pol = find(acct, arn)?;
        if pol.versions.len() >= MAX_VERSIONS {
            return Err(ApiError::limit("VersionsPerPolicy", MAX_VERSIONS));
        }
        let key = pol.name.to_lowercase();
        let pol = ctx
            .account_mut(st)?
            .policies
            .get_mut(&key)
            .ok_or_else(|| no_policy(arn))?;
        let ver = PolicyVersion {
            id: format!("v{}", pol.next_version),
            doc,
            created: ctx.now,
        };
        pol.next_version += 1;
        pol.updated = ctx.now;
        if set_default {
            pol.default_version = ver.id.clone();
        }
        let mut x = Xml::new();
        x.open("PolicyVersion");
        write_version(&mut x, pol, &ver, false);
        x.close("PolicyVersion");
        pol.versions.push(ver);
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(Some(x.finish()))
    })
}

pub fn get_policy_version(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let id = version_id(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:GetPolicyVersion", arn)?;
    let acct = ctx.account(&st)?;
    let pol = find(acct, arn)?;
    let ver = pol.versions.iter().find(|v| v.id == id).ok_or_else(|| {
        ApiError::no_such_entity(format!(
            "Policy {arn} version {id} does not exist or is not attachable."
        ))
    })?;
    let mut x = Xml::new();
    x.open("PolicyVersion");
    write_version(&mut x, pol, ver, true);
    x.close("PolicyVersion");
    Ok(Some(x.finish()))
}

pub fn delete_policy_version(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let id = version_id(p)?;
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:DeletePolicyVersion", arn)?;
        let acct = ctx.account(st)?;
        let pol = find(acct, arn)?;
        if !pol.versions.iter().any(|v| v.id == id) {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} version {id} does not exist or is not attachable."
            )));
        }
        if pol.default_version == id {
            return Err(ApiError::delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        let key = pol.name.to_lowercase();
        let pol = ctx
            .account_mut(st)?
            .policies
            .get_mut(&key)
            .ok_or_else(|| no_policy(arn))?;
        pol.versions.retain(|v| v.id != id);
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn list_policy_versions(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListPolicyVersions", arn)?;
    let acct = ctx.account(&st)?;
    let pol = find(acct, arn)?;
    let mut versions: Vec<&PolicyVersion> = pol.versions.iter().collect();
    versions.reverse(); // newest first, as IAM lists them
    let (page, next) = paginate(versions, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("Versions", &page, |x, ver| {
        write_version(x, pol, ver, false)
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn set_default_policy_version(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let id = version_id(p)?;
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:SetDefaultPolicyVersion", arn)?;
        let acct = ctx.account(st)?;
        let pol = find(acct, arn)?;
        if !pol.versions.iter().any(|v| v.id == id) {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} version {id} does not exist or is not attachable."
            )));
        }
        let key = pol.name.to_lowercase();
        let pol = ctx
            .account_mut(st)?
            .policies
            .get_mut(&key)
            .ok_or_else(|| no_policy(arn))?;
        pol.default_version = id.to_string();
        pol.updated = ctx.now;
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn tag_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let tags = v::tags(p, false)?;
    if p.struct_list("Tags")?.is_none() {
        return Err(ApiError::missing("tags"));
    }
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:TagPolicy",
            arn,
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let key = find(ctx.account(st)?, arn)?.name.to_lowercase();
        let pol = ctx
            .account_mut(st)?
            .policies
            .get_mut(&key)
            .ok_or_else(|| no_policy(arn))?;
        pol.tags = v::merge_tags(&pol.tags, &tags, false)?;
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn untag_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let keys = v::tag_keys(p)?;
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:UntagPolicy",
            arn,
            &RequestFacts {
                tag_keys: &keys,
                ..RequestFacts::default()
            },
        )?;
        let key = find(ctx.account(st)?, arn)?.name.to_lowercase();
        let pol = ctx
            .account_mut(st)?
            .policies
            .get_mut(&key)
            .ok_or_else(|| no_policy(arn))?;
        pol.tags.retain(|tag| !keys.contains(&tag.key));
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn list_policy_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListPolicyTags", arn)?;
    let pol = find(ctx.account(&st)?, arn)?;
    let (page, next) = paginate(pol.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn list_entities_for_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let arn = v::arn(p, "PolicyArn")?;
    let filter = v::one_of(
        p,
        "EntityFilter",
        &[
            "User",
            "Role",
            "Group",
            "LocalManagedPolicy",
            "AWSManagedPolicy",
        ],
    )?;
    let usage = v::one_of(
        p,
        "PolicyUsageFilter",
        &["PermissionsPolicy", "PermissionsBoundary"],
    )?;
    let prefix = v::path_prefix(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListEntitiesForPolicy", arn)?;
    let acct = ctx.account(&st)?;
    find(acct, arn)?;
    let as_policy = usage != Some("PermissionsBoundary");
    let as_boundary = usage != Some("PermissionsPolicy");
    let want = |k: &str| filter.is_none_or(|f| f == k);
    let mut x = Xml::new();
    let groups: Vec<(&str, &str)> = if want("Group") && as_policy {
        acct.groups
            .values()
            .filter(|g| {
                g.attached.iter().any(|a| a == arn) && path_matches(&g.path, prefix.as_deref())
            })
            .map(|g| (g.name.as_str(), g.id.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    x.list("PolicyGroups", &groups, |x, (n, id)| {
        x.elem("GroupName", n).elem("GroupId", id);
    });
    let users: Vec<(&str, &str)> = if want("User") {
        acct.users
            .values()
            .filter(|u| {
                ((as_policy && u.attached.iter().any(|a| a == arn))
                    || (as_boundary && u.boundary.as_deref() == Some(arn)))
                    && path_matches(&u.path, prefix.as_deref())
            })
            .map(|u| (u.name.as_str(), u.id.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    x.list("PolicyUsers", &users, |x, (n, id)| {
        x.elem("UserName", n).elem("UserId", id);
    });
    let roles: Vec<(&str, &str)> = if want("Role") {
        acct.roles
            .values()
            .filter(|r| {
                ((as_policy && r.attached.iter().any(|a| a == arn))
                    || (as_boundary && r.boundary.as_deref() == Some(arn)))
                    && path_matches(&r.path, prefix.as_deref())
            })
            .map(|r| (r.name.as_str(), r.id.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    x.list("PolicyRoles", &roles, |x, (n, id)| {
        x.elem("RoleName", n).elem("RoleId", id);
    });
    x.boolean("IsTruncated", false);
    Ok(Some(x.finish()))
}

// ---- attachment -------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Target {
    User,
    Group,
    Role,
}

impl Target {
    fn param(self) -> &'static str {
        match self {
            Target::User => "UserName",
            Target::Group => "GroupName",
            Target::Role => "RoleName",
        }
    }
    fn max_name(self) -> usize {
        match self {
            Target::User | Target::Group => 128,
            Target::Role => 64,
        }
    }
    fn word(self) -> &'static str {
        match self {
            Target::User => "User",
            Target::Group => "Group",
            Target::Role => "Role",
        }
    }
    fn kind(self) -> Kind {
        match self {
            Target::User => Kind::User,
            Target::Group => Kind::Group,
            Target::Role => Kind::Role,
        }
    }
    fn arn(self, ctx: &Ctx<'_>, acct: &Account, name: &str) -> String {
        match self {
            Target::User => user_arn_for(ctx, acct, name),
            Target::Group => group_arn_for(ctx, acct, name),
            Target::Role => role_arn_for(ctx, acct, name),
        }
    }
    fn missing(self, name: &str) -> ApiError {
        match self {
            Target::User => no_user(name),
            Target::Group => no_group(name),
            Target::Role => no_role(name),
        }
    }
    fn attached<'a>(self, acct: &'a Account, name: &str) -> ApiResult<&'a Vec<String>> {
        let k = name.to_lowercase();
        match self {
            Target::User => acct.users.get(&k).map(|u| &u.attached),
            Target::Group => acct.groups.get(&k).map(|g| &g.attached),
            Target::Role => acct.roles.get(&k).map(|r| &r.attached),
        }
        .ok_or_else(|| self.missing(name))
    }
    fn attached_mut<'a>(self, acct: &'a mut Account, name: &str) -> ApiResult<&'a mut Vec<String>> {
        let k = name.to_lowercase();
        match self {
            Target::User => acct.users.get_mut(&k).map(|u| &mut u.attached),
            Target::Group => acct.groups.get_mut(&k).map(|g| &mut g.attached),
            Target::Role => acct.roles.get_mut(&k).map(|r| &mut r.attached),
        }
        .ok_or_else(|| self.missing(name))
    }
    fn inline<'a>(self, acct: &'a Account, name: &str) -> ApiResult<&'a BTreeMap<String, Doc>> {
        let k = name.to_lowercase();
        match self {
            Target::User => acct.users.get(&k).map(|u| &u.inline),
            Target::Group => acct.groups.get(&k).map(|g| &g.inline),
            Target::Role => acct.roles.get(&k).map(|r| &r.inline),
        }
        .ok_or_else(|| self.missing(name))
    }
    fn inline_mut<'a>(
        self,
        acct: &'a mut Account,
        name: &str,
    ) -> ApiResult<&'a mut BTreeMap<String, Doc>> {
        let k = name.to_lowercase();
        match self {
            Target::User => acct.users.get_mut(&k).map(|u| &mut u.inline),
            Target::Group => acct.groups.get_mut(&k).map(|g| &mut g.inline),
            Target::Role => acct.roles.get_mut(&k).map(|r| &mut r.inline),
        }
        .ok_or_else(|| self.missing(name))
    }
    /// Aggregate inline-policy size quota (characters without whitespace).
    fn inline_quota(self) -> (&'static str, usize) {
        match self {
            Target::User => ("UserPolicySize", 2048),
            Target::Group => ("GroupPolicySize", 5120),
            Target::Role => ("RolePolicySize", 10240),
        }
    }
}

fn attach(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let arn = v::arn(p, "PolicyArn")?;
    check_policy_arn(arn)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(
            st,
            &format!("iam:Attach{}Policy", target.word()),
            &target.arn(ctx, acct, name),
            &RequestFacts {
                policy_arn: Some(arn),
                ..RequestFacts::default()
            },
        )?;
        let attached = target.attached(acct, name)?;
        if let Target::Role = target {
            if let Some(r) = acct.roles.get(&name.to_lowercase()) {
                if r.path.starts_with("/aws-service-role/") {
                    return Err(ApiError::new(
                        ErrorCode::UnmodifiableEntity,
                        "Cannot perform the operation on the protected role",
                    ));
                }
            }
        }
        if acct.policy_by_arn(arn).is_none() {
            return Err(no_policy(arn));
        }
        if attached.iter().any(|a| a == arn) {
            return Ok(None);
        }
        if attached.len() >= MAX_ATTACHED {
            return Err(ApiError::limit(
                &format!("PoliciesPer{}", target.word()),
                MAX_ATTACHED,
            ));
        }
        target
            .attached_mut(ctx.account_mut(st)?, name)?
            .push(arn.to_string());
        t.touch(target.kind(), &ctx.caller.account, name);
        Ok(None)
    })
}

fn detach(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let arn = v::arn(p, "PolicyArn")?;
    check_policy_arn(arn)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(
            st,
            &format!("iam:Detach{}Policy", target.word()),
            &target.arn(ctx, acct, name),
            &RequestFacts {
                policy_arn: Some(arn),
                ..RequestFacts::default()
            },
        )?;
        if !target.attached(acct, name)?.iter().any(|a| a == arn) {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} was not found."
            )));
        }
        target
            .attached_mut(ctx.account_mut(st)?, name)?
            .retain(|a| a != arn);
        t.touch(target.kind(), &ctx.caller.account, name);
        Ok(None)
    })
}

fn list_attached(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let prefix = v::path_prefix(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(
        &st,
        &format!("iam:ListAttached{}Policies", target.word()),
        &target.arn(ctx, acct, name),
    )?;
    let items: Vec<(String, String)> = target
        .attached(acct, name)?
        .iter()
        .filter_map(|arn| acct.policy_by_arn(arn).map(|pol| (pol, arn)))
        .filter(|(pol, _)| path_matches(&pol.path, prefix.as_deref()))
        .map(|(pol, arn)| (pol.name.clone(), arn.clone()))
        .collect();
    let (page, next) = paginate(items, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("AttachedPolicies", &page, |x, (n, a)| {
        x.elem("PolicyName", n).elem("PolicyArn", a);
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

fn put_inline(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let policy_name = v::name(p, "PolicyName", 128)?;
    let text = v::policy_document(p, "PolicyDocument")?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            &format!("iam:Put{}Policy", target.word()),
            &target.arn(ctx, acct, name),
        )?;
        // Inline documents count against the principal's aggregate quota, not the managed-policy one.
        let compiled = crate::authz::compile_with_limit(
            text,
            policy::PolicyKind::Identity,
            policy::MAX_WIRE_CHARS,
        )?;
        let doc = Doc {
            text: text.to_string(),
            kind: DocKind::Identity,
            principal_ids: Vec::new(),
            compiled: Some(compiled),
        };
        let existing = target.inline(acct, name)?;
        let others: usize = existing
            .iter()
            .filter(|(n, _)| n.as_str() != policy_name)
            .map(|(_, d)| non_whitespace_len(&d.text))
            .sum();
        let (quota, limit) = target.inline_quota();
        if others + non_whitespace_len(text) > limit {
            return Err(ApiError::limit(quota, limit));
        }
        target
            .inline_mut(ctx.account_mut(st)?, name)?
            .insert(policy_name.to_string(), doc);
        t.touch(target.kind(), &ctx.caller.account, name);
        Ok(None)
    })
}

fn get_inline(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let policy_name = v::name(p, "PolicyName", 128)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(
        &st,
        &format!("iam:Get{}Policy", target.word()),
        &target.arn(ctx, acct, name),
    )?;
    let inline = target.inline(acct, name)?;
    let doc = inline.get(policy_name).ok_or_else(|| {
        ApiError::no_such_entity(format!(
            "The {} policy with name {policy_name} cannot be found.",
            target.word().to_lowercase()
        ))
    })?;
    let entity_name = match target {
        Target::User => acct.users.get(&name.to_lowercase()).map(|u| u.name.clone()),
        Target::Group => acct
            .groups
            .get(&name.to_lowercase())
            .map(|g| g.name.clone()),
        Target::Role => acct.roles.get(&name.to_lowercase()).map(|r| r.name.clone()),
    }
    .unwrap_or_else(|| name.to_string());
    let mut x = Xml::new();
    x.elem(target.param(), &entity_name)
        .elem("PolicyName", policy_name)
        .elem("PolicyDocument", &url_encode_policy(&doc.text));
    Ok(Some(x.finish()))
}

fn delete_inline(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let policy_name = v::name(p, "PolicyName", 128)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(
            st,
            &format!("iam:Delete{}Policy", target.word()),
            &target.arn(ctx, acct, name),
        )?;
        if !target.inline(acct, name)?.contains_key(policy_name) {
            return Err(ApiError::no_such_entity(format!(
                "The {} policy with name {policy_name} cannot be found.",
                target.word().to_lowercase()
            )));
        }
        target
            .inline_mut(ctx.account_mut(st)?, name)?
            .remove(policy_name);
        t.touch(target.kind(), &ctx.caller.account, name);
        Ok(None)
    })
}

fn list_inline(ctx: &Ctx<'_>, p: &Params, target: Target) -> ApiResult<Option<String>> {
    let name = v::name(p, target.param(), target.max_name())?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(
        &st,
        &format!("iam:List{}Policies", target.word()),
        &target.arn(ctx, acct, name),
    )?;
    let names: Vec<&str> = target
        .inline(acct, name)?
        .keys()
        .map(String::as_str)
        .collect();
    let (page, next) = paginate(names, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.str_list("PolicyNames", page.iter().copied());
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn attach_user_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    attach(ctx, p, Target::User)
}
pub fn attach_group_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    attach(ctx, p, Target::Group)
}
pub fn attach_role_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    attach(ctx, p, Target::Role)
}
pub fn detach_user_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    detach(ctx, p, Target::User)
}
pub fn detach_group_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    detach(ctx, p, Target::Group)
}
pub fn detach_role_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    detach(ctx, p, Target::Role)
}
pub fn list_attached_user_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    list_attached(ctx, p, Target::User)
}
pub fn list_attached_group_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    list_attached(ctx, p, Target::Group)
}
pub fn list_attached_role_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    list_attached(ctx, p, Target::Role)
}
pub fn put_user_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    put_inline(ctx, p, Target::User)
}
pub fn put_group_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    put_inline(ctx, p, Target::Group)
}
pub fn put_role_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    put_inline(ctx, p, Target::Role)
}
pub fn get_user_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    get_inline(ctx, p, Target::User)
}
pub fn get_group_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    get_inline(ctx, p, Target::Group)
}
pub fn get_role_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    get_inline(ctx, p, Target::Role)
}
pub fn delete_user_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    delete_inline(ctx, p, Target::User)
}
pub fn delete_group_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    delete_inline(ctx, p, Target::Group)
}
pub fn delete_role_policy(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    delete_inline(ctx, p, Target::Role)
}
pub fn list_user_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    list_inline(ctx, p, Target::User)
}
pub fn list_group_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    list_inline(ctx, p, Target::Group)
}
pub fn list_role_policies(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    list_inline(ctx, p, Target::Role)
}
