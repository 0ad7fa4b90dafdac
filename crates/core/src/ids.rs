//! Identifiers: access key IDs that carry their account (so `GetAccessKeyInfo` needs no lookup), IAM unique IDs,
//! secrets and request IDs.
//!
//! Key layout (as AWS's since ~2019): 4-letter prefix + base32 of 10 bytes; the first 6 bytes big-endian are
//! `z`, with `account = (z & 0x7fff_ffff_ff80) >> 7`; the remaining bits are random.

use data_encoding::BASE32_NOPAD;
use rand::Rng;
use rand::seq::IndexedRandom;

pub const LONG_TERM_PREFIX: &str = "AKIA";
pub const TEMPORARY_PREFIX: &str = "ASIA";

/// A new access key ID with `prefix` (`AKIA`/`ASIA`) that encodes `account` (12 digits).
pub fn access_key_id(prefix: &str, account: &str) -> String {
    let acct: u64 = account.parse().unwrap_or(0);
    let mut rng = rand::rng();
    let low: u64 = rng.random_range(0..128);
    let z: u64 = ((acct << 7) | low) & 0x7fff_ffff_ffff;
    let mut bytes = [0u8; 10];
    bytes[..6].copy_from_slice(&z.to_be_bytes()[2..8]);
    rng.fill(&mut bytes[6..]);
    format!("{prefix}{}", BASE32_NOPAD.encode(&bytes))
}

/// The account encoded in a key ID, if it follows the layout. Older-style IDs yield `None`.
pub fn account_from_key_id(key_id: &str) -> Option<String> {
    if key_id.len() != 20 || !key_id.is_ascii() {
        return None;
    }
    let body = key_id.get(4..)?;
    let bytes = BASE32_NOPAD.decode(body.as_bytes()).ok()?;
    let head = bytes.get(..6)?;
    let mut z = [0u8; 8];
    z[2..].copy_from_slice(head);
    let z = u64::from_be_bytes(z);
    let acct = (z & 0x7fff_ffff_ff80) >> 7;
    if acct > 999_999_999_999 {
        return None;
    }
    Some(format!("{acct:012}"))
}

/// An IAM unique ID: prefix (`AIDA`, `AROA`, `AGPA`, `ANPA`, …) + 17 random base32 characters.
pub fn unique_id(prefix: &str) -> String {
    let mut bytes = [0u8; 11];
    rand::rng().fill(&mut bytes);
    // 11 bytes are 18 base32 characters (ASCII): keep 17.
    let mut enc = BASE32_NOPAD.encode(&bytes);
    enc.truncate(17);
    format!("{prefix}{enc}")
}

/// A 40-character secret access key from `[A-Za-z0-9/+]`.
pub fn secret_access_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    (0..40)
        .filter_map(|_| ALPHABET.choose(&mut rng).copied().map(char::from))
        .collect()
}

/// A random 12-digit account ID that does not start with 0.
pub fn account_id() -> String {
    let n: u64 = rand::rng().random_range(100_000_000_000..1_000_000_000_000);
    n.to_string()
}

/// A random (version 4) UUID. Its bits come from the thread's user-space generator: `Uuid::new_v4` asks the
/// kernel (a `getrandom` system call) for every one, ~1 % of the server's time at load (two per request).
pub fn request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// Is this a syntactically valid access key ID as AWS accepts them (16..128 word characters)?
pub fn is_well_formed_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn request_ids_are_random_version_4_uuids() {
        let a = uuid::Uuid::parse_str(&request_id()).unwrap();
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(request_id(), request_id());
    }

    #[test]
    fn decodes_reference_examples() {
        assert_eq!(
            account_from_key_id("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
        assert_eq!(
            account_from_key_id("AKIABTX3GSDSQBHCDE22").as_deref(),
            Some("111122223333")
        );
        assert_eq!(
            account_from_key_id("ASIAGO645SY5AAWF5EID").as_deref(),
            Some("444455556666")
        );
    }

    #[test]
    fn unique_ids_have_aws_shape() {
        let id = unique_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        assert_eq!(secret_access_key().len(), 40);
    }

    proptest! {
        #[test]
        fn key_ids_encode_their_account(acct in 0u64..1_000_000_000_000) {
            let a = format!("{acct:012}");
            let id = access_key_id("AKIA", &a);
            prop_assert_eq!(id.len(), 20);
            prop_assert_eq!(account_from_key_id(&id), Some(a));
        }
    }
}
