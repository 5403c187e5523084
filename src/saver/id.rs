//! Checkpoint ids: UUIDv6 strings that sort in creation order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

/// 100 ns ticks between the Gregorian epoch (1582-10-15) and the Unix epoch.
const GREGORIAN_TO_UNIX_TICKS: u64 = 0x01B2_1DD2_1381_4000;

/// The last timestamp handed out in this process, in 100 ns ticks.
static LAST_TICKS: AtomicU64 = AtomicU64::new(0);

/// A new checkpoint id for a checkpoint of superstep `step`.
///
/// The id is a UUIDv6 as LangGraph makes them (`uuid6(clock_seq=step)`):
/// a 60-bit timestamp in 100 ns ticks, most significant bits first, the
/// step in the clock sequence (step -1 gives `bfff`) and a random node.
/// Within one process the timestamp is strictly increasing, even for ids
/// made in the same clock tick, so comparing ids as strings orders
/// checkpoints by creation. Every saver orders history that way.
///
/// ```
/// let a = checkpointer::new_checkpoint_id(0);
/// let b = checkpointer::new_checkpoint_id(-1);
/// assert!(a < b);
/// assert_eq!(&b[19..23], "bfff");
/// ```
pub fn new_checkpoint_id(step: i64) -> String {
    let ticks = next_ticks();
    let mut bytes = [0u8; 16];
    // time_high (32 bits) and time_mid (16 bits): the top 48 of 60 bits.
    bytes[0..6].copy_from_slice(&(ticks >> 12).to_be_bytes()[2..8]);
    // Version 6 and the low 12 bits of the timestamp.
    let low = 0x6000 | (ticks & 0x0FFF) as u16;
    bytes[6..8].copy_from_slice(&low.to_be_bytes());
    // RFC 4122 variant and the 14-bit clock sequence: the step.
    let clock_seq = 0x8000 | (step as u64 & 0x3FFF) as u16;
    bytes[8..10].copy_from_slice(&clock_seq.to_be_bytes());
    bytes[10..16].copy_from_slice(&fastrand::u64(..).to_be_bytes()[2..8]);
    Uuid::from_bytes(bytes).hyphenated().to_string()
}

/// The current time in 100 ns Gregorian ticks, strictly greater than any
/// value returned before in this process.
fn next_ticks() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d.as_nanos() / 100) as u64)
        + GREGORIAN_TO_UNIX_TICKS;
    let mut last = LAST_TICKS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_TICKS.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_6_with_step_in_clock_seq() {
        let id = new_checkpoint_id(5);
        let uuid = Uuid::parse_str(&id).unwrap();
        assert_eq!(uuid.get_version_num(), 6);
        assert_eq!(&id[19..23], "8005");
        assert_eq!(&new_checkpoint_id(-1)[19..23], "bfff");
    }

    #[test]
    fn ids_carry_the_current_time() {
        let id = new_checkpoint_id(0);
        let uuid = Uuid::parse_str(&id).unwrap();
        let (secs, _) = uuid.get_timestamp().unwrap().to_unix();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(secs) < 60, "id time {secs} vs now {now}");
    }
}
