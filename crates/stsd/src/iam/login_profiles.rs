//! Console passwords as IAM has them: login profiles (`CreateLoginProfile` … `DeleteLoginProfile`),
//! `ChangePassword`, and the account password policy. Passwords are kept only as argon2id hashes (memory-hard,
//! so a stolen store is slow to attack); the previous hashes are kept as far back as `PasswordReusePrevention`
//! asks. Without an account policy, new passwords follow AWS's default rules (at least 8 characters and three
//! of the four character kinds). The root has no login profile in stsd: it signs in to the console with its
//! access key pair (`crate::console`).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use stsd_wire::generated::iam as w;

use super::Ctx;
use super::absent_credentials::subject;
use super::entity::{self, Entity};
use super::users::{Users, no_user};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::CallerKind;
use crate::model::{LoginProfile, PasswordPolicy, User};
use crate::store::Kind;

/// The symbols AWS counts for `RequireSymbols` and the default rules.
const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";
/// How many earlier passwords are ever kept (the largest `PasswordReusePrevention`).
const MAX_HISTORY: usize = 24;

/// The argon2id PHC string of `password` (fresh random salt, the crate's default cost: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal())
}

/// Whether `password` matches the PHC string `hash` (the comparison inside argon2 is constant-time). A stored
/// hash that does not parse matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn violation(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PasswordPolicyViolation,
        format!("Password does not conform to the account password policy: {why}."),
    )
}

/// Check a new password against the account's policy (or AWS's default rules when there is none) and the
/// user's earlier passwords.
pub fn check_password(
    policy: Option<&PasswordPolicy>,
    password: &str,
    user_name: &str,
    earlier: &[&str],
) -> ApiResult<()> {
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let number = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password.chars().any(|c| SYMBOLS.contains(c));
    let len = password.chars().count();
    match policy {
        None => {
            if len < 8 {
                return Err(violation("Password should have a minimum length of 8"));
            }
            let kinds = [upper, lower, number, symbol]
                .iter()
                .filter(|k| **k)
                .count();
            if kinds < 3 {
                return Err(violation(
                    "Password should include at least three of: uppercase letters, lowercase letters, numbers, symbols",
                ));
            }
            if password.eq_ignore_ascii_case(user_name) {
                return Err(violation("Password must differ from the user name"));
            }
        }
        Some(pp) => {
            if len < usize::try_from(pp.minimum_length).unwrap_or(usize::MAX) {
                return Err(violation(&format!(
                    "Password should have a minimum length of {}",
                    pp.minimum_length
                )));
            }
            if pp.require_uppercase && !upper {
                return Err(violation(
                    "Password should have at least one uppercase letter",
                ));
            }
            if pp.require_lowercase && !lower {
                return Err(violation(
                    "Password should have at least one lowercase letter",
                ));
            }
            if pp.require_numbers && !number {
                return Err(violation("Password should have at least one number"));
            }
            if pp.require_symbols && !symbol {
                return Err(violation("Password should have at least one symbol"));
            }
            if let Some(n) = pp.reuse_prevention {
                let n = usize::try_from(n).unwrap_or(MAX_HISTORY);
                if earlier.iter().take(n).any(|h| verify_password(h, password)) {
                    return Err(violation(&format!(
                        "Password must not be one of the previous {n} passwords"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Whether the user's password has expired under the account policy at `now`.
pub fn expired(policy: Option<&PasswordPolicy>, profile: &LoginProfile, now: i64) -> bool {
    policy
        .and_then(|p| p.max_age_days)
        .is_some_and(|days| now >= profile.changed + i64::from(days) * 86_400)
}

fn no_login_profile(user: &str) -> ApiError {
    ApiError::no_such_entity(format!("Login Profile for User {user} cannot be found."))
}

fn wire_profile(user: &str, lp: &LoginProfile) -> w::LoginProfile {
    w::LoginProfile {
        user_name: user.to_string(),
        create_date: lp.created,
        password_reset_required: Some(lp.reset_required),
    }
}

/// Set `user`'s password to `password` (already checked), keeping the old hash for reuse prevention.
fn set_password(u: &mut User, hash: String, reset_required: Option<bool>, now: i64) {
    match &mut u.login_profile {
        Some(lp) => {
            let old = std::mem::replace(&mut lp.hash, hash);
            lp.history.insert(0, old);
            lp.history.truncate(MAX_HISTORY);
            lp.changed = now;
            if let Some(r) = reset_required {
                lp.reset_required = r;
            }
        }
        None => {
            u.login_profile = Some(LoginProfile {
                created: now,
                changed: now,
                hash,
                reset_required: reset_required.unwrap_or(false),
                history: Vec::new(),
            });
        }
    }
}

fn earlier_hashes(lp: Option<&LoginProfile>) -> Vec<&str> {
    lp.map(|lp| {
        std::iter::once(lp.hash.as_str())
            .chain(lp.history.iter().map(String::as_str))
            .collect()
    })
    .unwrap_or_default()
}

/// Hash outside the state lock: argon2 takes tens of milliseconds on purpose.
fn prepare_hash(password: &str) -> ApiResult<String> {
    hash_password(password)
}

pub fn create_login_profile(
    ctx: &Ctx<'_>,
    input: w::CreateLoginProfileRequest,
) -> ApiResult<w::CreateLoginProfileResponse> {
    // The model makes both optional (AWS's root-console variant); stsd's root has no login profile.
    let name = input
        .user_name
        .as_deref()
        .ok_or_else(|| ApiError::missing("userName"))?;
    let password = input
        .password
        .as_deref()
        .ok_or_else(|| ApiError::missing("password"))?;
    let reset = input.password_reset_required.unwrap_or(false);
    let hash = prepare_hash(password)?;
    let action = "iam:CreateLoginProfile";
    entity::mutate::<Users, _>(ctx, action, name, |st, u| {
        if u.login_profile.is_some() {
            return Err(ApiError::already_exists(format!(
                "Login Profile for user {} already exists.",
                u.name
            )));
        }
        let policy = ctx.account(st)?.meta.password_policy.as_ref();
        check_password(policy, password, &u.name, &[])?;
        set_password(u, hash.clone(), Some(reset), ctx.now);
        let lp = u.login_profile.as_ref().ok_or_else(ApiError::internal)?;
        Ok(w::CreateLoginProfileResponse {
            login_profile: wire_profile(&u.name, lp),
        })
    })
}

pub fn get_login_profile(
    ctx: &Ctx<'_>,
    input: w::GetLoginProfileRequest,
) -> ApiResult<w::GetLoginProfileResponse> {
    let Some(user) = subject(ctx, input.user_name.as_deref(), "iam:GetLoginProfile")? else {
        return Err(no_login_profile("root"));
    };
    let st = ctx.node.read()?;
    let u = Users::find(ctx.account(&st)?, &user)?;
    let lp = u
        .login_profile
        .as_ref()
        .ok_or_else(|| no_login_profile(&u.name))?;
    Ok(w::GetLoginProfileResponse {
        login_profile: wire_profile(&u.name, lp),
    })
}

pub fn update_login_profile(ctx: &Ctx<'_>, input: w::UpdateLoginProfileRequest) -> ApiResult<()> {
    let name = input.user_name.as_str();
    let password = input.password.as_deref();
    let reset = input.password_reset_required;
    let hash = password.map(prepare_hash).transpose()?;
    let action = "iam:UpdateLoginProfile";
    entity::mutate::<Users, _>(ctx, action, name, |st, u| {
        let lp = u
            .login_profile
            .as_ref()
            .ok_or_else(|| no_login_profile(&u.name))?;
        if let Some(pw) = password {
            let policy = ctx.account(st)?.meta.password_policy.as_ref();
            check_password(policy, pw, &u.name, &earlier_hashes(Some(lp)))?;
        }
        match &hash {
            Some(h) => set_password(u, h.clone(), reset, ctx.now),
            None => {
                if let (Some(lp), Some(r)) = (u.login_profile.as_mut(), reset) {
                    lp.reset_required = r;
                }
            }
        }
        Ok(())
    })
}

pub fn delete_login_profile(ctx: &Ctx<'_>, input: w::DeleteLoginProfileRequest) -> ApiResult<()> {
    let Some(user) = subject(ctx, input.user_name.as_deref(), "iam:DeleteLoginProfile")? else {
        return Err(no_login_profile("root"));
    };
    ctx.node.write(|st, t| {
        let u = Users::find_mut(ctx.account_mut(st)?, &user)?;
        if u.login_profile.take().is_none() {
            return Err(no_login_profile(&u.name));
        }
        t.touch(Kind::User, &ctx.caller.account, &user);
        Ok(())
    })
}

/// An IAM user changes their own password: the old one must match. Allowed by the account policy's
/// `AllowUsersToChangePassword`, or else by `iam:ChangePassword` on the user.
pub fn change_password(ctx: &Ctx<'_>, input: w::ChangePasswordRequest) -> ApiResult<()> {
    let old = input.old_password.as_str();
    let new = input.new_password.as_str();
    let CallerKind::User { key, name } = &ctx.caller.kind else {
        return Err(ApiError::new(
            ErrorCode::InvalidUserType,
            "Only IAM users can change their own password.",
        ));
    };
    let hash = prepare_hash(new)?;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        let allowed_by_policy = acct
            .meta
            .password_policy
            .as_ref()
            .is_some_and(|pp| pp.allow_users_to_change);
        if !allowed_by_policy {
            ctx.authorize(st, "iam:ChangePassword", &Users::arn(ctx, acct, name))?;
        }
        let u = acct.users.get(key).ok_or_else(|| no_user(name))?;
        if u.id != ctx.caller.user_id {
            return Err(no_user(name));
        }
        let lp = u
            .login_profile
            .as_ref()
            .ok_or_else(|| no_login_profile(&u.name))?;
        if !verify_password(&lp.hash, old) {
            return Err(ApiError::access_denied(
                "The old password you provided is incorrect.",
            ));
        }
        check_password(
            acct.meta.password_policy.as_ref(),
            new,
            &u.name,
            &earlier_hashes(Some(lp)),
        )?;
        let acct = ctx.account_mut(st)?;
        let u = acct.users.get_mut(key).ok_or_else(|| no_user(name))?;
        set_password(u, hash.clone(), Some(false), ctx.now);
        t.touch(Kind::User, &ctx.caller.account, key);
        Ok(())
    })
}

pub fn update_account_password_policy(
    ctx: &Ctx<'_>,
    input: w::UpdateAccountPasswordPolicyRequest,
) -> ApiResult<()> {
    // Ranges are the model's (6..=128, 1..=1095, 1..=24).
    let policy = PasswordPolicy {
        minimum_length: input
            .minimum_password_length
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(6),
        require_symbols: input.require_symbols.unwrap_or(false),
        require_numbers: input.require_numbers.unwrap_or(false),
        require_uppercase: input.require_uppercase_characters.unwrap_or(false),
        require_lowercase: input.require_lowercase_characters.unwrap_or(false),
        allow_users_to_change: input.allow_users_to_change_password.unwrap_or(false),
        max_age_days: input.max_password_age.and_then(|n| u32::try_from(n).ok()),
        reuse_prevention: input
            .password_reuse_prevention
            .and_then(|n| u32::try_from(n).ok()),
        hard_expiry: input.hard_expiry.unwrap_or(false),
    };
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:UpdateAccountPasswordPolicy", "*")?;
        ctx.account_mut(st)?.meta.password_policy = Some(policy.clone());
        t.touch(Kind::Account, &ctx.caller.account, &ctx.caller.account);
        Ok(())
    })
}

fn no_password_policy(account: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "The Password Policy with domain name {account} cannot be found."
    ))
}

pub fn get_account_password_policy(
    ctx: &Ctx<'_>,
    _input: w::GetAccountPasswordPolicyRequest,
) -> ApiResult<w::GetAccountPasswordPolicyResponse> {
    let st = ctx.node.read()?;
    ctx.authorize(&st, "iam:GetAccountPasswordPolicy", "*")?;
    let acct = ctx.account(&st)?;
    let pp = acct
        .meta
        .password_policy
        .as_ref()
        .ok_or_else(|| no_password_policy(&ctx.caller.account))?;
    Ok(w::GetAccountPasswordPolicyResponse {
        password_policy: w::PasswordPolicy {
            minimum_password_length: Some(i64::from(pp.minimum_length)),
            require_symbols: Some(pp.require_symbols),
            require_numbers: Some(pp.require_numbers),
            require_uppercase_characters: Some(pp.require_uppercase),
            require_lowercase_characters: Some(pp.require_lowercase),
            allow_users_to_change_password: Some(pp.allow_users_to_change),
            expire_passwords: Some(pp.max_age_days.is_some()),
            max_password_age: pp.max_age_days.map(i64::from),
            password_reuse_prevention: pp.reuse_prevention.map(i64::from),
            hard_expiry: Some(pp.hard_expiry),
        },
    })
}

pub fn delete_account_password_policy(
    ctx: &Ctx<'_>,
    _input: w::DeleteAccountPasswordPolicyRequest,
) -> ApiResult<()> {
    ctx.node.write(|st, t| {
        ctx.authorize(st, "iam:DeleteAccountPasswordPolicy", "*")?;
        let acct = ctx.account_mut(st)?;
        if acct.meta.password_policy.take().is_none() {
            return Err(ApiError::no_such_entity(
                "The account policy with name PasswordPolicy cannot be found.",
            ));
        }
        t.touch(Kind::Account, &ctx.caller.account, &ctx.caller.account);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("Corr3ct-horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "Corr3ct-horse"));
        assert!(!verify_password(&h, "corr3ct-horse"));
        assert!(!verify_password("not a hash", "Corr3ct-horse"));
    }

    #[test]
    fn default_rules_want_eight_characters_of_three_kinds() {
        assert!(check_password(None, "Ab1!", "u", &[]).is_err());
        let e = check_password(None, "abcdefgh1", "u", &[]).unwrap_err();
        assert_eq!(e.code, ErrorCode::PasswordPolicyViolation);
        assert!(check_password(None, "Abcdefgh1", "u", &[]).is_ok());
    }

    #[test]
    fn policy_rules_and_reuse_prevention() {
        let pp = PasswordPolicy {
            minimum_length: 10,
            require_symbols: true,
            require_numbers: false,
            require_uppercase: false,
            require_lowercase: true,
            allow_users_to_change: true,
            max_age_days: Some(1),
            reuse_prevention: Some(1),
            hard_expiry: false,
        };
        assert!(check_password(Some(&pp), "short!", "u", &[]).is_err());
        assert!(check_password(Some(&pp), "longenough", "u", &[]).is_err());
        assert!(check_password(Some(&pp), "longenough!", "u", &[]).is_ok());
        let h = hash_password("longenough!").unwrap();
        let e = check_password(Some(&pp), "longenough!", "u", &[h.as_str()]).unwrap_err();
        assert!(e.message.contains("previous 1"));
        let lp = LoginProfile {
            created: 0,
            changed: 0,
            hash: h,
            reset_required: false,
            history: vec![],
        };
        assert!(!expired(Some(&pp), &lp, 86_399));
        assert!(expired(Some(&pp), &lp, 86_400));
        assert!(!expired(None, &lp, i64::MAX / 2));
    }
}
