//! Verification failures, each carrying the AWS error code it maps to (reference §1.4).

/// A SigV4 failure. The variant is the AWS error code; the text is the message AWS would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// `Authorization` header or presign parameters malformed or incomplete; SigV4a (400).
    #[error("{0}")]
    IncompleteSignature(String),
    /// Scope, clock, content hash or signature mismatch (403).
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// No signature at all where one is needed (403). [`crate::parse`] never returns it (it answers
    /// `Ok(None)`); servers build it with [`SigV4Error::missing_authentication_token`].
    #[error("{0}")]
    MissingAuthenticationToken(String),
    /// Unknown key, `ASIA` key without token, bad token (403). Only the server can know; built with
    /// [`SigV4Error::invalid_client_token_id`].
    #[error("{0}")]
    InvalidClientTokenId(String),
    /// Undecodable query string, or too many parameters (404 in AWS's table).
    #[error("{0}")]
    MalformedQueryString(String),
}

impl SigV4Error {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            SigV4Error::IncompleteSignature(_) => "IncompleteSignature",
            SigV4Error::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            SigV4Error::MissingAuthenticationToken(_) => "MissingAuthenticationToken",
            SigV4Error::InvalidClientTokenId(_) => "InvalidClientTokenId",
            SigV4Error::MalformedQueryString(_) => "MalformedQueryString",
        }
    }

    /// The HTTP status AWS uses with the code.
    pub fn http_status(&self) -> u16 {
        match self {
            SigV4Error::IncompleteSignature(_) => 400,
            SigV4Error::SignatureDoesNotMatch(_)
            | SigV4Error::MissingAuthenticationToken(_)
            | SigV4Error::InvalidClientTokenId(_) => 403,
            SigV4Error::MalformedQueryString(_) => 404,
        }
    }

    /// The message text (same as `Display`).
    pub fn message(&self) -> &str {
        match self {
            SigV4Error::IncompleteSignature(m)
            | SigV4Error::SignatureDoesNotMatch(m)
            | SigV4Error::MissingAuthenticationToken(m)
            | SigV4Error::InvalidClientTokenId(m)
            | SigV4Error::MalformedQueryString(m) => m,
        }
    }

    /// `MissingAuthenticationToken` with AWS's message.
    pub fn missing_authentication_token() -> Self {
        SigV4Error::MissingAuthenticationToken("Request is missing Authentication Token".into())
    }

    /// `InvalidClientTokenId` with AWS's message.
    pub fn invalid_client_token_id() -> Self {
        SigV4Error::InvalidClientTokenId(
            "The security token included in the request is invalid.".into(),
        )
    }

    pub(crate) fn incomplete(msg: impl Into<String>) -> Self {
        SigV4Error::IncompleteSignature(msg.into())
    }

    pub(crate) fn mismatch(msg: impl Into<String>) -> Self {
        SigV4Error::SignatureDoesNotMatch(msg.into())
    }

    pub(crate) fn malformed_query(msg: impl Into<String>) -> Self {
        SigV4Error::MalformedQueryString(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases = [
            (SigV4Error::incomplete("x"), "IncompleteSignature", 400),
            (SigV4Error::mismatch("x"), "SignatureDoesNotMatch", 403),
            (
                SigV4Error::missing_authentication_token(),
                "MissingAuthenticationToken",
                403,
            ),
            (
                SigV4Error::invalid_client_token_id(),
                "InvalidClientTokenId",
                403,
            ),
            (
                SigV4Error::malformed_query("x"),
                "MalformedQueryString",
                404,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.http_status(), status);
            assert_eq!(e.to_string(), e.message());
        }
    }
}
