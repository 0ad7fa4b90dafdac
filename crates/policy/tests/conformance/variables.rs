//! §4.5 policy variables: substitution, case-insensitive names, defaults, escapes, missing
//! keys, Version 2008-10-17, and where variables are allowed.
use crate::common::*;
use policy::{Effect, PolicyKind};

const CASES: &[CondCase] = &[
    cc(
        "§4.5 variable in StringEquals value",
        r#"{"StringEquals":{"s3:prefix":"home/${aws:username}"}}"#,
        &[("s3:prefix", &["home/alice"]), ("aws:username", &["alice"])],
        true,
    ),
    cc(
        "§4.5 variable names are case-insensitive",
        r#"{"StringEquals":{"s3:prefix":"home/${AWS:UserName}"}}"#,
        &[("s3:prefix", &["home/alice"]), ("aws:username", &["alice"])],
        true,
    ),
    cc(
        "§4.5 variable in StringLike value",
        r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#,
        &[
            ("s3:prefix", &["home/alice/x"]),
            ("aws:username", &["alice"]),
        ],
        true,
    ),
    cc(
        "§4.5 substituted text is literal (no wildcards)",
        r#"{"StringLike":{"s3:prefix":"home/${aws:username}"}}"#,
        &[("s3:prefix", &["home/x"]), ("aws:username", &["*"])],
        false,
    ),
    cc(
        "§4.5 missing key: positive condition false",
        r#"{"StringEquals":{"s3:prefix":"home/${aws:username}"}}"#,
        &[("s3:prefix", &["home/"])],
        false,
    ),
    cc(
        "§4.5 missing key: negated condition true",
        r#"{"StringNotEquals":{"s3:prefix":"${aws:PrincipalTag/team}"}}"#,
        &[("s3:prefix", &["x"])],
        true,
    ),
    cc(
        "§4.5 default value when key is missing",
        r#"{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/team, 'company-wide'}"}}"#,
        &[("s3:prefix", &["company-wide"])],
        true,
    ),
    cc(
        "§4.5 default ignored when key present",
        r#"{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/team, 'company-wide'}"}}"#,
        &[
            ("s3:prefix", &["blue"]),
            ("aws:PrincipalTag/team", &["blue"]),
        ],
        true,
    ),
    cc(
        "§4.5 escape ${*} is a literal *",
        r#"{"StringLike":{"s3:prefix":"a${*}"}}"#,
        &[("s3:prefix", &["a*"])],
        true,
    ),
    cc(
        "§4.5 escape ${*} does not match other text",
        r#"{"StringLike":{"s3:prefix":"a${*}"}}"#,
        &[("s3:prefix", &["ab"])],
        false,
    ),
    cc(
        "§4.5 escape ${?} and ${$}",
        r#"{"StringEquals":{"s3:prefix":"${?}${$}"}}"#,
        &[("s3:prefix", &["?$"])],
        true,
    ),
    cc(
        "§4.5 tag-key suffix of PrincipalTag variable is case-insensitive",
        r#"{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/TEAM}"}}"#,
        &[
            ("s3:prefix", &["blue"]),
            ("aws:PrincipalTag/team", &["blue"]),
        ],
        true,
    ),
    cc(
        "§4.5 multi-valued keys cannot be variables",
        r#"{"StringEquals":{"s3:prefix":"${aws:TagKeys}"}}"#,
        &[("s3:prefix", &["a"]), ("aws:TagKeys", &["a", "b"])],
        false,
    ),
    cc(
        "§4.5 variable in ArnLike value",
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::111122223333:user/${aws:username}"}}"#,
        &[
            ("aws:SourceArn", &["arn:aws:iam::111122223333:user/alice"]),
            ("aws:username", &["alice"]),
        ],
        true,
    ),
    cc(
        "§4.5 userid variable",
        r#"{"StringEquals":{"s3:prefix":"${aws:userid}"}}"#,
        &[
            ("s3:prefix", &["AIDAEXAMPLEALICE00001"]),
            ("aws:userid", &["AIDAEXAMPLEALICE00001"]),
        ],
        true,
    ),
];

#[test]
fn variables_in_conditions() {
    run_conditions(CASES);
}

#[test]
fn version_2008_treats_variables_as_text() {
    // §4.1: with 2008-10-17 or no Version, ${...} is literal text.
    let cond = r#"{"StringEquals":{"s3:prefix":"${aws:username}"}}"#;
    let no_version = with_condition("2008-10-17", cond).replace(r#""Version":"2008-10-17","#, "");
    for (version, doc) in [
        ("2008-10-17", with_condition("2008-10-17", cond)),
        ("none", no_version),
    ] {
        let p = policy::Policy::parse(&doc, PolicyKind::Identity).unwrap();
        let who = alice();
        let mut c = ctx(&[("s3:prefix", &["${aws:username}"])]);
        who.fill_context(&mut c);
        let set = policy::PolicySet::new().identity(&p, "p", policy::PolicySource::User);
        let d = policy::evaluate(&policy::Request::new(&who, "s3:GetObject", "*", &c), &set);
        assert!(
            d.is_allowed(),
            "§4.1 literal ${{...}} with Version {version}"
        );
    }
    let p = policy::Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let who = alice();
    let mut c = policy::Context::new();
    who.fill_context(&mut c);
    let set = policy::PolicySet::new().identity(&p, "p", policy::PolicySource::User);
    assert!(
        policy::evaluate(
            &policy::Request::new(&who, "s3:GetObject", "arn:aws:s3:::b/${aws:username}", &c),
            &set
        )
        .is_allowed()
    );
    assert!(
        !policy::evaluate(
            &policy::Request::new(&who, "s3:GetObject", "arn:aws:s3:::b/alice", &c),
            &set
        )
        .is_allowed()
    );
}

const HOME: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#;
const TEAM: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'shared'}/*"}}"#;
const NOT_HOME: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#;

#[test]
fn variables_in_resources() {
    run_scenarios(&[
        Scenario {
            rule: "§4.5 ${aws:username} in Resource",
            identity: &[HOME],
            resource: "arn:aws:s3:::bucket/home/alice/file",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.5 ${aws:username} in Resource, other user's folder",
            identity: &[HOME],
            resource: "arn:aws:s3:::bucket/home/bob/file",
            ..BASE
        },
        Scenario {
            rule: "§4.5 missing key: Resource with the variable matches nothing",
            who: Who::Session,
            identity: &[HOME],
            resource: "arn:aws:s3:::bucket/home//file",
            ..BASE
        },
        Scenario {
            rule: "§4.5 default value in Resource",
            identity: &[TEAM],
            resource: "arn:aws:s3:::bucket/shared/x",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.5 tag value in Resource",
            identity: &[TEAM],
            resource: "arn:aws:s3:::bucket/blue/x",
            keys: &[("aws:PrincipalTag/team", &["blue"])],
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.5 missing key: NotResource pattern matches nothing, so everything else is in",
            who: Who::Session,
            identity: &[NOT_HOME],
            resource: "arn:aws:s3:::bucket/home/x/file",
            effect: Effect::Allow,
            ..BASE
        },
        Scenario {
            rule: "§4.5 NotResource with resolved variable excludes own folder",
            identity: &[NOT_HOME],
            resource: "arn:aws:s3:::bucket/home/alice/file",
            ..BASE
        },
    ]);
}

#[test]
fn where_variables_are_allowed() {
    run_parse(&[
        pc(
            "§4.5 variables only in the resource part of an ARN",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::${aws:PrincipalAccount}:user/x"}}"#,
            Some("resource part"),
        ),
        pc(
            "§4.5 variables with 2008-10-17 are text (accepted anywhere)",
            PolicyKind::Identity,
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::${x}:user/x"}}"#,
            None,
        ),
        pc(
            "§4.13 variables with unsupported operators (Numeric)",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericEquals":{"aws:x":"${aws:y}"}}}}"#,
            Some("Syntax errors"),
        ),
        pc(
            "§8.7 variables not allowed with Bool",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:x":"${aws:y}"}}}}"#,
            Some("Syntax errors"),
        ),
        pc(
            "§4.5 unterminated variable",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username"}}"#,
            Some("unterminated"),
        ),
        pc(
            "§4.5 default must be single-quoted",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, x}"}}"#,
            Some("invalid policy variable"),
        ),
    ]);
}
