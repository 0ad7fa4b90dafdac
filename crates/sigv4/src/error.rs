//! Verification failures, each carrying the AWS error code it maps to.

/// A SigV4 failure. The variant is the AWS error code; the text is the message AWS would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Authorization header or presign parameters malformed or incomplete (400).
    #[error("{0}")]
    IncompleteSignature(String),
    /// Scope, clock or signature mismatch (403).
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// No signature at all where one is needed (403). `parse` never returns it; servers may.
    #[error("{0}")]
    MissingAuthenticationToken(String),
    /// Undecodable query string (404 in AWS's table).
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
            SigV4Error::MalformedQueryString(_) => "MalformedQueryString",
        }
    }

    /// The HTTP status AWS uses with the code.
    pub fn http_status(&self) -> u16 {
        match self {
            SigV4Error::IncompleteSignature(_) => 400,
            SigV4Error::SignatureDoesNotMatch(_) | SigV4Error::MissingAuthenticationToken(_) => 403,
            SigV4Error::MalformedQueryString(_) => 404,
        }
    }
}
