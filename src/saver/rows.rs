//! The JSON of checkpoint, metadata and write rows, shared by every
//! backend that stores checkpoints as rows.
//!
//! A checkpoint row holds the checkpoint without its channel values (those
//! are value rows, see [`delta`](super::delta)) and without its id (a
//! column of the row), and the metadata JSON; a write row holds one
//! write's value JSON. A backend stores the text these functions make and
//! gives the text it reads back to the `decode_*` functions: so every
//! backend reads the rows of every other, and [`Error::Corrupt`] reports
//! the same damage the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::checks::{check_metadata, check_put, check_writes, merged_metadata, writes_target};
use super::config::Config;
use super::error::{Error, Result};
use super::tuple::PendingWrite;
use super::writes::{WriteBatch, write_idx};

/// A checkpoint as stored in its row: everything but the channel values,
/// which live in value rows, and the id, which is the row's
/// `checkpoint_id` (rows written before schema 3 also have it here).
#[derive(Serialize)]
struct StoredCheckpoint<'a> {
    v: u32,
    ts: &'a str,
    channel_versions: &'a ChannelVersions,
    // Empty and absent fields are left out (they read back as defaults).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    versions_seen: &'a BTreeMap<String, ChannelVersions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_channels: &'a Option<Vec<String>>,
}

/// The JSON of a checkpoint's row (without channel values).
///
/// # Errors
///
/// [`Error::Serialize`] if the checkpoint cannot be serialised.
pub fn encode_checkpoint(thread_id: &str, checkpoint: &Checkpoint) -> Result<String> {
    let stored = StoredCheckpoint {
        v: checkpoint.v,
        ts: &checkpoint.ts,
        channel_versions: &checkpoint.channel_versions,
        versions_seen: &checkpoint.versions_seen,
        updated_channels: &checkpoint.updated_channels,
    };
    encode_json(
        thread_id,
        || format!("checkpoint {}", checkpoint.id),
        &stored,
    )
}

/// Any value as JSON text; `what` names it in the error.
///
/// # Errors
///
/// [`Error::Serialize`] if `value` cannot be serialised.
pub fn encode_json<T: Serialize + ?Sized>(
    thread_id: &str,
    what: impl FnOnce() -> String,
    value: &T,
) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Serialize {
        thread_id: thread_id.to_owned(),
        what: what(),
        source,
    })
}

/// A checkpoint's JSON as read from its row: [`Checkpoint`]'s fields, the
/// id optional (only rows written before schema 3 have it).
#[derive(Deserialize)]
struct ReadCheckpoint {
    v: u32,
    #[serde(default)]
    id: Option<String>,
    ts: String,
    #[serde(default)]
    channel_values: BTreeMap<String, Value>,
    #[serde(default)]
    channel_versions: ChannelVersions,
    #[serde(default)]
    versions_seen: BTreeMap<String, ChannelVersions>,
    #[serde(default)]
    updated_channels: Option<Vec<String>>,
}

/// The checkpoint of row `id` from its JSON, or what is wrong with it.
///
/// # Errors
///
/// A description of the damage (bad JSON, an id other than the row's).
pub fn decode_checkpoint(id: String, json: &str) -> Result<Checkpoint, String> {
    let stored: ReadCheckpoint =
        serde_json::from_str(json).map_err(|e| format!("checkpoint JSON: {e}"))?;
    if let Some(json_id) = &stored.id
        && *json_id != id
    {
        return Err(format!(
            "checkpoint JSON has id {json_id:?}, the row {id:?}"
        ));
    }
    Ok(Checkpoint {
        v: stored.v,
        id,
        ts: stored.ts,
        channel_values: stored.channel_values,
        channel_versions: stored.channel_versions,
        versions_seen: stored.versions_seen,
        updated_channels: stored.updated_channels,
    })
}

/// The metadata of a row from its JSON, or what is wrong with it.
///
/// # Errors
///
/// A description of the damage.
pub fn decode_metadata(json: &str) -> Result<CheckpointMetadata, String> {
    serde_json::from_str(json).map_err(|e| format!("metadata JSON: {e}"))
}

/// A decoded checkpoint row: the checkpoint (its values not yet filled
/// in), where it is, its parent and its metadata.
#[derive(Debug)]
pub struct CheckpointRow {
    /// The thread.
    pub thread_id: String,
    /// The namespace.
    pub ns: String,
    /// The parent's checkpoint id.
    pub parent: Option<String>,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its metadata.
    pub metadata: CheckpointMetadata,
}

/// The key of a checkpoint: thread, namespace, id.
pub type CheckpointKey = (String, String, String);

/// A pending write from the columns of its row (`value_json` is the
/// write's value as stored), or what is wrong with it.
///
/// # Errors
///
/// A description of the damage (the value is not JSON).
pub fn decode_write(
    task_id: String,
    channel: String,
    value_json: &str,
    task_path: String,
    idx: i64,
) -> Result<PendingWrite, String> {
    let value: Value = serde_json::from_str(value_json)
        .map_err(|e| format!("value of a write to {channel:?} by task {task_id}: {e}"))?;
    Ok(PendingWrite {
        task_id,
        channel,
        value,
        task_path,
        idx,
    })
}

/// One task's writes, checked and serialised, owning their data: what a
/// backend stores for one `put_writes` call (each row with its `idx`, see
/// [`write_idx`]).
#[derive(Debug)]
pub struct EncodedWrites {
    /// The thread.
    pub thread_id: String,
    /// The namespace.
    pub ns: String,
    /// The checkpoint the writes belong to (it must exist).
    pub checkpoint_id: String,
    /// The task.
    pub task_id: String,
    /// The task's path.
    pub task_path: String,
    /// `(idx, channel, value JSON)` per write.
    pub rows: Vec<(i64, String, String)>,
    /// What the call is, for errors.
    pub what: String,
}

impl EncodedWrites {
    /// Checks and serialises the writes of one `put_writes` call.
    ///
    /// # Errors
    ///
    /// As [`writes_target`], or [`Error::Serialize`].
    pub fn encode(config: &Config, batch: &WriteBatch<'_>) -> Result<Self> {
        let (thread_id, ns, id) = writes_target(config)?;
        let task_id = batch.task_id;
        check_writes(config, batch.writes, task_id)?;
        let rows = batch
            .writes
            .iter()
            .enumerate()
            .map(|(position, (channel, value))| {
                let json = encode_json(
                    thread_id,
                    || format!("write to {channel:?} by task {task_id}"),
                    value,
                )?;
                Ok((write_idx(channel, position), channel.clone(), json))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EncodedWrites {
            what: format!("writes of task {task_id} to checkpoint {id} in thread {thread_id:?}"),
            thread_id: thread_id.to_owned(),
            ns: ns.to_owned(),
            checkpoint_id: id.to_owned(),
            task_id: task_id.to_owned(),
            task_path: batch.task_path.to_owned(),
            rows,
        })
    }
}

/// A checked `put`, with its checkpoint and metadata serialised (once; a
/// backend serialises the values per attempt, see
/// [`delta::encode`](super::delta::encode)).
#[derive(Debug)]
pub struct PreparedPut<'a> {
    /// The thread.
    pub thread_id: &'a str,
    /// The namespace.
    pub ns: &'a str,
    /// The parent's id (the config's `checkpoint_id`).
    pub parent: Option<String>,
    /// The checkpoint.
    pub checkpoint: &'a Checkpoint,
    /// The versions of the channels this checkpoint wrote.
    pub new_versions: &'a ChannelVersions,
    /// The metadata to store ([`merged_metadata`]).
    pub merged: CheckpointMetadata,
    /// [`encode_checkpoint`] of the checkpoint.
    pub checkpoint_json: String,
    /// The merged metadata's JSON.
    pub metadata_json: String,
    /// What the call is, for errors.
    pub what: String,
}

impl<'a> PreparedPut<'a> {
    /// Checks ([`check_put`]) and serialises a `put`.
    ///
    /// # Errors
    ///
    /// As [`check_put`], or [`Error::Serialize`].
    pub fn new(
        config: &'a Config,
        checkpoint: &'a Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &'a ChannelVersions,
    ) -> Result<Self> {
        check_put(config, checkpoint)?;
        check_metadata(config, checkpoint, metadata)?;
        let (thread_id, ns) = (config.thread_id.as_str(), config.ns());
        let merged = merged_metadata(config, metadata);
        let checkpoint_json = encode_checkpoint(thread_id, checkpoint)?;
        let metadata_json = encode_json(
            thread_id,
            || format!("metadata of checkpoint {}", checkpoint.id),
            &merged,
        )?;
        Ok(PreparedPut {
            thread_id,
            ns,
            parent: config.checkpoint_id.clone(),
            checkpoint,
            new_versions,
            merged,
            checkpoint_json,
            metadata_json,
            what: format!(
                "put of checkpoint {} in thread {thread_id:?}",
                checkpoint.id
            ),
        })
    }
}
