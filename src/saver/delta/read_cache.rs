//! The read cache: arrays decoded by recent reads, served again only when
//! the database still says they hold.

use std::sync::Mutex;

use serde_json::Value;

use super::hash::FastMap;
use super::resolve::ValueKey;

/// Decoded arrays read recently (by `get_tuple` and `list`), per `(thread,
/// namespace, channel)`, each with the element count and hash of every row
/// of the chain it was built from (the value at each such row is a prefix
/// of it). A row is served from the cache only if its own count and hash,
/// read from the database now, are one of those points (the hash covers
/// every element of the full value at that row): the value is the cached
/// one cut to that count. So a row deleted, rewritten or written by
/// another process is never served stale; nothing needs invalidating for
/// correctness. Threads are still forgotten on delete, prune and copy, to
/// free memory.
#[derive(Debug)]
pub struct ReadCache {
    inner: Mutex<ReadInner>,
    /// Roughly how much JSON it keeps (0: nothing).
    budget: usize,
}

#[derive(Debug, Default)]
struct ReadInner {
    map: FastMap<(String, String, String), Vec<CachedArray>>,
    /// Entries held.
    entries: usize,
    /// Approximate JSON bytes held.
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
struct CachedArray {
    /// (element count, hash) of each row of the chain, the head last.
    points: Vec<(i64, i64)>,
    items: Vec<Value>,
    bytes: usize,
    used: u64,
}

/// How many values the read cache keeps.
const READ_CACHE_ENTRIES: usize = 256;

fn place_of(key: &ValueKey) -> (String, String, String) {
    (key.0.clone(), key.1.clone(), key.2.clone())
}

impl ReadCache {
    /// An empty cache of about `budget` bytes of JSON.
    pub fn new(budget: usize) -> Self {
        ReadCache {
            inner: Mutex::default(),
            budget,
        }
    }

    /// Whether it keeps anything.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadInner> {
        // Every entry is checked against the database before use.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether anything is cached for a `(thread, namespace, channel)`.
    pub(super) fn knows_place(&self, place: &(String, String, String)) -> bool {
        self.lock().map.contains_key(place)
    }

    /// The value of a row of the channel `place` with this count and hash,
    /// if a cached value was built through such a row.
    pub(super) fn get(
        &self,
        place: &(String, String, String),
        len: i64,
        hash: i64,
    ) -> Option<Value> {
        let count = usize::try_from(len).ok()?;
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entries = inner.map.get_mut(place)?;
        let entry = entries
            .iter_mut()
            .find(|e| e.points.contains(&(len, hash)) && count <= e.items.len())?;
        entry.used = tick;
        Some(Value::Array(entry.items[..count].to_vec()))
    }

    pub(super) fn insert(
        &self,
        key: &ValueKey,
        points: Vec<(i64, i64)>,
        value: &Value,
        bytes: usize,
    ) {
        let Value::Array(items) = value else {
            return;
        };
        if bytes > self.budget / 4 {
            return;
        }
        let place = place_of(key);
        let head = points.last().copied();
        let mut inner = self.lock();
        // An entry with the same head holds the same value.
        let mut freed = (0, 0);
        if let Some(entries) = inner.map.get_mut(&place) {
            entries.retain(|e| {
                let keep = e.points.last().copied() != head;
                if !keep {
                    freed.0 += 1;
                    freed.1 += e.bytes;
                }
                keep
            });
        }
        inner.entries -= freed.0;
        inner.bytes = inner.bytes.saturating_sub(freed.1);
        while inner.entries > 0
            && (inner.bytes + bytes > self.budget || inner.entries >= READ_CACHE_ENTRIES)
        {
            let Some((oldest, at)) = inner
                .map
                .iter()
                .flat_map(|(p, es)| es.iter().enumerate().map(move |(i, e)| (p, i, e.used)))
                .min_by_key(|(_, _, used)| *used)
                .map(|(p, i, _)| (p.clone(), i))
            else {
                break;
            };
            let Some(entries) = inner.map.get_mut(&oldest) else {
                break;
            };
            let old = entries.swap_remove(at);
            if entries.is_empty() {
                inner.map.remove(&oldest);
            }
            inner.entries -= 1;
            inner.bytes = inner.bytes.saturating_sub(old.bytes);
        }
        inner.tick += 1;
        let used = inner.tick;
        inner.bytes += bytes;
        inner.entries += 1;
        inner.map.entry(place).or_default().push(CachedArray {
            points,
            items: items.clone(),
            bytes,
            used,
        });
    }

    /// Forgets the values of `thread_id`.
    pub fn forget_thread(&self, thread_id: &str) {
        let mut inner = self.lock();
        let mut freed = (0, 0);
        inner.map.retain(|p, es| {
            let keep = p.0 != thread_id;
            if !keep {
                freed.0 += es.len();
                freed.1 += es.iter().map(|e| e.bytes).sum::<usize>();
            }
            keep
        });
        inner.entries -= freed.0;
        inner.bytes = inner.bytes.saturating_sub(freed.1);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.entries = 0;
        inner.bytes = 0;
    }
}
