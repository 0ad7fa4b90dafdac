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
}
