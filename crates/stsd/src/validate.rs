//! Input constraints for what the generated wire layer (`stsd-wire`) does not cover: the actions that are not
//! typed yet (the simulator, stsd's own operations), a few limits the model leaves out, tag merging and the
//! tag-key rules OIDC/SAML claims must follow. Answered with `ValidationError` in AWS's wording.

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
    fn names_and_tag_keys() {
        let e = check_name("alice smith", "UserName", 64).unwrap_err();
        assert!(e.message.contains("'userName'"), "{}", e.message);
        assert!(check_name("alice", "UserName", 64).is_ok());
        assert!(check_tag_key("aws:x", "tags.member.key").is_err());
        assert!(check_tag_key("Team", "tags.member.key").is_ok());
    }

    #[test]
    fn ranges() {
        let p = Params::from_pairs([("MaxSessionDuration", "100")]);
        let e = int_range(&p, "MaxSessionDuration", 3600, 43200).unwrap_err();
        assert!(e.message.contains("greater than or equal to 3600"));
    }
}
