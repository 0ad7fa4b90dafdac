//! ARN patterns: `arn:partition:service:region:account:resource`, split at the first five
//! colons into five segments and the resource part, which keeps any further colons.
//!
//! Two rules use this split (reference §4.4):
//!
//! * `Resource`/`NotResource` ([`match_resource`]): a `*` that ends one of the five segments may
//!   run on over later colons; any other wildcard in them stays inside its segment.
//! * `ArnLike`/`ArnEquals` and their variants ([`match_components`]): each of the six components
//!   is matched on its own, so no wildcard of the first five ever covers a colon.
//!
//! Neither adds to the cost of [`crate::glob`]: every segment test is on one colon-free chunk,
//! at most five segments are tested per chunk, and the resource part is located in one pass
//! with the streaming finders.

use smallvec::SmallVec;

use crate::glob::{self, Finder, Tok};

/// The first five segments of a `Resource` ARN pattern (fewer if it has fewer colons), their
/// tokens kept in one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segments {
    toks: Box<[Tok]>,
    segs: SmallVec<[Seg; 5]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    /// Its tokens: `toks[from..to]`.
    from: u32,
    to: u32,
    /// Characters the segment needs at least: chunks shorter than that are skipped unread, which
    /// keeps the cost of testing a long segment against many short chunks linear.
    min: u32,
    /// Ends with a `*`, which may run over later colons.
    open: bool,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Segments {
    pub(crate) fn new(parts: &[&[Tok]]) -> Segments {
        let mut toks = Vec::new();
        let mut segs = SmallVec::new();
        for p in parts {
            let from = to_u32(toks.len());
            toks.extend_from_slice(p);
            segs.push(Seg {
                from,
                to: to_u32(toks.len()),
                min: to_u32(glob::min_len(p)),
                open: p.last() == Some(&Tok::Star),
            });
        }
        Segments {
            toks: toks.into(),
            segs,
        }
    }

    #[inline]
    fn matches(&self, seg: &Seg, chunk: &str) -> bool {
        chunk.len() >= seg.min as usize
            && glob::matches(
                self.toks
                    .get(seg.from as usize..seg.to as usize)
                    .unwrap_or_default(),
                chunk,
                false,
            )
    }
}

/// Splits `toks` before its first five `:` literals: up to five segments, and the resource part
/// if there were five colons.
pub(crate) fn split(toks: &[Tok]) -> (SmallVec<[&[Tok]; 5]>, Option<&[Tok]>) {
    let mut segs: SmallVec<[&[Tok]; 5]> = SmallVec::new();
    let mut rest = toks;
    while segs.len() < 5 {
        match rest.iter().position(|t| *t == Tok::Lit(':')) {
            Some(i) => {
                segs.push(rest.get(..i).unwrap_or_default());
                rest = rest.get(i + 1..).unwrap_or_default();
            }
            None => {
                segs.push(rest);
                return (segs, None);
            }
        }
    }
    (segs, Some(rest))
}

/// Whether the pattern has the ARN shape: five colons and a first segment that is literally
/// `arn` (a component-wise match needs all six components).
pub(crate) fn is_arn_shaped(segs: &[&[Tok]], resource: Option<&[Tok]>) -> bool {
    resource.is_some()
        && segs.len() == 5
        && segs
            .first()
            .is_some_and(|s| *s == [Tok::Lit('a'), Tok::Lit('r'), Tok::Lit('n')])
}

/// `ArnLike` semantics: component by component. `segs` must be the five segments of an
/// ARN-shaped pattern.
pub(crate) fn match_components(segs: &[&[Tok]], resource: &[Tok], s: &str) -> bool {
    let mut parts = s.splitn(6, ':');
    for seg in segs {
        match parts.next() {
            Some(p) if glob::matches(seg, p, false) => {}
            _ => return false,
        }
    }
    parts
        .next()
        .is_some_and(|r| glob::matches(resource, r, false))
}

/// How the resource part of a `Resource` pattern is located.
enum Plan<'p> {
    /// The pattern has fewer than five colons: the last segment ends the match.
    Absent,
    /// No `*`: it covers exactly the text from byte `at` (its length in characters from the end).
    Fixed { toks: &'p [Tok], at: usize },
    /// A star-free head, then `rest`, which starts with `*`.
    Open { head: &'p [Tok], rest: &'p [Tok] },
}

/// `Resource` semantics (§4.4) for a pattern split by [`split`]: `segs` (1 to 5 segments) and the
/// resource part (present only with five segments).
///
/// The text is read chunk by chunk (runs between colons). `active` holds the segments that may
/// start at the current chunk; `sticky` those that may start at every later chunk because an
/// open segment before them has matched (its `*` can swallow any colons). Bit `n` marks where
/// the resource part may start.
pub(crate) fn match_resource(pattern: &Segments, resource: Option<&[Tok]>, s: &str) -> bool {
    let segs = &pattern.segs;
    let n = segs.len();
    if n == 0 || n > 5 || (resource.is_some() && n != 5) {
        return false;
    }
    if !segs.iter().any(|seg| seg.open) {
        // The common case: every colon of the pattern's prefix meets a colon of the text.
        let mut parts = s.splitn(6, ':');
        for seg in segs {
            match parts.next() {
                Some(p) if pattern.matches(seg, p) => {}
                _ => return false,
            }
        }
        return match (resource, parts.next()) {
            (Some(r), Some(rest)) => glob::matches(r, rest, false),
            (None, rest) => rest.is_none(),
            (Some(_), None) => false,
        };
    }
    let plan = match resource {
        None => Plan::Absent,
        Some(r) => match r.iter().position(|t| *t == Tok::Star) {
            None => match resource_start(r, s) {
                Some(at) => Plan::Fixed { toks: r, at },
                None => return false,
            },
            Some(i) => Plan::Open {
                head: r.get(..i).unwrap_or_default(),
                rest: r.get(i..).unwrap_or_default(),
            },
        },
    };
    let goal = 1u8 << n;
    let mut active = 1u8;
    let mut sticky = 0u8;
    let mut start = 0usize;
    let mut starts: SmallVec<[usize; 8]> = SmallVec::new();
    loop {
        let end = s
            .get(start..)
            .and_then(|r| r.find(':'))
            .map_or(s.len(), |i| start + i);
        let last = end == s.len();
        let here = active | sticky;
        if here & goal != 0 {
            let rest_of_text = s.get(start..).unwrap_or_default();
            match plan {
                Plan::Fixed { toks, at } if start == at => {
                    return glob::matches(toks, rest_of_text, false);
                }
                Plan::Fixed { at, .. } if start > at => return false,
                Plan::Open { head: [], rest } => {
                    // The earliest start leaves the most text to the leading `*` of `rest`.
                    return glob::matches(rest, rest_of_text, false);
                }
                Plan::Open { .. } => starts.push(start),
                Plan::Fixed { .. } | Plan::Absent => {}
            }
        }
        let chunk = s.get(start..end).unwrap_or_default();
        let mut next = sticky;
        for (i, seg) in segs.iter().enumerate() {
            if here & (1 << i) == 0 || !pattern.matches(seg, chunk) {
                continue;
            }
            let ends_pattern = i + 1 == n && resource.is_none();
            if seg.open {
                if ends_pattern {
                    return true;
                }
                sticky |= 1 << (i + 1);
                next |= 1 << (i + 1);
            } else if ends_pattern {
                if last {
                    return true;
                }
            } else {
                next |= 1 << (i + 1);
            }
        }
        // Nothing can start at a later chunk: no segment, and no resource part.
        if last || next == 0 {
            break;
        }
        active = next;
        start = end + 1;
    }
    match plan {
        Plan::Open { head, rest } => open_resource(head, rest, &starts, s),
        Plan::Absent | Plan::Fixed { .. } => false,
    }
}

/// Byte offset where a star-free resource part must begin: it covers the last characters.
fn resource_start(r: &[Tok], s: &str) -> Option<usize> {
    if r.is_empty() {
        return Some(s.len());
    }
    s.char_indices().rev().nth(r.len() - 1).map(|(i, _)| i)
}

/// The resource part is `head` then `rest` (starting with `*`), and may begin at any of
/// `starts` (ascending). The earliest start where `head` occurs is the best one: `rest`
/// matches any text that a later start leaves it.
fn open_resource(head: &[Tok], rest: &[Tok], starts: &[usize], s: &str) -> bool {
    let Some(&first) = starts.first() else {
        return false;
    };
    let tail_from = |e: usize| glob::matches(rest, s.get(e..).unwrap_or_default(), false);
    if head.iter().all(|t| matches!(t, Tok::Lit(c) if *c != ':')) {
        // Such a head fails at the next colon at the latest, so trying each start reads every
        // chunk once.
        return starts
            .iter()
            .find_map(|&x| {
                glob::match_at(head, s.get(x..).unwrap_or_default(), false).map(|len| x + len)
            })
            .is_some_and(tail_from);
    }
    // Otherwise stream the text once: an occurrence of `head` ending at character `t` began at
    // character `t + 1 - head.len()`; keep the starts seen so far (as character indices) and
    // compare.
    let mut finder = Finder::new(head, false);
    let mut seen: SmallVec<[(usize, usize); 8]> = SmallVec::new();
    let (mut next_start, mut oldest) = (0usize, 0usize);
    for (t, (i, c)) in s
        .get(first..)
        .unwrap_or_default()
        .char_indices()
        .enumerate()
    {
        let b = first + i;
        if starts.get(next_start) == Some(&b) {
            seen.push((t, b));
            next_start += 1;
        }
        if !finder.step(c) {
            continue;
        }
        let began = (t + 1).saturating_sub(head.len());
        while seen.get(oldest).is_some_and(|&(st, _)| st < began) {
            oldest += 1;
        }
        if seen.get(oldest).is_some_and(|&(st, _)| st == began) {
            return tail_from(b + c.len_utf8());
        }
    }
    false
}
