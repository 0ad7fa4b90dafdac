//! Matching concrete names against the reference's templates (`aws:ResourceTag/${TagKey}`,
//! `arn:${Partition}:iam::${Account}:user/${UserNameWithPath}`).
//!
//! A `${Name}` placeholder stands for one or more characters; everything else is literal. Matching is
//! the classic wildcard walk that backtracks only to the last placeholder: at worst template length ×
//! value length steps, never exponential, no allocation.

/// Whether `value` is an instance of `template`, comparing the literal text with `eq_literal`.
fn matches(template: &[u8], value: &[u8], eq_literal: fn(u8, u8) -> bool) -> bool {
    let (mut t, mut v) = (0, 0);
    // The placeholder most recently entered: where the template resumes after it, and where it ends in `value`.
    let mut placeholder: Option<(usize, usize)> = None;
    loop {
        if let Some(after) = placeholder_end(template, t) {
            // A placeholder takes at least one character; more are given to it on backtracking.
            if v < value.len() {
                placeholder = Some((after, v + 1));
                t = after;
                v += 1;
                continue;
            }
        } else if let (Some(&tc), Some(&vc)) = (template.get(t), value.get(v)) {
            if eq_literal(tc, vc) {
                t += 1;
                v += 1;
                continue;
            }
        } else if t == template.len() && v == value.len() {
            return true;
        }
        // Mismatch: let the last placeholder take one more character, or give up.
        match placeholder {
            Some((after, end)) if end < value.len() => {
                placeholder = Some((after, end + 1));
                t = after;
                v = end + 1;
            }
            _ => return false,
        }
    }
}

/// If a `${Name}` placeholder starts at `at`, the index just past its `}`.
fn placeholder_end(template: &[u8], at: usize) -> Option<usize> {
    let rest = template.get(at..)?;
    if !rest.starts_with(b"${") {
        return None;
    }
    let close = rest.iter().position(|&b| b == b'}')?;
    Some(at + close + 1)
}

/// Condition key names: IAM compares them case-insensitively.
pub(crate) fn key_matches(template: &str, key: &str) -> bool {
    matches(template.as_bytes(), key.as_bytes(), |a, b| {
        a.eq_ignore_ascii_case(&b)
    })
}

/// ARNs: compared field by field (`arn:partition:service:region:account:resource`), so that a
/// placeholder never swallows a field separator; the resource field may itself hold `:`.
pub(crate) fn arn_matches(template: &str, arn: &str) -> bool {
    const FIELDS: usize = 6;
    let fields = |s: &str| s.splitn(FIELDS, ':').count();
    fields(template) == FIELDS
        && fields(arn) == FIELDS
        && template
            .splitn(FIELDS, ':')
            .zip(arn.splitn(FIELDS, ':'))
            .all(|(t, a)| matches(t.as_bytes(), a.as_bytes(), |x, y| x == y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_keys_match_case_insensitively() {
        assert!(key_matches(
            "iam:PermissionsBoundary",
            "iam:permissionsboundary"
        ));
        assert!(key_matches("aws:TagKeys", "AWS:TAGKEYS"));
        assert!(!key_matches("aws:TagKeys", "aws:TagKey"));
        assert!(!key_matches("aws:TagKeys", "aws:TagKeysX"));
        assert!(!key_matches("aws:TagKeys", ""));
    }

    #[test]
    fn placeholders_take_one_or_more_characters() {
        let t = "aws:ResourceTag/${TagKey}";
        assert!(key_matches(t, "aws:ResourceTag/team"));
        assert!(key_matches(t, "AWS:resourcetag/Team"));
        assert!(key_matches(t, "aws:ResourceTag/a/b:c"));
        assert!(key_matches(t, t));
        assert!(!key_matches(t, "aws:ResourceTag/"));
        assert!(!key_matches(t, "aws:RequestTag/team"));
        assert!(!key_matches(t, "iam:ResourceTag/team"));
    }

    #[test]
    fn placeholders_inside_a_key() {
        let t = "token.actions.githubusercontent.com/${SubPath}:actor";
        assert!(key_matches(
            t,
            "token.actions.githubusercontent.com/org/repo:actor"
        ));
        assert!(!key_matches(t, "token.actions.githubusercontent.com:actor"));
        assert!(!key_matches(
            t,
            "token.actions.githubusercontent.com/x:actor_id"
        ));
        let t = "agent.${Domain}.buildkite.dev:build_branch";
        assert!(key_matches(t, "agent.acme.buildkite.dev:build_branch"));
        assert!(key_matches(t, "agent.a.b.buildkite.dev:build_branch"));
        assert!(!key_matches(t, "agent..buildkite.dev:build_branch"));
    }

    #[test]
    fn backtracking_finds_the_later_split() {
        assert!(key_matches("${A}b${B}c", "abbbc"));
        assert!(key_matches("${A}/${B}", "a/b/c"));
        assert!(!key_matches("${A}/${B}", "a/"));
        assert!(!key_matches("${A}/${B}", "/b"));
    }

    #[test]
    fn an_unclosed_placeholder_is_literal() {
        assert!(key_matches("a${b", "A${B"));
        assert!(!key_matches("a${b", "axb"));
    }

    #[test]
    fn long_hostile_input_stays_linear() {
        let value = "a".repeat(100_000);
        assert!(!key_matches("${A}b${B}c", &value));
    }

    #[test]
    fn arns_match_field_by_field() {
        let user = "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}";
        assert!(arn_matches(user, "arn:aws:iam::111122223333:user/alice"));
        assert!(arn_matches(
            user,
            "arn:aws:iam::111122223333:user/division/alice"
        ));
        assert!(arn_matches(user, "arn:aws-cn:iam::111122223333:user/a:b"));
        assert!(!arn_matches(user, "arn:aws:iam::111122223333:role/alice"));
        assert!(!arn_matches(
            user,
            "arn:aws:iam::111122223333:role/x:user/alice"
        ));
        assert!(!arn_matches(
            user,
            "arn:aws:iam:us-east-1:111122223333:user/alice"
        ));
        assert!(!arn_matches(user, "arn:aws:iam::111122223333:User/alice"));
        assert!(!arn_matches(user, "arn:aws:iam::111122223333:user/"));
        assert!(!arn_matches(user, "arn:aws:iam:111122223333:user/alice"));
        assert!(!arn_matches(user, "*"));
        let trail = "arn:${Partition}:cloudtrail:${Region}:${Account}:trail/${TrailName}";
        assert!(arn_matches(
            trail,
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"
        ));
        assert!(!arn_matches(
            trail,
            "arn:aws:cloudtrail::111122223333:trail/main"
        ));
    }
}
