//! stsd's core: the layers below the API. Leaves: [`error`] (AWS error codes), [`ids`], [`clock`], the audit
//! trail's storage format ([`trail`]) and pure TOTP ([`totp`], over the model's device); then the IAM data
//! model ([`model`]), the store ([`store`]: trait, SQLite, PostgreSQL), the in-memory state over both
//! ([`state`]), session tokens ([`tokens`], over the store) and resource ownership ([`resources`], over the
//! state).
//!
//! **Invariant:** this crate knows nothing of HTTP, the `App` object or the audit writer; it never depends on
//! the `stsd` crate, and its modules form no cycle (`scripts/check-layers.py`).

pub mod clock;
pub mod error;
pub mod ids;
pub mod model;
pub mod resources;
pub mod state;
pub mod store;
pub mod tokens;
pub mod totp;
pub mod trail;
pub mod trail_query;
