//! One implementation of `Tag*`, `Untag*` and `List*Tags` for every taggable IAM entity. Entities differ only
//! in how they are found, their ARN, and AWS's case rule for keys (users and roles compare keys ignoring case,
//! the others exactly); the rules on the tags themselves (`aws:` prefix, duplicates, 50 per resource) and the
//! order authorize → find → change are the same for all.

use stsd_wire::generated::iam as w;

use super::{Ctx, RequestFacts, page_size, paginate, tags_in, wire_tag_list};
use crate::error::ApiResult;
use crate::model::{Account, Tag};
use crate::store::Kind;
use crate::validate as v;

/// A taggable entity kind, named by `id` (its name or ARN, as its actions take it).
pub(super) trait Taggable {
    /// The infix of the action names: `Tag{WORD}`, `Untag{WORD}`, `List{WORD}Tags`.
    const WORD: &'static str;
    /// Whether keys that differ only in case are the same key.
    const CASE_INSENSITIVE: bool;
    /// The store record kind to mark as changed.
    const KIND: Kind;
    /// The ARN authorization is evaluated against (a best guess when the entity does not exist).
    fn arn(ctx: &Ctx<'_>, acct: &Account, id: &str) -> String;
    fn tags<'a>(acct: &'a Account, id: &str) -> ApiResult<&'a Vec<Tag>>;
    fn tags_mut<'a>(acct: &'a mut Account, id: &str) -> ApiResult<&'a mut Vec<Tag>>;
    /// The key the store records the entity under.
    fn store_key(acct: &Account, id: &str) -> String;
    /// Entities AWS protects from change (service-linked roles) refuse tagging too.
    fn check_mutable(_acct: &Account, _id: &str) -> ApiResult<()> {
        Ok(())
    }
}

fn same_key<T: Taggable>(a: &str, b: &str) -> bool {
    if T::CASE_INSENSITIVE {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// `Tag{WORD}`: merge `tags` into the entity's (a tag with an existing key replaces it).
pub(super) fn tag<T: Taggable>(ctx: &Ctx<'_>, id: &str, tags: Vec<w::Tag>) -> ApiResult<()> {
    let tags = tags_in(Some(tags), T::CASE_INSENSITIVE)?;
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        let facts = RequestFacts {
            tags: &tags,
            ..RequestFacts::default()
        };
        let action = format!("iam:Tag{}", T::WORD);
        ctx.authorize_request(st, &action, &T::arn(ctx, acct, id), &facts)?;
        T::tags(acct, id)?;
        T::check_mutable(acct, id)?;
        let key = T::store_key(acct, id);
        let acct = ctx.account_mut(st)?;
        let current = T::tags_mut(acct, id)?;
        *current = v::merge_tags(current, &tags, T::CASE_INSENSITIVE)?;
        t.touch(T::KIND, &ctx.caller.account, &key);
        Ok(())
    })
}

/// `Untag{WORD}`: drop the tags with these keys (absent keys are not an error).
pub(super) fn untag<T: Taggable>(ctx: &Ctx<'_>, id: &str, keys: Vec<String>) -> ApiResult<()> {
    ctx.node.write(|st, t| {
        let acct = ctx.account(st)?;
        let facts = RequestFacts {
            tag_keys: &keys,
            ..RequestFacts::default()
        };
        let action = format!("iam:Untag{}", T::WORD);
        ctx.authorize_request(st, &action, &T::arn(ctx, acct, id), &facts)?;
        T::tags(acct, id)?;
        T::check_mutable(acct, id)?;
        let key = T::store_key(acct, id);
        let acct = ctx.account_mut(st)?;
        T::tags_mut(acct, id)?.retain(|tag| !keys.iter().any(|k| same_key::<T>(k, &tag.key)));
        t.touch(T::KIND, &ctx.caller.account, &key);
        Ok(())
    })
}

/// `List{WORD}Tags`: one page of the entity's tags and the next marker.
pub(super) fn list<T: Taggable>(
    ctx: &Ctx<'_>,
    id: &str,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> ApiResult<(Vec<w::Tag>, Option<String>)> {
    let st = ctx.node.read()?;
    let acct = ctx.account(&st)?;
    let action = format!("iam:List{}Tags", T::WORD);
    ctx.authorize(&st, &action, &T::arn(ctx, acct, id))?;
    let tags = T::tags(acct, id)?;
    let (page, next) = paginate(tags.clone(), marker, page_size(max_items))?;
    Ok((wire_tag_list(&page), next))
}

/// The three tag actions of one entity kind, as typed actions named after their operations: `Tag{X}`,
/// `Untag{X}` and `List{X}Tags` all name the entity by the same input member (`$id`) and answer alike.
macro_rules! actions {
    ($entity:ty, $id:ident;
     $tag:ident($tag_in:ident), $untag:ident($untag_in:ident), $list:ident($list_in:ident) -> $list_out:ident) => {
        pub fn $tag(
            ctx: &$crate::action::Ctx<'_>,
            input: w::$tag_in,
        ) -> $crate::error::ApiResult<()> {
            $crate::iam::tagging::tag::<$entity>(ctx, &input.$id, input.tags)
        }

        pub fn $untag(
            ctx: &$crate::action::Ctx<'_>,
            input: w::$untag_in,
        ) -> $crate::error::ApiResult<()> {
            $crate::iam::tagging::untag::<$entity>(ctx, &input.$id, input.tag_keys)
        }

        pub fn $list(
            ctx: &$crate::action::Ctx<'_>,
            input: w::$list_in,
        ) -> $crate::error::ApiResult<w::$list_out> {
            let (tags, next) = $crate::iam::tagging::list::<$entity>(
                ctx,
                &input.$id,
                input.marker.as_deref(),
                input.max_items,
            )?;
            Ok(w::$list_out {
                tags,
                is_truncated: Some(next.is_some()),
                marker: next,
            })
        }
    };
}
pub(super) use actions;
