//! The actions of the AWS services stsd speaks (`iam`, `sts`, `cloudtrail`) as AWS's Service
//! Authorization Reference publishes them: access level, resource types with their ARN formats, the
//! condition keys each action supports, dependent actions, and each service's condition key types.
//!
//! The data lives in `generated.rs`, written by `scripts/gen-action-catalog.sh` from a pinned registry
//! package; this file is the hand-written API over it. Everything is `'static`: lookups allocate
//! nothing and the crate has no dependencies (`no_std`), so the authorization path can consult it on
//! every request.
//!
//! ```
//! let create_user = action_catalog::action("iam", "createuser").unwrap();
//! assert_eq!(create_user.access_level, action_catalog::AccessLevel::Write);
//! assert!(create_user.supports_condition_key("iam:PermissionsBoundary"));
//! assert!(create_user.supports_condition_key("aws:RequestTag/team"));
//! assert!(!create_user.supports_condition_key("iam:PolicyARN"));
//! ```

#![no_std]

mod generated;
mod template;

use core::cmp::Ordering;
use core::fmt;

/// The packages and versions the data was generated from.
pub const SOURCE: &str = generated::SOURCE;

/// Every service in the catalog, sorted by prefix.
#[must_use]
pub fn services() -> &'static [Service] {
    &generated::SERVICES
}

/// The service with this prefix (`iam`, `sts`, `cloudtrail`), ignoring case as IAM does in `Action`.
#[must_use]
pub fn service(prefix: &str) -> Option<&'static Service> {
    services()
        .iter()
        .find(|s| s.prefix.eq_ignore_ascii_case(prefix))
}

/// The action `name` of `service`, ignoring case in both as IAM does when it matches actions.
#[must_use]
pub fn action(service: &str, name: &str) -> Option<&'static Action> {
    self::service(service)?.action(name)
}

/// The action `name` of `service`, exactly as the reference spells both, found at compile time: a table
/// that names its actions (the wire layer's operation table) holds the catalog's entries themselves, so
/// the operations and their resources and condition keys are one table. `None` for an action the reference
/// does not have (stsd's own operations).
#[must_use]
pub const fn action_const(service: &str, name: &str) -> Option<&'static Action> {
    let mut services: &'static [Service] = &generated::SERVICES;
    while let Some((svc, rest)) = services.split_first() {
        if const_str_eq(svc.prefix, service) {
            let mut actions = svc.actions;
            while let Some((a, rest)) = actions.split_first() {
                if const_str_eq(a.name, name) {
                    return Some(a);
                }
                actions = rest;
            }
            return None;
        }
        services = rest;
    }
    None
}

/// `a == b` in a `const fn`.
const fn const_str_eq(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    while let (Some((x, ra)), Some((y, rb))) = (a.split_first(), b.split_first()) {
        if *x != *y {
            return false;
        }
        a = ra;
        b = rb;
    }
    true
}

/// The action named the way policies and request contexts name it: `iam:CreateUser`.
#[must_use]
pub fn action_by_qualified_name(qualified: &str) -> Option<&'static Action> {
    let (service, name) = qualified.split_once(':')?;
    action(service, name)
}

/// One AWS service: its actions, resource types and condition keys.
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    /// The action prefix: `iam` in `iam:CreateUser`.
    pub prefix: &'static str,
    /// The service's full name in the reference, for messages.
    pub name: &'static str,
    /// Sorted by ASCII-lowercased name, so that lookups are a binary search.
    pub actions: &'static [Action],
    /// Sorted by name.
    pub resource_types: &'static [ResourceType],
    /// Every condition key the service's actions and resource types use, with its type; sorted by
    /// ASCII-lowercased name.
    pub condition_keys: &'static [ConditionKey],
}

impl Service {
    /// The action `name` (without the prefix), ignoring case.
    #[must_use]
    pub fn action(&self, name: &str) -> Option<&'static Action> {
        let actions = self.actions;
        let found = actions.binary_search_by(|a| cmp_ignore_ascii_case(a.name, name));
        found.ok().and_then(|i| actions.get(i))
    }

    /// The resource type `name` (`user`, `role`, `trail`, …).
    #[must_use]
    pub fn resource_type(&self, name: &str) -> Option<&'static ResourceType> {
        self.resource_types.iter().find(|r| r.name == name)
    }

    /// The definition of a condition key, given by its templated name (`aws:ResourceTag/${TagKey}`) or
    /// a concrete one (`aws:ResourceTag/team`); ignores case. Gives a context value its type.
    #[must_use]
    pub fn condition_key(&self, key: &str) -> Option<&'static ConditionKey> {
        self.condition_keys.iter().find(|k| k.matches(key))
    }
}

/// One action, as one row group of the reference's actions table.
#[derive(Debug, PartialEq, Eq)]
pub struct Action {
    /// The service prefix: `iam`.
    pub service: &'static str,
    /// The action name as AWS spells it: `CreateUser`.
    pub name: &'static str,
    pub access_level: AccessLevel,
    /// The resources the action is authorized against. Empty: the action takes no resource ARN and is
    /// authorized against `*` (`iam:ListUsers`, `sts:GetCallerIdentity`).
    pub resource_types: &'static [ResourceUse],
    /// The keys the action itself supports, beyond those of its resource types: templated names such as
    /// `aws:RequestTag/${TagKey}`, sorted ignoring case. Global keys (`aws:PrincipalArn`, …) apply to
    /// every action and are not listed.
    pub condition_keys: &'static [&'static str],
    /// Other actions the caller must also be allowed for this one to succeed (`iam:PassRole` for
    /// `iam:AddRoleToInstanceProfile`), sorted.
    pub dependent_actions: &'static [&'static str],
}

impl Action {
    /// The resource types a request of this action always names (marked `*` in the reference).
    pub fn required_resource_types(&self) -> impl Iterator<Item = &'static ResourceType> {
        let uses = self.resource_types;
        uses.iter().filter(|u| u.required).map(|u| u.resource_type)
    }

    /// Which of the action's resource types `arn` is, if any: the simulator's way to tell whether a
    /// resource ARN applies to an action.
    #[must_use]
    pub fn resource_use_for_arn(&self, arn: &str) -> Option<&'static ResourceUse> {
        let uses = self.resource_types;
        uses.iter().find(|u| u.resource_type.matches_arn(arn))
    }

    /// Every condition key the action supports: its own, then those of its resource types, each once.
    /// These are the keys a request context for this action may carry besides the global ones.
    pub fn supported_condition_keys(&self) -> impl Iterator<Item = &'static str> {
        let (own, uses) = (self.condition_keys, self.resource_types);
        let all = move || {
            own.iter().copied().chain(
                uses.iter()
                    .flat_map(|u| u.resource_type.condition_keys.iter().copied()),
            )
        };
        all()
            .enumerate()
            .filter(move |&(i, key)| {
                !all()
                    .take(i)
                    .any(|earlier| earlier.eq_ignore_ascii_case(key))
            })
            .map(|(_, key)| key)
    }

    /// Whether a concrete condition key (`aws:ResourceTag/team`, `iam:PermissionsBoundary`) is one
    /// the action supports, by itself or through one of its resource types. Matches templated keys
    /// on their fixed part, ignoring case. Global keys are not listed by the reference: `false`.
    #[must_use]
    pub fn supports_condition_key(&self, key: &str) -> bool {
        // Straight over the lists: `supported_condition_keys` also removes duplicates, which only listing needs
        // (this runs several times for every authorized request).
        self.condition_keys
            .iter()
            .chain(
                self.resource_types
                    .iter()
                    .flat_map(|u| u.resource_type.condition_keys.iter()),
            )
            .any(|template| template::key_matches(template, key))
    }
}

/// One resource type an action applies to.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceUse {
    pub resource_type: &'static ResourceType,
    /// Marked `*` in the reference: every request of the action names a resource of this type.
    pub required: bool,
}

/// A kind of resource, from the reference's resource types table.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// `user`, `role`, `trail`, …
    pub name: &'static str,
    /// The ARN with `${Placeholders}`: `arn:${Partition}:iam::${Account}:user/${UserNameWithPath}`.
    pub arn_format: &'static str,
    /// Keys that describe the resource (`aws:ResourceTag/${TagKey}`), supported by every action on it.
    pub condition_keys: &'static [&'static str],
}

impl ResourceType {
    /// Whether `arn` has this type's format. Each placeholder stands for one or more characters within
    /// one ARN field (the resource field may hold `:`); the literal text is compared exactly.
    #[must_use]
    pub fn matches_arn(&self, arn: &str) -> bool {
        template::arn_matches(self.arn_format, arn)
    }
}

/// A condition key definition from the reference's condition keys table.
#[derive(Debug, PartialEq, Eq)]
pub struct ConditionKey {
    /// Possibly templated: `aws:RequestTag/${TagKey}`.
    pub name: &'static str,
    pub kind: KeyType,
}

impl ConditionKey {
    /// Whether `key` names this condition key: equal ignoring case, with each `${Placeholder}` standing
    /// for one or more characters (`aws:RequestTag/team` is `aws:RequestTag/${TagKey}`).
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        template::key_matches(self.name, key)
    }
}

/// The reference's access level of an action, as the console and IAM Access Analyzer group actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    PermissionsManagement,
    Tagging,
}

impl AccessLevel {
    /// As the reference prints it: `Permissions management`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::List => "List",
            Self::Read => "Read",
            Self::Write => "Write",
            Self::PermissionsManagement => "Permissions management",
            Self::Tagging => "Tagging",
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value type of a condition key, which decides the condition operators that make sense for it
/// and how the simulator reads a context entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    String,
    ArrayOfString,
    Arn,
    ArrayOfArn,
    Numeric,
    Date,
    Bool,
    ArrayOfBool,
    IpAddress,
}

impl KeyType {
    /// As the reference prints it: `ArrayOfString`, `ARN`, `IPAddress`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::ArrayOfString => "ArrayOfString",
            Self::Arn => "ARN",
            Self::ArrayOfArn => "ArrayOfARN",
            Self::Numeric => "Numeric",
            Self::Date => "Date",
            Self::Bool => "Bool",
            Self::ArrayOfBool => "ArrayOfBool",
            Self::IpAddress => "IPAddress",
        }
    }

    /// Whether a request may carry several values for the key (`aws:TagKeys`): conditions on it need
    /// `ForAnyValue:` / `ForAllValues:`.
    #[must_use]
    pub const fn is_multivalued(self) -> bool {
        matches!(
            self,
            Self::ArrayOfString | Self::ArrayOfArn | Self::ArrayOfBool
        )
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Orders as the generator sorted: by ASCII-lowercased bytes.
fn cmp_ignore_ascii_case(a: &str, b: &str) -> Ordering {
    let a = a.bytes().map(|c| c.to_ascii_lowercase());
    a.cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}
