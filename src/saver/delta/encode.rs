//! The encoder: a checkpoint's values as the rows a `put` writes, deltas
//! where the [`DeltaCache`] allows.

use serde_json::Value;

use super::cache::DeltaCache;
use super::hash::{HASH_SEED, hash_elements};
use crate::saver::checkpoint::{ChannelVersions, Checkpoint};
use crate::saver::error::Result;
use crate::saver::rows::encode_json;

/// Serialises array elements one by one: their texts, and the array's JSON
/// made of them.
pub(super) fn encode_elements(
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

/// How a value is stored.
#[derive(Debug)]
pub(super) enum Form {
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
pub struct Row {
    pub(super) channel: String,
    pub(super) version: String,
    pub(super) form: Form,
    /// Hash of the full array's elements (arrays only).
    pub(super) hash: u64,
}

/// What the cache learns once a put commits.
#[derive(Debug)]
pub(super) enum After<'a> {
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
pub(super) struct Learned<'a> {
    pub(super) channel: &'a str,
    pub(super) version: String,
    pub(super) hash: u64,
    pub(super) after: After<'a>,
}

/// The values of a `put`, serialised: the rows to write, and what the
/// cache learns once they are committed.
#[derive(Debug)]
pub struct Encoded<'a> {
    /// The rows to write.
    pub rows: Vec<Row>,
    pub(super) learned: Vec<Learned<'a>>,
}

/// How [`encode`] serialises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Deltas where the cache allows; values of channels not in
    /// `new_versions` are left unserialised.
    Lean,
    /// No deltas; every value serialised (the retry after [`store`](super::store) said
    /// [`Stored::Retry`]).
    Complete,
}

/// Serialises the values `put` must store: those of the channels in
/// `new_versions`, as deltas where the cache allows. Runs before the
/// transaction, so the write lock is held only for SQL.
pub fn encode<'a>(
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

/// An array's element count as stored (SQL integers are `i64`). A slice
/// holds at most `isize::MAX` elements, so the fallback is never taken.
pub(super) fn stored_len(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
            (json, Some(stored_len(items.len())), hash)
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
                base_len: stored_len(n),
                base_hash,
                json,
                len: stored_len(items.len()),
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
            len: Some(stored_len(items.len())),
        },
        hash,
    });
    Ok(())
}

/// What [`store`](super::store) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Every row is written.
    Done,
    /// Nothing is written: a delta's base changed, or a value left
    /// unserialised is missing. Encode again with [`Mode::Complete`].
    Retry,
}
