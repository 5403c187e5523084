//! `put` then `get_tuple`: what is stored comes back.

use std::collections::BTreeMap;

use crate::{BaseCheckpointSaver, ChannelVersion, ChannelVersions, CheckpointSource, Config};
use serde_json::{Value, json};

use super::fixtures::{
    checkpoint, checkpoint_versioned, checkpoint_with, child_of, config, config_ns, get, id_of,
    metadata, metadata_at, metadata_step, no_versions, put, put_chain, put_new, thread_id, uuid4,
    values, versions_of,
};

/// `put` returns the config of the stored checkpoint: its thread, namespace
/// and id.
pub fn put_returns_config(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp = checkpoint_with(&[("k", json!("v"))]);
    let result = saver
        .put(&config(&tid), &cp, &metadata(), &versions_of(&[("k", 1)]))
        .expect("put");
    assert_eq!(result.thread_id, tid, "returned config names the thread");
    assert_eq!(
        result.checkpoint_ns.as_deref(),
        Some(""),
        "returned config names the namespace"
    );
    assert_eq!(
        result.checkpoint_id.as_deref(),
        Some(cp.id.as_str()),
        "returned config names the stored checkpoint"
    );
}

/// What `put` stores, `get_tuple` returns unchanged.
pub fn put_roundtrip(saver: &dyn BaseCheckpointSaver) {
    let mut cp = checkpoint_with(&[("msg", json!("hello"))]);
    cp.updated_channels = Some(vec!["msg".to_owned()]);
    cp.versions_seen
        .insert("node".to_owned(), versions_of(&[("msg", 1)]));
    let md = metadata_at(CheckpointSource::Input, -1);
    let stored = put(saver, &config(&thread_id()), &cp, &md);

    let tup = get(saver, &stored);
    assert_eq!(tup.checkpoint.id, cp.id);
    assert_eq!(
        tup.checkpoint.channel_values,
        BTreeMap::from([("msg".to_owned(), json!("hello"))])
    );
    assert_eq!(
        tup.checkpoint, cp,
        "the whole checkpoint is stored as given"
    );
}

/// Strings, numbers, booleans, lists and maps round-trip.
pub fn put_preserves_channel_values(saver: &dyn BaseCheckpointSaver) {
    let samples = [
        ("str_val", json!("hello")),
        ("int_val", json!(42)),
        ("neg_val", json!(-7)),
        ("float_val", json!(2.5)),
        ("bool_val", json!(true)),
        ("list_val", json!([1, 2, 3])),
        (
            "dict_val",
            json!({"nested": true, "deeper": {"x": [1, "two"]}}),
        ),
        ("unicode_val", json!("héllo — 世界")),
    ];
    let cp = checkpoint_with(&samples);
    let stored = put(saver, &config(&thread_id()), &cp, &metadata());

    let tup = get(saver, &stored);
    for (channel, expected) in &samples {
        assert_eq!(
            tup.checkpoint.channel_values.get(*channel),
            Some(expected),
            "channel_values[{channel}]"
        );
    }
    assert_eq!(values(&tup).len(), samples.len(), "no extra channels");
}

/// Channel versions round-trip.
pub fn put_preserves_channel_versions(saver: &dyn BaseCheckpointSaver) {
    let versions = versions_of(&[("a", 1), ("b", 2)]);
    let cp = checkpoint_versioned(
        &[("a", json!("x")), ("b", json!("y"))],
        &[("a", 1), ("b", 2)],
    );
    let stored = put_new(saver, &config(&thread_id()), &cp, &metadata(), &versions);

    let tup = get(saver, &stored);
    for (channel, expected) in &versions {
        let actual = tup
            .checkpoint
            .channel_versions
            .get(channel)
            .unwrap_or_else(|| panic!("channel_versions[{channel}] missing"));
        assert_eq!(
            actual.counter(),
            expected.counter(),
            "channel_versions[{channel}]"
        );
    }
    assert_eq!(tup.checkpoint.channel_versions, versions);
}

/// `versions_seen` round-trips (every node present).
pub fn put_preserves_versions_seen(saver: &dyn BaseCheckpointSaver) {
    let mut cp = checkpoint();
    cp.versions_seen = BTreeMap::from([
        ("node1".to_owned(), versions_of(&[("ch", 1)])),
        ("node2".to_owned(), versions_of(&[("ch", 2)])),
    ]);
    let stored = put_new(
        saver,
        &config(&thread_id()),
        &cp,
        &metadata(),
        &no_versions(),
    );

    let tup = get(saver, &stored);
    for node in ["node1", "node2"] {
        assert!(
            tup.checkpoint.versions_seen.contains_key(node),
            "versions_seen[{node}] missing: {:?}",
            tup.checkpoint.versions_seen
        );
    }
}

/// Metadata source, step and custom keys round-trip.
pub fn put_preserves_metadata(saver: &dyn BaseCheckpointSaver) {
    let md = metadata_at(CheckpointSource::Loop, 3).with_extra("custom_key", "custom_value");
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &md);

    let tup = get(saver, &stored);
    assert_eq!(tup.metadata.source, CheckpointSource::Loop);
    assert_eq!(tup.metadata.step, 3);
    assert_eq!(tup.metadata.get("custom_key"), Some(json!("custom_value")));
    assert!(tup.metadata.parents.is_empty(), "parents stays empty");
    assert_eq!(tup.metadata, md, "the whole metadata is stored as given");
}

/// Deeply nested JSON metadata round-trips unchanged (an extra case of the
/// Python kit).
pub fn put_preserves_nested_metadata(saver: &dyn BaseCheckpointSaver) {
    let nested = json!({
        "profile": {
            "name": "alice",
            "tags": ["admin", "rag"],
            "prefs": {"theme": "dark", "n": 3, "flag": true},
            "empty_dict": {},
            "empty_list": [],
        },
        "metrics": [{"step": 1, "score": 0.95}, {"step": 2, "score": 0.99}],
    });
    let md = metadata_at(CheckpointSource::Input, 1).with_extra("user", nested.clone());
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &md);

    let tup = get(saver, &stored);
    assert_eq!(tup.metadata.source, CheckpointSource::Input);
    assert_eq!(tup.metadata.step, 1);
    assert_eq!(tup.metadata.get("user"), Some(nested));
}

/// The root namespace `""` works.
pub fn put_root_namespace(saver: &dyn BaseCheckpointSaver) {
    let stored = put(
        saver,
        &config_ns(&thread_id(), ""),
        &checkpoint(),
        &metadata(),
    );
    let tup = get(saver, &stored);
    assert_eq!(tup.config.ns(), "");
}

/// A child namespace works and is reported back.
pub fn put_child_namespace(saver: &dyn BaseCheckpointSaver) {
    let stored = put(
        saver,
        &config_ns(&thread_id(), "child:abc"),
        &checkpoint(),
        &metadata(),
    );
    let tup = get(saver, &stored);
    assert_eq!(tup.config.checkpoint_ns.as_deref(), Some("child:abc"));
}

/// A config without a namespace means the root namespace.
pub fn put_default_namespace(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp = checkpoint();
    let stored = put(saver, &Config::thread(&tid), &cp, &metadata());
    assert_eq!(stored.ns(), "", "stored in the root namespace");

    let tup = get(saver, &stored);
    assert_eq!(tup.checkpoint.id, cp.id);
    let root = get(saver, &config_ns(&tid, ""));
    assert_eq!(root.checkpoint.id, cp.id, "found under checkpoint_ns \"\"");
}

/// Three chained checkpoints of one thread are each readable by id.
pub fn put_multiple_checkpoints_same_thread(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 3);
    for cfg in &stored {
        let id = id_of(cfg);
        let tup = get(saver, &config(&tid).with_checkpoint_id(&id));
        assert_eq!(tup.checkpoint.id, id, "checkpoint {id} readable by id");
    }
}

/// Threads do not see each other's checkpoints.
pub fn put_multiple_threads_isolated(saver: &dyn BaseCheckpointSaver) {
    let (tid1, tid2) = (thread_id(), thread_id());
    put(
        saver,
        &config(&tid1),
        &checkpoint_with(&[("x", json!("thread1"))]),
        &metadata(),
    );
    put(
        saver,
        &config(&tid2),
        &checkpoint_with(&[("x", json!("thread2"))]),
        &metadata(),
    );

    let tup1 = get(saver, &config(&tid1));
    let tup2 = get(saver, &config(&tid2));
    assert_eq!(values(&tup1)["x"], json!("thread1"));
    assert_eq!(values(&tup2)["x"], json!("thread2"));
}

/// The config's `checkpoint_id` becomes the parent.
pub fn put_parent_config(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored1 = put(saver, &config(&tid), &checkpoint(), &metadata_step(0));
    let stored2 = put(saver, &child_of(&stored1), &checkpoint(), &metadata_step(1));

    let tup = get(saver, &stored2);
    let parent = tup.parent_config.expect("the child has a parent_config");
    assert_eq!(parent.checkpoint_id, stored1.checkpoint_id);
}

/// Only `a` changes in the second checkpoint; `b` is read from the first.
pub fn put_incremental_channel_update(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_versioned(
        &[("a", json!("v1")), ("b", json!("v2"))],
        &[("a", 1), ("b", 1)],
    );
    let stored1 = put_new(
        saver,
        &config(&tid),
        &cp1,
        &metadata_step(0),
        &versions_of(&[("a", 1), ("b", 1)]),
    );

    let cp2 = checkpoint_versioned(
        &[("a", json!("v1_updated")), ("b", json!("v2"))],
        &[("a", 2), ("b", 1)],
    );
    let stored2 = put_new(
        saver,
        &child_of(&stored1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );

    let tup2 = get(saver, &stored2);
    assert_eq!(values(&tup2).get("a"), Some(&json!("v1_updated")), "cp2.a");
    assert_eq!(values(&tup2).get("b"), Some(&json!("v2")), "cp2.b");

    let tup1 = get(saver, &stored1);
    assert_eq!(
        values(&tup1).get("a"),
        Some(&json!("v1")),
        "cp1.a unchanged"
    );
    assert_eq!(
        values(&tup1).get("b"),
        Some(&json!("v2")),
        "cp1.b unchanged"
    );
}

/// A channel that first appears in a later checkpoint.
pub fn put_new_channel_added(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_versioned(&[("a", json!("v1"))], &[("a", 1)]);
    let stored1 = put(saver, &config(&tid), &cp1, &metadata_step(0));

    let cp2 = checkpoint_versioned(
        &[("a", json!("v1")), ("b", json!("new_channel"))],
        &[("a", 1), ("b", 1)],
    );
    let stored2 = put_new(
        saver,
        &child_of(&stored1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("b", 1)]),
    );

    let tup2 = get(saver, &stored2);
    assert_eq!(values(&tup2).get("a"), Some(&json!("v1")), "cp2.a");
    assert_eq!(values(&tup2).get("b"), Some(&json!("new_channel")), "cp2.b");
}

/// A channel missing from `channel_versions` is absent when read back.
pub fn put_channel_removed(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_versioned(
        &[("a", json!("v1")), ("b", json!("v2"))],
        &[("a", 1), ("b", 1)],
    );
    let stored1 = put(saver, &config(&tid), &cp1, &metadata_step(0));

    let cp2 = checkpoint_versioned(&[("a", json!("v1_updated"))], &[("a", 2)]);
    let stored2 = put_new(
        saver,
        &child_of(&stored1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );

    let tup2 = get(saver, &stored2);
    assert_eq!(values(&tup2).get("a"), Some(&json!("v1_updated")));
    assert!(
        !values(&tup2).contains_key("b"),
        "'b' must be absent, got {:?}",
        values(&tup2)
    );
    assert!(!tup2.checkpoint.channel_versions.contains_key("b"));
}

/// `run_id` in metadata round-trips.
pub fn put_preserves_run_id(saver: &dyn BaseCheckpointSaver) {
    let run_id = uuid4();
    let md = metadata().with_run_id(&run_id);
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &md);

    let tup = get(saver, &stored);
    assert_eq!(tup.metadata.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(tup.metadata.get("run_id"), Some(Value::from(run_id)));
}

/// `versions_seen` values, not just its keys, round-trip.
pub fn put_preserves_versions_seen_values(saver: &dyn BaseCheckpointSaver) {
    let salted = ChannelVersion::with_salt(4, 0x1234_5678_9abc_def0);
    let node3: ChannelVersions = BTreeMap::from([("ch_c".to_owned(), salted)]);
    let mut cp = checkpoint();
    cp.versions_seen = BTreeMap::from([
        ("node1".to_owned(), versions_of(&[("ch_a", 1), ("ch_b", 2)])),
        ("node2".to_owned(), versions_of(&[("ch_a", 3)])),
        ("node3".to_owned(), node3),
    ]);
    let stored = put_new(
        saver,
        &config(&thread_id()),
        &cp,
        &metadata(),
        &no_versions(),
    );

    let tup = get(saver, &stored);
    for (node, expected) in &cp.versions_seen {
        let actual = tup
            .checkpoint
            .versions_seen
            .get(node)
            .unwrap_or_else(|| panic!("versions_seen[{node}] missing"));
        for (channel, version) in expected {
            let got = actual
                .get(channel)
                .unwrap_or_else(|| panic!("versions_seen[{node}][{channel}] missing"));
            assert_eq!(got, version, "versions_seen[{node}][{channel}]");
        }
    }
    assert_eq!(tup.checkpoint.versions_seen, cp.versions_seen);
}
