//! stsd: a self-hosted Security Token Service, wire-compatible with AWS STS and the IAM subset it needs.
//!
//! Layout: [`protocol`] (Query codec, XML), [`auth`] (SigV4 → caller), [`authz`] (the policy engine's only
//! caller), [`iam`] and [`sts`] (actions), [`store`] (durable storage) behind [`state`] (in-memory model),
//! [`server`] (HTTP).

pub mod app;
pub mod audit;
pub mod auth;
pub mod authorizer;
pub mod authz;
pub mod console;
pub mod error;
pub mod iam;
pub mod ids;
pub mod metrics;
pub mod mfa;
pub mod model;
pub mod oidc;
pub mod protocol;
pub mod resources;
pub mod saml;
pub mod server;
pub mod state;
pub mod store;
pub mod sts;
pub mod tokens;
pub mod usage;
pub mod validate;

#[cfg(test)]
pub(crate) mod test_support;
