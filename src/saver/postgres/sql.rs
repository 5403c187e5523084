//! The statements of the PostgreSQL saver and the mapping of their rows.
//! Every write is one statement (data-modifying CTEs), so a `put` or
//! `put_with_writes` costs one round trip and is atomic.

use std::collections::BTreeMap;

use postgres::types::{ToSql, Type};
use postgres::{GenericClient, Row};
use serde_json::Value;

use crate::saver::checkpoint::{Checkpoint, CheckpointMetadata};
use crate::saver::checks::checkpoint_config;
use crate::saver::error::{Error, Result};
use crate::saver::langgraph_values::{self as values, is_inline};
use crate::saver::tuple::{CheckpointTuple, PendingWrite};
use crate::saver::writes::{WriteBatch, sort_pending_writes, special_idx, write_idx};

/// The writes of a batch list: regular writes first-come per
/// `(task_id, idx)`, special ones last-wins (as separate `put_writes`
/// calls would leave them), in `checkpoint_writes` column arrays.
#[derive(Debug, Default)]
pub(crate) struct WriteRows {
    pub(crate) task_ids: Vec<String>,
    pub(crate) task_paths: Vec<String>,
    pub(crate) idxs: Vec<i32>,
    pub(crate) channels: Vec<String>,
    pub(crate) types: Vec<&'static str>,
    pub(crate) blobs: Vec<Vec<u8>>,
}

impl WriteRows {
    pub(crate) fn new(batches: &[WriteBatch<'_>]) -> Self {
        let mut seen: BTreeMap<(&str, i64), usize> = BTreeMap::new();
        let mut rows = WriteRows::default();
        for batch in batches {
            for (position, (channel, value)) in batch.writes.iter().enumerate() {
                let idx = write_idx(channel, position);
                let (kind, blob) = values::dump_channel(channel, value);
                let slot = match seen.get(&(batch.task_id, idx)) {
                    Some(_) if special_idx(channel).is_none() => continue,
                    Some(&slot) => slot,
                    None => {
                        seen.insert((batch.task_id, idx), rows.idxs.len());
                        rows.task_ids.push(batch.task_id.to_owned());
                        rows.task_paths.push(String::new());
                        rows.idxs.push(i32::try_from(idx).unwrap_or(i32::MAX));
                        rows.channels.push(String::new());
                        rows.types.push("");
                        rows.blobs.push(Vec::new());
                        rows.idxs.len() - 1
                    }
                };
                batch.task_path.clone_into(&mut rows.task_paths[slot]);
                channel.clone_into(&mut rows.channels[slot]);
                rows.types[slot] = kind;
                rows.blobs[slot] = blob;
            }
        }
        rows
    }

    /// The writes of an imported tuple, with their own `idx` and
    /// `task_path` (a repeated `(task_id, idx)` replaces the earlier).
    pub(crate) fn from_pending(writes: &[PendingWrite]) -> Self {
        let mut last: BTreeMap<(&str, i64), &PendingWrite> = BTreeMap::new();
        for w in writes {
            last.insert((w.task_id.as_str(), w.idx), w);
        }
        let mut rows = WriteRows::default();
        for w in last.values() {
            let (kind, blob) = values::dump_channel(&w.channel, &w.value);
            rows.task_ids.push(w.task_id.clone());
            rows.task_paths.push(w.task_path.clone());
            rows.idxs.push(i32::try_from(w.idx).unwrap_or(i32::MIN));
            rows.channels.push(w.channel.clone());
            rows.types.push(kind);
            rows.blobs.push(blob);
        }
        rows
    }
}

/// What one `put` statement stores.
pub(crate) struct PutParams<'a> {
    pub(crate) thread_id: &'a str,
    pub(crate) ns: &'a str,
    /// The parent (the config's checkpoint), which the writes belong to.
    pub(crate) parent: Option<&'a str>,
    pub(crate) writes: &'a WriteRows,
    /// Whether the parent must exist (there are writes for it).
    pub(crate) parent_must_exist: bool,
    pub(crate) checkpoint_id: &'a str,
    pub(crate) rows: &'a CheckpointRows,
}

/// Runs [`put_sql`]: `Ok(false)` when the parent had to exist and does
/// not (then nothing was stored).
pub(crate) fn exec_put(
    client: &mut impl GenericClient,
    p: &PutParams<'_>,
    what: &str,
) -> Result<bool> {
    let (writes, rows) = (p.writes, p.rows);
    let params: [&(dyn ToSql + Sync); 17] = [
        &p.thread_id,
        &p.ns,
        &p.parent,
        &writes.task_ids,
        &writes.task_paths,
        &writes.idxs,
        &writes.channels,
        &writes.types,
        &writes.blobs,
        &p.parent_must_exist,
        &p.checkpoint_id,
        &rows.checkpoint,
        &rows.metadata,
        &rows.channels,
        &rows.versions,
        &rows.types,
        &rows.blobs,
    ];
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params.into_iter().zip(put_types()).collect();
    let found = client
        .query_typed(&put_sql(), &typed)
        .map_err(|e| Error::backend(super::BACKEND, what.to_owned(), e))?;
    Ok(found.first().is_some_and(|r| r.get::<_, bool>(0)))
}

/// Runs [`put_writes_sql`] against checkpoint `id`: `Ok(false)` when it
/// does not exist (then nothing was stored).
pub(crate) fn exec_put_writes(
    client: &mut impl GenericClient,
    (thread_id, ns, id): (&str, &str, &str),
    writes: &WriteRows,
    what: &str,
) -> Result<bool> {
    let params: [&(dyn ToSql + Sync); 9] = [
        &thread_id,
        &ns,
        &id,
        &writes.task_ids,
        &writes.task_paths,
        &writes.idxs,
        &writes.channels,
        &writes.types,
        &writes.blobs,
    ];
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params.into_iter().zip(WRITES_TYPES).collect();
    let found = client
        .query_typed(&put_writes_sql(), &typed)
        .map_err(|e| Error::backend(super::BACKEND, what.to_owned(), e))?;
    Ok(found.first().is_some_and(|r| r.get::<_, bool>(0)))
}

/// The blob rows and the JSONB of a checkpoint, as Python stores it:
/// inline primitives in `channel_values`, the rest one blob per
/// `(channel, version)`.
#[derive(Debug)]
pub(crate) struct CheckpointRows {
    pub(crate) checkpoint: Value,
    pub(crate) metadata: Value,
    pub(crate) channels: Vec<String>,
    pub(crate) versions: Vec<String>,
    pub(crate) types: Vec<&'static str>,
    pub(crate) blobs: Vec<Vec<u8>>,
}

impl CheckpointRows {
    pub(crate) fn new(
        thread_id: &str,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
    ) -> Result<Self> {
        let serialize = |what: &str, e| Error::Serialize {
            thread_id: thread_id.to_owned(),
            what: format!("{what} of checkpoint {}", checkpoint.id),
            source: e,
        };
        let mut rows = CheckpointRows {
            checkpoint: Value::Null,
            metadata: serde_json::to_value(metadata).map_err(|e| serialize("the metadata", e))?,
            channels: Vec::new(),
            versions: Vec::new(),
            types: Vec::new(),
            blobs: Vec::new(),
        };
        let mut inline = serde_json::Map::new();
        for (channel, value) in &checkpoint.channel_values {
            if is_inline(value) {
                inline.insert(channel.clone(), value.clone());
                continue;
            }
            // check_put has made sure every value has a version.
            let Some(version) = checkpoint.channel_versions.get(channel) else {
                continue;
            };
            rows.channels.push(channel.clone());
            rows.versions.push(version.to_string());
            rows.types.push(values::MSGPACK);
            rows.blobs.push(values::channel_msgpack(channel, value));
        }
        let mut json = serde_json::to_value(StoredCheckpoint {
            v: checkpoint.v,
            id: &checkpoint.id,
            ts: &checkpoint.ts,
            channel_versions: &checkpoint.channel_versions,
            versions_seen: &checkpoint.versions_seen,
            updated_channels: checkpoint.updated_channels.as_ref(),
        })
        .map_err(|e| serialize("the checkpoint", e))?;
        if let Some(map) = json.as_object_mut() {
            map.insert("channel_values".into(), Value::Object(inline));
        }
        rows.checkpoint = json;
        Ok(rows)
    }
}

/// The checkpoint JSONB without its values.
#[derive(serde::Serialize)]
struct StoredCheckpoint<'a> {
    v: u32,
    id: &'a str,
    ts: &'a str,
    channel_versions: &'a crate::ChannelVersions,
    versions_seen: &'a BTreeMap<String, crate::ChannelVersions>,
    updated_channels: Option<&'a Vec<String>>,
}

/// The `target` CTE checks that `$1, $2, $3` names a checkpoint (for
/// `put_writes`) or, for `put`, that it does unless `$10` is false; the
/// `writes` CTE stores `$4..$9` against it. Special writes (negative idx)
/// replace, others are kept first-come (an update only where the WHERE
/// holds; [`WriteRows`] has no key twice, as one statement requires).
const WRITES_CTES: &str = "
writes AS (
    INSERT INTO checkpoint_writes
        (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
    SELECT $1, $2, $3, w.task_id, w.task_path, w.idx, w.channel, w.type, w.blob
    FROM unnest($4::text[], $5::text[], $6::int4[], $7::text[], $8::text[], $9::bytea[])
        AS w(task_id, task_path, idx, channel, type, blob), target
    WHERE target.ok
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
        task_path = EXCLUDED.task_path, channel = EXCLUDED.channel,
        type = EXCLUDED.type, blob = EXCLUDED.blob
    WHERE EXCLUDED.idx < 0
)";

/// The parameter types `$1..$9` of [`WRITES_CTES`].
pub(crate) const WRITES_TYPES: [Type; 9] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT4_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
];

const TARGET_EXISTS: &str = "EXISTS (SELECT 1 FROM checkpoints
    WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3)";

/// `put_writes`: one statement; returns whether the checkpoint exists
/// (if not, nothing was stored).
pub(crate) fn put_writes_sql() -> String {
    format!("WITH target AS (SELECT {TARGET_EXISTS} AS ok),{WRITES_CTES}\nSELECT ok FROM target")
}

/// `put` and `put_with_writes`: `$3` is the parent (or NULL), `$10`
/// whether the parent must exist, `$11..$13` the checkpoint row, `$14..$17`
/// its blobs. Returns whether it stored anything.
pub(crate) fn put_sql() -> String {
    format!(
        "WITH target AS (SELECT (NOT $10::bool OR {TARGET_EXISTS}) AS ok),{WRITES_CTES},
blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT $1, $2, b.channel, b.version, b.type, b.blob
    FROM unnest($14::text[], $15::text[], $16::text[], $17::bytea[])
        AS b(channel, version, type, blob), target
    WHERE target.ok
    ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
),
saved AS (
    INSERT INTO checkpoints
        (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
    SELECT $1, $2, $11, $3, $12, $13 FROM target WHERE target.ok
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
    DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
)
SELECT ok FROM target"
    )
}

/// The parameter types of [`put_sql`].
pub(crate) fn put_types() -> Vec<Type> {
    let mut types = WRITES_TYPES.to_vec();
    types.extend([
        Type::BOOL,
        Type::TEXT,
        Type::JSONB,
        Type::JSONB,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
        Type::BYTEA_ARRAY,
    ]);
    types
}

/// The columns of a read: the checkpoint row, its blobs (joined on the
/// versions its JSONB names, as Python joins them) and its writes.
pub(crate) const SELECT: &str = "
SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
    c.checkpoint, c.metadata,
    b.channels, b.types, b.blobs,
    w.task_ids, w.task_paths, w.idxs, w.channels, w.types, w.blobs
FROM checkpoints c
LEFT JOIN LATERAL (
    SELECT array_agg(bl.channel) AS channels, array_agg(bl.type) AS types,
        array_agg(bl.blob) AS blobs
    FROM jsonb_each_text(c.checkpoint -> 'channel_versions') AS v
    JOIN checkpoint_blobs bl ON bl.thread_id = c.thread_id
        AND bl.checkpoint_ns = c.checkpoint_ns
        AND bl.channel = v.key AND bl.version = v.value
) b ON true
LEFT JOIN LATERAL (
    SELECT array_agg(cw.task_id) AS task_ids, array_agg(cw.task_path) AS task_paths,
        array_agg(cw.idx) AS idxs, array_agg(cw.channel) AS channels,
        array_agg(cw.type) AS types, array_agg(cw.blob) AS blobs
    FROM checkpoint_writes cw
    WHERE cw.thread_id = c.thread_id AND cw.checkpoint_ns = c.checkpoint_ns
        AND cw.checkpoint_id = c.checkpoint_id
) w ON true";

/// The tuple of a row of [`SELECT`].
pub(crate) fn tuple_from_row(row: &Row) -> Result<CheckpointTuple> {
    let thread_id: String = column(row, 0, "", "")?;
    let ns: String = column(row, 1, &thread_id, "")?;
    let id: String = column(row, 2, &thread_id, "")?;
    let corrupt = |what: String| Error::Corrupt {
        thread_id: thread_id.clone(),
        checkpoint_id: id.clone(),
        what,
    };
    let parent: Option<String> = column(row, 3, &thread_id, &id)?;
    let json: Value = column(row, 4, &thread_id, &id)?;
    let metadata: Value = column(row, 5, &thread_id, &id)?;
    let mut checkpoint: Checkpoint =
        serde_json::from_value(json).map_err(|e| corrupt(format!("checkpoint JSON: {e}")))?;
    let metadata: CheckpointMetadata =
        serde_json::from_value(metadata).map_err(|e| corrupt(format!("metadata JSON: {e}")))?;
    checkpoint.id.clone_from(&id);
    add_blob_values(row, &mut checkpoint, &thread_id).map_err(corrupt)?;
    let pending_writes = writes_from_row(row, &thread_id, &id)?;
    Ok(CheckpointTuple {
        config: checkpoint_config(&thread_id, &ns, &id),
        parent_config: parent.map(|p| checkpoint_config(&thread_id, &ns, &p)),
        checkpoint,
        metadata,
        pending_writes,
    })
}

/// Joins the blob values into `channel_values`; a channel without a
/// version (or whose blob is `empty`) has no value.
fn add_blob_values(row: &Row, checkpoint: &mut Checkpoint, thread_id: &str) -> Result<(), String> {
    let get = |i| -> Result<_, String> {
        column::<Option<Vec<String>>>(row, i, thread_id, &checkpoint.id).map_err(|e| e.to_string())
    };
    let (channels, types) = (get(6)?.unwrap_or_default(), get(7)?.unwrap_or_default());
    let blobs: Vec<Option<Vec<u8>>> = row
        .try_get::<_, Option<Vec<Option<Vec<u8>>>>>(8)
        .map_err(|e| format!("blob column: {e}"))?
        .unwrap_or_default();
    let versions = &checkpoint.channel_versions;
    checkpoint
        .channel_values
        .retain(|ch, _| versions.contains_key(ch));
    for ((channel, kind), blob) in channels.into_iter().zip(types).zip(blobs) {
        let value = values::load_channel(&channel, &kind, blob.as_deref())
            .map_err(|e| format!("blob of channel {channel:?}: {e}"))?;
        match value {
            Some(value) => checkpoint.channel_values.insert(channel, value),
            None => checkpoint.channel_values.remove(&channel),
        };
    }
    Ok(())
}

fn writes_from_row(row: &Row, thread_id: &str, id: &str) -> Result<Vec<PendingWrite>> {
    let text =
        |i| column::<Option<Vec<String>>>(row, i, thread_id, id).map(Option::unwrap_or_default);
    let (task_ids, paths, channels) = (text(9)?, text(10)?, text(12)?);
    let idxs: Vec<i32> = column::<Option<Vec<i32>>>(row, 11, thread_id, id)?.unwrap_or_default();
    let types: Vec<Option<String>> =
        column::<Option<Vec<Option<String>>>>(row, 13, thread_id, id)?.unwrap_or_default();
    let blobs: Vec<Vec<u8>> =
        column::<Option<Vec<Vec<u8>>>>(row, 14, thread_id, id)?.unwrap_or_default();
    let mut writes = Vec::with_capacity(task_ids.len());
    for (i, task_id) in task_ids.into_iter().enumerate() {
        let (Some(channel), Some(&idx), Some(kind), Some(blob)) =
            (channels.get(i), idxs.get(i), types.get(i), blobs.get(i))
        else {
            break;
        };
        let kind = kind.as_deref().unwrap_or(values::MSGPACK);
        let value = values::load_channel(channel, kind, Some(blob))
            .map_err(|what| Error::Corrupt {
                thread_id: thread_id.to_owned(),
                checkpoint_id: id.to_owned(),
                what: format!("write {idx} of task {task_id} on {channel:?}: {what}"),
            })?
            .unwrap_or(Value::Null);
        writes.push(PendingWrite {
            task_path: paths.get(i).cloned().unwrap_or_default(),
            channel: channel.clone(),
            value,
            idx: i64::from(idx),
            task_id,
        });
    }
    sort_pending_writes(&mut writes);
    Ok(writes)
}

/// Column `i` of `row`, a decoding failure as [`Error::Corrupt`].
pub(crate) fn column<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
    thread_id: &str,
    id: &str,
) -> Result<T> {
    row.try_get(i).map_err(|e| Error::Corrupt {
        thread_id: thread_id.to_owned(),
        checkpoint_id: id.to_owned(),
        what: format!("column {:?}: {e}", row.columns()[i].name()),
    })
}

/// `copy_thread`: `$1` the source thread, `$2` the target.
pub(crate) const COPY: [&str; 3] = [
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
        type, checkpoint, metadata)
    SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
    FROM checkpoints WHERE thread_id = $1",
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT $2, checkpoint_ns, channel, version, type, blob
    FROM checkpoint_blobs WHERE thread_id = $1",
    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path,
        idx, channel, type, blob)
    SELECT $2, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob
    FROM checkpoint_writes WHERE thread_id = $1",
];

/// `delete_thread` and `prune` with `Delete`: every row of the threads
/// `$1`, in one statement.
pub(crate) const DELETE_THREADS: &str = "
WITH checkpoints_gone AS (DELETE FROM checkpoints WHERE thread_id = ANY($1)),
    blobs_gone AS (DELETE FROM checkpoint_blobs WHERE thread_id = ANY($1))
DELETE FROM checkpoint_writes WHERE thread_id = ANY($1)";

/// `prune` with `KeepLatest`: `$1` the threads. Keeps the latest
/// checkpoint of each namespace with its writes and the blobs it names,
/// and clears its parent link.
pub(crate) const PRUNE_KEEP_LATEST: [&str; 4] = [
    "WITH latest AS (
        SELECT thread_id, checkpoint_ns, max(checkpoint_id) AS id FROM checkpoints
        WHERE thread_id = ANY($1) GROUP BY thread_id, checkpoint_ns)
    DELETE FROM checkpoint_writes w WHERE w.thread_id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM latest l WHERE l.thread_id = w.thread_id
            AND l.checkpoint_ns = w.checkpoint_ns AND l.id = w.checkpoint_id)",
    "WITH latest AS (
        SELECT thread_id, checkpoint_ns, max(checkpoint_id) AS id FROM checkpoints
        WHERE thread_id = ANY($1) GROUP BY thread_id, checkpoint_ns)
    DELETE FROM checkpoints c WHERE c.thread_id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM latest l WHERE l.thread_id = c.thread_id
            AND l.checkpoint_ns = c.checkpoint_ns AND l.id = c.checkpoint_id)",
    "UPDATE checkpoints SET parent_checkpoint_id = NULL
    WHERE thread_id = ANY($1) AND parent_checkpoint_id IS NOT NULL",
    "DELETE FROM checkpoint_blobs b WHERE b.thread_id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id
            AND c.checkpoint_ns = b.checkpoint_ns
            AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
];
