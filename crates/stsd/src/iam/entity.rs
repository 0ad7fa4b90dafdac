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

/// An entity kind kept under its lower-cased name whose ARN is `arn:aws:iam::ACCOUNT:{kind}{path}{name}`.
macro_rules! named {
    ($(#[$doc:meta])* $marker:ident: $item:ty, $field:ident, $word:literal, $kind:expr, $arn_kind:literal,
     $arn_of:ident, $missing:expr $(, protected: $check:path)?) => {
        $(#[$doc])*
        pub(super) struct $marker;

        impl $crate::iam::entity::Entity for $marker {
            type Item = $item;
            const WORD: &'static str = $word;
            const KIND: $crate::store::Kind = $kind;
            fn map(
                acct: &$crate::model::Account,
            ) -> &std::collections::BTreeMap<String, $item> {
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
            type Item = $item;
            const WORD: &'static str = $word;
            const KIND: $crate::store::Kind = $kind;
            fn map(
                acct: &$crate::model::Account,
            ) -> &std::collections::BTreeMap<String, $item> {
                &acct.$field
            }
            fn map_mut(
                acct: &mut $crate::model::Account,
            ) -> &mut std::collections::BTreeMap<String, $item> {
                &mut acct.$field
            }
            fn key(acct: &$crate::model::Account, id: &str) -> $crate::error::ApiResult<String> {
                $key(acct, id)
            }
            fn missing(id: &str) -> $crate::error::ApiError {
                $missing(id)
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
