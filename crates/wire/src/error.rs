//! The errors the wire layer itself can answer with. They carry AWS's code and message; the server maps
//! them onto its own error type (and HTTP status) without re-wording them.

/// The AWS error codes a request can fail with before any action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireErrorCode {
    /// A modeled constraint (length, pattern, range, enum, required) failed, or a scalar did not parse.
    ValidationError,
    /// A list element was given as a structure, or a value of the wrong shape.
    InvalidParameterValue,
    /// The same parameter was given twice.
    InvalidParameterCombination,
    /// Too many parameters, or an unusable list index.
    MalformedQueryString,
}

/// A request the wire layer refused, with AWS's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct WireError {
    pub code: WireErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: WireErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }
}

pub type WireResult<T> = Result<T, WireError>;
