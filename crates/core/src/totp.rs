//! Virtual MFA: RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30-second steps) with a replay guard, and QR rendering of
//! the provisioning URI. The check STS runs for `SerialNumber` + `TokenCode` against the state
//! (`verify_code`) is stsd's `mfa` module; everything here is pure.
//!
//! Replay guard: every device remembers the highest time step it ever accepted (`MfaDevice::last_step`,
//! persisted with the device). A code is accepted only for a step strictly after it, so a code (and every
//! earlier one) works at most once, across restarts too.
//!
//! Guessing guard ([`GUESSING_POLICY`]): after [`MAX_FAILURES`] wrong codes for one device within
//! [`FAILURE_WINDOW_SECS`], every attempt for that device — right or wrong — is refused for
//! [`LOCKOUT_SECS`]; afterwards valid codes work again. Counted per caller and device, so one user's wrong
//! codes cannot lock another out. A thief holding long-term keys thus gets at most
//! 5 guesses per 15 minutes (≈ 480 a day; each guess hits with probability ≈ 3·10⁻⁶ in the ±1-step window),
//! instead of hundreds per second. The counters live in the store, so every node sharing it enforces one limit
//! and a restart does not reset it.

use std::io::Write as _;

use rand::Rng;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult};
use crate::model::{MfaDevice, MfaSeed};

/// Seconds per TOTP time step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Seed size: 40 bytes = 64 base32 characters, like AWS's seeds.
pub const SEED_BYTES: usize = 40;
/// Steps accepted either side of the (drift-corrected) current step when a code is verified.
pub const VERIFY_WINDOW: i64 = 1;
/// Steps either side of now for the second code of EnableMFADevice.
pub const ENABLE_WINDOW: i64 = 1;
/// Steps either side of now searched by ResyncMFADevice.
pub const RESYNC_WINDOW: i64 = 10;

/// Wrong codes for one device that start a lockout…
pub const MAX_FAILURES: u32 = 5;
/// …when they fall within this many seconds.
pub const FAILURE_WINDOW_SECS: i64 = 900;
/// How long a locked device refuses every code.
pub const LOCKOUT_SECS: i64 = 900;

/// The AccessDenied STS answers for any MFA failure (the reason is never told apart).
pub fn denied() -> ApiError {
    ApiError::access_denied("MultiFactorAuthentication failed with invalid MFA one time pass code.")
}

/// The AccessDenied for a device that is cooling off after too many wrong codes.
pub fn locked_out() -> ApiError {
    ApiError::access_denied(
        "MultiFactorAuthentication failed: too many invalid MFA codes for this device; try again later.",
    )
}

/// The guessing guard's policy (see the module docs).
pub const GUESSING_POLICY: crate::store::FailurePolicy = crate::store::FailurePolicy {
    limit: MAX_FAILURES,
    window: FAILURE_WINDOW_SECS,
    lockout: LOCKOUT_SECS,
};

/// A fresh random seed.
pub fn new_seed() -> MfaSeed {
    let mut bytes = Zeroizing::new(vec![0u8; SEED_BYTES]);
    rand::rng().fill(&mut bytes[..]);
    MfaSeed::new(bytes.to_vec())
}

/// The time step containing `now` (Unix seconds).
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// The code of `seed` at time step `step` (`None` for steps before the epoch).
pub fn code_at(seed: &MfaSeed, step: i64) -> Option<String> {
    let secs = u64::try_from(step.checked_mul(STEP_SECS)?).ok()?;
    // `new_unchecked`: our seeds are 320 bits; the check only refuses short secrets.
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS.unsigned_abs(),
        seed.bytes().to_vec(),
    );
    Some(totp.generate(secs))
}

/// Six ASCII digits.
pub fn is_code(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

fn code_matches(seed: &MfaSeed, step: i64, code: &str) -> bool {
    code_at(seed, step).is_some_and(|c| bool::from(c.as_bytes().ct_eq(code.as_bytes())))
}

fn fresh(dev: &MfaDevice, step: i64) -> bool {
    dev.last_step.is_none_or(|last| step > last)
}

/// The step at which `code` is valid for `dev` now: within ±[`VERIFY_WINDOW`] of the drift-corrected current
/// step and after the last accepted step. Does not record it.
pub fn match_code(dev: &MfaDevice, code: &str, now: i64) -> Option<i64> {
    if !is_code(code) {
        return None;
    }
    let center = step_of(now).saturating_add(dev.drift);
    (center - VERIFY_WINDOW..=center + VERIFY_WINDOW)
        .filter(|s| fresh(dev, *s))
        .find(|s| code_matches(&dev.seed, *s, code))
}

/// Two consecutive codes: `code1` at step t and `code2` at t+1, with t+1 within ±`window` of `center` and both
/// after the last accepted step. Returns t+1.
pub fn match_pair(
    dev: &MfaDevice,
    code1: &str,
    code2: &str,
    center: i64,
    window: i64,
) -> Option<i64> {
    if !is_code(code1) || !is_code(code2) {
        return None;
    }
    // Nearest steps first, so an ambiguous pair resolves to the smallest drift.
    let mut offsets: Vec<i64> = (-window..=window).collect();
    offsets.sort_by_key(|o| (o.abs(), *o));
    offsets.into_iter().map(|o| center + o).find(|&s2| {
        fresh(dev, s2 - 1)
            && code_matches(&dev.seed, s2 - 1, code1)
            && code_matches(&dev.seed, s2, code2)
    })
}

/// Remember `step` as used (the guard never moves backwards).
pub fn record(dev: &mut MfaDevice, step: i64) {
    dev.last_step = Some(dev.last_step.map_or(step, |l| l.max(step)));
}

/// `otpauth://totp/$VirtualMFADeviceName@$AccountName?secret=$Base32String` (the reference §3.5).
pub fn otpauth_uri(device_name: &str, account_name: &str, seed: &MfaSeed) -> Zeroizing<String> {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const LABEL: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b':')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    Zeroizing::new(format!(
        "otpauth://totp/{}@{}?secret={}",
        utf8_percent_encode(device_name, LABEL),
        utf8_percent_encode(account_name, LABEL),
        seed.to_base32().as_str()
    ))
}

/// Pixels per QR module and quiet-zone width in modules.
const QR_SCALE: usize = 4;
const QR_BORDER: usize = 4;

/// `text` as a QR code (ECC level M) in a grayscale PNG.
pub fn qr_png(text: &str) -> ApiResult<Vec<u8>> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium)
        .map_err(|_| ApiError::internal())?;
    let modules = usize::try_from(qr.size()).map_err(|_| ApiError::internal())?;
    let side = (modules + 2 * QR_BORDER) * QR_SCALE;
    let mut pixels = Zeroizing::new(vec![0xffu8; side * side]);
    for y in 0..modules {
        for x in 0..modules {
            let (Ok(qx), Ok(qy)) = (i32::try_from(x), i32::try_from(y)) else {
                continue;
            };
            if !qr.get_module(qx, qy) {
                continue;
            }
            for dy in 0..QR_SCALE {
                let row = (y + QR_BORDER) * QR_SCALE + dy;
                let start = row * side + (x + QR_BORDER) * QR_SCALE;
                if let Some(run) = pixels.get_mut(start..start + QR_SCALE) {
                    run.fill(0);
                }
            }
        }
    }
    let side32 = u32::try_from(side).map_err(|_| ApiError::internal())?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side32, side32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|_| ApiError::internal())?;
        w.write_image_data(&pixels)
            .map_err(|_| ApiError::internal())?;
        w.finish().map_err(|_| ApiError::internal())?;
    }
    out.flush().map_err(|_| ApiError::internal())?;
    Ok(out)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn device(seed: &[u8]) -> MfaDevice {
        MfaDevice {
            name: "d".into(),
            path: "/".into(),
            created: 0,
            seed: MfaSeed::new(seed.to_vec()),
            tags: Vec::new(),
            assigned: None,
            last_step: None,
            drift: 0,
        }
    }

    /// RFC 6238 Appendix B, SHA1 column (8-digit codes there; the 6-digit code is their last six digits).
    #[test]
    fn rfc6238_sha1_vectors() {
        let seed = MfaSeed::new(b"12345678901234567890".to_vec());
        let vectors: [(i64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (t, eight) in vectors {
            assert_eq!(
                code_at(&seed, step_of(t)).unwrap(),
                eight.get(2..).unwrap(),
                "T = {t}"
            );
        }
        assert_eq!(code_at(&seed, -1), None);
    }

    #[test]
    fn window_and_drift() {
        let mut d = device(b"12345678901234567890");
        let now = 1_111_111_111;
        let n = step_of(now);
        for s in [n - 1, n, n + 1] {
            assert_eq!(match_code(&d, &code_at(&d.seed, s).unwrap(), now), Some(s));
        }
        assert_eq!(match_code(&d, &code_at(&d.seed, n + 2).unwrap(), now), None);
        assert_eq!(match_code(&d, &code_at(&d.seed, n - 2).unwrap(), now), None);
        d.drift = 5;
        assert_eq!(
            match_code(&d, &code_at(&d.seed, n + 5).unwrap(), now),
            Some(n + 5)
        );
        assert_eq!(match_code(&d, "12345", now), None);
        assert_eq!(match_code(&d, "abcdef", now), None);
    }

    #[test]
    fn replay_guard() {
        let mut d = device(b"12345678901234567890");
        let now = 2_000_000_000;
        let n = step_of(now);
        let c = code_at(&d.seed, n).unwrap();
        let s = match_code(&d, &c, now).unwrap();
        record(&mut d, s);
        // The same code is refused, and so is an earlier one still inside the window.
        assert_eq!(match_code(&d, &c, now), None);
        assert_eq!(match_code(&d, &code_at(&d.seed, n - 1).unwrap(), now), None);
        // A later one is accepted once.
        let c2 = code_at(&d.seed, n + 1).unwrap();
        let s2 = match_code(&d, &c2, now).unwrap();
        record(&mut d, s2);
        assert_eq!(match_code(&d, &c2, now + 30), None);
        // The guard never moves backwards.
        record(&mut d, n - 10);
        assert_eq!(d.last_step, Some(n + 1));
    }

    #[test]
    fn pairs() {
        let mut d = device(b"12345678901234567890");
        let now = 1_234_567_890;
        let n = step_of(now);
        let c = |s: i64| code_at(&MfaSeed::new(b"12345678901234567890".to_vec()), s).unwrap();
        assert_eq!(match_pair(&d, &c(n - 1), &c(n), n, ENABLE_WINDOW), Some(n));
        assert_eq!(
            match_pair(&d, &c(n), &c(n + 1), n, ENABLE_WINDOW),
            Some(n + 1)
        );
        // Not consecutive, or swapped.
        assert_eq!(match_pair(&d, &c(n - 1), &c(n + 1), n, ENABLE_WINDOW), None);
        assert_eq!(match_pair(&d, &c(n), &c(n - 1), n, ENABLE_WINDOW), None);
        // Out of the enable window but inside the resync one.
        assert_eq!(match_pair(&d, &c(n + 6), &c(n + 7), n, ENABLE_WINDOW), None);
        assert_eq!(
            match_pair(&d, &c(n + 6), &c(n + 7), n, RESYNC_WINDOW),
            Some(n + 7)
        );
        // Used steps are refused.
        record(&mut d, n);
        assert_eq!(match_pair(&d, &c(n - 1), &c(n), n, ENABLE_WINDOW), None);
        assert_eq!(match_pair(&d, &c(n), &c(n + 1), n, ENABLE_WINDOW), None);
        assert_eq!(
            match_pair(&d, &c(n + 1), &c(n + 2), n + 1, ENABLE_WINDOW),
            Some(n + 2)
        );
    }

    #[test]
    fn seeds_are_64_base32_chars_and_hidden() {
        let s = new_seed();
        assert_eq!(s.to_base32().len(), 64);
        let d = device(s.bytes());
        let shown = format!("{s:?} {d:?}");
        assert!(!shown.contains(s.to_base32().as_str()), "{shown}");
        let json = serde_json::to_string(&d).unwrap();
        let back: MfaDevice = serde_json::from_str(&json).unwrap();
        assert_eq!(back.seed.bytes(), s.bytes());
    }

    #[test]
    fn qr_is_png() {
        let seed = new_seed();
        let uri = otpauth_uri("dev", "111122223333", &seed);
        assert!(uri.starts_with("otpauth://totp/dev@111122223333?secret="));
        let png = qr_png(&uri).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
