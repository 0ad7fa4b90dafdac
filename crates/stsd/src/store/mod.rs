//! Persistence. Action code never talks SQL: it mutates the in-memory [`crate::state::State`] and the state
//! hands a list of [`Change`]s to a [`Store`] in one transaction. The embedded default is SQLite
//! ([`sqlite::SqliteStore`]); a PostgreSQL backend implements the same trait.

pub mod sqlite;

/// Entity kinds, one row per entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Account,
    User,
    Group,
    Role,
    Policy,
    /// A virtual MFA device, keyed by lower-cased device name.
    MfaDevice,
    /// An IAM OIDC provider, keyed by lower-cased URL without scheme.
    OidcProvider,
    /// An IAM SAML provider, keyed by lower-cased name.
    SamlProvider,
    /// An instance profile, keyed by lower-cased name.
    InstanceProfile,
    /// When an access key or role was last used, keyed by its lower-cased unique ID.
    Usage,
    /// The account's credential report, keyed by the account ID.
    CredentialReport,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Role => "role",
            Kind::Policy => "policy",
            Kind::MfaDevice => "mfa",
            Kind::OidcProvider => "oidc",
            Kind::SamlProvider => "saml",
            Kind::InstanceProfile => "instance-profile",
            Kind::Usage => "usage",
            Kind::CredentialReport => "credential-report",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "account" => Kind::Account,
            "user" => Kind::User,
            "group" => Kind::Group,
            "role" => Kind::Role,
            "policy" => Kind::Policy,
            "mfa" => Kind::MfaDevice,
            "oidc" => Kind::OidcProvider,
            "saml" => Kind::SamlProvider,
            "instance-profile" => Kind::InstanceProfile,
            "usage" => Kind::Usage,
            "credential-report" => Kind::CredentialReport,
            _ => return None,
        })
    }
}

/// One stored entity: JSON body under (kind, account, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub account: String,
    pub key: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Record),
    Delete {
        kind: Kind,
        account: String,
        key: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A durable store. `apply` is atomic: all changes or none, durable when it returns.
pub trait Store: Send + Sync {
    fn load_all(&self) -> Result<Vec<Record>, StoreError>;
    fn apply(&self, changes: &[Change]) -> Result<(), StoreError>;
    /// Small named blobs outside the entity model (token keys, server settings).
    fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn put_meta(&self, name: &str, value: &str) -> Result<(), StoreError>;
    /// Append audit events in one transaction, in order.
    fn append_audit(&self, _rows: &[AuditRow]) -> Result<(), StoreError> {
        Err(StoreError::Backend(
            "this store does not keep audit events".into(),
        ))
    }
    /// Audit events matching `q`, ordered by `seq` (descending unless `q.ascending`).
    fn query_audit(&self, _q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        Ok(vec![])
    }
    /// Remove audit events older than `before` (Unix seconds); returns how many.
    fn purge_audit(&self, _before: i64) -> Result<usize, StoreError> {
        Ok(0)
    }
    /// Record the one use of a single-use credential (a SAML assertion ID in its issuer's `scope`), kept until
    /// `expires` (Unix seconds). `Ok(true)` the first time; `Ok(false)` while an unexpired claim exists. Durable
    /// and atomic, so the guard holds across restarts and for every node sharing the store.
    fn claim_once(&self, scope: &str, id: &str, expires: i64, now: i64)
        -> Result<bool, StoreError>;
}

/// One stored audit event: the CloudTrail record (`body`, JSON) and the columns `LookupEvents` filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRow {
    /// Insertion order, assigned by the store (0 before insertion).
    pub seq: i64,
    /// The account that sees the event (`recipientAccountId`; empty when unknown).
    pub account: String,
    pub event_id: String,
    pub event_time: i64,
    pub event_name: String,
    pub event_source: String,
    pub username: String,
    pub access_key_id: String,
    pub read_only: bool,
    /// `(ResourceType, ResourceName)` pairs.
    pub resources: Vec<(String, String)>,
    pub body: String,
}

/// One `LookupAttributes` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditFilter {
    EventName(String),
    Username(String),
    AccessKeyId(String),
    ResourceName(String),
    EventSource(String),
    ReadOnly(bool),
    EventId(String),
}

/// A query over stored audit events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this account's events (`None`: all, for export).
    pub account: Option<String>,
    /// `event_time >= since`.
    pub since: Option<i64>,
    /// `event_time <= until`.
    pub until: Option<i64>,
    pub filter: Option<AuditFilter>,
    /// Continue after this `seq` (exclusive, in the query's direction).
    pub cursor: Option<i64>,
    pub ascending: bool,
    pub limit: usize,
}
