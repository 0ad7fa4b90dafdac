//! Virtual MFA devices: create, enable (two consecutive codes), resync, deactivate, delete, list, get, tags.
//! TOTP and the replay guard live in [`crate::mfa`]. A device belongs to the account; once enabled it is
//! assigned to a user (or the account root) until deactivated.

use super::users::{no_user, user_arn_for};
use super::{fmt_time, paginate, write_paging, write_tags, write_user, Ctx, Handler, RequestFacts};
use crate::auth::CallerKind;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::mfa as totp;
use crate::model::{Account, MfaAssignment, MfaDevice, MfaOwner};
use crate::protocol::query::{lower_camel, Params};
use crate::protocol::xml::Xml;
use crate::store::Kind;
use crate::validate as v;

/// MFA devices in use per user (and per root).
pub const MAX_DEVICES_PER_USER: usize = 8;
/// Virtual MFA devices per account (the reference §5: same as the user quota).
pub const MAX_DEVICES_PER_ACCOUNT: usize = 5000;
/// No maximum in the model; this bound keeps the serial number a valid ARN and the QR code encodable.
const MAX_DEVICE_NAME: usize = 226;

pub fn handler(action: &str) -> Option<Handler> {
    Some(match action {
        "CreateVirtualMFADevice" => create_virtual_mfa_device,
        "EnableMFADevice" => enable_mfa_device,
        "ResyncMFADevice" => resync_mfa_device,
        "DeactivateMFADevice" => deactivate_mfa_device,
        "DeleteVirtualMFADevice" => delete_virtual_mfa_device,
        "ListMFADevices" => list_mfa_devices,
        "ListVirtualMFADevices" => list_virtual_mfa_devices,
        "GetMFADevice" => get_mfa_device,
        "TagMFADevice" => tag_mfa_device,
        "UntagMFADevice" => untag_mfa_device,
        "ListMFADeviceTags" => list_mfa_device_tags,
        _ => return None,
    })
}

/// Whose devices a call addresses: a named user, or (UserName omitted) the caller.
enum Who {
    Root,
    User(String),
}

fn who(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Who> {
    if let Some(n) = v::opt_name(p, "UserName", 128)? {
        return Ok(Who::User(n.to_string()));
    }
    #[allow(unreachable_patterns)]
    match &ctx.caller.kind {
        CallerKind::Root => Ok(Who::Root),
        CallerKind::User { name, .. } => Ok(Who::User(name.clone())),
        _ => Err(ApiError::new(
            ErrorCode::ValidationError,
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

fn who_arn(ctx: &Ctx<'_>, acct: &Account, w: &Who) -> String {
    match w {
        Who::Root => acct.root_arn(),
        Who::User(n) => user_arn_for(ctx, acct, n),
    }
}

/// The owner as stored on devices, and the `UserName` shown for it (the account ID for the root).
fn resolve(acct: &Account, w: &Who) -> ApiResult<(MfaOwner, String)> {
    match w {
        Who::Root => Ok((MfaOwner::Root, acct.id().to_string())),
        Who::User(n) => {
            let u = acct
                .users
                .get(&n.to_lowercase())
                .ok_or_else(|| no_user(n))?;
            Ok((MfaOwner::User { id: u.id.clone() }, u.name.clone()))
        }
    }
}

/// `SerialNumber`: 9..256, `[\w+=/:,.@-]+`.
fn serial(p: &Params) -> ApiResult<&str> {
    let s = p.required("SerialNumber")?;
    let n = s.chars().count();
    if n < 9 {
        return Err(ApiError::validation(
            s,
            "serialNumber",
            "Member must have length greater than or equal to 9",
        ));
    }
    if n > 256 {
        return Err(ApiError::validation(
            s,
            "serialNumber",
            "Member must have length less than or equal to 256",
        ));
    }
    if !s
        .chars()
        .all(|c| v::is_name_char(c) || c == '/' || c == ':')
    {
        return Err(ApiError::validation(
            s,
            "serialNumber",
            "Member must satisfy regular expression pattern: [\\w+=/:,.@-]+",
        ));
    }
    Ok(s)
}

/// `AuthenticationCodeN`: exactly six digits.
fn auth_code<'a>(p: &'a Params, param: &str) -> ApiResult<&'a str> {
    let c = p.required(param)?;
    let member = lower_camel(param);
    let n = c.chars().count();
    if n != totp::DIGITS {
        let cmp = if n < totp::DIGITS {
            "greater than or equal to"
        } else {
            "less than or equal to"
        };
        return Err(ApiError::validation(
            c,
            &member,
            &format!("Member must have length {cmp} {}", totp::DIGITS),
        ));
    }
    if !totp::is_code(c) {
        return Err(ApiError::validation(
            c,
            &member,
            "Member must satisfy regular expression pattern: [\\d]+",
        ));
    }
    Ok(c)
}

fn no_device(serial: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "VirtualMFADevice with serial number {serial} doesn't exist."
    ))
}

fn not_assigned(serial: &str, user: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "MFA Device with serial number {serial} does not exist for user {user}."
    ))
}

fn bad_codes() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidAuthenticationCode,
        "Authentication code for device is not valid.",
    )
}

fn device_key(acct: &Account, serial: &str) -> ApiResult<String> {
    acct.mfa_key_by_serial(serial)
        .ok_or_else(|| no_device(serial))
}

fn device_mut<'a>(
    ctx: &Ctx<'_>,
    st: &'a mut crate::state::State,
    key: &str,
    serial: &str,
) -> ApiResult<&'a mut MfaDevice> {
    ctx.account_mut(st)?
        .mfa_devices
        .get_mut(key)
        .ok_or_else(|| no_device(serial))
}

pub fn create_virtual_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let name = v::name(p, "VirtualMFADeviceName", MAX_DEVICE_NAME)?;
    let path = v::path(p, "Path")?;
    let tags = v::tags(p, false)?;
    let serial = ctx.arn("mfa", &path, name);
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:CreateVirtualMFADevice",
            &serial,
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let acct = ctx.account_mut(st)?;
        let key = name.to_lowercase();
        if acct.mfa_devices.contains_key(&key) {
            return Err(ApiError::already_exists(
                "MFADevice entity at the same path and name already exists.",
            ));
        }
        if acct.mfa_devices.len() >= MAX_DEVICES_PER_ACCOUNT {
            return Err(ApiError::limit(
                "VirtualMFADevicesPerAccount",
                MAX_DEVICES_PER_ACCOUNT,
            ));
        }
        let dev = MfaDevice {
            name: name.to_string(),
            path: path.clone(),
            created: ctx.now,
            seed: totp::new_seed(),
            tags: tags.clone(),
            assigned: None,
            last_step: None,
            drift: 0,
        };
        // Unassigned: the QR label names the account.
        let uri = totp::otpauth_uri(&dev.name, acct.id(), &dev.seed);
        let png = totp::qr_png(&uri)?;
        let b64 = data_encoding::BASE64;
        let seed_blob = zeroize::Zeroizing::new(b64.encode(dev.seed.to_base32().as_bytes()));
        let mut x = Xml::new();
        x.open("VirtualMFADevice")
            .elem("SerialNumber", &acct.mfa_serial(&dev))
            .elem("Base32StringSeed", &seed_blob)
            .elem("QRCodePNG", &b64.encode(&png));
        if !dev.tags.is_empty() {
            write_tags(&mut x, &dev.tags);
        }
        x.close("VirtualMFADevice");
        acct.mfa_devices.insert(key.clone(), dev);
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(Some(x.finish()))
    })
}

pub fn enable_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let w = who(ctx, p)?;
    let serial = serial(p)?;
    let code1 = auth_code(p, "AuthenticationCode1")?;
    let code2 = auth_code(p, "AuthenticationCode2")?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:EnableMFADevice", &who_arn(ctx, acct, &w))?;
        let (owner, _) = resolve(acct, &w)?;
        let key = device_key(acct, serial)?;
        let in_use = acct.mfa_devices_of(&owner).count();
        let dev = device_mut(ctx, st, &key, serial)?;
        if dev.assigned.is_some() {
            return Err(ApiError::already_exists("MFA Device is already in use."));
        }
        if in_use >= MAX_DEVICES_PER_USER {
            return Err(ApiError::limit("MFADevicesPerUser", MAX_DEVICES_PER_USER));
        }
        let now_step = totp::step_of(ctx.now);
        let step = totp::match_pair(dev, code1, code2, now_step, totp::ENABLE_WINDOW)
            .ok_or_else(bad_codes)?;
        totp::record(dev, step);
        dev.drift = 0;
        dev.assigned = Some(MfaAssignment {
            owner,
            enabled: ctx.now,
        });
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn resync_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let w = who(ctx, p)?;
    let serial = serial(p)?;
    let code1 = auth_code(p, "AuthenticationCode1")?;
    let code2 = auth_code(p, "AuthenticationCode2")?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:ResyncMFADevice", &who_arn(ctx, acct, &w))?;
        let (owner, shown) = resolve(acct, &w)?;
        let key = acct
            .mfa_key_by_serial(serial)
            .ok_or_else(|| not_assigned(serial, &shown))?;
        let dev = device_mut(ctx, st, &key, serial)?;
        if !dev.is_assigned_to(&owner) {
            return Err(not_assigned(serial, &shown));
        }
        let now_step = totp::step_of(ctx.now);
        let step = totp::match_pair(dev, code1, code2, now_step, totp::RESYNC_WINDOW)
            .ok_or_else(bad_codes)?;
        totp::record(dev, step);
        dev.drift = step - now_step;
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn deactivate_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let w = who(ctx, p)?;
    let serial = serial(p)?;
    ctx.app.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:DeactivateMFADevice", &who_arn(ctx, acct, &w))?;
        let (owner, shown) = resolve(acct, &w)?;
        let key = acct
            .mfa_key_by_serial(serial)
            .ok_or_else(|| not_assigned(serial, &shown))?;
        let dev = device_mut(ctx, st, &key, serial)?;
        if !dev.is_assigned_to(&owner) {
            return Err(not_assigned(serial, &shown));
        }
        // The replay guard stays: codes already used never work again, even after re-enabling.
        dev.assigned = None;
        dev.drift = 0;
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn delete_virtual_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let serial = serial(p)?;
    ctx.app.write(|st, t| {
        ctx.authorize(st, "iam:DeleteVirtualMFADevice", serial)?;
        let acct = ctx.account_mut(st)?;
        let key = device_key(acct, serial)?;
        if acct
            .mfa_devices
            .get(&key)
            .is_some_and(|d| d.assigned.is_some())
        {
            return Err(ApiError::delete_conflict("MFA Device is still in use."));
        }
        acct.mfa_devices.remove(&key);
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn list_mfa_devices(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let w = who(ctx, p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:ListMFADevices", &who_arn(ctx, acct, &w))?;
    let (owner, shown) = resolve(acct, &w)?;
    let devices: Vec<&MfaDevice> = acct.mfa_devices_of(&owner).map(|(_, d)| d).collect();
    let (page, next) = paginate(devices, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("MFADevices", &page, |x, d| {
        x.elem("UserName", &shown)
            .elem("SerialNumber", &acct.mfa_serial(d));
        if let Some(a) = &d.assigned {
            x.elem("EnableDate", &fmt_time(a.enabled));
        }
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn list_virtual_mfa_devices(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let status =
        v::one_of(p, "AssignmentStatus", &["Assigned", "Unassigned", "Any"])?.unwrap_or("Any");
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListVirtualMFADevices", &ctx.arn("mfa/", "", "*"))?;
    let acct = ctx.account(&st)?;
    let devices: Vec<&MfaDevice> = acct
        .mfa_devices
        .values()
        .filter(|d| match status {
            "Assigned" => d.assigned.is_some(),
            "Unassigned" => d.assigned.is_none(),
            _ => true,
        })
        .collect();
    let (page, next) = paginate(devices, marker.as_deref(), max)?;
    let mut x = Xml::new();
    x.list("VirtualMFADevices", &page, |x, d| {
        x.elem("SerialNumber", &acct.mfa_serial(d));
        if let Some(a) = &d.assigned {
            match &a.owner {
                MfaOwner::Root => {
                    x.open("User")
                        .elem("UserId", acct.id())
                        .elem("Arn", &acct.root_arn())
                        .elem("CreateDate", &fmt_time(acct.meta.created))
                        .close("User");
                }
                MfaOwner::User { id } => {
                    if let Some(u) = acct.user_by_id(id) {
                        x.open("User");
                        write_user(x, acct, u, false);
                        x.close("User");
                    }
                }
            }
            x.elem("EnableDate", &fmt_time(a.enabled));
        }
    });
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}

pub fn get_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let serial = serial(p)?;
    let w = who(ctx, p)?;
    let st = ctx.app.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:GetMFADevice", &who_arn(ctx, acct, &w))?;
    let (owner, shown) = resolve(acct, &w)?;
    let d = acct
        .mfa_key_by_serial(serial)
        .and_then(|k| acct.mfa_devices.get(&k))
        .filter(|d| d.is_assigned_to(&owner))
        .ok_or_else(|| not_assigned(serial, &shown))?;
    let mut x = Xml::new();
    x.elem("UserName", &shown).elem("SerialNumber", serial);
    if let Some(a) = &d.assigned {
        x.elem("EnableDate", &fmt_time(a.enabled));
    }
    Ok(Some(x.finish()))
}

pub fn tag_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let serial = serial(p)?;
    let tags = v::tags(p, false)?;
    if tags.is_empty() && p.struct_list("Tags")?.is_none() {
        return Err(ApiError::missing("tags"));
    }
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:TagMFADevice",
            serial,
            &RequestFacts {
                tags: &tags,
                ..RequestFacts::default()
            },
        )?;
        let key = device_key(ctx.account(st)?, serial)?;
        let dev = device_mut(ctx, st, &key, serial)?;
        dev.tags = v::merge_tags(&dev.tags, &tags, false)?;
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn untag_mfa_device(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let serial = serial(p)?;
    let keys = v::tag_keys(p)?;
    ctx.app.write(|st, t| {
        ctx.authorize_request(
            st,
            "iam:UntagMFADevice",
            serial,
            &RequestFacts {
                tag_keys: &keys,
                ..RequestFacts::default()
            },
        )?;
        let key = device_key(ctx.account(st)?, serial)?;
        let dev = device_mut(ctx, st, &key, serial)?;
        dev.tags.retain(|tag| !keys.contains(&tag.key));
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(None)
    })
}

pub fn list_mfa_device_tags(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Option<String>> {
    let serial = serial(p)?;
    let (marker, max) = v::paging(p)?;
    let st = ctx.app.read()?;
    ctx.authorize(&st, "iam:ListMFADeviceTags", serial)?;
    let acct = ctx.account(&st)?;
    let key = device_key(acct, serial)?;
    let dev = acct
        .mfa_devices
        .get(&key)
        .ok_or_else(|| no_device(serial))?;
    let (page, next) = paginate(dev.tags.clone(), marker.as_deref(), max)?;
    let mut x = Xml::new();
    write_tags(&mut x, &page);
    write_paging(&mut x, next);
    Ok(Some(x.finish()))
}
