//! stsd's wire layer: the AWS Query protocol (form-encoded parameters in, XML out) and the typed inputs and
//! outputs of every IAM and STS operation stsd serves, generated from botocore's service models by
//! `scripts/gen_wire.py` (`crates/wire/models/`). This crate knows nothing of stsd's state, policies or
//! server; it depends on no other workspace crate.

pub mod error;
pub mod json;
pub mod query;
pub mod time;
pub mod validate;
pub mod xml;

/// Generated from `crates/wire/models/` by `scripts/gen_wire.py`; never edited by hand.
pub mod generated {
    pub mod errors;
    pub mod iam;
    pub mod sts;
}

pub use error::{WireError, WireResult};
pub use generated::errors::ErrorCode;
pub use query::Params;

/// A row of a generated operation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The `Action` name.
    pub name: &'static str,
    /// The model's input shape.
    pub input: &'static str,
    /// The model's output shape; `None` when the response carries no `{Action}Result` element.
    pub output: Option<&'static str>,
    /// The error shapes the model lists for the operation.
    pub errors: &'static [&'static str],
    /// The action of AWS's Service Authorization Reference the operation is authorized as (`iam:CreateUser`):
    /// its resource types, condition keys and dependent actions. `None` for stsd's own operations.
    pub action: Option<&'static action_catalog::Action>,
    /// Whether the caller signs the request with SigV4. `false` for the model's `authtype: none` operations
    /// (AssumeRoleWithWebIdentity, AssumeRoleWithSAML), which carry their proof in the input.
    pub signed: bool,
}

/// An operation's typed input, decoded from Query parameters.
pub trait Input: Sized {
    /// The `Action` this input belongs to.
    const OPERATION: &'static str;

    /// Read the members at the top level, collecting violations.
    fn read_top(p: &Params, v: &mut validate::Violations) -> WireResult<Self>;

    /// Decode and validate: every violated constraint is reported in one `ValidationError`.
    fn decode(p: &Params) -> WireResult<Self> {
        let mut v = validate::Violations::new();
        let input = Self::read_top(p, &mut v)?;
        v.finish()?;
        Ok(input)
    }

    /// Append the audit trail's `requestParameters`: the members as a CloudTrail JSON object (sensitive ones
    /// left out), `null` when none was given.
    fn write_audit(&self, buf: &mut Vec<u8>);
}

/// An operation's typed output: the XML members of its `{Action}Result` element (`None`: no element).
pub trait Output {
    fn encode(&self) -> Option<String>;

    /// Append the audit trail's `responseElements`: the members as a CloudTrail JSON object (sensitive ones
    /// left out), `null` when there is none.
    fn write_audit(&self, buf: &mut Vec<u8>);

    /// Call `f` with every sensitive string of the output (issued secret keys, session tokens, …).
    fn visit_sensitive<'s>(&'s self, f: &mut dyn FnMut(&'s str));
}

/// Operations without a result element (`DeleteUser`, …).
impl Output for () {
    fn encode(&self) -> Option<String> {
        None
    }

    fn write_audit(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"null");
    }

    fn visit_sensitive<'s>(&'s self, _f: &mut dyn FnMut(&'s str)) {}
}

#[cfg(test)]
mod tests;
