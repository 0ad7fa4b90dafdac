//! The canonical request (reference §1.6.2): method, normalised double-encoded path, decoded-then-re-encoded
//! sorted query, signed headers with trimmed values, and the payload hash.

use crate::{MAX_SIGNED_HEADERS, SigV4Error};

/// Bound on query parameters considered, so a hostile query cannot make canonicalization expensive.
pub const MAX_QUERY_PARAMS: usize = 1_000;

/// Everything except the unreserved set `A-Za-z0-9-_.~` is percent-encoded.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// SigV4 URI-encoding of UTF-8 text: everything but `A-Za-z0-9-_.~`, upper-case hex, space as `%20`.
pub fn uri_encode(s: &str) -> String {
    uri_encode_bytes(s.as_bytes())
}

/// SigV4 URI-encoding of raw bytes.
pub fn uri_encode_bytes(b: &[u8]) -> String {
    percent_encoding::percent_encode(b, UNRESERVED).to_string()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode one query component to bytes: `%XX` escapes, and `+` as a space (what the Query protocol's
/// form decoder does, so the signature covers exactly what the server will read). A `%` not followed by
/// two hex digits is `MalformedQueryString`.
pub fn decode_query_component(s: &str) -> Result<Vec<u8>, SigV4Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val);
                let lo = bytes.get(i + 2).copied().and_then(hex_val);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    let near: String = s.get(i..).unwrap_or("").chars().take(16).collect();
                    return Err(SigV4Error::malformed_query(format!(
                        "Invalid percent-encoding in query string near '{near}'."
                    )));
                };
                out.push((hi << 4) | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Decoded query component as text (invalid UTF-8 replaced), for reading parameter values.
pub(crate) fn decode_query_text(s: &str) -> Result<String, SigV4Error> {
    let bytes = decode_query_component(s)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The non-empty `name=value` items of a raw query string, split on the first `=`.
pub(crate) fn query_items(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split('&')
        .filter(|item| !item.is_empty())
        .map(|item| item.split_once('=').unwrap_or((item, "")))
}

/// Canonical query string from a raw query: decode, re-encode, sort by name then value. With
/// `skip_signature`, `X-Amz-Signature` is left out (presigned form).
pub fn canonical_query(raw: &str, skip_signature: bool) -> Result<String, SigV4Error> {
    let skip: &[&[u8]] = if skip_signature {
        &[b"X-Amz-Signature"]
    } else {
        &[]
    };
    canonical_query_without(raw, skip)
}

/// Canonical query string leaving out the parameters named in `skip` (decoded names).
pub(crate) fn canonical_query_without(raw: &str, skip: &[&[u8]]) -> Result<String, SigV4Error> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in query_items(raw) {
        if pairs.len() >= MAX_QUERY_PARAMS {
            return Err(SigV4Error::malformed_query(format!(
                "Too many query parameters (at most {MAX_QUERY_PARAMS})."
            )));
        }
        let k = decode_query_component(k)?;
        if skip.contains(&k.as_slice()) {
            continue;
        }
        let v = decode_query_component(v)?;
        pairs.push((uri_encode_bytes(&k), uri_encode_bytes(&v)));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + raw.len() / 2);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    Ok(out)
}

/// Canonical URI from the raw path: remove `.`/`..` and empty segments (RFC 3986 §5.2.4, as the AWS
/// SDKs do), then URI-encode each segment. The raw path is already percent-encoded, so this is the
/// "double encoding" every service but S3 uses (`%20` becomes `%2520`).
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut uri = String::with_capacity(path.len() + 8);
    for s in &segments {
        uri.push('/');
        uri.push_str(&uri_encode(s));
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if uri.is_empty() || trailing {
        uri.push('/');
    }
    uri
}

/// S3's canonical URI (S3 is the one service that neither normalises nor double-encodes): the path as sent,
/// each `/`-separated segment percent-decoded once (`+` stays `+`: it is a path) and URI-encoded again, so
/// the result does not depend on how the client escaped. Empty and `.`/`..` segments are kept as they are.
/// A `%` not followed by two hex digits is kept literally (and so encoded as `%25`).
pub fn canonical_uri_s3(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut uri = String::with_capacity(path.len() + 8);
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            uri.push('/');
        }
        uri.push_str(&uri_encode_bytes(&decode_path_segment(seg)));
    }
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    uri
}

/// Percent-decode one path segment (`+` is literal in a path); invalid escapes are kept as they are.
pub fn decode_path_segment(seg: &str) -> Vec<u8> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi << 4) | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// HTTP optional whitespace, plus the CR/LF of an obsolete folded header line.
fn is_header_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Trim a header value and collapse internal runs of whitespace to one space.
fn push_trimmed(out: &mut String, value: &str) {
    let mut first = true;
    for word in value.split(is_header_space).filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
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

/// The single value of a header; a repeated header is `IncompleteSignature` (it would be ambiguous).
pub(crate) fn single_header<'a>(
    headers: &'a [(&'a str, &'a str)],
    name: &'a str,
) -> Result<Option<&'a str>, SigV4Error> {
    let mut it = header_values(headers, name);
    let first = it.next();
    if it.next().is_some() {
        return Err(SigV4Error::incomplete(format!(
            "The '{name}' header must not be repeated."
        )));
    }
    Ok(first)
}

/// Assemble a canonical request from its parts. `signed_headers` are used as given (the client's order
/// and spelling); each is looked up case-insensitively, repeated values joined with `,`. A signed header
/// absent from the request is `SignatureDoesNotMatch`.
pub fn canonical_request(
    method: &str,
    path: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, SigV4Error> {
    canonical_request_from_uri(
        method,
        &canonical_uri(path),
        canonical_query,
        headers,
        signed_headers,
        payload_hash,
    )
}

/// [`canonical_request`] with the canonical URI already formed ([`canonical_uri`] or [`canonical_uri_s3`]).
pub fn canonical_request_from_uri(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, SigV4Error> {
    let mut s = String::with_capacity(256 + canonical_query.len());
    s.push_str(method);
    s.push('\n');
    s.push_str(canonical_uri);
    s.push('\n');
    s.push_str(canonical_query);
    s.push('\n');
    for name in signed_headers {
        s.push_str(name);
        s.push(':');
        let mut any = false;
        for v in header_values(headers, name) {
            if any {
                s.push(',');
            }
            push_trimmed(&mut s, v);
            any = true;
        }
        if !any {
            return Err(SigV4Error::mismatch(format!(
                "The request signature we calculated does not match the signature you provided: signed header '{name}' is not present in the request."
            )));
        }
        s.push('\n');
    }
    s.push('\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        s.push_str(name);
    }
    s.push('\n');
    s.push_str(payload_hash);
    Ok(s)
}

/// Parse `SignedHeaders` (`h1;h2;...`). Names are kept exactly as sent (SDKs send sorted lower case), since
/// the canonical request must repeat what the client signed; lookups and checks ignore case.
pub(crate) fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let mut names = Vec::new();
    for name in value.split(';') {
        if names.len() >= MAX_SIGNED_HEADERS {
            return Err(SigV4Error::incomplete(format!(
                "Too many signed headers (at most {MAX_SIGNED_HEADERS})."
            )));
        }
        let valid = !name.is_empty()
            && name.len() <= 256
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            let shown: String = value.chars().take(256).collect();
            return Err(SigV4Error::incomplete(format!(
                "Invalid SignedHeaders value '{shown}'."
            )));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding_rules() {
        assert_eq!(uri_encode("a b/c~d-_."), "a%20b%2Fc~d-_.");
        assert_eq!(
            uri_encode("IQoFAKEsessionTOKEN+/="),
            "IQoFAKEsessionTOKEN%2B%2F%3D"
        );
        assert_eq!(uri_encode("ሴ"), "%E1%88%B4");
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        let q = canonical_query("b=2&a=x%20y&X-Amz-Signature=abc&a=%41&&c", true).unwrap();
        assert_eq!(q, "a=A&a=x%20y&b=2&c=");
        assert_eq!(canonical_query("a=%7e%2a", false).unwrap(), "a=~%2A");
        assert_eq!(canonical_query("a=b+c", false).unwrap(), "a=b%20c");
        assert_eq!(canonical_query("a=%FF", false).unwrap(), "a=%FF");
        assert_eq!(canonical_query("", false).unwrap(), "");
        assert_eq!(
            canonical_query("a=%zz", false).unwrap_err().code(),
            "MalformedQueryString"
        );
        assert!(canonical_query("a=%4", false).is_err());
    }

    #[test]
    fn too_many_query_parameters() {
        let q = vec!["a=b"; MAX_QUERY_PARAMS + 1].join("&");
        assert_eq!(
            canonical_query(&q, false).unwrap_err().code(),
            "MalformedQueryString"
        );
    }

    #[test]
    fn paths_normalise() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("//"), "/");
        assert_eq!(canonical_uri("/a//b/../c/"), "/a/c/");
        assert_eq!(canonical_uri("/a/b/."), "/a/b/");
        assert_eq!(canonical_uri("/a/b/.."), "/a/");
        assert_eq!(canonical_uri("/../.."), "/");
        assert_eq!(canonical_uri("a"), "/a");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(canonical_uri("/a:b@c"), "/a%3Ab%40c");
    }

    #[test]
    fn s3_paths_are_encoded_once_and_not_normalised() {
        assert_eq!(canonical_uri_s3(""), "/");
        assert_eq!(canonical_uri_s3("/"), "/");
        assert_eq!(canonical_uri_s3("/b/a%20b%2Bc/d"), "/b/a%20b%2Bc/d");
        // However the client escaped, the same canonical form.
        assert_eq!(canonical_uri_s3("/b/a%7eb~c%2d"), "/b/a~b~c-");
        assert_eq!(canonical_uri_s3("/b/x+y"), "/b/x%2By");
        assert_eq!(canonical_uri_s3("/b//k/./../k"), "/b//k/./../k");
        assert_eq!(canonical_uri_s3("/b/%zz%4"), "/b/%25zz%254");
        assert_eq!(canonical_uri_s3("/b/%E1%88%B4"), "/b/%E1%88%B4");
        assert_eq!(canonical_uri_s3("b"), "/b");
    }

    #[test]
    fn header_values_trimmed_and_joined() {
        let h = [
            ("My-Header", "  a   b\t\tc  "),
            ("my-header", "d"),
            ("Host", "h:1"),
        ];
        let c = canonical_request(
            "GET",
            "/",
            "",
            &h,
            &["host".into(), "my-header".into()],
            "x",
        )
        .unwrap();
        assert_eq!(
            c,
            "GET\n/\n\nhost:h:1\nmy-header:a b c,d\n\nhost;my-header\nx"
        );
        let e = canonical_request("GET", "/", "", &h, &["absent".into()], "x").unwrap_err();
        assert_eq!(e.code(), "SignatureDoesNotMatch");
    }

    #[test]
    fn signed_headers_list() {
        assert_eq!(
            parse_signed_headers("Host;x-amz-date").unwrap(),
            ["Host", "x-amz-date"]
        );
        for bad in ["", "host;", ";host", "ho st", "host:x"] {
            assert!(parse_signed_headers(bad).is_err(), "{bad}");
        }
        let many = vec!["h"; MAX_SIGNED_HEADERS + 1].join(";");
        assert!(parse_signed_headers(&many).is_err());
    }
}
