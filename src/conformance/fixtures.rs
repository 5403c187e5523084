//! Shared fixtures: what LangGraph's conformance kit generates, in Rust.
//!
//! - Threads are random uuid4 strings, so cases never collide even when a
//!   saver were shared.
//! - Checkpoints are format `v = 1` with a fresh id from
//!   [`new_checkpoint_id`](crate::new_checkpoint_id) (step -1, as the Python kit's `uuid6(clock_seq=-1)`).
//! - Metadata is `{source: loop, step: 0, parents: {}}` unless a case says
//!   otherwise.
//! - A child's config carries its parent's `checkpoint_id`.

use std::collections::BTreeMap;

use crate::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, CheckpointTuple, Config, Error, ListOptions, PendingWrite, Result,
};
use serde_json::Value;

/// A random uuid4 string.
pub fn uuid4() -> String {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A fresh thread id no other case uses.
pub fn thread_id() -> String {
    uuid4()
}

/// A config for the root namespace of `thread_id`, as the Python kit's
/// `generate_config` makes it (`checkpoint_ns` set to `""`).
pub fn config(thread_id: &str) -> Config {
    Config::thread(thread_id).with_ns("")
}

/// A config for namespace `ns` of `thread_id`.
pub fn config_ns(thread_id: &str, ns: &str) -> Config {
    Config::thread(thread_id).with_ns(ns)
}

/// The config of a child of the checkpoint `parent` names: same thread and
/// namespace, carrying the parent's `checkpoint_id`.
pub fn child_of(parent: &Config) -> Config {
    let id = parent
        .checkpoint_id
        .clone()
        .expect("a stored config names its checkpoint");
    config_ns(&parent.thread_id, parent.ns()).with_checkpoint_id(id)
}

/// An empty `v = 1` checkpoint with a fresh id.
pub fn checkpoint() -> Checkpoint {
    // `Checkpoint::new(-1)` takes its id from `new_checkpoint_id(-1)`.
    Checkpoint {
        v: 1,
        ..Checkpoint::new(-1)
    }
}

/// A `v = 1` checkpoint with these channel values, each at version 1.
pub fn checkpoint_with(values: &[(&str, Value)]) -> Checkpoint {
    let mut cp = checkpoint();
    for (channel, value) in values {
        cp.channel_values
            .insert((*channel).to_owned(), value.clone());
        cp.channel_versions
            .insert((*channel).to_owned(), ChannelVersion::new(1));
    }
    cp
}

/// A `v = 1` checkpoint with these values and these versions.
pub fn checkpoint_versioned(values: &[(&str, Value)], versions: &[(&str, u64)]) -> Checkpoint {
    let mut cp = checkpoint();
    for (channel, value) in values {
        cp.channel_values
            .insert((*channel).to_owned(), value.clone());
    }
    cp.channel_versions = versions_of(versions);
    cp
}

/// Channel versions from `(channel, counter)` pairs.
pub fn versions_of(pairs: &[(&str, u64)]) -> ChannelVersions {
    pairs
        .iter()
        .map(|(ch, v)| ((*ch).to_owned(), ChannelVersion::new(*v)))
        .collect()
}

/// No new versions.
pub fn no_versions() -> ChannelVersions {
    ChannelVersions::new()
}

/// `{source: loop, step: 0, parents: {}}`.
pub fn metadata() -> CheckpointMetadata {
    CheckpointMetadata::new(CheckpointSource::Loop, 0)
}

/// Metadata with this source and step and no parents.
pub fn metadata_at(source: CheckpointSource, step: i64) -> CheckpointMetadata {
    CheckpointMetadata::new(source, step)
}

/// `{source: loop, step, parents: {}}`.
pub fn metadata_step(step: i64) -> CheckpointMetadata {
    metadata_at(CheckpointSource::Loop, step)
}

/// Stores `cp` with `config` (parent = its `checkpoint_id`), announcing
/// every channel of `cp` as new, and returns the stored config.
pub fn put(
    saver: &dyn BaseCheckpointSaver,
    config: &Config,
    cp: &Checkpoint,
    md: &CheckpointMetadata,
) -> Config {
    saver
        .put(config, cp, md, &cp.channel_versions)
        .unwrap_or_else(|e| panic!("put of checkpoint {} failed: {e}", cp.id))
}

/// Stores `cp` with exactly these `new_versions`.
pub fn put_new(
    saver: &dyn BaseCheckpointSaver,
    config: &Config,
    cp: &Checkpoint,
    md: &CheckpointMetadata,
    new_versions: &ChannelVersions,
) -> Config {
    saver
        .put(config, cp, md, new_versions)
        .unwrap_or_else(|e| panic!("put of checkpoint {} failed: {e}", cp.id))
}

/// Stores a chain of `n` empty checkpoints in `thread_id`/`ns`, each the
/// child of the one before, with metadata `{loop, step i}`. Returns the
/// stored configs, oldest first.
pub fn put_chain(
    saver: &dyn BaseCheckpointSaver,
    thread_id: &str,
    ns: &str,
    n: usize,
) -> Vec<Config> {
    let mut stored: Vec<Config> = Vec::with_capacity(n);
    for i in 0..n {
        let cfg = match stored.last() {
            Some(parent) => child_of(parent),
            None => config_ns(thread_id, ns),
        };
        let step = i64::try_from(i).expect("small step");
        stored.push(put(saver, &cfg, &checkpoint(), &metadata_step(step)));
    }
    stored
}

/// The checkpoint id a stored config names.
pub fn id_of(config: &Config) -> String {
    config
        .checkpoint_id
        .clone()
        .expect("a stored config names its checkpoint")
}

/// Stores writes for `task_id` (no task path).
pub fn put_writes(
    saver: &dyn BaseCheckpointSaver,
    config: &Config,
    writes: &[(&str, Value)],
    task_id: &str,
) {
    put_writes_path(saver, config, writes, task_id, "");
}

/// Stores writes for `task_id` under `task_path`.
pub fn put_writes_path(
    saver: &dyn BaseCheckpointSaver,
    config: &Config,
    writes: &[(&str, Value)],
    task_id: &str,
    task_path: &str,
) {
    let writes: Vec<(String, Value)> = writes
        .iter()
        .map(|(ch, v)| ((*ch).to_owned(), v.clone()))
        .collect();
    saver
        .put_writes(config, &writes, task_id, task_path)
        .unwrap_or_else(|e| panic!("put_writes for task {task_id} failed: {e}"));
}

/// `get_tuple` that must succeed and find something.
pub fn get(saver: &dyn BaseCheckpointSaver, config: &Config) -> CheckpointTuple {
    saver
        .get_tuple(config)
        .unwrap_or_else(|e| panic!("get_tuple({config:?}) failed: {e}"))
        .unwrap_or_else(|| panic!("get_tuple({config:?}) found nothing"))
}

/// `get_tuple` that must succeed.
pub fn try_get(saver: &dyn BaseCheckpointSaver, config: &Config) -> Option<CheckpointTuple> {
    saver
        .get_tuple(config)
        .unwrap_or_else(|e| panic!("get_tuple({config:?}) failed: {e}"))
}

/// `list` that must succeed.
pub fn list(
    saver: &dyn BaseCheckpointSaver,
    config: Option<&Config>,
    options: &ListOptions,
) -> Vec<CheckpointTuple> {
    saver
        .list(config, options)
        .unwrap_or_else(|e| panic!("list({config:?}, {options:?}) failed: {e}"))
}

/// The ids `list` returns, in its order.
pub fn list_ids(
    saver: &dyn BaseCheckpointSaver,
    config: Option<&Config>,
    options: &ListOptions,
) -> Vec<String> {
    list(saver, config, options)
        .into_iter()
        .map(|t| t.checkpoint.id)
        .collect()
}

/// Every checkpoint of `thread_id` (all namespaces), newest first.
pub fn thread_ids(saver: &dyn BaseCheckpointSaver, thread_id: &str) -> Vec<String> {
    list_ids(saver, Some(&Config::thread(thread_id)), &ListOptions::new())
}

/// The `run_id`s of the checkpoints `list` returns for this config.
pub fn run_ids(saver: &dyn BaseCheckpointSaver, config: &Config) -> Vec<Option<String>> {
    list(saver, Some(config), &ListOptions::new())
        .into_iter()
        .map(|t| t.metadata.run_id)
        .collect()
}

/// Everything the saver holds, as `list(None)` shows it, to check that a
/// refused call changed nothing. Each case runs on a fresh saver, so this
/// is the whole state of the case.
pub fn snapshot(saver: &dyn BaseCheckpointSaver) -> Vec<CheckpointTuple> {
    list(saver, None, &ListOptions::new())
}

/// Writes as `(task_id, channel, value)`, the shape LangGraph returns.
pub fn triples(writes: &[PendingWrite]) -> Vec<(String, String, Value)> {
    writes
        .iter()
        .map(|w| (w.task_id.clone(), w.channel.clone(), w.value.clone()))
        .collect()
}

/// The writes of `task_id` to `channel`.
pub fn writes_to<'a>(
    writes: &'a [PendingWrite],
    task_id: &str,
    channel: &str,
) -> Vec<&'a PendingWrite> {
    writes
        .iter()
        .filter(|w| w.task_id == task_id && w.channel == channel)
        .collect()
}

/// The channel values of a checkpoint as a map, for comparisons.
pub fn values(tuple: &CheckpointTuple) -> &BTreeMap<String, Value> {
    &tuple.checkpoint.channel_values
}

/// Unwraps the error of a call that must fail, with a clear message if it
/// did not.
pub fn expect_err<T: std::fmt::Debug>(what: &str, result: Result<T>) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}
