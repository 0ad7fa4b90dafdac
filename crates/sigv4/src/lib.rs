//! AWS Signature Version 4 verification for a server, plus a small signer for clients and tests.
//!
//! The verifier follows the order the stsd reference recommends (§1.6.9): find the signature form
//! ([`parse`]), check scope and clock ([`check_scope_and_time`]), then — after the caller has looked up the
//! secret — recompute and compare the signature in constant time ([`verify`]). Nothing here looks keys up,
//! reads a clock or allocates more than the canonical request needs.

mod canonical;
mod date;
mod error;
mod parse;
mod sign;

pub use canonical::{canonical_query, canonical_request, uri_encode};
pub use date::{format_amz_date, parse_amz_date};
pub use error::SigV4Error;
pub use parse::parse;
pub use sign::{presign_url_query, sign_request, SigningParams};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only algorithm accepted (SigV4a is refused).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Allowed clock skew for header-signed requests (and for presigned `X-Amz-Date` in the future).
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Upper bound of `X-Amz-Expires`.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// The parts of an HTTP request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// Raw path as received (percent-encoded as on the wire).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: &'a str,
    /// Header names in any case; a name may repeat.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    Header,
    Presigned { expires_secs: u64 },
}

/// The credential scope: `AKID/date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub terminator: String,
}

/// A parsed, not yet verified, signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    pub credential: Credential,
    /// The request time exactly as signed (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// `amz_date` as Unix seconds.
    pub timestamp: i64,
    /// Lower-case, in the order given.
    pub signed_headers: Vec<String>,
    /// 64 lower-case hex characters.
    pub signature: String,
    pub security_token: Option<String>,
    pub form: SignatureForm,
    /// Whether the date came from `X-Amz-Date` (it must then be signed).
    pub date_from_amz_header: bool,
}

/// Check the credential scope and the clock. Any region is accepted; the service must be `expected_service`.
pub fn check_scope_and_time(
    auth: &ParsedAuth,
    expected_service: &str,
    now: i64,
    max_presign_secs: u64,
) -> Result<(), SigV4Error> {
    let c = &auth.credential;
    if auth.amz_date.get(..8) != Some(c.date.as_str()) {
        return Err(SigV4Error::SignatureDoesNotMatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            c.date,
            auth.amz_date.get(..8).unwrap_or(""),
            auth.amz_date
        )));
    }
    if c.terminator != "aws4_request" {
        return Err(SigV4Error::SignatureDoesNotMatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            c.terminator
        )));
    }
    if c.region.is_empty() {
        return Err(SigV4Error::SignatureDoesNotMatch(
            "Credential should be scoped to a valid region.".into(),
        ));
    }
    if c.service != expected_service {
        return Err(SigV4Error::SignatureDoesNotMatch(format!(
            "Credential should be scoped to correct service: '{expected_service}'."
        )));
    }
    match auth.form {
        SignatureForm::Header => {
            if auth.timestamp < now - MAX_SKEW_SECS {
                return Err(SigV4Error::SignatureDoesNotMatch(format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    auth.amz_date,
                    format_amz_date(now - MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
            if auth.timestamp > now + MAX_SKEW_SECS {
                return Err(SigV4Error::SignatureDoesNotMatch(format!(
                    "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    auth.amz_date,
                    format_amz_date(now + MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
        }
        SignatureForm::Presigned { expires_secs } => {
            if auth.timestamp > now + MAX_SKEW_SECS {
                return Err(SigV4Error::SignatureDoesNotMatch(format!(
                    "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    auth.amz_date,
                    format_amz_date(now + MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
            let window = i64::try_from(expires_secs.min(max_presign_secs)).unwrap_or(i64::MAX);
            if now > auth.timestamp.saturating_add(window) {
                return Err(SigV4Error::SignatureDoesNotMatch(format!(
                    "Signature expired: {} is now earlier than {} ({} - {} sec.)",
                    format_amz_date(auth.timestamp.saturating_add(window)),
                    format_amz_date(now),
                    format_amz_date(now),
                    window
                )));
            }
        }
    }
    Ok(())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // INVARIANT: HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `kSigning` for (secret, date, region, service). Depends only on those, so callers cache it per day.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret_access_key}");
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// Lower-case hex HMAC of the string to sign.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

/// Recompute the signature of `req` with `signing_key` and compare in constant time.
pub fn verify(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
    signing_key: &[u8; 32],
) -> Result<(), SigV4Error> {
    let canonical = canonical::canonical_request_for(auth, req)?;
    let c = &auth.credential;
    let scope = format!("{}/{}/{}/{}", c.date, c.region, c.service, c.terminator);
    let expected = signature(
        signing_key,
        &string_to_sign(&auth.amz_date, &scope, &canonical),
    );
    if expected.as_bytes().ct_eq(auth.signature.as_bytes()).into() {
        Ok(())
    } else {
        Err(SigV4Error::SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
                .into(),
        ))
    }
}
