//! Loading: the value rows a page of checkpoints needs, with their delta
//! chains, read through a backend's [`ValueRows`] scans.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ScannedRow;
use super::ValueRows;
use super::hash::FastMap;
use super::read_cache::ReadCache;
use super::resolve::{RawValues, ValueKey};
use crate::saver::checkpoint::Checkpoint;
use crate::saver::error::Result;

/// The versions a read needs, per `(thread, namespace, channel)`.
pub type Wanted<'a> = BTreeMap<(&'a str, &'a str, &'a str), Vec<String>>;

/// Adds the values `checkpoint` names to `wanted`.
pub fn add_keys<'a>(
    wanted: &mut Wanted<'a>,
    thread_id: &'a str,
    ns: &'a str,
    checkpoint: &'a Checkpoint,
) {
    for (channel, version) in &checkpoint.channel_versions {
        wanted
            .entry((thread_id, ns, channel.as_str()))
            .or_default()
            .push(version.text());
    }
}

/// The counter of a version as `CAST(version AS INTEGER)` computes it,
/// for the versions this saver writes (`"<counter>"`,
/// `"<counter>.<salt>"`, LangGraph's `"<digits>.<fraction>"`); `None` for
/// any other text (its rows are then found by a scan without bounds).
pub fn seq_of(version: &str) -> Option<i64> {
    let digits = version.split_once('.').map_or(version, |(d, _)| d);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // SQLite clamps a larger counter to i64::MAX; so does this.
    Some(digits.bytes().fold(0i64, |n, b| {
        n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    }))
}

/// Loads the rows of the values `keys` names and of their delta chains,
/// without decoding them: per `(thread, namespace, channel)`, one reverse
/// range scan from the newest key down to the last snapshot needed (more
/// only when a base has a higher counter than its delta, after a fork).
/// With `cache`, a named row whose count and hash a cached array was built
/// through is taken from the cache (read in this transaction, so never
/// stale) and its chain is not read, unless another key needs it.
pub fn load<R: ValueRows>(
    rows: &R,
    cache: Option<&ReadCache>,
    wanted: &Wanted<'_>,
) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let cache = cache.filter(|c| c.enabled());
    // The channels of one thread and namespace whose named versions have
    // close counters (one checkpoint's, or a short run of a history's) are
    // read by one range scan first.
    let mut places: BTreeMap<(&str, &str), Vec<Named<'_>>> = BTreeMap::new();
    for ((t, n, c), versions) in wanted {
        places.entry((t, n)).or_default().push((c, versions));
    }
    for ((t, n), channels) in places {
        let mut pending = channels;
        if pending.len() > 1 {
            pending = load_span(rows, cache, (t, n), pending, &mut loaded)?;
        }
        for (c, versions) in pending {
            load_channel(rows, cache, (t, n, c), versions, &mut loaded)?;
        }
    }
    Ok(loaded)
}

/// A channel and the versions of it a read names.
type Named<'w> = (&'w str, &'w [String]);

/// How many times `version` is named in `versions` (a page's, one per
/// checkpoint that names it).
fn uses(versions: &[String], version: &str) -> usize {
    versions.iter().filter(|v| *v == version).count().max(1)
}

/// The named versions of `channel` in `channels`.
fn versions_of<'w>(channels: &[Named<'w>], channel: &str) -> &'w [String] {
    channels
        .iter()
        .find(|(c, _)| *c == channel)
        .map_or(&[], |(_, versions)| versions)
}

/// The widest span of counters [`load_span`] reads at once.
const SPAN: i64 = 64;

/// Reads the named versions of several channels of one thread and
/// namespace in one range scan over their counters, when the span is
/// short. A channel is done when each of its named versions is a full
/// value, a cached array (see [`load`]) or not stored (its counter is in
/// the span); the channels that need a delta chain walked, and all of them
/// when the span is too wide, are returned for [`load_channel`].
fn load_span<'w, R: ValueRows>(
    rows: &R,
    cache: Option<&ReadCache>,
    (thread_id, ns): (&str, &str),
    channels: Vec<Named<'w>>,
    loaded: &mut Loaded,
) -> Result<Vec<Named<'w>>> {
    let mut seqs = channels
        .iter()
        .flat_map(|(_, versions)| versions.iter().map(|v| seq_of(v)));
    let Some(Some(first)) = seqs.next() else {
        return Ok(channels);
    };
    let (mut lo, mut hi) = (first, first);
    for seq in seqs {
        let Some(seq) = seq else {
            return Ok(channels);
        };
        lo = lo.min(seq);
        hi = hi.max(seq);
    }
    if hi - lo > SPAN {
        return Ok(channels);
    }
    // (channel, version, still wanted); channels that need their chains.
    let mut named: Vec<(&'w str, &'w str, bool)> = channels
        .iter()
        .flat_map(|(c, versions)| versions.iter().map(move |v| (*c, v.as_str(), true)))
        .collect();
    // A version named by several checkpoints is read once.
    named.sort_unstable();
    named.dedup();
    let mut left = named.len();
    let mut chained: BTreeSet<&'w str> = BTreeSet::new();
    rows.scan_span((thread_id, ns), lo, hi, |row| {
        let (channel, version) = (row.channel()?, row.version()?);
        let Some(at) = named
            .iter()
            .position(|(c, v, open)| *open && *c == channel && *v == version)
        else {
            return Ok(true);
        };
        let (c, v, _) = named[at];
        if chained.contains(c) {
            return Ok(true);
        }
        let raw = row.raw()?;
        let key = (
            thread_id.to_owned(),
            ns.to_owned(),
            c.to_owned(),
            v.to_owned(),
        );
        if raw.base.is_some() {
            let place = (key.0.clone(), key.1.clone(), key.2.clone());
            let hit = match (cache, raw.len, raw.hash) {
                (Some(cache), Some(len), Some(hash)) => cache.get(&place, len, hash),
                _ => None,
            };
            let Some(value) = hit else {
                chained.insert(c);
                return Ok(true);
            };
            let uses = uses(versions_of(&channels, c), v);
            loaded.known.insert(key.clone(), (value, uses));
        }
        loaded.raw.insert(key, raw);
        named[at].2 = false;
        left -= 1;
        Ok(left > 0)
    })?;
    Ok(channels
        .into_iter()
        .filter(|(c, _)| chained.contains(c))
        .collect())
}

/// [`load`] for the versions of one channel.
fn load_channel<R: ValueRows>(
    rows: &R,
    cache: Option<&ReadCache>,
    (thread_id, ns, channel): (&str, &str, &str),
    versions: &[String],
    loaded: &mut Loaded,
) -> Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let place = (thread_id.to_owned(), ns.to_owned(), channel.to_owned());
    let cache = cache.filter(|c| c.knows_place(&place));
    let key = |version: String| {
        (
            thread_id.to_owned(),
            ns.to_owned(),
            channel.to_owned(),
            version,
        )
    };
    let named: BTreeSet<&str> = versions.iter().map(String::as_str).collect();
    // Versions still to find, with their counters (`None`: unknown).
    let mut wanted: Counters = versions.iter().map(|v| (v.clone(), seq_of(v))).collect();
    // Versions read, and the bases of those served from the cache whose
    // chains were not followed (yet).
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut unfollowed: FastMap<String, (String, i64)> = FastMap::default();
    // Versions some read row builds on.
    let mut bases: BTreeSet<String> = BTreeSet::new();
    while !wanted.is_empty() {
        let (start, mut floor) = scan_bounds(&wanted);
        // Bases the scan has already passed: read by the next scan.
        let mut later = Counters::default();
        rows.scan_channel((thread_id, ns, channel), start, |row| {
            let seq = row.seq()?;
            if seq < floor {
                return Ok(false);
            }
            let version = row.version()?;
            if wanted.remove(version).is_none() {
                return Ok(true);
            }
            let version = version.to_owned();
            let raw = row.raw()?;
            let base_seq = row.base_seq()?;
            let mut follow = raw.base.clone().zip(base_seq);
            // A row another chain goes through is read with its own chain.
            if let Some(cache) = cache
                && named.contains(version.as_str())
                && !bases.contains(&version)
                && let (Some(len), Some(hash)) = (raw.len, raw.hash)
                && let Some(value) = cache.get(&place, len, hash)
            {
                let uses = uses(versions, &version);
                loaded.known.insert(key(version.clone()), (value, uses));
                if let Some(base) = follow.take() {
                    unfollowed.insert(version.clone(), base);
                }
            }
            found.insert(version.clone());
            loaded.raw.insert(key(version), raw);
            while let Some((base, base_seq)) = follow.take() {
                bases.insert(base.clone());
                if found.contains(&base) {
                    // Read already; if its own chain was skipped, follow it.
                    follow = unfollowed.remove(&base);
                    continue;
                }
                if !wanted.contains_key(&base) && !later.contains_key(&base) {
                    want_base(base, base_seq, seq, (&mut wanted, &mut later), &mut floor);
                }
            }
            Ok(!wanted.is_empty())
        })?;
        // What is still wanted is not stored: a named version with no row
        // reads as absent, a missing base as damage (by the resolver).
        later.retain(|v, _| !found.contains(v));
        wanted = later;
    }
    Ok(())
}

/// Versions with their counters (`None`: unknown).
type Counters = FastMap<String, Option<i64>>;

/// Where a channel scan starts (the highest counter wanted) and where it
/// may stop (the lowest); an unknown counter makes the scan unbounded.
fn scan_bounds(wanted: &Counters) -> (i64, i64) {
    if wanted.values().any(Option::is_none) {
        return (i64::MAX, i64::MIN);
    }
    let seqs = || wanted.values().flatten().copied();
    (
        seqs().max().unwrap_or(i64::MAX),
        seqs().min().unwrap_or(i64::MIN),
    )
}

/// Asks for `base` (counter `base_seq`), the base of a row read at
/// counter `seq`: from this scan if it is still ahead (lowering its
/// `floor`), else from the next one (`later`). Rows of one counter come
/// in no promised order, so a base with the row's own counter may have
/// been passed.
fn want_base(
    base: String,
    base_seq: i64,
    seq: i64,
    (wanted, later): (&mut Counters, &mut Counters),
    floor: &mut i64,
) {
    if base_seq >= seq {
        later.insert(base, Some(base_seq));
    } else {
        *floor = (*floor).min(base_seq);
        wanted.insert(base, Some(base_seq));
    }
}

/// From how many checkpoints of one thread and namespace a page reads all
/// of that place's values at once ([`load_place`]).
pub const RANGE_READ_ROWS: usize = 32;

/// Every value of one thread and namespace, in one range scan; used when a
/// page needs most of them. Values of channels no key names are skipped.
pub fn load_place<R: ValueRows>(
    rows: &R,
    thread_id: &str,
    ns: &str,
    wanted: &Wanted<'_>,
) -> Result<RawValues> {
    let channels: BTreeSet<&str> = wanted.keys().map(|k| k.2).collect();
    let mut loaded = RawValues::default();
    rows.scan_place((thread_id, ns), |row| {
        let channel = row.channel()?;
        if !channels.contains(channel) {
            return Ok(true);
        }
        let key = (
            thread_id.to_owned(),
            ns.to_owned(),
            channel.to_owned(),
            row.version()?.to_owned(),
        );
        loaded.insert(key, row.raw()?);
        Ok(true)
    })?;
    Ok(loaded)
}

/// What [`load`] read: values found in the cache, and the raw rows of
/// the others with their chains.
#[derive(Debug, Default)]
pub struct Loaded {
    pub(super) raw: RawValues,
    /// With how many more times each is named in the page.
    pub(super) known: FastMap<ValueKey, (Value, usize)>,
}

impl From<RawValues> for Loaded {
    fn from(raw: RawValues) -> Self {
        Loaded {
            raw,
            known: FastMap::default(),
        }
    }
}
