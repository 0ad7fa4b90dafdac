//! The errors the wire layer itself can answer with. They carry AWS's code and message; the server maps
//! them onto its own error type (and HTTP status) without re-wording them.

pub use crate::generated::errors::ErrorCode;

/// A request the wire layer refused, with AWS's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct WireError {
    /// One of the codes the decoder answers with: `ValidationError` (a modeled constraint failed or a scalar
    /// did not parse), `InvalidParameterValue` (a value of the wrong shape), `InvalidParameterCombination` (a
    /// parameter given twice), `MalformedQueryString` (too many parameters, an unusable list index).
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }
}

pub type WireResult<T> = Result<T, WireError>;
