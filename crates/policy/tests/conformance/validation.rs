//! §4.1 grammar and §4.13 MalformedPolicyDocument triggers; §5 size limits.
use crate::common::*;
use policy::{Policy, PolicyKind, non_whitespace_len};

const I: PolicyKind = PolicyKind::Identity;

const CASES: &[ParseCase] = &[
    pc(
        "§4.1 minimal identity policy",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        None,
    ),
    pc(
        "§4.1 Version optional",
        I,
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
        None,
    ),
    pc(
        "§4.1 Version 2008-10-17",
        I,
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        None,
    ),
    pc(
        "§4.13 invalid JSON",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow""#,
        Some("Syntax errors in policy."),
    ),
    pc(
        "§4.13 duplicate keys",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("duplicate key `Effect`"),
    ),
    pc(
        "§4.13 duplicate top-level keys",
        I,
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("duplicate key"),
    ),
    pc(
        "§4.13 duplicate condition operators",
        I,
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:a":"true"},"Bool":{"aws:b":"true"}}}}"#,
        Some("duplicate key"),
    ),
    pc(
        "§4.13 unknown top-level element",
        I,
        r#"{"Version":"2012-10-17","Statment":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("unknown element Statment"),
    ),
    pc(
        "§4.13 unknown statement element",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Actions":"s3:GetObject","Resource":"*"}}"#,
        Some("unknown element Actions"),
    ),
    pc(
        "§4.1 element names are case-sensitive",
        I,
        r#"{"Version":"2012-10-17","Statement":{"effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("unknown element effect"),
    ),
    pc(
        "§4.13 wrong Version",
        I,
        r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("legacy parsing"),
    ),
    pc(
        "§4.13 Version must be a string",
        I,
        r#"{"Version":20121017,"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("legacy parsing"),
    ),
    pc(
        "§4.13 missing Effect",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Action":"s3:GetObject","Resource":"*"}}"#,
        Some("Missing required field Effect"),
    ),
    pc(
        "§4.1 Effect values are case-sensitive",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("Invalid effect"),
    ),
    pc(
        "§4.13 missing Action",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#,
        Some("must contain actions"),
    ),
    pc(
        "§4.13 missing Resource (identity)",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject"}}"#,
        Some("must contain resources"),
    ),
    pc(
        "§4.13 Principal in an identity policy",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("should not specify a principal"),
    ),
    pc(
        "§4.13 Principal in a boundary",
        PolicyKind::Boundary,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("should not specify a principal"),
    ),
    pc(
        "§4.13 Principal in a session policy",
        PolicyKind::Session,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("should not specify a principal"),
    ),
    pc(
        "§4.1 Principal required in resource policies",
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("Missing required field Principal"),
    ),
    pc(
        "§4.1 Id not allowed in identity policies",
        I,
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        Some("Id"),
    ),
    pc(
        "§4.13 action without :",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#,
        Some("must be prefaced by a vendor"),
    ),
    pc(
        "§4.13 wildcard in the service prefix",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s*:GetObject","Resource":"*"}}"#,
        Some("Vendor s* is not valid"),
    ),
    pc(
        "§4.13 wildcard service prefix *:x",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*:GetObject","Resource":"*"}}"#,
        Some("is not valid"),
    ),
    pc(
        "§4.3 wildcards in the action name are fine",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","s3:Get?bject","iam:*User*"],"Resource":"*"}}"#,
        None,
    ),
    pc(
        "§4.13 empty Statement array",
        I,
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        Some("empty"),
    ),
    pc(
        "§4.13 missing Statement",
        I,
        r#"{"Version":"2012-10-17"}"#,
        Some("Missing required field Statement"),
    ),
    pc(
        "§4.13 empty Action array",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
        Some("must contain actions"),
    ),
    pc(
        "§4.13 empty Resource array",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":[]}}"#,
        Some("must contain resources"),
    ),
    pc(
        "§4.13 empty condition value array",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":[]}}}}"#,
        Some("empty value list"),
    ),
    pc(
        "§4.13 wrong type: Action number",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":5,"Resource":"*"}}"#,
        Some("must be a string or an array"),
    ),
    pc(
        "§4.13 wrong type: Statement string",
        I,
        r#"{"Version":"2012-10-17","Statement":"x"}"#,
        Some("must be an object or an array"),
    ),
    pc(
        "§4.13 wrong type: Condition array",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":[]}}"#,
        Some("must be an object"),
    ),
    pc(
        "§4.13 wrong type: null condition value",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":null}}}}"#,
        Some("strings, numbers or booleans"),
    ),
    pc(
        "§4.13 unknown condition operator",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:x":"a"}}}}"#,
        Some("Invalid Condition type : StringEqualz"),
    ),
    pc(
        "§4.13 unknown set prefix",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:x":"a"}}}}"#,
        Some("Invalid Condition type"),
    ),
    pc(
        "§4.6 Null has no IfExists form",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"aws:x":"true"}}}}"#,
        Some("Invalid Condition type"),
    ),
    pc(
        "§4.13 condition key without vendor",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"SourceIp":"a"}}}}"#,
        Some("must be prefaced by a vendor"),
    ),
    pc(
        "§4.13 Null value not true/false",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Null":{"aws:x":"yes"}}}}"#,
        Some("invalid value `yes`"),
    ),
    pc(
        "§4.13 Bool value not true/false",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:x":"1"}}}}"#,
        Some("invalid value `1`"),
    ),
    pc(
        "§4.13 bad CIDR",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}"#,
        Some("invalid value `10.0.0.0/33`"),
    ),
    pc(
        "§4.13 bad date",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}"#,
        Some("invalid value `tomorrow`"),
    ),
    pc(
        "§4.6 numeric value must be a number",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"aws:x":"ten"}}}}"#,
        Some("invalid value `ten`"),
    ),
    pc(
        "§4.6 binary value must be base64",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"BinaryEquals":{"aws:x":"!!"}}}}"#,
        Some("base64"),
    ),
    pc(
        "§4.4 Resource must be an ARN or *",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}}"#,
        Some("must be in ARN format"),
    ),
    pc(
        "§4.4 wildcard in the resource service part",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s*:::bucket"}}"#,
        Some("Resource vendor must be fully qualified"),
    ),
    pc(
        "§4.4 short ARN with segment-final *",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*"}}"#,
        None,
    ),
    pc(
        "§4.1 Sid alphanumeric in IAM policies",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Sid":"my-sid","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        Some("alpha-numeric"),
    ),
    pc(
        "§4.1 Sid free-form in other resource policies",
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":{"Sid":"my sid","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
        None,
    ),
    pc(
        "§3.4 Sid unique within a policy",
        I,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
        Some("must be unique"),
    ),
    pc(
        "§4.1 scalar condition values: number and bool",
        I,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"Bool":{"aws:SecureTransport":true}}}}"#,
        None,
    ),
    pc(
        "§4.13 document must be an object",
        I,
        r#"[]"#,
        Some("Syntax errors"),
    ),
    pc(
        "§4.13 trailing garbage",
        I,
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}} x"#,
        Some("Syntax errors"),
    ),
];

#[test]
fn malformed_policy_documents() {
    run_parse(CASES);
}

#[test]
fn errors_point_at_the_problem() {
    let e = Policy::parse(
        "{\"Version\":\"2012-10-17\",\"Statement\":[\n {\"Sid\":\"Ok\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},\n {\"Sid\":\"Bad\",\"Effect\":\"Allow\",\"Action\":\"s3\",\"Resource\":\"*\"}]}",
        I,
    )
    .unwrap_err();
    let m = e.malformed().unwrap();
    assert_eq!(m.location.statement, Some(1));
    assert_eq!(m.location.sid.as_deref(), Some("Bad"));
    assert_eq!(m.location.element.as_deref(), Some("Action"));
    assert_eq!(m.location.position.map(|p| p.line), Some(3));
    let text = e.to_string();
    assert!(
        text.starts_with("Actions/Conditions must be prefaced by a vendor"),
        "{text}"
    );
    assert!(text.contains("Statement[1].Action"), "{text}");
}

#[test]
fn size_limits() {
    // §5: managed policy 6,144 non-whitespace characters; trust 2,048; whitespace not counted.
    let filler = |n: usize| {
        let body = r#"{"Version":"2012-10-17","Statement":{"Sid":"X","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/"}}"#.to_owned();
        let pad = n - non_whitespace_len(&body);
        body.replace(
            "arn:aws:s3:::b/",
            &format!("arn:aws:s3:::b/{}", "x".repeat(pad)),
        )
    };
    let at = filler(6_144);
    assert_eq!(non_whitespace_len(&at), 6_144);
    assert!(Policy::parse(&at, I).is_ok(), "§5 exactly at the limit");
    let over = filler(6_145);
    let e = Policy::parse(&over, I).unwrap_err();
    assert!(
        e.is_too_large(),
        "§5 one over the limit → LimitExceeded, not malformed"
    );
    assert_eq!(e.to_string(), "Cannot exceed quota for PolicySize: 6144");
    let spaced = at.replace(',', " ,   ");
    assert!(
        Policy::parse(&spaced, I).is_ok(),
        "§5 whitespace does not count"
    );
    assert!(Policy::parse_with_limit(&at, I, 10_240).is_ok());
    assert!(
        Policy::parse_with_limit(&at, I, 2_048)
            .unwrap_err()
            .is_too_large()
    );

    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/{}"}},"Action":"sts:AssumeRole"}}}}"#,
        "u".repeat(2_000)
    );
    let e = Policy::parse(&trust, PolicyKind::Trust).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Cannot exceed quota for ACLSizePerRole: 2048")
    );
    assert!(
        Policy::parse_with_limit(&trust, PolicyKind::Trust, 4_096).is_ok(),
        "§5 adjustable to 4,096"
    );

    // §5: 131,072 characters on the wire, whitespace included, for every kind.
    let huge = format!("{}{}", " ".repeat(131_072), ALLOW_ALL);
    assert!(
        Policy::parse(&huge, PolicyKind::Resource)
            .unwrap_err()
            .is_too_large()
    );
}
