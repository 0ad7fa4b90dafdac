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
mod users;

use crate::app::App;
use crate::auth::{Caller, RequestMeta};
use crate::authz;
pub use crate::authz::RequestFacts;
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, Doc, DocKind, Group, KeyUse, ManagedPolicy, Role, Tag, User};
use crate::protocol::query::Params;
use crate::protocol::url_encode_policy;
use crate::protocol::xml::Xml;
use crate::state::State;

pub use account::create_account_for_management;
pub use login_profiles::{expired as password_expired, verify_password};

/// Everything an action needs besides its parameters.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub caller: &'a Caller,
    pub meta: &'a RequestMeta,
    pub now: i64,
}

impl Ctx<'_> {
    /// Authorize `action` on `resource` in the caller's account (root: always; others: policy engine).
    pub fn authorize(&self, st: &State, action: &str, resource: &str) -> ApiResult<()> {
        authz::authorize(st, self, action, resource, &RequestFacts::default())
    }

    /// [`Ctx::authorize`] for a request that carries condition-key facts (tags, a boundary, a policy ARN).
    pub fn authorize_request(
        &self,
        st: &State,
        action: &str,
        resource: &str,
        facts: &RequestFacts<'_>,
    ) -> ApiResult<()> {
        authz::authorize(st, self, action, resource, facts)
    }

    /// The transport facts and time of this request.
    pub fn request(&self) -> authz::RequestInfo<'_> {
        authz::RequestInfo {
            meta: self.meta,
            now: self.now,
        }
    }

    pub fn account<'s>(&self, st: &'s State) -> ApiResult<&'s Account> {
        st.account(&self.caller.account)
            .ok_or_else(ApiError::internal)
    }

    pub fn account_mut<'s>(&self, st: &'s mut State) -> ApiResult<&'s mut Account> {
        st.account_mut(&self.caller.account)
            .ok_or_else(ApiError::internal)
    }

    pub fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.caller.account)
    }
}

pub type Handler = fn(&Ctx<'_>, &Params) -> ApiResult<Option<String>>;

/// The IAM action table.
pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateUser" => users::create_user,
        "GetUser" => users::get_user,
        "UpdateUser" => users::update_user,
        "DeleteUser" => users::delete_user,
        "ListUsers" => users::list_users,
        "TagUser" => users::tag_user,
        "UntagUser" => users::untag_user,
        "ListUserTags" => users::list_user_tags,
        "PutUserPermissionsBoundary" => users::put_boundary,
        "DeleteUserPermissionsBoundary" => users::delete_boundary,
        "CreateGroup" => groups::create_group,
        "GetGroup" => groups::get_group,
        "UpdateGroup" => groups::update_group,
        "DeleteGroup" => groups::delete_group,
        "ListGroups" => groups::list_groups,
        "AddUserToGroup" => groups::add_user_to_group,
        "RemoveUserFromGroup" => groups::remove_user_from_group,
        "ListGroupsForUser" => groups::list_groups_for_user,
        "CreateRole" => roles::create_role,
        "GetRole" => roles::get_role,
        "UpdateRole" => roles::update_role,
        "UpdateRoleDescription" => roles::update_role_description,
        "UpdateAssumeRolePolicy" => roles::update_assume_role_policy,
        "DeleteRole" => roles::delete_role,
        "ListRoles" => roles::list_roles,
        "TagRole" => roles::tag_role,
        "UntagRole" => roles::untag_role,
        "ListRoleTags" => roles::list_role_tags,
        "PutRolePermissionsBoundary" => roles::put_boundary,
        "DeleteRolePermissionsBoundary" => roles::delete_boundary,
        "CreatePolicy" => policies::create_policy,
        "GetPolicy" => policies::get_policy,
        "DeletePolicy" => policies::delete_policy,
        "ListPolicies" => policies::list_policies,
        "CreatePolicyVersion" => policies::create_policy_version,
        "GetPolicyVersion" => policies::get_policy_version,
        "DeletePolicyVersion" => policies::delete_policy_version,
        "ListPolicyVersions" => policies::list_policy_versions,
        "SetDefaultPolicyVersion" => policies::set_default_policy_version,
        "TagPolicy" => policies::tag_policy,
        "UntagPolicy" => policies::untag_policy,
        "ListPolicyTags" => policies::list_policy_tags,
        "ListEntitiesForPolicy" => policies::list_entities_for_policy,
        "AttachUserPolicy" => policies::attach_user_policy,
        "AttachGroupPolicy" => policies::attach_group_policy,
        "AttachRolePolicy" => policies::attach_role_policy,
        "DetachUserPolicy" => policies::detach_user_policy,
        "DetachGroupPolicy" => policies::detach_group_policy,
        "DetachRolePolicy" => policies::detach_role_policy,
        "ListAttachedUserPolicies" => policies::list_attached_user_policies,
        "ListAttachedGroupPolicies" => policies::list_attached_group_policies,
        "ListAttachedRolePolicies" => policies::list_attached_role_policies,
        "PutUserPolicy" => policies::put_user_policy,
        "PutGroupPolicy" => policies::put_group_policy,
        "PutRolePolicy" => policies::put_role_policy,
        "GetUserPolicy" => policies::get_user_policy,
        "GetGroupPolicy" => policies::get_group_policy,
        "GetRolePolicy" => policies::get_role_policy,
        "DeleteUserPolicy" => policies::delete_user_policy,
        "DeleteGroupPolicy" => policies::delete_group_policy,
        "DeleteRolePolicy" => policies::delete_role_policy,
        "ListUserPolicies" => policies::list_user_policies,
        "ListGroupPolicies" => policies::list_group_policies,
        "ListRolePolicies" => policies::list_role_policies,
        "CreateAccessKey" => keys::create_access_key,
        "UpdateAccessKey" => keys::update_access_key,
        "DeleteAccessKey" => keys::delete_access_key,
        "ListAccessKeys" => keys::list_access_keys,
        "GetAccessKeyLastUsed" => keys::get_access_key_last_used,
        "GetAccountAuthorizationDetails" => account::get_account_authorization_details,
        "GetAccountSummary" => account::get_account_summary,
        "CreateAccountAlias" => account::create_account_alias,
        "DeleteAccountAlias" => account::delete_account_alias,
        "ListAccountAliases" => account::list_account_aliases,
        "CreateAccount" => account::create_account,
        "RotateTokenKeys" => account::rotate_token_keys,
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

pub fn write_paging(x: &mut Xml, next: Option<String>) {
    x.boolean("IsTruncated", next.is_some());
    if let Some(m) = next {
        x.elem("Marker", &m);
    }
}

pub fn write_tags(x: &mut Xml, tags: &[Tag]) {
    x.list("Tags", tags, |x, t| {
        x.elem("Key", &t.key).elem("Value", &t.value);
    });
}

pub fn write_boundary(x: &mut Xml, boundary: Option<&str>) {
    if let Some(b) = boundary {
        x.open("PermissionsBoundary")
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", b)
            .close("PermissionsBoundary");
    }
}

/// The `User` shape; `full` adds boundary and tags (GetUser), as ListUsers omits them.
pub fn write_user(x: &mut Xml, acct: &Account, u: &User, full: bool) {
    x.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.id)
        .elem("Arn", &acct.user_arn(u))
        .elem("CreateDate", &fmt_time(u.created));
    if let Some(t) = u.password_last_used {
        x.elem("PasswordLastUsed", &fmt_time(t));
    }
    if full {
        write_boundary(x, u.boundary.as_deref());
        if !u.tags.is_empty() {
            write_tags(x, &u.tags);
        }
    }
}

pub fn write_group(x: &mut Xml, acct: &Account, g: &Group) {
    x.elem("Path", &g.path)
        .elem("GroupName", &g.name)
        .elem("GroupId", &g.id)
        .elem("Arn", &acct.group_arn(g))
        .elem("CreateDate", &fmt_time(g.created));
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

pub fn write_role(x: &mut Xml, st: &State, acct: &Account, r: &Role, view: &RoleView) {
    x.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.id)
        .elem("Arn", &acct.role_arn(r))
        .elem("CreateDate", &fmt_time(r.created))
        .elem(
            "AssumeRolePolicyDocument",
            &url_encode_policy(&roles::trust_for_display(st, &r.trust)),
        );
    x.opt("Description", r.description.as_deref());
    x.num("MaxSessionDuration", r.max_session_duration);
    if matches!(view, RoleView::List) {
        return;
    }
    write_boundary(x, r.boundary.as_deref());
    if !r.tags.is_empty() {
        write_tags(x, &r.tags);
    }
    if let RoleView::Full(last) = view {
        write_role_last_used(x, last.as_ref());
    }
}

/// `RoleLastUsed`: empty when the role was never used.
pub fn write_role_last_used(x: &mut Xml, last: Option<&KeyUse>) {
    x.open("RoleLastUsed");
    if let Some(u) = last {
        x.elem("LastUsedDate", &fmt_time(u.date))
            .elem("Region", &u.region);
    }
    x.close("RoleLastUsed");
}

pub fn write_policy(x: &mut Xml, acct: &Account, p: &ManagedPolicy, tags: bool) {
    let arn = acct.policy_arn(p);
    let (attached, boundary) = acct.policy_usage(&arn);
    x.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.id)
        .elem("Arn", &arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version)
        .num("AttachmentCount", attached)
        .num("PermissionsBoundaryUsageCount", boundary)
        .boolean("IsAttachable", true);
    x.opt("Description", p.description.as_deref());
    x.elem("CreateDate", &fmt_time(p.created))
        .elem("UpdateDate", &fmt_time(p.updated));
    if tags && !p.tags.is_empty() {
        write_tags(x, &p.tags);
    }
}

pub fn path_matches(path: &str, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|p| path.starts_with(p))
}
