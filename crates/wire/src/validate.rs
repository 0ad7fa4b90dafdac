//! Constraint checking for decoded inputs. A decoder records *every* violated constraint, and the request is
//! refused with AWS's wording: `1 validation error detected: Value 'x' at 'userName' failed to satisfy
//! constraint: …` or `N validation errors detected: …; …`. Scalars that do not parse are refused at once,
//! as AWS does, with `Invalid value for parameter …`.

use std::fmt;

use crate::error::{ErrorCode, WireError, WireResult};

/// A member's path in messages (`tags.member.1.` + `key`), written out only when a message needs it: a valid
/// request allocates nothing for its paths.
#[derive(Debug, Clone, Copy)]
pub struct At<'a>(pub &'a str, pub &'static str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)
    }
}

/// The constraint violations found while decoding one request, in member order.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<String>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn push(&mut self, value: Option<&str>, at: impl fmt::Display, constraint: &str) {
        let item = match value {
            Some(v) => format!("Value '{v}' at '{at}' failed to satisfy constraint: {constraint}"),
            None => format!("Value null at '{at}' failed to satisfy constraint: {constraint}"),
        };
        self.items.push(item);
    }

    /// A required member is absent.
    pub fn null(&mut self, at: impl fmt::Display) {
        self.push(None, at, "Member must not be null");
    }

    /// String length in characters, `min..=max`; `shown` is what the message quotes (the value, or a
    /// placeholder for secrets and documents).
    pub fn length(
        &mut self,
        value: &str,
        shown: &str,
        at: impl fmt::Display,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        let n = value.chars().count();
        if let Some(min) = min.filter(|&m| n < m) {
            self.push(
                Some(shown),
                at,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if let Some(max) = max.filter(|&m| n > m) {
            self.push(
                Some(shown),
                at,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A list or map's element count, `min..=max` (the list itself is shown as `[...]`).
    pub fn count(
        &mut self,
        n: usize,
        at: impl fmt::Display,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        if let Some(min) = min.filter(|&m| n < m) {
            self.push(
                Some("[...]"),
                at,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if let Some(max) = max.filter(|&m| n > m) {
            self.push(
                Some("[...]"),
                at,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A modeled regular expression (`ok` is whether the value fully matched it).
    pub fn pattern(&mut self, ok: bool, shown: &str, at: impl fmt::Display, pattern: &str) {
        if !ok {
            self.push(
                Some(shown),
                at,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// A modeled enum.
    pub fn one_of(&mut self, value: &str, at: impl fmt::Display, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.push(
                Some(value),
                at,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// A numeric range, `min..=max`.
    pub fn range(&mut self, n: i64, at: impl fmt::Display, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min.filter(|&m| n < m) {
            self.push(
                Some(&n.to_string()),
                at,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if let Some(max) = max.filter(|&m| n > m) {
            self.push(
                Some(&n.to_string()),
                at,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// An integer member; a value that does not parse is refused at once.
    pub fn int(&mut self, raw: Option<&str>, at: impl fmt::Display) -> WireResult<Option<i64>> {
        let Some(raw) = raw else { return Ok(None) };
        raw.trim().parse().map(Some).map_err(|_| {
            WireError::new(
                ErrorCode::ValidationError,
                format!("Invalid value for parameter {at}, value: {raw}, type: int"),
            )
        })
    }

    /// A boolean member (`true`/`false`, any case); anything else is refused at once.
    pub fn boolean(
        &mut self,
        raw: Option<&str>,
        at: impl fmt::Display,
    ) -> WireResult<Option<bool>> {
        match raw {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(WireError::new(
                ErrorCode::ValidationError,
                format!("Invalid value for parameter {at}, value: {v}, type: boolean"),
            )),
        }
    }

    /// `Ok` when nothing was violated, else one `ValidationError` listing every violation.
    pub fn finish(self) -> WireResult<()> {
        match self.items.len() {
            0 => Ok(()),
            1 => Err(WireError::new(
                ErrorCode::ValidationError,
                format!("1 validation error detected: {}", self.items.join("; ")),
            )),
            n => Err(WireError::new(
                ErrorCode::ValidationError,
                format!("{n} validation errors detected: {}", self.items.join("; ")),
            )),
        }
    }
}

/// The error for one absent required member, as a single-violation `ValidationError`.
pub fn missing(at: impl fmt::Display) -> WireError {
    let mut v = Violations::new();
    v.null(at);
    v.finish().err().unwrap_or_else(|| {
        WireError::new(ErrorCode::ValidationError, "1 validation error detected")
    })
}

/// Compile a (translated) model pattern. `None` only if the generator emitted a pattern `regex` rejects,
/// which the unit tests rule out; a value is then refused rather than let through.
pub fn compile(pattern: &str) -> Option<regex::Regex> {
    regex::Regex::new(pattern).ok()
}

/// The half of the account-alias pattern (`-(?!-)`) that `regex` cannot express.
pub fn no_double_hyphen(s: &str) -> bool {
    !s.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many() {
        let mut v = Violations::new();
        let long = "a".repeat(65);
        v.length(&long, &long, "userName", Some(1), Some(64));
        let e = v.finish().unwrap_err();
        assert!(
            e.message
                .starts_with("1 validation error detected: Value 'aaa")
        );
        assert!(e
            .message
            .ends_with("at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"));

        let mut v = Violations::new();
        v.null("userName");
        v.range(5, "maxItems", Some(10), None);
        let e = v.finish().unwrap_err();
        assert_eq!(
            e.message,
            "2 validation errors detected: Value null at 'userName' failed to satisfy constraint: Member must not be null; \
             Value '5' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 10"
        );
        assert!(Violations::new().finish().is_ok());
    }

    #[test]
    fn unparsable_scalars_fail_at_once() {
        let mut v = Violations::new();
        assert!(v.int(Some("x"), "maxItems").is_err());
        assert_eq!(v.int(Some(" 7 "), "maxItems").unwrap(), Some(7));
        assert_eq!(v.boolean(Some("TRUE"), "b").unwrap(), Some(true));
        assert!(v.boolean(Some("yes"), "b").is_err());
    }
}
