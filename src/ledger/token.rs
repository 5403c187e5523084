//! Lease tokens and the ledger's clock.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A new lease token: 16 random bytes from the operating system, as 32
/// lowercase hex digits (mooncat's `secrets.token_hex(16)`).
///
/// When the operating system has no randomness to give (it never fails
/// on Linux after boot), the bytes come from `fastrand` mixed with the
/// time and the process id: still unique in practice, as a token must be.
pub fn new_lease_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let mut rng = fastrand::Rng::with_seed(
            u64::try_from(now_ms()).unwrap_or_default() ^ u64::from(std::process::id()) << 32,
        );
        rng.fill(&mut bytes);
        let extra = fastrand::u128(..).to_le_bytes();
        for (b, e) in bytes.iter_mut().zip(extra) {
            *b ^= e;
        }
    }
    lower_hex(&bytes)
}

/// `bytes` as lowercase hex digits.
pub(super) fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Now, in milliseconds since the epoch: the clock every lease of the
/// memory, file and SQLite backends is judged by (the local clock, as
/// mooncat's `time.time()`; hosts sharing a ledger file need synchronised
/// clocks).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
