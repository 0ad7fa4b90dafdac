//! What a policy is used as: its kind (which decides the rules and the size limit it is validated with) and
//! the policy type AWS names in denial messages.

use std::fmt;

/// What a document is used as. The kind decides which elements are allowed or required and
/// which size limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An identity-based policy (user, group or role; inline or managed). No `Principal`;
    /// `Resource` or `NotResource` required; no `Id`.
    Identity,
    /// A resource-based policy other than a trust policy. `Principal` or `NotPrincipal`
    /// required, `Resource` or `NotResource` required, `CanonicalUser` principals and free-form
    /// `Sid`s allowed.
    Resource,
    /// A role trust policy (`AssumeRolePolicyDocument`). `Principal` required, no
    /// `NotPrincipal`, no `Resource`/`NotResource`, only `sts:` actions.
    Trust,
    /// A permissions boundary (a managed policy used as boundary); rules as [`PolicyKind::Identity`].
    Boundary,
    /// A session policy passed to AssumeRole*/GetFederationToken; rules as identity policies.
    Session,
    /// An organization service control policy; rules as identity policies.
    Scp,
}

impl PolicyKind {
    /// The default per-document size rule (reference §5).
    ///
    /// * Identity: 6,144 non-whitespace characters, the managed-policy quota (`PolicySize`).
    ///   Inline policies are limited by *aggregate* quotas per user/group/role, which the
    ///   server checks with [`crate::non_whitespace_len`]; parse inline documents with
    ///   [`crate::Policy::parse_with_limit`] and the remaining budget.
    /// * Boundary: 6,144 (boundaries are managed policies).
    /// * Trust: 2,048 non-whitespace characters (`ACLSizePerRole`, adjustable to 4,096).
    /// * Session: 2,048 characters including whitespace (the plaintext limit of STS).
    /// * Scp: 5,120 non-whitespace characters.
    /// * Resource: the on-the-wire limit only.
    pub fn size_limit(self) -> SizeLimit {
        let (quota, max, counts_whitespace) = match self {
            PolicyKind::Identity | PolicyKind::Boundary => ("PolicySize", 6_144, false),
            PolicyKind::Trust => ("ACLSizePerRole", 2_048, false),
            PolicyKind::Session => ("PolicySize", 2_048, true),
            PolicyKind::Scp => ("PolicySize", 5_120, false),
            PolicyKind::Resource => ("PolicySize", MAX_WIRE_CHARS, true),
        };
        SizeLimit {
            quota,
            max,
            counts_whitespace,
        }
    }

    /// Kinds attached to an identity: Principal forbidden, Resource required.
    pub(crate) fn is_identity_like(self) -> bool {
        matches!(
            self,
            PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session | PolicyKind::Scp
        )
    }

    /// The policy type named in AWS denial messages.
    pub fn policy_type(self) -> PolicyType {
        match self {
            PolicyKind::Identity => PolicyType::Identity,
            PolicyKind::Resource => PolicyType::Resource,
            PolicyKind::Trust => PolicyType::Trust,
            PolicyKind::Boundary => PolicyType::Boundary,
            PolicyKind::Session => PolicyType::Session,
            PolicyKind::Scp => PolicyType::Scp,
        }
    }
}

/// Any policy document on the wire: 131,072 characters including whitespace (reference §5).
pub const MAX_WIRE_CHARS: usize = 131_072;

/// A size rule for one policy kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimit {
    /// AWS quota name used in the `LimitExceeded` message.
    pub quota: &'static str,
    /// Maximum size in characters.
    pub max: usize,
    /// Whether whitespace counts (IAM quotas do not count it).
    pub counts_whitespace: bool,
}

/// A type of policy, as named in AWS denial messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    /// Organization service control policy.
    Scp,
    /// Resource-based policy (other than a role trust policy).
    Resource,
    /// Role trust policy.
    Trust,
    /// Identity-based policy.
    Identity,
    /// Permissions boundary.
    Boundary,
    /// Session policy.
    Session,
}

impl PolicyType {
    /// The phrase AWS uses (`identity-based policy`).
    pub fn description(self) -> &'static str {
        match self {
            PolicyType::Scp => "service control policy",
            PolicyType::Resource => "resource-based policy",
            PolicyType::Trust => "role trust policy",
            PolicyType::Identity => "identity-based policy",
            PolicyType::Boundary => "permissions boundary",
            PolicyType::Session => "session policy",
        }
    }

    /// The description with its indefinite article (`an identity-based policy`).
    pub fn with_article(self) -> &'static str {
        match self {
            PolicyType::Scp => "a service control policy",
            PolicyType::Resource => "a resource-based policy",
            PolicyType::Trust => "a role trust policy",
            PolicyType::Identity => "an identity-based policy",
            PolicyType::Boundary => "a permissions boundary",
            PolicyType::Session => "a session policy",
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}
