//! AWS Signature Version 4 verification for a server, plus a small signer for clients and tests.
//!
//! The verifier follows the order the stsd reference recommends (§1.6.9): find the signature form
//! ([`parse`]), check scope and clock ([`check_scope_and_time`]), then — after the caller has looked up the
//! secret and derived (or fetched from its cache) the [`signing_key`] — recompute and compare the signature
//! in constant time ([`verify`]). Nothing here looks keys up, reads a clock or does I/O; work is bounded
//! (signed headers, query parameters and field lengths are capped) and no input panics.
//!
//! ```
//! # fn main() -> Result<(), sigv4::SigV4Error> {
//! // The worked vector of reference §1.6.7.
//! let headers = [
//!     ("Host", "stsd.example.test:8443"),
//!     ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
//!     ("X-Amz-Date", "20250315T120000Z"),
//!     ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIABTX3GSDSQBHCDE22/20250315/us-east-1/sts/aws4_request, \
//!       SignedHeaders=content-type;host;x-amz-date, \
//!       Signature=56d8bbcf1736acb0406130933210476d5d968106ecd9b703fedbb2de5ba5c246"),
//! ];
//! let req = sigv4::HttpRequest {
//!     method: "POST",
//!     path: "/",
//!     query: "",
//!     headers: &headers,
//!     body: b"Action=GetCallerIdentity&Version=2011-06-15",
//! };
//! let Some(auth) = sigv4::parse(&req)? else {
//!     return Err(sigv4::SigV4Error::missing_authentication_token());
//! };
//! sigv4::check_scope_and_time(&auth, "sts", 1_742_040_000, 900)?;
//! // Look up auth.credential.access_key_id; here, the reference's secret.
//! let c = &auth.credential;
//! let key = sigv4::signing_key("Zx9Tq4LmN8vB2cR7hJ5kW3pY6sD1fG0aE4uI8oPq", &c.date, &c.region, &c.service);
//! sigv4::verify(&auth, &req, &key)?;
//! # Ok(())
//! # }
//! ```
//!
//! One concern per file: finding the signature (`parse.rs`), the `Authorization` header
//! (`authorization.rs`), the presigned URL (`presigned.rs`), the credential scope and clock (`scope.rs`),
//! dates (`date.rs`), the payload hash (`content_hash.rs`), the canonical request (`canonical.rs`), keys
//! and comparison (`key.rs`), the verification itself (`verify.rs`) and the signer (`sign.rs`).

mod authorization;
mod canonical;
mod content_hash;
mod date;
mod error;
mod key;
mod parse;
mod presigned;
mod scope;
mod sign;
mod verify;

pub use canonical::{
    MAX_QUERY_PARAMS, canonical_query, canonical_request, canonical_request_from_uri,
    canonical_uri, canonical_uri_s3, decode_path_segment, decode_query_component, uri_encode,
    uri_encode_bytes,
};
pub use content_hash::{EMPTY_SHA256, UNSIGNED_PAYLOAD, hash_body};
pub use date::{format_amz_date, parse_amz_date, parse_http_date};
pub use error::SigV4Error;
pub use key::{signature, signatures_match, signing_key, string_to_sign};
pub use parse::parse;
pub use scope::{Credential, check_scope_and_time};
pub use sign::{SigningParams, presign_url_query, sign_request};
pub use verify::{
    SIGNATURE_MISMATCH_MESSAGE, VerifyOptions, canonical_request_for, string_to_sign_for, verify,
    verify_with,
};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SigV4a's algorithm name, refused with `IncompleteSignature` (reference §1.6.10).
pub const SIGV4A_ALGORITHM: &str = "AWS4-ECDSA-P256-SHA256";
/// Allowed clock skew for header-signed requests (and for a presigned `X-Amz-Date` in the future).
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Upper bound of `X-Amz-Expires` (7 days, the signing-key lifetime).
pub const MAX_EXPIRES_SECS: u64 = 604_800;
/// Bound on `SignedHeaders` entries.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Bound on the `Authorization` header, the credential and each presign parameter.
pub const MAX_FIELD_LEN: usize = 8 * 1024;
/// Bound on the signature text (a real one is 64 characters).
pub const MAX_SIGNATURE_LEN: usize = 256;

/// The parts of an HTTP request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// Exactly as received (the canonical request uses it verbatim).
    pub method: &'a str,
    /// Raw path as received (percent-encoded as on the wire).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: &'a str,
    /// Header names in any case; a name may repeat (values are then joined with `,`). Must include
    /// `host` (for HTTP/2, the `:authority`).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    /// `Authorization` header.
    Header,
    /// Query parameters; `expires_secs` is `X-Amz-Expires` (1..=604800).
    Presigned { expires_secs: u64 },
}

/// A parsed, not yet verified, signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    pub credential: Credential,
    /// The request time exactly as signed (`YYYYMMDDTHHMMSSZ`); from a `Date` header it is reformatted.
    pub amz_date: String,
    /// `amz_date` as Unix seconds.
    pub timestamp: i64,
    /// As sent (SDKs send lower case, sorted); compared case-insensitively.
    pub signed_headers: Vec<String>,
    /// As sent; a valid one is 64 lower-case hex characters.
    pub signature: String,
    /// `X-Amz-Security-Token` (header for the header form, query for the presigned form), decoded.
    pub security_token: Option<String>,
    pub form: SignatureForm,
    /// Whether the date came from the `X-Amz-Date` header (it must then be signed).
    pub date_from_amz_header: bool,
}
