//! Channel values: stored once per `(thread, namespace, channel, version)`
//! in `channel_values`, written and read only through this module.
//!
//! # Delta encoding
//!
//! A channel whose value is a JSON array that extends a value stored
//! before (the append case: a chat's `messages`) is stored as a *delta*:
//! the row holds only the appended elements (as a JSON array) and names its
//! `base` version; `depth` counts the deltas since the last full snapshot,
//! `len` is the element count of the full value and `hash` a 64-bit FNV-1a
//! hash of its elements' JSON texts. Any other value is a full snapshot
//! (`base` NULL, `depth` 0). So the bytes a checkpoint adds stay flat as a
//! thread's history grows, instead of growing with it.
//!
//! A snapshot is written instead of a delta only when the chain would
//! exceed [`SqliteOptions::snapshot_every`](super::SqliteOptions::snapshot_every)
//! deltas: a thread's chain of a channel is one snapshot and up to that
//! many deltas. Reading any value costs one snapshot plus at most that many
//! small delta rows.
//!
//! The writer finds the base in an in-process cache of the last array
//! written per `(thread, namespace, channel)` ([`DeltaCache`]): the new value
//! must start with the cached one exactly (compared as values, never by
//! hash). Inside the write transaction the base row is checked to still
//! hold what the cache says (same element count and hash); if it does not
//! (deleted, rewritten by another process, a reused plain-integer
//! version), the value is written in full. The encoding lives only in the
//! database: any process reads it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::sql::encode_json;
use super::sql_context;
use crate::saver::checkpoint::{ChannelVersions, Checkpoint};
use crate::saver::error::{Error, Result};

/// Stores a value unless that version is already stored. `seq` is always
/// `CAST(version AS INTEGER)`, computed by SQLite (migration 3 and every
/// statement use the same expression): the version's counter.
const INSERT_VALUE: &str = "INSERT INTO channel_values (thread_id, checkpoint_ns, channel, \
     seq, version, value, base, depth, len, hash, blob) \
     VALUES (?1, ?2, ?3, CAST(?4 AS INTEGER), ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
     ON CONFLICT (thread_id, checkpoint_ns, seq, channel, version) DO NOTHING";

/// Replaces a stored value (after its dependents were made full); a
/// trigger (`channel_values_replace_blob`) drops the long value it had.
const REPLACE_VALUE: &str = "UPDATE channel_values SET value = ?5, base = ?6, depth = ?7, \
     len = ?8, hash = ?9, blob = ?10 \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 \
     AND seq = CAST(?4 AS INTEGER) AND version = ?4";

/// Whether a value is stored.
const VALUE_EXISTS: &str = "SELECT 1 FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 \
     AND seq = CAST(?4 AS INTEGER) AND version = ?4";

/// Stores a long value; its id goes in the value row's `blob`.
const INSERT_BLOB: &str = "INSERT INTO channel_blobs (value) VALUES (?1)";

/// Values longer than this (bytes of JSON) are stored in `channel_blobs`:
/// a `WITHOUT ROWID` row keeps only ~1000 bytes in its page (4 KiB pages)
/// and gives the rest an overflow page of its own. Migration 3 moved
/// values with the same limit; reads follow `blob` whatever the length.
const INLINE_MAX: usize = 640;

/// What a delta's base must still be: element count and hash.
pub(crate) const BASE_STATE: &str = "SELECT len, hash FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 \
     AND seq = CAST(?4 AS INTEGER) AND version = ?4";

/// The deltas built on one version.
const DEPENDENTS: &str = "SELECT version FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 AND base = ?4";

/// The JSON of the value row `v` (the `channel_values` row aliased `v`):
/// its `value`, or that of the `channel_blobs` row it names.
macro_rules! value_of_row {
    () => {
        "CASE WHEN v.blob IS NULL THEN v.value \
         ELSE (SELECT b.value FROM channel_blobs AS b WHERE b.id = v.blob) END"
    };
}

/// The rows of one channel of one thread and namespace (`?1`, `?2`, `?3`)
/// at counters `?4` and below, newest first: the primary key keeps a
/// thread's rows in `(seq, channel, version)` order, so a delta chain
/// (whose bases have lower counters) is one reverse range scan, read until
/// the snapshot (passing the other channels' rows of the same counters,
/// which SQLite skips). `CAST(base AS INTEGER)` is the counter of the base.
pub(crate) const SCAN_CHANNEL: &str = concat!(
    "SELECT v.seq, v.version, ",
    value_of_row!(),
    ", v.base, CAST(v.base AS INTEGER), v.len, v.hash, v.blob FROM channel_values AS v \
     WHERE v.thread_id = ?1 AND v.checkpoint_ns = ?2 AND v.seq <= ?4 AND v.channel = ?3 \
     ORDER BY v.seq DESC"
);

/// Drops the values of thread `?1` that no remaining checkpoint needs:
/// neither names them nor builds on them through a delta chain.
const COLLECT_GARBAGE: &str = "WITH RECURSIVE \
     needed(n, c, v) AS ( \
       SELECT c.checkpoint_ns, e.key, CAST(e.value AS TEXT) \
       FROM checkpoints AS c, json_each(c.checkpoint, '$.channel_versions') AS e \
       WHERE c.thread_id = ?1 \
       UNION \
       SELECT w.checkpoint_ns, w.channel, w.base FROM needed CROSS JOIN channel_values AS w \
       ON w.thread_id = ?1 AND w.checkpoint_ns = needed.n AND w.channel = needed.c \
       AND w.seq = CAST(needed.v AS INTEGER) AND w.version = needed.v \
       WHERE w.base IS NOT NULL) \
     DELETE FROM channel_values WHERE thread_id = ?1 \
     AND (checkpoint_ns, channel, version) NOT IN (SELECT n, c, v FROM needed) \
     RETURNING blob";

/// Deletes the long values `?1` (a JSON array of ids) names.
const DELETE_BLOBS: &str =
    "DELETE FROM channel_blobs WHERE id IN (SELECT value FROM json_each(?1))";

/// The most deltas a chain may have when read, whatever the options said
/// when it was written; more means the rows are damaged (a cycle).
const MAX_CHAIN: usize = 1 << 16;

/// Where one value lives: thread, namespace, channel, version (as text).
pub(crate) type ValueKey = (String, String, String, String);

/// The 64-bit FNV-1a hash of a sequence of element JSON texts, continued
/// from `hash` (each text is followed by the byte 0xff, which UTF-8 never
/// contains, so `["ab"]` and `["a","b"]` differ).
fn hash_elements<'a>(hash: u64, elements: impl IntoIterator<Item = &'a str>) -> u64 {
    use std::hash::Hasher;
    let mut hasher = Fnv(hash);
    for text in elements {
        hasher.write(text.as_bytes());
        hasher.write(&[0xff]);
    }
    hasher.finish()
}

/// The hash of an empty array.
const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Serialises array elements one by one: their texts, and the array's JSON
/// made of them.
fn encode_elements(
    thread_id: &str,
    channel: &str,
    items: &[Value],
) -> Result<(Vec<String>, String)> {
    let texts = items
        .iter()
        .map(|v| encode_json(thread_id, || format!("channel {channel:?}"), v))
        .collect::<Result<Vec<_>>>()?;
    let mut json = String::with_capacity(texts.iter().map(|t| t.len() + 1).sum::<usize>() + 2);
    json.push('[');
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(t);
    }
    json.push(']');
    Ok((texts, json))
}

/// The last array value written per `(thread, namespace, channel)` by this
/// saver: what the next value of the channel is compared with to find a
/// delta base. A hint only: every use is checked against the database.
#[derive(Debug)]
pub(crate) struct DeltaCache {
    inner: Mutex<CacheInner>,
    /// Most deltas between snapshots (0: no deltas).
    snapshot_every: u32,
}

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<(String, String, String), Last>,
    /// Approximate bytes of JSON held.
    bytes: usize,
    /// Counts uses, to evict the least recently used entry.
    tick: u64,
}

impl CacheInner {
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
struct Last {
    version: String,
    items: Vec<Value>,
    hash: u64,
    depth: u32,
    /// JSON bytes of the whole value.
    bytes: usize,
    /// When it was last written.
    used: u64,
}

impl DeltaCache {
    /// An empty cache; `snapshot_every` deltas at most between snapshots.
    pub(crate) fn new(snapshot_every: u32) -> Self {
        DeltaCache {
            inner: Mutex::new(CacheInner::default()),
            snapshot_every,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // The map is only a hint; a panic elsewhere cannot make it wrong
        // in a way the database check does not catch.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every entry of `thread_id` (after a delete, prune or copy).
    pub(crate) fn forget_thread(&self, thread_id: &str) {
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
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.bytes = 0;
    }

    /// Records what a committed `put` stored.
    pub(crate) fn remember(&self, thread_id: &str, ns: &str, encoded: Encoded<'_>) {
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

/// How a value is stored.
#[derive(Debug)]
enum Form {
    /// Announced in `new_versions`: stored in full (`json` may be `None`:
    /// versioned without a value).
    Full {
        json: Option<String>,
        len: Option<i64>,
    },
    /// Announced: the elements appended to `base`, whose row must still
    /// have `base_len` elements and hash `base_hash`.
    Delta {
        base: String,
        base_len: i64,
        base_hash: u64,
        json: String,
        len: i64,
        depth: u32,
    },
    /// Not announced: stored (in full) only if that version was never
    /// stored. `json` is `None` when it was not serialised (it usually is
    /// stored already); if it turns out missing the put is retried with it.
    Unannounced {
        json: Option<String>,
        len: Option<i64>,
    },
}

/// One row a `put` may write, serialised before the write transaction, owned
/// so that another thread can write it.
#[derive(Debug)]
pub(crate) struct Row {
    channel: String,
    version: String,
    form: Form,
    /// Hash of the full array's elements (arrays only).
    hash: u64,
}

/// What the cache learns once a put commits.
#[derive(Debug)]
enum After<'a> {
    /// The cached value, extended by `suffix`.
    Extend {
        base: String,
        suffix: &'a [Value],
        delta_bytes: usize,
    },
    /// A new full value.
    Replace { items: &'a [Value], bytes: usize },
}

#[derive(Debug)]
struct Learned<'a> {
    channel: &'a str,
    version: String,
    hash: u64,
    after: After<'a>,
}

/// The values of a `put`, serialised: the rows to write, and what the
/// cache learns once they are committed.
#[derive(Debug)]
pub(crate) struct Encoded<'a> {
    pub(crate) rows: Vec<Row>,
    learned: Vec<Learned<'a>>,
}

/// How [`encode`] serialises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Deltas where the cache allows; values of channels not in
    /// `new_versions` are left unserialised.
    Lean,
    /// No deltas; every value serialised (the retry after [`store`] said
    /// [`Stored::Retry`]).
    Complete,
}

/// Serialises the values `put` must store: those of the channels in
/// `new_versions`, as deltas where the cache allows. Runs before the
/// transaction, so the write lock is held only for SQL.
pub(crate) fn encode<'a>(
    cache: &DeltaCache,
    thread_id: &str,
    ns: &str,
    checkpoint: &'a Checkpoint,
    new_versions: &ChannelVersions,
    mode: Mode,
) -> Result<Encoded<'a>> {
    let mut out = Encoded {
        rows: Vec::with_capacity(checkpoint.channel_versions.len()),
        learned: Vec::new(),
    };
    for (channel, version) in &checkpoint.channel_versions {
        let value = checkpoint.channel_values.get(channel);
        let version = version.to_string();
        if !new_versions.contains_key(channel) {
            let Some(value) = value else {
                // Not announced and no value: nothing to store.
                continue;
            };
            let (json, len, hash) = match mode {
                Mode::Lean => (None, None, 0),
                Mode::Complete => {
                    let (json, len, hash) = encode_full(thread_id, channel, value)?;
                    (Some(json), len, hash)
                }
            };
            out.rows.push(Row {
                channel: channel.clone(),
                version,
                form: Form::Unannounced { json, len },
                hash,
            });
            continue;
        }
        match value {
            Some(Value::Array(items)) if cache.snapshot_every > 0 && mode == Mode::Lean => {
                encode_array(cache, thread_id, ns, channel, version, items, &mut out)?;
            }
            Some(Value::Array(items)) => {
                let learn = cache.snapshot_every > 0;
                push_full_array(thread_id, channel, version, items, learn, &mut out)?;
            }
            Some(value) => {
                let (json, len, hash) = encode_full(thread_id, channel, value)?;
                out.rows.push(Row {
                    channel: channel.clone(),
                    version,
                    form: Form::Full {
                        json: Some(json),
                        len,
                    },
                    hash,
                });
            }
            None => out.rows.push(Row {
                channel: channel.clone(),
                version,
                form: Form::Full {
                    json: None,
                    len: None,
                },
                hash: 0,
            }),
        }
    }
    Ok(out)
}

/// A value in full: its JSON, and for an array its length and hash.
fn encode_full(
    thread_id: &str,
    channel: &str,
    value: &Value,
) -> Result<(String, Option<i64>, u64)> {
    Ok(match value {
        Value::Array(items) => {
            let (texts, json) = encode_elements(thread_id, channel, items)?;
            let hash = hash_elements(HASH_SEED, texts.iter().map(String::as_str));
            (json, Some(items.len() as i64), hash)
        }
        other => (
            encode_json(thread_id, || format!("channel {channel:?}"), other)?,
            None,
            0,
        ),
    })
}

/// An array value: a delta on the cached value of the channel if it
/// extends it and the snapshot policy allows, else in full.
fn encode_array<'a>(
    cache: &DeltaCache,
    thread_id: &str,
    ns: &str,
    channel: &'a str,
    version: String,
    items: &'a [Value],
    out: &mut Encoded<'a>,
) -> Result<()> {
    let key = (thread_id.to_owned(), ns.to_owned(), channel.to_owned());
    // What the cache says, if the new value extends it.
    let base = {
        let inner = cache.lock();
        inner.map.get(&key).and_then(|last| {
            let n = last.items.len();
            (n <= items.len() && last.version != version && items[..n] == last.items[..])
                .then(|| (last.version.clone(), n, last.hash, last.depth))
        })
    };
    if let Some((base, n, base_hash, depth)) = base
        && depth < cache.snapshot_every
    {
        let suffix = &items[n..];
        let (texts, json) = encode_elements(thread_id, channel, suffix)?;
        let hash = hash_elements(base_hash, texts.iter().map(String::as_str));
        out.learned.push(Learned {
            channel,
            version: version.clone(),
            hash,
            after: After::Extend {
                base: base.clone(),
                suffix,
                delta_bytes: json.len(),
            },
        });
        out.rows.push(Row {
            channel: channel.to_owned(),
            version,
            form: Form::Delta {
                base,
                base_len: n as i64,
                base_hash,
                json,
                len: items.len() as i64,
                depth: depth + 1,
            },
            hash,
        });
        return Ok(());
    }
    push_full_array(thread_id, channel, version, items, true, out)
}

/// An array stored in full; with `learn`, the cache takes it as the new
/// base of the channel once the put commits.
fn push_full_array<'a>(
    thread_id: &str,
    channel: &'a str,
    version: String,
    items: &'a [Value],
    learn: bool,
    out: &mut Encoded<'a>,
) -> Result<()> {
    let (texts, json) = encode_elements(thread_id, channel, items)?;
    let hash = hash_elements(HASH_SEED, texts.iter().map(String::as_str));
    if learn {
        out.learned.push(Learned {
            channel,
            version: version.clone(),
            hash,
            after: After::Replace {
                items,
                bytes: json.len(),
            },
        });
    }
    out.rows.push(Row {
        channel: channel.to_owned(),
        version,
        form: Form::Full {
            json: Some(json),
            len: Some(items.len() as i64),
        },
        hash,
    });
    Ok(())
}

/// What [`store`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Every row is written.
    Done,
    /// Nothing is written: a delta's base changed, or a value left
    /// unserialised is missing. Encode again with [`Mode::Complete`].
    Retry,
}

/// The row columns of a stored value: `value, base, depth, len, hash`.
type Columns<'r> = (
    Option<&'r str>,
    Option<&'r str>,
    i64,
    Option<i64>,
    Option<i64>,
);

/// Writes the rows of one checkpoint's values. First checks that every
/// delta's base is as the cache said and that every value left
/// unserialised is stored already; if not, writes nothing and says
/// [`Stored::Retry`].
pub(crate) fn store(
    tx: &Connection,
    thread_id: &str,
    ns: &str,
    checkpoint_id: &str,
    rows: &[Row],
) -> Result<Stored> {
    let context = || format!("store channel values of checkpoint {checkpoint_id}");
    let mut skip = vec![false; rows.len()];
    for (i, row) in rows.iter().enumerate() {
        match &row.form {
            Form::Delta {
                base,
                base_len,
                base_hash,
                ..
            } => {
                let state: Option<(Option<i64>, Option<i64>)> = tx
                    .prepare_cached(BASE_STATE)
                    .and_then(|mut s| {
                        s.query_row(params![thread_id, ns, row.channel, base], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .optional()
                    })
                    .map_err(sql_context(context))?;
                if state != Some((Some(*base_len), Some(*base_hash as i64))) {
                    return Ok(Stored::Retry);
                }
            }
            Form::Unannounced { json, .. } => {
                let stored = tx
                    .prepare_cached(VALUE_EXISTS)
                    .and_then(|mut s| {
                        s.query_row(params![thread_id, ns, row.channel, row.version], |_| Ok(()))
                            .optional()
                    })
                    .map_err(sql_context(context))?
                    .is_some();
                if stored {
                    skip[i] = true;
                } else if json.is_none() {
                    return Ok(Stored::Retry);
                }
            }
            Form::Full { .. } => {}
        }
    }
    for (row, skip) in rows.iter().zip(skip) {
        if skip {
            continue;
        }
        let columns: Columns<'_> = match &row.form {
            Form::Full { json, len } | Form::Unannounced { json, len } => {
                (json.as_deref(), None, 0, *len, len.map(|_| row.hash as i64))
            }
            Form::Delta {
                base,
                json,
                len,
                depth,
                ..
            } => (
                Some(json.as_str()),
                Some(base.as_str()),
                i64::from(*depth),
                Some(*len),
                Some(row.hash as i64),
            ),
        };
        write_row(tx, thread_id, ns, &row.channel, &row.version, columns)?;
    }
    Ok(Stored::Done)
}

/// Inserts one row, or replaces the stored one at the same version after
/// turning the deltas built on it into full values (so that no other
/// version changes with it).
fn write_row(
    tx: &Connection,
    thread_id: &str,
    ns: &str,
    channel: &str,
    version: &str,
    (json, base, depth, len, hash): Columns<'_>,
) -> Result<()> {
    let context =
        || format!("store version {version} of channel {channel:?} in thread {thread_id:?}");
    let (json, blob) = place_json(tx, json).map_err(sql_context(context))?;
    let inserted = tx
        .prepare_cached(INSERT_VALUE)
        .and_then(|mut s| {
            s.execute(params![
                thread_id, ns, channel, version, json, base, depth, len, hash, blob
            ])
        })
        .map_err(sql_context(context))?;
    if inserted == 1 {
        return Ok(());
    }
    materialise_dependents(tx, thread_id, ns, channel, version)?;
    tx.prepare_cached(REPLACE_VALUE)
        .and_then(|mut s| {
            s.execute(params![
                thread_id, ns, channel, version, json, base, depth, len, hash, blob
            ])
        })
        .map_err(sql_context(context))?;
    Ok(())
}

/// Where a value's JSON goes: in the row (`Some(json)`, no blob) if it is
/// short, else into a new `channel_blobs` row (its id).
fn place_json<'j>(
    tx: &Connection,
    json: Option<&'j str>,
) -> rusqlite::Result<(Option<&'j str>, Option<i64>)> {
    match json {
        Some(long) if long.len() > INLINE_MAX => {
            tx.prepare_cached(INSERT_BLOB)?.execute([long])?;
            Ok((None, Some(tx.last_insert_rowid())))
        }
        short => Ok((short, None)),
    }
}

/// Rewrites in full every delta whose base is `version`, so that `version`
/// can change without changing them.
fn materialise_dependents(
    tx: &Connection,
    thread_id: &str,
    ns: &str,
    channel: &str,
    version: &str,
) -> Result<()> {
    let context = || format!("rewrite the deltas on version {version} of channel {channel:?}");
    let dependents: Vec<String> = tx
        .prepare_cached(DEPENDENTS)
        .and_then(|mut s| {
            s.query_map(params![thread_id, ns, channel, version], |r| r.get(0))?
                .collect()
        })
        .map_err(sql_context(context))?;
    for dependent in dependents {
        let key = (
            thread_id.to_owned(),
            ns.to_owned(),
            channel.to_owned(),
            dependent.clone(),
        );
        let wanted = Wanted::from([((thread_id, ns, channel), vec![dependent.clone()])]);
        let loaded = load(tx, None, &wanted)?;
        let mut resolver = Resolver::new(loaded, None);
        let Some(value) = resolver.value_of(&key, thread_id, "")? else {
            continue;
        };
        let Value::Array(items) = &value else {
            continue;
        };
        let (texts, json) = encode_elements(thread_id, channel, items)?;
        let hash = hash_elements(HASH_SEED, texts.iter().map(String::as_str));
        let (json, blob) = place_json(tx, Some(&json)).map_err(sql_context(context))?;
        tx.prepare_cached(REPLACE_VALUE)
            .and_then(|mut s| {
                s.execute(params![
                    thread_id,
                    ns,
                    channel,
                    dependent,
                    json,
                    None::<String>,
                    0,
                    items.len() as i64,
                    hash as i64,
                    blob
                ])
            })
            .map_err(sql_context(context))?;
    }
    Ok(())
}

/// The versions a read needs, per `(thread, namespace, channel)`.
pub(crate) type Wanted<'a> = BTreeMap<(&'a str, &'a str, &'a str), Vec<String>>;

/// Adds the values `checkpoint` names to `wanted`.
pub(crate) fn add_keys<'a>(
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

/// One stored row as read, not decoded.
#[derive(Debug)]
pub(crate) struct RawValue {
    value: SqlValue,
    /// The row names a `channel_blobs` row that is not there (damage).
    lost: bool,
    base: Option<String>,
    len: Option<i64>,
    hash: Option<i64>,
}

/// Stored values as read, keyed by where they live; decoded only when a
/// checkpoint that names them is built.
pub(crate) type RawValues = FastMap<ValueKey, RawValue>;

/// 64-bit FNV-1a as a `Hasher`: the element hashes stored with array
/// values ([`hash_elements`]), and the maps of one read (keyed by short
/// strings the saver builds, they hash much faster than with SipHash).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(HASH_SEED)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A `HashMap` with [`Fnv`].
pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// The counter of a version as `CAST(version AS INTEGER)` computes it,
/// for the versions this saver writes (`"<counter>"`,
/// `"<counter>.<salt>"`, LangGraph's `"<digits>.<fraction>"`); `None` for
/// any other text (its rows are then found by a scan without bounds).
fn seq_of(version: &str) -> Option<i64> {
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
pub(crate) fn load(
    tx: &Connection,
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
            pending = load_span(tx, cache, (t, n), pending, &mut loaded)?;
        }
        for (c, versions) in pending {
            load_channel(tx, cache, (t, n, c), versions, &mut loaded)?;
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

/// The rows of one thread and namespace with counters from `?3` to `?4`,
/// newest first (every channel's: one range scan).
pub(crate) const SCAN_SPAN: &str = concat!(
    "SELECT v.seq, v.channel, v.version, ",
    value_of_row!(),
    ", v.base, v.len, v.hash, v.blob FROM channel_values AS v \
     WHERE v.thread_id = ?1 AND v.checkpoint_ns = ?2 AND v.seq BETWEEN ?3 AND ?4 \
     ORDER BY v.seq DESC"
);

/// Reads the named versions of several channels of one thread and
/// namespace in one range scan over their counters, when the span is
/// short. A channel is done when each of its named versions is a full
/// value, a cached array (see [`load`]) or not stored (its counter is in
/// the span); the channels that need a delta chain walked, and all of them
/// when the span is too wide, are returned for [`load_channel`].
fn load_span<'w>(
    tx: &Connection,
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
    let context = || format!("load the channel values of thread {thread_id:?}");
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
    let mut stmt = tx.prepare_cached(SCAN_SPAN).map_err(sql_context(context))?;
    let mut rows = stmt
        .query(params![thread_id, ns, lo, hi])
        .map_err(sql_context(context))?;
    while let Some(row) = rows.next().map_err(sql_context(context))? {
        let channel = row
            .get_ref(1)
            .and_then(|v| Ok(v.as_str()?))
            .map_err(sql_context(context))?;
        let version = row
            .get_ref(2)
            .and_then(|v| Ok(v.as_str()?))
            .map_err(sql_context(context))?;
        let Some(at) = named
            .iter()
            .position(|(c, v, open)| *open && *c == channel && *v == version)
        else {
            continue;
        };
        let (c, v, _) = named[at];
        if chained.contains(c) {
            continue;
        }
        let raw = raw_value(row.get(3), row.get(4), row.get(5), row.get(6), row.get(7))
            .map_err(sql_context(context))?;
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
            match hit {
                Some(value) => {
                    let uses = uses(versions_of(&channels, c), v);
                    loaded.known.insert(key.clone(), (value, uses));
                }
                None => {
                    chained.insert(c);
                    continue;
                }
            }
        }
        loaded.raw.insert(key, raw);
        named[at].2 = false;
        left -= 1;
        if left == 0 {
            break;
        }
    }
    Ok(channels
        .into_iter()
        .filter(|(c, _)| chained.contains(c))
        .collect())
}

/// [`load`] for the versions of one channel.
fn load_channel(
    tx: &Connection,
    cache: Option<&ReadCache>,
    (thread_id, ns, channel): (&str, &str, &str),
    versions: &[String],
    loaded: &mut Loaded,
) -> Result<()> {
    let context = || format!("load the values of channel {channel:?} of thread {thread_id:?}");
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
    let mut wanted: FastMap<String, Option<i64>> =
        versions.iter().map(|v| (v.clone(), seq_of(v))).collect();
    // Versions read, and the bases of those served from the cache whose
    // chains were not followed (yet).
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut unfollowed: FastMap<String, (String, i64)> = FastMap::default();
    // Versions some read row builds on.
    let mut bases: BTreeSet<String> = BTreeSet::new();
    while !wanted.is_empty() {
        let unknown = wanted.values().any(Option::is_none);
        let start = if unknown {
            i64::MAX
        } else {
            wanted.values().flatten().copied().max().unwrap_or(i64::MAX)
        };
        let mut floor = if unknown {
            i64::MIN
        } else {
            wanted.values().flatten().copied().min().unwrap_or(i64::MIN)
        };
        // Bases the scan has already passed: read by the next scan.
        let mut later: FastMap<String, Option<i64>> = FastMap::default();
        let mut stmt = tx
            .prepare_cached(SCAN_CHANNEL)
            .map_err(sql_context(context))?;
        let mut rows = stmt
            .query(params![thread_id, ns, channel, start])
            .map_err(sql_context(context))?;
        while let Some(row) = rows.next().map_err(sql_context(context))? {
            let seq: i64 = row.get(0).map_err(sql_context(context))?;
            if seq < floor {
                break;
            }
            let version: String = row.get(1).map_err(sql_context(context))?;
            if wanted.remove(&version).is_none() {
                continue;
            }
            let raw = raw_value(row.get(2), row.get(3), row.get(5), row.get(6), row.get(7))
                .map_err(sql_context(context))?;
            let base_seq: Option<i64> = row.get(4).map_err(sql_context(context))?;
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
            loaded.raw.insert(key(version.clone()), raw);
            while let Some((base, base_seq)) = follow.take() {
                bases.insert(base.clone());
                if found.contains(&base) {
                    // Read already; if its own chain was skipped, follow it.
                    follow = unfollowed.remove(&base);
                    continue;
                }
                if wanted.contains_key(&base) || later.contains_key(&base) {
                    continue;
                }
                // Rows of one counter come in no promised order: a base
                // with this row's counter is read by the next scan.
                let passed = base_seq >= seq;
                if passed {
                    later.insert(base, Some(base_seq));
                } else {
                    floor = floor.min(base_seq);
                    wanted.insert(base, Some(base_seq));
                }
            }
            if wanted.is_empty() {
                break;
            }
        }
        // What is still wanted is not stored: a named version with no row
        // reads as absent, a missing base as damage (by the resolver).
        later.retain(|v, _| !found.contains(v));
        wanted = later;
    }
    Ok(())
}

/// From how many checkpoints of one thread and namespace a page reads all
/// of that place's values at once ([`load_place`]).
pub(crate) const RANGE_READ_ROWS: usize = 32;

/// Every value of one thread and namespace, in one range scan; used when a
/// page needs most of them. Values of channels no key names are skipped.
pub(crate) fn load_place(
    tx: &Connection,
    thread_id: &str,
    ns: &str,
    wanted: &Wanted<'_>,
) -> Result<RawValues> {
    let channels: BTreeSet<&str> = wanted.keys().map(|k| k.2).collect();
    let context = || format!("load the channel values of thread {thread_id:?}");
    let mut stmt = tx
        .prepare_cached(concat!(
            "SELECT v.channel, v.version, ",
            value_of_row!(),
            ", v.base, v.len, v.hash, v.blob FROM channel_values AS v \
             WHERE v.thread_id = ?1 AND v.checkpoint_ns = ?2",
        ))
        .map_err(sql_context(context))?;
    let mut rows = stmt.query([thread_id, ns]).map_err(sql_context(context))?;
    let mut loaded = RawValues::default();
    while let Some(row) = rows.next().map_err(sql_context(context))? {
        let channel: String = row.get(0).map_err(sql_context(context))?;
        if !channels.contains(channel.as_str()) {
            continue;
        }
        let version: String = row.get(1).map_err(sql_context(context))?;
        let raw = raw_value(row.get(2), row.get(3), row.get(4), row.get(5), row.get(6))
            .map_err(sql_context(context))?;
        loaded.insert((thread_id.to_owned(), ns.to_owned(), channel, version), raw);
    }
    Ok(loaded)
}

/// A [`RawValue`] from its columns.
fn raw_value(
    value: rusqlite::Result<SqlValue>,
    base: rusqlite::Result<SqlValue>,
    len: rusqlite::Result<SqlValue>,
    hash: rusqlite::Result<SqlValue>,
    blob: rusqlite::Result<SqlValue>,
) -> rusqlite::Result<RawValue> {
    let value = value?;
    Ok(RawValue {
        lost: value == SqlValue::Null && blob? != SqlValue::Null,
        value,
        base: match base? {
            SqlValue::Text(s) => Some(s),
            _ => None,
        },
        len: match len? {
            SqlValue::Integer(i) => Some(i),
            _ => None,
        },
        hash: match hash? {
            SqlValue::Integer(i) => Some(i),
            _ => None,
        },
    })
}

/// Decodes values into checkpoints one checkpoint at a time. Consecutive
/// checkpoints of a history share most values, so the values of the last
/// checkpoint built are kept decoded and reused: an unchanged channel is
/// cloned, and an appended one, walked newest first, is the newer value cut
/// to its length. Nothing older is kept.
#[derive(Debug)]
pub(crate) struct Resolver {
    raw: RawValues,
    recent: FastMap<ValueKey, Value>,
    /// Values found in the [`ReadCache`] by [`load`].
    known: FastMap<ValueKey, (Value, usize)>,
    /// Where arrays built from their chains are remembered.
    cache: Option<Arc<ReadCache>>,
}

impl Resolver {
    /// A resolver over what [`load`] read; with `cache`, arrays it builds
    /// from their chains are added to it.
    pub(crate) fn new(loaded: Loaded, cache: Option<Arc<ReadCache>>) -> Self {
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
    pub(crate) fn resolve(
        &mut self,
        thread_id: &str,
        ns: &str,
        checkpoint: &mut Checkpoint,
        next: Option<&Checkpoint>,
    ) -> Result<()> {
        let mut values = BTreeMap::new();
        let mut recent = FastMap::with_capacity_and_hasher(
            checkpoint.channel_versions.len(),
            Default::default(),
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
    fn value_of(
        &mut self,
        key: &ValueKey,
        thread_id: &str,
        checkpoint_id: &str,
    ) -> Result<Option<Value>> {
        let corrupt = |version: &str, why: String| Error::Corrupt {
            thread_id: thread_id.to_owned(),
            checkpoint_id: checkpoint_id.to_owned(),
            what: format!("value of channel {:?} at version {version}: {why}", key.2),
        };
        if let Some((value, uses)) = self.known.get_mut(key)
            && *uses > 1
        {
            *uses -= 1;
            return Ok(Some(value.clone()));
        }
        if let Some((value, _)) = self.known.remove(key) {
            return Ok(Some(value));
        }
        if let Some(value) = self.recent.remove(key) {
            return Ok(Some(value));
        }
        // A value of the previous checkpoint that is a delta on this one:
        // this one is its prefix.
        if let Some(len) = self.raw.get(key).and_then(|r| r.len) {
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
                return Ok(Some(Value::Array(items)));
            }
        }
        // Walk the chain down to a snapshot.
        let mut bytes = 0usize;
        // The (length, hash) of every row of the chain: the value read at
        // each is a prefix of this one (for the read cache).
        let mut points: Vec<(i64, i64)> = Vec::new();
        let mut chain: Vec<&ValueKey> = Vec::new();
        let mut at = key.clone();
        let mut value = loop {
            let Some(row) = self.raw.get_key_value(&at) else {
                if chain.is_empty() {
                    return Ok(None);
                }
                return Err(corrupt(&at.3, "the base of a delta is missing".into()));
            };
            if row.1.lost {
                return Err(corrupt(
                    &at.3,
                    "its long value is missing from channel_blobs".into(),
                ));
            }
            match &row.1.base {
                None => match &row.1.value {
                    SqlValue::Null => {
                        if chain.is_empty() {
                            return Ok(None);
                        }
                        return Err(corrupt(&at.3, "the base of a delta has no value".into()));
                    }
                    raw => {
                        bytes += raw_bytes(raw);
                        let value = decode(raw).map_err(|why| corrupt(&at.3, why))?;
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
                        return Err(corrupt(&key.3, "delta chain too long (a cycle?)".into()));
                    }
                    chain.push(row.0);
                    at = (at.0, at.1, at.2, base.clone());
                }
            }
        };
        for delta in chain.into_iter().rev() {
            let row = &self.raw[delta];
            bytes += raw_bytes(&row.value);
            let Value::Array(items) = &mut value else {
                return Err(corrupt(&delta.3, "a delta's base is not an array".into()));
            };
            match decode(&row.value).map_err(|why| corrupt(&delta.3, why))? {
                Value::Array(more) => items.extend(more),
                _ => return Err(corrupt(&delta.3, "a delta is not an array".into())),
            }
            if row.len.and_then(|l| usize::try_from(l).ok()) != Some(items.len()) {
                return Err(corrupt(&delta.3, "a delta's length does not add up".into()));
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
}

/// The bytes of a stored value's JSON.
fn raw_bytes(raw: &SqlValue) -> usize {
    match raw {
        SqlValue::Text(s) => s.len(),
        SqlValue::Blob(b) => b.len(),
        _ => 0,
    }
}

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
pub(crate) struct ReadCache {
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
    pub(crate) fn new(budget: usize) -> Self {
        ReadCache {
            inner: Mutex::default(),
            budget,
        }
    }

    /// Whether it keeps anything.
    pub(crate) fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadInner> {
        // Every entry is checked against the database before use.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether anything is cached for a `(thread, namespace, channel)`.
    fn knows_place(&self, place: &(String, String, String)) -> bool {
        self.lock().map.contains_key(place)
    }

    /// The value of a row of the channel `place` with this count and hash,
    /// if a cached value was built through such a row.
    fn get(&self, place: &(String, String, String), len: i64, hash: i64) -> Option<Value> {
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

    fn insert(&self, key: &ValueKey, points: Vec<(i64, i64)>, value: &Value, bytes: usize) {
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
    pub(crate) fn forget_thread(&self, thread_id: &str) {
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
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.entries = 0;
        inner.bytes = 0;
    }
}

/// What [`load`] read: values found in the cache, and the raw rows of
/// the others with their chains.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    raw: RawValues,
    /// With how many more times each is named in the page.
    known: FastMap<ValueKey, (Value, usize)>,
}

impl From<RawValues> for Loaded {
    fn from(raw: RawValues) -> Self {
        Loaded {
            raw,
            known: FastMap::default(),
        }
    }
}

/// Decodes one stored value.
fn decode(raw: &SqlValue) -> Result<Value, String> {
    let json = match raw {
        SqlValue::Text(s) => s.as_str(),
        SqlValue::Blob(b) => std::str::from_utf8(b).map_err(|e| format!("invalid UTF-8: {e}"))?,
        other => return Err(format!("is {other:?}, not JSON text")),
    };
    serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))
}

/// Deletes the values of `thread_id` that no checkpoint needs any more.
pub(crate) fn collect_garbage(tx: &Connection, thread_id: &str) -> Result<()> {
    let context = || format!("drop unused channel values of thread {thread_id:?}");
    let blobs: Vec<i64> = tx
        .prepare_cached(COLLECT_GARBAGE)
        .and_then(|mut stmt| {
            stmt.query_map([thread_id], |r| r.get::<_, Option<i64>>(0))?
                .filter_map(|id| id.transpose())
                .collect()
        })
        .map_err(sql_context(context))?;
    if !blobs.is_empty() {
        let ids = encode_json(thread_id, || "long value ids".to_owned(), &blobs)?;
        tx.prepare_cached(DELETE_BLOBS)
            .and_then(|mut stmt| stmt.execute([ids]))
            .map_err(sql_context(context))?;
    }
    Ok(())
}

/// Deletes every value of `thread_id`, long values first.
pub(crate) fn delete_thread(tx: &Connection, thread_id: &str) -> Result<()> {
    for statement in [
        "DELETE FROM channel_blobs WHERE id IN \
         (SELECT blob FROM channel_values WHERE thread_id = ?1 AND blob IS NOT NULL)",
        "DELETE FROM channel_values WHERE thread_id = ?1",
    ] {
        tx.prepare_cached(statement)
            .and_then(|mut stmt| stmt.execute([thread_id]))
            .map_err(sql_context(|| {
                format!("delete channel values of thread {thread_id:?}")
            }))?;
    }
    Ok(())
}

/// Copies every value of `source` (whole delta chains) to `target`. Long
/// values are copied too, their ids moved by one offset past every id in
/// use (each value row owns its `channel_blobs` row).
pub(crate) fn copy_thread(tx: &Connection, source: &str, target: &str) -> Result<()> {
    let context = || format!("copy channel values of thread {source:?} to {target:?}");
    let offset: i64 = tx
        .prepare_cached(
            "SELECT coalesce((SELECT max(id) FROM channel_blobs) \
             - (SELECT min(blob) FROM channel_values WHERE thread_id = ?1) + 1, 0)",
        )
        .and_then(|mut stmt| stmt.query_row([source], |r| r.get(0)))
        .map_err(sql_context(context))?;
    tx.prepare_cached(
        "INSERT INTO channel_blobs (id, value) SELECT b.id + ?2, b.value \
         FROM channel_values AS v CROSS JOIN channel_blobs AS b ON b.id = v.blob \
         WHERE v.thread_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![source, offset]))
    .map_err(sql_context(context))?;
    tx.prepare_cached(
        "INSERT INTO channel_values (thread_id, checkpoint_ns, channel, seq, version, value, \
         blob, base, depth, len, hash) \
         SELECT ?2, checkpoint_ns, channel, seq, version, value, blob + ?3, base, depth, len, \
         hash FROM channel_values WHERE thread_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![source, target, offset]))
    .map_err(sql_context(context))?;
    Ok(())
}
