//! Finding the signature (reference §1.6.1): the `Authorization` header, the presigned query, both
//! (refused) or neither (`Ok(None)`).

use crate::canonical::{decode_query_component, header_values, query_items, MAX_QUERY_PARAMS};
use crate::{authorization, presigned, HttpRequest, ParsedAuth, SigV4Error, MAX_SIGNED_HEADERS};

/// Query parameters whose presence means the request is presigned.
const PRESIGN_MARKERS: [&[u8]; 3] = [b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature"];

/// Find and parse the request's signature. `Ok(None)`: the request is not signed at all (the server
/// decides between `MissingAuthenticationToken` and an action that may be unsigned).
pub fn parse(req: &HttpRequest<'_>) -> Result<Option<ParsedAuth>, SigV4Error> {
    let mut auth_headers = header_values(req.headers, "authorization");
    let first = auth_headers.next();
    let repeated = auth_headers.next().is_some();
    let presigned = query_is_presigned(req.query);
    match (first, repeated, presigned) {
        (None, _, false) => Ok(None),
        (Some(_), _, true) => Err(SigV4Error::incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        )),
        (Some(_), true, false) => Err(SigV4Error::incomplete(
            "Only one Authorization header is allowed.",
        )),
        (Some(h), false, false) => authorization::parse_header(h, req).map(Some),
        (None, _, true) => presigned::parse_query(req).map(Some),
    }
}

/// Whether any presign parameter is in the query. Lenient: undecodable names are skipped here (they
/// fail later, in the canonical query, if the request turns out to be signed).
fn query_is_presigned(query: &str) -> bool {
    query_items(query).take(MAX_QUERY_PARAMS + 1).any(|(k, _)| {
        decode_query_component(k).is_ok_and(|k| PRESIGN_MARKERS.contains(&k.as_slice()))
    })
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn presign_detection() {
        assert!(query_is_presigned(
            "Action=X&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        ));
        assert!(query_is_presigned("X-Amz-Signature=00"));
        assert!(query_is_presigned("X%2DAmz-Credential=a"));
        assert!(!query_is_presigned("Action=X&X-Amz-Date=20250315T120000Z"));
        assert!(!query_is_presigned("X-Amz-Algorithm%zz=1"));
        assert!(!query_is_presigned(""));
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
