//! Checkpoint ids: UUIDv6 strings that sort in creation order, and after
//! their parent's even when this host's clock is behind the host that made
//! the parent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    new_checkpoint_id_after(step, None)
}

/// A new checkpoint id for a checkpoint of superstep `step` whose parent
/// is `parent` (the `checkpoint_id` of the config it is put with): the id
/// is greater than `parent` even when this host's clock is behind the host
/// that made `parent`. Savers refuse a child that does not sort after its
/// parent ([`Error::CheckpointOutOfOrder`](crate::Error::CheckpointOutOfOrder)),
/// so code that puts checkpoints written on several hosts should make
/// their ids with this function.
///
/// A `parent` that is not a UUIDv6 (ids made elsewhere) gives no lower
/// bound; the id is then as [`new_checkpoint_id`] makes it.
///
/// ```
/// use checkpointer::saver::new_checkpoint_id_after;
///
/// let parent = new_checkpoint_id_after(0, None);
/// let child = new_checkpoint_id_after(1, Some(&parent));
/// assert!(child > parent);
/// ```
pub fn new_checkpoint_id_after(step: i64, parent: Option<&str>) -> String {
    new_checkpoint_id_at(step, parent, now_ticks())
}

/// [`new_checkpoint_id_after`] with the clock read as `now` (time since
/// the Unix epoch), to show what a host whose clock is off would make.
/// Ids made this way still increase within the process.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use checkpointer::saver::{new_checkpoint_id_after, new_checkpoint_id_at_time};
///
/// let parent = new_checkpoint_id_after(0, None);
/// // A host whose clock is 10 minutes behind.
/// let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
/// let behind = now.checked_sub(Duration::from_mins(10)).unwrap();
/// let child = new_checkpoint_id_at_time(1, Some(&parent), behind);
/// assert!(child > parent);
/// ```
pub fn new_checkpoint_id_at_time(step: i64, parent: Option<&str>, now: Duration) -> String {
    new_checkpoint_id_at(step, parent, unix_to_ticks(now))
}

/// The id for `step` with the clock at `now` ticks, after `parent`.
fn new_checkpoint_id_at(step: i64, parent: Option<&str>, now: u64) -> String {
    let floor = parent.and_then(ticks_of).unwrap_or(0);
    encode(step, next_ticks(now, floor))
}

/// The UUIDv6 text of timestamp `ticks` and clock sequence `step`.
fn encode(step: i64, ticks: u64) -> String {
    let mut bytes = [0u8; 16];
    // time_high (32 bits) and time_mid (16 bits): the top 48 of 60 bits.
    bytes[0..6].copy_from_slice(&(ticks >> 12).to_be_bytes()[2..8]);
    // Version 6 and the low 12 bits of the timestamp.
    let low = 0x6000 | (ticks & 0x0FFF) as u16;
    bytes[6..8].copy_from_slice(&low.to_be_bytes());
    // RFC 4122 variant and the 14-bit clock sequence: the step.
    // The low 14 bits of the step's two's complement, as before.
    let clock_seq = 0x8000 | (step.cast_unsigned() & 0x3FFF) as u16;
    bytes[8..10].copy_from_slice(&clock_seq.to_be_bytes());
    bytes[10..16].copy_from_slice(&fastrand::u64(..).to_be_bytes()[2..8]);
    Uuid::from_bytes(bytes).hyphenated().to_string()
}

/// The current time in 100 ns Gregorian ticks.
fn now_ticks() -> u64 {
    unix_to_ticks(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

/// A time since the Unix epoch in 100 ns Gregorian ticks.
///
/// Ticks fit in a `u64` until about the year 60000; a later time saturates
/// (the id keeps only 60 bits of it anyway).
fn unix_to_ticks(since_epoch: Duration) -> u64 {
    u64::try_from(since_epoch.as_nanos() / 100)
        .unwrap_or(u64::MAX)
        .saturating_add(GREGORIAN_TO_UNIX_TICKS)
}

/// The 60-bit timestamp of a UUIDv6 id, `None` for any other string.
fn ticks_of(id: &str) -> Option<u64> {
    let uuid = Uuid::try_parse(id).ok()?;
    if uuid.get_version_num() != 6 {
        return None;
    }
    let b = uuid.as_bytes();
    let high = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
    let low = u64::from(u16::from_be_bytes([b[6], b[7]]) & 0x0FFF);
    Some((high << 12) | low)
}

/// `now` (in ticks), raised above `floor` (the parent's ticks) and above
/// every value returned before in this process.
///
/// An id with the parent's ticks would still compare by its clock
/// sequence and random node, so the child takes at least one tick more.
fn next_ticks(now: u64, floor: u64) -> u64 {
    let now = now.max(floor.saturating_add(1));
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

    /// The clock of a host 10 minutes behind.
    fn ten_minutes_behind() -> Duration {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        now.checked_sub(Duration::from_mins(10)).unwrap()
    }

    #[test]
    fn ticks_of_reads_back_the_timestamp() {
        let ticks = now_ticks() - 12_345;
        assert_eq!(ticks_of(&encode(3, ticks)), Some(ticks));
        assert_eq!(ticks_of("not-a-uuid"), None);
        // A version 4 uuid gives no bound.
        assert_eq!(ticks_of("9b2f6b8e-4d5e-4c1a-9a57-3f3f0c2d1e7a"), None);
    }

    // No test here moves the clock ahead: the last tick is shared by the
    // whole process, and a jump ahead would show in other tests' ids.

    #[test]
    fn child_on_a_clock_ten_minutes_behind_sorts_after_its_parent() {
        let parent = new_checkpoint_id(0);
        let child = new_checkpoint_id_at_time(1, Some(&parent), ten_minutes_behind());
        assert!(child > parent, "{child} <= {parent}");
        assert_eq!(&child[19..23], "8001");
        let grandchild = new_checkpoint_id_at_time(2, Some(&child), ten_minutes_behind());
        assert!(grandchild > child, "{grandchild} <= {child}");
    }

    #[test]
    fn a_behind_child_takes_the_ticks_just_past_its_parent() {
        let parent = new_checkpoint_id(0);
        let child = new_checkpoint_id_at_time(1, Some(&parent), ten_minutes_behind());
        let (p, c) = (ticks_of(&parent).unwrap(), ticks_of(&child).unwrap());
        // Other tests may take ticks in between; not ten minutes' worth.
        assert!(c > p && c - p < 10_000_000, "parent {p}, child {c}");
    }

    #[test]
    fn a_parent_that_is_not_uuid_v6_gives_no_bound() {
        let before = new_checkpoint_id(0);
        let child = new_checkpoint_id_at_time(1, Some("zzz"), ten_minutes_behind());
        // Still increasing within the process.
        assert!(child > before);
        assert!(child.as_str() < "zzz");
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
