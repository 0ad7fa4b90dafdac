//! Errors returned when a policy document cannot be accepted.

use std::fmt;

use crate::json::Position;
use crate::kind::PolicyKind;

/// Where in the document a problem was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// 0-based statement index, when the problem is inside a statement.
    pub statement: Option<usize>,
    /// The statement's `Sid`, when it has one.
    pub sid: Option<String>,
    /// The element path inside the statement or document (`Action`, `Condition.StringEquals`).
    pub element: Option<String>,
    /// Line/column in the source text, when known.
    pub position: Option<Position>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        match (self.statement, &self.element) {
            (Some(i), Some(e)) => parts.push(format!("Statement[{i}].{e}")),
            (Some(i), None) => parts.push(format!("Statement[{i}]")),
            (None, Some(e)) => parts.push(e.clone()),
            (None, None) => {}
        }
        if let Some(sid) = &self.sid {
            parts.push(format!("Sid `{sid}`"));
        }
        if let Some(p) = self.position {
            parts.push(p.to_string());
        }
        f.write_str(&parts.join(", "))
    }
}

/// A policy document that AWS would reject as `MalformedPolicyDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The AWS-style message (e.g. `Policy statement must contain actions.`).
    pub message: String,
    /// What is wrong in detail (user input in backticks), if more can be said.
    pub detail: Option<String>,
    /// Where the problem is.
    pub location: Location,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let loc = self.location.to_string();
        match (&self.detail, loc.is_empty()) {
            (Some(d), false) => write!(f, " ({d}; at {loc})"),
            (Some(d), true) => write!(f, " ({d})"),
            (None, false) => write!(f, " (at {loc})"),
            (None, true) => Ok(()),
        }
    }
}

/// Why [`crate::Policy::parse`] refused a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy of the requested kind. The server answers
    /// `MalformedPolicyDocument` with this Display text as the message.
    #[error("{0}")]
    Malformed(Box<Malformed>),
    /// The document exceeds the size limit for its kind. IAM answers `LimitExceeded`, STS
    /// answers `PackedPolicyTooLarge` or a validation error; the Display text is IAM's
    /// (`Cannot exceed quota for PolicySize: 6144`).
    #[error("Cannot exceed quota for {quota}: {limit}")]
    TooLarge {
        /// The policy kind whose limit applies.
        kind: PolicyKind,
        /// AWS's quota name (`PolicySize`, `ACLSizePerRole`, ...).
        quota: &'static str,
        /// The limit, in characters as counted for this kind.
        limit: usize,
        /// The document's size, counted the same way.
        actual: usize,
    },
}

impl PolicyError {
    /// Whether this is a size violation (`LimitExceeded`) rather than `MalformedPolicyDocument`.
    pub fn is_too_large(&self) -> bool {
        matches!(self, PolicyError::TooLarge { .. })
    }

    /// The malformed-document details, if this is not a size violation.
    pub fn malformed(&self) -> Option<&Malformed> {
        match self {
            PolicyError::Malformed(m) => Some(m),
            PolicyError::TooLarge { .. } => None,
        }
    }

    pub(crate) fn new(
        message: impl Into<String>,
        detail: Option<String>,
        location: Location,
    ) -> Self {
        PolicyError::Malformed(Box::new(Malformed {
            message: message.into(),
            detail,
            location,
        }))
    }
}
