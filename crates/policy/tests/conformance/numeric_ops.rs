//! §4.6 Numeric family.
use crate::common::*;

const K: &str = "aws:MultiFactorAuthAge";
const CASES: &[CondCase] = &[
    cc(
        "§4.6 NumericEquals integer",
        r#"{"NumericEquals":{"aws:MultiFactorAuthAge":"10"}}"#,
        &[(K, &["10"])],
        true,
    ),
    cc(
        "§4.6 NumericEquals compares numerically",
        r#"{"NumericEquals":{"aws:MultiFactorAuthAge":"10"}}"#,
        &[(K, &["10.0"])],
        true,
    ),
    cc(
        "§4.6 NumericEquals JSON number",
        r#"{"NumericEquals":{"aws:MultiFactorAuthAge":10}}"#,
        &[(K, &["10"])],
        true,
    ),
    cc(
        "§4.6 NumericNotEquals",
        r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":"10"}}"#,
        &[(K, &["11"])],
        true,
    ),
    cc(
        "§4.6 rule 3: NumericNotEquals missing key",
        r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":"10"}}"#,
        &[],
        true,
    ),
    cc(
        "§4.6 NumericLessThan",
        r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
        &[(K, &["3599"])],
        true,
    ),
    cc(
        "§4.6 NumericLessThan boundary",
        r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
        &[(K, &["3600"])],
        false,
    ),
    cc(
        "§4.6 NumericLessThanEquals boundary",
        r#"{"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"3600"}}"#,
        &[(K, &["3600"])],
        true,
    ),
    cc(
        "§4.6 NumericGreaterThan",
        r#"{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"1.5"}}"#,
        &[(K, &["2"])],
        true,
    ),
    cc(
        "§4.6 NumericGreaterThanEquals",
        r#"{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"-1"}}"#,
        &[(K, &["-1"])],
        true,
    ),
    cc(
        "§4.6 rule 3: NumericLessThan missing key is false",
        r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
        &[],
        false,
    ),
    cc(
        "§4.6 rule 8: unreadable request value makes the entry false",
        r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
        &[(K, &["abc"])],
        false,
    ),
    cc(
        "§4.6 rule 2: numeric values OR-ed",
        r#"{"NumericEquals":{"aws:MultiFactorAuthAge":["1","2"]}}"#,
        &[(K, &["2"])],
        true,
    ),
];

#[test]
fn numeric_operators() {
    run_conditions(CASES);
}
