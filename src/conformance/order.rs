//! Checkpoint order across hosts: "latest" is the greatest checkpoint id,
//! so a saver refuses a child whose id does not sort after its parent's
//! (the config's `checkpoint_id`), and `new_checkpoint_id_after` makes ids
//! that sort after the parent even on a host whose clock is behind.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::saver::{WriteBatch, new_checkpoint_id_after, new_checkpoint_id_at_time};
use crate::{BaseCheckpointSaver, Checkpoint, Config, Error};
use serde_json::json;

use super::fixtures::{
    checkpoint, child_of, config, expect_err, get, id_of, metadata_step, put, snapshot, thread_id,
    thread_ids, uuid4,
};

/// The clock of a host 10 minutes behind this one.
fn ten_minutes_behind() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|now| now.checked_sub(Duration::from_mins(10)))
        .expect("the clock is after 1970")
}

/// An empty checkpoint with id `id`.
fn checkpoint_id(id: String) -> Checkpoint {
    let mut cp = checkpoint();
    cp.id = id;
    cp
}

/// Asserts that `err` is the out-of-order error naming thread and ids.
fn assert_out_of_order(what: &str, err: &Error, thread: &str, child: &str, parent: &str) {
    match err {
        Error::CheckpointOutOfOrder {
            thread_id,
            checkpoint_id,
            parent_id,
        } => {
            assert_eq!(thread_id, thread, "{what}: thread");
            assert_eq!(checkpoint_id, child, "{what}: checkpoint id");
            assert_eq!(parent_id, parent, "{what}: parent id");
        }
        other => panic!("{what}: expected Error::CheckpointOutOfOrder, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(thread) && text.contains(child) && text.contains(parent),
        "{what}: the message names thread and both ids: {text}"
    );
}

/// A child made on a host whose clock is 10 minutes behind, with the
/// parent-aware id, is stored and becomes the latest checkpoint.
pub fn order_child_from_a_clock_behind_is_latest(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let parent = put(saver, &config(&tid), &checkpoint(), &metadata_step(0));
    let id = new_checkpoint_id_at_time(1, Some(&id_of(&parent)), ten_minutes_behind());
    let stored = put(
        saver,
        &child_of(&parent),
        &checkpoint_id(id.clone()),
        &metadata_step(1),
    );
    assert_eq!(id_of(&stored), id);
    let latest = get(saver, &config(&tid));
    assert_eq!(latest.checkpoint.id, id, "the child is the latest");
    assert_eq!(latest.parent_config, Some(parent));
}

/// Puts a child with id `child_id` on a fresh parent through `call`
/// (`put` or `put_with_writes`), and checks that the saver refuses it
/// with the out-of-order error and stores nothing.
fn assert_refused(
    saver: &dyn BaseCheckpointSaver,
    what: &str,
    child_id: Option<String>,
    call: impl FnOnce(&Config, &Checkpoint) -> crate::Result<Config>,
) {
    let tid = thread_id();
    let parent = put(saver, &config(&tid), &checkpoint(), &metadata_step(0));
    let child_id = child_id.unwrap_or_else(|| id_of(&parent));
    let before = snapshot(saver);
    let err = expect_err(
        what,
        call(&child_of(&parent), &checkpoint_id(child_id.clone())),
    );
    assert_out_of_order(what, &err, &tid, &child_id, &id_of(&parent));
    assert_eq!(
        snapshot(saver),
        before,
        "{what}: the refused call stored something"
    );
}

/// The id a host 10 minutes behind would make without looking at the
/// parent sorts before it; `put` refuses it and stores nothing.
pub fn order_put_before_parent_refused(saver: &dyn BaseCheckpointSaver) {
    // The behind host's id is made first, so it is the smaller one.
    let behind = new_checkpoint_id_at_time(1, None, ten_minutes_behind());
    assert_refused(saver, "put before the parent", Some(behind), |cfg, cp| {
        saver.put(cfg, cp, &metadata_step(1), &cp.channel_versions)
    });
}

/// A child with its parent's own id is refused too: ids must grow.
pub fn order_put_same_id_as_parent_refused(saver: &dyn BaseCheckpointSaver) {
    assert_refused(saver, "put with the parent's id", None, |cfg, cp| {
        saver.put(cfg, cp, &metadata_step(1), &cp.channel_versions)
    });
}

/// `put_with_writes` refuses an out-of-order child and stores neither the
/// checkpoint nor the writes.
pub fn order_put_with_writes_before_parent_refused(saver: &dyn BaseCheckpointSaver) {
    let behind = new_checkpoint_id_at_time(1, None, ten_minutes_behind());
    let writes = [("a".to_owned(), json!(1))];
    let task = uuid4();
    let batches = [WriteBatch::new(&writes, &task, "")];
    assert_refused(
        saver,
        "put_with_writes before the parent",
        Some(behind),
        |cfg, cp| saver.put_with_writes(cfg, &batches, cp, &metadata_step(1), &cp.channel_versions),
    );
}

/// A chain made with `new_checkpoint_id_after` on clocks that jump back
/// and forth lists newest first, in the order it was written.
pub fn order_chain_on_alternating_clocks(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut parent = put(saver, &config(&tid), &checkpoint(), &metadata_step(0));
    let mut written = vec![id_of(&parent)];
    for step in 1..6 {
        let parent_id = id_of(&parent);
        let id = if step % 2 == 1 {
            new_checkpoint_id_at_time(step, Some(&parent_id), ten_minutes_behind())
        } else {
            new_checkpoint_id_after(step, Some(&parent_id))
        };
        parent = put(
            saver,
            &child_of(&parent),
            &checkpoint_id(id),
            &metadata_step(step),
        );
        written.push(id_of(&parent));
    }
    written.reverse();
    assert_eq!(thread_ids(saver, &tid), written, "newest first");
    assert_eq!(get(saver, &config(&tid)).checkpoint.id, written[0]);
}

/// A `put` without a parent (a thread's first checkpoint) has no bound.
pub fn order_first_checkpoint_has_no_bound(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let id = new_checkpoint_id_at_time(0, None, ten_minutes_behind());
    let stored = put(
        saver,
        &config(&tid),
        &checkpoint_id(id.clone()),
        &metadata_step(0),
    );
    assert_eq!(id_of(&stored), id);
}
