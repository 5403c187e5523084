//! Limits: a value nested deeper than
//! [`MAX_VALUE_DEPTH`] (in a channel,
//! the metadata or a task write) and a channel version counter at
//! `u64::MAX` are refused at write time with an error that names the
//! channel, key or task; what a saver accepts it reads back; nothing aborts
//! the process, not even a value nested 100,000 deep.

use serde_json::{Value, json};

use crate::saver::checks::MAX_VALUE_DEPTH;
use crate::{
    BaseCheckpointSaver, ChannelVersion, Checkpoint, CheckpointMetadata, Error, ListOptions,
};

use super::fixtures::{
    checkpoint_with, config, expect_err, get, id_of, metadata, put, put_writes, snapshot,
    thread_id, uuid4,
};

/// `depth` arrays around a number; built without recursion.
fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

/// Drops a deep value without recursion (a value nested 100,000 deep
/// would exhaust the stack of the recursive `Drop`).
fn drop_deep(mut value: Value) {
    let mut pending = Vec::new();
    loop {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
        match pending.pop() {
            Some(next) => value = next,
            None => return,
        }
    }
}

fn assert_too_deep(what: &str, err: &Error, names: &str) {
    let text = err.to_string();
    assert!(
        matches!(err, Error::InvalidCheckpoint { .. })
            && text.contains(names)
            && text.contains(&MAX_VALUE_DEPTH.to_string()),
        "{what}: expected InvalidCheckpoint naming {names} and the limit, got {err:?}"
    );
}

/// Puts `cp` with `md` in a fresh thread and expects the refusal of a
/// value too deep, naming `names`.
fn refused_put(
    saver: &dyn BaseCheckpointSaver,
    what: &str,
    cp: &Checkpoint,
    md: &CheckpointMetadata,
    names: &str,
) {
    let err = expect_err(
        what,
        saver.put(&config(&thread_id()), cp, md, &cp.channel_versions),
    );
    assert_too_deep(what, &err, names);
}

/// A channel value at the limit reads back; one level deeper is refused
/// (naming the channel and the limit) and changes nothing; listing every
/// thread still works.
pub fn value_depth_limit(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let at_limit = nested(MAX_VALUE_DEPTH);
    let stored = put(
        saver,
        &config(&tid),
        &checkpoint_with(&[("deep", at_limit.clone())]),
        &metadata(),
    );
    assert_eq!(
        get(saver, &stored).checkpoint.channel_values["deep"],
        at_limit,
        "a value nested {MAX_VALUE_DEPTH} deep did not read back"
    );
    let before = snapshot(saver);
    let cp = checkpoint_with(&[("deep", nested(MAX_VALUE_DEPTH + 1))]);
    refused_put(
        saver,
        "put of a value nested one level too deep",
        &cp,
        &metadata(),
        "\"deep\"",
    );
    assert_eq!(snapshot(saver), before, "a refused put changed the saver");
}

/// Metadata nested 1,001 deep is refused, and filtered listing of the
/// other threads keeps working.
pub fn metadata_depth_limit(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let md = metadata().with_extra("tag", "kept");
    put(saver, &config(&tid), &checkpoint_with(&[]), &md);
    let deep = metadata().with_extra("tree", nested(1_001));
    refused_put(
        saver,
        "put of metadata nested 1,001 deep",
        &checkpoint_with(&[]),
        &deep,
        "\"tree\"",
    );
    let filter = ListOptions::new().filter("tag", "kept");
    let found = saver
        .list(None, &filter)
        .unwrap_or_else(|e| panic!("filtered list after a refused put: {e}"));
    assert!(
        found.iter().any(|t| t.config.thread_id == tid),
        "filtered listing lost thread {tid}"
    );
}

/// A task write nested too deep is refused, naming task and channel.
pub fn write_depth_limit(saver: &dyn BaseCheckpointSaver) {
    let stored = put(
        saver,
        &config(&thread_id()),
        &checkpoint_with(&[]),
        &metadata(),
    );
    let task = uuid4();
    let writes = vec![("deep".to_owned(), nested(MAX_VALUE_DEPTH + 1))];
    let err = expect_err(
        "put_writes of a value nested too deep",
        saver.put_writes(&stored, &writes, &task, ""),
    );
    assert_too_deep("put_writes", &err, &task);
    put_writes(saver, &stored, &[("ok", json!([1]))], &task);
    assert_eq!(
        get(saver, &stored).pending_writes.len(),
        1,
        "of {}",
        id_of(&stored)
    );
}

/// Values nested 100,000 deep in a channel, the metadata and a write are
/// refused: no stack overflow.
pub fn very_deep_values_refused(saver: &dyn BaseCheckpointSaver) {
    let stored = put(
        saver,
        &config(&thread_id()),
        &checkpoint_with(&[]),
        &metadata(),
    );
    // Moved in, not copied: a copy would recurse 100,000 deep.
    let mut cp = checkpoint_with(&[]);
    cp.channel_values.insert("deep".into(), nested(100_000));
    cp.channel_versions
        .insert("deep".into(), ChannelVersion::new(1));
    refused_put(
        saver,
        "put of a channel nested 100,000 deep",
        &cp,
        &metadata(),
        "\"deep\"",
    );
    let md = metadata().with_extra("tree", nested(100_000));
    refused_put(
        saver,
        "put of metadata nested 100,000 deep",
        &checkpoint_with(&[]),
        &md,
        "\"tree\"",
    );
    let writes = vec![("deep".to_owned(), nested(100_000))];
    let err = expect_err(
        "put_writes nested 100,000 deep",
        saver.put_writes(&stored, &writes, &uuid4(), ""),
    );
    assert_too_deep("put_writes", &err, "\"deep\"");
    for (_, value) in writes {
        drop_deep(value);
    }
    for (_, value) in md.extra {
        drop_deep(value);
    }
    for (_, value) in cp.channel_values {
        drop_deep(value);
    }
}

/// The version after `u64::MAX - 1` is the exhausted counter; a checkpoint
/// naming it is refused (naming the channel), and the counter never wraps.
pub fn exhausted_version_refused(saver: &dyn BaseCheckpointSaver) {
    let last = ChannelVersion::new(u64::MAX - 1);
    let next = saver.get_next_version(Some(&last));
    assert!(next.is_exhausted(), "after u64::MAX - 1 came {next}");
    let after = saver.get_next_version(Some(&next));
    assert!(
        after.is_exhausted(),
        "the counter wrapped: {after} after {next}"
    );
    let mut cp = checkpoint_with(&[("count", json!(1))]);
    cp.channel_versions.insert("count".into(), next);
    let before = snapshot(saver);
    let err = expect_err(
        "put of an exhausted version",
        saver.put(
            &config(&thread_id()),
            &cp,
            &metadata(),
            &cp.channel_versions,
        ),
    );
    assert!(
        matches!(err, Error::InvalidCheckpoint { .. })
            && err.to_string().contains("\"count\"")
            && err.to_string().contains("exhausted"),
        "expected InvalidCheckpoint naming the channel, got {err:?}"
    );
    assert_eq!(snapshot(saver), before, "a refused put changed the saver");
}
