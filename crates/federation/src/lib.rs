//! Federation for stsd: verifying what other identity providers issue. [`oidc`]: discovery, JWKS and JWT
//! verification for AssumeRoleWithWebIdentity; [`saml`]: metadata parsing and response verification for
//! AssumeRoleWithSAML. Neither knows the data model, the store or the server: the callers pass the providers'
//! configuration and the time.

pub mod oidc;
pub mod saml;
