//! Virtual MFA devices: create, enable (two consecutive codes), resync, deactivate, delete, list, get, tags.
//! TOTP and the replay guard live in [`crate::mfa`]. A device belongs to the account; once enabled it is
//! assigned to a user (or the account root) until deactivated.

use super::entity::{Entity, Subject};
use super::users::Users;
use stsd_wire::generated::iam as w;

use super::entity;
use super::tagging;
use super::{Ctx, RequestFacts, page_size, paginate, tags_in, wire_tags, wire_user};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::mfa as totp;
use crate::model::{Account, MfaAssignment, MfaDevice, MfaOwner};
use crate::store::Kind;
use crate::validate as v;

/// MFA devices in use per user (and per root).
pub const MAX_DEVICES_PER_USER: usize = 8;
/// Virtual MFA devices per account (the reference §5: same as the user quota).
pub const MAX_DEVICES_PER_ACCOUNT: usize = 5000;
/// No maximum in the model; this bound keeps the serial number a valid ARN and the QR code encodable.
const MAX_DEVICE_NAME: usize = 226;

/// The owner as stored on devices, and the `UserName` shown for it (the account ID for the root).
fn resolve(acct: &Account, w: &Subject) -> ApiResult<(MfaOwner, String)> {
    match w {
        Subject::Root => Ok((MfaOwner::Root, acct.id().to_string())),
        Subject::User(n) => {
            let u = Users::find(acct, n)?;
            Ok((MfaOwner::User { id: u.id.clone() }, u.name.clone()))
        }
    }
}

/// Authentication codes are six digits (length and digits checked by the model), compared as TOTP codes.
fn codes<'a>(code1: &'a str, code2: &'a str) -> ApiResult<(&'a str, &'a str)> {
    if !totp::is_code(code1) || !totp::is_code(code2) {
        return Err(bad_codes());
    }
    Ok((code1, code2))
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

pub fn create_virtual_mfa_device(
    ctx: &Ctx<'_>,
    input: w::CreateVirtualMFADeviceRequest,
) -> ApiResult<w::CreateVirtualMFADeviceResponse> {
    let name = input.virtual_mfa_device_name.as_str();
    // The model bounds the name from below only.
    v::check_name(name, "VirtualMFADeviceName", MAX_DEVICE_NAME)?;
    let path = input.path.unwrap_or_else(|| "/".into());
    let tags = tags_in(input.tags, false)?;
    let serial = ctx.arn("mfa", &path, name);
    let new = entity::New {
        arn: &serial,
        key: name.to_lowercase(),
        taken: "MFADevice entity at the same path and name already exists.".into(),
        quota: ("VirtualMFADevicesPerAccount", MAX_DEVICES_PER_ACCOUNT),
    };
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    let build = |_: &_| {
        Ok(MfaDevice {
            name: name.to_string(),
            path: path.clone(),
            created: ctx.now,
            seed: totp::new_seed(),
            tags: tags.clone(),
            assigned: None,
            last_step: None,
            drift: 0,
        })
    };
    let action = "iam:CreateVirtualMFADevice";
    let answer = |_: &_, acct: &Account, dev: &MfaDevice| -> ApiResult<_> {
        // Unassigned: the QR label names the account.
        let uri = totp::otpauth_uri(&dev.name, acct.id(), &dev.seed);
        // Blobs: the encoder base64-encodes them (the seed as its base32 text, as AWS sends it).
        Ok(w::VirtualMFADevice {
            serial_number: acct.mfa_serial(dev),
            base32_string_seed: Some(dev.seed.to_base32().as_bytes().to_vec()),
            qr_code_png: Some(totp::qr_png(&uri)?),
            tags: wire_tags(&dev.tags),
            ..w::VirtualMFADevice::default()
        })
    };
    let virtual_mfa_device =
        entity::create::<Devices, _>(ctx, action, &new, &facts, build, answer)?;
    Ok(w::CreateVirtualMFADeviceResponse { virtual_mfa_device })
}

pub fn enable_mfa_device(ctx: &Ctx<'_>, input: w::EnableMFADeviceRequest) -> ApiResult<()> {
    let w = Subject::of(ctx, input.user_name.as_deref())?;
    let serial = input.serial_number.as_str();
    let (code1, code2) = codes(&input.authentication_code1, &input.authentication_code2)?;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:EnableMFADevice", &w.arn(ctx, acct))?;
        let (owner, _) = resolve(acct, &w)?;
        let key = device_key(acct, serial)?;
        let in_use = acct.mfa_devices_of(&owner).count();
        let dev = Devices::find_mut(ctx.account_mut(st)?, serial)?;
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
        Ok(())
    })
}

pub fn resync_mfa_device(ctx: &Ctx<'_>, input: w::ResyncMFADeviceRequest) -> ApiResult<()> {
    let w = Subject::of(ctx, input.user_name.as_deref())?;
    let serial = input.serial_number.as_str();
    let (code1, code2) = codes(&input.authentication_code1, &input.authentication_code2)?;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:ResyncMFADevice", &w.arn(ctx, acct))?;
        let (owner, shown) = resolve(acct, &w)?;
        let key = acct
            .mfa_key_by_serial(serial)
            .ok_or_else(|| not_assigned(serial, &shown))?;
        let dev = Devices::find_mut(ctx.account_mut(st)?, serial)?;
        if !dev.is_assigned_to(&owner) {
            return Err(not_assigned(serial, &shown));
        }
        let now_step = totp::step_of(ctx.now);
        let step = totp::match_pair(dev, code1, code2, now_step, totp::RESYNC_WINDOW)
            .ok_or_else(bad_codes)?;
        totp::record(dev, step);
        dev.drift = step - now_step;
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(())
    })
}

pub fn deactivate_mfa_device(ctx: &Ctx<'_>, input: w::DeactivateMFADeviceRequest) -> ApiResult<()> {
    let w = Subject::of(ctx, input.user_name.as_deref())?;
    let serial = input.serial_number.as_str();
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, "iam:DeactivateMFADevice", &w.arn(ctx, acct))?;
        let (owner, shown) = resolve(acct, &w)?;
        let key = acct
            .mfa_key_by_serial(serial)
            .ok_or_else(|| not_assigned(serial, &shown))?;
        let dev = Devices::find_mut(ctx.account_mut(st)?, serial)?;
        if !dev.is_assigned_to(&owner) {
            return Err(not_assigned(serial, &shown));
        }
        // The replay guard stays: codes already used never work again, even after re-enabling.
        dev.assigned = None;
        dev.drift = 0;
        t.touch(Kind::MfaDevice, &ctx.caller.account, &key);
        Ok(())
    })
}

pub fn delete_virtual_mfa_device(
    ctx: &Ctx<'_>,
    input: w::DeleteVirtualMFADeviceRequest,
) -> ApiResult<()> {
    let action = "iam:DeleteVirtualMFADevice";
    entity::remove::<Devices>(ctx, action, &input.serial_number, |_, d| {
        if d.assigned.is_some() {
            return Err(ApiError::delete_conflict("MFA Device is still in use."));
        }
        Ok(())
    })?;
    Ok(())
}

pub fn list_mfa_devices(
    ctx: &Ctx<'_>,
    input: w::ListMFADevicesRequest,
) -> ApiResult<w::ListMFADevicesResponse> {
    let w = Subject::of(ctx, input.user_name.as_deref())?;
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:ListMFADevices", &w.arn(ctx, acct))?;
    let (owner, shown) = resolve(acct, &w)?;
    let devices: Vec<&MfaDevice> = acct.mfa_devices_of(&owner).map(|(_, d)| d).collect();
    let (page, next) = paginate(devices, marker.as_deref(), max)?;
    Ok(w::ListMFADevicesResponse {
        mfa_devices: page
            .iter()
            .map(|d| w::MFADevice {
                user_name: shown.clone(),
                serial_number: acct.mfa_serial(d),
                // Devices of an owner are always assigned.
                enable_date: d.assigned.as_ref().map_or(0, |a| a.enabled),
            })
            .collect(),
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn list_virtual_mfa_devices(
    ctx: &Ctx<'_>,
    input: w::ListVirtualMFADevicesRequest,
) -> ApiResult<w::ListVirtualMFADevicesResponse> {
    let status = input.assignment_status.as_deref().unwrap_or("Any");
    let (marker, max) = (input.marker, page_size(input.max_items));
    let st = ctx.node.read()?;
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
    let devices = page
        .iter()
        .map(|d| {
            let mut out = w::VirtualMFADevice {
                serial_number: acct.mfa_serial(d),
                ..w::VirtualMFADevice::default()
            };
            if let Some(a) = &d.assigned {
                out.user = match &a.owner {
                    // The root "user": no path or name.
                    MfaOwner::Root => Some(w::User {
                        user_id: acct.id().to_string(),
                        arn: acct.root_arn(),
                        create_date: acct.meta.created,
                        ..w::User::default()
                    }),
                    MfaOwner::User { id } => acct.user_by_id(id).map(|u| wire_user(acct, u, false)),
                };
                out.enable_date = Some(a.enabled);
            }
            out
        })
        .collect();
    Ok(w::ListVirtualMFADevicesResponse {
        virtual_mfa_devices: devices,
        is_truncated: Some(next.is_some()),
        marker: next,
    })
}

pub fn get_mfa_device(
    ctx: &Ctx<'_>,
    input: w::GetMFADeviceRequest,
) -> ApiResult<w::GetMFADeviceResponse> {
    let serial = input.serial_number.as_str();
    let w = Subject::of(ctx, input.user_name.as_deref())?;
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    ctx.authorize(&st, "iam:GetMFADevice", &w.arn(ctx, acct))?;
    let (owner, shown) = resolve(acct, &w)?;
    let d = acct
        .mfa_key_by_serial(serial)
        .and_then(|k| acct.mfa_devices.get(&k))
        .filter(|d| d.is_assigned_to(&owner))
        .ok_or_else(|| not_assigned(serial, &shown))?;
    Ok(w::GetMFADeviceResponse {
        user_name: Some(shown),
        serial_number: serial.to_string(),
        enable_date: d.assigned.as_ref().map(|a| a.enabled),
        certifications: None,
    })
}

entity::by_arn!(
    /// Virtual MFA devices, named by serial number; tag keys compare exactly.
    Devices: MfaDevice, mfa_devices, "MFADevice", Kind::MfaDevice, device_key, no_device);

tagging::actions!(Devices, case_insensitive: false, serial_number;
    tag_mfa_device(TagMFADeviceRequest), untag_mfa_device(UntagMFADeviceRequest), list_mfa_device_tags(ListMFADeviceTagsRequest) -> ListMFADeviceTagsResponse);
