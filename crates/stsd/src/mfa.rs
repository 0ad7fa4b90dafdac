//! MFA codes checked against the state: [`verify_code`], the check STS runs for `SerialNumber` + `TokenCode`,
//! with the replay guard and the guessing guard. The pure TOTP code (codes, windows, seeds, QR rendering,
//! the guards' constants) is [`stsd_core::totp`], re-exported here.

pub use stsd_core::totp::*;

use crate::error::{ApiError, ApiResult};
use crate::model::MfaOwner;
use crate::node::Node;
use crate::store::Kind;

/// Check `code` for the device `serial` assigned to the caller (`user_key` = lower-cased user name, None =
/// account root) of `account`. On success records the time step (replay guard) and returns Ok. Failures:
/// AccessDenied with message "MultiFactorAuthentication failed with invalid MFA one time pass code." (wrong
/// or replayed code, unknown or unassigned device, device of someone else).
///
/// Takes the state write lock: do not call it while holding `node.read()`.
pub fn verify_code(
    node: &Node,
    account: &str,
    user_key: Option<&str>,
    serial: &str,
    code: &str,
    now: i64,
) -> ApiResult<()> {
    // Counted per (caller, device): another user's wrong codes cannot lock someone out of their own device.
    let guard = format!("mfa:{account}/{}:{serial}", user_key.unwrap_or("<root>"));
    let store_error = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "MFA guessing guard unavailable");
        ApiError::internal()
    };
    if node
        .store()
        .locked_until(&guard, now)
        .map_err(store_error)?
        .is_some()
    {
        return Err(locked_out());
    }
    if !is_code(code) {
        return Err(denied());
    }
    let result = node.write(|st, t| {
        let acct = st.account_mut(account).ok_or_else(denied)?;
        let owner = match user_key {
            None => MfaOwner::Root,
            Some(k) => MfaOwner::User {
                id: acct.users.get(k).ok_or_else(denied)?.id.clone(),
            },
        };
        let key = acct.mfa_key_by_serial(serial).ok_or_else(denied)?;
        let dev = acct.mfa_devices.get_mut(&key).ok_or_else(denied)?;
        if !dev.is_assigned_to(&owner) {
            return Err(denied());
        }
        let step = match_code(dev, code, now).ok_or_else(denied)?;
        record(dev, step);
        t.touch(Kind::MfaDevice, account, &key);
        Ok(())
    });
    match &result {
        Ok(()) => node.store().clear_failures(&guard).map_err(store_error)?,
        Err(e) if e.code == crate::error::ErrorCode::AccessDenied => {
            let locked = node
                .store()
                .record_failure(&guard, now, GUESSING_POLICY)
                .map_err(store_error)?;
            if locked.is_some() {
                tracing::warn!(account, serial, "too many invalid MFA codes; device locked");
            }
        }
        Err(_) => {}
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MfaDevice, MfaSeed};

    fn device(seed: &[u8]) -> MfaDevice {
        MfaDevice {
            name: "d".into(),
            path: "/".into(),
            created: 0,
            seed: MfaSeed::new(seed.to_vec()),
            tags: Vec::new(),
            assigned: None,
            last_step: None,
            drift: 0,
        }
    }

    /// `verify_code` against a real node: ownership, replay guard, persistence of the guard across a reload.
    #[test]
    fn verify_code_end_to_end() {
        use crate::model::{Account, AccountMeta, MfaAssignment, User};
        use crate::node::{Clock, Config, Node};
        use crate::store::sqlite::SqliteStore;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stsd.db");
        let open = || {
            Node::new(
                Box::new(SqliteStore::open(&path).unwrap()),
                Config::default(),
                Clock::default(),
            )
            .unwrap()
        };
        let acct_id = "111122223333";
        let serial = format!("arn:aws:iam::{acct_id}:mfa/dev");
        let root_serial = format!("arn:aws:iam::{acct_id}:mfa/rootdev");
        let seed = new_seed();
        let now = 1_700_000_000;
        let n = step_of(now);
        let code = |s: i64| code_at(&seed, s).unwrap();
        {
            let node = open();
            node.write(|st, t| {
                let mut a = Account::new(AccountMeta {
                    id: acct_id.into(),
                    name: "a".into(),
                    created: 0,
                    root_keys: Vec::new(),
                    alias: None,
                    password_policy: None,
                });
                let alice = User {
                    name: "Alice".into(),
                    id: "AIDAALICE".into(),
                    path: "/".into(),
                    created: 0,
                    tags: Vec::new(),
                    inline: Default::default(),
                    attached: Vec::new(),
                    groups: Vec::new(),
                    boundary: None,
                    keys: Vec::new(),
                    login_profile: None,
                    password_last_used: None,
                };
                a.users.insert("alice".into(), alice.clone());
                a.users.insert(
                    "bob".into(),
                    User {
                        name: "bob".into(),
                        id: "AIDABOB".into(),
                        ..alice
                    },
                );
                let mut d = device(seed.bytes());
                d.name = "dev".into();
                d.assigned = Some(MfaAssignment {
                    owner: MfaOwner::User {
                        id: "AIDAALICE".into(),
                    },
                    enabled: 0,
                });
                let mut r = d.clone();
                r.name = "rootdev".into();
                r.assigned = Some(MfaAssignment {
                    owner: MfaOwner::Root,
                    enabled: 0,
                });
                a.mfa_devices.insert("dev".into(), d);
                a.mfa_devices.insert("rootdev".into(), r);
                st.accounts.insert(acct_id.into(), std::sync::Arc::new(a));
                t.touch(Kind::Account, acct_id, acct_id);
                t.touch(Kind::User, acct_id, "alice");
                t.touch(Kind::User, acct_id, "bob");
                t.touch(Kind::MfaDevice, acct_id, "dev");
                t.touch(Kind::MfaDevice, acct_id, "rootdev");
                Ok(())
            })
            .unwrap();
            let err = |r: ApiResult<()>| {
                let e = r.unwrap_err();
                assert_eq!(e.code, crate::error::ErrorCode::AccessDenied);
                assert_eq!(
                    e.message,
                    "MultiFactorAuthentication failed with invalid MFA one time pass code."
                );
            };
            // Someone else's device, unknown device, other account, malformed and wrong codes.
            err(verify_code(
                &node,
                acct_id,
                Some("bob"),
                &serial,
                &code(n),
                now,
            ));
            err(verify_code(&node, acct_id, None, &serial, &code(n), now));
            err(verify_code(
                &node,
                acct_id,
                Some("alice"),
                &format!("{serial}x"),
                &code(n),
                now,
            ));
            err(verify_code(
                &node,
                "999999999999",
                Some("alice"),
                &serial,
                &code(n),
                now,
            ));
            err(verify_code(
                &node,
                acct_id,
                Some("nobody"),
                &serial,
                &code(n),
                now,
            ));
            err(verify_code(
                &node,
                acct_id,
                Some("alice"),
                &serial,
                "12345",
                now,
            ));
            err(verify_code(
                &node,
                acct_id,
                Some("alice"),
                &serial,
                &code(n + 3),
                now,
            ));
            // Accepted once, then refused (also an older code of the window).
            verify_code(&node, acct_id, Some("alice"), &serial, &code(n), now).unwrap();
            err(verify_code(
                &node,
                acct_id,
                Some("alice"),
                &serial,
                &code(n),
                now,
            ));
            err(verify_code(
                &node,
                acct_id,
                Some("alice"),
                &serial,
                &code(n - 1),
                now,
            ));
            // The root's own device.
            verify_code(&node, acct_id, None, &root_serial, &code(n), now).unwrap();
            err(verify_code(
                &node,
                acct_id,
                Some("alice"),
                &root_serial,
                &code(n + 1),
                now,
            ));
        }
        // The guard survived a restart.
        let node = open();
        let r = verify_code(&node, acct_id, Some("alice"), &serial, &code(n), now);
        assert!(r.is_err());
        verify_code(&node, acct_id, Some("alice"), &serial, &code(n + 1), now).unwrap();
    }
}
