//! Channel values: stored once per `(thread, namespace, channel, version)`
//! in `channel_values`, written and read only through this module (so that
//! a later encoding, such as deltas of append-only channels, changes one
//! place).

use std::collections::{BTreeSet, HashMap};

use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;

use super::sql::encode_json;
use super::sql_context;
use crate::saver::checkpoint::{ChannelVersions, Checkpoint};
use crate::saver::error::{Error, Result};

/// Stores (or replaces) one value.
const UPSERT_VALUE: &str = "INSERT INTO channel_values (thread_id, checkpoint_ns, channel, \
     version, value) VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO UPDATE SET value = excluded.value";

/// Whether a value is stored.
const VALUE_EXISTS: &str = "SELECT 1 FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 AND version = ?4";

/// Many values at once: `?1` is a JSON array of `[thread, ns, channel,
/// version]`; each key is one primary-key lookup.
pub(crate) const SELECT_VALUES_BATCH: &str = "SELECT v.thread_id, v.checkpoint_ns, v.channel, v.version, \
     v.value FROM json_each(?1) AS k CROSS JOIN channel_values AS v \
     ON v.thread_id = k.value ->> 0 AND v.checkpoint_ns = k.value ->> 1 \
     AND v.channel = k.value ->> 2 AND v.version = k.value ->> 3";

/// Drops the values of thread `?1` that no remaining checkpoint names.
const COLLECT_GARBAGE: &str = "DELETE FROM channel_values WHERE thread_id = ?1 \
     AND (checkpoint_ns, channel, version) NOT IN \
     (SELECT c.checkpoint_ns, e.key, CAST(e.value AS TEXT) \
      FROM checkpoints AS c, json_each(c.checkpoint, '$.channel_versions') AS e \
      WHERE c.thread_id = ?1)";

/// Where one value lives: thread, namespace, channel, version (as text).
pub(crate) type ValueKey = (String, String, String, String);

/// A value of a `put`, serialised before the write transaction starts.
#[derive(Debug)]
pub(crate) struct Encoded<'a> {
    channel: &'a str,
    version: String,
    /// `Some(json)`: announced in `new_versions`, stored as is (`None`
    /// inside: versioned without a value). `None`: not announced; stored
    /// only if that version was never stored.
    announced: Option<Option<String>>,
}

/// Serialises the values `put` must store: those of the channels in
/// `new_versions`. Runs before the transaction, so the write lock is held
/// only for SQL.
pub(crate) fn encode<'a>(
    thread_id: &str,
    checkpoint: &'a Checkpoint,
    new_versions: &ChannelVersions,
) -> Result<Vec<Encoded<'a>>> {
    let mut out = Vec::with_capacity(checkpoint.channel_versions.len());
    for (channel, version) in &checkpoint.channel_versions {
        let value = checkpoint.channel_values.get(channel);
        let announced = if new_versions.contains_key(channel) {
            let json = value
                .map(|v| encode_json(thread_id, || format!("channel {channel:?}"), v))
                .transpose()?;
            Some(json)
        } else if value.is_some() {
            None
        } else {
            // Not announced and no value: nothing to store.
            continue;
        };
        out.push(Encoded {
            channel,
            version: version.to_string(),
            announced,
        });
    }
    Ok(out)
}

/// Writes the encoded values of one checkpoint. A value not announced in
/// `new_versions` is looked up first and serialised only if missing, so an
/// unchanged channel is neither re-serialised nor stored twice.
pub(crate) fn store(
    tx: &Transaction<'_>,
    thread_id: &str,
    ns: &str,
    checkpoint: &Checkpoint,
    encoded: &[Encoded<'_>],
) -> Result<()> {
    let context = || format!("store channel values of checkpoint {}", checkpoint.id);
    let mut upsert = tx
        .prepare_cached(UPSERT_VALUE)
        .map_err(sql_context(context))?;
    let mut exists = tx
        .prepare_cached(VALUE_EXISTS)
        .map_err(sql_context(context))?;
    for value in encoded {
        let json = match &value.announced {
            Some(json) => json.clone(),
            None => {
                let stored = exists
                    .query_row(params![thread_id, ns, value.channel, value.version], |_| {
                        Ok(())
                    })
                    .optional()
                    .map_err(sql_context(context))?
                    .is_some();
                if stored {
                    continue;
                }
                checkpoint
                    .channel_values
                    .get(value.channel)
                    .map(|v| encode_json(thread_id, || format!("channel {:?}", value.channel), v))
                    .transpose()?
            }
        };
        upsert
            .execute(params![thread_id, ns, value.channel, value.version, json])
            .map_err(sql_context(context))?;
    }
    Ok(())
}

/// The keys of the values `checkpoint` names.
pub(crate) fn keys_of(thread_id: &str, ns: &str, checkpoint: &Checkpoint) -> Vec<ValueKey> {
    checkpoint
        .channel_versions
        .iter()
        .map(|(ch, v)| {
            (
                thread_id.to_owned(),
                ns.to_owned(),
                ch.clone(),
                v.to_string(),
            )
        })
        .collect()
}

/// Stored values as read, keyed by where they live; decoded only when a
/// checkpoint that names them is built.
pub(crate) type RawValues = HashMap<ValueKey, SqlValue>;

/// Loads many values in one query, without decoding them.
pub(crate) fn load(tx: &Transaction<'_>, keys: &BTreeSet<ValueKey>) -> Result<RawValues> {
    let mut loaded = RawValues::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(loaded);
    }
    let context = || format!("load {} channel values", keys.len());
    let arg: Vec<[&str; 4]> = keys
        .iter()
        .map(|(t, n, c, v)| [t.as_str(), n.as_str(), c.as_str(), v.as_str()])
        .collect();
    let arg = serde_json::to_string(&arg).map_err(|source| Error::Serialize {
        thread_id: String::new(),
        what: "value keys".into(),
        source,
    })?;
    let mut stmt = tx
        .prepare_cached(SELECT_VALUES_BATCH)
        .map_err(sql_context(context))?;
    let rows = stmt
        .query_map([arg], |row| {
            let key: ValueKey = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            Ok((key, row.get::<_, SqlValue>(4)?))
        })
        .map_err(sql_context(context))?;
    for row in rows {
        let (key, raw) = row.map_err(sql_context(context))?;
        loaded.insert(key, raw);
    }
    Ok(loaded)
}

/// Decodes values into checkpoints one checkpoint at a time. Consecutive
/// checkpoints of a history share most values, so the values of the last
/// checkpoint built are kept decoded and reused; nothing older is.
#[derive(Debug)]
pub(crate) struct Resolver {
    raw: RawValues,
    recent: HashMap<ValueKey, Value>,
}

impl Resolver {
    /// A resolver over values read by [`load`].
    pub(crate) fn new(raw: RawValues) -> Self {
        Resolver {
            raw,
            recent: HashMap::new(),
        }
    }

    /// Fills `checkpoint.channel_values`: each channel at the version the
    /// checkpoint names; a channel with no stored value is absent. A value
    /// that does not decode is [`Error::Corrupt`].
    pub(crate) fn resolve(
        &mut self,
        thread_id: &str,
        ns: &str,
        checkpoint: &mut Checkpoint,
    ) -> Result<()> {
        let mut values = std::collections::BTreeMap::new();
        let mut recent = HashMap::with_capacity(checkpoint.channel_versions.len());
        for (channel, version) in &checkpoint.channel_versions {
            let key = (
                thread_id.to_owned(),
                ns.to_owned(),
                channel.clone(),
                version.to_string(),
            );
            let value = match self.recent.remove(&key) {
                Some(value) => value,
                None => match self.raw.get(&key) {
                    None | Some(SqlValue::Null) => continue,
                    Some(raw) => decode(raw).map_err(|why| Error::Corrupt {
                        thread_id: thread_id.to_owned(),
                        checkpoint_id: checkpoint.id.clone(),
                        what: format!("value of channel {channel:?} at version {version}: {why}"),
                    })?,
                },
            };
            values.insert(channel.clone(), value.clone());
            recent.insert(key, value);
        }
        self.recent = recent;
        checkpoint.channel_values = values;
        Ok(())
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

/// Deletes the values of `thread_id` that no checkpoint names any more.
pub(crate) fn collect_garbage(tx: &Transaction<'_>, thread_id: &str) -> Result<()> {
    tx.prepare_cached(COLLECT_GARBAGE)
        .and_then(|mut stmt| stmt.execute([thread_id]))
        .map_err(sql_context(|| {
            format!("drop unused channel values of thread {thread_id:?}")
        }))?;
    Ok(())
}

/// Deletes every value of `thread_id`.
pub(crate) fn delete_thread(tx: &Transaction<'_>, thread_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM channel_values WHERE thread_id = ?1")
        .and_then(|mut stmt| stmt.execute([thread_id]))
        .map_err(sql_context(|| {
            format!("delete channel values of thread {thread_id:?}")
        }))?;
    Ok(())
}

/// Copies every value of `source` to `target`.
pub(crate) fn copy_thread(tx: &Transaction<'_>, source: &str, target: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO channel_values (thread_id, checkpoint_ns, channel, version, value) \
         SELECT ?2, checkpoint_ns, channel, version, value FROM channel_values \
         WHERE thread_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute([source, target]))
    .map_err(sql_context(|| {
        format!("copy channel values of thread {source:?} to {target:?}")
    }))?;
    Ok(())
}
