//! `copy_thread`: a new thread with the same history.

use crate::{BaseCheckpointSaver, CheckpointTuple, Config, ListOptions};
use serde_json::json;

use super::fixtures::{
    checkpoint, checkpoint_with, child_of, config, config_ns, get, list, list_ids, metadata_step,
    put, put_chain, put_writes, put_writes_path, snapshot, thread_id, thread_ids, triples, uuid4,
};

/// `n` chained checkpoints in each namespace of `thread_id`, each with
/// channel `step` = i at version 1. Returns the stored configs.
fn setup_source_thread(
    saver: &dyn BaseCheckpointSaver,
    thread_id: &str,
    n: i64,
    namespaces: &[&str],
) -> Vec<Config> {
    let mut stored = Vec::new();
    for ns in namespaces {
        let mut parent: Option<Config> = None;
        for i in 0..n {
            let cfg = parent
                .as_ref()
                .map_or_else(|| config_ns(thread_id, ns), child_of);
            let cp = checkpoint_with(&[("step", json!(i))]);
            let saved = put(saver, &cfg, &cp, &metadata_step(i));
            stored.push(saved.clone());
            parent = Some(saved);
        }
    }
    stored
}

fn all(saver: &dyn BaseCheckpointSaver, thread_id: &str) -> Vec<CheckpointTuple> {
    list(saver, Some(&config(thread_id)), &ListOptions::new())
}

/// The checkpoints appear on the target.
pub fn copy_thread_basic(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    setup_source_thread(saver, &src, 3, &[""]);

    saver.copy_thread(&src, &dst).expect("copy_thread");

    let copied = all(saver, &dst);
    assert_eq!(copied.len(), 3, "3 copied checkpoints");
    assert!(copied.iter().all(|t| t.config.thread_id == dst));
}

/// Every checkpoint is copied, with its values and parent link.
pub fn copy_thread_all_checkpoints(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    setup_source_thread(saver, &src, 3, &[""]);

    saver.copy_thread(&src, &dst).expect("copy_thread");

    let source = all(saver, &src);
    let target = all(saver, &dst);
    assert_eq!(target.len(), source.len());
    for (s, d) in source.iter().zip(&target) {
        assert_eq!(s.checkpoint.id, d.checkpoint.id);
        assert_eq!(
            s.checkpoint.channel_values, d.checkpoint.channel_values,
            "channel_values of {}",
            s.checkpoint.id
        );
        assert_eq!(s.checkpoint, d.checkpoint, "checkpoint {}", s.checkpoint.id);
        assert_eq!(
            s.parent_config.as_ref().map(|p| &p.checkpoint_id),
            d.parent_config.as_ref().map(|p| &p.checkpoint_id),
            "parent of {}",
            s.checkpoint.id
        );
        if let Some(parent) = &d.parent_config {
            assert_eq!(
                parent.thread_id, dst,
                "the parent link points into the copy"
            );
        }
    }
}

/// Metadata is copied, every key.
pub fn copy_thread_preserves_metadata(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    let stored = setup_source_thread(saver, &src, 2, &[""]);
    // One more with richer metadata.
    put(
        saver,
        &child_of(&stored[1]),
        &checkpoint(),
        &metadata_step(2)
            .with_run_id(uuid4())
            .with_extra("user", "alice")
            .with_extra("nested", json!({"a": [1, 2]})),
    );

    saver.copy_thread(&src, &dst).expect("copy_thread");

    let source = all(saver, &src);
    let target = all(saver, &dst);
    assert_eq!(source.len(), target.len());
    for (s, d) in source.iter().zip(&target) {
        assert_eq!(s.metadata, d.metadata, "metadata of {}", s.checkpoint.id);
    }
}

/// Every namespace is copied.
pub fn copy_thread_preserves_namespaces(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    let stored = setup_source_thread(saver, &src, 1, &["", "child:1"]);

    saver.copy_thread(&src, &dst).expect("copy_thread");

    for (ns, source) in ["", "child:1"].into_iter().zip(&stored) {
        let found = list(saver, Some(&config_ns(&dst, ns)), &ListOptions::new());
        assert_eq!(found.len(), 1, "one checkpoint in namespace {ns:?}");
        assert_eq!(Some(&found[0].checkpoint.id), source.checkpoint_id.as_ref());
        assert_eq!(found[0].config.ns(), ns);
    }
}

/// Pending writes are copied.
pub fn copy_thread_preserves_writes(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    let stored = setup_source_thread(saver, &src, 1, &[""]);
    let task = uuid4();
    put_writes_path(
        saver,
        &stored[0],
        &[("ch", json!("write_val"))],
        &task,
        "~__pregel_pull, node",
    );

    saver.copy_thread(&src, &dst).expect("copy_thread");

    let tup = get(saver, &config(&dst));
    assert_eq!(
        triples(&tup.pending_writes),
        vec![(task, "ch".to_owned(), json!("write_val"))]
    );
    assert_eq!(
        tup.pending_writes,
        get(saver, &stored[0]).pending_writes,
        "writes are copied with task path and index"
    );
}

/// The copy keeps the ids, so it lists in the same order.
pub fn copy_thread_preserves_ordering(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    setup_source_thread(saver, &src, 4, &[""]);

    saver.copy_thread(&src, &dst).expect("copy_thread");

    let source_ids = list_ids(saver, Some(&config(&src)), &ListOptions::new());
    let target_ids = list_ids(saver, Some(&config(&dst)), &ListOptions::new());
    assert_eq!(source_ids.len(), 4);
    assert_eq!(source_ids, target_ids, "identical ids, newest first");
}

/// The source is unchanged.
pub fn copy_thread_source_unchanged(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    let stored = setup_source_thread(saver, &src, 2, &[""]);
    put_writes(saver, &stored[1], &[("ch", json!("v"))], &uuid4());
    let before = list(saver, Some(&Config::thread(&src)), &ListOptions::new());

    saver.copy_thread(&src, &dst).expect("copy_thread");

    let after = list(saver, Some(&Config::thread(&src)), &ListOptions::new());
    assert_eq!(before, after, "the source is unchanged");
}

/// Copying an unknown thread leaves the target empty (an error is allowed).
pub fn copy_thread_nonexistent_source(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    put_chain(saver, &thread_id(), "", 1);
    let before = snapshot(saver);

    let _refused_or_noop = saver.copy_thread(&src, &dst);

    assert!(all(saver, &dst).is_empty(), "the target stays empty");
    assert!(thread_ids(saver, &dst).is_empty());
    assert_eq!(snapshot(saver), before, "nothing changed");
}
