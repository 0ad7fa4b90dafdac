//! The IAM data model held in memory and persisted entity by entity through the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A policy document as the user sent it, plus its compiled form (rebuilt on load, never persisted).
#[derive(Clone, Serialize, Deserialize)]
pub struct Doc {
    pub text: String,
    pub kind: DocKind,
    /// Trust policies: the unique ID of each IAM user or role the document names by ARN, recorded when it
    /// was stored (IAM binds principals to IDs: a namesake created later is not that principal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principal_ids: Vec<(String, String)>,
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
    /// A resource-based policy of another service's resource ([`ResourcePolicy`]).
    Resource,
}

impl DocKind {
    pub fn policy_kind(self) -> policy::PolicyKind {
        match self {
            DocKind::Identity => policy::PolicyKind::Identity,
            DocKind::Trust => policy::PolicyKind::Trust,
            DocKind::Resource => policy::PolicyKind::Resource,
        }
    }
}

impl Doc {
    /// Compile after loading from the store. A document that no longer compiles (stricter engine) grants nothing.
    pub fn recompile(&mut self) {
        // Stored documents passed their quota when written; only the wire limit applies on reload.
        match policy::Policy::parse_with_limit(
            &self.text,
            self.kind.policy_kind(),
            policy::MAX_WIRE_CHARS,
        ) {
            Ok(p) => self.compiled = Some(Arc::new(p.with_principal_ids(&self.principal_ids))),
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
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// When an access key or a role was last used (`AccessKeyLastUsed`, `RoleLastUsed`): kept per account in
/// [`Account::usage`], apart from the entities, and recorded off the request path by stsd's `usage` module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyUse {
    pub date: i64,
    /// The SigV4 service name of the request (`sts`, `iam`, …); empty for a role.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    pub region: String,
}

impl KeyUse {
    /// The later of two uses (the first on a tie).
    pub fn latest(a: Option<KeyUse>, b: Option<KeyUse>) -> Option<KeyUse> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.date > a.date { b } else { a }),
            (a, b) => a.or(b),
        }
    }
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
    /// The console password (`CreateLoginProfile`), if the user may sign in to the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_profile: Option<LoginProfile>,
    /// When the user last signed in with the password (`PasswordLastUsed`). Kept after the login profile is
    /// deleted, as AWS keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_last_used: Option<i64>,
}

/// A console password: only its argon2id hash (PHC string) is kept, never the password.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginProfile {
    pub created: i64,
    /// When the password was last set (credential report `password_last_changed`, `MaxPasswordAge`).
    pub changed: i64,
    /// argon2id PHC string of the current password.
    pub hash: String,
    #[serde(default)]
    pub reset_required: bool,
    /// Hashes of earlier passwords, newest first, kept for `PasswordReusePrevention` (at most 24).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
}

impl std::fmt::Debug for LoginProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfile")
            .field("created", &self.created)
            .field("reset_required", &self.reset_required)
            .finish_non_exhaustive()
    }
}

/// The account password policy (`UpdateAccountPasswordPolicy`), with AWS's parameter names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change: bool,
    /// Days; `None` when passwords do not expire.
    pub max_age_days: Option<u32>,
    pub reuse_prevention: Option<u32>,
    pub hard_expiry: bool,
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
    /// The account alias (at most one; unique across the accounts of this server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The account password policy; `None`: AWS's default rules apply to new passwords.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub meta: AccountMeta,
    /// Collections keyed by lower-cased name: names are unique case-insensitively.
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    pub policies: BTreeMap<String, ManagedPolicy>,
    /// Virtual MFA devices keyed by lower-cased device name.
    pub mfa_devices: BTreeMap<String, MfaDevice>,
    /// IAM OIDC identity providers keyed by lower-cased URL without scheme (`host/path`).
    pub oidc_providers: BTreeMap<String, OidcProvider>,
    /// IAM SAML identity providers keyed by lower-cased name.
    pub saml_providers: BTreeMap<String, SamlProvider>,
    /// Instance profiles keyed by lower-cased name.
    pub instance_profiles: BTreeMap<String, InstanceProfile>,
    /// Last use of access keys and roles, keyed by [`usage_key`] (the unique ID, lower-cased): stored apart
    /// from the entities so that recording a use never rewrites a user or role.
    pub usage: BTreeMap<String, KeyUse>,
    /// The most recent credential report.
    pub credential_report: Option<CredentialReport>,
    /// Resource-based policies of other services' resources this account owns, keyed by
    /// [`resource_policy_key`] of the resource ARN.
    pub resource_policies: BTreeMap<String, ResourcePolicy>,
    /// S3 buckets registered to this account, keyed by bucket name.
    pub buckets: BTreeMap<String, BucketRegistration>,
}

/// The [`Account::resource_policies`] key of a resource ARN. Store keys are lower case, ARNs are not (a custom
/// service's resource names may differ only in case): `%` and upper-case letters are percent-encoded, so the key
/// is lower case and still one-to-one with the ARN.
pub fn resource_policy_key(arn: &str) -> String {
    let mut key = String::with_capacity(arn.len());
    for c in arn.chars() {
        if c == '%' || c.is_ascii_uppercase() {
            key.push_str(&format!("%{:02x}", u32::from(c)));
        } else {
            key.push(c);
        }
    }
    key
}

/// A resource-based policy stored in stsd for a resource of another service — an S3 bucket policy, a custom
/// service's policy — evaluated by `/_stsd/authorize` together with the caller's own policies. Owned by the
/// account in the resource's ARN (for an S3 bucket: the account the bucket is registered to).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourcePolicy {
    /// The resource ARN exactly as given.
    pub arn: String,
    pub doc: Doc,
    pub created: i64,
    pub updated: i64,
}

/// An S3 bucket registered to an account: S3 bucket ARNs (`arn:aws:s3:::NAME`) carry no account, so the
/// authorizer learns the owner of a bucket — the account whose bucket policy applies and whose resource a
/// cross-account request touches — from this registration. A bucket name belongs to at most one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRegistration {
    pub name: String,
    pub created: i64,
}

/// The [`Account::usage`] key of an access key (`AKIA…`) or role (`AROA…`): its unique ID, lower-cased.
pub fn usage_key(unique_id: &str) -> String {
    unique_id.to_lowercase()
}

impl Account {
    pub fn new(meta: AccountMeta) -> Account {
        Account {
            meta,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            roles: BTreeMap::new(),
            policies: BTreeMap::new(),
            mfa_devices: BTreeMap::new(),
            oidc_providers: BTreeMap::new(),
            saml_providers: BTreeMap::new(),
            instance_profiles: BTreeMap::new(),
            usage: BTreeMap::new(),
            credential_report: None,
            resource_policies: BTreeMap::new(),
            buckets: BTreeMap::new(),
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
    pub fn instance_profile_arn(&self, p: &InstanceProfile) -> String {
        format!(
            "arn:aws:iam::{}:instance-profile{}{}",
            self.meta.id, p.path, p.name
        )
    }

    /// The instance profiles that contain the role with unique ID `role_id`, in name order.
    pub fn instance_profiles_of<'a>(
        &'a self,
        role_id: &'a str,
    ) -> impl Iterator<Item = &'a InstanceProfile> + 'a {
        self.instance_profiles
            .values()
            .filter(move |p| p.roles.iter().any(|r| r == role_id))
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

/// The TOTP secret of a virtual MFA device. Persisted (in the store only) as base32 text; `Debug` never shows
/// it; the bytes are wiped from memory when dropped.
#[derive(Clone)]
pub struct MfaSeed(zeroize::Zeroizing<Vec<u8>>);

impl MfaSeed {
    pub fn new(bytes: Vec<u8>) -> MfaSeed {
        MfaSeed(zeroize::Zeroizing::new(bytes))
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
    /// RFC 4648 base32 without padding (the `Base32StringSeed` text).
    pub fn to_base32(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }
}

impl std::fmt::Debug for MfaSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaSeed(<redacted>)")
    }
}

impl Serialize for MfaSeed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base32())
    }
}

impl<'de> Deserialize<'de> for MfaSeed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MfaSeed, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(d)?);
        data_encoding::BASE32_NOPAD
            .decode(text.trim_end_matches('=').as_bytes())
            .map(MfaSeed::new)
            .map_err(|_| serde::de::Error::custom("MFA seed is not base32"))
    }
}

/// Who an MFA device is assigned to: the account root or a user (by unique ID, so renames keep the link).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum MfaOwner {
    Root,
    User { id: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MfaAssignment {
    pub owner: MfaOwner,
    /// `EnableDate`.
    pub enabled: i64,
}

/// A virtual MFA device. It exists unassigned after CreateVirtualMFADevice and DeactivateMFADevice.
#[derive(Clone, Serialize, Deserialize)]
pub struct MfaDevice {
    pub name: String,
    pub path: String,
    pub created: i64,
    pub seed: MfaSeed,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub assigned: Option<MfaAssignment>,
    /// Replay guard: the highest TOTP time step ever accepted; codes of this step or earlier are refused.
    #[serde(default)]
    pub last_step: Option<i64>,
    /// Clock drift of the authenticator in steps, learnt by ResyncMFADevice.
    #[serde(default)]
    pub drift: i64,
}

impl std::fmt::Debug for MfaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaDevice")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("assigned", &self.assigned)
            .field("last_step", &self.last_step)
            .field("drift", &self.drift)
            .finish_non_exhaustive()
    }
}

impl MfaDevice {
    pub fn is_assigned_to(&self, owner: &MfaOwner) -> bool {
        self.assigned.as_ref().is_some_and(|a| &a.owner == owner)
    }
}

impl Account {
    /// `arn:aws:iam::ACCT:mfa<path><name>`.
    pub fn mfa_serial(&self, d: &MfaDevice) -> String {
        format!("arn:aws:iam::{}:mfa{}{}", self.meta.id, d.path, d.name)
    }

    /// The key (lower-cased name) of the virtual MFA device with this exact serial number.
    pub fn mfa_key_by_serial(&self, serial: &str) -> Option<String> {
        let key = serial.rsplit('/').next()?.to_lowercase();
        let d = self.mfa_devices.get(&key)?;
        (self.mfa_serial(d) == serial).then_some(key)
    }

    /// Devices assigned to `owner`, in name order.
    pub fn mfa_devices_of<'a>(
        &'a self,
        owner: &'a MfaOwner,
    ) -> impl Iterator<Item = (&'a String, &'a MfaDevice)> + 'a {
        self.mfa_devices
            .iter()
            .filter(move |(_, d)| d.is_assigned_to(owner))
    }

    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.values().find(|u| u.id == id)
    }
}

/// An IAM OpenID Connect identity provider (`arn:aws:iam::ACCT:oidc-provider/<url>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcProvider {
    /// The URL without its scheme, as IAM returns it (`host[:port]/path`).
    pub url: String,
    /// The issuer is plain `http://` (accepted only with `--allow-http-oidc`).
    #[serde(default)]
    pub insecure_http: bool,
    #[serde(default)]
    pub client_ids: Vec<String>,
    #[serde(default)]
    pub thumbprints: Vec<String>,
    pub created: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An IAM SAML identity provider (`arn:aws:iam::ACCT:saml-provider/NAME`): the uploaded metadata and what
/// was extracted from it when it was validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlProvider {
    pub name: String,
    pub metadata: String,
    /// The IdP's `entityID` (the `Issuer` its assertions must carry).
    pub entity_id: String,
    /// The IdP's signing certificates, DER in base64.
    #[serde(default)]
    pub certs: Vec<String>,
    /// Metadata `validUntil`, Unix seconds.
    #[serde(default)]
    pub valid_until: Option<i64>,
    pub created: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An instance profile (`arn:aws:iam::ACCT:instance-profile/PATH/NAME`): a container for at most one role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceProfile {
    pub name: String,
    /// `AIPA…`
    pub id: String,
    pub path: String,
    pub created: i64,
    /// Unique IDs of the roles it contains (AWS allows one): a role is referred to by ID, so a re-created
    /// namesake is not in the profile.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tag keys are case-sensitive on instance profiles.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A generated credential report: the CSV exactly as `GetCredentialReport` returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialReport {
    pub generated: i64,
    pub content: String,
}
