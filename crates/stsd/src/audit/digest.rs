//! Signed digests: at the end of every period (an hour by default) a digest records the chain's head (the last
//! event number and its hash), the export files recorded since the previous digest with their SHA-256, and the
//! previous digest's hash and signature; it is signed with the installation's Ed25519 key. Like CloudTrail's
//! digest files, this makes the trail tamper-evident: rewriting stored events (even recomputing the whole
//! chain), removing them, or altering, removing or reordering files no longer matches a signature that only
//! the key's holder can make. `stsd audit public-key` prints the key to keep elsewhere; `stsd audit verify`
//! checks everything ([`super::verify`]).
//!
//! The key lives in a file on the node (`audit-signing.key` in the data directory, mode 0600), never in the
//! store: someone who can write the database cannot sign.

use std::io::Write as _;
use std::path::Path;

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{DigestRecord, Store, StoreError};

use super::export::hex;

pub const ALGORITHM: &str = "Ed25519";

/// The installation's digest signing key.
pub struct Signer {
    key: SigningKey,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading the audit signing key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the audit signing key {0} is not 64 hex digits")]
    Malformed(String),
}

impl Signer {
    /// The key in `path` (64 hex digits), created with mode 0600 if absent.
    pub fn load_or_create(path: &Path) -> Result<Signer, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seed = decode_hex(text.trim())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| KeyError::Malformed(path.display().to_string()))?;
                Ok(Signer {
                    key: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(path).map_err(io)?;
                f.write_all(format!("{}\n", hex(&seed)).as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
                let key = SigningKey::from_bytes(&seed);
                zeroize::Zeroize::zeroize(&mut seed);
                Ok(Signer { key })
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    fn sign(&self, body: &str) -> String {
        hex(&self.key.sign(body.as_bytes()).to_bytes())
    }
}

/// Hex text of a public key (what `stsd audit public-key` prints and `verify --public-key` takes).
pub fn public_key_hex(k: &VerifyingKey) -> String {
    hex(k.as_bytes())
}

/// The first 16 bytes of the key's SHA-256, hex (CloudTrail's `digestPublicKeyFingerprint` is 32 hex digits).
pub fn fingerprint(k: &VerifyingKey) -> String {
    hex(Sha256::digest(k.as_bytes()).get(..16).unwrap_or_default())
}

pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(decode_hex(text.trim())?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Check `d`'s signature with `key`.
pub fn signature_valid(d: &DigestRecord, key: &VerifyingKey) -> bool {
    let Some(sig) = decode_hex(&d.signature).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    key.verify(d.body.as_bytes(), &Signature::from_bytes(&sig))
        .is_ok()
}

/// Times in digests are written as in events (RFC 3339, whole seconds, `Z`).
pub(crate) use super::event::iso;

/// The end of the period containing `now` that has already passed (`now` rounded down to `interval`).
pub fn period_end(now: i64, interval: i64) -> i64 {
    now - now.rem_euclid(interval.max(1))
}

/// Where the digest ending at `end` goes in an export directory (CloudTrail's layout, trail name `stsd`).
pub fn file_name(account: &str, region: &str, end: i64) -> String {
    let d =
        time::OffsetDateTime::from_unix_timestamp(end).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "AWSLogs/{account}/CloudTrail-Digest/{region}/{:04}/{:02}/{:02}/{account}_CloudTrail-Digest_{region}_stsd_{region}_{:04}{:02}{:02}T{:02}{:02}{:02}Z.json.gz",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// Write the digest of the period ending at `end`, if none is stored for it yet. Covers the chain's head now
/// and every export recorded since the previous digest. Returns the digest if this node wrote it.
pub fn write(
    store: &dyn Store,
    signer: &Signer,
    account: &str,
    region: &str,
    end: i64,
    interval: i64,
    export_dir: Option<&Path>,
) -> Result<Option<DigestRecord>, StoreError> {
    let digests = store.audit_digests()?;
    let previous = digests.last();
    if previous.is_some_and(|p| p.end_time >= end) {
        return Ok(None);
    }
    let prev_body: Option<Value> = previous.and_then(|p| serde_json::from_str(&p.body).ok());
    let exports_before = prev_body
        .as_ref()
        .and_then(|b| b["stsdExportCount"].as_u64())
        .unwrap_or(0);
    let head = store.audit_head()?;
    let exports = store.audit_exports()?;
    let skip = usize::try_from(exports_before).unwrap_or(usize::MAX);
    let files: Vec<Value> = exports
        .iter()
        .skip(skip)
        .map(|f| {
            json!({
                "s3Object": f.name,
                "hashValue": f.sha256,
                "hashAlgorithm": "SHA-256",
                "oldestEventTime": iso(f.oldest),
                "newestEventTime": iso(f.newest),
                "stsdFirstSeq": f.first_seq,
                "stsdLastSeq": f.last_seq,
                "stsdEvents": f.events,
            })
        })
        .collect();
    let start = previous.map_or(end - interval, |p| p.end_time);
    let key = signer.public_key();
    let body = json!({
        "awsAccountId": account,
        "digestStartTime": iso(start),
        "digestEndTime": iso(end),
        "digestS3Object": file_name(account, region, end),
        "digestPublicKeyFingerprint": fingerprint(&key),
        "digestSignatureAlgorithm": ALGORITHM,
        "stsdPublicKey": public_key_hex(&key),
        "previousDigestHashValue": previous.map(|p| hex(&Sha256::digest(p.body.as_bytes()))),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": previous.map(|p| p.signature.clone()),
        "logFiles": files,
        "stsdExportCount": exports.len(),
        "stsdChain": {
            "firstSeq": head.first_seq,
            "baseHash": hex(&head.base_hash),
            "lastSeq": head.next_seq - 1,
            "lastHash": hex(&head.last_hash),
        },
    })
    .to_string();
    let record = DigestRecord {
        end_time: end,
        signature: signer.sign(&body),
        body,
    };
    if !store.audit_add_digest(&record, previous.map(|p| p.end_time))? {
        return Ok(None);
    }
    if let Some(dir) = export_dir
        && let Err(e) = write_file(dir, &file_name(account, region, end), &record)
    {
        tracing::warn!(error = %e, "writing the digest file failed (the digest is stored)");
    }
    Ok(Some(record))
}

/// The digest as a gzip file, its signature beside it (`.sig`, hex) as CloudTrail keeps it in object metadata.
fn write_file(dir: &Path, name: &str, d: &DigestRecord) -> std::io::Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path)?,
        flate2::Compression::default(),
    );
    gz.write_all(d.body.as_bytes())?;
    gz.finish()?.sync_all()?;
    std::fs::write(
        dir.join(format!("{name}.sig")),
        format!("{}\n", d.signature),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-signing.key");
        let a = Signer::load_or_create(&path).unwrap();
        let b = Signer::load_or_create(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let d = DigestRecord {
            end_time: 1,
            body: "{\"a\":1}".into(),
            signature: a.sign("{\"a\":1}"),
        };
        assert!(signature_valid(&d, &a.public_key()));
        let other = Signer::load_or_create(&dir.path().join("other.key")).unwrap();
        assert!(!signature_valid(&d, &other.public_key()));
        assert!(!signature_valid(
            &DigestRecord {
                body: "{\"a\":2}".into(),
                ..d.clone()
            },
            &a.public_key()
        ));
        assert_eq!(
            parse_public_key(&public_key_hex(&a.public_key())),
            Some(a.public_key())
        );
        std::fs::write(&path, "nothex").unwrap();
        assert!(matches!(
            Signer::load_or_create(&path),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn periods_and_names() {
        assert_eq!(period_end(7201, 3600), 7200);
        assert_eq!(period_end(7200, 3600), 7200);
        assert_eq!(
            file_name("111122223333", "us-east-1", 1_767_229_200),
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/111122223333_CloudTrail-Digest_us-east-1_stsd_us-east-1_20260101T010000Z.json.gz"
        );
    }
}
