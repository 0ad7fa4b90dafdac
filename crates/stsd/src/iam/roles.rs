//! Roles: trust policy, MaxSessionDuration, description, boundary and tags.

use super::users::check_boundary;
use stsd_wire::generated::iam as w;

use super::entity::{self, Entity};
use super::tagging;
use super::{
    Ctx, RequestFacts, RoleView, compile, page_size, paginate, path_matches, tags_in, wire_role,
};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Doc, DocKind, Role};
use crate::state::State;
use crate::store::Kind;

/// AssumeRolePolicySizeQuota (characters without whitespace).
pub const TRUST_POLICY_QUOTA: usize = 2048;

fn no_role(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The role with name {name} cannot be found."))
}

entity::named!(
    /// Roles, named by their name; tag keys compare ignoring case; service-linked roles refuse every change.
    Roles: Role, roles, "Role", Kind::Role, "role/", role_arn, no_role, protected: check_modifiable);

/// Roles under `/aws-service-role/` are service-linked and cannot be changed by customers.
fn check_modifiable(r: &Role) -> ApiResult<()> {
    if r.path.starts_with("/aws-service-role/") {
        return Err(ApiError::new(
            ErrorCode::UnmodifiableEntity,
            format!(
                "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS",
                r.name
            ),
        ));
    }
    Ok(())
}

/// Validate a trust policy — grammar, size quota, and that the users and roles it names exist — and bind
/// each of those principals to the entity's unique ID, as IAM stores them (reference §3.1).
pub(super) fn compile_trust(st: &State, text: &str) -> ApiResult<Doc> {
    let doc = compile(text, DocKind::Trust)?;
    if crate::authz::non_whitespace_len(text) > TRUST_POLICY_QUOTA {
        return Err(ApiError::limit("ACLSizePerRole", TRUST_POLICY_QUOTA));
    }
    bind_principal_ids(st, doc)
}

/// Check that the users and roles a compiled policy with a `Principal` element names exist, and bind each to
/// its unique ID (trust policies, resource-based policies).
pub(super) fn bind_principal_ids(st: &State, mut doc: Doc) -> ApiResult<Doc> {
    let Some(p) = doc.compiled.clone() else {
        return Ok(doc);
    };
    for arn in crate::authz::principal_arns(&p) {
        match principal_id(st, &arn) {
            Err(()) => {
                return Err(ApiError::malformed_policy(format!(
                    "Invalid principal in policy: \"AWS\":\"{arn}\""
                )));
            }
            Ok(Some(id)) => {
                if !doc.principal_ids.iter().any(|(a, _)| *a == arn) {
                    doc.principal_ids.push((arn, id));
                }
            }
            Ok(None) => {}
        }
    }
    doc.compiled = Some(std::sync::Arc::new(
        p.with_principal_ids(&doc.principal_ids),
    ));
    Ok(doc)
}

/// `(kind, account, name)` of an `arn:aws:iam::A:user/...` or `...:role/...` ARN.
fn iam_entity_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let (acct_id, resource) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
    let (kind, rest) = resource.split_once('/')?;
    matches!(kind, "user" | "role")
        .then(|| (kind, acct_id, rest.rsplit('/').next().unwrap_or(rest)))
}

/// The unique ID of the user or role an ARN names: `Ok(None)` for principals that are not IAM users or roles
/// (accounts, sessions, federated users), `Err` when it names a user or role that does not exist (users and
/// roles of accounts unknown to this server cannot exist).
fn principal_id(st: &State, arn: &str) -> Result<Option<String>, ()> {
    let Some((kind, acct_id, name)) = iam_entity_arn(arn) else {
        return Ok(None);
    };
    if name.contains('*') || name.contains('?') {
        return Err(());
    }
    let acct = st.accounts.get(acct_id).ok_or(())?;
    let key = name.to_lowercase();
    let id = match kind {
        "user" => acct
            .users
            .get(&key)
            .filter(|u| acct.user_arn(u) == arn)
            .map(|u| u.id.clone()),
        _ => acct
            .roles
            .get(&key)
            .filter(|r| acct.role_arn(r) == arn)
            .map(|r| r.id.clone()),
    };
    id.map(Some).ok_or(())
}

/// The trust policy as IAM shows it: a principal whose user or role was deleted (or re-created, with a new
/// unique ID) appears as its bare unique ID (`AIDA…`/`AROA…`), as the policy no longer grants its ARN.
pub(super) fn trust_for_display<'d>(st: &State, doc: &'d Doc) -> std::borrow::Cow<'d, str> {
    let stale: Vec<(&str, &str)> = doc
        .principal_ids
        .iter()
        .filter(|(arn, id)| principal_id(st, arn).ok().flatten().as_deref() != Some(id.as_str()))
        .map(|(a, i)| (a.as_str(), i.as_str()))
        .collect();
    if stale.is_empty() {
        std::borrow::Cow::Borrowed(&doc.text)
    } else {
        std::borrow::Cow::Owned(replace_principals(&doc.text, &stale))
    }
}

/// Replace string values inside `Principal`/`NotPrincipal` elements of a (valid, depth-bounded) policy
/// document: each value equal to an ARN of `map` becomes its ID. Everything else is copied byte for byte.
fn replace_principals(text: &str, map: &[(&str, &str)]) -> String {
    /// One open JSON container: whether it lies inside a principal element, and (objects) the last key.
    struct Frame {
        principal: bool,
        object: bool,
        key: Option<String>,
        expect_key: bool,
    }
    let mut out = String::with_capacity(text.len());
    let mut stack: Vec<Frame> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let start = i;
                i += 1;
                while let Some(&c) = bytes.get(i)
                    && c != b'"'
                {
                    i += if c == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(bytes.len());
                let raw = text.get(start..end).unwrap_or_default();
                let value: Option<String> = serde_json::from_str(raw).ok();
                let top = stack.last_mut();
                match top {
                    Some(f) if f.object && f.expect_key => {
                        f.key = value;
                        f.expect_key = false;
                        out.push_str(raw);
                    }
                    Some(f) => {
                        let in_principal = f.principal
                            || (f.object
                                && matches!(f.key.as_deref(), Some("Principal" | "NotPrincipal")));
                        let id = value
                            .as_deref()
                            .filter(|_| in_principal)
                            .and_then(|v| map.iter().find(|(a, _)| *a == v))
                            .map(|(_, id)| *id);
                        match id {
                            Some(id) => {
                                out.push('"');
                                out.push_str(id);
                                out.push('"');
                            }
                            None => out.push_str(raw),
                        }
                    }
                    None => out.push_str(raw),
                }
                i = end;
                continue;
            }
            b'{' | b'[' => {
                let principal = stack.last().is_some_and(|f| {
                    f.principal
                        || (f.object
                            && matches!(f.key.as_deref(), Some("Principal" | "NotPrincipal")))
                });
                stack.push(Frame {
                    principal,
                    object: b == b'{',
                    key: None,
                    expect_key: b == b'{',
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(f) = stack.last_mut()
                    && f.object
                {
                    f.expect_key = true;
                }
            }
            _ => {}
        }
        out.push(char::from(b));
        i += 1;
        // Multi-byte UTF-8 outside strings cannot occur in valid JSON; inside strings it is copied above.
    }
    out
}

pub fn create_role(ctx: &Ctx<'_>, input: w::CreateRoleRequest) -> ApiResult<w::CreateRoleResponse> {
    let name = input.role_name.as_str();
    let path = input.path.unwrap_or_else(|| "/".into());
    let trust_text = input.assume_role_policy_document.as_str();
    let description = input.description;
    let max = input.max_session_duration.unwrap_or(3600);
    let tags = tags_in(input.tags, true)?;
    let boundary = input.permissions_boundary;
    let arn = ctx.arn("role", &path, name);
    let new = entity::New {
        arn: &arn,
        key: name.to_lowercase(),
        taken: format!("Role with name {name} already exists."),
        quota: ("RolesPerAccount", 1000),
    };
    let facts = RequestFacts {
        tags: &tags,
        permissions_boundary: boundary.as_deref(),
        ..RequestFacts::default()
    };
    let build = |st: &State| {
        let trust = compile_trust(st, trust_text)?;
        if let Some(b) = &boundary {
            check_boundary(ctx.account(st)?, b)?;
        }
        Ok(Role {
            name: name.to_string(),
            id: crate::ids::unique_id("AROA"),
            path: path.clone(),
            created: ctx.now,
            trust,
            description: description.clone(),
            max_session_duration: u32::try_from(max).unwrap_or(3600),
            boundary: boundary.clone(),
            tags: tags.clone(),
            inline: Default::default(),
            attached: Vec::new(),
        })
    };
    let role =
        entity::create::<Roles, _>(ctx, "iam:CreateRole", &new, &facts, build, |st, acct, r| {
            Ok(wire_role(st, acct, r, &RoleView::Created))
        })?;
    Ok(w::CreateRoleResponse { role })
}

pub fn get_role(ctx: &Ctx<'_>, input: w::GetRoleRequest) -> ApiResult<w::GetRoleResponse> {
    let name = input.role_name.as_str();
    let st = ctx.node.read()?;
    let (acct, r) = entity::read::<Roles>(ctx, &st, "iam:GetRole", name)?;
    let last = crate::usage::role_last_used(&ctx.node.usage, acct, &r.id);
    Ok(w::GetRoleResponse {
        role: wire_role(&st, acct, r, &RoleView::Full(last)),
    })
}

pub fn update_role(ctx: &Ctx<'_>, input: w::UpdateRoleRequest) -> ApiResult<w::UpdateRoleResponse> {
    let name = input.role_name.as_str();
    let description = input.description;
    let max = input.max_session_duration;
    entity::mutate::<Roles, _>(ctx, "iam:UpdateRole", name, |_, r| {
        if let Some(d) = description.clone() {
            r.description = Some(d);
        }
        if let Some(m) = max {
            r.max_session_duration = u32::try_from(m).unwrap_or(3600);
        }
        Ok(())
    })?;
    Ok(w::UpdateRoleResponse {})
}

pub fn update_role_description(
    ctx: &Ctx<'_>,
    input: w::UpdateRoleDescriptionRequest,
) -> ApiResult<w::UpdateRoleDescriptionResponse> {
    let name = input.role_name.as_str();
    let description = input.description;
    let action = "iam:UpdateRoleDescription";
    let role = entity::mutate::<Roles, _>(ctx, action, name, |st, r| {
        r.description = Some(description.clone());
        let acct = ctx.account(st)?;
        let last = crate::usage::role_last_used(&ctx.node.usage, acct, &r.id);
        Ok(wire_role(st, acct, r, &RoleView::Full(last)))
    })?;
    Ok(w::UpdateRoleDescriptionResponse { role: Some(role) })
}

pub fn update_assume_role_policy(
    ctx: &Ctx<'_>,
    input: w::UpdateAssumeRolePolicyRequest,
) -> ApiResult<()> {
    let name = input.role_name.as_str();
    let text = input.policy_document.as_str();
    let action = "iam:UpdateAssumeRolePolicy";
    entity::mutate::<Roles, _>(ctx, action, name, |st, r| {
        r.trust = compile_trust(st, text)?;
        Ok(())
    })
}

/// Like [`entity::remove`], and the role's last-use record (kept apart from it) goes in the same transaction.
pub fn delete_role(ctx: &Ctx<'_>, input: w::DeleteRoleRequest) -> ApiResult<()> {
    let name = input.role_name.as_str();
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:DeleteRole", &Roles::arn(ctx, acct, name))?;
        let r = Roles::find(acct, name)?;
        check_modifiable(r)?;
        if acct.instance_profiles_of(&r.id).next().is_some() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        if !r.inline.is_empty() || !r.attached.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        let usage = crate::model::usage_key(&r.id);
        let acct = ctx.account_mut(st)?;
        acct.roles.remove(&name.to_lowercase());
        t.touch(Kind::Role, &ctx.caller.account, name);
        if acct.usage.remove(&usage).is_some() {
            t.touch(Kind::Usage, &ctx.caller.account, &usage);
        }
        Ok(())
    })
}

pub fn list_roles(ctx: &Ctx<'_>, input: w::ListRolesRequest) -> ApiResult<w::ListRolesResponse> {
    let prefix = input.path_prefix;
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListRoles", &ctx.arn("role/", "", "*"))?;
    let acct = ctx.account(&st)?;
    let roles: Vec<&Role> = acct
        .roles
        .values()
        .filter(|r| path_matches(&r.path, prefix.as_deref()))
        .collect();
    let (page, next) = paginate(roles, marker.as_deref(), max)?;
    Ok(w::ListRolesResponse {
        roles: page
            .iter()
            .map(|r| wire_role(&st, acct, r, &RoleView::List))
            .collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

tagging::actions!(Roles, case_insensitive: true, role_name;
    tag_role(TagRoleRequest), untag_role(UntagRoleRequest), list_role_tags(ListRoleTagsRequest) -> ListRoleTagsResponse);

pub fn put_role_permissions_boundary(
    ctx: &Ctx<'_>,
    input: w::PutRolePermissionsBoundaryRequest,
) -> ApiResult<()> {
    let arn = input.permissions_boundary.as_str();
    let facts = RequestFacts {
        permissions_boundary: Some(arn),
        ..RequestFacts::default()
    };
    let action = "iam:PutRolePermissionsBoundary";
    entity::mutate_request::<Roles, _>(ctx, action, &input.role_name, &facts, |st, r| {
        check_boundary(ctx.account(st)?, arn)?;
        r.boundary = Some(arn.to_string());
        Ok(())
    })
}

pub fn delete_role_permissions_boundary(
    ctx: &Ctx<'_>,
    input: w::DeleteRolePermissionsBoundaryRequest,
) -> ApiResult<()> {
    let name = input.role_name.as_str();
    let action = "iam:DeleteRolePermissionsBoundary";
    entity::mutate::<Roles, _>(ctx, action, name, |_, r| {
        if r.boundary.take().is_none() {
            return Err(ApiError::no_such_entity(format!(
                "The role with name {name} has no permissions boundary."
            )));
        }
        Ok(())
    })
}

#[cfg(test)]
mod trust_display_tests {
    use super::replace_principals;

    #[test]
    fn only_principal_values_are_replaced() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:root"]},
            "Action":"sts:AssumeRole",
            "Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:TagSession"}]}"#;
        let out = replace_principals(
            doc,
            &[(
                "arn:aws:iam::111122223333:user/bob",
                "AIDAEXAMPLEBOB0000001",
            )],
        );
        assert_eq!(out.matches("AIDAEXAMPLEBOB0000001").count(), 2);
        assert_eq!(out.matches("arn:aws:iam::111122223333:user/bob").count(), 1);
        assert!(out.contains(r#""aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob""#));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["Statement"][1]["Principal"]["AWS"],
            "AIDAEXAMPLEBOB0000001"
        );
        // Escaped slashes and non-ASCII text elsewhere survive untouched.
        let doc2 = r#"{"Statement":{"Sid":"\u00e9t\u00e9","Principal":{"AWS":"arn:aws:iam::1:user\/bob"},"Action":"x"}}"#;
        let out2 = replace_principals(doc2, &[("arn:aws:iam::1:user/bob", "AIDAX")]);
        assert!(out2.contains(r#""AWS":"AIDAX""#), "{out2}");
        assert!(out2.contains(r#""Sid":"\u00e9t\u00e9""#));
    }
}
