//! Wildcard (`*`, `?`) matching for actions, `StringLike` values and ARNs.
//!
//! Patterns are compiled once into [`Tok`] sequences. Two matchers exist: the classic greedy
//! two-pointer algorithm (linear in practice, no allocation) for patterns whose wildcards may match
//! any character, and a bit-parallel NFA for ARN patterns, where a wildcard in the middle of one of
//! the first five ARN segments must not cross a `:` (reference §4.4). Neither matcher can take
//! exponential time on hostile patterns.

use smallvec::SmallVec;

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A literal character (already case-folded if the match is case-insensitive).
    Lit(char),
    /// `*`: any run of characters, including `:`.
    Star,
    /// `*` inside an ARN segment: any run of characters except `:`.
    SegStar,
    /// `?`: exactly one character.
    One,
    /// `?` inside an ARN segment: one character other than `:`.
    SegOne,
}

/// Tokenises a plain glob (`*` and `?` special, everything else literal).
#[cfg(test)]
pub(crate) fn tokenize(pattern: &str, fold: bool) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c if fold => Tok::Lit(c.to_ascii_lowercase()),
            c => Tok::Lit(c),
        })
        .collect()
}

pub(crate) fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

#[inline]
fn lit_eq(p: char, c: char, fold: bool) -> bool {
    if fold {
        p == c.to_ascii_lowercase()
    } else {
        p == c
    }
}

/// Matches `s` against `pat`. `fold` compares ASCII letters case-insensitively (the pattern's
/// literals must already be lowercase).
pub(crate) fn matches(pat: &[Tok], s: &str, fold: bool) -> bool {
    if pat.iter().any(|t| matches!(t, Tok::SegStar | Tok::SegOne)) {
        nfa_match(pat, s, fold)
    } else {
        greedy_match(pat, s, fold)
    }
}

/// Greedy matcher with single-star backtracking. Correct when every star can match any run.
fn greedy_match(pat: &[Tok], s: &str, fold: bool) -> bool {
    let mut p = 0usize; // index into pat
    let mut i = 0usize; // byte index into s
    let mut star: Option<(usize, usize)> = None; // (pattern index after star, byte index in s)
    loop {
        let c = s.get(i..).and_then(|r| r.chars().next());
        match (pat.get(p), c) {
            (Some(Tok::Star | Tok::SegStar), _) => {
                p += 1;
                star = Some((p, i));
                continue;
            }
            (Some(Tok::One | Tok::SegOne), Some(c)) => {
                p += 1;
                i += c.len_utf8();
                continue;
            }
            (Some(Tok::Lit(l)), Some(c)) if lit_eq(*l, c, fold) => {
                p += 1;
                i += c.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        // Mismatch: let the last star swallow one more character.
        match star {
            Some((sp, si)) => {
                let Some(c) = s.get(si..).and_then(|r| r.chars().next()) else {
                    return false;
                };
                let ni = si + c.len_utf8();
                star = Some((sp, ni));
                p = sp;
                i = ni;
            }
            None => return false,
        }
    }
}

type Bits = SmallVec<[u64; 4]>;

#[inline]
fn bit(b: &Bits, i: usize) -> bool {
    b.get(i / 64).is_some_and(|w| w & (1u64 << (i % 64)) != 0)
}

#[inline]
fn set(b: &mut Bits, i: usize) {
    if let Some(w) = b.get_mut(i / 64) {
        *w |= 1u64 << (i % 64);
    }
}

/// Adds every state reachable through stars matching the empty string.
fn close(pat: &[Tok], b: &mut Bits) {
    for (i, t) in pat.iter().enumerate() {
        if matches!(t, Tok::Star | Tok::SegStar) && bit(b, i) {
            set(b, i + 1);
        }
    }
}

/// Position-set simulation: O(len(s) × len(pat)), no backtracking blow-up.
fn nfa_match(pat: &[Tok], s: &str, fold: bool) -> bool {
    let words = (pat.len() + 1).div_ceil(64);
    let mut cur: Bits = SmallVec::from_elem(0, words);
    let mut next: Bits = SmallVec::from_elem(0, words);
    set(&mut cur, 0);
    close(pat, &mut cur);
    for c in s.chars() {
        next.iter_mut().for_each(|w| *w = 0);
        let mut any = false;
        for (i, t) in pat.iter().enumerate() {
            if !bit(&cur, i) {
                continue;
            }
            let (stay, advance) = match *t {
                Tok::Lit(l) => (false, lit_eq(l, c, fold)),
                Tok::One => (false, true),
                Tok::SegOne => (false, c != ':'),
                Tok::Star => (true, false),
                Tok::SegStar => (c != ':', false),
            };
            if stay {
                set(&mut next, i);
                any = true;
            }
            if advance {
                set(&mut next, i + 1);
                any = true;
            }
        }
        if !any {
            return false;
        }
        close(pat, &mut next);
        std::mem::swap(&mut cur, &mut next);
    }
    bit(&cur, pat.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(&tokenize(p, false), s, false)
    }

    #[test]
    fn basics() {
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*a*a*b", "aaaaaaaaab"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaa"));
        assert!(m("é?", "éü"));
        assert!(matches(&tokenize("iam:get*", true), "IAM:GetUser", true));
    }

    #[test]
    fn segment_stars_do_not_cross_colons() {
        let pat = [Tok::Lit('a'), Tok::SegStar, Tok::Lit('b')];
        assert!(nfa_match(&pat, "axxb", false));
        assert!(!nfa_match(&pat, "ax:xb", false));
        let pat = [Tok::Lit('a'), Tok::SegOne, Tok::Lit('b')];
        assert!(!nfa_match(&pat, "a:b", false));
        let long: Vec<Tok> = std::iter::repeat_n(Tok::SegStar, 300)
            .chain([Tok::Lit('z')])
            .collect();
        assert!(nfa_match(&long, "abcz", false));
    }
}
