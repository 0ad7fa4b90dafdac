//! Temporary credentials without server-side state: the session token is an AEAD-sealed blob of the
//! session's claims, bound to its access key ID, and the secret key is derived from the access key ID with
//! the same server key. Verifying a request signed with temporary credentials needs no database read.
//!
//! Token layout (base64): `version (1) | key id (4, BE) | nonce (24) | XChaCha20-Poly1305(claims JSON)`, with
//! associated data `"stsd-token-v1" | access key id`. XChaCha's 192-bit random nonces do not wear a key out.
//! Keys live in the store, carry an ID inside each token, and rotate: new tokens use the newest key; an
//! older key is kept until every token sealed with it has expired.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::store::{Store, StoreError};

const VERSION: u8 = 1;
const AAD_PREFIX: &[u8] = b"stsd-token-v1";
/// The longest any session can live (GetSessionToken/GetFederationToken: 36 hours).
pub const MAX_SESSION_SECS: i64 = 129_600;
/// Largest token we try to open; larger input is refused before any work.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;
const META_NAME: &str = "token_keys";

/// What kind of session a token describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum SessionKind {
    /// AssumeRole*: acts as the role.
    Role {
        role_name: String,
        role_path: String,
        role_id: String,
    },
    /// GetSessionToken by an IAM user: the user's own permissions (IAM calls only with MFA).
    User {
        user_key: String,
        user_name: String,
        user_id: String,
        user_path: String,
    },
    /// GetSessionToken by the account root.
    Root,
    /// GetFederationToken: the calling user's permissions ∩ the passed session policies.
    Federated {
        name: String,
        user_key: String,
        user_arn: String,
        /// The user's unique ID (`AIDA…`): a re-created namesake is not this user. Absent only in tokens
        /// sealed before stsd recorded it; those resolve the user by name until they expire (≤ 36 h).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
}

/// The claims sealed into a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Account the session acts in.
    pub account: String,
    pub kind: SessionKind,
    /// Role session name (AssumeRole*) — empty otherwise.
    #[serde(default)]
    pub session_name: String,
    /// Issue time (`aws:TokenIssueTime`), Unix seconds.
    pub issued: i64,
    pub expires: i64,
    /// Inline session policy text.
    #[serde(default)]
    pub policy: Option<String>,
    /// Managed session policy ARNs.
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// The unique IDs (`ANPA…`) of `policy_arns`, in the same order, as they were when the session was
    /// issued: a session policy deleted (and perhaps re-created under the same ARN) no longer resolves, and
    /// then the session is allowed nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_ids: Vec<String>,
    /// Session tags (key, value).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that survive role chaining.
    #[serde(default)]
    pub transitive: Vec<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// When MFA was authenticated (`aws:MultiFactorAuthAge` counts from here).
    #[serde(default)]
    pub mfa_at: Option<i64>,
    /// Whether this session was obtained with role-session credentials (role chaining).
    #[serde(default)]
    pub chained: bool,
    /// ARN of the principal that created the session (audit; `sessionIssuer` context).
    #[serde(default)]
    pub issuer_arn: String,
    /// `aws:FederatedProvider` for sessions from AssumeRoleWithWebIdentity/SAML (provider ARN or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_provider: Option<String>,
    /// IdP-derived condition keys that stay visible on later requests (`<oidc>:sub`, `<oidc>:aud`,
    /// `saml:sub`, `saml:namequalifier`, …), each with its values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federation_keys: Vec<(String, Vec<String>)>,
    /// A console sign-in session (password, and MFA when the user has a device): acts as the user, like a
    /// GetSessionToken session, but may call IAM without MFA — the console's password sign-in is the
    /// authentication AWS's console sessions carry (see stsd's `console` module).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub console: bool,
}

impl Claims {
    /// A session of `kind` in `account` issued by `issuer_arn`, valid from `issued` to `expires`, with nothing
    /// else: no session name or policies, no tags, not chained, no MFA, not federated, not a console session.
    /// Callers set what their kind of session carries with struct-update syntax.
    pub fn plain(
        account: &str,
        kind: SessionKind,
        issuer_arn: &str,
        issued: i64,
        expires: i64,
    ) -> Claims {
        Claims {
            account: account.to_string(),
            kind,
            session_name: String::new(),
            issued,
            expires,
            policy: None,
            policy_arns: Vec::new(),
            policy_ids: Vec::new(),
            tags: Vec::new(),
            transitive: Vec::new(),
            source_identity: None,
            mfa_at: None,
            chained: false,
            issuer_arn: issuer_arn.to_string(),
            federated_provider: None,
            federation_keys: Vec::new(),
            console: false,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct TokenKey {
    id: u32,
    /// 32 random bytes, base64.
    key: String,
    created: i64,
    /// When sealing with this key may begin. A rotated key is published first and used only after
    /// [`PUBLISH_DELAY_SECS`], so every node sharing the store knows it before any token sealed with it
    /// arrives (absent in keys written before rotation had a delay: usable at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active_from: Option<i64>,
}

/// How long a rotated key is known before it seals tokens: longer than a node takes to notice the change
/// (a push notification, or the 2-second safety poll of the change feed).
pub const PUBLISH_DELAY_SECS: i64 = 5;

struct LoadedKey {
    id: u32,
    created: i64,
    active_from: i64,
    aead: XChaCha20Poly1305,
    secret_key: [u8; 32],
}

/// The newest key allowed to seal at `now` (a freshly rotated key waits out its publication delay).
fn sealing_key(keys: &[LoadedKey], now: i64) -> Option<&LoadedKey> {
    keys.iter()
        .rev()
        .find(|k| k.active_from <= now)
        .or_else(|| keys.first())
}

/// Why a token was refused. Both map to AWS errors: `InvalidClientTokenId` and `ExpiredToken`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("The security token included in the request is invalid.")]
    Invalid,
    #[error("The security token included in the request is expired")]
    Expired,
}

/// The ring of token keys. Newest last.
pub struct KeyRing {
    keys: RwLock<Vec<LoadedKey>>,
    /// Session tokens opened recently, by access key ID: a client sends the same token with every request of
    /// its session, and decrypting and parsing it again was ~14 % of a GetCallerIdentity's CPU.
    opened: Mutex<HashMap<String, Opened>>,
}

/// How many opened tokens are remembered (then the cache starts over). Each entry holds the token's digest,
/// its claims and the derived secret: a few hundred bytes.
const OPENED_CACHED: usize = 10_000;

/// A token [`KeyRing::open`] accepted.
struct Opened {
    /// SHA-256 of the token text: a request is served from here only with exactly the same token.
    digest: [u8; 32],
    /// The key that sealed it: once that key leaves the ring, the entry is ignored.
    key_id: u32,
    claims: Claims,
    secret: String,
}

fn load_key(k: &TokenKey) -> Option<LoadedKey> {
    let raw = BASE64.decode(k.key.as_bytes()).ok()?;
    let bytes: [u8; 32] = raw.try_into().ok()?;
    let aead = XChaCha20Poly1305::new((&bytes).into());
    // A separate subkey for deriving secrets, so the AEAD key is only ever used for sealing.
    let secret_key = hmac(&bytes, b"stsd secret derivation v1");
    Some(LoadedKey {
        id: k.id,
        created: k.created,
        active_from: k.active_from.unwrap_or(k.created),
        aead,
        secret_key,
    })
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn new_key(id: u32, now: i64, active_from: i64) -> TokenKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    TokenKey {
        id,
        key: BASE64.encode(&bytes),
        created: now,
        active_from: Some(active_from),
    }
}

fn parse_keys(s: Option<&str>) -> Result<Vec<TokenKey>, StoreError> {
    match s {
        Some(s) => serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(Vec::new()),
    }
}

fn encode_keys(keys: &[TokenKey]) -> Result<String, StoreError> {
    serde_json::to_string(keys).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl KeyRing {
    /// Load the ring from the store, creating the first key on first start (atomically: nodes starting
    /// together on an empty store agree on one first key).
    pub fn load(store: &dyn Store, now: i64) -> Result<KeyRing, StoreError> {
        let stored = store.update_meta(META_NAME, &mut |cur| {
            if parse_keys(cur)?.is_empty() {
                encode_keys(&[new_key(1, now, now)]).map(Some)
            } else {
                Ok(None)
            }
        })?;
        let keys = parse_keys(stored.as_deref())?
            .iter()
            .map(load_key)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StoreError::Corrupt("bad token key".into()))?;
        Ok(KeyRing {
            keys: RwLock::new(keys),
            opened: Mutex::new(HashMap::new()),
        })
    }

    /// Publish a new key, which starts sealing [`PUBLISH_DELAY_SECS`] from now; drop keys retired longer ago
    /// than the longest session. Atomic across nodes. Returns the new key's ID and the IDs still kept.
    pub fn rotate(store: &dyn Store, now: i64) -> Result<(u32, Vec<u32>), StoreError> {
        let mut result = (0, Vec::new());
        store.update_meta(META_NAME, &mut |cur| {
            let mut stored = parse_keys(cur)?;
            let next = stored.iter().map(|k| k.id).max().unwrap_or(0) + 1;
            stored.push(new_key(next, now, now + PUBLISH_DELAY_SECS));
            // Key i was retired when key i+1 began sealing; it may go once no token it sealed can be alive.
            let retire_times: Vec<i64> = stored
                .iter()
                .skip(1)
                .map(|k| k.active_from.unwrap_or(k.created))
                .collect();
            let mut keep = Vec::new();
            for (i, k) in stored.iter().enumerate() {
                match retire_times.get(i) {
                    Some(retired) if now - retired > MAX_SESSION_SECS => {}
                    _ => keep.push(k.clone()),
                }
            }
            result = (next, keep.iter().map(|k| k.id).collect());
            encode_keys(&keep).map(Some)
        })?;
        Ok(result)
    }

    /// Re-read the keys (after a rotation, on this node or another).
    pub fn reload(&self, store: &dyn Store, now: i64) -> Result<(), StoreError> {
        let fresh = KeyRing::load(store, now)?;
        let keys = fresh
            .keys
            .into_inner()
            .map_err(|_| StoreError::Backend("key ring lock poisoned".into()))?;
        if let Ok(mut k) = self.keys.write() {
            *k = keys;
        }
        Ok(())
    }

    /// IDs of the keys held, newest last.
    pub fn key_ids(&self) -> Vec<u32> {
        self.keys
            .read()
            .map(|k| k.iter().map(|k| k.id).collect())
            .unwrap_or_default()
    }

    /// The secret access key of temporary credentials `access_key_id` sealed with key `key_id`.
    fn derive_secret(key: &LoadedKey, access_key_id: &str) -> String {
        let mac = hmac(&key.secret_key, access_key_id.as_bytes());
        // 30 bytes → exactly 40 base64 characters of [A-Za-z0-9+/].
        BASE64.encode(mac.get(..30).unwrap_or(&mac))
    }

    /// Seal `claims` for `access_key_id`; returns (secret access key, session token).
    pub fn seal(
        &self,
        access_key_id: &str,
        claims: &Claims,
    ) -> Result<(String, String), TokenError> {
        let keys = self.keys.read().map_err(|_| TokenError::Invalid)?;
        let key = sealing_key(&keys, claims.issued).ok_or(TokenError::Invalid)?;
        let plaintext = serde_json::to_vec(claims).map_err(|_| TokenError::Invalid)?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let aad = [AAD_PREFIX, access_key_id.as_bytes()].concat();
        let ct = key
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| TokenError::Invalid)?;
        let mut blob = Vec::with_capacity(1 + 4 + 24 + ct.len());
        blob.push(VERSION);
        blob.extend_from_slice(&key.id.to_be_bytes());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        Ok((
            Self::derive_secret(key, access_key_id),
            BASE64.encode(&blob),
        ))
    }

    /// Open a token presented with `access_key_id`; returns the claims and the session's secret key.
    /// Expiry is checked against `now`.
    pub fn open(
        &self,
        access_key_id: &str,
        token: &str,
        now: i64,
    ) -> Result<(Claims, String), TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let digest: [u8; 32] = <Sha256 as sha2::Digest>::digest(token.as_bytes()).into();
        let (claims, secret) = match self.cached(access_key_id, &digest) {
            Some(hit) => hit,
            None => {
                let (claims, secret, key_id) = self.decrypt(access_key_id, token)?;
                self.remember(access_key_id, digest, key_id, &claims, &secret);
                (claims, secret)
            }
        };
        if now >= claims.expires {
            return Err(TokenError::Expired);
        }
        Ok((claims, secret))
    }

    fn remember(
        &self,
        access_key_id: &str,
        digest: [u8; 32],
        key_id: u32,
        claims: &Claims,
        secret: &str,
    ) {
        if let Ok(mut opened) = self.opened.lock() {
            if opened.len() >= OPENED_CACHED && !opened.contains_key(access_key_id) {
                opened.clear();
            }
            opened.insert(
                access_key_id.to_string(),
                Opened {
                    digest,
                    key_id,
                    claims: claims.clone(),
                    secret: secret.to_string(),
                },
            );
        }
    }

    /// The claims and secret of `access_key_id`'s token if exactly this token (by digest, compared in constant
    /// time) was opened before and the key that sealed it is still in the ring.
    fn cached(&self, access_key_id: &str, digest: &[u8; 32]) -> Option<(Claims, String)> {
        use subtle::ConstantTimeEq;
        let opened = self.opened.lock().ok()?;
        let e = opened.get(access_key_id)?;
        if !bool::from(e.digest.ct_eq(digest)) {
            return None;
        }
        let keys = self.keys.read().ok()?;
        keys.iter()
            .any(|k| k.id == e.key_id)
            .then(|| (e.claims.clone(), e.secret.clone()))
    }

    /// Decrypt and parse a token: its claims, the derived secret and the ID of the key that sealed it.
    fn decrypt(
        &self,
        access_key_id: &str,
        token: &str,
    ) -> Result<(Claims, String, u32), TokenError> {
        let blob = BASE64
            .decode(token.as_bytes())
            .map_err(|_| TokenError::Invalid)?;
        if blob.len() < 1 + 4 + 24 + 16 || blob.first() != Some(&VERSION) {
            return Err(TokenError::Invalid);
        }
        let key_id = u32::from_be_bytes(
            blob.get(1..5)
                .and_then(|b| b.try_into().ok())
                .ok_or(TokenError::Invalid)?,
        );
        let nonce = blob.get(5..29).ok_or(TokenError::Invalid)?;
        let ct = blob.get(29..).ok_or(TokenError::Invalid)?;
        let keys = self.keys.read().map_err(|_| TokenError::Invalid)?;
        let key = keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(TokenError::Invalid)?;
        let aad = [AAD_PREFIX, access_key_id.as_bytes()].concat();
        let plaintext = key
            .aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&plaintext).map_err(|_| TokenError::Invalid)?;
        Ok((claims, Self::derive_secret(key, access_key_id), key_id))
    }

    /// Seal an opaque message (encoded authorization failure messages) with the key now sealing.
    pub fn seal_message(&self, purpose: &[u8], msg: &[u8]) -> Option<String> {
        let keys = self.keys.read().ok()?;
        let key = sealing_key(&keys, time::OffsetDateTime::now_utc().unix_timestamp())?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = key
            .aead
            .encrypt(XNonce::from_slice(&nonce), Payload { msg, aad: purpose })
            .ok()?;
        let mut blob = Vec::with_capacity(1 + 4 + 24 + ct.len());
        blob.push(VERSION);
        blob.extend_from_slice(&key.id.to_be_bytes());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        Some(data_encoding::BASE64URL_NOPAD.encode(&blob))
    }

    /// Open a message sealed by [`KeyRing::seal_message`] for the same purpose.
    pub fn open_message(&self, purpose: &[u8], text: &str) -> Option<Vec<u8>> {
        let blob = data_encoding::BASE64URL_NOPAD
            .decode(text.as_bytes())
            .ok()?;
        if blob.len() < 1 + 4 + 24 + 16 || blob.first() != Some(&VERSION) {
            return None;
        }
        let key_id = u32::from_be_bytes(blob.get(1..5)?.try_into().ok()?);
        let keys = self.keys.read().ok()?;
        let key = keys.iter().find(|k| k.id == key_id)?;
        key.aead
            .decrypt(
                XNonce::from_slice(blob.get(5..29)?),
                Payload {
                    msg: blob.get(29..)?,
                    aad: purpose,
                },
            )
            .ok()
    }

    /// Creation time of the newest key (for `stsd keys list`).
    pub fn newest_created(&self) -> Option<i64> {
        self.keys
            .read()
            .ok()
            .and_then(|k| k.last().map(|k| k.created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn claims(now: i64) -> Claims {
        Claims {
            account: "111122223333".into(),
            kind: SessionKind::Role {
                role_name: "r".into(),
                role_path: "/".into(),
                role_id: "AROAEXAMPLE".into(),
            },
            session_name: "s".into(),
            issued: now,
            expires: now + 900,
            policy: None,
            policy_arns: vec![],
            policy_ids: vec![],
            tags: vec![("Department".into(), "HR".into())],
            transitive: vec![],
            source_identity: None,
            mfa_at: None,
            chained: false,
            issuer_arn: "arn:aws:iam::111122223333:user/alice".into(),
            federated_provider: None,
            federation_keys: vec![],
            console: false,
        }
    }

    /// A key ring on a fresh store (the directory must outlive the store).
    fn ring_at(now: i64) -> (tempfile::TempDir, SqliteStore, KeyRing) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let ring = KeyRing::load(&store, now).unwrap();
        (dir, store, ring)
    }

    #[test]
    fn seal_open_tamper_expire_rotate() {
        let now = 1_700_000_000;
        let (_dir, store, ring) = ring_at(now);
        let (secret, token) = ring.seal("ASIAAAAA", &claims(now)).unwrap();
        assert_eq!(secret.len(), 40);
        let (c, s2) = ring.open("ASIAAAAA", &token, now + 10).unwrap();
        assert_eq!(c, claims(now));
        assert_eq!(s2, secret);
        // Bound to its key ID.
        assert_eq!(
            ring.open("ASIABBBB", &token, now).unwrap_err(),
            TokenError::Invalid
        );
        // Any bit flip is refused.
        let mut raw = BASE64.decode(token.as_bytes()).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            ring.open("ASIAAAAA", &BASE64.encode(&raw), now)
                .unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            ring.open("ASIAAAAA", token.get(..token.len() / 2).unwrap(), now)
                .unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            ring.open("ASIAAAAA", "garbage", now).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            ring.open("ASIAAAAA", &token, now + 900).unwrap_err(),
            TokenError::Expired
        );
        // Rotation: the new key is published first and seals only after the publication delay; then new
        // tokens use it, old ones stay valid, and a reloaded ring (restart) opens both.
        let (new_id, kept) = KeyRing::rotate(&store, now + 100).unwrap();
        assert_eq!(new_id, 2);
        assert_eq!(kept, vec![1, 2]);
        ring.reload(&store, now + 100).unwrap();
        let (_, early) = ring.seal("ASIABBBB", &claims(now + 101)).unwrap();
        assert_eq!(
            BASE64.decode(early.as_bytes()).unwrap()[1..5],
            1u32.to_be_bytes()
        );
        let (_, token2) = ring
            .seal("ASIACCCC", &claims(now + 100 + PUBLISH_DELAY_SECS))
            .unwrap();
        assert_eq!(
            BASE64.decode(token2.as_bytes()).unwrap()[1..5],
            2u32.to_be_bytes()
        );
        let restarted = KeyRing::load(&store, now + 200).unwrap();
        assert!(restarted.open("ASIAAAAA", &token, now + 200).is_ok());
        assert!(restarted.open("ASIACCCC", &token2, now + 200).is_ok());
        // Key 1 is dropped only after the longest session lifetime past its retirement.
        let retired = now + 100 + PUBLISH_DELAY_SECS;
        let (_, kept) = KeyRing::rotate(&store, retired + MAX_SESSION_SECS - 1).unwrap();
        assert_eq!(kept, vec![1, 2, 3]);
        let (_, kept) = KeyRing::rotate(&store, retired + MAX_SESSION_SECS + 1).unwrap();
        assert_eq!(kept, vec![2, 3, 4]);
        // `ring` remembers the first token (opened above); once its key has left the ring it is refused like
        // any token of an unknown key, even at a time it has not expired.
        assert!(ring.opened.lock().unwrap().contains_key("ASIAAAAA"));
        assert_eq!(
            ring.open("ASIAAAAA", &token, now + 10).unwrap(),
            (claims(now), secret.clone())
        );
        ring.reload(&store, retired + MAX_SESSION_SECS + 1).unwrap();
        assert_eq!(
            ring.open("ASIAAAAA", &token, now + 10).unwrap_err(),
            TokenError::Invalid
        );
    }

    /// A remembered token serves only the same token text: a different token under the same key ID (another
    /// session's, or a forged one) goes through decryption and is judged on its own.
    #[test]
    fn remembered_tokens_match_exactly() {
        let now = 1_700_000_000;
        let (_dir, _store, ring) = ring_at(now);
        let (_, first) = ring.seal("ASIAAAAA", &claims(now)).unwrap();
        let mut other_claims = claims(now);
        other_claims.session_name = "other".into();
        let (_, second) = ring.seal("ASIAAAAA", &other_claims).unwrap();
        assert_eq!(ring.open("ASIAAAAA", &first, now).unwrap().0, claims(now));
        assert_eq!(ring.open("ASIAAAAA", &second, now).unwrap().0, other_claims);
        assert_eq!(ring.open("ASIAAAAA", &first, now).unwrap().0, claims(now));
        let mut raw = BASE64.decode(first.as_bytes()).unwrap();
        raw[30] ^= 1;
        assert_eq!(
            ring.open("ASIAAAAA", &BASE64.encode(&raw), now)
                .unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            ring.open("ASIAAAAA", &first, now + 900).unwrap_err(),
            TokenError::Expired
        );
    }

    /// On a shared PostgreSQL store (`STSD_TEST_PG_URL`; see `store::postgres::tests::fresh_database`).
    #[test]
    fn nodes_starting_together_agree() {
        let Some(url) = crate::store::postgres::tests::fresh_database() else {
            return;
        };
        // Eight stores open the empty database at once: migrations run once, one first token key.
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let s = crate::store::postgres::PgStore::open(&url).unwrap();
                    KeyRing::load(&s, 1_700_000_000).unwrap();
                    s.get_meta("token_keys").unwrap().unwrap()
                })
            })
            .collect();
        let keys: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            keys.windows(2).all(|w| w[0] == w[1]),
            "one first key for all"
        );
    }
}
