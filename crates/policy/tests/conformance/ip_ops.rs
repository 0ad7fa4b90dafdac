//! §4.6 IpAddress / NotIpAddress (IPv4 and IPv6 CIDR).
use crate::common::*;

const IP: &str = "aws:SourceIp";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 IpAddress IPv4 CIDR",
        r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[(IP, &["203.0.113.7"])],
        true,
    ),
    cc(
        "§4.6 IpAddress outside CIDR",
        r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[(IP, &["203.0.114.7"])],
        false,
    ),
    cc(
        "§4.6 IpAddress bare address = /32",
        r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}"#,
        &[(IP, &["203.0.113.7"])],
        true,
    ),
    cc(
        "§4.6 IpAddress bare address = /32 (other)",
        r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}"#,
        &[(IP, &["203.0.113.8"])],
        false,
    ),
    cc(
        "§4.6 IpAddress IPv6 CIDR",
        r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
        &[(IP, &["2001:db8:1::5"])],
        true,
    ),
    cc(
        "§4.6 IpAddress IPv6 bare = /128",
        r#"{"IpAddress":{"aws:SourceIp":"2001:db8::1"}}"#,
        &[(IP, &["2001:db8::2"])],
        false,
    ),
    cc(
        "§4.6 IpAddress v4 CIDR vs v6 address",
        r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[(IP, &["2001:db8::1"])],
        false,
    ),
    cc(
        "§4.6 rule 2: CIDRs OR-ed",
        r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}"#,
        &[(IP, &["10.1.2.3"])],
        true,
    ),
    cc(
        "§4.6 NotIpAddress outside",
        r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[(IP, &["198.51.100.1"])],
        true,
    ),
    cc(
        "§4.6 NotIpAddress inside",
        r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[(IP, &["203.0.113.1"])],
        false,
    ),
    cc(
        "§4.6 rule 3: NotIpAddress missing key",
        r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 3: IpAddress missing key",
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &[],
        false,
    ),
    cc(
        "§4.6 rule 8: unreadable IP request value",
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &[(IP, &["not-an-ip"])],
        false,
    ),
];

#[test]
fn ip_operators() {
    run_conditions(CASES);
}
