//! The in-memory state (all accounts and their IAM entities) and the bridge to the durable [`Store`].
//!
//! A [`State`] is an immutable snapshot once published: readers hold an `Arc` of it and never wait. A write
//! works on a copy (cheap: accounts are shared `Arc`s and only the accounts a write touches are cloned),
//! records which entities it touched, and hands exactly those rows to the store with the revision it saw. The
//! copy is published only after the store committed it; a failed write simply drops its copy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::{Account, AccountMeta, Group, KeyOwner, ManagedPolicy, MfaDevice, Role, User};
use crate::store::{Change, Feed, Kind, Record, Snapshot, Store, StoreError};

/// (kind, account, lower-cased key) of one stored entity.
pub type EntityId = (Kind, String, String);

#[derive(Default, Clone)]
pub struct State {
    pub accounts: BTreeMap<String, Arc<Account>>,
    /// Access key ID → owner, for every long-term key (rebuilt by [`State::reindex`]).
    pub keys: Arc<HashMap<String, KeyOwner>>,
    /// The store revision of every entity, for optimistic concurrency between nodes.
    revisions: Arc<HashMap<EntityId, i64>>,
    /// The store generation this snapshot reflects.
    pub generation: i64,
}

/// Entities a write touched.
#[derive(Default)]
pub struct Touched {
    set: std::collections::BTreeSet<EntityId>,
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
        State::from_snapshot(store.load_all()?)
    }

    pub fn from_snapshot(snapshot: Snapshot) -> Result<State, StoreError> {
        let mut st = State {
            generation: snapshot.generation,
            ..State::default()
        };
        st.apply_records(snapshot.records, &[])?;
        Ok(st)
    }

    /// The account `id`, for reading.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id).map(|a| &**a)
    }

    /// The account `id`, for writing (cloned first if a published snapshot shares it).
    pub fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        self.accounts.get_mut(id).map(Arc::make_mut)
    }

    /// Apply what another writer committed (the change feed) to this copy.
    pub fn apply_feed(&mut self, feed: Feed) -> Result<(), StoreError> {
        self.apply_records(feed.puts, &feed.deletes)?;
        self.generation = self.generation.max(feed.generation);
        Ok(())
    }

    /// Insert or replace the entities of `records` and remove `deletes` (accounts first, so entities find
    /// their account), then rebuild the key index.
    fn apply_records(
        &mut self,
        mut records: Vec<Record>,
        deletes: &[EntityId],
    ) -> Result<(), StoreError> {
        records.sort_by_key(|r| r.kind);
        let revisions = Arc::make_mut(&mut self.revisions);
        for r in records {
            revisions.insert((r.kind, r.account.clone(), r.key.clone()), r.revision);
            if r.kind == Kind::Account {
                let meta: AccountMeta = serde_json::from_str(&r.body).map_err(corrupt)?;
                match self.accounts.get_mut(&r.account) {
                    Some(a) => Arc::make_mut(a).meta = meta,
                    None => {
                        self.accounts
                            .insert(meta.id.clone(), Arc::new(Account::new(meta)));
                    }
                }
                continue;
            }
            let Some(acct) = self.accounts.get_mut(&r.account).map(Arc::make_mut) else {
                return Err(StoreError::Corrupt(format!(
                    "{} {} has no account {}",
                    r.kind.as_str(),
                    r.key,
                    r.account
                )));
            };
            put_entity(acct, r.kind, r.key, &r.body)?;
        }
        for (kind, account, key) in deletes {
            revisions.remove(&(*kind, account.clone(), key.clone()));
            if *kind == Kind::Account {
                self.accounts.remove(account);
                continue;
            }
            if let Some(acct) = self.accounts.get_mut(account).map(Arc::make_mut) {
                remove_entity(acct, *kind, key);
            }
        }
        self.reindex();
        Ok(())
    }

    /// Rebuild the key index from the accounts.
    pub fn reindex(&mut self) {
        let mut keys = HashMap::new();
        for (id, a) in &self.accounts {
            for k in &a.meta.root_keys {
                keys.insert(
                    k.id.clone(),
                    KeyOwner {
                        account: id.clone(),
                        user: None,
                    },
                );
            }
            for (lname, u) in &a.users {
                for k in &u.keys {
                    keys.insert(
                        k.id.clone(),
                        KeyOwner {
                            account: id.clone(),
                            user: Some(lname.clone()),
                        },
                    );
                }
            }
        }
        self.keys = Arc::new(keys);
    }

    /// The store changes that persist the current value of each touched entity (or delete it), each naming
    /// the revision this state last saw of it.
    pub fn changes(&self, touched: &Touched) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::with_capacity(touched.set.len());
        for id in &touched.set {
            let (kind, account, key) = id;
            let acct = self.account(account);
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
                Kind::ResourcePolicy => acct
                    .and_then(|a| a.resource_policies.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
                Kind::Bucket => acct
                    .and_then(|a| a.buckets.get(key))
                    .map(serde_json::to_string)
                    .transpose(),
            }
            .map_err(corrupt)?;
            let expected = self.revisions.get(id).copied();
            out.push(match body {
                Some(body) => Change::Put {
                    record: Record {
                        kind: *kind,
                        account: account.clone(),
                        key: key.clone(),
                        body,
                        revision: 0,
                    },
                    expected,
                },
                None => Change::Delete {
                    kind: *kind,
                    account: account.clone(),
                    key: key.clone(),
                    expected,
                },
            });
        }
        Ok(out)
    }

    /// After the store committed `touched` at `generation`: remember the new revisions. Returns false when
    /// other writers committed generations this snapshot has not seen yet (the caller must catch up; the
    /// snapshot keeps claiming its old generation so the change feed still covers the gap).
    pub fn committed(&mut self, touched: &Touched, generation: i64) -> bool {
        let exists: Vec<bool> = touched
            .set
            .iter()
            .map(|(kind, account, key)| match kind {
                Kind::Account => self.accounts.contains_key(account),
                _ => self
                    .account(account)
                    .is_some_and(|a| entity_exists(a, *kind, key)),
            })
            .collect();
        let revisions = Arc::make_mut(&mut self.revisions);
        for (id, exists) in touched.set.iter().zip(exists) {
            if exists {
                revisions.insert(id.clone(), generation);
            } else {
                revisions.remove(id);
            }
        }
        let contiguous = generation == self.generation + 1;
        if contiguous {
            self.generation = generation;
        }
        self.reindex();
        contiguous
    }
}

fn entity_exists(a: &Account, kind: Kind, key: &str) -> bool {
    match kind {
        Kind::Account => true,
        Kind::User => a.users.contains_key(key),
        Kind::Group => a.groups.contains_key(key),
        Kind::Role => a.roles.contains_key(key),
        Kind::Policy => a.policies.contains_key(key),
        Kind::MfaDevice => a.mfa_devices.contains_key(key),
        Kind::OidcProvider => a.oidc_providers.contains_key(key),
        Kind::SamlProvider => a.saml_providers.contains_key(key),
        Kind::InstanceProfile => a.instance_profiles.contains_key(key),
        Kind::Usage => a.usage.contains_key(key),
        Kind::CredentialReport => a.credential_report.is_some(),
        Kind::ResourcePolicy => a.resource_policies.contains_key(key),
        Kind::Bucket => a.buckets.contains_key(key),
    }
}

/// Decode a stored entity into its account (compiling its policies).
fn put_entity(acct: &mut Account, kind: Kind, key: String, body: &str) -> Result<(), StoreError> {
    match kind {
        Kind::User => {
            let mut u: User = serde_json::from_str(body).map_err(corrupt)?;
            u.inline.values_mut().for_each(|d| d.recompile());
            acct.users.insert(key, u);
        }
        Kind::Group => {
            let mut g: Group = serde_json::from_str(body).map_err(corrupt)?;
            g.inline.values_mut().for_each(|d| d.recompile());
            acct.groups.insert(key, g);
        }
        Kind::Role => {
            let mut ro: Role = serde_json::from_str(body).map_err(corrupt)?;
            ro.trust.recompile();
            ro.inline.values_mut().for_each(|d| d.recompile());
            acct.roles.insert(key, ro);
        }
        Kind::Policy => {
            let mut p: ManagedPolicy = serde_json::from_str(body).map_err(corrupt)?;
            p.versions.iter_mut().for_each(|v| v.doc.recompile());
            acct.policies.insert(key, p);
        }
        Kind::MfaDevice => {
            let d: MfaDevice = serde_json::from_str(body).map_err(corrupt)?;
            acct.mfa_devices.insert(key, d);
        }
        Kind::OidcProvider => {
            let o: crate::model::OidcProvider = serde_json::from_str(body).map_err(corrupt)?;
            acct.oidc_providers.insert(key, o);
        }
        Kind::SamlProvider => {
            let o: crate::model::SamlProvider = serde_json::from_str(body).map_err(corrupt)?;
            acct.saml_providers.insert(key, o);
        }
        Kind::InstanceProfile => {
            let ip = serde_json::from_str(body).map_err(corrupt)?;
            acct.instance_profiles.insert(key, ip);
        }
        Kind::Usage => {
            let u = serde_json::from_str(body).map_err(corrupt)?;
            acct.usage.insert(key, u);
        }
        Kind::CredentialReport => {
            let cr = serde_json::from_str(body).map_err(corrupt)?;
            acct.credential_report = Some(cr);
        }
        Kind::ResourcePolicy => {
            let mut rp: crate::model::ResourcePolicy =
                serde_json::from_str(body).map_err(corrupt)?;
            rp.doc.recompile();
            acct.resource_policies.insert(key, rp);
        }
        Kind::Bucket => {
            let b = serde_json::from_str(body).map_err(corrupt)?;
            acct.buckets.insert(key, b);
        }
        Kind::Account => {}
    }
    Ok(())
}

fn remove_entity(acct: &mut Account, kind: Kind, key: &str) {
    match kind {
        Kind::User => {
            acct.users.remove(key);
        }
        Kind::Group => {
            acct.groups.remove(key);
        }
        Kind::Role => {
            acct.roles.remove(key);
        }
        Kind::Policy => {
            acct.policies.remove(key);
        }
        Kind::MfaDevice => {
            acct.mfa_devices.remove(key);
        }
        Kind::OidcProvider => {
            acct.oidc_providers.remove(key);
        }
        Kind::SamlProvider => {
            acct.saml_providers.remove(key);
        }
        Kind::InstanceProfile => {
            acct.instance_profiles.remove(key);
        }
        Kind::Usage => {
            acct.usage.remove(key);
        }
        Kind::CredentialReport => {
            acct.credential_report = None;
        }
        Kind::ResourcePolicy => {
            acct.resource_policies.remove(key);
        }
        Kind::Bucket => {
            acct.buckets.remove(key);
        }
        Kind::Account => {}
    }
}
