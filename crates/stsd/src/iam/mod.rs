//! The IAM actions. Each is a function `(ctx, typed input) -> typed output`, named after its operation, that
//! applies the rules the model cannot state, authorizes the caller with the policy engine, and reads or mutates
//! the state. The generated dispatch table (`stsd_wire::iam_dispatch!`) finds them in `handlers`.

mod absent_credentials;
mod account;
mod credential_report;
mod entity;
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
pub use crate::action::{Ctx, Handler, RequestFacts, tags_in};
use crate::authz;
use crate::error::{ApiError, ApiResult};
use crate::model::{Account, Doc, DocKind, Group, KeyUse, ManagedPolicy, Role, Tag, User};
use crate::protocol::url_encode_policy;
use crate::protocol::xml::Xml;
use crate::state::State;
use stsd_wire::generated::iam as w;

pub use account::create_account_for_management;
pub use login_profiles::{expired as password_expired, verify_password};

/// Every IAM action under its operation's snake_case name, where the generated dispatch table finds it.
mod handlers {
    pub(super) use super::{
        absent_credentials::*, account::*, credential_report::*, groups::*, instance_profiles::*,
        keys::*, login_profiles::*, mfa::*, oidc::*, policies::*, resource_policies::*, roles::*,
        saml_providers::*, simulate::*, users::*,
    };
}

/// The IAM action table: the generated list of served operations (`stsd_wire::iam_dispatch!`).
pub fn handler(action: &str) -> Option<Handler> {
    stsd_wire::iam_dispatch!(action, typed, handlers)
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
