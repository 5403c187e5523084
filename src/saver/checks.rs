//! Input checks and config rules shared by every saver, so that each saver
//! refuses the same bad input with the same error.
//!
//! They are part of the [`BaseCheckpointSaver`](crate::BaseCheckpointSaver)
//! contract: a backend calls [`check_put`] before storing a checkpoint,
//! [`writes_target`] before storing writes, [`check_copy`] and
//! [`require_thread`] for the other calls, and stores the metadata that
//! [`merged_metadata`] gives. Each check runs before anything is written,
//! so a refused call changes nothing.

use serde_json::Value;

use super::checkpoint::{Checkpoint, CheckpointMetadata};
use super::config::Config;
use super::error::{Error, Result};

/// Refuses an empty thread id.
pub fn require_thread(operation: &'static str, thread_id: &str) -> Result<()> {
    if thread_id.is_empty() {
        return Err(Error::EmptyThreadId { operation });
    }
    Ok(())
}

/// [`require_thread`] for each of `thread_ids` (calls such as `prune`
/// that take a list refuse the whole call for one empty id).
pub fn require_threads(operation: &'static str, thread_ids: &[String]) -> Result<()> {
    thread_ids
        .iter()
        .try_for_each(|thread_id| require_thread(operation, thread_id))
}

/// The `(thread, namespace, checkpoint id)` a `put_writes` config names.
pub fn writes_target(config: &Config) -> Result<(&str, &str, &str)> {
    require_thread("put_writes", &config.thread_id)?;
    let id = config
        .checkpoint_id
        .as_deref()
        .ok_or_else(|| Error::MissingCheckpointId {
            operation: "put_writes",
            thread_id: config.thread_id.clone(),
        })?;
    Ok((&config.thread_id, config.ns(), id))
}

/// The error for a `put_writes` against a checkpoint that does not exist.
pub fn checkpoint_not_found(thread_id: &str, ns: &str, id: &str) -> Error {
    Error::CheckpointNotFound {
        thread_id: thread_id.to_owned(),
        checkpoint_ns: ns.to_owned(),
        checkpoint_id: id.to_owned(),
    }
}

/// Refuses a checkpoint `put` could not store faithfully: an empty thread
/// or checkpoint id, a channel value without a version, a channel whose
/// version counter is exhausted (`u64::MAX`, see
/// [`ChannelVersion::next_after`](crate::ChannelVersion::next_after)), or an
/// id that does not sort after its parent's (see [`check_order`]).
pub fn check_put(config: &Config, checkpoint: &Checkpoint) -> Result<()> {
    require_thread("put", &config.thread_id)?;
    let invalid = |reason: String| Error::InvalidCheckpoint {
        thread_id: config.thread_id.clone(),
        checkpoint_id: checkpoint.id.clone(),
        reason,
    };
    if checkpoint.id.is_empty() {
        return Err(invalid("the checkpoint id is empty".into()));
    }
    check_order(config, checkpoint)?;
    if let Some((channel, _)) = checkpoint
        .channel_versions
        .iter()
        .find(|(_, v)| v.is_exhausted())
    {
        return Err(invalid(format!(
            "channel {channel:?}: its version counter is exhausted (u64::MAX): \
             it cannot be written again"
        )));
    }
    if let Some(channel) = checkpoint
        .channel_values
        .keys()
        .find(|ch| !checkpoint.channel_versions.contains_key(*ch))
    {
        return Err(invalid(format!(
            "channel {channel:?} has a value but no version in channel_versions"
        )));
    }
    check_values(config, checkpoint)
}

/// Refuses channel values `put` could not read back: a value nested
/// deeper than [`MAX_VALUE_DEPTH`] (part of [`check_put`]).
pub fn check_values(config: &Config, checkpoint: &Checkpoint) -> Result<()> {
    match checkpoint.channel_values.iter().find(|(_, v)| too_deep(v)) {
        Some((channel, _)) => Err(Error::InvalidCheckpoint {
            thread_id: config.thread_id.clone(),
            checkpoint_id: checkpoint.id.clone(),
            reason: format!("the value of channel {channel:?} {TOO_DEEP}"),
        }),
        None => Ok(()),
    }
}

/// The deepest nesting of arrays and objects a stored value may have (a
/// scalar is depth 0, `[1]` depth 1). Every saver refuses deeper values at
/// write time, so that whatever it stored it can read back: the stored
/// rows wrap a value in a few more levels, and JSON parsers stop at 128
/// (`serde_json`) or 1,000 (`SQLite`).
pub const MAX_VALUE_DEPTH: usize = 100;

/// The end of the error for a value deeper than [`MAX_VALUE_DEPTH`].
const TOO_DEEP: &str = "is nested deeper than 100 levels of arrays and objects (the limit, \
                        MAX_VALUE_DEPTH): it cannot be stored";

/// Whether `value` nests deeper than [`MAX_VALUE_DEPTH`]. Iterative: a
/// value nested 100,000 deep is measured without exhausting the stack.
pub fn too_deep(value: &Value) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > MAX_VALUE_DEPTH {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// Refuses metadata `put` could not read back: a key whose value nests
/// deeper than [`MAX_VALUE_DEPTH`].
pub fn check_metadata(
    config: &Config,
    checkpoint: &Checkpoint,
    metadata: &CheckpointMetadata,
) -> Result<()> {
    match metadata.extra.iter().find(|(_, v)| too_deep(v)) {
        Some((key, _)) => Err(Error::InvalidCheckpoint {
            thread_id: config.thread_id.clone(),
            checkpoint_id: checkpoint.id.clone(),
            reason: format!("metadata key {key:?} {TOO_DEEP}"),
        }),
        None => Ok(()),
    }
}

/// Refuses task writes `put_writes` could not read back: a value nested
/// deeper than [`MAX_VALUE_DEPTH`] (the error names the task and channel).
pub fn check_writes(config: &Config, writes: &[(String, Value)], task_id: &str) -> Result<()> {
    match writes.iter().find(|(_, v)| too_deep(v)) {
        Some((channel, _)) => Err(Error::InvalidCheckpoint {
            thread_id: config.thread_id.clone(),
            checkpoint_id: config.checkpoint_id.clone().unwrap_or_default(),
            reason: format!("the write of task {task_id} to channel {channel:?} {TOO_DEEP}"),
        }),
        None => Ok(()),
    }
}

/// Refuses a checkpoint whose id does not sort after its parent's (the
/// config's `checkpoint_id`): "latest" is the greatest id, so a child that
/// sorts first would hide behind its parent.
pub fn check_order(config: &Config, checkpoint: &Checkpoint) -> Result<()> {
    match config.checkpoint_id.as_deref() {
        Some(parent) if checkpoint.id.as_str() <= parent => Err(Error::CheckpointOutOfOrder {
            thread_id: config.thread_id.clone(),
            checkpoint_id: checkpoint.id.clone(),
            parent_id: parent.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Refuses `copy_thread` arguments that cannot name two threads.
pub fn check_copy(source: &str, target: &str) -> Result<()> {
    require_thread("copy_thread", source)?;
    require_thread("copy_thread", target)?;
    Ok(())
}

/// Config keys that address checkpoints or belong to the runtime, never
/// copied into metadata.
const EXCLUDED_KEYS: &[&str] = &[
    "thread_id",
    "checkpoint_id",
    "checkpoint_ns",
    "checkpoint_map",
    "langgraph_step",
    "langgraph_node",
    "langgraph_triggers",
    "langgraph_path",
    // A lease's fencing token addresses the write, it is not metadata.
    super::lease::LEASE_TOKEN_KEY,
    "langgraph_checkpoint_ns",
];

/// Metadata fields; a user key of the same name would repeat the key in
/// the stored JSON object.
const METADATA_FIELDS: [&str; 4] = ["source", "step", "parents", "run_id"];

/// The metadata `put` stores: `metadata` with the scalar keys of the
/// config's `metadata` and `configurable` maps that it lacks, as LangGraph's
/// `put` does, and without user keys named like a field (`source`, `step`,
/// `parents`, `run_id`): the field wins, as in [`CheckpointMetadata::get`].
pub fn merged_metadata(config: &Config, metadata: &CheckpointMetadata) -> CheckpointMetadata {
    let mut merged = metadata.clone();
    merged
        .extra
        .retain(|k, _| !METADATA_FIELDS.contains(&k.as_str()));
    for (key, value) in config.metadata.iter().chain(&config.configurable) {
        let scalar = matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_));
        if !scalar || key.starts_with("__") || EXCLUDED_KEYS.contains(&key.as_str()) {
            continue;
        }
        match key.as_str() {
            "run_id" => {
                if merged.run_id.is_none() {
                    merged.run_id = Some(match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                }
            }
            field if METADATA_FIELDS.contains(&field) => {}
            _ => {
                merged
                    .extra
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
        }
    }
    merged
}

/// The config that names one stored checkpoint.
pub fn checkpoint_config(thread_id: &str, ns: &str, id: &str) -> Config {
    Config::thread(thread_id).with_ns(ns).with_checkpoint_id(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CheckpointSource;

    #[test]
    fn merges_absent_scalar_keys_only() {
        let config = Config::thread("t")
            .with_configurable("run_id", "r1")
            .with_configurable("__secret", "x")
            .with_configurable("langgraph_step", 3)
            .with_metadata("user", "alice")
            .with_metadata("nested", serde_json::json!({"a": 1}))
            .with_metadata("kept", "from-config");
        let md = CheckpointMetadata::new(CheckpointSource::Loop, 1)
            .with_extra("kept", "own")
            .with_extra("step", 99);
        let merged = merged_metadata(&config, &md);
        assert_eq!(merged.run_id.as_deref(), Some("r1"));
        assert_eq!(merged.extra.get("user"), Some(&Value::from("alice")));
        assert_eq!(merged.extra.get("kept"), Some(&Value::from("own")));
        assert!(!merged.extra.contains_key("__secret"));
        assert!(!merged.extra.contains_key("langgraph_step"));
        assert!(!merged.extra.contains_key("nested"));
        assert!(!merged.extra.contains_key("step"));
        assert_eq!(merged.step, 1);
    }
}
