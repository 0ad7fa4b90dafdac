//! Account-level actions: GetAccountAuthorizationDetails, GetAccountSummary, account aliases, and stsd's own
//! `CreateAccount` extension (management-account root only) behind `stsd account create`.

use super::{fmt_time, paginate, write_boundary, write_paging, write_policy, write_tags, Ctx};
use crate::auth::CallerKind;
use crate::error::{ApiError, ApiResult};
use crate::model::{AccessKey, Account, AccountMeta, Doc, KeyStatus};
use crate::protocol::query::Params;
use crate::protocol::url_encode_policy;
use crate::protocol::xml::Xml;
use crate::state::{State, Touched};
use crate::store::Kind;
use crate::validate as v;

fn write_inline(x: &mut Xml, tag: &str, inline: &std::collections::BTreeMap<String, Doc>) {
    let items: Vec<(&String, &Doc)> = inline.iter().collect();
    x.list(tag, &items, |x, (n, d)| {
        x.elem("PolicyName", n)
            .elem("PolicyDocument", &url_encode_policy(&d.text));
    });
}

fn write_attached(x: &mut Xml, acct: &Account, attached: &[String]) {
    let items: Vec<(String, &String)> = attached
        .iter()
        .map(|a| {
            (
                acct.policy_by_arn(a)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                a,
            )
        })
        .collect();
    x.list("AttachedManagedPolicies", &items, |x, (n, a)| {
        x.elem("PolicyName", n).elem("PolicyArn", a);
    });
}

enum Detail<'a> {
    User(&'a crate::model::User),
    Group(&'a crate::model::Group),
    Role(&'a crate::model::Role),
    Policy(&'a crate::model::ManagedPolicy),
}

pub fn get_account_authorization_details(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let filter = p.list("Filter")?.unwrap_or_default();
    for f in &filter {
        if ![
            "User",
            "Role",
            "Group",
            "LocalManagedPolicy",
            "AWSManagedPolicy",
        ]
        .contains(&f.as_str())
        {
            return Err(ApiError::validation(
                f,
                "filter.member",
                "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]",
            ));
        }
    }
    let want = |k: &str| filter.is_empty() || filter.iter().any(|f| f == k);
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
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
    let mut x = Xml::new();
    x.list("UserDetailList", &users, |x, u| {
        x.elem("Path", &u.path)
            .elem("UserName", &u.name)
            .elem("UserId", &u.id)
            .elem("Arn", &acct.user_arn(u))
            .elem("CreateDate", &fmt_time(u.created));
        write_inline(x, "UserPolicyList", &u.inline);
        x.str_list("GroupList", u.groups.iter().map(String::as_str));
        write_attached(x, acct, &u.attached);
        write_boundary(x, u.boundary.as_deref());
        write_tags(x, &u.tags);
    });
    x.list("GroupDetailList", &groups, |x, g| {
        x.elem("Path", &g.path)
            .elem("GroupName", &g.name)
            .elem("GroupId", &g.id)
            .elem("Arn", &acct.group_arn(g))
            .elem("CreateDate", &fmt_time(g.created));
        write_inline(x, "GroupPolicyList", &g.inline);
        write_attached(x, acct, &g.attached);
    });
    x.list("RoleDetailList", &roles, |x, r| {
        x.elem("Path", &r.path)
            .elem("RoleName", &r.name)
            .elem("RoleId", &r.id)
            .elem("Arn", &acct.role_arn(r))
            .elem("CreateDate", &fmt_time(r.created))
            .elem(
                "AssumeRolePolicyDocument",
                &url_encode_policy(&super::roles::trust_for_display(&st, &r.trust)),
            );
        let profiles: Vec<_> = acct.instance_profiles_of(&r.id).collect();
        x.list("InstanceProfileList", &profiles, |x, ip| {
            super::instance_profiles::write_profile(x, &st, acct, ip, true);
        });
        write_inline(x, "RolePolicyList", &r.inline);
        write_attached(x, acct, &r.attached);
        write_boundary(x, r.boundary.as_deref());
        write_tags(x, &r.tags);
        let last = crate::usage::role_last_used(ctx.app, acct, &r.id);
        super::write_role_last_used(x, last.as_ref());
    });
    x.list("Policies", &pols, |x, pol| {
        write_policy(x, acct, pol, false);
        x.list("PolicyVersionList", &pol.versions, |x, ver| {
            x.elem("Document", &url_encode_policy(&ver.doc.text))
                .elem("VersionId", &ver.id)
                .boolean("IsDefaultVersion", ver.id == pol.default_version)
                .elem("CreateDate", &fmt_time(ver.created));
        });
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn get_account_summary(ctx: &Ctx<'_>, _p: &Params) -> ApiResult<Option<String>> {
    let st = ctx.app.read()?;
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
    let mut x = Xml::new();
    x.open("SummaryMap");
    for (k, n) in entries {
        x.open("entry")
            .elem("key", k)
            .num("value", n)
            .close("entry");
    }
    x.close("SummaryMap");
    Ok(Some(x.finish()))
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
    app: &crate::app::App,
    id: &str,
    key: Option<(String, String)>,
) -> ApiResult<AccessKey> {
    let now = app.clock.now();
    app.write(|st, t| insert_account(st, t, id, "management", now, key.clone()))
}

/// `Action=CreateAccount&Version=2010-05-08&AccountName=…[&AccountId=…]` — stsd extension.
pub fn create_account(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    if ctx.caller.kind != CallerKind::Root || ctx.caller.account != ctx.app.management_account {
        return Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: stsd:CreateAccount because only the management account root may create accounts",
            ctx.caller.arn
        )));
    }
    let name = p.required("AccountName")?;
    if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            name,
            "accountName",
            "Member must have length less than or equal to 50",
        ));
    }
    let id = match p.get("AccountId") {
        Some(id) => {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::validation(
                    id,
                    "accountId",
                    "Member must satisfy regular expression pattern: \\d{12}",
                ));
            }
            id.to_string()
        }
        None => {
            let st = ctx.app.read()?;
            loop {
                let id = crate::ids::account_id();
                if !st.accounts.contains_key(&id) {
                    break id;
                }
            }
        }
    };
    let key = ctx
        .app
        .write(|st, t| insert_account(st, t, &id, name, ctx.now, None))?;
    let mut x = Xml::new();
    x.elem("AccountId", &id)
        .elem("AccessKeyId", &key.id)
        .elem("SecretAccessKey", &key.secret);
    Ok(Some(x.finish()))
}

/// `Action=RotateTokenKeys&Version=2010-05-08` — stsd extension behind `stsd keys rotate`: new session tokens
/// are sealed with a fresh key; tokens sealed with older keys stay valid until they expire, and a retired key
/// is dropped once the longest possible session sealed with it has ended.
pub fn rotate_token_keys(ctx: &Ctx<'_>, _p: &Params) -> ApiResult<Option<String>> {
    if ctx.caller.kind != CallerKind::Root
        || ctx.caller.account != ctx.app.management_account
        || ctx.caller.is_session()
    {
        return Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: stsd:RotateTokenKeys because only the management account root may rotate token keys",
            ctx.caller.arn
        )));
    }
    let store = ctx.app.store();
    let (new_id, kept) = crate::tokens::KeyRing::rotate(store, ctx.now).map_err(|e| {
        tracing::error!(error = %e, "token key rotation failed");
        ApiError::internal()
    })?;
    ctx.app
        .tokens
        .reload(store, ctx.now)
        .map_err(|_| ApiError::internal())?;
    let ids: Vec<String> = kept.iter().map(u32::to_string).collect();
    let mut x = Xml::new();
    x.num("ActiveKeyId", new_id);
    x.str_list("KeyIds", ids.iter().map(String::as_str));
    Ok(Some(x.finish()))
}

/// `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$` (3..63 characters), and not all digits (an account ID).
fn alias_param(p: &Params) -> ApiResult<&str> {
    let a = p.required("AccountAlias")?;
    let n = a.chars().count();
    if n < 3 {
        return Err(ApiError::validation(
            a,
            "accountAlias",
            "Member must have length greater than or equal to 3",
        ));
    }
    if n > 63 {
        return Err(ApiError::validation(
            a,
            "accountAlias",
            "Member must have length less than or equal to 63",
        ));
    }
    let allowed = a
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !allowed || a.starts_with('-') || a.ends_with('-') || a.contains("--") {
        return Err(ApiError::validation(
            a,
            "accountAlias",
            "Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$",
        ));
    }
    if a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_input(
            "The account alias cannot consist only of digits.",
        ));
    }
    Ok(a)
}

/// `CreateAccountAlias`: an account has at most one alias and a new one replaces it (AWS: "the new alias
/// overwrites the previous alias"); an alias belongs to one account among all this server hosts.
pub fn create_account_alias(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let alias = alias_param(p)?;
    ctx.app.write(|st, t| {
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
        Ok(None)
    })
}

pub fn delete_account_alias(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let alias = alias_param(p)?;
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:DeleteAccountAlias", "*")?;
        let acct = ctx.account_mut(st)?;
        if acct.meta.alias.as_deref() != Some(alias) {
            return Err(ApiError::no_such_entity(format!(
                "The account alias {alias} cannot be found."
            )));
        }
        acct.meta.alias = None;
        t.touch(Kind::Account, &ctx.caller.account, &ctx.caller.account);
        Ok(None)
    })
}

pub fn list_account_aliases(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListAccountAliases", "*")?;
    let acct = ctx.account(&st)?;
    let aliases: Vec<&str> = acct.meta.alias.as_deref().into_iter().collect();
    let (page, next) = paginate(aliases, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.str_list("AccountAliases", page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}
