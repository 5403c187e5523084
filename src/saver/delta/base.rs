//! Finding a delta's base in the database when the [`DeltaCache`] does not
//! hold it: a server that interleaves more conversations than the cache
//! has entries would otherwise store every appended list in full.

use serde_json::Value;

use super::cache::DeltaCache;
use super::load::{Wanted, load, seq_of};
use super::resolve::Resolver;
use super::{ScannedRow, ValueRows};
use crate::saver::checkpoint::{ChannelVersions, Checkpoint};
use crate::saver::error::Result;

/// The channels of a `put` whose value may be a delta but whose base the
/// cache does not hold: non-empty arrays announced in `new_versions`, at a
/// version with a counter above 1 (a lower one has nothing stored before
/// it). Empty when deltas are off or every base is cached, so a caller
/// opens no read transaction for them.
pub fn uncached_bases<'c>(
    cache: &DeltaCache,
    thread_id: &str,
    ns: &str,
    checkpoint: &'c Checkpoint,
    new_versions: &ChannelVersions,
) -> Vec<&'c str> {
    if cache.snapshot_every == 0 {
        return Vec::new();
    }
    let mut inner = None;
    checkpoint
        .channel_versions
        .iter()
        .filter(|(channel, version)| {
            new_versions.contains_key(*channel)
                && matches!(checkpoint.channel_values.get(*channel),
                    Some(Value::Array(items)) if !items.is_empty())
                && version.counter() > 1
                && !inner
                    .get_or_insert_with(|| cache.lock())
                    .contains(thread_id, ns, channel)
        })
        .map(|(channel, _)| channel.as_str())
        .collect()
}

/// For each of `channels` (from [`uncached_bases`]), reads the newest
/// value stored before the checkpoint's version (one row of a reverse
/// range scan), and if the new value starts with it (compared as values)
/// and its chain is shorter than the snapshot cap, gives it to the cache
/// as the channel's base. Run in a read transaction before the `put`'s
/// encoding; the write transaction checks the base again, as it checks
/// every cached one ([`store`](super::store)), so a base that changes in
/// between is never built on.
///
/// # Errors
///
/// The backend's errors while reading; a stored value that does not
/// decode ([`Error::Corrupt`](crate::Error::Corrupt)).
pub fn find_bases<R: ValueRows>(
    cache: &DeltaCache,
    rows: &R,
    thread_id: &str,
    ns: &str,
    checkpoint: &Checkpoint,
    channels: &[&str],
) -> Result<()> {
    for &channel in channels {
        let (Some(version), Some(Value::Array(items))) = (
            checkpoint.channel_versions.get(channel),
            checkpoint.channel_values.get(channel),
        ) else {
            continue;
        };
        let Some(seq) = seq_of(&version.text()) else {
            continue;
        };
        let place = (thread_id, ns, channel);
        // The newest stored row below the new version: its version, and
        // the element count and hash of its full value.
        let mut newest = None;
        rows.scan_channel(place, seq - 1, |row| {
            let raw = row.raw()?;
            newest = Some((row.version()?.to_owned(), raw.len, raw.hash));
            Ok(false)
        })?;
        let Some((base, Some(len), Some(hash))) = newest else {
            continue;
        };
        if usize::try_from(len).map_or(true, |n| n > items.len()) {
            continue;
        }
        let wanted = Wanted::from([(place, vec![base.clone()])]);
        let loaded = load(rows, None, &wanted)?;
        // Loaded without a read cache, the rows are the base's chain: the
        // snapshot and the deltas on it.
        let depth = loaded.raw.len().saturating_sub(1);
        if u32::try_from(depth).map_or(true, |d| d >= cache.snapshot_every) {
            // The new value is a snapshot anyway; the cache learns it.
            continue;
        }
        let key = (
            thread_id.to_owned(),
            ns.to_owned(),
            channel.to_owned(),
            base,
        );
        let mut resolver = Resolver::new(loaded, None);
        let Some(Value::Array(stored)) = resolver.value_of(&key, thread_id, &checkpoint.id)? else {
            continue;
        };
        if usize::try_from(len).ok() == Some(stored.len()) && items.starts_with(&stored) {
            cache.seed(
                (key.0, key.1, key.2),
                key.3,
                stored,
                hash.cast_unsigned(),
                u32::try_from(depth).unwrap_or(u32::MAX),
            );
        }
    }
    Ok(())
}
