//! Namespaces and storage keys, as mooncat-checkpoint's `sanitize.py`.

use sha2::{Digest, Sha256};

use super::token::lower_hex;
use super::{LedgerError, LedgerResult};

/// The longest key kept as its own storage key.
pub const MAX_PLAIN_KEY_LEN: usize = 128;

/// The storage key of `key`: the file name (without `.json`) of the file
/// backend and the `storage_key` column of the SQL backends.
///
/// A key of `[a-zA-Z0-9_.-]` (as Python's regex: a final `\n` is let
/// through), at most 128 characters and not `.` or `..` is its own
/// storage key; any other key becomes `sha256-` and the first
/// 32 hex digits of the SHA-256 of its UTF-8 bytes (mooncat's
/// `safe_key_segment`, so both find the same record).
///
/// ```
/// use checkpointer::ledger::storage_key;
///
/// assert_eq!(storage_key("img-001"), "img-001");
/// assert_eq!(storage_key("https://x/y"), "sha256-5b416034726ea113e80d7e32328af6fe");
/// ```
pub fn storage_key(key: &str) -> String {
    let plain = key.len() <= MAX_PLAIN_KEY_LEN
        && key != "."
        && key != ".."
        && matches_python_class(key, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
        });
    if plain {
        return key.to_owned();
    }
    let digest = Sha256::digest(key.as_bytes());
    format!("sha256-{}", lower_hex(&digest[..16]))
}

/// Refuses a namespace that is empty or has a character outside
/// `[a-zA-Z0-9_-]` (mooncat's `assert_namespace`, with its regex's
/// tolerance of one final `\n`; it keeps a namespace a safe directory
/// name).
pub fn check_namespace(operation: &'static str, namespace: &str) -> LedgerResult<()> {
    let valid = matches_python_class(namespace, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
    });
    if valid {
        Ok(())
    } else {
        Err(LedgerError::InvalidNamespace {
            operation,
            namespace: namespace.to_owned(),
        })
    }
}

/// Whether Python's `re.match(r"^[class]+$", text)` matches: one or more
/// bytes of the class, then the end, or one `\n` and the end (Python's
/// `$` also matches before a final newline; mooncat relies on that regex,
/// so a storage key must too).
fn matches_python_class(text: &str, in_class: impl Fn(u8) -> bool) -> bool {
    let body = text.strip_suffix('\n').unwrap_or(text);
    !body.is_empty() && body.bytes().all(in_class)
}
