//! The in-memory state (all accounts and their IAM entities) and the bridge to the durable [`Store`].
//!
//! Reads (authentication, authorization, Get/List) take a shared lock; a write takes the exclusive lock,
//! mutates, records which entities it touched, and commits exactly those rows before the lock is released,
//! so what a client saw acknowledged is on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Account, AccountMeta, Group, KeyOwner, ManagedPolicy, MfaDevice, Role, User};
use crate::store::{Change, Kind, Record, Store, StoreError};

#[derive(Default)]
pub struct State {
    pub accounts: BTreeMap<String, Account>,
    /// Access key ID → owner, for every long-term key.
    pub keys: HashMap<String, KeyOwner>,
}

/// Entities a write touched: (kind, account, lower-cased key).
#[derive(Default)]
pub struct Touched {
    set: BTreeSet<(Kind, String, String)>,
}

impl Touched {
    pub fn touch(&mut self, kind: Kind, account: &str, key: &str) {
        self.set
            .insert((kind, account.to_string(), key.to_lowercase()));
    }
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl State {
    /// Rebuild the whole state from the store, compiling every stored policy.
    pub fn load(store: &dyn Store) -> Result<State, StoreError> {
        let mut records = store.load_all()?;
        // Accounts first so entities find their account.
        records.sort_by_key(|r| r.kind);
        let mut st = State::default();
        for r in records {
            match r.kind {
                Kind::Account => {
                    let meta: AccountMeta = serde_json::from_str(&r.body).map_err(corrupt)?;
                    st.accounts.insert(meta.id.clone(), Account::new(meta));
                }
                kind => {
                    let Some(acct) = st.accounts.get_mut(&r.account) else {
                        return Err(StoreError::Corrupt(format!(
                            "{} {} has no account {}",
                            kind.as_str(),
                            r.key,
                            r.account
                        )));
                    };
                    match kind {
                        Kind::User => {
                            let mut u: User = serde_json::from_str(&r.body).map_err(corrupt)?;
                            u.inline.values_mut().for_each(|d| d.recompile());
                            acct.users.insert(r.key, u);
                        }
                        Kind::Group => {
                            let mut g: Group = serde_json::from_str(&r.body).map_err(corrupt)?;
                            g.inline.values_mut().for_each(|d| d.recompile());
                            acct.groups.insert(r.key, g);
                        }
                        Kind::Role => {
                            let mut ro: Role = serde_json::from_str(&r.body).map_err(corrupt)?;
                            ro.trust.recompile();
                            ro.inline.values_mut().for_each(|d| d.recompile());
                            acct.roles.insert(r.key, ro);
                        }
                        Kind::Policy => {
                            let mut p: ManagedPolicy =
                                serde_json::from_str(&r.body).map_err(corrupt)?;
                            p.versions.iter_mut().for_each(|v| v.doc.recompile());
                            acct.policies.insert(r.key, p);
                        }
                        Kind::MfaDevice => {
                            let d: MfaDevice = serde_json::from_str(&r.body).map_err(corrupt)?;
                            acct.mfa_devices.insert(r.key, d);
                        }
                        Kind::OidcProvider => {
                            let o: crate::model::OidcProvider =
                                serde_json::from_str(&r.body).map_err(corrupt)?;
                            acct.oidc_providers.insert(r.key, o);
                        }
                        Kind::SamlProvider => {
                            let o: crate::model::SamlProvider =
                                serde_json::from_str(&r.body).map_err(corrupt)?;
                            acct.saml_providers.insert(r.key, o);
                        }
                        Kind::InstanceProfile => {
                            let ip = serde_json::from_str(&r.body).map_err(corrupt)?;
                            acct.instance_profiles.insert(r.key, ip);
                        }
                        Kind::Usage => {
                            let u = serde_json::from_str(&r.body).map_err(corrupt)?;
                            acct.usage.insert(r.key, u);
                        }
                        Kind::CredentialReport => {
                            let cr = serde_json::from_str(&r.body).map_err(corrupt)?;
                            acct.credential_report = Some(cr);
                        }
                        Kind::Account => {}
                    }
                }
            }
        }
        st.reindex();
        Ok(st)
    }

    /// Rebuild the key index from the accounts.
    pub fn reindex(&mut self) {
        self.keys.clear();
        for (id, a) in &self.accounts {
            for k in &a.meta.root_keys {
                self.keys.insert(
                    k.id.clone(),
                    KeyOwner {
                        account: id.clone(),
                        user: None,
                    },
                );
            }
            for (lname, u) in &a.users {
                for k in &u.keys {
                    self.keys.insert(
                        k.id.clone(),
                        KeyOwner {
                            account: id.clone(),
                            user: Some(lname.clone()),
                        },
                    );
                }
            }
        }
    }

    /// The store changes that persist the current value of each touched entity (or delete it).
    pub fn changes(&self, touched: &Touched) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::with_capacity(touched.set.len());
        for (kind, account, key) in &touched.set {
            let acct = self.accounts.get(account);
            let body = match kind {
                Kind::Account => acct.map(|a| serde_json::to_string(&a.meta)).transpose(),
                Kind::User => acct
                    .and_then(|a| a.users.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::Group => acct
                    .and_then(|a| a.groups.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::Role => acct
                    .and_then(|a| a.roles.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::Policy => acct
                    .and_then(|a| a.policies.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::MfaDevice => acct
                    .and_then(|a| a.mfa_devices.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::OidcProvider => acct
                    .and_then(|a| a.oidc_providers.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::SamlProvider => acct
                    .and_then(|a| a.saml_providers.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::InstanceProfile => acct
                    .and_then(|a| a.instance_profiles.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::Usage => acct
                    .and_then(|a| a.usage.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::CredentialReport => acct
                    .and_then(|a| a.credential_report.as_ref())
                    .map(serde_json::to_string)
                    .transpose(),
            }
            .map_err(corrupt)?;
            out.push(match body {
                Some(body) => Change::Put(Record {
                    kind: *kind,
                    account: account.clone(),
                    key: key.clone(),
                    body,
                }),
                None => Change::Delete {
                    kind: *kind,
                    account: account.clone(),
                    key: key.clone(),
                },
            });
        }
        Ok(out)
    }
}
