//! The IAM actions. Each is a function `(ctx, params) -> result XML` that validates input, authorizes the
//! caller with the policy engine, and reads or mutates the state.

mod absent_credentials;
mod account;
mod credential_report;
mod groups;
mod instance_profiles;
mod keys;
mod login_profiles;
mod mfa;
mod oidc;
mod policies;
mod resource_policies;
mod roles;
mod saml_providers;
mod simulate;
mod tagging;
mod users;

#[cfg(test)]
mod authorization_tests;

pub(crate) use crate::action::typed;
pub use crate::action::{tags_in, Ctx, Handler, RequestFacts};
use crate::authz;
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, Doc, DocKind, Group, KeyUse, ManagedPolicy, Role, Tag, User};
use crate::protocol::url_encode_policy;
use crate::protocol::xml::Xml;
use crate::state::State;
use stsd_wire::generated::iam as w;

pub use account::create_account_for_management;
pub use login_profiles::{expired as password_expired, verify_password};

/// The IAM action table.
pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateUser" => typed!(users::create_user),
        "GetUser" => typed!(users::get_user),
        "UpdateUser" => typed!(users::update_user),
        "DeleteUser" => typed!(users::delete_user),
        "ListUsers" => typed!(users::list_users),
        "TagUser" => typed!(users::tag_user),
        "UntagUser" => typed!(users::untag_user),
        "ListUserTags" => typed!(users::list_user_tags),
        "PutUserPermissionsBoundary" => typed!(users::put_boundary),
        "DeleteUserPermissionsBoundary" => typed!(users::delete_boundary),
        "CreateGroup" => typed!(groups::create_group),
        "GetGroup" => typed!(groups::get_group),
        "UpdateGroup" => typed!(groups::update_group),
        "DeleteGroup" => typed!(groups::delete_group),
        "ListGroups" => typed!(groups::list_groups),
        "AddUserToGroup" => typed!(groups::add_user_to_group),
        "RemoveUserFromGroup" => typed!(groups::remove_user_from_group),
        "ListGroupsForUser" => typed!(groups::list_groups_for_user),
        "CreateRole" => typed!(roles::create_role),
        "GetRole" => typed!(roles::get_role),
        "UpdateRole" => typed!(roles::update_role),
        "UpdateRoleDescription" => typed!(roles::update_role_description),
        "UpdateAssumeRolePolicy" => typed!(roles::update_assume_role_policy),
        "DeleteRole" => typed!(roles::delete_role),
        "ListRoles" => typed!(roles::list_roles),
        "TagRole" => typed!(roles::tag_role),
        "UntagRole" => typed!(roles::untag_role),
        "ListRoleTags" => typed!(roles::list_role_tags),
        "PutRolePermissionsBoundary" => typed!(roles::put_boundary),
        "DeleteRolePermissionsBoundary" => typed!(roles::delete_boundary),
        "CreatePolicy" => typed!(policies::create_policy),
        "GetPolicy" => typed!(policies::get_policy),
        "DeletePolicy" => typed!(policies::delete_policy),
        "ListPolicies" => typed!(policies::list_policies),
        "CreatePolicyVersion" => typed!(policies::create_policy_version),
        "GetPolicyVersion" => typed!(policies::get_policy_version),
        "DeletePolicyVersion" => typed!(policies::delete_policy_version),
        "ListPolicyVersions" => typed!(policies::list_policy_versions),
        "SetDefaultPolicyVersion" => typed!(policies::set_default_policy_version),
        "TagPolicy" => typed!(policies::tag_policy),
        "UntagPolicy" => typed!(policies::untag_policy),
        "ListPolicyTags" => typed!(policies::list_policy_tags),
        "ListEntitiesForPolicy" => typed!(policies::list_entities_for_policy),
        "AttachUserPolicy" => typed!(policies::attach_user_policy),
        "AttachGroupPolicy" => typed!(policies::attach_group_policy),
        "AttachRolePolicy" => typed!(policies::attach_role_policy),
        "DetachUserPolicy" => typed!(policies::detach_user_policy),
        "DetachGroupPolicy" => typed!(policies::detach_group_policy),
        "DetachRolePolicy" => typed!(policies::detach_role_policy),
        "ListAttachedUserPolicies" => typed!(policies::list_attached_user_policies),
        "ListAttachedGroupPolicies" => typed!(policies::list_attached_group_policies),
        "ListAttachedRolePolicies" => typed!(policies::list_attached_role_policies),
        "PutUserPolicy" => typed!(policies::put_user_policy),
        "PutGroupPolicy" => typed!(policies::put_group_policy),
        "PutRolePolicy" => typed!(policies::put_role_policy),
        "GetUserPolicy" => typed!(policies::get_user_policy),
        "GetGroupPolicy" => typed!(policies::get_group_policy),
        "GetRolePolicy" => typed!(policies::get_role_policy),
        "DeleteUserPolicy" => typed!(policies::delete_user_policy),
        "DeleteGroupPolicy" => typed!(policies::delete_group_policy),
        "DeleteRolePolicy" => typed!(policies::delete_role_policy),
        "ListUserPolicies" => typed!(policies::list_user_policies),
        "ListGroupPolicies" => typed!(policies::list_group_policies),
        "ListRolePolicies" => typed!(policies::list_role_policies),
        "CreateAccessKey" => typed!(keys::create_access_key),
        "UpdateAccessKey" => typed!(keys::update_access_key),
        "DeleteAccessKey" => typed!(keys::delete_access_key),
        "ListAccessKeys" => typed!(keys::list_access_keys),
        "GetAccessKeyLastUsed" => typed!(keys::get_access_key_last_used),
        "GetAccountAuthorizationDetails" => typed!(account::get_account_authorization_details),
        "GetAccountSummary" => typed!(account::get_account_summary),
        "CreateAccountAlias" => typed!(account::create_account_alias),
        "DeleteAccountAlias" => typed!(account::delete_account_alias),
        "ListAccountAliases" => typed!(account::list_account_aliases),
        "CreateAccount" => typed!(account::create_account),
        "RotateTokenKeys" => typed!(account::rotate_token_keys),
        other => {
            return mfa::handler(other)
                .or_else(|| login_profiles::handler(other))
                .or_else(|| simulate::handler(other))
                .or_else(|| oidc::handler(other))
                .or_else(|| saml_providers::handler(other))
                .or_else(|| instance_profiles::handler(other))
                .or_else(|| credential_report::handler(other))
                .or_else(|| absent_credentials::handler(other))
                .or_else(|| resource_policies::handler(other))
        }
    })
}

/// ISO 8601 UTC, as IAM and STS print timestamps.
pub fn fmt_time(t: i64) -> String {
    let dt =
        time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    dt.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

/// Compile and validate a policy document; `MalformedPolicyDocument` (or `LimitExceeded` for size) on failure.
pub fn compile(text: &str, kind: DocKind) -> ApiResult<Doc> {
    let compiled = authz::compile(text, kind.policy_kind())?;
    Ok(Doc {
        text: text.to_string(),
        kind,
        principal_ids: Vec::new(),
        compiled: Some(compiled),
    })
}

/// One page of `items` (already in order) starting at the opaque `marker`.
pub fn paginate<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max: usize,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let start = match marker {
        None => 0,
        Some(m) => data_encoding::BASE64URL_NOPAD
            .decode(m.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::new(crate::error::ErrorCode::ValidationError, "Invalid Marker.")
            })?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let end = start + page.len();
    let next =
        (end < total).then(|| data_encoding::BASE64URL_NOPAD.encode(end.to_string().as_bytes()));
    Ok((page, next))
}

/// `Marker`/`MaxItems` of a typed list input: the marker as given, the page size (default 100; the model
/// already bounds it to 1..=1000).
pub fn page_size(max_items: Option<i64>) -> usize {
    max_items
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(100)
}

/// Tags for a typed output; `None` when there are none (AWS then omits the element).
pub fn wire_tags(tags: &[Tag]) -> Option<Vec<w::Tag>> {
    (!tags.is_empty()).then(|| wire_tag_list(tags))
}

pub fn wire_tag_list(tags: &[Tag]) -> Vec<w::Tag> {
    tags.iter()
        .map(|t| w::Tag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect()
}

pub fn wire_boundary(boundary: Option<&str>) -> Option<w::AttachedPermissionsBoundary> {
    boundary.map(|b| w::AttachedPermissionsBoundary {
        permissions_boundary_type: Some("PermissionsBoundaryPolicy".into()),
        permissions_boundary_arn: Some(b.to_string()),
    })
}

/// The `User` shape; `full` adds boundary and tags (GetUser), as ListUsers omits them.
pub fn wire_user(acct: &Account, u: &User, full: bool) -> w::User {
    w::User {
        path: Some(u.path.clone()),
        user_name: Some(u.name.clone()),
        user_id: u.id.clone(),
        arn: acct.user_arn(u),
        create_date: u.created,
        password_last_used: u.password_last_used,
        permissions_boundary: if full {
            wire_boundary(u.boundary.as_deref())
        } else {
            None
        },
        tags: if full { wire_tags(&u.tags) } else { None },
    }
}

pub fn wire_group(acct: &Account, g: &Group) -> w::Group {
    w::Group {
        path: g.path.clone(),
        group_name: g.name.clone(),
        group_id: g.id.clone(),
        arn: acct.group_arn(g),
        create_date: g.created,
    }
}

pub fn write_paging(x: &mut Xml, next: Option<String>) {
    x.boolean("IsTruncated", next.is_some());
    if let Some(m) = next {
        x.elem("Marker", &m);
    }
}

/// How much of the `Role` shape a response carries.
pub enum RoleView {
    /// `ListRoles` and instance profiles: no boundary, tags or last use.
    List,
    /// `CreateRole`: boundary and tags, no last use.
    Created,
    /// `GetRole` and friends: everything, with the role's last use.
    Full(Option<KeyUse>),
}

/// The typed `Role` shape, as much of it as `view` asks for.
pub fn wire_role(st: &State, acct: &Account, r: &Role, view: &RoleView) -> w::Role {
    let mut out = w::Role {
        path: r.path.clone(),
        role_name: r.name.clone(),
        role_id: r.id.clone(),
        arn: acct.role_arn(r),
        create_date: r.created,
        assume_role_policy_document: Some(url_encode_policy(&roles::trust_for_display(
            st, &r.trust,
        ))),
        description: r.description.clone(),
        max_session_duration: Some(i64::from(r.max_session_duration)),
        ..w::Role::default()
    };
    if matches!(view, RoleView::List) {
        return out;
    }
    out.permissions_boundary = wire_boundary(r.boundary.as_deref());
    out.tags = wire_tags(&r.tags);
    if let RoleView::Full(last) = view {
        // `RoleLastUsed` is always present, empty when the role was never used.
        out.role_last_used = Some(w::RoleLastUsed {
            last_used_date: last.as_ref().map(|u| u.date),
            region: last.as_ref().map(|u| u.region.clone()),
        });
    }
    out
}

/// The typed `Policy` shape; `tags` adds the tags (GetPolicy, CreatePolicy), as ListPolicies omits them.
pub fn wire_policy(acct: &Account, p: &ManagedPolicy, tags: bool) -> w::Policy {
    let arn = acct.policy_arn(p);
    let (attached, boundary) = acct.policy_usage(&arn);
    w::Policy {
        policy_name: Some(p.name.clone()),
        policy_id: Some(p.id.clone()),
        arn: Some(arn),
        path: Some(p.path.clone()),
        default_version_id: Some(p.default_version.clone()),
        attachment_count: i64::try_from(attached).ok(),
        permissions_boundary_usage_count: i64::try_from(boundary).ok(),
        is_attachable: Some(true),
        description: p.description.clone(),
        create_date: Some(p.created),
        update_date: Some(p.updated),
        tags: if tags { wire_tags(&p.tags) } else { None },
    }
}

pub fn path_matches(path: &str, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|p| path.starts_with(p))
}
