//! The per-channel cache of the last array written: where the writer
//! finds a delta's base.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::encode::{After, Encoded};

/// The last array value written per `(thread, namespace, channel)` by this
/// saver: what the next value of the channel is compared with to find a
/// delta base. A hint only: every use is checked against the database.
#[derive(Debug)]
pub struct DeltaCache {
    inner: Mutex<CacheInner>,
    /// Most deltas between snapshots (0: no deltas).
    pub(super) snapshot_every: u32,
}

#[derive(Debug, Default)]
pub(super) struct CacheInner {
    pub(super) map: HashMap<(String, String, String), Last>,
    /// Approximate bytes of JSON held.
    bytes: usize,
    /// Counts uses, to evict the least recently used entry.
    tick: u64,
}

impl CacheInner {
    /// Whether an entry for the channel is held.
    pub(super) fn contains(&self, thread_id: &str, ns: &str, channel: &str) -> bool {
        // The key is owned; the few lookups per put are not worth a
        // borrowed-key map.
        self.map
            .contains_key(&(thread_id.to_owned(), ns.to_owned(), channel.to_owned()))
    }

    /// Evicts least recently used entries until `incoming` more bytes and
    /// one more entry fit.
    fn make_room(&mut self, incoming: usize) {
        while !self.map.is_empty()
            && (self.bytes + incoming > CACHE_BYTES || self.map.len() >= CACHE_ENTRIES)
        {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, last)| last.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(last) = self.map.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(last.bytes);
            }
        }
    }
}

/// Roughly how much JSON the cache keeps.
const CACHE_BYTES: usize = 4 << 20;

/// How many channels the cache keeps (the ones written last): enough for
/// many threads written at once, little memory when threads come one
/// after another.
const CACHE_ENTRIES: usize = 32;

/// One cached array.
#[derive(Debug)]
pub(super) struct Last {
    pub(super) version: String,
    pub(super) items: Vec<Value>,
    pub(super) hash: u64,
    pub(super) depth: u32,
    /// JSON bytes of the whole value.
    bytes: usize,
    /// When it was last written.
    used: u64,
}

impl DeltaCache {
    /// An empty cache; `snapshot_every` deltas at most between snapshots.
    pub fn new(snapshot_every: u32) -> Self {
        DeltaCache {
            inner: Mutex::new(CacheInner::default()),
            snapshot_every,
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // The map is only a hint; a panic elsewhere cannot make it wrong
        // in a way the database check does not catch.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets every entry of `thread_id` (after a delete, prune or copy).
    pub fn forget_thread(&self, thread_id: &str) {
        let mut inner = self.lock();
        let mut freed = 0;
        inner.map.retain(|(t, _, _), last| {
            let keep = t != thread_id;
            if !keep {
                freed += last.bytes;
            }
            keep
        });
        inner.bytes = inner.bytes.saturating_sub(freed);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.bytes = 0;
    }

    /// Takes `items`, found in the database at `version` with `hash` and
    /// `depth` deltas since its snapshot, as the last value of `key`
    /// (see [`find_bases`](super::find_bases)), unless an entry is held
    /// already (a `put` that committed meanwhile knows better).
    pub(super) fn seed(
        &self,
        key: (String, String, String),
        version: String,
        items: Vec<Value>,
        hash: u64,
        depth: u32,
    ) {
        let bytes = json_bytes(&items);
        if bytes > CACHE_BYTES / 4 {
            return;
        }
        let mut inner = self.lock();
        if inner.map.contains_key(&key) {
            return;
        }
        inner.make_room(bytes);
        inner.tick += 1;
        let last = Last {
            version,
            items,
            hash,
            depth,
            bytes,
            used: inner.tick,
        };
        inner.map.insert(key, last);
        inner.bytes += bytes;
    }

    /// Records what a committed `put` stored.
    pub fn remember(&self, thread_id: &str, ns: &str, encoded: Encoded<'_>) {
        if self.snapshot_every == 0 {
            return;
        }
        let mut inner = self.lock();
        for learned in encoded.learned {
            inner.tick += 1;
            let tick = inner.tick;
            let key = (
                thread_id.to_owned(),
                ns.to_owned(),
                learned.channel.to_owned(),
            );
            match learned.after {
                After::Extend {
                    base,
                    suffix,
                    delta_bytes,
                } => {
                    let Some(last) = inner.map.get_mut(&key) else {
                        continue;
                    };
                    if last.version != base {
                        // Another put moved the entry meanwhile: keep it.
                        continue;
                    }
                    // Whether the row went in as this delta or (after a
                    // retry) in full, it holds these elements and hash.
                    last.items.extend(suffix.iter().cloned());
                    last.version = learned.version;
                    last.hash = learned.hash;
                    last.depth += 1;
                    last.bytes += delta_bytes;
                    last.used = tick;
                    inner.bytes += delta_bytes;
                    if inner.bytes > CACHE_BYTES {
                        // This entry is the newest: others go first.
                        inner.make_room(0);
                    }
                }
                After::Replace { items, bytes } => {
                    if bytes > CACHE_BYTES / 4 {
                        continue;
                    }
                    if let Some(old) = inner.map.remove(&key) {
                        inner.bytes = inner.bytes.saturating_sub(old.bytes);
                    }
                    inner.make_room(bytes);
                    let last = Last {
                        version: learned.version,
                        items: items.to_vec(),
                        hash: learned.hash,
                        depth: 0,
                        bytes,
                        used: tick,
                    };
                    if let Some(old) = inner.map.insert(key, last) {
                        inner.bytes = inner.bytes.saturating_sub(old.bytes);
                    }
                    inner.bytes += bytes;
                }
            }
        }
    }
}

/// About how many bytes of JSON `items` are (strings and keys by their
/// length, other scalars 8): what the cache's byte budget counts, without
/// serialising.
fn json_bytes(items: &[Value]) -> usize {
    fn one(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len() + 3,
            Value::Array(a) => a.iter().map(one).sum::<usize>() + 2,
            Value::Object(m) => m.iter().map(|(k, v)| k.len() + 4 + one(v)).sum::<usize>() + 2,
            _ => 8,
        }
    }
    items.iter().map(one).sum::<usize>() + 2
}
