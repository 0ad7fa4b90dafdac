//! The payload hash line of the canonical request and the `x-amz-content-sha256` rules.
//!
//! Without a signed `x-amz-content-sha256` the server hashes the body itself (botocore does not send the
//! header to STS/IAM). With it, its value goes into the canonical request: `UNSIGNED-PAYLOAD` is used as is
//! and the body is not checked (stsd's deviation from reference §1.6.2, required by the issue); a real hash
//! must equal the hash of the body actually received; `STREAMING-*` (S3 chunked uploads) is refused.

use sha2::{Digest, Sha256};

use crate::SigV4Error;
use crate::canonical::single_header;

/// The `x-amz-content-sha256` marker for an unsigned body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lower-case hex SHA-256 of a body.
pub fn hash_body(body: &[u8]) -> String {
    crate::key::hex32(&Sha256::digest(body))
}

/// The `HashedPayload` line for a request whose signed headers are `signed_headers`.
pub(crate) fn payload_hash(
    headers: &[(&str, &str)],
    signed_headers: &[String],
    body: &[u8],
) -> Result<String, SigV4Error> {
    let declared = single_header(headers, "x-amz-content-sha256")?.map(str::trim);
    let signed = signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("x-amz-content-sha256"));
    match declared {
        Some(v) if signed => {
            if v == UNSIGNED_PAYLOAD {
                return Ok(v.to_string());
            }
            if v.starts_with("STREAMING-") {
                return Err(SigV4Error::incomplete(format!(
                    "x-amz-content-sha256 value '{v}' is not supported by this service."
                )));
            }
            let actual = hash_body(body);
            if !v.eq_ignore_ascii_case(&actual) {
                return Err(SigV4Error::mismatch(
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ));
            }
            Ok(v.to_string())
        }
        _ => Ok(hash_body(body)),
    }
}

/// The `HashedPayload` line when the body is not available to the verifier (a proxy asks about a request it
/// has not forwarded, reference §1.6.2): the client's `x-amz-content-sha256` is used as it is — a hash, or a
/// marker such as `UNSIGNED-PAYLOAD` or `STREAMING-…` (the seed signature covers the marker) — and cannot be
/// compared with a body. Without the header: `UNSIGNED-PAYLOAD` for an S3 presigned URL (what S3 clients
/// sign), otherwise the hash of an empty body (a request with a body then does not verify).
pub(crate) fn forwarded_payload_hash(
    headers: &[(&str, &str)],
    s3_presigned: bool,
) -> Result<String, SigV4Error> {
    match single_header(headers, "x-amz-content-sha256")?.map(str::trim) {
        Some(v) if !v.is_empty() => {
            let valid = v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(SigV4Error::incomplete(
                    "x-amz-content-sha256 must be a SHA-256 hex digest or a payload marker.",
                ));
            }
            Ok(v.to_string())
        }
        _ if s3_presigned => Ok(UNSIGNED_PAYLOAD.to_string()),
        _ => Ok(EMPTY_SHA256.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> Vec<String> {
        vec!["host".into(), "x-amz-content-sha256".into()]
    }

    #[test]
    fn empty_body_hash() {
        assert_eq!(hash_body(b""), EMPTY_SHA256);
        assert_eq!(payload_hash(&[], &[], b"").unwrap(), EMPTY_SHA256);
    }

    #[test]
    fn unsigned_payload_marker_skips_body_check() {
        let h = [("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")];
        assert_eq!(
            payload_hash(&h, &signed(), b"abc").unwrap(),
            UNSIGNED_PAYLOAD
        );
        // Not signed: the marker is ignored and the body hashed.
        assert_eq!(payload_hash(&h, &[], b"").unwrap(), EMPTY_SHA256);
    }

    #[test]
    fn declared_hash_must_match_body() {
        let good = hash_body(b"abc");
        let h = [("x-amz-content-sha256", good.as_str())];
        assert_eq!(payload_hash(&h, &signed(), b"abc").unwrap(), good);
        let e = payload_hash(&h, &signed(), b"abd").unwrap_err();
        assert_eq!(e.code(), "SignatureDoesNotMatch");
    }

    #[test]
    fn forwarded_requests_use_the_declared_hash() {
        let h = [("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")];
        assert_eq!(
            forwarded_payload_hash(&h, false).unwrap(),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        );
        let good = hash_body(b"abc");
        let h = [("x-amz-content-sha256", good.as_str())];
        assert_eq!(forwarded_payload_hash(&h, false).unwrap(), good);
        assert_eq!(forwarded_payload_hash(&[], false).unwrap(), EMPTY_SHA256);
        assert_eq!(forwarded_payload_hash(&[], true).unwrap(), UNSIGNED_PAYLOAD);
        let h = [("x-amz-content-sha256", "a b\nc")];
        assert!(forwarded_payload_hash(&h, false).is_err());
        let h = [("x-amz-content-sha256", "a"), ("x-amz-content-sha256", "b")];
        assert!(forwarded_payload_hash(&h, false).is_err());
    }

    #[test]
    fn streaming_and_repeated_are_refused() {
        let h = [("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")];
        assert_eq!(
            payload_hash(&h, &signed(), b"").unwrap_err().code(),
            "IncompleteSignature"
        );
        let h = [
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ];
        assert_eq!(
            payload_hash(&h, &signed(), b"").unwrap_err().code(),
            "IncompleteSignature"
        );
    }
}
