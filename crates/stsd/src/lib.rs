//! stsd: a self-hosted Security Token Service, wire-compatible with AWS STS and the IAM subset it needs.
//!
//! Layout: [`protocol`] (Query codec, XML), [`auth`] (SigV4 → caller), [`authz`] (the policy engine's only
//! caller), [`iam`] and [`sts`] (actions), [`store`] (durable storage) behind [`state`] (in-memory model),
//! [`server`] (HTTP). The data model, state, store, session tokens and TOTP are the `stsd-core` crate; OIDC
//! and SAML verification the `stsd-federation` crate.

pub mod action;
pub mod app;
pub mod audit;
pub mod auth;
pub mod authorizer;
pub mod authz;
pub mod cloudtrail;
pub mod console;
pub mod iam;
pub mod identity;
pub mod metrics;
pub mod mfa;
pub mod node;
pub mod pipeline;
pub mod protocol;
pub mod routes;
pub mod server;
pub mod sts;
pub mod usage;
pub mod validate;

#[cfg(test)]
pub(crate) mod test_support;

// The lower layers live in their own crates; re-exported under their old names so `crate::model::…` paths
// keep working.
pub use stsd_core::{clock, error, ids, model, resources, state, store, tokens, totp, trail};
pub use stsd_federation::{oidc, saml};
