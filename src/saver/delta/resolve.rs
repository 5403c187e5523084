//! Chain resolution: stored rows (a snapshot and the deltas on it) become
//! values again, one checkpoint at a time.

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use serde_json::Value;

use super::hash::FastMap;
use super::load::Loaded;
use super::read_cache::ReadCache;
use crate::saver::checkpoint::Checkpoint;
use crate::saver::error::{Error, Result};

/// The most deltas a chain may have when read, whatever the options said
/// when it was written; more means the rows are damaged (a cycle).
const MAX_CHAIN: usize = 1 << 16;

/// Where one value lives: thread, namespace, channel, version (as text).
pub type ValueKey = (String, String, String, String);

/// The JSON of a stored value as a backend read it, not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredJson {
    /// No value (SQL `NULL`): versioned without a value.
    Absent,
    /// The JSON text.
    Text(String),
    /// Not text; what it is instead, reported as damage when decoded.
    Bad(String),
}

/// One stored value row as read, not decoded.
#[derive(Debug)]
pub struct RawValue {
    /// The value's JSON (a delta's: the appended elements).
    pub value: StoredJson,
    /// The row names a long value that is not there (damage).
    pub lost: bool,
    /// The version this delta builds on (`None`: a full value).
    pub base: Option<String>,
    /// The element count of the full value (arrays).
    pub len: Option<i64>,
    /// The hash of the full value's elements (arrays).
    pub hash: Option<i64>,
}

/// Stored values as read, keyed by where they live; decoded only when a
/// checkpoint that names them is built.
pub type RawValues = FastMap<ValueKey, RawValue>;

/// Decodes values into checkpoints one checkpoint at a time. Consecutive
/// checkpoints of a history share most values, so the values of the last
/// checkpoint built are kept decoded and reused: an unchanged channel is
/// cloned, and an appended one, walked newest first, is the newer value cut
/// to its length. Nothing older is kept.
#[derive(Debug)]
pub struct Resolver {
    raw: RawValues,
    recent: FastMap<ValueKey, Value>,
    /// Values found in the [`ReadCache`] by [`load`](super::load).
    known: FastMap<ValueKey, (Value, usize)>,
    /// Where arrays built from their chains are remembered.
    cache: Option<Arc<ReadCache>>,
}

impl Resolver {
    /// A resolver over what [`load`](super::load) read; with `cache`, arrays it builds
    /// from their chains are added to it.
    pub fn new(loaded: Loaded, cache: Option<Arc<ReadCache>>) -> Self {
        Resolver {
            raw: loaded.raw,
            recent: FastMap::default(),
            known: loaded.known,
            cache,
        }
    }

    /// Fills `checkpoint.channel_values`: each channel at the version the
    /// checkpoint names; a channel with no stored value is absent. A value
    /// that does not decode is [`Error::Corrupt`]. `next`: the checkpoint
    /// built next, if of the same thread and namespace; a value it can be
    /// built from (the same version, or an array it may be a prefix of and
    /// not found in the read cache) is kept for it.
    pub fn resolve(
        &mut self,
        thread_id: &str,
        ns: &str,
        checkpoint: &mut Checkpoint,
        next: Option<&Checkpoint>,
    ) -> Result<()> {
        let mut values = BTreeMap::new();
        let mut recent = FastMap::with_capacity_and_hasher(
            checkpoint.channel_versions.len(),
            BuildHasherDefault::default(),
        );
        for (channel, version) in &checkpoint.channel_versions {
            let key = (
                thread_id.to_owned(),
                ns.to_owned(),
                channel.clone(),
                version.text(),
            );
            let Some(value) = self.value_of(&key, thread_id, &checkpoint.id)? else {
                continue;
            };
            let keep = next
                .and_then(|n| n.channel_versions.get(channel))
                .is_some_and(|later| {
                    later == version
                        || (value.is_array()
                            && !self.known.contains_key(&(
                                key.0.clone(),
                                key.1.clone(),
                                key.2.clone(),
                                later.text(),
                            )))
                });
            if keep {
                values.insert(channel.clone(), value.clone());
                recent.insert(key, value);
            } else {
                values.insert(channel.clone(), value);
            }
        }
        self.recent = recent;
        checkpoint.channel_values = values;
        Ok(())
    }

    /// The value at `key`, built from its snapshot and deltas (or from a
    /// value of the previous checkpoint); `None` if nothing is stored.
    pub(super) fn value_of(
        &mut self,
        key: &ValueKey,
        thread_id: &str,
        checkpoint_id: &str,
    ) -> Result<Option<Value>> {
        if let Some(value) = self.take_ready(key) {
            return Ok(Some(value));
        }
        let blame = Blame {
            thread_id,
            checkpoint_id,
            channel: &key.2,
        };
        let Some(walk) = self.walk_chain(key, &blame)? else {
            return Ok(None);
        };
        let Walk {
            mut value,
            chain,
            mut bytes,
            mut points,
        } = walk;
        for delta in chain.into_iter().rev() {
            let row = &self.raw[delta];
            bytes += raw_bytes(&row.value);
            let Value::Array(items) = &mut value else {
                return Err(blame.corrupt(&delta.3, "a delta's base is not an array"));
            };
            match decode(&row.value).map_err(|why| blame.corrupt(&delta.3, &why))? {
                Value::Array(more) => items.extend(more),
                _ => return Err(blame.corrupt(&delta.3, "a delta is not an array")),
            }
            if row.len.and_then(|l| usize::try_from(l).ok()) != Some(items.len()) {
                return Err(blame.corrupt(&delta.3, "a delta's length does not add up"));
            }
            if let (Some(len), Some(hash)) = (row.len, row.hash) {
                points.push((len, hash));
            }
        }
        if let (Some(cache), Value::Array(items), Some(head)) =
            (&self.cache, &value, self.raw.get(key))
            && let (Some(len), Some(hash)) = (head.len, head.hash)
            && usize::try_from(len).ok() == Some(items.len())
            && points.last() == Some(&(len, hash))
        {
            cache.insert(key, points, &value, bytes);
        }
        Ok(Some(value))
    }

    /// The value at `key` if it needs no chain walked: found in the read
    /// cache, kept from the previous checkpoint, or a prefix of a value
    /// kept from it (the previous checkpoint's value is a delta on it).
    fn take_ready(&mut self, key: &ValueKey) -> Option<Value> {
        if let Some((value, uses)) = self.known.get_mut(key)
            && *uses > 1
        {
            *uses -= 1;
            return Some(value.clone());
        }
        if let Some((value, _)) = self.known.remove(key) {
            return Some(value);
        }
        if let Some(value) = self.recent.remove(key) {
            return Some(value);
        }
        let len = self.raw.get(key).and_then(|r| r.len)?;
        let child = self.recent.keys().find(|k| {
            k.0 == key.0
                && k.1 == key.1
                && k.2 == key.2
                && self.raw.get(*k).and_then(|r| r.base.as_deref()) == Some(key.3.as_str())
        });
        if let Some(child) = child.cloned()
            && let Some(Value::Array(mut items)) = self.recent.remove(&child)
            && let Ok(len) = usize::try_from(len)
            && len <= items.len()
        {
            items.truncate(len);
            return Some(Value::Array(items));
        }
        None
    }

    /// Walks the chain of `key` down to its snapshot: the snapshot's value
    /// and the deltas above it (newest first). `None` if nothing is stored
    /// at `key`.
    fn walk_chain<'s>(&'s self, key: &ValueKey, blame: &Blame<'_>) -> Result<Option<Walk<'s>>> {
        let mut bytes = 0usize;
        let mut points: Vec<(i64, i64)> = Vec::new();
        let mut chain: Vec<&ValueKey> = Vec::new();
        let mut at = key.clone();
        let value = loop {
            let Some(row) = self.raw.get_key_value(&at) else {
                if chain.is_empty() {
                    return Ok(None);
                }
                return Err(blame.corrupt(&at.3, "the base of a delta is missing"));
            };
            if row.1.lost {
                return Err(blame.corrupt(&at.3, "its long value is missing from channel_blobs"));
            }
            match &row.1.base {
                None => match &row.1.value {
                    StoredJson::Absent => {
                        if chain.is_empty() {
                            return Ok(None);
                        }
                        return Err(blame.corrupt(&at.3, "the base of a delta has no value"));
                    }
                    raw => {
                        bytes += raw_bytes(raw);
                        let value = decode(raw).map_err(|why| blame.corrupt(&at.3, &why))?;
                        if let (Value::Array(items), Some(len), Some(hash)) =
                            (&value, row.1.len, row.1.hash)
                            && usize::try_from(len).ok() == Some(items.len())
                        {
                            points.push((len, hash));
                        }
                        break value;
                    }
                },
                Some(base) => {
                    if chain.len() >= MAX_CHAIN {
                        return Err(blame.corrupt(&key.3, "delta chain too long (a cycle?)"));
                    }
                    chain.push(row.0);
                    at = (at.0, at.1, at.2, base.clone());
                }
            }
        };
        Ok(Some(Walk {
            value,
            chain,
            bytes,
            points,
        }))
    }
}

/// A chain walked down to its snapshot.
struct Walk<'s> {
    /// The snapshot's value.
    value: Value,
    /// The deltas above it, newest first.
    chain: Vec<&'s ValueKey>,
    /// JSON bytes read so far.
    bytes: usize,
    /// The (length, hash) of every row of the chain read so far: the value
    /// at each is a prefix of the full one (for the read cache).
    points: Vec<(i64, i64)>,
}

/// Whose value is damaged, for [`Error::Corrupt`].
struct Blame<'a> {
    thread_id: &'a str,
    checkpoint_id: &'a str,
    channel: &'a str,
}

impl Blame<'_> {
    fn corrupt(&self, version: &str, why: &str) -> Error {
        Error::Corrupt {
            thread_id: self.thread_id.to_owned(),
            checkpoint_id: self.checkpoint_id.to_owned(),
            what: format!(
                "value of channel {:?} at version {version}: {why}",
                self.channel
            ),
        }
    }
}

/// The bytes of a stored value's JSON.
fn raw_bytes(raw: &StoredJson) -> usize {
    match raw {
        StoredJson::Text(s) => s.len(),
        _ => 0,
    }
}

/// Decodes one stored value.
fn decode(raw: &StoredJson) -> Result<Value, String> {
    let json = match raw {
        StoredJson::Text(s) => s.as_str(),
        StoredJson::Bad(why) => return Err(why.clone()),
        StoredJson::Absent => return Err("is Null, not JSON text".into()),
    };
    serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))
}
