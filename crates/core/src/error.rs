//! The one error type of the API surface. Every variant is an AWS error code; the codec turns it into the
//! `ErrorResponse` envelope with the code's HTTP status and `Type`.

use std::fmt;

/// AWS error codes stsd can answer with. The wire string is the variant name unless noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    // Common (both services).
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidClientTokenId,
    SignatureDoesNotMatch,
    ExpiredToken,
    AccessDenied,
    ValidationError,
    InvalidAction,
    MissingAction,
    MissingParameter,
    InvalidParameterValue,
    InvalidParameterCombination,
    MalformedQueryString,
    RequestEntityTooLarge,
    RequestTimeout,
    InternalFailure,
    ServiceUnavailable,
    // IAM modeled.
    NoSuchEntity,
    EntityAlreadyExists,
    DeleteConflict,
    LimitExceeded,
    MalformedPolicyDocument,
    InvalidInput,
    InvalidAuthenticationCode,
    PolicyNotAttachable,
    UnmodifiableEntity,
    EntityTemporarilyUnmodifiable,
    ConcurrentModification,
    ServiceFailure,
    /// A new console password breaks the account password policy (or AWS's default rules).
    PasswordPolicyViolation,
    /// `ChangePassword` called by something other than an IAM user.
    InvalidUserType,
    /// Credential reports (`GetCredentialReport`).
    ReportNotPresent,
    ReportExpired,
    ReportInProgress,
    // STS modeled.
    PackedPolicyTooLarge,
    RegionDisabledException,
    ExpiredTokenException,
    IDPRejectedClaim,
    InvalidIdentityToken,
    IDPCommunicationError,
    InvalidAuthorizationMessageException,
}

impl ErrorCode {
    /// The `Code` string on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingAuthenticationToken => "MissingAuthenticationToken",
            IncompleteSignature => "IncompleteSignature",
            InvalidClientTokenId => "InvalidClientTokenId",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ExpiredToken => "ExpiredToken",
            AccessDenied => "AccessDenied",
            ValidationError => "ValidationError",
            InvalidAction => "InvalidAction",
            MissingAction => "MissingAction",
            MissingParameter => "MissingParameter",
            InvalidParameterValue => "InvalidParameterValue",
            InvalidParameterCombination => "InvalidParameterCombination",
            MalformedQueryString => "MalformedQueryString",
            RequestEntityTooLarge => "RequestEntityTooLarge",
            RequestTimeout => "RequestTimeout",
            InternalFailure => "InternalFailure",
            ServiceUnavailable => "ServiceUnavailable",
            NoSuchEntity => "NoSuchEntity",
            EntityAlreadyExists => "EntityAlreadyExists",
            DeleteConflict => "DeleteConflict",
            LimitExceeded => "LimitExceeded",
            MalformedPolicyDocument => "MalformedPolicyDocument",
            InvalidInput => "InvalidInput",
            InvalidAuthenticationCode => "InvalidAuthenticationCode",
            PolicyNotAttachable => "PolicyNotAttachable",
            UnmodifiableEntity => "UnmodifiableEntity",
            EntityTemporarilyUnmodifiable => "EntityTemporarilyUnmodifiable",
            ConcurrentModification => "ConcurrentModification",
            ServiceFailure => "ServiceFailure",
            PasswordPolicyViolation => "PasswordPolicyViolation",
            InvalidUserType => "InvalidUserType",
            ReportNotPresent => "ReportNotPresent",
            ReportExpired => "ReportExpired",
            ReportInProgress => "ReportInProgress",
            PackedPolicyTooLarge => "PackedPolicyTooLarge",
            RegionDisabledException => "RegionDisabledException",
            ExpiredTokenException => "ExpiredTokenException",
            IDPRejectedClaim => "IDPRejectedClaim",
            InvalidIdentityToken => "InvalidIdentityToken",
            IDPCommunicationError => "IDPCommunicationError",
            InvalidAuthorizationMessageException => "InvalidAuthorizationMessageException",
        }
    }

    /// HTTP status AWS uses for this code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MissingAuthenticationToken
            | InvalidClientTokenId
            | SignatureDoesNotMatch
            | ExpiredToken
            | AccessDenied
            | InvalidAuthenticationCode
            | RegionDisabledException
            | IDPRejectedClaim => 403,
            MalformedQueryString | NoSuchEntity | ReportInProgress => 404,
            ReportNotPresent | ReportExpired => 410,
            EntityAlreadyExists
            | DeleteConflict
            | LimitExceeded
            | EntityTemporarilyUnmodifiable
            | ConcurrentModification => 409,
            RequestEntityTooLarge => 413,
            RequestTimeout => 408,
            InternalFailure | ServiceFailure => 500,
            ServiceUnavailable => 503,
            _ => 400,
        }
    }
}

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
        use stsd_wire::WireErrorCode as W;
        let code = match e.code {
            W::ValidationError => ErrorCode::ValidationError,
            W::InvalidParameterValue => ErrorCode::InvalidParameterValue,
            W::InvalidParameterCombination => ErrorCode::InvalidParameterCombination,
            W::MalformedQueryString => ErrorCode::MalformedQueryString,
        };
        ApiError::new(code, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode::{self, *};
    use stsd_wire::generated::{iam, sts};

    /// Every code stsd answers with that AWS's models declare carries the model's HTTP status.
    #[test]
    fn statuses_agree_with_the_models() {
        let modeled: [ErrorCode; 24] = [
            NoSuchEntity,
            EntityAlreadyExists,
            DeleteConflict,
            LimitExceeded,
            MalformedPolicyDocument,
            InvalidInput,
            InvalidAuthenticationCode,
            PolicyNotAttachable,
            UnmodifiableEntity,
            EntityTemporarilyUnmodifiable,
            ConcurrentModification,
            ServiceFailure,
            PasswordPolicyViolation,
            InvalidUserType,
            ReportNotPresent,
            ReportExpired,
            ReportInProgress,
            PackedPolicyTooLarge,
            RegionDisabledException,
            ExpiredTokenException,
            IDPRejectedClaim,
            InvalidIdentityToken,
            IDPCommunicationError,
            InvalidAuthorizationMessageException,
        ];
        for code in modeled {
            let status = iam::ERRORS
                .iter()
                .chain(sts::ERRORS)
                .find(|(c, _)| *c == code.as_str())
                .map(|(_, s)| *s);
            assert_eq!(status, Some(code.status()), "{}", code.as_str());
        }
    }
}
