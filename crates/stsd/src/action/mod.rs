//! What every action shares, below the IAM, STS and CloudTrail actions: the context an action runs in
//! ([`Ctx`] for a signed caller, [`UnsignedCtx`] for the unsigned federation calls), the dispatch wrappers
//! that run the generated decoder and encoder around a typed action (`typed!`, `typed_unsigned!`), what a
//! typed action leaves for its audit event ([`audit_slot`]), and the tag rules typed inputs share.

pub mod audit_slot;

use crate::authz;
pub use crate::authz::RequestFacts;
use crate::error::{ApiError, ApiResult};
use crate::identity::{Caller, RequestMeta};
use crate::model::{Account, Tag};
use crate::node::Node;
use crate::protocol::query::Params;
use crate::state::State;
use stsd_wire::generated::iam as w;

/// Everything an action needs besides its parameters.
pub struct Ctx<'a> {
    pub node: &'a Node,
    pub caller: &'a Caller,
    pub meta: &'a RequestMeta,
    pub now: i64,
    /// Where a typed action's input and output are left for its audit event (`typed!`).
    pub audit: &'a audit_slot::AuditSlot,
}

impl Ctx<'_> {
    /// Authorize `action` on `resource` in the caller's account (root: always; others: policy engine).
    pub fn authorize(&self, st: &State, action: &str, resource: &str) -> ApiResult<()> {
        self.authorize_request(st, action, resource, &RequestFacts::default())
    }

    /// [`Ctx::authorize`] for a request that carries condition-key facts (tags, a boundary, a policy ARN).
    pub fn authorize_request(
        &self,
        st: &State,
        action: &str,
        resource: &str,
        facts: &RequestFacts<'_>,
    ) -> ApiResult<()> {
        authz::authorize(
            self.node.gateway(),
            st,
            self.caller,
            self.request(),
            action,
            resource,
            facts,
        )
    }

    /// The transport facts and time of this request.
    pub fn request(&self) -> authz::RequestInfo<'_> {
        authz::RequestInfo {
            meta: self.meta,
            now: self.now,
        }
    }

    pub fn account<'s>(&self, st: &'s State) -> ApiResult<&'s Account> {
        st.account(&self.caller.account)
            .ok_or_else(ApiError::internal)
    }

    pub fn account_mut<'s>(&self, st: &'s mut State) -> ApiResult<&'s mut Account> {
        st.account_mut(&self.caller.account)
            .ok_or_else(ApiError::internal)
    }

    pub fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.caller.account)
    }
}

pub type Handler = fn(&Ctx<'_>, &Params) -> ApiResult<Option<String>>;

/// Adapt a typed action `fn(&Ctx, Input) -> ApiResult<Output>` to the dispatch table: the generated decoder
/// reads and validates the parameters (every violated constraint in one `ValidationError`), the generated
/// encoder writes the result. The action itself never sees raw parameters or XML. The audit event gets the
/// typed input (before the action consumes it, so a refused call is recorded with its parameters) and the
/// typed output, through the context's [`AuditSlot`](audit_slot::AuditSlot).
macro_rules! typed {
    ($f:path) => {
        |ctx: &$crate::action::Ctx<'_>,
         p: &$crate::protocol::query::Params|
         -> $crate::error::ApiResult<Option<String>> {
            let input = stsd_wire::Input::decode(p)?;
            ctx.audit.input(&input);
            let output = $f(ctx, input)?;
            ctx.audit.output(&output);
            Ok(stsd_wire::Output::encode(&output))
        }
    };
}
pub(crate) use typed;

/// [`typed!`] for the unsigned STS actions, whose context has no caller.
macro_rules! typed_unsigned {
    ($f:path) => {
        |ctx: &$crate::action::UnsignedCtx<'_>,
         p: &$crate::protocol::query::Params|
         -> $crate::error::ApiResult<Option<String>> {
            let input = stsd_wire::Input::decode(p)?;
            ctx.audit.input(&input);
            let output = $f(ctx, input)?;
            ctx.audit.output(&output);
            Ok(stsd_wire::Output::encode(&output))
        }
    };
}
pub(crate) use typed_unsigned;

/// Context of an unsigned call (AssumeRoleWithWebIdentity, AssumeRoleWithSAML): no caller credentials.
pub struct UnsignedCtx<'a> {
    pub node: &'a crate::node::Node,
    pub meta: &'a crate::identity::RequestMeta,
    pub now: i64,
    /// Where the typed input and output are left for the audit event (`typed_unsigned!`).
    pub audit: &'a audit_slot::AuditSlot,
}

impl UnsignedCtx<'_> {
    /// The transport facts and time of this request.
    pub fn request(&self) -> crate::authz::RequestInfo<'_> {
        crate::authz::RequestInfo {
            meta: self.meta,
            now: self.now,
        }
    }
}

pub type UnsignedHandler = fn(&UnsignedCtx<'_>, &Params) -> ApiResult<Option<String>>;

/// Tags of a typed input, with the rules the model cannot state: no `aws:` prefix, no duplicate keys
/// (compared ignoring case when `case_insensitive`, as IAM does for users and roles).
pub fn tags_in(tags: Option<Vec<w::Tag>>, case_insensitive: bool) -> ApiResult<Vec<Tag>> {
    let tags = tags.unwrap_or_default();
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        if t.key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        {
            return Err(ApiError::invalid_input(
                "User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS use",
            ));
        }
        if out.iter().any(|o| {
            if case_insensitive {
                o.key.eq_ignore_ascii_case(&t.key)
            } else {
                o.key == t.key
            }
        }) {
            return Err(ApiError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        out.push(Tag {
            key: t.key,
            value: t.value,
        });
    }
    Ok(out)
}
