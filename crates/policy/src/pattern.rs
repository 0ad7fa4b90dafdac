//! Compiled string/ARN patterns with optional policy variables (reference §4.4, §4.5).

use smallvec::SmallVec;

use crate::context::{fold_eq, Context, Key};
use crate::glob::{self, Tok};

/// A pattern token, possibly a policy variable to be substituted at evaluation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TTok {
    T(Tok),
    Var(Var),
}

/// `${key}` or `${key, 'default'}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    pub key: Key,
    pub default: Option<Box<str>>,
}

/// How `*` and `?` in the text are treated while tokenising.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Everything literal (StringEquals and friends).
    Literal,
    /// Plain glob (StringLike).
    Glob,
    /// ARN glob: wildcards inside the first five segments do not cross `:` unless they are the
    /// last character of their segment (reference §4.4).
    Arn,
}

/// Where a variable was found while tokenising an ARN.
pub(crate) struct Tokenized {
    pub toks: Vec<TTok>,
    /// A variable appeared before the fifth colon of an ARN pattern.
    pub var_outside_resource_part: bool,
    pub has_vars: bool,
}

/// Tokenises `s`. `vars` says whether `${...}` is a variable (Version 2012-10-17) or plain text.
pub(crate) fn tokenize(s: &str, mode: Mode, vars: bool) -> Result<Tokenized, String> {
    let mut toks = Vec::with_capacity(s.len());
    let mut segment = 0usize;
    let mut var_outside = false;
    let mut has_vars = false;
    let in_arn_prefix = |segment: usize| mode == Mode::Arn && segment < 5;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '$' if vars && s.as_bytes().get(i + 1) == Some(&b'{') => {
                // Find the closing brace, skipping braces inside a quoted default.
                let body = s.get(i + 2..).unwrap_or_default();
                let mut quoted = false;
                let mut close = None;
                for (j, b) in body.bytes().enumerate() {
                    match b {
                        b'\'' => quoted = !quoted,
                        b'}' if !quoted => {
                            close = Some(j);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else {
                    return Err(format!("unterminated policy variable in `{s}`"));
                };
                let inner = body.get(..close).unwrap_or_default();
                match inner {
                    "*" => toks.push(TTok::T(Tok::Lit('*'))),
                    "?" => toks.push(TTok::T(Tok::Lit('?'))),
                    "$" => toks.push(TTok::T(Tok::Lit('$'))),
                    _ => {
                        let var = parse_var(inner)
                            .ok_or_else(|| format!("invalid policy variable `${{{inner}}}`"))?;
                        if in_arn_prefix(segment) {
                            var_outside = true;
                        }
                        has_vars = true;
                        toks.push(TTok::Var(var));
                    }
                }
                // Skip past the closing brace.
                let end = i + 2 + close;
                while it.next_if(|&(j, _)| j <= end).is_some() {}
            }
            ':' if mode == Mode::Arn => {
                segment += 1;
                toks.push(TTok::T(Tok::Lit(':')));
            }
            '*' if mode != Mode::Literal => {
                let seg_final = matches!(it.peek(), None | Some((_, ':')));
                toks.push(TTok::T(if in_arn_prefix(segment) && !seg_final {
                    Tok::SegStar
                } else {
                    Tok::Star
                }));
            }
            '?' if mode != Mode::Literal => toks.push(TTok::T(if in_arn_prefix(segment) {
                Tok::SegOne
            } else {
                Tok::One
            })),
            c => toks.push(TTok::T(Tok::Lit(c))),
        }
    }
    Ok(Tokenized {
        toks,
        var_outside_resource_part: var_outside,
        has_vars,
    })
}

/// Compiles a pattern, taking the allocation-light paths for the common shapes (no wildcard,
/// a single trailing `*`) before falling back to full tokenisation.
pub(crate) fn compile_pattern(s: &str, mode: Mode, vars: bool) -> Result<Pattern, String> {
    let special = |b: u8| b == b'*' || b == b'?' || (vars && b == b'$');
    if !s.bytes().any(special) {
        return Ok(Pattern::Exact(s.into()));
    }
    if s == "*" {
        return Ok(Pattern::Any);
    }
    // A trailing `*` is unrestricted in every mode: in an ARN it is either in the resource
    // part or the last character of its segment (reference §4.4).
    if let Some(head) = s.strip_suffix('*') {
        if !head.bytes().any(special) {
            return Ok(Pattern::Prefix(head.into()));
        }
    }
    Ok(Pattern::compile(tokenize(s, mode, vars)?))
}

/// Compiles an equality value (no wildcards), with the same fast path.
pub(crate) fn compile_text(s: &str, vars: bool) -> Result<Text, String> {
    if !vars || !s.contains("${") {
        return Ok(Text::Plain(s.into()));
    }
    Ok(Text::compile(tokenize(s, Mode::Literal, vars)?))
}

fn parse_var(inner: &str) -> Option<Var> {
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (k.trim(), Some(d.into()))
        }
    };
    if key.is_empty() || key.contains(['$', '{', '}', '\'', ' ', '*', '?']) {
        return None;
    }
    Some(Var {
        key: Key::new(key),
        default,
    })
}

/// Substitutes variables into `out`. Returns `false` if a variable has no value (absent,
/// multi-valued, no default): such a pattern matches nothing (reference §4.5).
/// Substituted text is literal: it never introduces wildcards.
pub(crate) fn expand(toks: &[TTok], ctx: &Context, out: &mut SmallVec<[Tok; 128]>) -> bool {
    for t in toks {
        match t {
            TTok::T(t) => out.push(*t),
            TTok::Var(v) => match resolve(v, ctx) {
                Some(s) => out.extend(s.chars().map(Tok::Lit)),
                None => return false,
            },
        }
    }
    true
}

pub(crate) fn resolve<'c>(v: &'c Var, ctx: &'c Context) -> Option<&'c str> {
    match ctx.values(&v.key) {
        Some([one]) => Some(one.as_str()),
        _ => v.default.as_deref(),
    }
}

/// A compiled match pattern (`StringLike` value, action name, `Resource` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Matches everything (`*`).
    Any,
    /// Exact text.
    Exact(Box<str>),
    /// Literal prefix followed by one unrestricted `*`.
    Prefix(Box<str>),
    /// General wildcard pattern.
    Glob(Box<[Tok]>),
    /// Contains policy variables.
    Template(Box<[TTok]>),
}

impl Pattern {
    pub(crate) fn compile(t: Tokenized) -> Pattern {
        if t.has_vars {
            return Pattern::Template(t.toks.into_boxed_slice());
        }
        let toks: Vec<Tok> = t
            .toks
            .into_iter()
            .filter_map(|t| match t {
                TTok::T(t) => Some(t),
                TTok::Var(_) => None,
            })
            .collect();
        if toks == [Tok::Star] {
            return Pattern::Any;
        }
        let lit_len = toks.iter().take_while(|t| matches!(t, Tok::Lit(_))).count();
        let lit: String = toks
            .iter()
            .take(lit_len)
            .filter_map(|t| match t {
                Tok::Lit(c) => Some(*c),
                _ => None,
            })
            .collect();
        if lit_len == toks.len() {
            Pattern::Exact(lit.into())
        } else if lit_len + 1 == toks.len() && toks.last() == Some(&Tok::Star) {
            Pattern::Prefix(lit.into())
        } else {
            Pattern::Glob(toks.into_boxed_slice())
        }
    }

    /// Case-sensitive match of `s`, substituting variables from `ctx`.
    #[inline]
    pub(crate) fn matches(&self, s: &str, ctx: &Context) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => **e == *s,
            Pattern::Prefix(p) => s.starts_with(&**p),
            Pattern::Glob(g) => glob::matches(g, s, false),
            Pattern::Template(t) => {
                let mut buf = SmallVec::new();
                expand(t, ctx, &mut buf) && glob::matches(&buf, s, false)
            }
        }
    }

    /// ASCII case-insensitive match; literals were lowercased at compile time.
    #[inline]
    pub(crate) fn matches_fold(&self, s: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => e.eq_ignore_ascii_case(s),
            Pattern::Prefix(p) => s
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
            Pattern::Glob(g) => glob::matches(g, s, true),
            Pattern::Template(_) => false,
        }
    }
}

/// A compiled literal value for equality operators, possibly with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text {
    Plain(Box<str>),
    Template(Box<[TTok]>),
}

impl Text {
    pub(crate) fn compile(t: Tokenized) -> Text {
        if t.has_vars {
            Text::Template(t.toks.into_boxed_slice())
        } else {
            Text::Plain(
                t.toks
                    .iter()
                    .filter_map(|t| match t {
                        TTok::T(Tok::Lit(c)) => Some(*c),
                        _ => None,
                    })
                    .collect::<String>()
                    .into(),
            )
        }
    }

    /// Equality with `s`; `fold` compares case-insensitively (Unicode lowercase).
    pub(crate) fn eq(&self, s: &str, ctx: &Context, fold: bool) -> bool {
        match self {
            Text::Plain(p) if fold => fold_eq(p, s),
            Text::Plain(p) => **p == *s,
            Text::Template(t) => {
                let mut buf: SmallVec<[Tok; 128]> = SmallVec::new();
                if !expand(t, ctx, &mut buf) {
                    return false;
                }
                let expanded = buf.iter().filter_map(|t| match t {
                    Tok::Lit(c) => Some(*c),
                    _ => None,
                });
                if fold {
                    expanded
                        .flat_map(char::to_lowercase)
                        .eq(s.chars().flat_map(char::to_lowercase))
                } else {
                    expanded.eq(s.chars())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn arn(p: &str) -> Pattern {
        Pattern::compile(tokenize(p, Mode::Arn, true).unwrap())
    }

    #[test]
    fn arn_segments() {
        let c = Context::new();
        assert!(arn("arn:aws:iam::*").matches("arn:aws:iam::123:role/x", &c));
        assert!(arn("arn:aws:s3:::bucket/*/test/*").matches("arn:aws:s3:::bucket/1/2/test/x", &c));
        assert!(!arn("arn:aws:iam::1*3:role/x").matches("arn:aws:iam::1:3:role/x", &c));
        assert!(arn("arn:aws:iam::1*3:role/x").matches("arn:aws:iam::123:role/x", &c));
        assert!(arn("arn:aws:x:*:111122223333:finance/*")
            .matches("arn:aws:x:us-east-2:111122223333:finance/d.txt", &c));
        assert!(!arn("arn:aws:x:us-*-2:111122223333:finance/*")
            .matches("arn:aws:x:us-east:2:111122223333:finance/d.txt", &c));
    }

    #[test]
    fn variables() {
        let mut c = Context::new();
        c.set("aws:username", "bob");
        let p = arn("arn:aws:s3:::b/${aws:UserName}/*");
        assert!(p.matches("arn:aws:s3:::b/bob/x", &c));
        assert!(!p.matches("arn:aws:s3:::b/alice/x", &c));
        assert!(!p.matches("arn:aws:s3:::b/bob/x", &Context::new()));
        let p = arn("arn:aws:s3:::b/${aws:PrincipalTag/team, 'all'}/${*}");
        assert!(p.matches("arn:aws:s3:::b/all/*", &c));
        assert!(!p.matches("arn:aws:s3:::b/all/x", &c));
        c.set("aws:username", "*");
        assert!(!arn("arn:aws:s3:::b/${aws:username}").matches("arn:aws:s3:::b/x", &c));
        assert!(tokenize("a${aws:x", Mode::Glob, true).is_err());
        assert!(tokenize("a${}", Mode::Glob, true).is_err());
        assert!(tokenize("a${aws:x}", Mode::Glob, false).is_ok());
        let t = tokenize(
            "arn:aws:iam::${aws:PrincipalAccount}:user/x",
            Mode::Arn,
            true,
        )
        .unwrap();
        assert!(t.var_outside_resource_part);
    }

    #[test]
    fn text_eq() {
        let mut c = Context::new();
        c.set("aws:username", "Bob");
        let t = Text::compile(tokenize("home/${aws:username}", Mode::Literal, true).unwrap());
        assert!(t.eq("home/Bob", &c, false));
        assert!(!t.eq("home/bob", &c, false));
        assert!(t.eq("HOME/bob", &c, true));
        let t = Text::compile(tokenize("a*", Mode::Literal, true).unwrap());
        assert!(t.eq("a*", &c, false));
    }
}
