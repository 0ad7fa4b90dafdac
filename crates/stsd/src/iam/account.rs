//! Account-level actions: GetAccountAuthorizationDetails, GetAccountSummary, account aliases, and stsd's own
//! `CreateAccount` extension (management-account root only) behind `stsd account create`.

use stsd_wire::generated::iam as w;

use super::{paginate, wire_boundary, wire_policy, wire_tag_list, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::identity::CallerKind;
use crate::model::{AccessKey, Account, AccountMeta, Doc, KeyStatus};
use crate::protocol::url_encode_policy;
use crate::state::{State, Touched};
use crate::store::Kind;

fn wire_inline(inline: &std::collections::BTreeMap<String, Doc>) -> Option<Vec<w::PolicyDetail>> {
    Some(
        inline
            .iter()
            .map(|(n, d)| w::PolicyDetail {
                policy_name: Some(n.clone()),
                policy_document: Some(url_encode_policy(&d.text)),
            })
            .collect(),
    )
}

fn wire_attached(acct: &Account, attached: &[String]) -> Option<Vec<w::AttachedPolicy>> {
    Some(
        attached
            .iter()
            .map(|a| w::AttachedPolicy {
                policy_name: Some(
                    acct.policy_by_arn(a)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                ),
                policy_arn: Some(a.clone()),
            })
            .collect(),
    )
}

enum Detail<'a> {
    User(&'a crate::model::User),
    Group(&'a crate::model::Group),
    Role(&'a crate::model::Role),
    Policy(&'a crate::model::ManagedPolicy),
}

pub fn get_account_authorization_details(
    ctx: &Ctx<'_>,
    input: w::GetAccountAuthorizationDetailsRequest,
) -> ApiResult<w::GetAccountAuthorizationDetailsResponse> {
    // The model's enum has checked every filter value.
    let filter = input.filter.unwrap_or_default();
    let want = |k: &str| filter.is_empty() || filter.iter().any(|f| f == k);
    let (marker, max) = (input.marker, super::page_size(input.max_items));
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetAccountAuthorizationDetails", "*")?;
    let acct = ctx.account(&st)?;
    let mut items = Vec::new();
    if want("User") {
        items.extend(acct.users.values().map(Detail::User));
    }
    if want("Group") {
        items.extend(acct.groups.values().map(Detail::Group));
    }
    if want("Role") {
        items.extend(acct.roles.values().map(Detail::Role));
    }
    if want("LocalManagedPolicy") {
        items.extend(acct.policies.values().map(Detail::Policy));
    }
    let (page, next) = paginate(items, marker.as_deref(), max)?;
    let users: Vec<_> = page
        .iter()
        .filter_map(|d| {
            if let Detail::User(u) = d {
                Some(*u)
            } else {
                None
            }
        })
        .collect();
    let groups: Vec<_> = page
        .iter()
        .filter_map(|d| {
            if let Detail::Group(g) = d {
                Some(*g)
            } else {
                None
            }
        })
        .collect();
    let roles: Vec<_> = page
        .iter()
        .filter_map(|d| {
            if let Detail::Role(r) = d {
                Some(*r)
            } else {
                None
            }
        })
        .collect();
    let pols: Vec<_> = page
        .iter()
        .filter_map(|d| {
            if let Detail::Policy(p) = d {
                Some(*p)
            } else {
                None
            }
        })
        .collect();
    let user_details = users
        .iter()
        .map(|u| w::UserDetail {
            path: Some(u.path.clone()),
            user_name: Some(u.name.clone()),
            user_id: Some(u.id.clone()),
            arn: Some(acct.user_arn(u)),
            create_date: Some(u.created),
            user_policy_list: wire_inline(&u.inline),
            group_list: Some(u.groups.clone()),
            attached_managed_policies: wire_attached(acct, &u.attached),
            permissions_boundary: wire_boundary(u.boundary.as_deref()),
            tags: Some(wire_tag_list(&u.tags)),
        })
        .collect();
    let group_details = groups
        .iter()
        .map(|g| w::GroupDetail {
            path: Some(g.path.clone()),
            group_name: Some(g.name.clone()),
            group_id: Some(g.id.clone()),
            arn: Some(acct.group_arn(g)),
            create_date: Some(g.created),
            group_policy_list: wire_inline(&g.inline),
            attached_managed_policies: wire_attached(acct, &g.attached),
        })
        .collect();
    let role_details = roles
        .iter()
        .map(|r| {
            let last = crate::usage::role_last_used(&ctx.node.usage, acct, &r.id);
            w::RoleDetail {
                path: Some(r.path.clone()),
                role_name: Some(r.name.clone()),
                role_id: Some(r.id.clone()),
                arn: Some(acct.role_arn(r)),
                create_date: Some(r.created),
                assume_role_policy_document: Some(url_encode_policy(
                    &super::roles::trust_for_display(&st, &r.trust),
                )),
                instance_profile_list: Some(
                    acct.instance_profiles_of(&r.id)
                        .map(|ip| super::instance_profiles::wire_profile(&st, acct, ip, true))
                        .collect(),
                ),
                role_policy_list: wire_inline(&r.inline),
                attached_managed_policies: wire_attached(acct, &r.attached),
                permissions_boundary: wire_boundary(r.boundary.as_deref()),
                tags: Some(wire_tag_list(&r.tags)),
                // Always present, empty when the role was never used.
                role_last_used: Some(w::RoleLastUsed {
                    last_used_date: last.as_ref().map(|u| u.date),
                    region: last.as_ref().map(|u| u.region.clone()),
                }),
            }
        })
        .collect();
    let policies = pols
        .iter()
        .map(|pol| {
            let p = wire_policy(acct, pol, false);
            w::ManagedPolicyDetail {
                policy_name: p.policy_name,
                policy_id: p.policy_id,
                arn: p.arn,
                path: p.path,
                default_version_id: p.default_version_id,
                attachment_count: p.attachment_count,
                permissions_boundary_usage_count: p.permissions_boundary_usage_count,
                is_attachable: p.is_attachable,
                description: p.description,
                create_date: p.create_date,
                update_date: p.update_date,
                policy_version_list: Some(
                    pol.versions
                        .iter()
                        .map(|ver| w::PolicyVersion {
                            document: Some(url_encode_policy(&ver.doc.text)),
                            version_id: Some(ver.id.clone()),
                            is_default_version: Some(ver.id == pol.default_version),
                            create_date: Some(ver.created),
                        })
                        .collect(),
                ),
            }
        })
        .collect();
    Ok(w::GetAccountAuthorizationDetailsResponse {
        user_detail_list: Some(user_details),
        group_detail_list: Some(group_details),
        role_detail_list: Some(role_details),
        policies: Some(policies),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn get_account_summary(
    ctx: &Ctx<'_>,
    _input: w::GetAccountSummaryRequest,
) -> ApiResult<w::GetAccountSummaryResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetAccountSummary", "*")?;
    let acct = ctx.account(&st)?;
    let entries: Vec<(&str, usize)> = vec![
        ("Users", acct.users.len()),
        ("UsersQuota", 5000),
        ("Groups", acct.groups.len()),
        ("GroupsQuota", 300),
        ("Roles", acct.roles.len()),
        ("RolesQuota", 1000),
        ("Policies", acct.policies.len()),
        ("PoliciesQuota", 1500),
        ("PolicySizeQuota", 6144),
        (
            "PolicyVersionsInUse",
            acct.policies.values().map(|p| p.versions.len()).sum(),
        ),
        ("PolicyVersionsInUseQuota", 10000),
        ("VersionsPerPolicyQuota", 5),
        ("UserPolicySizeQuota", 2048),
        ("GroupPolicySizeQuota", 5120),
        ("RolePolicySizeQuota", 10240),
        ("AssumeRolePolicySizeQuota", 2048),
        ("AccessKeysPerUserQuota", 2),
        ("AttachedPoliciesPerUserQuota", 10),
        ("AttachedPoliciesPerGroupQuota", 10),
        ("AttachedPoliciesPerRoleQuota", 10),
        ("GroupsPerUserQuota", 10),
        (
            "AccountAccessKeysPresent",
            usize::from(!acct.meta.root_keys.is_empty()),
        ),
        (
            "AccountMFAEnabled",
            usize::from(
                acct.mfa_devices
                    .values()
                    .any(|d| d.is_assigned_to(&crate::model::MfaOwner::Root)),
            ),
        ),
        ("MFADevices", acct.mfa_devices.len()),
        (
            "MFADevicesInUse",
            acct.mfa_devices
                .values()
                .filter(|d| d.assigned.is_some())
                .count(),
        ),
        (
            "Providers",
            acct.oidc_providers.len() + acct.saml_providers.len(),
        ),
        ("GlobalEndpointTokenVersion", 1),
        ("InstanceProfiles", acct.instance_profiles.len()),
        (
            "InstanceProfilesQuota",
            super::instance_profiles::MAX_PROFILES,
        ),
        // stsd has no server certificates, signing certificates or console passwords.
        ("ServerCertificates", 0),
        ("ServerCertificatesQuota", 20),
        ("SigningCertificatesPerUserQuota", 2),
        ("AccountPasswordPresent", 0),
        ("AccountSigningCertificatesPresent", 0),
    ];
    // A map on the wire: entries in key order.
    Ok(w::GetAccountSummaryResponse {
        summary_map: Some(
            entries
                .into_iter()
                .map(|(k, n)| (k.to_string(), n.to_string()))
                .collect(),
        ),
    })
}

/// Create an account with one active root key; `key` overrides the generated key (bootstrap from env).
pub fn insert_account(
    st: &mut State,
    t: &mut Touched,
    id: &str,
    name: &str,
    now: i64,
    key: Option<(String, String)>,
) -> ApiResult<AccessKey> {
    if st.accounts.contains_key(id) {
        return Err(ApiError::already_exists(format!(
            "Account {id} already exists."
        )));
    }
    if st.accounts.values().any(|a| a.meta.name == name) {
        return Err(ApiError::already_exists(format!(
            "An account named {name} already exists."
        )));
    }
    let (kid, secret) = key.unwrap_or_else(|| {
        (
            crate::ids::access_key_id(crate::ids::LONG_TERM_PREFIX, id),
            crate::ids::secret_access_key(),
        )
    });
    if st.keys.contains_key(&kid) {
        return Err(ApiError::already_exists(
            "That access key ID is already in use.",
        ));
    }
    let key = AccessKey {
        id: kid,
        secret,
        status: KeyStatus::Active,
        created: now,
    };
    let meta = AccountMeta {
        id: id.to_string(),
        name: name.to_string(),
        created: now,
        root_keys: vec![key.clone()],
        alias: None,
        password_policy: None,
    };
    st.accounts
        .insert(id.to_string(), std::sync::Arc::new(Account::new(meta)));
    t.touch(Kind::Account, id, id);
    Ok(key)
}

/// Bootstrap the management account on first start.
pub fn create_account_for_management(
    app: &crate::node::Node,
    id: &str,
    key: Option<(String, String)>,
) -> ApiResult<AccessKey> {
    let now = app.clock.now();
    app.write(|st, t| insert_account(st, t, id, "management", now, key.clone()))
}

/// `Action=CreateAccount&Version=2010-05-08&AccountName=…[&AccountId=…]` — stsd extension (modeled in
/// `crates/wire/models/stsd-iam-extensions.json`).
pub fn create_account(
    ctx: &Ctx<'_>,
    input: w::CreateAccountRequest,
) -> ApiResult<w::CreateAccountResponse> {
    if ctx.caller.kind != CallerKind::Root || ctx.caller.account != ctx.node.management_account {
        return Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: stsd:CreateAccount because only the management account root may create accounts",
            ctx.caller.arn
        )));
    }
    let id = match input.account_id {
        Some(id) => id,
        None => {
            let st = ctx.node.read()?;
            loop {
                let id = crate::ids::account_id();
                if !st.accounts.contains_key(&id) {
                    break id;
                }
            }
        }
    };
    let key = ctx
        .node
        .write(|st, t| insert_account(st, t, &id, &input.account_name, ctx.now, None))?;
    Ok(w::CreateAccountResponse {
        account_id: id,
        access_key_id: key.id,
        secret_access_key: key.secret,
    })
}

/// `Action=RotateTokenKeys&Version=2010-05-08` — stsd extension behind `stsd keys rotate`: new session tokens
/// are sealed with a fresh key; tokens sealed with older keys stay valid until they expire, and a retired key
/// is dropped once the longest possible session sealed with it has ended.
pub fn rotate_token_keys(
    ctx: &Ctx<'_>,
    _input: w::RotateTokenKeysRequest,
) -> ApiResult<w::RotateTokenKeysResponse> {
    if ctx.caller.kind != CallerKind::Root
        || ctx.caller.account != ctx.node.management_account
        || ctx.caller.is_session()
    {
        return Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: stsd:RotateTokenKeys because only the management account root may rotate token keys",
            ctx.caller.arn
        )));
    }
    let store = ctx.node.store();
    let (new_id, kept) = crate::tokens::KeyRing::rotate(store, ctx.now).map_err(|e| {
        tracing::error!(error = %e, "token key rotation failed");
        ApiError::internal()
    })?;
    ctx.node
        .tokens
        .reload(store, ctx.now)
        .map_err(|_| ApiError::internal())?;
    Ok(w::RotateTokenKeysResponse {
        active_key_id: i64::from(new_id),
        key_ids: kept.iter().map(|k| i64::from(*k)).collect(),
    })
}

/// An alias (its length and pattern checked by the model) that is not all digits (an account ID).
fn check_alias(a: &str) -> ApiResult<&str> {
    if a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_input(
            "The account alias cannot consist only of digits.",
        ));
    }
    Ok(a)
}

/// `CreateAccountAlias`: an account has at most one alias and a new one replaces it (AWS: "the new alias
/// overwrites the previous alias"); an alias belongs to one account among all this server hosts.
pub fn create_account_alias(ctx: &Ctx<'_>, input: w::CreateAccountAliasRequest) -> ApiResult<()> {
    let alias = check_alias(&input.account_alias)?;
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:CreateAccountAlias", "*")?;
        let taken = st
            .accounts
            .values()
            .any(|a| a.id() != ctx.caller.account && a.meta.alias.as_deref() == Some(alias));
        if taken {
            return Err(ApiError::already_exists(format!(
                "The account alias {alias} already exists."
            )));
        }
        let acct = ctx.account_mut(st)?;
        if acct.meta.alias.as_deref() != Some(alias) {
            acct.meta.alias = Some(alias.to_string());
            t.touch(Kind::Account, &ctx.caller.account, &ctx.caller.account);
        }
        Ok(())
    })
}

pub fn delete_account_alias(ctx: &Ctx<'_>, input: w::DeleteAccountAliasRequest) -> ApiResult<()> {
    let alias = check_alias(&input.account_alias)?;
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:DeleteAccountAlias", "*")?;
        let acct = ctx.account_mut(st)?;
        if acct.meta.alias.as_deref() != Some(alias) {
            return Err(ApiError::no_such_entity(format!(
                "The account alias {alias} cannot be found."
            )));
        }
        acct.meta.alias = None;
        t.touch(Kind::Account, &ctx.caller.account, &ctx.caller.account);
        Ok(())
    })
}

pub fn list_account_aliases(
    ctx: &Ctx<'_>,
    input: w::ListAccountAliasesRequest,
) -> ApiResult<w::ListAccountAliasesResponse> {
    let (marker, max) = (input.marker, super::page_size(input.max_items));
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:ListAccountAliases", "*")?;
    let acct = ctx.account(&st)?;
    let aliases: Vec<&str> = acct.meta.alias.as_deref().into_iter().collect();
    let (page, next) = paginate(aliases, marker.as_deref(), max)?;
    Ok(w::ListAccountAliasesResponse {
        account_aliases: page.into_iter().map(str::to_string).collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}
