//! Managed policies with versions, inline policies, and attachment to users, groups and roles.

use std::collections::BTreeMap;

use super::groups::Groups;
use super::roles::Roles;
use super::users::Users;
use stsd_wire::generated::iam as w;

use super::entity::{self, Entity};
use super::tagging;
use super::{Ctx, RequestFacts, compile, page_size, paginate, path_matches, tags_in, wire_policy};
use crate::authz::non_whitespace_len;
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, Doc, DocKind, ManagedPolicy, PolicyVersion};
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
    let new = entity::New {
        arn: &arn,
        key: name.to_lowercase(),
        taken: format!("A policy called {name} already exists. Duplicate names are not allowed."),
        quota: ("PoliciesPerAccount", 1500),
    };
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    let build = |_: &_| {
        Ok(ManagedPolicy {
            name: name.to_string(),
            id: crate::ids::unique_id("ANPA"),
            path: path.clone(),
            created: ctx.now,
            updated: ctx.now,
            description: description.clone(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc: compile_managed(text)?,
                created: ctx.now,
            }],
            default_version: "v1".into(),
            next_version: 2,
            tags: tags.clone(),
        })
    };
    let action = "iam:CreatePolicy";
    let policy =
        entity::create::<Policies, _>(ctx, action, &new, &facts, build, |_, acct, pol| {
            Ok(wire_policy(acct, pol, true))
        })?;
    Ok(w::CreatePolicyResponse {
        policy: Some(policy),
    })
}

/// Managed policies, named by ARN; tag keys compare exactly.
pub(super) struct Policies;

impl Entity for Policies {
    type Item = ManagedPolicy;
    const WORD: &'static str = "Policy";
    const KIND: Kind = Kind::Policy;
    fn map(acct: &Account) -> &BTreeMap<String, ManagedPolicy> {
        &acct.policies
    }
    fn map_mut(acct: &mut Account) -> &mut BTreeMap<String, ManagedPolicy> {
        &mut acct.policies
    }
    fn key(acct: &Account, arn: &str) -> ApiResult<String> {
        check_policy_arn(arn)?;
        acct.policy_by_arn(arn)
            .map(|p| p.name.to_lowercase())
            .ok_or_else(|| no_policy(arn))
    }
    fn missing(arn: &str) -> ApiError {
        no_policy(arn)
    }
    fn arn(_ctx: &Ctx<'_>, _acct: &Account, arn: &str) -> String {
        arn.to_string()
    }
}

/// A policy version, or `NoSuchEntity` in IAM's words.
fn version<'a>(pol: &'a ManagedPolicy, arn: &str, id: &str) -> ApiResult<&'a PolicyVersion> {
    pol.versions.iter().find(|v| v.id == id).ok_or_else(|| {
        ApiError::no_such_entity(format!(
            "Policy {arn} version {id} does not exist or is not attachable."
        ))
    })
}

pub fn get_policy(ctx: &Ctx<'_>, input: w::GetPolicyRequest) -> ApiResult<w::GetPolicyResponse> {
    let arn = input.policy_arn.as_str();
    let st = ctx.node.read()?;
    let (acct, pol) = entity::read::<Policies>(ctx, &st, "iam:GetPolicy", arn)?;
    Ok(w::GetPolicyResponse {
        policy: Some(wire_policy(acct, pol, true)),
    })
}

pub fn delete_policy(ctx: &Ctx<'_>, input: w::DeletePolicyRequest) -> ApiResult<()> {
    let arn = input.policy_arn.as_str();
    entity::remove::<Policies>(ctx, "iam:DeletePolicy", arn, |acct, pol| {
        let (attached, boundary) = acct.policy_usage(arn);
        if attached + boundary > 0 {
            return Err(ApiError::delete_conflict(
                "Cannot delete a policy attached to entities.",
            ));
        }
        if pol.versions.len() > 1 {
            return Err(ApiError::delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        Ok(())
    })?;
    Ok(())
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
    let action = "iam:CreatePolicyVersion";
    entity::mutate::<Policies, _>(ctx, action, arn, |_, pol| {
        let doc = compile_managed(text)?;
        if pol.versions.len() >= MAX_VERSIONS {
            return Err(ApiError::limit("VersionsPerPolicy", MAX_VERSIONS));
        }
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
    let st = ctx.node.read()?;
    let (_, pol) = entity::read::<Policies>(ctx, &st, "iam:GetPolicyVersion", arn)?;
    let ver = version(pol, arn, &input.version_id)?;
    Ok(w::GetPolicyVersionResponse {
        policy_version: Some(wire_version(pol, ver, true)),
    })
}

pub fn delete_policy_version(ctx: &Ctx<'_>, input: w::DeletePolicyVersionRequest) -> ApiResult<()> {
    let arn = input.policy_arn.as_str();
    let id = input.version_id.as_str();
    let action = "iam:DeletePolicyVersion";
    entity::mutate::<Policies, _>(ctx, action, arn, |_, pol| {
        version(pol, arn, id)?;
        if pol.default_version == id {
            return Err(ApiError::delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        pol.versions.retain(|v| v.id != id);
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
    let (_, pol) = entity::read::<Policies>(ctx, &st, "iam:ListPolicyVersions", arn)?;
    let versions: Vec<&PolicyVersion> = pol.versions.iter().rev().collect(); // newest first, as IAM lists them
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
    let action = "iam:SetDefaultPolicyVersion";
    entity::mutate::<Policies, _>(ctx, action, arn, |_, pol| {
        version(pol, arn, id)?;
        pol.default_version = id.to_string();
        pol.updated = ctx.now;
        Ok(())
    })
}

tagging::actions!(Policies, case_insensitive: false, policy_arn;
    tag_policy(TagPolicyRequest), untag_policy(UntagPolicyRequest), list_policy_tags(ListPolicyTagsRequest) -> ListPolicyTagsResponse);

pub fn list_entities_for_policy(
    ctx: &Ctx<'_>,
    input: w::ListEntitiesForPolicyRequest,
) -> ApiResult<w::ListEntitiesForPolicyResponse> {
    let arn = input.policy_arn.as_str();
    let filter = input.entity_filter.as_deref();
    let usage = input.policy_usage_filter.as_deref();
    let prefix = input.path_prefix;
    let st = ctx.node.read()?;
    let (acct, _) = entity::read::<Policies>(ctx, &st, "iam:ListEntitiesForPolicy", arn)?;
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

/// A principal kind (users, groups, roles): its items hold attached managed policies and inline ones.
trait Principal: Entity {
    /// The aggregate inline-policy size quota (its name; characters without whitespace).
    const INLINE_QUOTA: (&'static str, usize);
    fn name(item: &Self::Item) -> &str;
    fn attached(item: &Self::Item) -> &Vec<String>;
    fn attached_mut(item: &mut Self::Item) -> &mut Vec<String>;
    fn inline(item: &Self::Item) -> &BTreeMap<String, Doc>;
    fn inline_mut(item: &mut Self::Item) -> &mut BTreeMap<String, Doc>;
}

macro_rules! principal {
    ($kind:ty, $quota:literal, $limit:literal) => {
        impl Principal for $kind {
            const INLINE_QUOTA: (&'static str, usize) = ($quota, $limit);
            fn name(item: &Self::Item) -> &str {
                &item.name
            }
            fn attached(item: &Self::Item) -> &Vec<String> {
                &item.attached
            }
            fn attached_mut(item: &mut Self::Item) -> &mut Vec<String> {
                &mut item.attached
            }
            fn inline(item: &Self::Item) -> &BTreeMap<String, Doc> {
                &item.inline
            }
            fn inline_mut(item: &mut Self::Item) -> &mut BTreeMap<String, Doc> {
                &mut item.inline
            }
        }
    };
}
principal!(Users, "UserPolicySize", 2048);
principal!(Groups, "GroupPolicySize", 5120);
principal!(Roles, "RolePolicySize", 10240);

fn attach<E: Principal>(ctx: &Ctx<'_>, name: &str, arn: &str) -> ApiResult<()> {
    check_policy_arn(arn)?;
    let facts = RequestFacts {
        policy_arn: Some(arn),
        ..RequestFacts::default()
    };
    let action = format!("iam:Attach{}Policy", E::WORD);
    entity::mutate_request::<E, _>(ctx, &action, name, &facts, |st, e| {
        if ctx.account(st)?.policy_by_arn(arn).is_none() {
            return Err(no_policy(arn));
        }
        let attached = E::attached_mut(e);
        if attached.iter().any(|a| a == arn) {
            return Ok(());
        }
        if attached.len() >= MAX_ATTACHED {
            return Err(ApiError::limit(
                &format!("PoliciesPer{}", E::WORD),
                MAX_ATTACHED,
            ));
        }
        attached.push(arn.to_string());
        Ok(())
    })
}

fn detach<E: Principal>(ctx: &Ctx<'_>, name: &str, arn: &str) -> ApiResult<()> {
    check_policy_arn(arn)?;
    let facts = RequestFacts {
        policy_arn: Some(arn),
        ..RequestFacts::default()
    };
    let action = format!("iam:Detach{}Policy", E::WORD);
    entity::mutate_request::<E, _>(ctx, &action, name, &facts, |_, e| {
        let attached = E::attached_mut(e);
        if !attached.iter().any(|a| a == arn) {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} was not found."
            )));
        }
        attached.retain(|a| a != arn);
        Ok(())
    })
}

/// One page of the managed policies attached to `name`, and the next marker.
fn list_attached<E: Principal>(
    ctx: &Ctx<'_>,
    name: &str,
    prefix: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> ApiResult<(Vec<w::AttachedPolicy>, Option<String>)> {
    let st = ctx.node.read()?;
    let action = format!("iam:ListAttached{}Policies", E::WORD);
    let (acct, e) = entity::read::<E>(ctx, &st, &action, name)?;
    let items: Vec<w::AttachedPolicy> = E::attached(e)
        .iter()
        .filter_map(|arn| acct.policy_by_arn(arn).map(|pol| (pol, arn)))
        .filter(|(pol, _)| path_matches(&pol.path, prefix))
        .map(|(pol, arn)| w::AttachedPolicy {
            policy_name: Some(pol.name.clone()),
            policy_arn: Some(arn.clone()),
        })
        .collect();
    paginate(items, marker, page_size(max_items))
}

fn put_inline<E: Principal>(
    ctx: &Ctx<'_>,
    name: &str,
    policy_name: &str,
    text: &str,
) -> ApiResult<()> {
    let action = format!("iam:Put{}Policy", E::WORD);
    entity::mutate::<E, _>(ctx, &action, name, |_, e| {
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
        let others: usize = E::inline(e)
            .iter()
            .filter(|(n, _)| n.as_str() != policy_name)
            .map(|(_, d)| non_whitespace_len(&d.text))
            .sum();
        let (quota, limit) = E::INLINE_QUOTA;
        if others + non_whitespace_len(text) > limit {
            return Err(ApiError::limit(quota, limit));
        }
        E::inline_mut(e).insert(policy_name.to_string(), doc);
        Ok(())
    })
}

fn no_inline<E: Principal>(policy_name: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "The {} policy with name {policy_name} cannot be found.",
        E::WORD.to_lowercase()
    ))
}

/// The entity's stored name and the (URL-encoded) document of its inline policy `policy_name`.
fn get_inline<E: Principal>(
    ctx: &Ctx<'_>,
    name: &str,
    policy_name: &str,
) -> ApiResult<(String, String)> {
    let st = ctx.node.read()?;
    let (_, e) = entity::read::<E>(ctx, &st, &format!("iam:Get{}Policy", E::WORD), name)?;
    let doc = E::inline(e)
        .get(policy_name)
        .ok_or_else(|| no_inline::<E>(policy_name))?;
    Ok((E::name(e).to_string(), url_encode_policy(&doc.text)))
}

fn delete_inline<E: Principal>(ctx: &Ctx<'_>, name: &str, policy_name: &str) -> ApiResult<()> {
    let action = format!("iam:Delete{}Policy", E::WORD);
    entity::mutate::<E, _>(ctx, &action, name, |_, e| {
        E::inline_mut(e)
            .remove(policy_name)
            .map(drop)
            .ok_or_else(|| no_inline::<E>(policy_name))
    })
}

/// One page of the names of the entity's inline policies, and the next marker.
fn list_inline<E: Principal>(
    ctx: &Ctx<'_>,
    name: &str,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> ApiResult<(Vec<String>, Option<String>)> {
    let st = ctx.node.read()?;
    let (_, e) = entity::read::<E>(ctx, &st, &format!("iam:List{}Policies", E::WORD), name)?;
    let names: Vec<String> = E::inline(e).keys().cloned().collect();
    paginate(names, marker, page_size(max_items))
}

/// The seven actions on one kind of principal's policies (attach, detach, list attached; put, get, delete,
/// list inline), as typed actions named after their operations: they differ only in the target kind and the
/// input member that names the principal (`$id`), which `Get{X}Policy` also answers with.
macro_rules! principal_policy_actions {
    ($target:ty, $id:ident;
     $attach:ident($attach_in:ident), $detach:ident($detach_in:ident),
     $list_attached:ident($list_attached_in:ident) -> $list_attached_out:ident,
     $put:ident($put_in:ident), $get:ident($get_in:ident) -> $get_out:ident, $delete:ident($delete_in:ident),
     $list:ident($list_in:ident) -> $list_out:ident) => {
        pub fn $attach(ctx: &Ctx<'_>, input: w::$attach_in) -> ApiResult<()> {
            attach::<$target>(ctx, &input.$id, &input.policy_arn)
        }

        pub fn $detach(ctx: &Ctx<'_>, input: w::$detach_in) -> ApiResult<()> {
            detach::<$target>(ctx, &input.$id, &input.policy_arn)
        }

        pub fn $list_attached(
            ctx: &Ctx<'_>,
            input: w::$list_attached_in,
        ) -> ApiResult<w::$list_attached_out> {
            let (page, next) = list_attached::<$target>(
                ctx,
                &input.$id,
                input.path_prefix.as_deref(),
                input.marker.as_deref(),
                input.max_items,
            )?;
            Ok(w::$list_attached_out {
                attached_policies: Some(page),
                is_truncated: Some(next.is_some()),
                marker: next,
            })
        }

        pub fn $put(ctx: &Ctx<'_>, input: w::$put_in) -> ApiResult<()> {
            put_inline::<$target>(ctx, &input.$id, &input.policy_name, &input.policy_document)
        }

        pub fn $get(ctx: &Ctx<'_>, input: w::$get_in) -> ApiResult<w::$get_out> {
            let (entity, document) = get_inline::<$target>(ctx, &input.$id, &input.policy_name)?;
            Ok(w::$get_out {
                $id: entity,
                policy_name: input.policy_name,
                policy_document: document,
            })
        }

        pub fn $delete(ctx: &Ctx<'_>, input: w::$delete_in) -> ApiResult<()> {
            delete_inline::<$target>(ctx, &input.$id, &input.policy_name)
        }

        pub fn $list(ctx: &Ctx<'_>, input: w::$list_in) -> ApiResult<w::$list_out> {
            let (page, next) =
                list_inline::<$target>(ctx, &input.$id, input.marker.as_deref(), input.max_items)?;
            Ok(w::$list_out {
                policy_names: page,
                is_truncated: Some(next.is_some()),
                marker: next,
            })
        }
    };
}

principal_policy_actions!(Users, user_name;
    attach_user_policy(AttachUserPolicyRequest), detach_user_policy(DetachUserPolicyRequest),
    list_attached_user_policies(ListAttachedUserPoliciesRequest) -> ListAttachedUserPoliciesResponse,
    put_user_policy(PutUserPolicyRequest), get_user_policy(GetUserPolicyRequest) -> GetUserPolicyResponse,
    delete_user_policy(DeleteUserPolicyRequest),
    list_user_policies(ListUserPoliciesRequest) -> ListUserPoliciesResponse);

principal_policy_actions!(Groups, group_name;
    attach_group_policy(AttachGroupPolicyRequest), detach_group_policy(DetachGroupPolicyRequest),
    list_attached_group_policies(ListAttachedGroupPoliciesRequest) -> ListAttachedGroupPoliciesResponse,
    put_group_policy(PutGroupPolicyRequest), get_group_policy(GetGroupPolicyRequest) -> GetGroupPolicyResponse,
    delete_group_policy(DeleteGroupPolicyRequest),
    list_group_policies(ListGroupPoliciesRequest) -> ListGroupPoliciesResponse);

principal_policy_actions!(Roles, role_name;
    attach_role_policy(AttachRolePolicyRequest), detach_role_policy(DetachRolePolicyRequest),
    list_attached_role_policies(ListAttachedRolePoliciesRequest) -> ListAttachedRolePoliciesResponse,
    put_role_policy(PutRolePolicyRequest), get_role_policy(GetRolePolicyRequest) -> GetRolePolicyResponse,
    delete_role_policy(DeleteRolePolicyRequest),
    list_role_policies(ListRolePoliciesRequest) -> ListRolePoliciesResponse);
