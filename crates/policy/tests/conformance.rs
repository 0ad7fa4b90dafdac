//! Table-driven conformance suite: one module per area of reference §4, every case citing the
//! rule it checks. Run with `cargo test -p policy --test conformance`.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap, expect or index fails the test"
)]

#[path = "conformance/common.rs"]
mod common;

#[path = "conformance/arn_components.rs"]
mod arn_components;
#[path = "conformance/arn_ops.rs"]
mod arn_ops;
#[path = "conformance/bool_binary_ops.rs"]
mod bool_binary_ops;
#[path = "conformance/boundaries.rs"]
mod boundaries;
#[path = "conformance/cross_account.rs"]
mod cross_account;
#[path = "conformance/date_ops.rs"]
mod date_ops;
#[path = "conformance/ip_ops.rs"]
mod ip_ops;
#[path = "conformance/not_elements.rs"]
mod not_elements;
#[path = "conformance/null_ifexists.rs"]
mod null_ifexists;
#[path = "conformance/numeric_ops.rs"]
mod numeric_ops;
#[path = "conformance/organizations.rs"]
mod organizations;
#[path = "conformance/principals.rs"]
mod principals;
#[path = "conformance/session_policies.rs"]
mod session_policies;
#[path = "conformance/set_operators.rs"]
mod set_operators;
#[path = "conformance/string_ops.rs"]
mod string_ops;
#[path = "conformance/trust.rs"]
mod trust;
#[path = "conformance/validation.rs"]
mod validation;
#[path = "conformance/variables.rs"]
mod variables;
#[path = "conformance/wildcards.rs"]
mod wildcards;
