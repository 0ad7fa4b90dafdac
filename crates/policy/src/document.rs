//! The policy document as written (reference §4.1): parsing, validation per [`PolicyKind`]
//! (reference §4.13, §5) and canonical serialisation.

use std::fmt;

use crate::condition::Operator;
use crate::error::{Location, PolicyError};
use crate::glob::has_wildcard;
use crate::json::{self, Json, JsonValue, Position};
use crate::kind::{MAX_WIRE_CHARS, PolicyKind, SizeLimit};
use crate::pattern::{self, Mode};

/// Characters in `doc` that are not whitespace: how IAM measures policy sizes (reference §5).
pub fn non_whitespace_len(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`: `${...}` is literal text.
    V2008_10_17,
}

impl Version {
    /// The version string.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2012_10_17 => "2012-10-17",
            Version::V2008_10_17 => "2008-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementEffect {
    /// `"Effect": "Allow"`
    Allow,
    /// `"Effect": "Deny"`
    Deny,
}

impl StatementEffect {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementEffect::Allow => "Allow",
            StatementEffect::Deny => "Deny",
        }
    }
}

/// A value written either as a single item or as an array; the form is kept so a document
/// serialises back the way it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OneOrMany<T> {
    /// The items, never empty.
    pub items: Vec<T>,
    /// Whether the source used an array (even of one item).
    pub is_array: bool,
}

impl<T> OneOrMany<T> {
    /// Iterates over the items.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

/// The type key inside a `Principal` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, sessions.
    Aws,
    /// `Service`: AWS service principals.
    Service,
    /// `Federated`: OIDC / SAML providers.
    Federated,
    /// `CanonicalUser`: S3 canonical IDs (resource policies only).
    CanonicalUser,
}

impl PrincipalType {
    /// The JSON key.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
            PrincipalType::Federated => "Federated",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }
}

/// The value of `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalValue {
    /// `"*"`: everyone, including anonymous callers.
    Any,
    /// `{"AWS": ..., "Service": ..., ...}` in document order.
    Map(Vec<(PrincipalType, OneOrMany<String>)>),
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalElement {
    /// `NotPrincipal` rather than `Principal`.
    pub negated: bool,
    /// The principals.
    pub value: PrincipalValue,
}

/// An `Action`/`NotAction` or `Resource`/`NotResource` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListElement {
    /// `NotAction` / `NotResource`.
    pub negated: bool,
    /// The patterns.
    pub values: OneOrMany<String>,
}

/// How a condition value was written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarKind {
    /// A JSON string.
    String,
    /// A JSON number (text kept as written).
    Number,
    /// A JSON boolean.
    Bool,
}

/// A condition value: strings, numbers and booleans are equivalent for evaluation
/// (reference §4.1), but the JSON form is kept for serialisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// The value as text (`"true"`, `"3600"`, `"arn:…"`).
    pub text: String,
    /// The JSON type it was written as.
    pub kind: ScalarKind,
}

/// One `operator: {key: values, ...}` block of a `Condition` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConditionBlock {
    /// The operator as written (`ForAnyValue:StringLike`).
    pub operator: String,
    /// Keys (as written) and their values, in document order.
    pub entries: Vec<(String, OneOrMany<Scalar>)>,
}

/// One statement as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Statement {
    /// `Sid`, if present.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: StatementEffect,
    /// `Principal` / `NotPrincipal`, if present.
    pub principal: Option<PrincipalElement>,
    /// `Action` / `NotAction`.
    pub action: ListElement,
    /// `Resource` / `NotResource` (absent in trust policies).
    pub resource: Option<ListElement>,
    /// `Condition` blocks in document order; `None` if the element is absent.
    pub condition: Option<Vec<ConditionBlock>>,
}

/// A whole document as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyDocument {
    /// `Version`, if present.
    pub version: Option<Version>,
    /// `Id`, if present.
    pub id: Option<String>,
    /// The statements, never empty.
    pub statements: Vec<Statement>,
    /// Whether `Statement` was written as an array.
    pub statement_is_array: bool,
}

/// Source positions of a statement (for simulation's `StartPosition`/`EndPosition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Where the statement object starts.
    pub start: Position,
    /// Just after the statement object ends.
    pub end: Position,
}

impl PolicyDocument {
    /// Policy variables are substituted only with Version 2012-10-17 (reference §4.1).
    pub fn variables_enabled(&self) -> bool {
        self.version == Some(Version::V2012_10_17)
    }
}

// ------------------------------------------------------------------------------------------
// Parsing and validation
// ------------------------------------------------------------------------------------------

const SYNTAX: &str = "Syntax errors in policy.";
const NO_PRINCIPAL: &str = "Policy document should not specify a principal.";
const VENDOR: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";

struct Checker {
    kind: PolicyKind,
    stmt: Option<usize>,
    sid: Option<String>,
}

impl Checker {
    fn err(
        &self,
        message: &str,
        detail: Option<String>,
        element: Option<&str>,
        pos: Option<Position>,
    ) -> PolicyError {
        PolicyError::new(
            message,
            detail,
            Location {
                statement: self.stmt,
                sid: self.sid.clone(),
                element: element.map(str::to_owned),
                position: pos,
            },
        )
    }

    fn syntax(&self, detail: String, element: &str, j: &Json) -> PolicyError {
        self.err(SYNTAX, Some(detail), Some(element), Some(j.start))
    }
}

/// Checks the size rules, then parses and validates `doc` as a policy of `kind`.
pub(crate) fn parse_document(
    doc: &str,
    kind: PolicyKind,
    limit: SizeLimit,
) -> Result<(PolicyDocument, Vec<Span>), PolicyError> {
    let total = doc.chars().count();
    if total > MAX_WIRE_CHARS {
        return Err(PolicyError::TooLarge {
            kind,
            quota: "PolicyDocumentLength",
            limit: MAX_WIRE_CHARS,
            actual: total,
        });
    }
    let size = if limit.counts_whitespace {
        total
    } else {
        non_whitespace_len(doc)
    };
    if size > limit.max {
        return Err(PolicyError::TooLarge {
            kind,
            quota: limit.quota,
            limit: limit.max,
            actual: size,
        });
    }
    let mut c = Checker {
        kind,
        stmt: None,
        sid: None,
    };
    let root = json::parse(doc).map_err(|e| c.err(SYNTAX, Some(e.message), None, Some(e.at)))?;
    let JsonValue::Object(top) = &root.value else {
        return Err(c.syntax(
            format!(
                "the document must be a JSON object, not {}",
                root.value.type_name()
            ),
            "(document)",
            &root,
        ));
    };
    let mut version = None;
    let mut id = None;
    let mut statement = None;
    for (k, v) in top {
        match k.as_str() {
            "Version" => {
                version = Some(match &v.value {
                    JsonValue::String(s) if s == "2012-10-17" => Version::V2012_10_17,
                    JsonValue::String(s) if s == "2008-10-17" => Version::V2008_10_17,
                    _ => {
                        return Err(c.err(
                            "The policy failed legacy parsing",
                            Some(format!(
                                "`Version` must be \"2012-10-17\" or \"2008-10-17\", not {}",
                                describe(v)
                            )),
                            Some("Version"),
                            Some(v.start),
                        ));
                    }
                })
            }
            "Id" => {
                let JsonValue::String(s) = &v.value else {
                    return Err(c.syntax(
                        format!("`Id` must be a string, not {}", v.value.type_name()),
                        "Id",
                        v,
                    ));
                };
                if kind.is_identity_like() {
                    return Err(c.err(
                        "Policy document should not specify an Id.",
                        Some("`Id` is allowed in resource-based policies only".to_owned()),
                        Some("Id"),
                        Some(v.start),
                    ));
                }
                id = Some(s.clone());
            }
            "Statement" => statement = Some(v),
            other => {
                return Err(c.err(
                    &format!("Policy document contains unknown element {other}"),
                    None,
                    Some(other),
                    Some(v.start),
                ));
            }
        }
    }
    let vars = version == Some(Version::V2012_10_17);
    let Some(stmt_json) = statement else {
        return Err(c.err("Missing required field Statement", None, None, None));
    };
    let (items, statement_is_array): (Vec<&Json>, bool) = match &stmt_json.value {
        JsonValue::Object(_) => (vec![stmt_json], false),
        JsonValue::Array(a) => (a.iter().collect(), true),
        other => {
            return Err(c.syntax(
                format!(
                    "`Statement` must be an object or an array, not {}",
                    other.type_name()
                ),
                "Statement",
                stmt_json,
            ));
        }
    };
    if items.is_empty() {
        return Err(c.err(
            SYNTAX,
            Some("`Statement` must not be an empty array".to_owned()),
            Some("Statement"),
            Some(stmt_json.start),
        ));
    }
    let mut statements = Vec::with_capacity(items.len());
    let mut spans = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        c.stmt = Some(i);
        c.sid = None;
        statements.push(parse_statement(&mut c, item, vars)?);
        spans.push(Span {
            start: item.start,
            end: item.end,
        });
    }
    // Sids must be unique within a policy (empty Sids are not identifiers).
    for (i, s) in statements.iter().enumerate() {
        if let Some(sid) = s.sid.as_deref().filter(|s| !s.is_empty())
            && statements
                .iter()
                .take(i)
                .any(|o| o.sid.as_deref() == Some(sid))
        {
            c.stmt = Some(i);
            c.sid = Some(sid.to_owned());
            return Err(c.err(
                "Statement IDs (SID) in a single policy must be unique.",
                None,
                Some("Sid"),
                spans.get(i).map(|s| s.start),
            ));
        }
    }
    Ok((
        PolicyDocument {
            version,
            id,
            statements,
            statement_is_array,
        },
        spans,
    ))
}

fn describe(j: &Json) -> String {
    match &j.value {
        JsonValue::String(s) => format!("`{s}`"),
        other => other.type_name().to_owned(),
    }
}

fn string_list(c: &Checker, j: &Json, element: &str) -> Result<OneOrMany<String>, PolicyError> {
    match &j.value {
        JsonValue::String(s) => Ok(OneOrMany {
            items: vec![s.clone()],
            is_array: false,
        }),
        JsonValue::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            for v in a {
                let JsonValue::String(s) = &v.value else {
                    return Err(c.syntax(
                        format!(
                            "`{element}` entries must be strings, not {}",
                            v.value.type_name()
                        ),
                        element,
                        v,
                    ));
                };
                items.push(s.clone());
            }
            Ok(OneOrMany {
                items,
                is_array: true,
            })
        }
        other => Err(c.syntax(
            format!(
                "`{element}` must be a string or an array of strings, not {}",
                other.type_name()
            ),
            element,
            j,
        )),
    }
}

fn parse_statement(c: &mut Checker, j: &Json, vars: bool) -> Result<Statement, PolicyError> {
    let JsonValue::Object(fields) = &j.value else {
        return Err(c.syntax(
            format!("a statement must be an object, not {}", j.value.type_name()),
            "Statement",
            j,
        ));
    };
    // Sid first, so later messages can name it.
    if let Some((_, v)) = fields.iter().find(|(k, _)| k == "Sid") {
        let JsonValue::String(s) = &v.value else {
            return Err(c.syntax(
                format!("`Sid` must be a string, not {}", v.value.type_name()),
                "Sid",
                v,
            ));
        };
        c.sid = Some(s.clone());
        if c.kind != PolicyKind::Resource && !s.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            return Err(c.err(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                Some(format!("`{s}`")),
                Some("Sid"),
                Some(v.start),
            ));
        }
    }
    let mut effect = None;
    let mut principal: Option<(PrincipalElement, &Json)> = None;
    let mut action: Option<ListElement> = None;
    let mut resource: Option<(ListElement, &Json)> = None;
    let mut condition = None;
    for (k, v) in fields {
        match k.as_str() {
            "Sid" => {}
            "Effect" => {
                effect = Some(match &v.value {
                    JsonValue::String(s) if s == "Allow" => StatementEffect::Allow,
                    JsonValue::String(s) if s == "Deny" => StatementEffect::Deny,
                    _ => {
                        return Err(c.err(
                            &format!("Invalid effect: {}", scalar_text(v)),
                            Some("`Effect` must be \"Allow\" or \"Deny\"".to_owned()),
                            Some("Effect"),
                            Some(v.start),
                        ));
                    }
                })
            }
            "Principal" | "NotPrincipal" => {
                let negated = k == "NotPrincipal";
                if principal.is_some() {
                    return Err(c.err(
                        SYNTAX,
                        Some(
                            "a statement cannot have both `Principal` and `NotPrincipal`"
                                .to_owned(),
                        ),
                        Some(k),
                        Some(v.start),
                    ));
                }
                if c.kind.is_identity_like() {
                    return Err(c.err(NO_PRINCIPAL, None, Some(k), Some(v.start)));
                }
                if negated && c.kind == PolicyKind::Trust {
                    return Err(c.err(
                        "Has prohibited field NotPrincipal",
                        Some("`NotPrincipal` is not allowed in role trust policies".to_owned()),
                        Some(k),
                        Some(v.start),
                    ));
                }
                principal = Some((
                    PrincipalElement {
                        negated,
                        value: parse_principal(c, v, k)?,
                    },
                    v,
                ));
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(c.err(
                        SYNTAX,
                        Some("a statement cannot have both `Action` and `NotAction`".to_owned()),
                        Some(k),
                        Some(v.start),
                    ));
                }
                let values = string_list(c, v, k)?;
                if values.items.is_empty() {
                    return Err(c.err(
                        "Policy statement must contain actions.",
                        Some(format!("`{k}` is an empty array")),
                        Some(k),
                        Some(v.start),
                    ));
                }
                for a in &values.items {
                    check_action(c, a, k, v)?;
                }
                action = Some(ListElement {
                    negated: k == "NotAction",
                    values,
                });
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(c.err(
                        SYNTAX,
                        Some(
                            "a statement cannot have both `Resource` and `NotResource`".to_owned(),
                        ),
                        Some(k),
                        Some(v.start),
                    ));
                }
                if c.kind == PolicyKind::Trust {
                    return Err(c.err(
                        &format!("Has prohibited field {k}"),
                        Some(format!("`{k}` is not allowed in role trust policies")),
                        Some(k),
                        Some(v.start),
                    ));
                }
                let values = string_list(c, v, k)?;
                if values.items.is_empty() {
                    return Err(c.err(
                        "Policy statement must contain resources.",
                        Some(format!("`{k}` is an empty array")),
                        Some(k),
                        Some(v.start),
                    ));
                }
                for r in &values.items {
                    check_resource(c, r, k, v, vars)?;
                }
                resource = Some((
                    ListElement {
                        negated: k == "NotResource",
                        values,
                    },
                    v,
                ));
            }
            "Condition" => condition = Some(parse_condition(c, v, vars)?),
            other => {
                return Err(c.err(
                    &format!("Statement contains unknown element {other}"),
                    None,
                    Some(other),
                    Some(v.start),
                ));
            }
        }
    }
    let Some(effect) = effect else {
        return Err(c.err("Missing required field Effect", None, None, Some(j.start)));
    };
    let Some(action) = action else {
        return Err(c.err(
            "Policy statement must contain actions.",
            None,
            None,
            Some(j.start),
        ));
    };
    let needs_principal = matches!(c.kind, PolicyKind::Trust | PolicyKind::Resource);
    if needs_principal && principal.is_none() {
        return Err(c.err(
            "Missing required field Principal",
            None,
            None,
            Some(j.start),
        ));
    }
    if c.kind != PolicyKind::Trust && resource.is_none() {
        return Err(c.err(
            "Policy statement must contain resources.",
            None,
            None,
            Some(j.start),
        ));
    }
    Ok(Statement {
        sid: c.sid.clone(),
        effect,
        principal: principal.map(|(p, _)| p),
        action,
        resource: resource.map(|(r, _)| r),
        condition,
    })
}

fn scalar_text(j: &Json) -> String {
    match &j.value {
        JsonValue::String(s) | JsonValue::Number(s) => s.clone(),
        JsonValue::Bool(b) => b.to_string(),
        other => other.type_name().to_owned(),
    }
}

fn is_vendor(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn check_action(c: &Checker, a: &str, element: &str, j: &Json) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = a.split_once(':') else {
        return Err(c.err(VENDOR, Some(format!("`{a}`")), Some(element), Some(j.start)));
    };
    if has_wildcard(vendor) {
        return Err(c.err(
            &format!("Vendor {vendor} is not valid"),
            Some(format!(
                "`{a}`: the service prefix of an action cannot contain wildcards"
            )),
            Some(element),
            Some(j.start),
        ));
    }
    if !is_vendor(vendor)
        || name.is_empty()
        || name.contains(':')
        || name.chars().any(char::is_whitespace)
    {
        return Err(c.err(
            VENDOR,
            Some(format!("`{a}` is not a valid action")),
            Some(element),
            Some(j.start),
        ));
    }
    if c.kind == PolicyKind::Trust && !vendor.eq_ignore_ascii_case("sts") {
        return Err(c.err(
            "AssumeRolePolicy policy may only specify STS AssumeRole actions.",
            Some(format!("`{a}`")),
            Some(element),
            Some(j.start),
        ));
    }
    Ok(())
}

fn check_resource(
    c: &Checker,
    r: &str,
    element: &str,
    j: &Json,
    vars: bool,
) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    if !r.starts_with("arn:") {
        return Err(c.err(
            &format!("Resource {r} must be in ARN format or \"*\"."),
            None,
            Some(element),
            Some(j.start),
        ));
    }
    let mut parts = r.splitn(4, ':');
    let service = parts.nth(2);
    match service {
        Some(s) if !s.is_empty() && !has_wildcard(s) && !s.contains('$') => {}
        _ => {
            return Err(c.err(
                "Resource vendor must be fully qualified and cannot contain regexes.",
                Some(format!("`{r}`")),
                Some(element),
                Some(j.start),
            ));
        }
    }
    let t = pattern::tokenize(r, Mode::Arn, vars)
        .map_err(|d| c.err(SYNTAX, Some(d), Some(element), Some(j.start)))?;
    if t.var_outside_resource_part {
        return Err(c.err(
            SYNTAX,
            Some(format!(
                "`{r}`: policy variables are allowed only in the resource part of an ARN (after the fifth colon)"
            )),
            Some(element),
            Some(j.start),
        ));
    }
    Ok(())
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is an acceptable `AWS` principal string (reference §4.2): `*`, an account ID,
/// a root/user/role/assumed-role/federated-user ARN without wildcards, or an IAM unique ID.
pub(crate) fn valid_aws_principal(s: &str) -> bool {
    if s == "*" || is_account(s) {
        return true;
    }
    if has_wildcard(s) {
        return false;
    }
    if let Some(rest) = s.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts.as_slice() else {
            return false;
        };
        if partition.is_empty() || !region.is_empty() || !is_account(account) {
            return false;
        }
        return match *service {
            "iam" => {
                *resource == "root"
                    || resource
                        .strip_prefix("user/")
                        .or_else(|| resource.strip_prefix("role/"))
                        .is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
            }
            "sts" => {
                if let Some(n) = resource.strip_prefix("assumed-role/") {
                    n.split('/').count() == 2 && n.split('/').all(|p| !p.is_empty())
                } else if let Some(n) = resource.strip_prefix("federated-user/") {
                    !n.is_empty() && !n.contains('/')
                } else {
                    false
                }
            }
            _ => false,
        };
    }
    // Unique IDs: AIDA…, AROA…, etc. (reference §2.1).
    s.len() >= 16
        && s.len() <= 128
        && s.starts_with('A')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn parse_principal(c: &Checker, j: &Json, element: &str) -> Result<PrincipalValue, PolicyError> {
    let invalid = |t: &str, v: &str, why: &str| {
        c.err(
            &format!("Invalid principal in policy: \"{t}\":\"{v}\""),
            Some(why.to_owned()),
            Some(element),
            Some(j.start),
        )
    };
    match &j.value {
        JsonValue::String(s) if s == "*" => Ok(PrincipalValue::Any),
        JsonValue::String(s) => Err(c.err(
            &format!("Invalid principal in policy: {s}"),
            Some("a principal must be \"*\" or an object such as {\"AWS\": …}".to_owned()),
            Some(element),
            Some(j.start),
        )),
        JsonValue::Object(m) => {
            if m.is_empty() {
                return Err(c.err(
                    "Invalid principal in policy",
                    Some(format!("`{element}` is an empty object")),
                    Some(element),
                    Some(j.start),
                ));
            }
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                let t = match k.as_str() {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    other => {
                        return Err(c.err(
                            &format!("Invalid principal in policy: \"{other}\""),
                            Some(
                                "principal types are AWS, Service, Federated and CanonicalUser"
                                    .to_owned(),
                            ),
                            Some(element),
                            Some(v.start),
                        ));
                    }
                };
                let values = string_list(c, v, element)?;
                if values.items.is_empty() {
                    return Err(invalid(k, "", "empty principal list"));
                }
                for s in &values.items {
                    let ok = match t {
                        PrincipalType::Aws => valid_aws_principal(s),
                        PrincipalType::Service | PrincipalType::Federated => {
                            s == "*"
                                || (!s.is_empty()
                                    && !has_wildcard(s)
                                    && !s.chars().any(char::is_whitespace))
                        }
                        PrincipalType::CanonicalUser => {
                            if c.kind != PolicyKind::Resource {
                                return Err(invalid(
                                    k,
                                    s,
                                    "CanonicalUser principals are not allowed in IAM policies",
                                ));
                            }
                            !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
                        }
                    };
                    if !ok {
                        return Err(invalid(
                            k,
                            s,
                            "wildcards are allowed only as a bare \"*\"; use aws:PrincipalArn with ArnLike",
                        ));
                    }
                }
                out.push((t, values));
            }
            Ok(PrincipalValue::Map(out))
        }
        other => Err(c.syntax(
            format!(
                "`{element}` must be \"*\" or an object, not {}",
                other.type_name()
            ),
            element,
            j,
        )),
    }
}

fn scalar(c: &Checker, j: &Json, element: &str) -> Result<Scalar, PolicyError> {
    match &j.value {
        JsonValue::String(s) => Ok(Scalar {
            text: s.clone(),
            kind: ScalarKind::String,
        }),
        JsonValue::Number(s) => Ok(Scalar {
            text: s.clone(),
            kind: ScalarKind::Number,
        }),
        JsonValue::Bool(b) => Ok(Scalar {
            text: b.to_string(),
            kind: ScalarKind::Bool,
        }),
        other => Err(c.syntax(
            format!(
                "condition values must be strings, numbers or booleans, not {}",
                other.type_name()
            ),
            element,
            j,
        )),
    }
}

fn parse_condition(c: &Checker, j: &Json, vars: bool) -> Result<Vec<ConditionBlock>, PolicyError> {
    let JsonValue::Object(ops) = &j.value else {
        return Err(c.syntax(
            format!("`Condition` must be an object, not {}", j.value.type_name()),
            "Condition",
            j,
        ));
    };
    let mut blocks = Vec::with_capacity(ops.len());
    for (op_name, block) in ops {
        let element = format!("Condition.{op_name}");
        let Some(op) = Operator::parse(op_name) else {
            return Err(c.err(
                &format!("Invalid Condition type : {op_name}"),
                None,
                Some(&element),
                Some(block.start),
            ));
        };
        let JsonValue::Object(keys) = &block.value else {
            return Err(c.syntax(
                format!(
                    "`{op_name}` must map condition keys to values, not {}",
                    block.value.type_name()
                ),
                &element,
                block,
            ));
        };
        if keys.is_empty() {
            return Err(c.err(
                SYNTAX,
                Some(format!("`{op_name}` has no condition keys")),
                Some(&element),
                Some(block.start),
            ));
        }
        let mut entries = Vec::with_capacity(keys.len());
        for (key, v) in keys {
            let element = format!("Condition.{op_name}.{key}");
            match key.split_once(':') {
                Some((vendor, rest)) if !vendor.is_empty() && !rest.is_empty() => {}
                _ => {
                    return Err(c.err(
                        VENDOR,
                        Some(format!("condition key `{key}`")),
                        Some(&element),
                        Some(v.start),
                    ));
                }
            }
            let values = match &v.value {
                JsonValue::Array(a) => {
                    if a.is_empty() {
                        return Err(c.err(
                            SYNTAX,
                            Some(format!("condition key `{key}` has an empty value list")),
                            Some(&element),
                            Some(v.start),
                        ));
                    }
                    OneOrMany {
                        items: a
                            .iter()
                            .map(|x| scalar(c, x, &element))
                            .collect::<Result<_, _>>()?,
                        is_array: true,
                    }
                }
                _ => OneOrMany {
                    items: vec![scalar(c, v, &element)?],
                    is_array: false,
                },
            };
            let texts: Vec<String> = values.items.iter().map(|s| s.text.clone()).collect();
            crate::condition::compile_values(op, &texts, vars)
                .map_err(|d| c.err(SYNTAX, Some(d), Some(&element), Some(v.start)))?;
            entries.push((key.clone(), values));
        }
        blocks.push(ConditionBlock {
            operator: op_name.clone(),
            entries,
        });
    }
    Ok(blocks)
}

// ------------------------------------------------------------------------------------------
// Serialisation
// ------------------------------------------------------------------------------------------

fn write_list(out: &mut String, l: &OneOrMany<String>) {
    if l.is_array || l.items.len() != 1 {
        out.push('[');
        for (i, s) in l.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_string(out, s);
        }
        out.push(']');
    } else if let Some(s) = l.items.first() {
        json::write_string(out, s);
    }
}

fn write_scalar(out: &mut String, s: &Scalar) {
    match s.kind {
        ScalarKind::String => json::write_string(out, &s.text),
        ScalarKind::Number | ScalarKind::Bool => out.push_str(&s.text),
    }
}

impl PolicyDocument {
    /// Canonical compact JSON: elements in the order Version, Id, Statement and Sid, Effect,
    /// Principal, Action, Resource, Condition; single values and arrays as written.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        if let Some(v) = self.version {
            out.push_str("\"Version\":\"");
            out.push_str(v.as_str());
            out.push_str("\",");
        }
        if let Some(id) = &self.id {
            out.push_str("\"Id\":");
            json::write_string(&mut out, id);
            out.push(',');
        }
        out.push_str("\"Statement\":");
        let many = self.statement_is_array || self.statements.len() != 1;
        if many {
            out.push('[');
        }
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            s.write_json(&mut out);
        }
        if many {
            out.push(']');
        }
        out.push('}');
        out
    }
}

impl Statement {
    fn write_json(&self, out: &mut String) {
        out.push('{');
        if let Some(sid) = &self.sid {
            out.push_str("\"Sid\":");
            json::write_string(out, sid);
            out.push(',');
        }
        out.push_str("\"Effect\":\"");
        out.push_str(self.effect.as_str());
        out.push('"');
        if let Some(p) = &self.principal {
            out.push_str(if p.negated {
                ",\"NotPrincipal\":"
            } else {
                ",\"Principal\":"
            });
            match &p.value {
                PrincipalValue::Any => out.push_str("\"*\""),
                PrincipalValue::Map(m) => {
                    out.push('{');
                    for (i, (t, l)) in m.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        json::write_string(out, t.as_str());
                        out.push(':');
                        write_list(out, l);
                    }
                    out.push('}');
                }
            }
        }
        out.push_str(if self.action.negated {
            ",\"NotAction\":"
        } else {
            ",\"Action\":"
        });
        write_list(out, &self.action.values);
        if let Some(r) = &self.resource {
            out.push_str(if r.negated {
                ",\"NotResource\":"
            } else {
                ",\"Resource\":"
            });
            write_list(out, &r.values);
        }
        if let Some(blocks) = &self.condition {
            out.push_str(",\"Condition\":{");
            for (i, b) in blocks.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json::write_string(out, &b.operator);
                out.push_str(":{");
                for (k, (key, vals)) in b.entries.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    json::write_string(out, key);
                    out.push(':');
                    if vals.is_array || vals.items.len() != 1 {
                        out.push('[');
                        for (n, v) in vals.items.iter().enumerate() {
                            if n > 0 {
                                out.push(',');
                            }
                            write_scalar(out, v);
                        }
                        out.push(']');
                    } else if let Some(v) = vals.items.first() {
                        write_scalar(out, v);
                    }
                }
                out.push('}');
            }
            out.push('}');
        }
        out.push('}');
    }
}

impl fmt::Display for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}
