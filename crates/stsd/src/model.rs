//! The IAM data model held in memory and persisted entity by entity through the [`crate::store::Store`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A policy document as the user sent it, plus its compiled form (rebuilt on load, never persisted).
#[derive(Clone, Serialize, Deserialize)]
pub struct Doc {
    pub text: String,
    pub kind: DocKind,
    #[serde(skip)]
    pub compiled: Option<Arc<policy::Policy>>,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("text", &self.text)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Which grammar a stored document was validated with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum DocKind {
    Identity,
    Trust,
}

impl DocKind {
    pub fn policy_kind(self) -> policy::PolicyKind {
        match self {
            DocKind::Identity => policy::PolicyKind::Identity,
            DocKind::Trust => policy::PolicyKind::Trust,
        }
    }
}

impl Doc {
    /// Compile after loading from the store. A document that no longer compiles (stricter engine) grants nothing.
    pub fn recompile(&mut self) {
        match policy::Policy::parse(&self.text, self.kind.policy_kind()) {
            Ok(p) => self.compiled = Some(Arc::new(p)),
            Err(e) => {
                tracing::warn!(error = %e, "stored policy no longer compiles; it grants nothing");
                self.compiled = None;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    /// Needed to verify signatures; only ever returned by CreateAccessKey.
    pub secret: String,
    pub status: KeyStatus,
    pub created: i64,
    #[serde(default)]
    pub last_used: Option<KeyUse>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyUse {
    pub date: i64,
    pub service: String,
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub id: String,
    pub path: String,
    pub created: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Inline policies keyed by name.
    #[serde(default)]
    pub inline: BTreeMap<String, Doc>,
    /// Attached managed policy ARNs, in attachment order.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Names of the groups the user belongs to (membership lives on the user only).
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub keys: Vec<AccessKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub path: String,
    pub created: i64,
    #[serde(default)]
    pub inline: BTreeMap<String, Doc>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub path: String,
    pub created: i64,
    pub trust: Doc,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: u32,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: BTreeMap<String, Doc>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub last_used: Option<KeyUse>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub doc: Doc,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub path: String,
    pub created: i64,
    pub updated: i64,
    #[serde(default)]
    pub description: Option<String>,
    pub versions: Vec<PolicyVersion>,
    pub default_version: String,
    /// Next version number; IDs are never reused after deletion.
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    pub fn default_doc(&self) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.id == self.default_version)
    }
}

/// Account-level data that is not an entity collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountMeta {
    pub id: String,
    pub name: String,
    pub created: i64,
    #[serde(default)]
    pub root_keys: Vec<AccessKey>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub meta: AccountMeta,
    /// Collections keyed by lower-cased name: names are unique case-insensitively.
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    pub policies: BTreeMap<String, ManagedPolicy>,
}

impl Account {
    pub fn new(meta: AccountMeta) -> Account {
        Account {
            meta,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            roles: BTreeMap::new(),
            policies: BTreeMap::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.meta.id
    }

    pub fn user_arn(&self, u: &User) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.meta.id, u.path, u.name)
    }
    pub fn group_arn(&self, g: &Group) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.meta.id, g.path, g.name)
    }
    pub fn role_arn(&self, r: &Role) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.meta.id, r.path, r.name)
    }
    pub fn policy_arn(&self, p: &ManagedPolicy) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.meta.id, p.path, p.name)
    }
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.meta.id)
    }

    /// Find a customer managed policy by ARN (path must match too).
    pub fn policy_by_arn(&self, arn: &str) -> Option<&ManagedPolicy> {
        let name = arn.rsplit('/').next()?;
        self.policies
            .get(&name.to_lowercase())
            .filter(|p| self.policy_arn(p) == arn)
    }
    pub fn policy_by_arn_mut(&mut self, arn: &str) -> Option<&mut ManagedPolicy> {
        let name = arn.rsplit('/').next()?.to_lowercase();
        let id = self.meta.id.clone();
        self.policies
            .get_mut(&name)
            .filter(|p| format!("arn:aws:iam::{}:policy{}{}", id, p.path, p.name) == arn)
    }

    /// How many users, groups and roles attach `arn`, and how many use it as a boundary.
    pub fn policy_usage(&self, arn: &str) -> (usize, usize) {
        let attached = self
            .users
            .values()
            .filter(|u| u.attached.iter().any(|a| a == arn))
            .count()
            + self
                .groups
                .values()
                .filter(|g| g.attached.iter().any(|a| a == arn))
                .count()
            + self
                .roles
                .values()
                .filter(|r| r.attached.iter().any(|a| a == arn))
                .count();
        let boundary = self
            .users
            .values()
            .filter(|u| u.boundary.as_deref() == Some(arn))
            .count()
            + self
                .roles
                .values()
                .filter(|r| r.boundary.as_deref() == Some(arn))
                .count();
        (attached, boundary)
    }

    pub fn group_members(&self, group_name: &str) -> Vec<&User> {
        self.users
            .values()
            .filter(|u| u.groups.iter().any(|g| g.eq_ignore_ascii_case(group_name)))
            .collect()
    }
}

/// What a key ID belongs to: an account root or one of its users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub account: String,
    /// Lower-cased user name, or `None` for the account root.
    pub user: Option<String>,
}
