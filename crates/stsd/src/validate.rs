//! Input rules the generated wire layer (`stsd-wire`) does not cover: names and tag keys that come from
//! somewhere other than a request member (OIDC/SAML claims, session tags), and tag merging. Answered with
//! `ValidationError` in AWS's wording.

use crate::error::{ApiError, ApiResult};
use crate::model::Tag;
use crate::protocol::query::lower_camel;

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
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
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

    /// Keys from OIDC and SAML claims may hold any letters: the `aws:` check must not cut a multi-byte
    /// character (it sliced at byte 4 and panicked on `ab中…`, whose third character spans bytes 2–4).
    #[test]
    fn multi_byte_keys_are_checked_without_panicking() {
        assert!(check_tag_key("ab中x", "tags.member.key").is_ok());
        assert!(check_tag_key("a中", "tags.member.key").is_ok());
        assert!(check_tag_key("AWS:中", "tags.member.key").is_err());
    }
}
