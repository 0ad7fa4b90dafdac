//! Wildcard (`*`, `?`) matching for actions, `StringLike` values and the parts of ARN patterns,
//! without backtracking.
//!
//! A pattern is split at `*` into pieces. The first piece is anchored at the start of the text,
//! the last at its end, and every middle piece is taken at its leftmost occurrence: a `*` can
//! absorb any text, so the earliest end of a piece leaves the most room for the rest, and no
//! choice ever needs to be undone. Pieces are found with automata that read each character of
//! the text once: KMP for literal pieces (O(text + piece)), a bit-parallel Shift-And for pieces
//! with `?` inside (for a piece of q characters, one pass over ⌈q/64⌉ words per character, or per
//! eight characters once the piece spans several words: linear up to 64, O(text × ⌈q/64⌉ / 8)
//! beyond — matching with single-character wildcards has no known linear-time algorithm).

use smallvec::{SmallVec, smallvec};

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A literal character (already ASCII-lowercased if the match is case-insensitive).
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

pub(crate) fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

/// The number of characters a pattern needs at least (stars match the empty run).
pub(crate) fn min_len(pat: &[Tok]) -> usize {
    pat.iter().filter(|t| **t != Tok::Star).count()
}

/// Appends `t`, dropping a `*` that directly follows another (`**` = `*`), so that a pattern
/// never has more stars than other tokens plus one: matching cost stays bounded by the text.
pub(crate) fn push_tok<A: smallvec::Array<Item = Tok>>(out: &mut SmallVec<A>, t: Tok) {
    if !(t == Tok::Star && out.last() == Some(&Tok::Star)) {
        out.push(t);
    }
}

#[inline]
fn fold_char(c: char, fold: bool) -> char {
    if fold { c.to_ascii_lowercase() } else { c }
}

/// Whether all of `s` matches `pat`. `fold` compares ASCII letters case-insensitively (the
/// pattern's literals must already be lowercase).
pub(crate) fn matches(pat: &[Tok], s: &str, fold: bool) -> bool {
    let Some(first) = pat.iter().position(|t| *t == Tok::Star) else {
        return match_at(pat, s, fold) == Some(s.len());
    };
    let last = pat.iter().rposition(|t| *t == Tok::Star).unwrap_or(first);
    let head = pat.get(..first).unwrap_or_default();
    let tail = pat.get(last + 1..).unwrap_or_default();
    let middle = pat.get(first + 1..last).unwrap_or_default();
    let Some(mut pos) = match_at(head, s, fold) else {
        return false;
    };
    let Some(end) = tail_start(tail, s, pos) else {
        return false;
    };
    if match_at(tail, s.get(end..).unwrap_or_default(), fold) != Some(s.len() - end) {
        return false;
    }
    for piece in middle.split(|t| *t == Tok::Star).filter(|p| !p.is_empty()) {
        match find_piece(piece, s.get(pos..end).unwrap_or_default(), fold) {
            Some(e) => pos += e,
            None => return false,
        }
    }
    true
}

/// Matches the star-free `toks` against the start of `s`; returns the bytes consumed.
pub(crate) fn match_at(toks: &[Tok], s: &str, fold: bool) -> Option<usize> {
    let mut chars = s.char_indices();
    let mut end = 0;
    for t in toks {
        let (i, c) = chars.next()?;
        match *t {
            Tok::One => {}
            Tok::Lit(l) if l == fold_char(c, fold) => {}
            _ => return None,
        }
        end = i + c.len_utf8();
    }
    Some(end)
}

/// Byte offset where the last `tail.len()` characters of `s` begin, if that is not before
/// `from` (the tail of a pattern cannot overlap what its head consumed).
fn tail_start(tail: &[Tok], s: &str, from: usize) -> Option<usize> {
    if tail.is_empty() {
        return Some(s.len());
    }
    s.get(from..)?
        .char_indices()
        .rev()
        .nth(tail.len() - 1)
        .map(|(i, _)| from + i)
}

/// Byte offset `n` characters after `from`.
fn skip_chars(s: &str, from: usize, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(from);
    }
    let rest = s.get(from..)?;
    let mut it = rest.char_indices();
    let (i, c) = it.nth(n - 1)?;
    Some(from + i + c.len_utf8())
}

/// End (in bytes) of the leftmost occurrence of the star-free, non-empty `piece` in `s`.
fn find_piece(piece: &[Tok], s: &str, fold: bool) -> Option<usize> {
    // `?` at the edges only shifts the occurrence: keep KMP for a literal core.
    let lead = piece.iter().take_while(|t| **t == Tok::One).count();
    let rest = piece.get(lead..).unwrap_or_default();
    let trail = rest.iter().rev().take_while(|t| **t == Tok::One).count();
    let core = rest.get(..rest.len() - trail).unwrap_or_default();
    let start = skip_chars(s, 0, lead)?;
    let core_end = if core.is_empty() {
        start
    } else {
        start + Finder::new(core, fold).find(s.get(start..).unwrap_or_default())?
    };
    skip_chars(s, core_end, trail)
}

/// A streaming matcher for a star-free piece: fed one character at a time, it says whether an
/// occurrence of the piece ends at that character. Every occurrence is reported, in order.
#[expect(
    clippy::large_enum_variant,
    reason = "lives on the stack for one search; boxing would allocate on every match"
)]
pub(crate) enum Finder<'p> {
    Kmp(Kmp<'p>),
    Bits(ShiftAnd),
}

impl<'p> Finder<'p> {
    /// `piece` holds only literals and `?`, and is not empty.
    pub(crate) fn new(piece: &'p [Tok], fold: bool) -> Finder<'p> {
        if piece.contains(&Tok::One) {
            Finder::Bits(ShiftAnd::new(piece, fold))
        } else {
            Finder::Kmp(Kmp::new(piece, fold))
        }
    }

    #[inline]
    pub(crate) fn step(&mut self, c: char) -> bool {
        match self {
            Finder::Kmp(k) => k.step(c),
            Finder::Bits(b) => b.step(c),
        }
    }

    /// End (in bytes) of the first occurrence in `s`.
    pub(crate) fn find(self, s: &str) -> Option<usize> {
        match self {
            Finder::Kmp(mut k) => s
                .char_indices()
                .find(|&(_, c)| k.step(c))
                .map(|(i, c)| i + c.len_utf8()),
            Finder::Bits(b) => b.find(s),
        }
    }
}

/// Knuth–Morris–Pratt over characters: each text character is read once, and the failure
/// links are followed at most as often as characters were matched (amortised linear).
pub(crate) struct Kmp<'p> {
    pat: &'p [Tok],
    /// `fail[i]`: length of the longest proper border of `pat[..=i]`.
    fail: SmallVec<[u32; 64]>,
    matched: usize,
    fold: bool,
}

impl<'p> Kmp<'p> {
    fn new(pat: &'p [Tok], fold: bool) -> Kmp<'p> {
        let mut fail: SmallVec<[u32; 64]> = smallvec![0; pat.len()];
        let mut k = 0usize;
        for i in 1..pat.len() {
            while k > 0 && tok(pat, i) != tok(pat, k) {
                k = border(&fail, k - 1);
            }
            if tok(pat, i) == tok(pat, k) {
                k += 1;
            }
            if let Some(f) = fail.get_mut(i) {
                *f = u32::try_from(k).unwrap_or(0);
            }
        }
        Kmp {
            pat,
            fail,
            matched: 0,
            fold,
        }
    }

    #[inline]
    fn step(&mut self, c: char) -> bool {
        let t = Tok::Lit(fold_char(c, self.fold));
        while self.matched > 0 && tok(self.pat, self.matched) != t {
            self.matched = border(&self.fail, self.matched - 1);
        }
        if tok(self.pat, self.matched) == t {
            self.matched += 1;
        }
        if self.matched == self.pat.len() {
            self.matched = border(&self.fail, self.matched.saturating_sub(1));
            return true;
        }
        false
    }
}

/// Token `i`, or `*` (which equals no literal) past the end.
#[inline]
fn tok(pat: &[Tok], i: usize) -> Tok {
    pat.get(i).copied().unwrap_or(Tok::Star)
}

#[inline]
fn border(fail: &[u32], i: usize) -> usize {
    fail.get(i).map_or(0, |&b| b as usize)
}

/// Text characters a [`ShiftAnd`] consumes in one pass over its state words, when each of them
/// has a full mask row (see [`ShiftAnd::masks`]).
const STRIDE: usize = 8;

/// Shift-And (Baeza-Yates–Gonnet) for a piece with `?`: bit `j` of the state says that the
/// first `j + 1` tokens match the text ending here. The state takes one word per 64 tokens.
///
/// Cost per text character: an eighth of a pass over the state's words when the text is read
/// [`STRIDE`] characters at a time (the masks of the next characters, pre-shifted, are combined
/// in one pass: `D' = ((D << 8) | 0xff) & (M₁ << 7) & (M₂ << 6) & … & M₈`), and only over
/// the words that can hold a set bit (a text unlike the piece keeps the state in its low words).
/// Memory stays linear in the piece: a literal gets a full row of words only if it occurs in at
/// least a quarter of them; rarer ones keep a sparse list, and the few words their positions can
/// reach are recomputed exactly after each chunk.
pub(crate) struct ShiftAnd {
    /// The piece's distinct literals, sorted by character.
    chars: SmallVec<[Literal; 16]>,
    /// For each ASCII character, its index in `chars` (`u16::MAX`: not a literal of the piece;
    /// ASCII sorts first, so its indices are below 128), so that most text characters need no
    /// search.
    ascii: [u16; 128],
    /// `(word, bits)`: the positions holding one literal, by increasing word.
    lits: SmallVec<[(u32, u64); 16]>,
    /// `STRIDE` tables of `rows` rows of `words` words: table `s` holds each row shifted left by
    /// `s` positions, its `s` vacated low positions set (they lie before the piece starts, so
    /// accept anything). Row 0 holds the `?` positions (they accept every character); row `r > 0`
    /// adds the positions of one widespread literal.
    masks: SmallVec<[u64; 128]>,
    rows: usize,
    words: usize,
    state: SmallVec<[u64; 2]>,
    /// The next state (double buffer: every word is computed from the old state).
    next: SmallVec<[u64; 2]>,
    /// Leading words of `state` / `next` that may be non-zero; the words above are all zero.
    live: usize,
    next_live: usize,
    /// Whether `masks` holds the shifted tables (built by [`ShiftAnd::find`] when they pay off).
    strided: bool,
    /// Tokens in the piece.
    len: usize,
    /// The piece's last token: an occurrence can only end at a character it accepts.
    last_tok: Tok,
    /// The bit of the piece's last position in the last word.
    last: u64,
    fold: bool,
}

/// One distinct literal of a [`ShiftAnd`] piece.
struct Literal {
    c: char,
    /// Its positions: `lits[from..to]`.
    from: u32,
    to: u32,
    /// Its mask row, if it has one.
    row: Option<u32>,
}

/// What a text character does to a [`ShiftAnd`] state.
#[derive(Clone, Copy)]
enum Class {
    /// Mask row `r` says which positions accept it.
    Row(u32),
    /// Row 0 plus the sparse positions `lits[from..to]`.
    Sparse(u32, u32),
}

/// Words `1..upto` of a mask row.
#[inline]
fn cut(m: &[u64], upto: usize) -> &[u64] {
    m.get(1..upto).unwrap_or_default()
}

/// Row `r` of mask table `shift` (see [`ShiftAnd::masks`]).
#[inline]
fn row_of(masks: &[u64], rows: usize, words: usize, shift: usize, r: u32) -> &[u64] {
    let at = (shift * rows + r as usize) * words;
    masks.get(at..at + words).unwrap_or_default()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Bit `p` of a multi-word value; positions before 0 read as set (before the piece's start).
#[inline]
fn bit(words: &[u64], p: isize) -> bool {
    let Ok(p) = usize::try_from(p) else {
        return true;
    };
    words.get(p / 64).is_some_and(|w| w >> (p % 64) & 1 == 1)
}

impl ShiftAnd {
    fn new(piece: &[Tok], fold: bool) -> ShiftAnd {
        let words = piece.len().div_ceil(64).max(1);
        let mut any: SmallVec<[u64; 2]> = smallvec![0; words];
        let mut entries: SmallVec<[(char, u32, u64); 32]> = SmallVec::new();
        for (j, t) in piece.iter().enumerate() {
            let (w, b) = (j / 64, 1u64 << (j % 64));
            match *t {
                Tok::Lit(c) => entries.push((c, to_u32(w), b)),
                _ => {
                    if let Some(a) = any.get_mut(w) {
                        *a |= b;
                    }
                }
            }
        }
        entries.sort_unstable_by_key(|e| (e.0, e.1));
        let mut chars: SmallVec<[Literal; 16]> = SmallVec::new();
        let mut lits: SmallVec<[(u32, u64); 16]> = SmallVec::new();
        for (c, w, b) in entries {
            match chars.last_mut() {
                Some(last) if last.c == c => {
                    match lits.last_mut() {
                        Some(l) if l.0 == w => l.1 |= b,
                        _ => lits.push((w, b)),
                    }
                    last.to = to_u32(lits.len());
                }
                _ => {
                    let n = to_u32(lits.len());
                    lits.push((w, b));
                    chars.push(Literal {
                        c,
                        from: n,
                        to: n + 1,
                        row: None,
                    });
                }
            }
        }
        // Unshifted rows first (table 0), then the shifted tables built from them.
        let mut masks: SmallVec<[u64; 128]> = SmallVec::new();
        masks.extend_from_slice(&any);
        for l in &mut chars {
            if ((l.to - l.from) as usize) * 4 < words {
                continue;
            }
            l.row = Some(to_u32(masks.len() / words));
            let start = masks.len();
            masks.extend_from_slice(&any);
            for &(w, bits) in lits.get(l.from as usize..l.to as usize).unwrap_or_default() {
                if let Some(d) = masks.get_mut(start + w as usize) {
                    *d |= bits;
                }
            }
        }
        let mut ascii = [u16::MAX; 128];
        for (k, l) in chars.iter().enumerate() {
            if let (Some(slot), Ok(k)) = (ascii.get_mut(l.c as usize), u16::try_from(k)) {
                *slot = k;
            }
        }
        let rows = masks.len() / words;
        ShiftAnd {
            chars,
            ascii,
            lits,
            masks,
            rows,
            words,
            state: smallvec![0; words],
            next: smallvec![0; words],
            live: 0,
            next_live: 0,
            strided: false,
            len: piece.len(),
            last_tok: piece.last().copied().unwrap_or(Tok::One),
            last: 1u64 << ((piece.len().max(1) - 1) % 64),
            fold,
        }
    }

    /// Builds the shifted tables when reading `text_len` bytes eight characters at a time saves
    /// more than the tables cost: the piece spans several words (one word is as fast one
    /// character at a time), and the text has at least eight characters per mask row (building
    /// costs 7 × rows × words; each chunk saves about 7 × words).
    fn build_strided(&mut self, text_len: usize) {
        if self.strided || self.words < 2 || text_len < self.rows * STRIDE {
            return;
        }
        let plain = self.masks.len();
        self.masks.reserve(plain * (STRIDE - 1));
        for s in 1..STRIDE {
            for at in (0..plain).step_by(self.words) {
                let mut carry = (1u64 << s) - 1;
                for w in at..at + self.words {
                    let m = self.masks.get(w).copied().unwrap_or(0);
                    self.masks.push((m << s) | carry);
                    carry = m >> (64 - s);
                }
            }
        }
        self.strided = true;
    }

    #[inline]
    fn class(&self, c: char) -> Class {
        if let Some(&k) = self.ascii.get(c as usize) {
            return match self.chars.get(usize::from(k)) {
                None => Class::Row(0),
                Some(Literal { row: Some(r), .. }) => Class::Row(*r),
                Some(l) => Class::Sparse(l.from, l.to),
            };
        }
        match self.chars.binary_search_by_key(&c, |l| l.c) {
            Err(_) => Class::Row(0),
            Ok(k) => match self.chars.get(k) {
                Some(Literal { row: Some(r), .. }) => Class::Row(*r),
                Some(l) => Class::Sparse(l.from, l.to),
                None => Class::Row(0),
            },
        }
    }

    /// Row `r` of table `shift`.
    #[inline]
    fn row(&self, shift: usize, r: u32) -> &[u64] {
        row_of(&self.masks, self.rows, self.words, shift, r)
    }

    /// Swaps in the state just written to `next[..upto]`: clears what the older buffer held
    /// above it and trims zero words from the top.
    #[inline]
    fn advance(&mut self, mut upto: usize) {
        if let Some(stale) = self.next.get_mut(upto..self.next_live) {
            stale.fill(0);
        }
        while upto > 0 && self.next.get(upto - 1) == Some(&0) {
            upto -= 1;
        }
        std::mem::swap(&mut self.state, &mut self.next);
        self.next_live = self.live;
        self.live = upto;
    }

    /// Whether the state says that the whole piece matches the text read so far.
    #[inline]
    fn at_end(&self) -> bool {
        self.live == self.words && self.state.last().is_some_and(|s| s & self.last != 0)
    }

    #[inline]
    fn step(&mut self, c: char) -> bool {
        let class = self.class(fold_char(c, self.fold));
        self.step_class(class)
    }

    fn step_class(&mut self, class: Class) -> bool {
        let (r, sparse) = match class {
            Class::Row(r) => (r, 0..0),
            Class::Sparse(from, to) => (0, from as usize..to as usize),
        };
        // A set bit moves at most one word up; the words above `upto` stay zero.
        let upto = (self.live + 1).min(self.words);
        let at = r as usize * self.words;
        let mask = self.masks.get(at..at + upto).unwrap_or_default();
        // Word `w` takes its carry from the old word `w - 1`: no dependency between iterations.
        if let (Some(n), Some(s), Some(m)) =
            (self.next.first_mut(), self.state.first(), mask.first())
        {
            *n = ((s << 1) | 1) & m;
        }
        let next = self.next.get_mut(1..upto).unwrap_or_default();
        let higher = self.state.get(1..upto).unwrap_or_default();
        let lower = self.state.get(..upto.saturating_sub(1)).unwrap_or_default();
        let mask_higher = mask.get(1..).unwrap_or_default();
        for (((n, &s), &lo), &m) in next.iter_mut().zip(higher).zip(lower).zip(mask_higher) {
            *n = ((s << 1) | (lo >> 63)) & m;
        }
        // Rare literals: their positions accept `c` too.
        for &(w, bits) in self.lits.get(sparse).unwrap_or_default() {
            let w = w as usize;
            if w >= upto {
                break;
            }
            let carry = match w.checked_sub(1) {
                None => 1,
                Some(p) => self.state.get(p).map_or(0, |s| s >> 63),
            };
            let shifted = (self.state.get(w).copied().unwrap_or(0) << 1) | carry;
            if let Some(n) = self.next.get_mut(w) {
                *n |= shifted & bits;
            }
        }
        self.advance(upto);
        self.at_end()
    }

    /// Word `w` of the (unshifted) mask of a character of class `class`.
    #[inline]
    fn mask_word(&self, class: Class, w: usize) -> u64 {
        match class {
            Class::Row(r) => self.row(0, r).get(w).copied().unwrap_or(0),
            Class::Sparse(from, to) => {
                let own = self
                    .lits
                    .get(from as usize..to as usize)
                    .unwrap_or_default();
                let extra = own
                    .binary_search_by_key(&to_u32(w), |e| e.0)
                    .ok()
                    .and_then(|k| own.get(k))
                    .map_or(0, |e| e.1);
                self.row(0, 0).get(w).copied().unwrap_or(0) | extra
            }
        }
    }

    /// Whether position `p` of the piece accepts a character of class `class` (positions before
    /// the piece's start accept anything).
    #[inline]
    fn accepts(&self, class: Class, p: isize) -> bool {
        let Ok(p) = usize::try_from(p) else {
            return true;
        };
        self.mask_word(class, p / 64) >> (p % 64) & 1 == 1
    }

    /// Reads `STRIDE` characters of classes `classes` in one pass; returns the index of the
    /// first of them at which an occurrence of the piece ends.
    ///
    /// The pass uses each character's mask row (row 0 for a sparse literal, which leaves out its
    /// own positions); the words a sparse position can reach (its word and the next: a chunk
    /// shifts by fewer than 64 positions) are then recomputed exactly, one character at a time
    /// in a two-word window.
    fn step_stride(&mut self, classes: &[Class; STRIDE], chars: &[char; STRIDE]) -> Option<usize> {
        // Occurrences ending inside the chunk: bit `len - 1` after `k` characters, from single
        // bits of the old state and of the masks.
        let p = isize::try_from(self.len).unwrap_or(isize::MAX) - 1;
        for (k, &c) in (1..STRIDE).zip(chars) {
            let ki = k as isize;
            if matches!(self.last_tok, Tok::Lit(l) if l != c) {
                continue;
            }
            if bit(&self.state, p - ki)
                && classes
                    .iter()
                    .take(k)
                    .enumerate()
                    .all(|(i, &c)| self.accepts(c, p - ki + 1 + i as isize))
            {
                return Some(k - 1);
            }
        }
        let upto = (self.live + 1).min(self.words);
        let rows = classes.map(|c| match c {
            Class::Row(r) => r,
            Class::Sparse(..) => 0,
        });
        let row = |shift, r| row_of(&self.masks, self.rows, self.words, shift, r);
        // Character `i` of the chunk moves on `STRIDE - 1 - i` more positions after it is read.
        let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
        let t = [
            row(7, r0),
            row(6, r1),
            row(5, r2),
            row(4, r3),
            row(3, r4),
            row(2, r5),
            row(1, r6),
            row(0, r7),
        ];
        let fill = (1u64 << STRIDE) - 1;
        if let (Some(n), Some(&s)) = (self.next.first_mut(), self.state.first()) {
            *n = t.iter().fold((s << STRIDE) | fill, |acc, m| {
                acc & m.first().copied().unwrap_or(0)
            });
        }
        let next = self.next.get_mut(1..upto).unwrap_or_default();
        let higher = self.state.get(1..upto).unwrap_or_default();
        let lower = self.state.get(..upto.saturating_sub(1)).unwrap_or_default();
        let [t0, t1, t2, t3, t4, t5, t6, t7] = t.map(|m| cut(m, upto));
        // One fused pass (eight zipped rows) so that each word is loaded and stored once.
        let masks = t0
            .iter()
            .zip(t1)
            .zip(t2)
            .zip(t3)
            .zip(t4)
            .zip(t5)
            .zip(t6)
            .zip(t7)
            .map(|(((((((a, b), c), d), e), f), g), h)| a & b & c & d & e & f & g & h);
        for (((n, &s), &lo), m) in next.iter_mut().zip(higher).zip(lower).zip(masks) {
            *n = ((s << STRIDE) | (lo >> (64 - STRIDE))) & m;
        }
        for &class in classes {
            let Class::Sparse(from, to) = class else {
                continue;
            };
            let entries = self
                .lits
                .get(from as usize..to as usize)
                .unwrap_or_default();
            for &(w, _) in entries {
                for x in [w as usize, w as usize + 1] {
                    if x < upto {
                        let exact = self.window(classes, x);
                        if let Some(n) = self.next.get_mut(x) {
                            *n = exact;
                        }
                    }
                }
            }
        }
        self.advance(upto);
        self.at_end().then_some(STRIDE - 1)
    }

    /// Word `x` of the state after `classes`, one character at a time over words `x - 1` and
    /// `x` (a `u128`). The unknown carry into word `x - 1` spoils only its lowest `STRIDE` bits,
    /// never word `x`.
    fn window(&self, classes: &[Class; STRIDE], x: usize) -> u64 {
        let word = |v: &[u64], i: Option<usize>| i.and_then(|i| v.get(i)).copied().unwrap_or(0);
        let below = x.checked_sub(1);
        let mut win =
            (u128::from(word(&self.state, Some(x))) << 64) | u128::from(word(&self.state, below));
        // Word 0 starts a new occurrence at every character: bit 64 of the window.
        let start = if x == 0 { 1u128 << 64 } else { 0 };
        for &class in classes {
            let low = below.map_or(0, |b| self.mask_word(class, b));
            let m = (u128::from(self.mask_word(class, x)) << 64) | u128::from(low);
            win = ((win << 1) | start) & m;
        }
        (win >> 64) as u64
    }

    /// End (in bytes) of the first occurrence in `s`.
    fn find(mut self, s: &str) -> Option<usize> {
        self.build_strided(s.len());
        let mut at = 0;
        while self.strided {
            let mut classes = [Class::Row(0); STRIDE];
            let mut chars = ['\0'; STRIDE];
            let mut ends = [0usize; STRIDE];
            let slots = classes.iter_mut().zip(&mut chars).zip(&mut ends);
            if let Some(bytes) = s.get(at..at + STRIDE).filter(|b| b.is_ascii()) {
                // The common case: eight ASCII characters, no decoding.
                for (((class, ch), end), (k, c)) in slots.zip(bytes.char_indices()) {
                    let c = fold_char(c, self.fold);
                    (*class, *ch, *end) = (self.class(c), c, at + k + 1);
                }
            } else {
                let mut n = 0;
                let rest = s.get(at..).unwrap_or_default();
                for (((class, ch), end), (k, c)) in slots.zip(rest.char_indices()) {
                    let c = fold_char(c, self.fold);
                    (*class, *ch, *end) = (self.class(c), c, at + k + c.len_utf8());
                    n += 1;
                }
                if n < STRIDE {
                    // Fewer than a chunk left: one character at a time.
                    break;
                }
            }
            if let Some(k) = self.step_stride(&classes, &chars) {
                return ends.get(k).copied();
            }
            at = ends.last().copied().unwrap_or(s.len());
        }
        s.get(at..)?
            .char_indices()
            .find(|&(_, c)| self.step(c))
            .map(|(i, c)| at + i + c.len_utf8())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![expect(clippy::string_slice, reason = "test code: a bad index fails the test")]
    use super::*;

    /// Tokenises a plain glob (`*` and `?` special, everything else literal).
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

    /// The reference: a dynamic program over (pattern position, text position).
    pub(crate) fn reference(pat: &[Tok], s: &str, fold: bool) -> bool {
        let text: Vec<char> = s.chars().map(|c| fold_char(c, fold)).collect();
        // ok[j]: pat[..i] matches text[..j]
        let mut ok = vec![false; text.len() + 1];
        ok[0] = true;
        for t in pat {
            let mut next = vec![false; text.len() + 1];
            for j in 0..=text.len() {
                next[j] = match t {
                    Tok::Star => ok[j] || (j > 0 && next[j - 1]),
                    Tok::One => j > 0 && ok[j - 1],
                    Tok::Lit(l) => j > 0 && ok[j - 1] && text[j - 1] == *l,
                };
            }
            ok = next;
        }
        ok[text.len()]
    }

    fn m(p: &str, s: &str) -> bool {
        let got = matches(&tokenize(p, false), s, false);
        assert_eq!(got, reference(&tokenize(p, false), s, false), "{p} vs {s}");
        got
    }

    #[test]
    fn basics() {
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*a*a*b", "aaaaaaaaab"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaa"));
        assert!(m("é?", "éü"));
        assert!(m("*b?d*", "xxbcdxx"));
        assert!(m("*a?b*", "aacb"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("ab*ba", "abba"));
        assert!(m("??*??", "abcd"));
        assert!(!m("??*??", "abc"));
        assert!(m("*?é?*", "aéb"));
        assert!(matches(&tokenize("iam:get*", true), "IAM:GetUser", true));
        assert!(matches(&tokenize("*user?", true), "GetUSERS", true));
    }

    #[test]
    fn finders_report_every_occurrence() {
        let p = tokenize("aba", false);
        let mut f = Finder::new(&p, false);
        let ends: Vec<usize> = "ababa"
            .chars()
            .enumerate()
            .filter(|&(_, c)| f.step(c))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(ends, [2, 4]);
        let p = tokenize("a?a", false);
        let mut f = Finder::new(&p, false);
        let ends: Vec<usize> = "aaaab"
            .chars()
            .enumerate()
            .filter(|&(_, c)| f.step(c))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(ends, [2, 3]);
    }

    #[test]
    fn long_pieces_span_several_words() {
        let mut p = String::from("*");
        let mut s = String::new();
        for i in 0..300 {
            let c = if i % 7 == 0 {
                '?'
            } else {
                char::from(b'a' + (i % 3) as u8)
            };
            p.push(c);
            s.push(if c == '?' { 'z' } else { c });
        }
        p.push('*');
        let text = format!("xx{s}yy");
        assert!(m(&p, &text));
        let mut broken = text.clone();
        broken.replace_range(150..151, "q");
        assert_eq!(
            m(&p, &broken),
            reference(&tokenize(&p, false), &broken, false)
        );
    }

    /// End (in bytes) of the leftmost occurrence of a star-free piece, by trying every start.
    fn naive_find(piece: &[Tok], s: &str) -> Option<usize> {
        s.char_indices()
            .map(|(i, _)| i)
            .chain([s.len()])
            .find_map(|i| match_at(piece, &s[i..], false).map(|n| i + n))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Pieces longer than one 64-bit word, with `?` inside, against texts made from them.
        #[test]
        fn long_pieces_agree_with_reference(
            mut pat in proptest::collection::vec(proptest::sample::select(&['a', 'b', '?'][..]), 60..400),
            stars in proptest::collection::vec(0usize..400, 0..3),
            rare in proptest::collection::vec(0usize..400, 0..3),
            fill in proptest::collection::vec(proptest::sample::select(&['a', 'b'][..]), 200),
            flip in proptest::option::of(0usize..400),
        ) {
            // A literal in few of many words takes the sparse path of the bit-parallel finder.
            for at in rare {
                pat.insert(at % (pat.len() + 1), 'c');
            }
            for at in stars {
                pat.insert(at % (pat.len() + 1), '*');
            }
            let p: String = pat.iter().collect();
            let mut fill = fill.into_iter().cycle();
            let mut s: Vec<char> = p
                .chars()
                .flat_map(|c| match c {
                    '*' => vec![fill.next().unwrap_or('a'); 2],
                    '?' => vec![fill.next().unwrap_or('a')],
                    c => vec![c],
                })
                .collect();
            if let Some(i) = flip.filter(|_| !s.is_empty()) {
                let i = i % s.len();
                s[i] = if s[i] == 'a' { 'b' } else { 'a' };
            }
            let s: String = s.into_iter().collect();
            let toks = tokenize(&p, false);
            proptest::prop_assert_eq!(matches(&toks, &s, false), reference(&toks, &s, false));
        }

        /// The bit-parallel finder, read four characters at a time or one (a sparse literal, the
        /// text's end), finds the leftmost occurrence: occurrences ending at every offset of a
        /// chunk, pieces shorter than a chunk, several words, multi-byte characters.
        #[test]
        fn shift_and_finds_the_leftmost_occurrence(
            piece in proptest::collection::vec(proptest::sample::select(&['a', 'b', 'é', '?'][..]), 1..420),
            rare in proptest::collection::vec((0usize..420, proptest::sample::select(&['c', 'ü'][..])), 0..3),
            text in proptest::collection::vec(proptest::sample::select(&['a', 'b', 'é', 'z', 'c', 'ü'][..]), 0..700),
            plant in proptest::option::of(0usize..500),
        ) {
            let mut piece: String = piece.into_iter().collect();
            if !piece.contains('?') {
                piece.push('?');
            }
            // Literals in few of many words take the sparse path (fixed up after each chunk).
            for (at, c) in rare {
                let at = piece.char_indices().nth(at % piece.chars().count()).map_or(0, |(i, _)| i);
                piece.insert(at, c);
            }
            let mut text: String = text.into_iter().collect();
            if let Some(at) = plant {
                let at = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
                text.insert_str(at, &piece.replace('?', "z"));
            }
            let toks = tokenize(&piece, false);
            proptest::prop_assert_eq!(Finder::new(&toks, false).find(&text), naive_find(&toks, &text));
        }
    }
}
