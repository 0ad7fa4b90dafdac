//! Recomputing and comparing the signature (reference §1.6.2-§1.6.4, §1.6.9 step 6).

use crate::canonical::{
    canonical_query_without, canonical_request_from_uri, canonical_uri, canonical_uri_s3,
};
use crate::content_hash::{forwarded_payload_hash, payload_hash};
use crate::key::{signature, signatures_match, string_to_sign};
use crate::{HttpRequest, MAX_SIGNED_HEADERS, ParsedAuth, SigV4Error, SignatureForm};

/// Which of AWS's canonicalization rules apply, and whether the verifier has the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// S3's rules: the canonical URI is the path as sent, encoded once and not normalised
    /// ([`crate::canonical_uri_s3`]), and a presigned URL's payload hash is `UNSIGNED-PAYLOAD`.
    pub s3: bool,
    /// The body is not available (a proxy asks about a request whose body it does not forward): the client's
    /// `x-amz-content-sha256` is taken as the payload hash without being checked against a body.
    pub body_not_forwarded: bool,
}

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
    canonical_request_with(auth, req, false, VerifyOptions::default())
}

/// `token_unsigned`: leave `X-Amz-Security-Token` out of a presigned canonical query.
fn canonical_request_with(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
    token_unsigned: bool,
    opts: VerifyOptions,
) -> Result<String, SigV4Error> {
    check_signed_headers(auth, req)?;
    let presigned = matches!(auth.form, SignatureForm::Presigned { .. });
    let payload = if opts.body_not_forwarded {
        forwarded_payload_hash(req.headers, opts.s3 && presigned)?
    } else if opts.s3 && presigned {
        crate::UNSIGNED_PAYLOAD.to_string()
    } else {
        payload_hash(req.headers, &auth.signed_headers, req.body)?
    };
    let skip: &[&[u8]] = match (auth.form, token_unsigned) {
        (SignatureForm::Header, _) => &[],
        (SignatureForm::Presigned { .. }, false) => &[b"X-Amz-Signature"],
        (SignatureForm::Presigned { .. }, true) => &[b"X-Amz-Signature", b"X-Amz-Security-Token"],
    };
    let query = canonical_query_without(req.query, skip)?;
    let uri = if opts.s3 {
        canonical_uri_s3(req.path)
    } else {
        canonical_uri(req.path)
    };
    canonical_request_from_uri(
        req.method,
        &uri,
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
    opts: VerifyOptions,
) -> Result<bool, SigV4Error> {
    let canonical = canonical_request_with(auth, req, token_unsigned, opts)?;
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
    verify_with(auth, req, signing_key, VerifyOptions::default())
}

/// [`verify`] under `opts`: S3's canonicalization rules, or a request whose body the verifier does not have.
pub fn verify_with(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
    signing_key: &[u8; 32],
    opts: VerifyOptions,
) -> Result<(), SigV4Error> {
    if matches_with(auth, req, signing_key, false, opts)? {
        return Ok(());
    }
    // A session token added to a presigned URL after signing (the AWS test suite's
    // `post-sts-header-after`) is accepted unsigned, as in the header form: it is bound to the key.
    let presigned = matches!(auth.form, SignatureForm::Presigned { .. });
    if presigned
        && auth.security_token.is_some()
        && matches_with(auth, req, signing_key, true, opts)?
    {
        return Ok(());
    }
    Err(SigV4Error::mismatch(SIGNATURE_MISMATCH_MESSAGE))
}
