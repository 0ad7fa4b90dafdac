//! One implementation of `Tag*`, `Untag*` and `List*Tags` for every taggable IAM entity. Entities differ only
//! in how they are found, their ARN, and AWS's case rule for keys (users and roles compare keys ignoring case,
//! the others exactly); the rules on the tags themselves (`aws:` prefix, duplicates, 50 per resource) and the
//! order authorize → find → change are the same for all.

use stsd_wire::generated::iam as w;

use super::entity::{Entity, mutate_request, read};
use super::{Ctx, RequestFacts, page_size, paginate, tags_in, wire_tag_list};
use crate::error::ApiResult;
use crate::model::Tag;
use crate::validate as v;

/// A taggable entity kind.
pub(super) trait Taggable: Entity {
    /// Whether keys that differ only in case are the same key.
    const CASE_INSENSITIVE: bool;
    fn tags(item: &Self::Item) -> &Vec<Tag>;
    fn tags_mut(item: &mut Self::Item) -> &mut Vec<Tag>;
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
    let facts = RequestFacts {
        tags: &tags,
        ..RequestFacts::default()
    };
    mutate_request::<T, _>(ctx, &format!("iam:Tag{}", T::WORD), id, &facts, |_, e| {
        let current = T::tags_mut(e);
        *current = v::merge_tags(current, &tags, T::CASE_INSENSITIVE)?;
        Ok(())
    })
}

/// `Untag{WORD}`: drop the tags with these keys (absent keys are not an error).
pub(super) fn untag<T: Taggable>(ctx: &Ctx<'_>, id: &str, keys: Vec<String>) -> ApiResult<()> {
    let facts = RequestFacts {
        tag_keys: &keys,
        ..RequestFacts::default()
    };
    mutate_request::<T, _>(ctx, &format!("iam:Untag{}", T::WORD), id, &facts, |_, e| {
        T::tags_mut(e).retain(|tag| !keys.iter().any(|k| same_key::<T>(k, &tag.key)));
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
    let (_, e) = read::<T>(ctx, &st, &format!("iam:List{}Tags", T::WORD), id)?;
    let (page, next) = paginate(T::tags(e).clone(), marker, page_size(max_items))?;
    Ok((wire_tag_list(&page), next))
}

/// The three tag actions of an entity kind whose items keep their tags in `tags`, as typed actions named after
/// their operations, and the kind's [`Taggable`] impl: `Tag{X}`, `Untag{X}` and `List{X}Tags` all name the
/// entity by the same input member (`$id`) and answer alike; keys compare ignoring case when
/// `$case_insensitive`.
macro_rules! actions {
    ($entity:ty, case_insensitive: $case_insensitive:literal, $id:ident;
     $tag:ident($tag_in:ident), $untag:ident($untag_in:ident), $list:ident($list_in:ident) -> $list_out:ident) => {
        impl $crate::iam::tagging::Taggable for $entity {
            const CASE_INSENSITIVE: bool = $case_insensitive;
            fn tags(item: &Self::Item) -> &Vec<$crate::model::Tag> {
                &item.tags
            }
            fn tags_mut(item: &mut Self::Item) -> &mut Vec<$crate::model::Tag> {
                &mut item.tags
            }
        }

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
