//! `PostgresSaver::put` sends only the blobs of the channels in
//! `new_versions` (as Python's `PostgresSaver` does) and checks, in the
//! same statement, that the blobs of the other channels are stored; when
//! one is not (never stored, or removed behind the saver's back) it sends
//! them all. Needs `CHECKPOINTER_PG_URL` (see `pg_support`).
#![cfg(feature = "postgres")]

mod pg_support;

use checkpointer::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
};
use pg_support::{Schema, fresh};
use serde_json::{Value, json};

fn metadata(step: i64) -> CheckpointMetadata {
    CheckpointMetadata::new(CheckpointSource::Loop, step)
}

fn versions(checkpoint: &Checkpoint, channels: &[&str]) -> ChannelVersions {
    channels
        .iter()
        .map(|c| ((*c).to_owned(), checkpoint.channel_versions[*c]))
        .collect()
}

fn value_of(saver: &dyn BaseCheckpointSaver, config: &Config, channel: &str) -> Option<Value> {
    let tuple = saver
        .get_tuple(config)
        .expect("get_tuple")
        .expect("the checkpoint is stored");
    tuple.checkpoint.channel_values.get(channel).cloned()
}

fn blob_rows(schema: &Schema, channel: &str) -> i64 {
    schema
        .client()
        .query_one(
            "SELECT count(*) FROM checkpoint_blobs WHERE channel = $1",
            &[&channel],
        )
        .expect("count blobs")
        .get(0)
}

#[test]
fn a_channel_left_out_of_new_versions_reads_back_from_its_stored_blob() {
    let Some((saver, schema)) = fresh("left_out_channel") else {
        return;
    };
    let first = Checkpoint::new(0)
        .with_value("messages", json!(["hello"]), 1)
        .with_value("counter", 0, 1);
    let stored = saver
        .put(
            &Config::thread("t"),
            &first,
            &metadata(0),
            &versions(&first, &["messages", "counter"]),
        )
        .expect("first put");
    // The next step changes only the counter: `messages` keeps version 1.
    let second = first.successor(1).with_value("counter", 1, 2);
    let stored = saver
        .put(
            &stored,
            &second,
            &metadata(1),
            &versions(&second, &["counter"]),
        )
        .expect("second put");
    assert_eq!(
        value_of(&saver, &stored, "messages"),
        Some(json!(["hello"]))
    );
    assert_eq!(value_of(&saver, &stored, "counter"), Some(json!(1)));
    assert_eq!(blob_rows(&schema, "messages"), 1, "one blob per version");
}

#[test]
fn a_version_never_stored_is_stored_though_new_versions_leaves_it_out() {
    let Some((saver, schema)) = fresh("never_stored_version") else {
        return;
    };
    let checkpoint = Checkpoint::new(-1).with_value("messages", json!(["a", "b"]), 3);
    let stored = saver
        .put(
            &Config::thread("t"),
            &checkpoint,
            &metadata(-1),
            &ChannelVersions::new(),
        )
        .expect("put");
    assert_eq!(
        value_of(&saver, &stored, "messages"),
        Some(json!(["a", "b"]))
    );
    assert_eq!(blob_rows(&schema, "messages"), 1);
}

#[test]
fn a_blob_removed_behind_the_savers_back_is_sent_again() {
    let Some((saver, schema)) = fresh("removed_blob") else {
        return;
    };
    let first = Checkpoint::new(0).with_value("messages", json!(["kept"]), 1);
    let stored = saver
        .put(
            &Config::thread("t"),
            &first,
            &metadata(0),
            &versions(&first, &["messages"]),
        )
        .expect("first put");
    schema
        .client()
        .execute("DELETE FROM checkpoint_blobs", &[])
        .expect("remove the blob");
    let second = first.successor(1).with_value("counter", 5, 1);
    let stored = saver
        .put(
            &stored,
            &second,
            &metadata(1),
            &versions(&second, &["counter"]),
        )
        .expect("second put");
    assert_eq!(value_of(&saver, &stored, "messages"), Some(json!(["kept"])));
    assert_eq!(blob_rows(&schema, "messages"), 1, "sent again");
}
