//! Input constraints from the IAM/STS models (lengths, patterns, ranges), answered with `ValidationError` in
//! AWS's wording. Patterns are applied as full matches.

use crate::error::{ApiError, ApiResult};
use crate::model::Tag;
use crate::protocol::query::{lower_camel, Params};

/// `[\w+=,.@-]`
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn len_check(value: &str, member: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = value.chars().count();
    if n < min {
        return Err(ApiError::validation(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::validation(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A name parameter (`UserName`, `RoleName`, …): length and `[\w+=,.@-]+`.
pub fn name<'a>(p: &'a Params, param: &str, max: usize) -> ApiResult<&'a str> {
    let v = p.required(param)?;
    check_name(v, param, max)?;
    Ok(v)
}

pub fn check_name(v: &str, param: &str, max: usize) -> ApiResult<()> {
    let member = lower_camel(param);
    len_check(v, &member, 1, max)?;
    if !v.chars().all(is_name_char) {
        return Err(ApiError::validation(
            v,
            &member,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

pub fn opt_name<'a>(p: &'a Params, param: &str, max: usize) -> ApiResult<Option<&'a str>> {
    match p.get(param) {
        None => Ok(None),
        Some(_) => name(p, param, max).map(Some),
    }
}

/// Entity path: `/` or `/…/` with printable ASCII, 1..512.
pub fn path(p: &Params, param: &str) -> ApiResult<String> {
    let Some(v) = p.get(param) else {
        return Ok("/".into());
    };
    let member = lower_camel(param);
    len_check(v, &member, 1, 512)?;
    let ok = v == "/"
        || (v.len() >= 2
            && v.starts_with('/')
            && v.ends_with('/')
            && v.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)));
    if !ok {
        return Err(ApiError::validation(
            v,
            &member,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(v.to_string())
}

/// Managed-policy path: `((/[A-Za-z0-9\.,\+@=_-]+)*)/`.
pub fn policy_path(p: &Params) -> ApiResult<String> {
    let Some(v) = p.get("Path") else {
        return Ok("/".into());
    };
    len_check(v, "path", 1, 512)?;
    let ok = v.starts_with('/')
        && v.ends_with('/')
        && !v.contains("//")
        && v.chars()
            .all(|c| c == '/' || c.is_ascii_alphanumeric() || ".,+@=_-".contains(c));
    if !ok {
        return Err(ApiError::validation(
            v,
            "path",
            "Member must satisfy regular expression pattern: ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/",
        ));
    }
    Ok(v.to_string())
}

pub fn path_prefix(p: &Params) -> ApiResult<Option<String>> {
    let Some(v) = p.get("PathPrefix") else {
        return Ok(None);
    };
    len_check(v, "pathPrefix", 1, 512)?;
    if !v.starts_with('/') || !v.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c)) {
        return Err(ApiError::validation(
            v,
            "pathPrefix",
            "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        ));
    }
    Ok(Some(v.to_string()))
}

/// A policy document on the wire: 1..131072 characters of `[\u0009\u000A\u000D\u0020-\u00FF]`.
pub fn policy_document<'a>(p: &'a Params, param: &str) -> ApiResult<&'a str> {
    let v = p.required(param)?;
    let member = lower_camel(param);
    len_check(v, &member, 1, 131_072)?;
    if !v
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(ApiError::validation(
            "<policy document>",
            &member,
            "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    Ok(v)
}

pub fn description(p: &Params, param: &str) -> ApiResult<Option<String>> {
    let Some(v) = p.get(param) else {
        return Ok(None);
    };
    let member = lower_camel(param);
    len_check(v, &member, 0, 1000)?;
    if !v
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'))
    {
        return Err(ApiError::validation(
            v,
            &member,
            "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
        ));
    }
    Ok(Some(v.to_string()))
}

pub fn int_range(p: &Params, param: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
    let Some(v) = p.get(param) else {
        return Ok(None);
    };
    let member = lower_camel(param);
    let n: i64 = v.trim().parse().map_err(|_| {
        ApiError::new(
            crate::error::ErrorCode::ValidationError,
            format!("Invalid value for parameter {member}, value: {v}, type: int"),
        )
    })?;
    if n < min {
        return Err(ApiError::validation(
            v,
            &member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::validation(
            v,
            &member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(Some(n))
}

pub fn boolean(p: &Params, param: &str) -> ApiResult<Option<bool>> {
    match p.get(param) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(ApiError::new(
            crate::error::ErrorCode::ValidationError,
            format!(
                "Invalid value for parameter {}, value: {v}, type: boolean",
                lower_camel(param)
            ),
        )),
    }
}

pub fn one_of<'a>(p: &'a Params, param: &str, allowed: &[&str]) -> ApiResult<Option<&'a str>> {
    let Some(v) = p.get(param) else {
        return Ok(None);
    };
    if !allowed.contains(&v) {
        return Err(ApiError::validation(
            v,
            &lower_camel(param),
            &format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ));
    }
    Ok(Some(v))
}

/// An ARN parameter (20..2048).
pub fn arn<'a>(p: &'a Params, param: &str) -> ApiResult<&'a str> {
    let v = p.required(param)?;
    len_check(v, &lower_camel(param), 20, 2048)?;
    Ok(v)
}

/// Pagination input: (`Marker`, `MaxItems`).
pub fn paging(p: &Params) -> ApiResult<(Option<String>, usize)> {
    let marker = match p.get("Marker") {
        None => None,
        Some(m) => {
            len_check(m, "marker", 1, 320)?;
            Some(m.to_string())
        }
    };
    let max = int_range(p, "MaxItems", 1, 1000)?.unwrap_or(100);
    Ok((marker, usize::try_from(max).unwrap_or(100)))
}

fn tag_char(c: char) -> bool {
    c.is_alphabetic() || c.is_numeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// `Tags.member.N.Key/Value`, checked: ≤ 50, key 1..128, value 0..256, charset, no `aws:` prefix,
/// no case-insensitive duplicate keys when `case_insensitive`.
pub fn tags(p: &Params, case_insensitive: bool) -> ApiResult<Vec<Tag>> {
    let Some(list) = p.struct_list("Tags")? else {
        return Ok(Vec::new());
    };
    if list.len() > 50 {
        return Err(ApiError::validation(
            "[...]",
            "tags",
            "Member must have length less than or equal to 50",
        ));
    }
    let mut out: Vec<Tag> = Vec::with_capacity(list.len());
    for t in list {
        let key = t
            .get("Key")
            .ok_or_else(|| ApiError::missing("tags.member.key"))?;
        let value = t
            .get("Value")
            .ok_or_else(|| ApiError::missing("tags.member.value"))?;
        check_tag_key(key, "tags.member.key")?;
        len_check(value, "tags.member.value", 0, 256)?;
        if !value.chars().all(tag_char) {
            return Err(ApiError::validation(
                value,
                "tags.member.value",
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if out.iter().any(|o| {
            if case_insensitive {
                o.key.eq_ignore_ascii_case(key)
            } else {
                o.key == key
            }
        }) {
            return Err(ApiError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        out.push(Tag {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    Ok(out)
}

pub fn check_tag_key(key: &str, member: &str) -> ApiResult<()> {
    len_check(key, member, 1, 128)?;
    if !key.chars().all(tag_char) {
        return Err(ApiError::validation(
            key,
            member,
            "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
        ));
    }
    if key.len() >= 4 && key[..4].eq_ignore_ascii_case("aws:") {
        return Err(ApiError::invalid_input(
            "User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS use",
        ));
    }
    Ok(())
}

/// `TagKeys.member.N`.
pub fn tag_keys(p: &Params) -> ApiResult<Vec<String>> {
    let keys = p
        .list("TagKeys")?
        .ok_or_else(|| ApiError::missing("tagKeys"))?;
    if keys.len() > 50 {
        return Err(ApiError::validation(
            "[...]",
            "tagKeys",
            "Member must have length less than or equal to 50",
        ));
    }
    for k in &keys {
        len_check(k, "tagKeys.member", 1, 128)?;
    }
    Ok(keys)
}

/// Merge `new` into `existing` (replace same key), then enforce the 50-tag quota.
pub fn merge_tags(existing: &[Tag], new: &[Tag], case_insensitive: bool) -> ApiResult<Vec<Tag>> {
    let mut out = existing.to_vec();
    for t in new {
        let same = |o: &Tag| {
            if case_insensitive {
                o.key.eq_ignore_ascii_case(&t.key)
            } else {
                o.key == t.key
            }
        };
        if let Some(o) = out.iter_mut().find(|o| same(o)) {
            *o = t.clone();
        } else {
            out.push(t.clone());
        }
    }
    if out.len() > 50 {
        return Err(ApiError::limit("TagsPerResource", 50));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let p = Params::from_pairs([
            ("UserName", "alice smith"),
            ("Path", "/a/b/"),
            ("Bad", "a/"),
        ]);
        let e = name(&p, "UserName", 64).unwrap_err();
        assert!(e.message.contains("'userName'"), "{}", e.message);
        assert_eq!(path(&p, "Path").unwrap(), "/a/b/");
        assert!(path(&p, "Bad").is_err());
        assert_eq!(path(&p, "Missing").unwrap(), "/");
    }

    #[test]
    fn tag_rules() {
        let p = Params::from_pairs([
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "a"),
            ("Tags.member.2.Key", "team"),
            ("Tags.member.2.Value", "b"),
        ]);
        assert!(tags(&p, true).is_err());
        assert_eq!(tags(&p, false).unwrap().len(), 2);
        let p = Params::from_pairs([("Tags.member.1.Key", "aws:x"), ("Tags.member.1.Value", "a")]);
        assert!(tags(&p, true).is_err());
    }

    #[test]
    fn ranges() {
        let p = Params::from_pairs([("MaxSessionDuration", "100")]);
        let e = int_range(&p, "MaxSessionDuration", 3600, 43200).unwrap_err();
        assert!(e.message.contains("greater than or equal to 3600"));
    }
}
