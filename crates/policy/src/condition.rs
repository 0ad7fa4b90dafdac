//! Condition operators (reference §4.6): parsing operator names, compiling policy values and
//! evaluating one `operator: {key: values}` entry against the request context.

use smallvec::SmallVec;

use crate::context::{Context, Key};
use crate::pattern::{self, Mode, Pattern, Text};
use crate::values::{self, Cidr, Instant};

/// The comparison an operator performs, without `IfExists` and set prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseOperator {
    /// `StringEquals`
    StringEquals,
    /// `StringNotEquals`
    StringNotEquals,
    /// `StringEqualsIgnoreCase`
    StringEqualsIgnoreCase,
    /// `StringNotEqualsIgnoreCase`
    StringNotEqualsIgnoreCase,
    /// `StringLike`
    StringLike,
    /// `StringNotLike`
    StringNotLike,
    /// `NumericEquals`
    NumericEquals,
    /// `NumericNotEquals`
    NumericNotEquals,
    /// `NumericLessThan`
    NumericLessThan,
    /// `NumericLessThanEquals`
    NumericLessThanEquals,
    /// `NumericGreaterThan`
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`
    NumericGreaterThanEquals,
    /// `DateEquals`
    DateEquals,
    /// `DateNotEquals`
    DateNotEquals,
    /// `DateLessThan`
    DateLessThan,
    /// `DateLessThanEquals`
    DateLessThanEquals,
    /// `DateGreaterThan`
    DateGreaterThan,
    /// `DateGreaterThanEquals`
    DateGreaterThanEquals,
    /// `Bool`
    Bool,
    /// `BinaryEquals`
    BinaryEquals,
    /// `IpAddress`
    IpAddress,
    /// `NotIpAddress`
    NotIpAddress,
    /// `ArnEquals`
    ArnEquals,
    /// `ArnLike`
    ArnLike,
    /// `ArnNotEquals`
    ArnNotEquals,
    /// `ArnNotLike`
    ArnNotLike,
    /// `Null`
    Null,
}

use BaseOperator as B;

const ALL: [(&str, BaseOperator); 27] = [
    ("StringEquals", B::StringEquals),
    ("StringNotEquals", B::StringNotEquals),
    ("StringEqualsIgnoreCase", B::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", B::StringNotEqualsIgnoreCase),
    ("StringLike", B::StringLike),
    ("StringNotLike", B::StringNotLike),
    ("NumericEquals", B::NumericEquals),
    ("NumericNotEquals", B::NumericNotEquals),
    ("NumericLessThan", B::NumericLessThan),
    ("NumericLessThanEquals", B::NumericLessThanEquals),
    ("NumericGreaterThan", B::NumericGreaterThan),
    ("NumericGreaterThanEquals", B::NumericGreaterThanEquals),
    ("DateEquals", B::DateEquals),
    ("DateNotEquals", B::DateNotEquals),
    ("DateLessThan", B::DateLessThan),
    ("DateLessThanEquals", B::DateLessThanEquals),
    ("DateGreaterThan", B::DateGreaterThan),
    ("DateGreaterThanEquals", B::DateGreaterThanEquals),
    ("Bool", B::Bool),
    ("BinaryEquals", B::BinaryEquals),
    ("IpAddress", B::IpAddress),
    ("NotIpAddress", B::NotIpAddress),
    ("ArnEquals", B::ArnEquals),
    ("ArnLike", B::ArnLike),
    ("ArnNotEquals", B::ArnNotEquals),
    ("ArnNotLike", B::ArnNotLike),
    ("Null", B::Null),
];

impl BaseOperator {
    /// The operator's name as written in policies.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(n, _)| n)
    }

    /// Negated operators are true for a missing key and AND their policy values
    /// (reference §4.6 rules 2 and 3).
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            B::StringNotEquals
                | B::StringNotEqualsIgnoreCase
                | B::StringNotLike
                | B::NumericNotEquals
                | B::DateNotEquals
                | B::NotIpAddress
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }

    /// Whether policy variables are substituted in this operator's values (§4.5: String and
    /// Arn families only).
    pub fn allows_variables(self) -> bool {
        matches!(
            self,
            B::StringEquals
                | B::StringNotEquals
                | B::StringEqualsIgnoreCase
                | B::StringNotEqualsIgnoreCase
                | B::StringLike
                | B::StringNotLike
                | B::ArnEquals
                | B::ArnLike
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }
}

/// `ForAllValues:` / `ForAnyValue:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// `ForAllValues:`: every request value must satisfy the operator; true for a missing key.
    ForAllValues,
    /// `ForAnyValue:`: at least one request value must satisfy it; false for a missing key.
    ForAnyValue,
}

/// A fully parsed operator name such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The comparison.
    pub base: BaseOperator,
    /// The set prefix, if any.
    pub set: Option<SetQualifier>,
    /// The `IfExists` suffix.
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name (case-sensitive, as AWS documents them). `None` for unknown
    /// operators, `Null` with `IfExists` or a set prefix.
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else {
            (None, name)
        };
        let (if_exists, rest) = match rest.strip_suffix("IfExists") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let base = ALL.iter().find(|(n, _)| *n == rest).map(|(_, op)| *op)?;
        if base == B::Null && (if_exists || set.is_some()) {
            return None;
        }
        Some(Operator {
            base,
            set,
            if_exists,
        })
    }

    /// The canonical name (`ForAnyValue:StringLikeIfExists`).
    pub fn name(&self) -> String {
        let mut s = String::new();
        match self.set {
            Some(SetQualifier::ForAllValues) => s.push_str("ForAllValues:"),
            Some(SetQualifier::ForAnyValue) => s.push_str("ForAnyValue:"),
            None => {}
        }
        s.push_str(self.base.name());
        if self.if_exists {
            s.push_str("IfExists");
        }
        s
    }
}

/// Compiled policy values of one condition entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Text(Box<[Text]>),
    Like(Box<[Pattern]>),
    Arn(Box<[Pattern]>),
    Num(Box<[f64]>),
    Date(Box<[Instant]>),
    Bool(Box<[bool]>),
    Binary(Box<[Box<[u8]>]>),
    Ip(Box<[Cidr]>),
    Null(Box<[bool]>),
}

/// One compiled `operator: {key: values}` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub op: Operator,
    pub key: Key,
    pub values: Values,
}

/// Compiles the policy values for `op`; the error says which value is wrong and why.
pub(crate) fn compile_values(op: Operator, raw: &[String], vars: bool) -> Result<Values, String> {
    let vars = vars && op.base.allows_variables();
    let each = |f: &dyn Fn(&str) -> Option<()>| -> Result<(), String> {
        for v in raw {
            if f(v).is_none() {
                return Err(format!(
                    "invalid value `{v}` for condition operator {}",
                    op.name()
                ));
            }
        }
        Ok(())
    };
    Ok(match op.base {
        B::StringEquals | B::StringNotEquals => Values::Text(
            raw.iter()
                .map(|v| pattern::compile_text(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase => Values::Text(
            raw.iter()
                .map(|v| pattern::compile_text(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        B::StringLike | B::StringNotLike => Values::Like(
            raw.iter()
                .map(|v| pattern::compile_pattern(v, Mode::Glob, vars))
                .collect::<Result<_, _>>()?,
        ),
        B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => Values::Arn(
            raw.iter()
                .map(|v| pattern::compile_pattern(v, Mode::ArnComponents, vars))
                .collect::<Result<_, _>>()?,
        ),
        B::NumericEquals
        | B::NumericNotEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => {
            each(&|v| values::parse_number(v).map(|_| ()))?;
            Values::Num(raw.iter().filter_map(|v| values::parse_number(v)).collect())
        }
        B::DateEquals
        | B::DateNotEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => {
            each(&|v| values::parse_date(v).map(|_| ()))?;
            Values::Date(raw.iter().filter_map(|v| values::parse_date(v)).collect())
        }
        B::Bool => {
            each(&|v| values::parse_bool(v).map(|_| ()))?;
            Values::Bool(raw.iter().filter_map(|v| values::parse_bool(v)).collect())
        }
        B::Null => {
            each(&|v| values::parse_bool(v).map(|_| ()))?;
            Values::Null(raw.iter().filter_map(|v| values::parse_bool(v)).collect())
        }
        B::BinaryEquals => {
            let mut out = Vec::new();
            for v in raw {
                let mut bytes = Vec::new();
                if v.trim().is_empty() || values::decode_base64(v, &mut bytes).is_none() {
                    return Err(format!(
                        "invalid value `{v}` for condition operator {}: expected base64",
                        op.name()
                    ));
                }
                out.push(bytes.into_boxed_slice());
            }
            Values::Binary(out.into_boxed_slice())
        }
        B::IpAddress | B::NotIpAddress => {
            each(&|v| Cidr::parse(v).map(|_| ()))?;
            Values::Ip(raw.iter().filter_map(|v| Cidr::parse(v)).collect())
        }
    })
}

/// Outcome of comparing one request value with the policy values (positive sense).
/// `None` means the request value could not be read for this operator.
#[inline]
fn positive_match(base: BaseOperator, values: &Values, r: &str, ctx: &Context) -> Option<bool> {
    Some(match values {
        Values::Text(ps) => {
            let fold = matches!(
                base,
                B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase
            );
            ps.iter().any(|p| p.eq(r, ctx, fold))
        }
        Values::Like(ps) => ps.iter().any(|p| p.matches(r, ctx)),
        Values::Arn(ps) => {
            // A value without the ARN shape matches no ARN pattern (so negated operators hold).
            if !pattern::is_arn(r) {
                return Some(false);
            }
            ps.iter().any(|p| p.matches(r, ctx))
        }
        Values::Num(ps) => {
            let x = values::parse_number(r)?;
            ps.iter().any(|&p| match base {
                B::NumericEquals | B::NumericNotEquals => x == p,
                B::NumericLessThan => x < p,
                B::NumericLessThanEquals => x <= p,
                B::NumericGreaterThan => x > p,
                B::NumericGreaterThanEquals => x >= p,
                _ => false,
            })
        }
        Values::Date(ps) => {
            let x = values::parse_date(r)?;
            ps.iter().any(|&p| match base {
                B::DateEquals | B::DateNotEquals => x == p,
                B::DateLessThan => x < p,
                B::DateLessThanEquals => x <= p,
                B::DateGreaterThan => x > p,
                B::DateGreaterThanEquals => x >= p,
                _ => false,
            })
        }
        Values::Bool(ps) => {
            let x = values::parse_bool(r)?;
            ps.contains(&x)
        }
        Values::Binary(ps) => {
            let mut buf: SmallVec<[u8; 64]> = SmallVec::new();
            values::decode_base64(r, &mut buf)?;
            ps.iter().any(|p| **p == *buf)
        }
        Values::Ip(ps) => {
            let ip = values::parse_ip(r)?;
            ps.iter().any(|c| c.contains(ip))
        }
        Values::Null(_) => return None,
    })
}

/// Result for one request value, with negation applied (rule 2: negated operators are true
/// only if no policy value matches). Unreadable request values make the comparison false.
#[inline]
fn single(base: BaseOperator, values: &Values, r: &str, ctx: &Context) -> bool {
    match positive_match(base, values, r, ctx) {
        Some(m) => m != base.is_negated(),
        None => false,
    }
}

impl Condition {
    /// Evaluates the entry (reference §4.6 rules 1–6).
    pub(crate) fn eval(&self, ctx: &Context) -> bool {
        let present = ctx.values(&self.key);
        if let Values::Null(ps) = &self.values {
            // "true" → key must be absent; "false" → key must be present. Values are OR-ed.
            return ps
                .iter()
                .any(|&want_absent| want_absent == present.is_none());
        }
        let base = self.op.base;
        match (self.op.set, present) {
            (Some(SetQualifier::ForAllValues), None) => true,
            (Some(SetQualifier::ForAnyValue), None) => self.op.if_exists,
            (None, None) => self.op.if_exists || base.is_negated(),
            (Some(SetQualifier::ForAllValues), Some(rs)) => {
                rs.iter().all(|r| single(base, &self.values, r, ctx))
            }
            // A plain operator on a multi-valued key is read as ForAnyValue (rule 6).
            (Some(SetQualifier::ForAnyValue) | None, Some(rs)) => {
                rs.iter().any(|r| single(base, &self.values, r, ctx))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.base, B::StringLike);
        assert_eq!(op.set, Some(SetQualifier::ForAnyValue));
        assert!(op.if_exists);
        assert_eq!(op.name(), "ForAnyValue:StringLikeIfExists");
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForAllValues:Null").is_none());
        assert!(Operator::parse("StringEqualz").is_none());
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
        for (n, b) in ALL {
            assert_eq!(b.name(), n);
        }
    }
}
