//! Managed policies with versions, inline policies, and attachment to users, groups and roles.

use std::collections::BTreeMap;

use super::groups::{group_arn_for, no_group};
use super::roles::{no_role, role_arn_for};
use super::users::{no_user, user_arn_for};
use stsd_wire::generated::iam as w;

use super::tagging::{self, Taggable};
use super::{Ctx, RequestFacts, compile, page_size, paginate, path_matches, tags_in, wire_policy};
use crate::authz::non_whitespace_len;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Account, Doc, DocKind, ManagedPolicy, PolicyVersion, Tag};
use crate::protocol::url_encode_policy;
use crate::store::Kind;

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

pub fn create_policy(
    ctx: &Ctx<'_>,
    input: w::CreatePolicyRequest,
) -> ApiResult<w::CreatePolicyResponse> {
    let name = input.policy_name.as_str();
    let path = input.path.unwrap_or_else(|| "/".into());
    let text = input.policy_document.as_str();
    let description = input.description;
    let tags = tags_in(input.tags, false)?;
    let arn = ctx.arn("policy", &path, name);
    ctx.node.write(|st, t| {
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
        let out = wire_policy(acct, &pol, true);
        acct.policies.insert(name.to_lowercase(), pol);
        t.touch(Kind::Policy, &ctx.caller.account, name);
        Ok(w::CreatePolicyResponse { policy: Some(out) })
    })
}

/// Find a policy of the caller's account by ARN (read side).
fn find<'a>(acct: &'a Account, arn: &str) -> ApiResult<&'a ManagedPolicy> {
    check_policy_arn(arn)?;
    acct.policy_by_arn(arn).ok_or_else(|| no_policy(arn))
}

pub fn get_policy(ctx: &Ctx<'_>, input: w::GetPolicyRequest) -> ApiResult<w::GetPolicyResponse> {
    let arn = input.policy_arn.as_str();
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetPolicy", arn)?;
    let acct = ctx.account(&st)?;
    let pol = find(acct, arn)?;
    Ok(w::GetPolicyResponse {
        policy: Some(wire_policy(acct, pol, true)),
    })
}

pub fn delete_policy(ctx: &Ctx<'_>, input: w::DeletePolicyRequest) -> ApiResult<()> {
    let arn = input.policy_arn.as_str();
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

pub fn list_policies(
    ctx: &Ctx<'_>,
    input: w::ListPoliciesRequest,
) -> ApiResult<w::ListPoliciesResponse> {
    let scope = input.scope.as_deref().unwrap_or("All");
    let only_attached = input.only_attached.unwrap_or(false);
    let usage = input.policy_usage_filter.as_deref();
    let prefix = input.path_prefix;
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
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
    Ok(w::ListPoliciesResponse {
        policies: Some(
            page.iter()
                .map(|pol| wire_policy(acct, pol, false))
                .collect(),
        ),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

fn wire_version(pol: &ManagedPolicy, ver: &PolicyVersion, with_doc: bool) -> w::PolicyVersion {
    w::PolicyVersion {
        document: with_doc.then(|| url_encode_policy(&ver.doc.text)),
        version_id: Some(ver.id.clone()),
        is_default_version: Some(ver.id == pol.default_version),
        create_date: Some(ver.created),
    }
}

pub fn create_policy_version(
    ctx: &Ctx<'_>,
    input: w::CreatePolicyVersionRequest,
) -> ApiResult<w::CreatePolicyVersionResponse> {
    let arn = input.policy_arn.as_str();
    let text = input.policy_document.as_str();
    let set_default = input.set_as_default.unwrap_or(false);
    ctx.node.write(|st, t| {
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
        let out = wire_version(pol, &ver, false);
        pol.versions.push(ver);
        t.touch(Kind::Policy, &ctx.caller.account, &key);
        Ok(w::CreatePolicyVersionResponse {
            policy_version: Some(out),
        })
    })
}

pub fn get_policy_version(
    ctx: &Ctx<'_>,
    input: w::GetPolicyVersionRequest,
) -> ApiResult<w::GetPolicyVersionResponse> {
    let arn = input.policy_arn.as_str();
    let id = input.version_id.as_str();
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetPolicyVersion", arn)?;
    let acct = ctx.account(&st)?;
    let pol = find(acct, arn)?;
    let ver = pol.versions.iter().find(|v| v.id == id).ok_or_else(|| {
        ApiError::no_such_entity(format!(
            "Policy {arn} version {id} does not exist or is not attachable."
        ))
    })?;
    Ok(w::GetPolicyVersionResponse {
        policy_version: Some(wire_version(pol, ver, true)),
    })
}

pub fn delete_policy_version(ctx: &Ctx<'_>, input: w::DeletePolicyVersionRequest) -> ApiResult<()> {
    let arn = input.policy_arn.as_str();
    let id = input.version_id.as_str();
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

pub fn list_policy_versions(
    ctx: &Ctx<'_>,
    input: w::ListPolicyVersionsRequest,
) -> ApiResult<w::ListPolicyVersionsResponse> {
    let arn = input.policy_arn.as_str();
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListPolicyVersions", arn)?;
    let acct = ctx.account(&st)?;
    let pol = find(acct, arn)?;
    let mut versions: Vec<&PolicyVersion> = pol.versions.iter().collect();
    versions.reverse(); // newest first, as IAM lists them
    let (page, next) = paginate(versions, marker.as_deref(), max)?;
    Ok(w::ListPolicyVersionsResponse {
        versions: Some(
            page.iter()
                .map(|ver| wire_version(pol, ver, false))
                .collect(),
        ),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn set_default_policy_version(
    ctx: &Ctx<'_>,
    input: w::SetDefaultPolicyVersionRequest,
) -> ApiResult<()> {
    let arn = input.policy_arn.as_str();
    let id = input.version_id.as_str();
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

tagging::actions!(Policies, policy_arn;
    tag_policy(TagPolicyRequest), untag_policy(UntagPolicyRequest), list_policy_tags(ListPolicyTagsRequest) -> ListPolicyTagsResponse);

/// Managed policies, named by ARN; tag keys compare exactly.
struct Policies;

impl Taggable for Policies {
    const WORD: &'static str = "Policy";
    const CASE_INSENSITIVE: bool = false;
    const KIND: Kind = Kind::Policy;
    fn arn(_ctx: &Ctx<'_>, _acct: &Account, id: &str) -> String {
        id.to_string()
    }
    fn tags<'a>(acct: &'a Account, id: &str) -> ApiResult<&'a Vec<Tag>> {
        find(acct, id).map(|p| &p.tags)
    }
    fn tags_mut<'a>(acct: &'a mut Account, id: &str) -> ApiResult<&'a mut Vec<Tag>> {
        let key = find(acct, id)?.name.to_lowercase();
        acct.policies
            .get_mut(&key)
            .map(|p| &mut p.tags)
            .ok_or_else(|| no_policy(id))
    }
    fn store_key(acct: &Account, id: &str) -> String {
        find(acct, id)
            .map(|p| p.name.to_lowercase())
            .unwrap_or_default()
    }
}

pub fn list_entities_for_policy(
    ctx: &Ctx<'_>,
    input: w::ListEntitiesForPolicyRequest,
) -> ApiResult<w::ListEntitiesForPolicyResponse> {
    let arn = input.policy_arn.as_str();
    let filter = input.entity_filter.as_deref();
    let usage = input.policy_usage_filter.as_deref();
    let prefix = input.path_prefix;
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListEntitiesForPolicy", arn)?;
    let acct = ctx.account(&st)?;
    find(acct, arn)?;
    let as_policy = usage != Some("PermissionsBoundary");
    let as_boundary = usage != Some("PermissionsPolicy");
    let want = |k: &str| filter.is_none_or(|f| f == k);
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
    Ok(w::ListEntitiesForPolicyResponse {
        policy_groups: Some(
            groups
                .into_iter()
                .map(|(n, id)| w::PolicyGroup {
                    group_name: Some(n.to_string()),
                    group_id: Some(id.to_string()),
                })
                .collect(),
        ),
        policy_users: Some(
            users
                .into_iter()
                .map(|(n, id)| w::PolicyUser {
                    user_name: Some(n.to_string()),
                    user_id: Some(id.to_string()),
                })
                .collect(),
        ),
        policy_roles: Some(
            roles
                .into_iter()
                .map(|(n, id)| w::PolicyRole {
                    role_name: Some(n.to_string()),
                    role_id: Some(id.to_string()),
                })
                .collect(),
        ),
        is_truncated: Some(false),
        marker: None,
    })
}

// ---- attachment -------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Target {
    User,
    Group,
    Role,
}

impl Target {
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

fn attach(ctx: &Ctx<'_>, name: &str, arn: &str, target: Target) -> ApiResult<()> {
    check_policy_arn(arn)?;
    ctx.node.write(|st, t| {
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
        if let Target::Role = target
            && let Some(r) = acct.roles.get(&name.to_lowercase())
            && r.path.starts_with("/aws-service-role/")
        {
            return Err(ApiError::new(
                ErrorCode::UnmodifiableEntity,
                "Cannot perform the operation on the protected role",
            ));
        }
        if acct.policy_by_arn(arn).is_none() {
            return Err(no_policy(arn));
        }
        if attached.iter().any(|a| a == arn) {
            return Ok(());
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
        Ok(())
    })
}

fn detach(ctx: &Ctx<'_>, name: &str, arn: &str, target: Target) -> ApiResult<()> {
    check_policy_arn(arn)?;
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

/// One page of the managed policies attached to `name`, and the next marker.
fn list_attached(
    ctx: &Ctx<'_>,
    name: &str,
    prefix: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i64>,
    target: Target,
) -> ApiResult<(Vec<w::AttachedPolicy>, Option<String>)> {
    let max = page_size(max_items);
    let st = ctx.node.read()?;
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
        .filter(|(pol, _)| path_matches(&pol.path, prefix))
        .map(|(pol, arn)| (pol.name.clone(), arn.clone()))
        .collect();
    let (page, next) = paginate(items, marker, max)?;
    let page = page
        .into_iter()
        .map(|(n, a)| w::AttachedPolicy {
            policy_name: Some(n),
            policy_arn: Some(a),
        })
        .collect();
    Ok((page, next))
}

fn put_inline(
    ctx: &Ctx<'_>,
    name: &str,
    policy_name: &str,
    text: &str,
    target: Target,
) -> ApiResult<()> {
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

/// The entity's stored name and the (URL-encoded) document of its inline policy `policy_name`.
fn get_inline(
    ctx: &Ctx<'_>,
    name: &str,
    policy_name: &str,
    target: Target,
) -> ApiResult<(String, String)> {
    let st = ctx.node.read()?;
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
    Ok((entity_name, url_encode_policy(&doc.text)))
}

fn delete_inline(ctx: &Ctx<'_>, name: &str, policy_name: &str, target: Target) -> ApiResult<()> {
    ctx.node.write(|st, t| {
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
        Ok(())
    })
}

/// One page of the names of the entity's inline policies, and the next marker.
fn list_inline(
    ctx: &Ctx<'_>,
    name: &str,
    marker: Option<&str>,
    max_items: Option<i64>,
    target: Target,
) -> ApiResult<(Vec<String>, Option<String>)> {
    let max = page_size(max_items);
    let st = ctx.node.read()?;
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
    let (page, next) = paginate(names, marker, max)?;
    Ok((page.into_iter().map(str::to_string).collect(), next))
}

/// The seven actions on one kind of principal's policies (attach, detach, list attached; put, get, delete,
/// list inline), as typed actions named after their operations: they differ only in the target kind and the
/// input member that names the principal (`$id`), which `Get{X}Policy` also answers with.
macro_rules! principal_policy_actions {
    ($target:expr, $id:ident;
     $attach:ident($attach_in:ident), $detach:ident($detach_in:ident),
     $list_attached:ident($list_attached_in:ident) -> $list_attached_out:ident,
     $put:ident($put_in:ident), $get:ident($get_in:ident) -> $get_out:ident, $delete:ident($delete_in:ident),
     $list:ident($list_in:ident) -> $list_out:ident) => {
        pub fn $attach(ctx: &Ctx<'_>, input: w::$attach_in) -> ApiResult<()> {
            attach(ctx, &input.$id, &input.policy_arn, $target)
        }

        pub fn $detach(ctx: &Ctx<'_>, input: w::$detach_in) -> ApiResult<()> {
            detach(ctx, &input.$id, &input.policy_arn, $target)
        }

        pub fn $list_attached(
            ctx: &Ctx<'_>,
            input: w::$list_attached_in,
        ) -> ApiResult<w::$list_attached_out> {
            let (page, next) = list_attached(
                ctx,
                &input.$id,
                input.path_prefix.as_deref(),
                input.marker.as_deref(),
                input.max_items,
                $target,
            )?;
            Ok(w::$list_attached_out {
                attached_policies: Some(page),
                is_truncated: Some(next.is_some()),
                marker: next,
            })
        }

        pub fn $put(ctx: &Ctx<'_>, input: w::$put_in) -> ApiResult<()> {
            put_inline(
                ctx,
                &input.$id,
                &input.policy_name,
                &input.policy_document,
                $target,
            )
        }

        pub fn $get(ctx: &Ctx<'_>, input: w::$get_in) -> ApiResult<w::$get_out> {
            let (entity, document) = get_inline(ctx, &input.$id, &input.policy_name, $target)?;
            Ok(w::$get_out {
                $id: entity,
                policy_name: input.policy_name,
                policy_document: document,
            })
        }

        pub fn $delete(ctx: &Ctx<'_>, input: w::$delete_in) -> ApiResult<()> {
            delete_inline(ctx, &input.$id, &input.policy_name, $target)
        }

        pub fn $list(ctx: &Ctx<'_>, input: w::$list_in) -> ApiResult<w::$list_out> {
            let (page, next) = list_inline(
                ctx,
                &input.$id,
                input.marker.as_deref(),
                input.max_items,
                $target,
            )?;
            Ok(w::$list_out {
                policy_names: page,
                is_truncated: Some(next.is_some()),
                marker: next,
            })
        }
    };
}

principal_policy_actions!(Target::User, user_name;
    attach_user_policy(AttachUserPolicyRequest), detach_user_policy(DetachUserPolicyRequest),
    list_attached_user_policies(ListAttachedUserPoliciesRequest) -> ListAttachedUserPoliciesResponse,
    put_user_policy(PutUserPolicyRequest), get_user_policy(GetUserPolicyRequest) -> GetUserPolicyResponse,
    delete_user_policy(DeleteUserPolicyRequest),
    list_user_policies(ListUserPoliciesRequest) -> ListUserPoliciesResponse);

principal_policy_actions!(Target::Group, group_name;
    attach_group_policy(AttachGroupPolicyRequest), detach_group_policy(DetachGroupPolicyRequest),
    list_attached_group_policies(ListAttachedGroupPoliciesRequest) -> ListAttachedGroupPoliciesResponse,
    put_group_policy(PutGroupPolicyRequest), get_group_policy(GetGroupPolicyRequest) -> GetGroupPolicyResponse,
    delete_group_policy(DeleteGroupPolicyRequest),
    list_group_policies(ListGroupPoliciesRequest) -> ListGroupPoliciesResponse);

principal_policy_actions!(Target::Role, role_name;
    attach_role_policy(AttachRolePolicyRequest), detach_role_policy(DetachRolePolicyRequest),
    list_attached_role_policies(ListAttachedRolePoliciesRequest) -> ListAttachedRolePoliciesResponse,
    put_role_policy(PutRolePolicyRequest), get_role_policy(GetRolePolicyRequest) -> GetRolePolicyResponse,
    delete_role_policy(DeleteRolePolicyRequest),
    list_role_policies(ListRolePoliciesRequest) -> ListRolePoliciesResponse);
