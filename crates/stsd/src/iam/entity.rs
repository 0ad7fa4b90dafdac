//! One implementation of read-authorize-mutate for every IAM entity kind. An action names its entity by name
//! (users, groups, roles, instance profiles), ARN (managed policies, OIDC and SAML providers) or serial number
//! (MFA devices); [`Entity`] says how each kind is found, what its ARN is and how the store records it. Every
//! action then follows the same order — authorize on the entity's ARN (a guess when it does not exist, so a
//! caller without permission learns nothing of whether it does), find it (`NoSuchEntity`), refuse entities
//! AWS protects, apply the action's own rules — and a failure at any step changes nothing.

use std::collections::BTreeMap;

use super::users::Users;
use super::{Ctx, RequestFacts};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::CallerKind;
use crate::model::Account;
use crate::state::State;
use crate::store::Kind;

/// An IAM entity kind, as its actions name it (`id`: a name, an ARN or a serial number).
pub(super) trait Entity {
    type Item: Clone;
    /// The kind's word in action names: `iam:Tag{WORD}`, `iam:Attach{WORD}Policy`.
    const WORD: &'static str;
    /// The store record kind to mark as changed.
    const KIND: Kind;
    /// The account's entities of this kind, keyed as the store records them.
    fn map(acct: &Account) -> &BTreeMap<String, Self::Item>;
    fn map_mut(acct: &mut Account) -> &mut BTreeMap<String, Self::Item>;
    /// The key of the entity `id` names: its lower-cased name unless the kind says otherwise. Kinds named by
    /// ARN fail here for a malformed or absent one (`InvalidInput`, `NoSuchEntity`).
    fn key(_acct: &Account, id: &str) -> ApiResult<String> {
        Ok(id.to_lowercase())
    }
    /// `NoSuchEntity` in AWS's words for this kind.
    fn missing(id: &str) -> ApiError;
    /// The ARN authorization is evaluated against: the entity's own (with its path) when it exists.
    fn arn(ctx: &Ctx<'_>, acct: &Account, id: &str) -> String;
    /// Entities AWS protects from change (service-linked roles) refuse every mutation.
    fn check_mutable(_item: &Self::Item) -> ApiResult<()> {
        Ok(())
    }

    fn find<'a>(acct: &'a Account, id: &str) -> ApiResult<&'a Self::Item> {
        let key = Self::key(acct, id)?;
        Self::map(acct).get(&key).ok_or_else(|| Self::missing(id))
    }

    fn find_mut<'a>(acct: &'a mut Account, id: &str) -> ApiResult<&'a mut Self::Item> {
        let key = Self::key(acct, id)?;
        Self::map_mut(acct)
            .get_mut(&key)
            .ok_or_else(|| Self::missing(id))
    }
}

/// Authorize `action` on the entity `id`, then find it: the order of every IAM read.
pub(super) fn read<'s, E: Entity>(
    ctx: &Ctx<'_>,
    st: &'s State,
    action: &str,
    id: &str,
) -> ApiResult<(&'s Account, &'s E::Item)> {
    let acct = ctx.account(st)?;
    ctx.authorize(st, action, &E::arn(ctx, acct, id))?;
    Ok((acct, E::find(acct, id)?))
}

/// Read-authorize-mutate in one write transaction: authorize `action` on the entity, find it, refuse a
/// protected one, then let `change` apply the action's rules to a copy of it (seeing the rest of the state);
/// the copy replaces the entity and the entity is recorded as changed.
pub(super) fn mutate<E: Entity, R>(
    ctx: &Ctx<'_>,
    action: &str,
    id: &str,
    change: impl FnMut(&State, &mut E::Item) -> ApiResult<R>,
) -> ApiResult<R> {
    mutate_request::<E, R>(ctx, action, id, &RequestFacts::default(), change)
}

/// [`mutate`] for a request that carries condition-key facts (tags, a boundary, a policy ARN).
pub(super) fn mutate_request<E: Entity, R>(
    ctx: &Ctx<'_>,
    action: &str,
    id: &str,
    facts: &RequestFacts<'_>,
    mut change: impl FnMut(&State, &mut E::Item) -> ApiResult<R>,
) -> ApiResult<R> {
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize_request(st, action, &E::arn(ctx, acct, id), facts)?;
        let key = E::key(acct, id)?;
        let current = E::map(acct).get(&key).ok_or_else(|| E::missing(id))?;
        E::check_mutable(current)?;
        let mut item = current.clone();
        let out = change(st, &mut item)?;
        E::map_mut(ctx.account_mut(st)?).insert(key.clone(), item);
        t.touch(E::KIND, &ctx.caller.account, &key);
        Ok(out)
    })
}

/// What a `Create{WORD}` call makes: the entity's ARN (authorized before it exists), its key, AWS's words when
/// the key is taken, and the account's quota of the kind.
pub(super) struct New<'a> {
    pub arn: &'a str,
    pub key: String,
    pub taken: String,
    pub quota: (&'static str, usize),
}

/// `Create{WORD}` in one write transaction: authorize `action` on the new entity's ARN, refuse a taken key
/// (`EntityAlreadyExists`) or a full account (`LimitExceeded`), then store what `build` makes (after its own
/// checks) and answer with what `answer` reads from the state that holds it (its failure, too, changes nothing).
pub(super) fn create<E: Entity, R>(
    ctx: &Ctx<'_>,
    action: &str,
    new: &New<'_>,
    facts: &RequestFacts<'_>,
    mut build: impl FnMut(&State) -> ApiResult<E::Item>,
    answer: impl Fn(&State, &Account, &E::Item) -> ApiResult<R>,
) -> ApiResult<R> {
    ctx.node.write(|st, t| {
        ctx.authorize_request(st, action, new.arn, facts)?;
        let existing = E::map(ctx.account(st)?);
        if existing.contains_key(&new.key) {
            return Err(ApiError::already_exists(new.taken.clone()));
        }
        if existing.len() >= new.quota.1 {
            return Err(ApiError::limit(new.quota.0, new.quota.1));
        }
        let item = build(st)?;
        E::map_mut(ctx.account_mut(st)?).insert(new.key.clone(), item);
        t.touch(E::KIND, &ctx.caller.account, &new.key);
        let acct = ctx.account(st)?;
        let item = E::map(acct).get(&new.key).ok_or_else(ApiError::internal)?;
        answer(st, acct, item)
    })
}

/// `Delete{WORD}`: authorize, find, refuse a protected entity or one `check` says is still in use, remove it.
pub(super) fn remove<E: Entity>(
    ctx: &Ctx<'_>,
    action: &str,
    id: &str,
    mut check: impl FnMut(&Account, &E::Item) -> ApiResult<()>,
) -> ApiResult<E::Item> {
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        ctx.authorize(st, action, &E::arn(ctx, acct, id))?;
        let key = E::key(acct, id)?;
        let current = E::map(acct).get(&key).ok_or_else(|| E::missing(id))?;
        E::check_mutable(current)?;
        check(acct, current)?;
        let removed = E::map_mut(ctx.account_mut(st)?)
            .remove(&key)
            .ok_or_else(ApiError::internal)?;
        t.touch(E::KIND, &ctx.caller.account, &key);
        Ok(removed)
    })
}

/// The items of an [`Entity`] impl every kind shares: where its items live and how a missing one is worded.
macro_rules! stored_in {
    ($item:ty, $field:ident, $word:literal, $kind:expr, $missing:path) => {
        type Item = $item;
        const WORD: &'static str = $word;
        const KIND: $crate::store::Kind = $kind;
        fn map(acct: &$crate::model::Account) -> &std::collections::BTreeMap<String, $item> {
            &acct.$field
        }
        fn map_mut(
            acct: &mut $crate::model::Account,
        ) -> &mut std::collections::BTreeMap<String, $item> {
            &mut acct.$field
        }
        fn missing(id: &str) -> $crate::error::ApiError {
            $missing(id)
        }
    };
}
pub(super) use stored_in;

/// An entity kind kept under its lower-cased name whose ARN is `arn:aws:iam::ACCOUNT:{kind}{path}{name}`.
macro_rules! named {
    ($(#[$doc:meta])* $marker:ident: $item:ty, $field:ident, $word:literal, $kind:expr, $arn_kind:literal,
     $arn_of:ident, $missing:path $(, protected: $check:path)?) => {
        $(#[$doc])*
        pub(super) struct $marker;

        impl $crate::iam::entity::Entity for $marker {
            $crate::iam::entity::stored_in!($item, $field, $word, $kind, $missing);
            fn arn(ctx: &$crate::action::Ctx<'_>, acct: &$crate::model::Account, id: &str) -> String {
                acct.$field
                    .get(&id.to_lowercase())
                    .map(|e| acct.$arn_of(e))
                    .unwrap_or_else(|| ctx.arn($arn_kind, "", id))
            }
            $(fn check_mutable(item: &$item) -> $crate::error::ApiResult<()> {
                $check(item)
            })?
        }
    };
}
pub(super) use named;

/// An entity kind named by ARN (or serial number), authorized on the ARN as given, kept under the key `$key`
/// derives from it.
macro_rules! by_arn {
    ($(#[$doc:meta])* $marker:ident: $item:ty, $field:ident, $word:literal, $kind:expr, $key:path,
     $missing:path) => {
        $(#[$doc])*
        pub(super) struct $marker;

        impl $crate::iam::entity::Entity for $marker {
            $crate::iam::entity::stored_in!($item, $field, $word, $kind, $missing);
            fn key(acct: &$crate::model::Account, id: &str) -> $crate::error::ApiResult<String> {
                $key(acct, id)
            }
            fn arn(_ctx: &$crate::action::Ctx<'_>, _acct: &$crate::model::Account, id: &str) -> String {
                id.to_string()
            }
        }
    };
}
pub(super) use by_arn;

/// Whose credentials (access keys, MFA devices, login profile) a call is about: the user `UserName` names, or
/// when it is omitted the caller itself — a user, or the account root.
pub(super) enum Subject {
    Root,
    User(String),
}

impl Subject {
    /// `ValidationError` when `UserName` is omitted by a caller that is neither a user nor the root.
    pub(super) fn of(ctx: &Ctx<'_>, user_name: Option<&str>) -> ApiResult<Subject> {
        match (user_name, &ctx.caller.kind) {
            (Some(n), _) => Ok(Subject::User(n.to_string())),
            (None, CallerKind::Root) => Ok(Subject::Root),
            (None, CallerKind::User { name, .. }) => Ok(Subject::User(name.clone())),
            (None, _) => Err(ApiError::new(
                ErrorCode::ValidationError,
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    /// The ARN the call is authorized on.
    pub(super) fn arn(&self, ctx: &Ctx<'_>, acct: &Account) -> String {
        match self {
            Subject::Root => acct.root_arn(),
            Subject::User(n) => Users::arn(ctx, acct, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::error::{ApiError, ErrorCode};
    use crate::test_support::{Harness, owned, policy};

    fn code(answer: Result<String, ApiError>) -> Option<ErrorCode> {
        answer.err().map(|e| e.code)
    }

    /// Query parameters.
    type Params<'a> = &'a [(&'a str, &'a str)];

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn a_caller_without_permission_learns_nothing_of_whether_an_entity_exists() {
        let h = Harness::new();
        let nobody = h.user("nobody", None);
        let reader = h.user("reader", Some(&policy("Allow", "iam:*", "*")));
        let absent: &[(&str, Params<'_>)] = &[
            ("GetRole", &[("RoleName", "ghost")]),
            ("DeleteUser", &[("UserName", "ghost")]),
            ("UpdateGroup", &[("GroupName", "ghost"), ("NewPath", "/x/")]),
            (
                "TagInstanceProfile",
                &[
                    ("InstanceProfileName", "ghost"),
                    ("Tags.member.1.Key", "k"),
                    ("Tags.member.1.Value", "v"),
                ],
            ),
            (
                "GetPolicy",
                &[("PolicyArn", "arn:aws:iam::111122223333:policy/ghost")],
            ),
            (
                "DeleteSAMLProvider",
                &[(
                    "SAMLProviderArn",
                    "arn:aws:iam::111122223333:saml-provider/ghost",
                )],
            ),
            (
                "AttachRolePolicy",
                &[
                    ("RoleName", "ghost"),
                    ("PolicyArn", "arn:aws:iam::111122223333:policy/ghost"),
                ],
            ),
        ];
        for (op, params) in absent {
            let params = owned(params);
            assert_eq!(
                code(h.call(&nobody, "iam", op, &params)),
                Some(ErrorCode::AccessDenied),
                "{op}"
            );
            assert_eq!(
                code(h.call(&reader, "iam", op, &params)),
                Some(ErrorCode::NoSuchEntity),
                "{op}"
            );
        }
    }

    #[test]
    fn a_refused_change_changes_nothing() {
        let h = Harness::new();
        h.root_iam("CreateUser", &[("UserName", "alice")]);
        let mut tags = Vec::new();
        for i in 0..50 {
            tags.push((format!("Tags.member.{}.Key", i + 1), format!("k{i}")));
            tags.push((format!("Tags.member.{}.Value", i + 1), "v".to_string()));
        }
        tags.push(("UserName".into(), "alice".into()));
        h.call(&h.root, "iam", "TagUser", &tags).unwrap();
        // A 51st key is over the quota: nothing of the request is applied, not even the value it replaces.
        let over = owned(&[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "k0"),
            ("Tags.member.1.Value", "changed"),
            ("Tags.member.2.Key", "k50"),
            ("Tags.member.2.Value", "v"),
        ]);
        assert_eq!(
            code(h.call(&h.root, "iam", "TagUser", &over)),
            Some(ErrorCode::LimitExceeded)
        );
        let listed = h.root_iam(
            "ListUserTags",
            &[("UserName", "alice"), ("MaxItems", "1000")],
        );
        assert_eq!(listed.matches("<Key>").count(), 50);
        assert!(!listed.contains("changed") && !listed.contains("k50"));
        // A boundary that names no policy: refused, and the user still has none.
        let absent = owned(&[
            ("UserName", "alice"),
            (
                "PermissionsBoundary",
                "arn:aws:iam::111122223333:policy/ghost",
            ),
        ]);
        assert_eq!(
            code(h.call(&h.root, "iam", "PutUserPermissionsBoundary", &absent)),
            Some(ErrorCode::NoSuchEntity)
        );
        assert!(
            !h.root_iam("GetUser", &[("UserName", "alice")])
                .contains("PermissionsBoundary")
        );
    }

    #[test]
    fn a_service_linked_role_refuses_every_change() {
        let h = Harness::new();
        let path = "/aws-service-role/svc.amazonaws.com/";
        h.root_iam(
            "CreateRole",
            &[
                ("RoleName", "linked"),
                ("Path", path),
                ("AssumeRolePolicyDocument", TRUST),
            ],
        );
        let doc = policy("Allow", "s3:GetObject", "*");
        h.root_iam(
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", &doc)],
        );
        let arn = "arn:aws:iam::111122223333:policy/p";
        let changes: &[(&str, Params<'_>)] = &[
            ("UpdateRole", &[("Description", "x")]),
            ("UpdateRoleDescription", &[("Description", "x")]),
            ("UpdateAssumeRolePolicy", &[("PolicyDocument", TRUST)]),
            (
                "TagRole",
                &[("Tags.member.1.Key", "k"), ("Tags.member.1.Value", "v")],
            ),
            ("UntagRole", &[("TagKeys.member.1", "k")]),
            ("AttachRolePolicy", &[("PolicyArn", arn)]),
            ("DetachRolePolicy", &[("PolicyArn", arn)]),
            (
                "PutRolePolicy",
                &[("PolicyName", "i"), ("PolicyDocument", &doc)],
            ),
            ("DeleteRolePolicy", &[("PolicyName", "i")]),
            (
                "PutRolePermissionsBoundary",
                &[("PermissionsBoundary", arn)],
            ),
            ("DeleteRolePermissionsBoundary", &[]),
            ("DeleteRole", &[]),
        ];
        for (op, params) in changes {
            let mut params = owned(params);
            params.push(("RoleName".into(), "linked".into()));
            assert_eq!(
                code(h.call(&h.root, "iam", op, &params)),
                Some(ErrorCode::UnmodifiableEntity),
                "{op}"
            );
        }
        let role = h.root_iam("GetRole", &[("RoleName", "linked")]);
        assert!(!role.contains("<Description>") && !role.contains("<Tags>"));
        assert!(
            !h.root_iam("ListAttachedRolePolicies", &[("RoleName", "linked")])
                .contains(arn)
        );
    }

    #[test]
    fn a_taken_name_is_taken_in_any_case() {
        let h = Harness::new();
        let doc = policy("Allow", "s3:GetObject", "*");
        // Each operation, its first call, and the same name in another case.
        let creates: &[(&str, Params<'_>, Params<'_>)] = &[
            (
                "CreateUser",
                &[("UserName", "Alice")],
                &[("UserName", "alice")],
            ),
            (
                "CreateGroup",
                &[("GroupName", "Ops")],
                &[("GroupName", "OPS")],
            ),
            (
                "CreateRole",
                &[("RoleName", "Deploy"), ("AssumeRolePolicyDocument", TRUST)],
                &[("RoleName", "deploy"), ("AssumeRolePolicyDocument", TRUST)],
            ),
            (
                "CreateInstanceProfile",
                &[("InstanceProfileName", "Web")],
                &[("InstanceProfileName", "web")],
            ),
            (
                "CreatePolicy",
                &[("PolicyName", "Read"), ("PolicyDocument", &doc)],
                &[("PolicyName", "read"), ("PolicyDocument", &doc)],
            ),
        ];
        for (op, first, again) in creates {
            h.root_iam(op, first);
            assert_eq!(
                code(h.call(&h.root, "iam", op, &owned(again))),
                Some(ErrorCode::EntityAlreadyExists),
                "{op}"
            );
        }
    }
}
