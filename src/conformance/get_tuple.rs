//! `get_tuple`: latest or exact checkpoint, with its config, metadata,
//! parent and writes.

use crate::{BaseCheckpointSaver, CheckpointSource, PendingWrite};
use serde_json::json;

use super::fixtures::{
    checkpoint, checkpoint_with, child_of, config, config_ns, get, id_of, metadata, metadata_at,
    metadata_step, put, put_chain, put_writes, thread_id, triples, try_get, uuid4, versions_of,
};

/// An unknown thread reads as `None`.
pub fn get_tuple_nonexistent_returns_none(saver: &dyn BaseCheckpointSaver) {
    assert!(try_get(saver, &config(&thread_id())).is_none());
}

/// Without a `checkpoint_id`, the newest checkpoint of the thread.
pub fn get_tuple_latest_when_no_checkpoint_id(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 3);

    let tup = get(saver, &config(&tid));
    assert_eq!(
        tup.checkpoint.id,
        id_of(&stored[2]),
        "the latest checkpoint"
    );
    assert_eq!(tup.metadata.step, 2, "the latest step");
}

/// With a `checkpoint_id`, exactly that checkpoint, even if newer exist.
pub fn get_tuple_specific_checkpoint_id(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint();
    let stored1 = put(saver, &config(&tid), &cp1, &metadata_step(0));
    put(saver, &child_of(&stored1), &checkpoint(), &metadata_step(1));

    let tup = get(saver, &stored1);
    assert_eq!(tup.checkpoint.id, cp1.id);
    assert_eq!(tup.metadata.step, 0);
}

/// The tuple's config names thread, root namespace and id.
pub fn get_tuple_config_structure(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp = checkpoint();
    let stored = put(saver, &config(&tid), &cp, &metadata());

    let tup = get(saver, &stored);
    assert_eq!(tup.config.thread_id, tid);
    assert_eq!(tup.config.ns(), "");
    assert_eq!(tup.config.checkpoint_id.as_deref(), Some(cp.id.as_str()));
    // The latest-read gives the same config.
    assert_eq!(get(saver, &config(&tid)).config, tup.config);
}

/// Every checkpoint field comes back.
pub fn get_tuple_checkpoint_fields(saver: &dyn BaseCheckpointSaver) {
    let mut cp = checkpoint_with(&[("k", json!("v"))]);
    cp.versions_seen
        .insert("node".to_owned(), versions_of(&[("k", 1)]));
    let stored = put(saver, &config(&thread_id()), &cp, &metadata());

    let c = get(saver, &stored).checkpoint;
    assert_eq!(c.id, cp.id);
    assert_eq!(c.v, 1, "v");
    assert!(!c.ts.is_empty(), "ts is empty");
    assert_eq!(c.ts, cp.ts, "ts is kept verbatim");
    assert_eq!(c.channel_values, cp.channel_values);
    assert_eq!(c.channel_versions, cp.channel_versions);
    assert_eq!(c.versions_seen, cp.versions_seen);
}

/// Metadata comes back (source input, step -1).
pub fn get_tuple_metadata(saver: &dyn BaseCheckpointSaver) {
    let md = metadata_at(CheckpointSource::Input, -1);
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &md);

    let tup = get(saver, &stored);
    assert_eq!(tup.metadata.source, CheckpointSource::Input);
    assert_eq!(tup.metadata.step, -1);
}

/// `parent_config` is `None` for a root checkpoint, else names the parent.
pub fn get_tuple_parent_config(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored1 = put(saver, &config(&tid), &checkpoint(), &metadata_step(0));
    let tup1 = get(saver, &stored1);
    assert!(
        tup1.parent_config.is_none(),
        "a root checkpoint has no parent, got {:?}",
        tup1.parent_config
    );

    let stored2 = put(saver, &child_of(&stored1), &checkpoint(), &metadata_step(1));
    let parent = get(saver, &stored2)
        .parent_config
        .expect("the child has a parent_config");
    assert_eq!(parent.checkpoint_id, stored1.checkpoint_id);
    assert_eq!(parent.thread_id, tid);
    assert_eq!(parent.ns(), "");
}

/// The writes made with `put_writes`, exactly.
pub fn get_tuple_pending_writes(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[("ch", json!("val"))], &task);

    let tup = get(saver, &stored);
    assert_eq!(
        triples(&tup.pending_writes),
        vec![(task.clone(), "ch".to_owned(), json!("val"))]
    );
    assert_eq!(
        tup.pending_writes,
        vec![PendingWrite {
            task_id: task,
            channel: "ch".to_owned(),
            value: json!("val"),
            task_path: String::new(),
            idx: 0,
        }]
    );
}

/// Each namespace reads back its own checkpoint.
pub fn get_tuple_respects_namespace(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp_root = checkpoint();
    let root = put(saver, &config_ns(&tid, ""), &cp_root, &metadata());
    let cp_child = checkpoint();
    let child = put(saver, &config_ns(&tid, "child:1"), &cp_child, &metadata());

    assert_eq!(get(saver, &root).checkpoint.id, cp_root.id);
    assert_eq!(get(saver, &child).checkpoint.id, cp_child.id);
    // The latest of each namespace, too: the child is newer but lives apart.
    assert_eq!(get(saver, &config_ns(&tid, "")).checkpoint.id, cp_root.id);
    assert_eq!(
        get(saver, &config_ns(&tid, "child:1")).checkpoint.id,
        cp_child.id
    );
    // An id of one namespace is not found in another.
    assert!(try_get(saver, &config_ns(&tid, "").with_checkpoint_id(&cp_child.id)).is_none());
}

/// An unknown id in a known thread reads as `None`.
pub fn get_tuple_nonexistent_checkpoint_id(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    put(saver, &config(&tid), &checkpoint(), &metadata());
    assert!(try_get(saver, &config(&tid).with_checkpoint_id(uuid4())).is_none());
}
