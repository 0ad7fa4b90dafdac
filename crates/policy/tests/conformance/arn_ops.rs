//! §4.6 Arn family and §4.4 per-part ARN matching in conditions.
use crate::common::*;

const PA: &str = "aws:PrincipalArn";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 ArnEquals exact",
        r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/R"}}"#,
        &[(PA, &["arn:aws:iam::111122223333:role/R"])],
        true,
    ),
    cc(
        "§4.6 ArnEquals and ArnLike behave identically (wildcards)",
        r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#,
        &[(PA, &["arn:aws:iam::111122223333:role/R"])],
        true,
    ),
    cc(
        "§4.6 ArnLike wildcard account",
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}"#,
        &[(PA, &["arn:aws:iam::444455556666:role/Admin"])],
        true,
    ),
    cc(
        "§4.6 ArnLike case-sensitive",
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"}}"#,
        &[(PA, &["arn:aws:iam::444455556666:role/Admin"])],
        false,
    ),
    cc(
        "§4.4 ArnLike matches per part (not StringLike)",
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:x:us-*-2:111122223333:finance/*"}}"#,
        &[(PA, &["arn:aws:x:us-east:2:111122223333:finance/d.txt"])],
        false,
    ),
    cc(
        "§4.4 ArnLike mid-segment * stays in its segment",
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::1*3:role/R"}}"#,
        &[(PA, &["arn:aws:iam::1:23:role/R"])],
        false,
    ),
    cc(
        "§4.6 ArnLike request value not an ARN",
        r#"{"ArnLike":{"aws:PrincipalArn":"*"}}"#,
        &[(PA, &["not-an-arn"])],
        false,
    ),
    cc(
        "§4.6 ArnNotEquals",
        r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/R"}}"#,
        &[(PA, &["arn:aws:iam::111122223333:role/Q"])],
        true,
    ),
    cc(
        "§4.6 ArnNotLike matching",
        r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#,
        &[(PA, &["arn:aws:iam::111122223333:role/Q"])],
        false,
    ),
    cc(
        "§4.6 rule 3: ArnNotLike missing key",
        r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 3: ArnNotEquals missing key",
        r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/R"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 rule 3: ArnLike missing key",
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:*"}}"#,
        &[],
        false,
    ),
];

#[test]
fn arn_operators() {
    run_conditions(CASES);
}
