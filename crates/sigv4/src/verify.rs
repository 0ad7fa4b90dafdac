//! Recomputing and comparing the signature (reference §1.6.2-§1.6.4, §1.6.9 step 6).

use crate::canonical::{canonical_query_without, canonical_request};
use crate::content_hash::payload_hash;
use crate::key::{signature, signatures_match, string_to_sign};
use crate::{HttpRequest, ParsedAuth, SigV4Error, SignatureForm, MAX_SIGNED_HEADERS};

/// AWS's message for a signature that does not match.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

fn is_signed(auth: &ParsedAuth, name: &str) -> bool {
    auth.signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// The headers that must be signed: `host`; `x-amz-date` when it carries the date; every `x-amz-*`
/// header present except `x-amz-security-token` (bound to the key anyway, and added after signing by
/// some older SDKs, reference §1.6.5).
fn check_signed_headers(auth: &ParsedAuth, req: &HttpRequest<'_>) -> Result<(), SigV4Error> {
    if auth.signed_headers.len() > MAX_SIGNED_HEADERS {
        return Err(SigV4Error::incomplete(format!(
            "Too many signed headers (at most {MAX_SIGNED_HEADERS})."
        )));
    }
    if !is_signed(auth, "host") {
        return Err(SigV4Error::mismatch("'Host' must be a signed header."));
    }
    if auth.date_from_amz_header && !is_signed(auth, "x-amz-date") {
        return Err(SigV4Error::mismatch(
            "'X-Amz-Date' must be a signed header.",
        ));
    }
    for (name, _) in req.headers {
        let is_amz = name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"));
        if is_amz && !name.eq_ignore_ascii_case("x-amz-security-token") && !is_signed(auth, name) {
            let shown: String = name.chars().take(64).collect();
            return Err(SigV4Error::mismatch(format!(
                "Header '{}' must be a signed header.",
                shown.to_ascii_lowercase()
            )));
        }
    }
    Ok(())
}

/// The canonical request the verifier computes for `req` (useful for a debug mode: AWS has been seen to
/// put it in `SignatureDoesNotMatch` messages).
pub fn canonical_request_for(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
) -> Result<String, SigV4Error> {
    canonical_request_with(auth, req, false)
}

/// `token_unsigned`: leave `X-Amz-Security-Token` out of a presigned canonical query.
fn canonical_request_with(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
    token_unsigned: bool,
) -> Result<String, SigV4Error> {
    check_signed_headers(auth, req)?;
    let payload = payload_hash(req.headers, &auth.signed_headers, req.body)?;
    let skip: &[&[u8]] = match (auth.form, token_unsigned) {
        (SignatureForm::Header, _) => &[],
        (SignatureForm::Presigned { .. }, false) => &[b"X-Amz-Signature"],
        (SignatureForm::Presigned { .. }, true) => &[b"X-Amz-Signature", b"X-Amz-Security-Token"],
    };
    let query = canonical_query_without(req.query, skip)?;
    canonical_request(
        req.method,
        req.path,
        &query,
        req.headers,
        &auth.signed_headers,
        &payload,
    )
}

/// The string to sign the verifier computes for `req`.
pub fn string_to_sign_for(auth: &ParsedAuth, req: &HttpRequest<'_>) -> Result<String, SigV4Error> {
    let canonical = canonical_request_for(auth, req)?;
    Ok(string_to_sign(
        &auth.amz_date,
        &auth.credential.scope(),
        &canonical,
    ))
}

fn matches_with(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
    signing_key: &[u8; 32],
    token_unsigned: bool,
) -> Result<bool, SigV4Error> {
    let canonical = canonical_request_with(auth, req, token_unsigned)?;
    let sts = string_to_sign(&auth.amz_date, &auth.credential.scope(), &canonical);
    Ok(signatures_match(
        &signature(signing_key, &sts),
        &auth.signature,
    ))
}

/// Recompute the signature of `req` with `signing_key` (from [`crate::signing_key`] for the scope in
/// `auth.credential`) and compare in constant time. Also enforces the signed-header rules and the
/// `x-amz-content-sha256` rules. Call after [`crate::check_scope_and_time`] and the key lookup.
pub fn verify(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
    signing_key: &[u8; 32],
) -> Result<(), SigV4Error> {
    if matches_with(auth, req, signing_key, false)? {
        return Ok(());
    }
    // A session token added to a presigned URL after signing (the AWS test suite's
    // `post-sts-header-after`) is accepted unsigned, as in the header form: it is bound to the key.
    let presigned = matches!(auth.form, SignatureForm::Presigned { .. });
    if presigned && auth.security_token.is_some() && matches_with(auth, req, signing_key, true)? {
        return Ok(());
    }
    Err(SigV4Error::mismatch(SIGNATURE_MISMATCH_MESSAGE))
}
