//! The canonical request (reference §1.6.2): method, normalised double-encoded path, decoded-then-re-encoded
//! sorted query, signed headers with trimmed values, and the payload hash.

use sha2::{Digest, Sha256};

use crate::parse::MAX_SIGNED_HEADERS;
use crate::{HttpRequest, ParsedAuth, SigV4Error, SignatureForm};

/// Bound on query parameters considered for the canonical query.
const MAX_QUERY_PARAMS: usize = 1_000;

const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// SigV4 URI-encoding: everything but `A-Za-z0-9-_.~`, upper-case hex.
pub fn uri_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Percent-decode one query component (`+` stays a literal `+`).
pub(crate) fn decode_component(s: &str) -> Result<String, SigV4Error> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'%') {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(SigV4Error::MalformedQueryString(format!(
                    "Invalid percent-encoding in query string near '{}'.",
                    s.get(i..).unwrap_or("")
                )));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned())
}

/// All values of a header (name compared case-insensitively), in order.
pub(crate) fn header_values<'a>(
    headers: &'a [(&'a str, &'a str)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// Canonical query string from a raw query, optionally leaving out `X-Amz-Signature` (presigned form).
pub fn canonical_query(raw: &str, skip_signature: bool) -> Result<String, SigV4Error> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let mut pairs = Vec::new();
    for item in raw.split('&') {
        if item.is_empty() {
            continue;
        }
        if pairs.len() >= MAX_QUERY_PARAMS {
            return Err(SigV4Error::MalformedQueryString(
                "Too many query parameters.".into(),
            ));
        }
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        let k = decode_component(k)?;
        if skip_signature && k == "X-Amz-Signature" {
            continue;
        }
        pairs.push((uri_encode(&k), uri_encode(&decode_component(v)?)));
    }
    pairs.sort();
    Ok(pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Remove `.`/`..` segments and empty segments, then encode each segment (the raw path is already
/// percent-encoded, so this is the "double encoding" non-S3 services use).
fn canonical_uri(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut uri = String::from("/");
    uri.push_str(
        &out.iter()
            .map(|s| uri_encode(s))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if path.ends_with('/') && !out.is_empty() {
        uri.push('/');
    }
    uri
}

fn trim_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Assemble a canonical request from its parts.
pub fn canonical_request(
    method: &str,
    path: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, SigV4Error> {
    let mut s = String::with_capacity(256);
    s.push_str(method);
    s.push('\n');
    s.push_str(&canonical_uri(path));
    s.push('\n');
    s.push_str(canonical_query);
    s.push('\n');
    for name in signed_headers {
        let values: Vec<String> = header_values(headers, name).map(trim_value).collect();
        if values.is_empty() {
            return Err(SigV4Error::SignatureDoesNotMatch(format!(
                "The request signature we calculated does not match the signature you provided: signed header '{name}' is not present."
            )));
        }
        s.push_str(name);
        s.push(':');
        s.push_str(&values.join(","));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&signed_headers.join(";"));
    s.push('\n');
    s.push_str(payload_hash);
    Ok(s)
}

/// The canonical request for a parsed signature, with the rules a verifier must enforce.
pub(crate) fn canonical_request_for(
    auth: &ParsedAuth,
    req: &HttpRequest<'_>,
) -> Result<String, SigV4Error> {
    let mismatch = |m: String| SigV4Error::SignatureDoesNotMatch(m);
    let signed = &auth.signed_headers;
    if signed.len() > MAX_SIGNED_HEADERS {
        return Err(SigV4Error::IncompleteSignature(
            "Too many signed headers.".into(),
        ));
    }
    if !signed.iter().any(|h| h == "host") {
        return Err(mismatch("'Host' must be a signed header.".into()));
    }
    if auth.date_from_amz_header && !signed.iter().any(|h| h == "x-amz-date") {
        return Err(mismatch("'X-Amz-Date' must be a signed header.".into()));
    }
    let actual_hash = || hex::encode(Sha256::digest(req.body));
    let content_sha = header_values(req.headers, "x-amz-content-sha256")
        .next()
        .map(str::trim);
    let content_signed = signed.iter().any(|h| h == "x-amz-content-sha256");
    let payload_hash = match (content_sha, content_signed) {
        (Some("UNSIGNED-PAYLOAD"), true) => "UNSIGNED-PAYLOAD".to_string(),
        (Some(v), true) if v.starts_with("STREAMING-") => {
            return Err(SigV4Error::IncompleteSignature(format!(
                "x-amz-content-sha256 value '{v}' is not supported here."
            )))
        }
        (Some(v), true) => {
            let actual = actual_hash();
            if !v.eq_ignore_ascii_case(&actual) {
                return Err(mismatch(
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into(),
                ));
            }
            v.to_string()
        }
        _ => actual_hash(),
    };
    let query = canonical_query(
        req.query,
        matches!(auth.form, SignatureForm::Presigned { .. }),
    )?;
    canonical_request(
        req.method,
        req.path,
        &query,
        req.headers,
        signed,
        &payload_hash,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uri_encoding_rules() {
        assert_eq!(uri_encode("a b/c~d"), "a%20b%2Fc~d");
        assert_eq!(
            uri_encode("IQoFAKEsessionTOKEN+/="),
            "IQoFAKEsessionTOKEN%2B%2F%3D"
        );
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        let q = canonical_query("b=2&a=x%20y&X-Amz-Signature=abc&a=%41", true).unwrap();
        assert_eq!(q, "a=A&a=x%20y&b=2");
        assert!(canonical_query("a=%zz", false).is_err());
    }

    #[test]
    fn paths_normalise() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a//b/../c/"), "/a/c/");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
    }
}
