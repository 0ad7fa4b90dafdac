//! Resources of other services that stsd authorizes requests for (`/_stsd/authorize`): who owns a resource
//! and which resource-based policy it has. An ARN names its owner account in its fifth field; an S3 bucket
//! ARN (`arn:aws:s3:::NAME`) names none, so buckets are registered to an account
//! ([`crate::model::BucketRegistration`]) and found here by name.

use crate::model::{Account, ResourcePolicy, resource_policy_key};
use crate::state::State;

/// Longest resource ARN accepted (IAM's ARN parameter limit).
pub const MAX_ARN_LEN: usize = 2048;

/// The six fields of an ARN (`arn:partition:service:region:account:resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Split an ARN; `None` unless it has the six fields, a partition and a service.
pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    if arn.len() > MAX_ARN_LEN || arn.chars().any(char::is_control) {
        return None;
    }
    let mut it = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return None;
    };
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// S3's bucket naming rules: 3–63 characters of lower-case letters, digits, `.` and `-`, beginning and ending
/// with a letter or digit, no `..`, not shaped like an IPv4 address.
pub fn is_bucket_name(name: &str) -> bool {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ip_like = name.split('.').count() == 4
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (3..=63).contains(&name.len())
        && ok_chars
        && ends_ok(name.bytes().next())
        && ends_ok(name.bytes().last())
        && !name.contains("..")
        && !ip_like
}

/// The bucket an S3 bucket ARN names (`arn:aws:s3:::NAME`, no key part).
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let a = parse_arn(arn)?;
    (a.service == "s3" && a.region.is_empty() && a.account.is_empty())
        .then_some(a.resource)
        .filter(|b| is_bucket_name(b))
}

/// Who owns a resource, as far as stsd knows.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// An account hosted here.
    Known(&'a Account),
    /// The ARN names an account this server does not host (or none, and no registration says one): there is
    /// no resource-based policy, and the request is treated as cross-account.
    Unknown,
    /// A bucket registered to more than one account (two nodes registered it in the same instant): nobody's
    /// policy can be trusted, so requests on it are denied.
    Ambiguous,
}

/// The account a bucket is registered to.
pub fn bucket_owner<'a>(st: &'a State, bucket: &str) -> Owner<'a> {
    let mut found = st
        .accounts
        .values()
        .filter(|a| a.buckets.contains_key(bucket));
    match (found.next(), found.next()) {
        (Some(a), None) => Owner::Known(a),
        (Some(_), Some(_)) => Owner::Ambiguous,
        (None, _) => Owner::Unknown,
    }
}

/// The owner of the resource `arn`: the registered owner of an S3 bucket (or of the bucket an object ARN
/// is in), else the account in the ARN.
pub fn owner_of<'a>(st: &'a State, arn: &str) -> Owner<'a> {
    let Some(a) = parse_arn(arn) else {
        return Owner::Unknown;
    };
    if a.service == "s3" && a.account.is_empty() {
        let bucket = a.resource.split('/').next().unwrap_or("");
        return bucket_owner(st, bucket);
    }
    st.account(a.account).map_or(Owner::Unknown, Owner::Known)
}

/// The resource-based policy stored for exactly `arn` in `acct`.
pub fn policy_of<'a>(acct: &'a Account, arn: &str) -> Option<&'a ResourcePolicy> {
    acct.resource_policies
        .get(&resource_policy_key(arn))
        .filter(|p| p.arn == arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_six_fields() {
        let a = parse_arn("arn:aws:s3:::b/k:with:colons").unwrap_or_else(|| unreachable!());
        assert_eq!(
            (a.service, a.account, a.resource),
            ("s3", "", "b/k:with:colons")
        );
        assert!(parse_arn("arn:aws:s3::").is_none());
        assert!(parse_arn("arn::s3:::b").is_none());
        assert!(parse_arn("nope:aws:s3:::b").is_none());
        assert!(parse_arn(&format!("arn:aws:s3:::{}", "b".repeat(MAX_ARN_LEN))).is_none());
    }

    #[test]
    fn bucket_names_follow_s3() {
        for ok in ["abc", "my-bucket.logs", "a1b", &"a".repeat(63)] {
            assert!(is_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Abc",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "a_b",
            &"a".repeat(64),
            "",
        ] {
            assert!(!is_bucket_name(bad), "{bad}");
        }
        assert_eq!(bucket_of_arn("arn:aws:s3:::my-bucket"), Some("my-bucket"));
        assert_eq!(bucket_of_arn("arn:aws:s3:::my-bucket/key"), None);
        assert_eq!(bucket_of_arn("arn:aws:s3::111122223333:my-bucket"), None);
    }

    #[test]
    fn policy_keys_are_lower_case_and_one_to_one() {
        let a = resource_policy_key("arn:aws:kv::111122223333:table/Orders");
        let b = resource_policy_key("arn:aws:kv::111122223333:table/orders");
        assert_ne!(a, b);
        assert_eq!(a, a.to_lowercase());
        assert_eq!(resource_policy_key("aB%"), "a%42%25");
    }
}
