//! The request side of an authorization question: who asks, for what, with which context keys.

use std::fmt;

/// FNV-1a over the lowercase form of `s`. Condition keys are case-insensitive (reference §4.6
/// rule 7), so both the compiled policy and the context hash the folded name; lookups then compare
/// hashes first and never allocate.
pub(crate) fn fold_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    if s.is_ascii() {
        // Every key AWS defines is ASCII: fold bytes directly (the same bytes the general path produces,
        // without decoding characters and their multi-character lowercase forms).
        for b in s.bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        return h;
    }
    for c in s.chars().flat_map(char::to_lowercase) {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Case-insensitive string equality without allocating.
pub(crate) fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// A condition-key name prepared for lookup: the name as written plus its case-folded hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub name: Box<str>,
    pub hash: u64,
}

impl Key {
    pub(crate) fn new(name: &str) -> Key {
        Key {
            name: name.into(),
            hash: fold_hash(name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    hash: u64,
    key: String,
    values: Vec<String>,
}

/// Request context keys (`aws:SourceIp`, `aws:PrincipalTag/team`, `sts:ExternalId`, ...).
///
/// Keys are case-insensitive, including the tag-key suffix of `aws:PrincipalTag/`,
/// `aws:RequestTag/` and `aws:ResourceTag/` (reference §4.6 rule 7); values are kept as given.
/// Every key is multi-valued; a single-valued key is a one-element list. A key with an empty
/// value list behaves exactly like an absent key (no operator can tell them apart in AWS).
///
/// Values are strings as on the wire: numbers (`"3600"`), booleans (`"true"`), dates (ISO 8601
/// or epoch seconds), IP addresses, base64 for binary keys. Operators parse them when comparing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<Entry>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets `key` to the given values, replacing any earlier values of the same key (compared
    /// case-insensitively).
    pub fn insert<I, V>(&mut self, key: &str, values: I) -> &mut Context
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        let hash = fold_hash(key);
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.hash == hash && fold_eq(&e.key, key))
        {
            e.values = values;
        } else {
            self.entries.push(Entry {
                hash,
                key: key.to_owned(),
                values,
            });
        }
        self
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Context {
        self.insert(key, [value.into()])
    }

    /// Builder form of [`Context::set`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Context {
        self.set(key, value);
        self
    }

    /// Builder form of [`Context::insert`].
    #[must_use]
    pub fn with_values<I, V>(mut self, key: &str, values: I) -> Context
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.insert(key, values);
        self
    }

    /// Removes a key; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        let hash = fold_hash(key);
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.hash == hash && fold_eq(&e.key, key)));
        before != self.entries.len()
    }

    /// The values of `key` (case-insensitive), or `None` if the key is absent.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.lookup(fold_hash(key), key)
    }

    /// Whether the key is present with at least one value.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| !v.is_empty())
    }

    /// Iterates over `(key as inserted, values)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.values.as_slice()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    pub(crate) fn lookup(&self, hash: u64, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|e| e.hash == hash && fold_eq(&e.key, key))
            .map(|e| e.values.as_slice())
    }

    /// Values of a compiled key; `None` for absent or empty keys.
    #[inline]
    pub(crate) fn values(&self, key: &Key) -> Option<&[String]> {
        self.lookup(key.hash, &key.name).filter(|v| !v.is_empty())
    }
}

/// What kind of principal is making the request.
///
/// The extra ARNs carried by some variants are the other identities the principal can be
/// matched as in a `Principal` element (reference §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account root user (`arn:aws:iam::A:root`).
    Root,
    /// An IAM user, with long-term keys or a `GetSessionToken` session (which is *not* a
    /// session principal for policy evaluation, reference §4.8 step 7).
    User,
    /// A role session (AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity). `arn` is the
    /// session ARN; the session also matches its role.
    AssumedRole {
        /// The role's ARN, with path (`arn:aws:iam::A:role/path/Name`).
        role_arn: String,
    },
    /// A `GetFederationToken` session (`arn:aws:sts::A:federated-user/Name`).
    FederatedUser {
        /// The IAM user that called `GetFederationToken`, if known. A resource policy naming
        /// that user grants to the session, still limited by the session policy (§4.8 step 4).
        source_user_arn: Option<String>,
    },
    /// The caller of `AssumeRoleWithWebIdentity`, matched by a `Federated` principal.
    WebIdentity {
        /// The provider as written in trust policies: the OIDC provider ARN
        /// (`arn:aws:iam::A:oidc-provider/host/path`) or a well-known name such as
        /// `accounts.google.com` or `cognito-identity.amazonaws.com`.
        provider: String,
    },
    /// The caller of `AssumeRoleWithSAML`, matched by `{"Federated": "<saml-provider ARN>"}`.
    Saml {
        /// `arn:aws:iam::A:saml-provider/Name`.
        provider_arn: String,
    },
    /// An AWS service principal (`ec2.amazonaws.com`), matched by a `Service` principal.
    Service {
        /// The service principal name.
        service: String,
    },
    /// An unauthenticated caller; matches only `"*"` principals.
    Anonymous,
}

impl PrincipalKind {
    /// The `aws:PrincipalType` value (reference §2.1).
    pub fn principal_type(&self) -> &'static str {
        match self {
            PrincipalKind::Root => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::FederatedUser { .. } => "FederatedUser",
            PrincipalKind::WebIdentity { .. } => "WebIdentity",
            PrincipalKind::Saml { .. } => "SAMLUser",
            PrincipalKind::Service { .. } => "AWSService",
            PrincipalKind::Anonymous => "Anonymous",
        }
    }
}

/// The principal making a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The caller's own ARN: user ARN, root ARN, session ARN
    /// (`arn:aws:sts::A:assumed-role/Role/Session`), federated-user ARN; for web identity / SAML
    /// callers the provider ARN; for services the service name; empty for anonymous.
    pub arn: String,
    /// The principal's account ID (12 digits); `anonymous` for anonymous callers.
    pub account: String,
    /// What kind of principal this is; decides how `Principal` elements match it.
    pub kind: PrincipalKind,
    /// The `aws:userid` value (`AIDA…` for users, `AROA…:session` for role sessions,
    /// `A:name` for federated users, the account ID for root). Also lets a `Principal` element
    /// that holds a unique ID (as IAM stores it) match: the user's ID, or the role ID before `:`.
    pub user_id: Option<String>,
}

impl Principal {
    /// The account root user.
    pub fn root(account: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_owned(),
            kind: PrincipalKind::Root,
            user_id: Some(account.to_owned()),
        }
    }

    /// An IAM user, given its ARN (the account is read from the ARN).
    pub fn user(arn: &str) -> Principal {
        Principal {
            arn: arn.to_owned(),
            account: arn_account(arn).to_owned(),
            kind: PrincipalKind::User,
            user_id: None,
        }
    }

    /// A role session, given the session ARN and the role ARN.
    pub fn assumed_role(session_arn: &str, role_arn: &str) -> Principal {
        Principal {
            arn: session_arn.to_owned(),
            account: arn_account(session_arn).to_owned(),
            kind: PrincipalKind::AssumedRole {
                role_arn: role_arn.to_owned(),
            },
            user_id: None,
        }
    }

    /// A `GetFederationToken` session.
    pub fn federated_user(arn: &str, source_user_arn: Option<&str>) -> Principal {
        Principal {
            arn: arn.to_owned(),
            account: arn_account(arn).to_owned(),
            kind: PrincipalKind::FederatedUser {
                source_user_arn: source_user_arn.map(str::to_owned),
            },
            user_id: None,
        }
    }

    /// The caller of `AssumeRoleWithWebIdentity` through `provider`.
    pub fn web_identity(provider: &str) -> Principal {
        Principal {
            arn: provider.to_owned(),
            account: arn_account(provider).to_owned(),
            kind: PrincipalKind::WebIdentity {
                provider: provider.to_owned(),
            },
            user_id: None,
        }
    }

    /// The caller of `AssumeRoleWithSAML` through `provider_arn`.
    pub fn saml(provider_arn: &str) -> Principal {
        Principal {
            arn: provider_arn.to_owned(),
            account: arn_account(provider_arn).to_owned(),
            kind: PrincipalKind::Saml {
                provider_arn: provider_arn.to_owned(),
            },
            user_id: None,
        }
    }

    /// An AWS service principal.
    pub fn service(service: &str) -> Principal {
        Principal {
            arn: service.to_owned(),
            account: String::new(),
            kind: PrincipalKind::Service {
                service: service.to_owned(),
            },
            user_id: None,
        }
    }

    /// An anonymous caller.
    pub fn anonymous() -> Principal {
        Principal {
            arn: String::new(),
            account: "anonymous".to_owned(),
            kind: PrincipalKind::Anonymous,
            user_id: Some("anonymous".to_owned()),
        }
    }

    /// Sets `aws:userid` (builder).
    #[must_use]
    pub fn with_user_id(mut self, user_id: &str) -> Principal {
        self.user_id = Some(user_id.to_owned());
        self
    }

    /// The `aws:PrincipalArn` value: the role ARN for role sessions, the caller ARN otherwise.
    pub fn principal_arn(&self) -> &str {
        match &self.kind {
            PrincipalKind::AssumedRole { role_arn } => role_arn,
            _ => &self.arn,
        }
    }

    /// The unique ID a `Principal` element may name for this principal: the user ID for users,
    /// the role ID (before `:`) for role sessions.
    pub(crate) fn unique_id(&self) -> Option<&str> {
        let id = self.user_id.as_deref()?;
        match self.kind {
            PrincipalKind::User => Some(id),
            PrincipalKind::AssumedRole { .. } => id.split(':').next(),
            _ => None,
        }
    }

    /// Whether this is a session principal for §4.8 step 7 (role session or federated user).
    pub fn is_session(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser { .. }
        )
    }

    /// Fills the principal-derived global keys (reference §4.7.1, §4.7.5): `aws:PrincipalArn`,
    /// `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`, and `aws:username` for IAM
    /// users. Tags, MFA, times and network keys are the caller's to add.
    pub fn fill_context(&self, ctx: &mut Context) {
        match self.kind {
            PrincipalKind::Anonymous => {
                ctx.set("aws:PrincipalAccount", "anonymous");
                ctx.set("aws:PrincipalType", "Anonymous");
                ctx.set("aws:userid", "anonymous");
                return;
            }
            PrincipalKind::WebIdentity { .. }
            | PrincipalKind::Saml { .. }
            | PrincipalKind::Service { .. } => return,
            _ => {}
        }
        ctx.set("aws:PrincipalArn", self.principal_arn());
        ctx.set("aws:PrincipalAccount", self.account.as_str());
        ctx.set("aws:PrincipalType", self.kind.principal_type());
        if let Some(id) = &self.user_id {
            ctx.set("aws:userid", id.as_str());
        }
        if self.kind == PrincipalKind::User
            && let Some(name) = self.arn.rsplit('/').next()
        {
            ctx.set("aws:username", name);
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// The account field of an ARN (`""` if the text is not an ARN).
pub fn arn_account(arn: &str) -> &str {
    if !arn.starts_with("arn:") {
        return "";
    }
    arn.split(':').nth(4).unwrap_or("")
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who is asking.
    pub principal: &'a Principal,
    /// The action, `service:Operation` (case-insensitive), e.g. `iam:CreateRole`.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions without a resource.
    pub resource: &'a str,
    /// Context keys for conditions and policy variables.
    pub context: &'a Context,
}

impl<'a> Request<'a> {
    /// Bundles the four parts of a request.
    pub fn new(
        principal: &'a Principal,
        action: &'a str,
        resource: &'a str,
        context: &'a Context,
    ) -> Request<'a> {
        Request {
            principal,
            action,
            resource,
            context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let mut c = Context::new();
        c.insert("aws:PrincipalTag/Team", ["blue"]);
        assert_eq!(c.get("AWS:principaltag/team").unwrap(), ["blue"]);
        c.set("aws:principaltag/TEAM", "red");
        assert_eq!(c.len(), 1);
        assert_eq!(c.get("aws:PrincipalTag/Team").unwrap(), ["red"]);
        c.set("aws:PrincipalTag/Équipe", "x");
        assert!(c.contains("aws:principaltag/équipe"));
        assert!(c.remove("AWS:PRINCIPALTAG/TEAM"));
        assert!(!c.contains("aws:PrincipalTag/Team"));
    }

    #[test]
    fn principal_context() {
        let p = Principal::assumed_role(
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:iam::111122223333:role/p/R",
        )
        .with_user_id("AROAEXAMPLE:s");
        let mut c = Context::new();
        p.fill_context(&mut c);
        assert_eq!(
            c.get("aws:PrincipalArn").unwrap(),
            ["arn:aws:iam::111122223333:role/p/R"]
        );
        assert_eq!(c.get("aws:PrincipalType").unwrap(), ["AssumedRole"]);
        assert_eq!(p.unique_id(), Some("AROAEXAMPLE"));
        let u = Principal::user("arn:aws:iam::111122223333:user/div/alice");
        let mut c = Context::new();
        u.fill_context(&mut c);
        assert_eq!(c.get("aws:username").unwrap(), ["alice"]);
        assert_eq!(u.account, "111122223333");
    }

    /// The ASCII fast path hashes exactly what the general (character-folding) path does.
    fn fold_hash_by_chars(s: &str) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for c in s.chars().flat_map(char::to_lowercase) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    proptest::proptest! {
        #[test]
        fn ascii_fold_hash_matches_the_character_path(s in "[ -~]{0,64}") {
            proptest::prop_assert_eq!(fold_hash(&s), fold_hash_by_chars(&s));
        }
    }
}
