//! The one error type of the API surface. Every variant is an AWS error code; the codec turns it into the
//! `ErrorResponse` envelope with the code's HTTP status and `Type`.

use std::fmt;

/// The AWS error codes, generated from the service models with their HTTP statuses (`stsd_wire::ErrorCode`).
pub use stsd_wire::ErrorCode;

/// An API error: code plus human-readable message (never containing secrets).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NoSuchEntity, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::EntityAlreadyExists, message)
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn limit(quota: &str, n: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::LimitExceeded,
            format!("Cannot exceed quota for {quota}: {n}"),
        )
    }
    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::DeleteConflict, message)
    }
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedPolicyDocument, message)
    }
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, message)
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::ServiceFailure, "An internal error occurred.")
    }
    /// A single `ValidationError` in AWS's Coral wording.
    pub fn validation(value: &str, member: &str, constraint: &str) -> Self {
        Self::new(
            ErrorCode::ValidationError,
            format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
            ),
        )
    }
    pub fn missing(member: &str) -> Self {
        Self::new(
            ErrorCode::ValidationError,
            format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ),
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The wire layer's refusals keep their code and wording.
impl From<stsd_wire::WireError> for ApiError {
    fn from(e: stsd_wire::WireError) -> Self {
        ApiError::new(e.code, e.message)
    }
}
