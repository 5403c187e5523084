//! API keys (`snp_` + 32 lowercase hex digits, stored only as their
//! SHA-256), ids made of random hex, and the webhook signature.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The prefix of every API key, as SnapState's `API_KEY_PREFIX`.
pub const KEY_PREFIX: &str = "snp_";

/// How many characters of a key are kept in the clear to recognise it in
/// a listing (SnapState's `key_prefix`: `snp_` and 8 hex digits).
pub const SHOWN_PREFIX_LEN: usize = 12;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no random bytes: {e}")))?;
    Ok(hex(&bytes))
}

/// A new API key: `snp_` + 16 random bytes as hex.
pub fn new_api_key() -> Result<String, ApiError> {
    Ok(format!("{KEY_PREFIX}{}", random_hex(16)?))
}

/// What is stored of a key: the lowercase hex SHA-256 of its text.
///
/// ```
/// use checkpointer::server::keys::key_hash;
/// assert_eq!(key_hash("snp_00000000000000000000000000000000").len(), 64);
/// ```
pub fn key_hash(raw: &str) -> String {
    hex(&Sha256::digest(raw.as_bytes()))
}

/// The webhook signature header value: `sha256=` + the hex
/// HMAC-SHA256 of the raw body under the webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // An HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// Compares two strings in time that does not depend on where they differ
/// (for the admin secret).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_snapstate_form() {
        let key = new_api_key().unwrap_or_default();
        assert_eq!(key.len(), 36);
        assert!(key.starts_with("snp_"));
        assert!(
            key[4..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(Some(key), new_api_key().ok());
    }

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
