//! Compiled string/ARN patterns with optional policy variables (reference §4.4, §4.5).

use smallvec::SmallVec;

use crate::arn::{self, Segments};
use crate::context::{Context, Key, fold_eq};
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

/// How a text is read as a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Everything literal (StringEquals and friends).
    Literal,
    /// Plain glob (StringLike, action names).
    Glob,
    /// `Resource`/`NotResource` ARN (§4.4): a `*` ending one of the first five segments may run
    /// over later colons; other wildcards there stay inside their segment.
    Arn,
    /// `ArnLike`/`ArnEquals` value: the six components are matched one by one.
    ArnComponents,
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
    let is_arn = matches!(mode, Mode::Arn | Mode::ArnComponents);
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
                        if is_arn && segment < 5 {
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
            ':' => {
                segment += 1;
                toks.push(TTok::T(Tok::Lit(':')));
            }
            '*' if mode != Mode::Literal => {
                if toks.last() != Some(&TTok::T(Tok::Star)) {
                    toks.push(TTok::T(Tok::Star));
                }
            }
            '?' if mode != Mode::Literal => toks.push(TTok::T(Tok::One)),
            c => toks.push(TTok::T(Tok::Lit(c))),
        }
    }
    Ok(Tokenized {
        toks,
        var_outside_resource_part: var_outside,
        has_vars,
    })
}

/// An ARN value has the six-component shape: `arn:` and at least five colons.
pub(crate) fn is_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.bytes().filter(|&b| b == b':').count() >= 5
}

/// Compiles a pattern, taking the allocation-light paths for the common shapes (no wildcard,
/// a single trailing `*`) before falling back to full tokenisation.
pub(crate) fn compile_pattern(s: &str, mode: Mode, vars: bool) -> Result<Pattern, String> {
    let special = |b: u8| b == b'*' || b == b'?' || (vars && b == b'$');
    let components = mode == Mode::ArnComponents;
    if !s.bytes().any(special) {
        // Equal to an ARN-shaped value only if it has the shape itself.
        if components && !is_arn(s) {
            return Ok(Pattern::Never);
        }
        return Ok(Pattern::Exact(s.into()));
    }
    if s == "*" && !components && mode != Mode::Literal {
        return Ok(Pattern::Any);
    }
    // A trailing `*` is unrestricted when it is in the resource part or (Resource rule) the
    // last character of its segment.
    if let Some(head) = s.strip_suffix('*')
        && mode != Mode::Literal
        && !head.bytes().any(special)
        && (!components || is_arn(head))
    {
        return Ok(Pattern::Prefix(head.into()));
    }
    let t = tokenize(s, mode, vars)?;
    Ok(match mode {
        Mode::Arn => Pattern::arn(t)?,
        Mode::ArnComponents => Pattern::components(t),
        Mode::Literal | Mode::Glob => Pattern::compile(t),
    })
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

/// Expanded pattern tokens; inline for typical patterns so evaluation does not allocate.
pub(crate) type Expanded = SmallVec<[Tok; 128]>;

/// Substitutes variables into `out`. Returns `false` if a variable has no value (absent,
/// multi-valued, no default): such a pattern matches nothing (reference §4.5).
/// Substituted text is literal: it never introduces wildcards.
pub(crate) fn expand(toks: &[TTok], ctx: &Context, out: &mut Expanded) -> bool {
    for t in toks {
        match t {
            TTok::T(t) => glob::push_tok(out, *t),
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

/// A compiled match pattern (`StringLike` value, action name, `Resource` entry, `ArnLike`
/// value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Matches everything (`*`).
    Any,
    /// Matches nothing (an `ArnLike` value without the ARN shape).
    Never,
    /// Exact text.
    Exact(Box<str>),
    /// Literal prefix followed by one unrestricted `*`.
    Prefix(Box<str>),
    /// General wildcard pattern.
    Glob(Box<[Tok]>),
    /// Glob with policy variables.
    Template(Box<[TTok]>),
    /// `Resource` ARN pattern (§4.4).
    Arn(Box<ArnPattern>),
    /// `ArnLike` value without variables, split into its six components.
    Components(Box<Components>),
    /// `ArnLike` value with variables: split into components after substitution.
    ComponentTemplate(Box<[TTok]>),
}

/// A `Resource` ARN pattern: its first five segments and the resource part (present when the
/// pattern has five colons), which alone may hold variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnPattern {
    segs: Segments,
    resource: Option<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Plain(Box<[Tok]>),
    Template(Box<[TTok]>),
}

/// An ARN-shaped `ArnLike` value: five segments and the resource part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Components {
    segs: [Box<[Tok]>; 5],
    resource: Box<[Tok]>,
}

fn plain(toks: &[TTok]) -> Vec<Tok> {
    toks.iter()
        .filter_map(|t| match t {
            TTok::T(t) => Some(*t),
            TTok::Var(_) => None,
        })
        .collect()
}

impl Pattern {
    pub(crate) fn compile(t: Tokenized) -> Pattern {
        if t.has_vars {
            return Pattern::Template(t.toks.into_boxed_slice());
        }
        let toks = plain(&t.toks);
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

    /// A `Resource` pattern. Variables are allowed only in the resource part (validated when
    /// the document is parsed; refused here too).
    fn arn(t: Tokenized) -> Result<Pattern, String> {
        if t.var_outside_resource_part {
            return Err("policy variables are allowed only in the resource part of an ARN".into());
        }
        // Before the fifth colon every token is plain: split there.
        let colons = t
            .toks
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == TTok::T(Tok::Lit(':')))
            .map(|(i, _)| i)
            .nth(4);
        let (prefix, resource) = match colons {
            Some(i) => (
                t.toks.get(..=i).unwrap_or_default(),
                Some(t.toks.get(i + 1..).unwrap_or_default()),
            ),
            None => (t.toks.as_slice(), None),
        };
        let prefix = plain(prefix);
        let (segs, _) = arn::split(&prefix);
        let segs = Segments::new(&segs);
        let resource = resource.map(|r| {
            if r.iter().any(|t| matches!(t, TTok::Var(_))) {
                Part::Template(r.into())
            } else {
                Part::Plain(plain(r).into_boxed_slice())
            }
        });
        Ok(Pattern::Arn(Box::new(ArnPattern { segs, resource })))
    }

    /// An `ArnLike` value.
    fn components(t: Tokenized) -> Pattern {
        if t.has_vars {
            return Pattern::ComponentTemplate(t.toks.into_boxed_slice());
        }
        let toks = plain(&t.toks);
        let (segs, resource) = arn::split(&toks);
        match (<[&[Tok]; 5]>::try_from(segs.as_slice()), resource) {
            (Ok(five), Some(r)) if arn::is_arn_shaped(&five, Some(r)) => {
                Pattern::Components(Box::new(Components {
                    segs: five.map(Into::into),
                    resource: r.into(),
                }))
            }
            _ => Pattern::Never,
        }
    }

    /// Case-sensitive match of `s`, substituting variables from `ctx`.
    #[inline]
    pub(crate) fn matches(&self, s: &str, ctx: &Context) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Never => false,
            Pattern::Exact(e) => **e == *s,
            Pattern::Prefix(p) => s.starts_with(&**p),
            Pattern::Glob(g) => glob::matches(g, s, false),
            Pattern::Template(t) => {
                let mut buf = Expanded::new();
                expand(t, ctx, &mut buf) && glob::matches(&buf, s, false)
            }
            Pattern::Arn(a) => match &a.resource {
                None => arn::match_resource(&a.segs, None, s),
                Some(Part::Plain(r)) => arn::match_resource(&a.segs, Some(r), s),
                Some(Part::Template(t)) => {
                    let mut buf = Expanded::new();
                    expand(t, ctx, &mut buf) && arn::match_resource(&a.segs, Some(&buf), s)
                }
            },
            Pattern::Components(c) => {
                let segs = c.segs.each_ref().map(|s| &**s);
                arn::match_components(&segs, &c.resource, s)
            }
            Pattern::ComponentTemplate(t) => {
                let mut buf = Expanded::new();
                if !expand(t, ctx, &mut buf) {
                    return false;
                }
                let (segs, resource) = arn::split(&buf);
                match resource {
                    Some(r) if arn::is_arn_shaped(&segs, resource) => {
                        arn::match_components(&segs, r, s)
                    }
                    _ => false,
                }
            }
        }
    }

    /// ASCII case-insensitive match (action names); literals were lowercased at compile time.
    #[inline]
    pub(crate) fn matches_fold(&self, s: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => e.eq_ignore_ascii_case(s),
            Pattern::Prefix(p) => s
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
            Pattern::Glob(g) => glob::matches(g, s, true),
            Pattern::Never
            | Pattern::Template(_)
            | Pattern::Arn(_)
            | Pattern::Components(_)
            | Pattern::ComponentTemplate(_) => false,
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
    use super::*;
    use crate::glob::tests::reference;
    use proptest::prelude::*;

    fn arn(p: &str) -> Pattern {
        compile_pattern(p, Mode::Arn, true).unwrap()
    }

    fn comps(p: &str) -> Pattern {
        compile_pattern(p, Mode::ArnComponents, true).unwrap()
    }

    #[test]
    fn arn_segments() {
        let c = Context::new();
        assert!(arn("arn:aws:iam::*").matches("arn:aws:iam::123:role/x", &c));
        assert!(arn("arn:aws:s3:::bucket/*/test/*").matches("arn:aws:s3:::bucket/1/2/test/x", &c));
        assert!(!arn("arn:aws:iam::1*3:role/x").matches("arn:aws:iam::1:3:role/x", &c));
        assert!(arn("arn:aws:iam::1*3:role/x").matches("arn:aws:iam::123:role/x", &c));
        assert!(
            arn("arn:aws:x:*:111122223333:finance/*")
                .matches("arn:aws:x:us-east-2:111122223333:finance/d.txt", &c)
        );
        assert!(
            !arn("arn:aws:x:us-*-2:111122223333:finance/*")
                .matches("arn:aws:x:us-east:2:111122223333:finance/d.txt", &c)
        );
        // A segment-final `*` may run over colons in a Resource pattern ...
        assert!(arn("arn:aws:x:*:111122223333:finance/*").matches(
            "arn:aws:x:us-east-2:999999999999:store/abc:111122223333:finance/d.txt",
            &c
        ));
        assert!(arn("arn:aws:iam::*:user/a").matches("arn:aws:iam::1:2:user/a", &c));
        assert!(!arn("arn:aws:iam::*:user/a").matches("arn:aws:iam::1:2:user/b", &c));
        assert!(arn("arn:aws:iam::123").matches("arn:aws:iam::123", &c));
        assert!(!arn("arn:aws:iam::123").matches("arn:aws:iam::123:x", &c));
        assert!(arn("arn:aws:s3:::").matches("arn:aws:s3:::", &c));
        assert!(
            arn("arn:aws:logs:*:1:log-group:/a/*").matches("arn:aws:logs:r:1:log-group:/a/b", &c)
        );
        assert!(
            arn("arn:aws:logs:*:1:log-group:?a/*").matches("arn:aws:logs:r:1:1:log-group:/a/b", &c)
        );
        // ... but no wildcard of an ArnLike value does.
        assert!(!comps("arn:aws:x:*:111122223333:finance/*").matches(
            "arn:aws:x:us-east-2:999999999999:store/abc:111122223333:finance/d.txt",
            &c
        ));
        assert!(
            comps("arn:aws:x:*:111122223333:finance/*")
                .matches("arn:aws:x:us-east-2:111122223333:finance/a:b", &c)
        );
        assert_eq!(comps("arn:aws:iam::*"), Pattern::Never);
        assert_eq!(comps("*"), Pattern::Never);
        assert_eq!(comps("arn:aws"), Pattern::Never);
        assert_eq!(comps("ar?:aws:iam::1:x"), Pattern::Never);
        assert!(comps("arn:aws:iam::1:role/*").matches("arn:aws:iam::1:role/a:b", &c));
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
        assert!(compile_pattern("arn:aws:iam::${aws:x}:*", Mode::Arn, true).is_err());
        // ArnLike values may hold variables anywhere; components are split after substitution.
        c.set("aws:PrincipalAccount", "111122223333");
        c.set("aws:PrincipalArn", "arn:aws:iam::111122223333:role/R");
        let p = comps("arn:aws:sns:*:${aws:PrincipalAccount}:*");
        assert!(p.matches("arn:aws:sns:us-east-1:111122223333:t", &c));
        assert!(!p.matches("arn:aws:sns:us-east-1:444455556666:t", &c));
        let p = comps("${aws:PrincipalArn}");
        assert!(p.matches("arn:aws:iam::111122223333:role/R", &c));
        assert!(!p.matches("arn:aws:iam::111122223333:role/Q", &c));
        c.set("aws:username", "nope");
        assert!(!comps("${aws:username}").matches("arn:aws:iam::1:x", &c));
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

    /// Patterns that made the previous backtracking matcher try every alignment (about 0.45 s
    /// each in a release build, minutes in a debug one) finish at once.
    #[test]
    fn adversarial_patterns_are_fast() {
        let a5k = "a".repeat(5_000);
        let a50k = "a".repeat(50_000);
        let a_q = "a?".repeat(2_500);
        let arn_50k = format!("arn:aws:s3:::{a50k}");
        let chunks = format!(
            "arn:aws:s3:x:{}",
            format!("{}:", "a".repeat(99)).repeat(500)
        );
        let c = Context::new();
        let started = std::time::Instant::now();
        let cases = [
            (format!("*{a5k}b"), Mode::Glob, a50k.as_str()),
            (format!("*{a5k}b*"), Mode::Glob, &a50k),
            (format!("*{a_q}b*"), Mode::Glob, &a50k),
            (
                format!("arn:aws:s3:::*{a5k}b*"),
                Mode::ArnComponents,
                &arn_50k,
            ),
            (format!("arn:aws:s3:::*{a5k}b*"), Mode::Arn, &arn_50k),
            (format!("arn:aws:s3:*:*:{a5k}b*"), Mode::Arn, &chunks),
            (format!("arn:a*:s3:*:*:*{a5k}b"), Mode::Arn, &chunks),
        ];
        for (p, mode, s) in &cases {
            assert!(!compile_pattern(p, *mode, false).unwrap().matches(s, &c));
        }
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 5, "{elapsed:?}");
    }

    /// The previous `Resource` matcher, kept as the reference: wildcards inside the first five
    /// segments may not match `:` unless the `*` ends its segment; a position-set simulation.
    fn resource_reference(p: &str, s: &str) -> bool {
        #[derive(Clone, Copy, PartialEq)]
        enum R {
            Lit(char),
            Star,
            SegStar,
            One,
            SegOne,
        }
        let chars: Vec<char> = p.chars().collect();
        let mut seg = 0;
        let mut pat = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            pat.push(match c {
                ':' => {
                    seg += 1;
                    R::Lit(':')
                }
                '*' if seg < 5 && !matches!(chars.get(i + 1), None | Some(':')) => R::SegStar,
                '*' => R::Star,
                '?' if seg < 5 => R::SegOne,
                '?' => R::One,
                c => R::Lit(c),
            });
        }
        let close = |set: &mut Vec<bool>| {
            for (i, t) in pat.iter().enumerate() {
                if matches!(t, R::Star | R::SegStar) && set[i] {
                    set[i + 1] = true;
                }
            }
        };
        let mut cur = vec![false; pat.len() + 1];
        cur[0] = true;
        close(&mut cur);
        for c in s.chars() {
            let mut next = vec![false; pat.len() + 1];
            for (i, t) in pat.iter().enumerate() {
                if !cur[i] {
                    continue;
                }
                match *t {
                    R::Lit(l) if l == c => next[i + 1] = true,
                    R::One => next[i + 1] = true,
                    R::SegOne if c != ':' => next[i + 1] = true,
                    R::Star => next[i] = true,
                    R::SegStar if c != ':' => next[i] = true,
                    _ => {}
                }
            }
            close(&mut next);
            cur = next;
        }
        cur[pat.len()]
    }

    /// `ArnLike` reference: both sides split into six components, each compared as a glob.
    fn components_reference(p: &str, s: &str) -> bool {
        let pp: Vec<&str> = p.splitn(6, ':').collect();
        let ss: Vec<&str> = s.splitn(6, ':').collect();
        pp.len() == 6
            && ss.len() == 6
            && pp[0] == "arn"
            && pp
                .iter()
                .zip(&ss)
                .all(|(p, s)| reference(&crate::glob::tests::tokenize(p, false), s, false))
    }

    fn text(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
            .prop_map(|v| v.into_iter().collect())
    }

    const PAT: &[char] = &['a', 'b', ':', '*', '?', 'é'];
    const VAL: &[char] = &['a', 'b', ':', 'é'];

    /// Five colon-free segments (the first `arn`) and a resource part, as written in policies.
    fn arn_text() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(text(&['a', 'b', '*', '?', 'é'], 4), 4),
            text(PAT, 8),
        )
            .prop_map(|(segs, r)| format!("arn:{}:{r}", segs.join(":")))
    }

    /// A pattern and a text that, half of the time, was made from the pattern (wildcards filled
    /// in, then perhaps one character changed), so that matches are frequent.
    fn pair(pattern: impl Strategy<Value = String>) -> impl Strategy<Value = (String, String)> {
        (
            pattern,
            text(VAL, 16),
            proptest::collection::vec(text(VAL, 3), 16),
            any::<bool>(),
            (any::<usize>(), proptest::sample::select(VAL)),
        )
            .prop_map(|(p, random, fills, derived, (at, c))| {
                if !derived {
                    return (p, random);
                }
                let mut fills = fills.into_iter().cycle();
                let mut s: Vec<char> = Vec::new();
                for ch in p.chars() {
                    match ch {
                        '*' => s.extend(fills.next().unwrap_or_default().chars()),
                        '?' => s.push(
                            fills
                                .next()
                                .unwrap_or_default()
                                .chars()
                                .next()
                                .unwrap_or('a'),
                        ),
                        ch => s.push(ch),
                    }
                }
                if at % 3 == 0 && !s.is_empty() {
                    let i = at % s.len();
                    s[i] = c;
                }
                (p, s.into_iter().collect())
            })
    }

    /// The generator is useful only if a good share of its pairs match.
    #[test]
    fn generated_pairs_often_match() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut glob_hits, mut res_hits, mut comp_hits) = (0, 0, 0);
        for _ in 0..2000 {
            let c = Context::new();
            let (p, s) = pair(text(PAT, 12)).new_tree(&mut runner).unwrap().current();
            glob_hits += usize::from(
                compile_pattern(&p, Mode::Glob, false)
                    .unwrap()
                    .matches(&s, &c),
            );
            let (p, s) = pair(arn_text()).new_tree(&mut runner).unwrap().current();
            res_hits += usize::from(arn(&p).matches(&s, &c));
            comp_hits += usize::from(comps(&p).matches(&s, &c));
        }
        assert!(
            glob_hits > 400 && res_hits > 400 && comp_hits > 400,
            "{glob_hits} {res_hits} {comp_hits}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn glob_agrees_with_reference((p, s) in pair(text(PAT, 12))) {
            let got = compile_pattern(&p, Mode::Glob, false).unwrap().matches(&s, &Context::new());
            prop_assert_eq!(got, reference(&crate::glob::tests::tokenize(&p, false), &s, false));
        }

        #[test]
        fn folded_glob_agrees_with_reference(p in text(&['a', 'b', '*', '?'], 10), s in text(&['a', 'A', 'b', 'B'], 12)) {
            let pat = compile_pattern(&p, Mode::Glob, false).unwrap();
            let toks = crate::glob::tests::tokenize(&p, true);
            prop_assert_eq!(pat.matches_fold(&s), reference(&toks, &s, true));
        }

        #[test]
        fn resource_agrees_with_reference((p, s) in pair(text(PAT, 16)), (q, t) in pair(arn_text())) {
            let (p, s) = (format!("arn:{p}"), format!("arn:{s}"));
            prop_assert_eq!(arn(&p).matches(&s, &Context::new()), resource_reference(&p, &s), "{} vs {}", p, s);
            prop_assert_eq!(arn(&q).matches(&t, &Context::new()), resource_reference(&q, &t), "{} vs {}", q, t);
        }

        #[test]
        fn components_agree_with_reference((p, s) in pair(text(PAT, 16)), (q, t) in pair(arn_text())) {
            let (p, s) = (format!("arn:{p}"), format!("arn:{s}"));
            prop_assert_eq!(comps(&p).matches(&s, &Context::new()), components_reference(&p, &s), "{} vs {}", p, s);
            prop_assert_eq!(comps(&q).matches(&t, &Context::new()), components_reference(&q, &t), "{} vs {}", q, t);
        }

        /// A variable behaves as its value written in its place (taken literally).
        #[test]
        fn templates_match_their_substitution(
            a in text(PAT, 8), b in text(PAT, 8), v in text(VAL, 5), s in text(VAL, 16),
        ) {
            let mut c = Context::new();
            c.set("aws:username", v.clone());
            let s = format!("arn:{s}");
            for mode in [Mode::Glob, Mode::ArnComponents] {
                let t = compile_pattern(&format!("arn:{a}${{aws:username}}{b}"), mode, true).unwrap();
                let lit = compile_pattern(&format!("arn:{a}{v}{b}"), mode, false).unwrap();
                prop_assert_eq!(t.matches(&s, &c), lit.matches(&s, &Context::new()));
            }
            let res = format!("arn:x:s3:::{a}${{aws:username}}{b}");
            let t = compile_pattern(&res, Mode::Arn, true).unwrap();
            let lit = compile_pattern(&format!("arn:x:s3:::{a}{v}{b}"), Mode::Arn, false).unwrap();
            prop_assert_eq!(t.matches(&s, &c), lit.matches(&s, &Context::new()));
        }
    }
}
