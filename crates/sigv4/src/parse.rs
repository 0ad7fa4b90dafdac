//! Finding the signature (reference §1.6.1): the `Authorization` header, the presigned query, both
//! (refused) or neither (`Ok(None)`).

use crate::canonical::{MAX_QUERY_PARAMS, decode_query_component, header_values, query_items};
use crate::{HttpRequest, ParsedAuth, SigV4Error, authorization, presigned};

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

#[cfg(test)]
mod tests {
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
}
