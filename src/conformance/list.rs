//! `list`: namespaces, order, metadata filter, `before` and `limit`.

use crate::{BaseCheckpointSaver, CheckpointSource, ListOptions};
use serde_json::json;

use super::fixtures::{
    checkpoint, child_of, config, config_ns, list, list_ids, metadata, metadata_at, put,
    put_writes, thread_id, triples, uuid4,
};

/// The list fixture: one thread, a chain of 4 checkpoints with sources
/// input, loop, input, loop and steps 0 to 3. Returns the thread and the
/// ids, oldest first.
fn setup_list_data(saver: &dyn BaseCheckpointSaver) -> (String, Vec<String>) {
    let tid = thread_id();
    let mut ids = Vec::new();
    let mut parent = None;
    for step in 0..4 {
        let cfg = parent.as_ref().map_or_else(|| config(&tid), child_of);
        let source = if step % 2 == 0 {
            CheckpointSource::Input
        } else {
            CheckpointSource::Loop
        };
        let cp = checkpoint();
        let stored = put(saver, &cfg, &cp, &metadata_at(source, step));
        ids.push(cp.id);
        parent = Some(stored);
    }
    (tid, ids)
}

/// No filter: every checkpoint of the thread.
pub fn list_all(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let found = list(saver, Some(&config(&tid)), &ListOptions::new());
    assert_eq!(found.len(), 4);
    for tup in &found {
        assert_eq!(tup.config.thread_id, tid);
        assert!(ids.contains(&tup.checkpoint.id));
    }
}

/// Other threads are not listed; an unknown thread lists nothing.
pub fn list_by_thread(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = setup_list_data(saver);
    let other = setup_list_data(saver).0;
    assert!(
        list(saver, Some(&config(&thread_id())), &ListOptions::new()).is_empty(),
        "an unknown thread lists nothing"
    );
    let found = list(saver, Some(&config(&tid)), &ListOptions::new());
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|t| t.config.thread_id == tid));
    assert_ne!(tid, other);
}

/// A namespace lists only its own checkpoints.
pub fn list_by_namespace(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let root = checkpoint();
    put(saver, &config_ns(&tid, ""), &root, &metadata());
    let child = checkpoint();
    put(saver, &config_ns(&tid, "child:1"), &child, &metadata());

    let root_ids = list_ids(saver, Some(&config_ns(&tid, "")), &ListOptions::new());
    assert_eq!(root_ids, vec![root.id]);
    let child_found = list(
        saver,
        Some(&config_ns(&tid, "child:1")),
        &ListOptions::new(),
    );
    assert_eq!(child_found.len(), 1);
    assert_eq!(child_found[0].checkpoint.id, child.id);
    assert_eq!(child_found[0].config.ns(), "child:1");
}

/// Newest first.
pub fn list_ordering(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let found = list_ids(saver, Some(&config(&tid)), &ListOptions::new());
    let expected: Vec<String> = ids.into_iter().rev().collect();
    assert_eq!(found, expected);
}

/// `source = input` keeps the two input checkpoints.
pub fn list_metadata_filter_single_key(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let found = list(
        saver,
        Some(&config(&tid)),
        &ListOptions::new().filter("source", "input"),
    );
    assert_eq!(found.len(), 2, "two input checkpoints (steps 0 and 2)");
    assert!(
        found
            .iter()
            .all(|t| t.metadata.source == CheckpointSource::Input)
    );
    let got: Vec<&str> = found.iter().map(|t| t.checkpoint.id.as_str()).collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[0].as_str()]);
}

/// `step = 1` keeps one checkpoint.
pub fn list_metadata_filter_step(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let found = list(
        saver,
        Some(&config(&tid)),
        &ListOptions::new().filter("step", 1),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].metadata.step, 1);
    assert_eq!(found[0].checkpoint.id, ids[1]);
}

/// Several filter keys must all match.
pub fn list_metadata_filter_multiple_keys(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut wanted = None;
    for (source, step) in [
        (CheckpointSource::Input, 1),
        (CheckpointSource::Loop, 1),
        (CheckpointSource::Input, 2),
    ] {
        let cp = checkpoint();
        put(saver, &config(&tid), &cp, &metadata_at(source, step));
        if source == CheckpointSource::Input && step == 2 {
            wanted = Some(cp.id);
        }
    }

    let found = list(
        saver,
        Some(&config(&tid)),
        &ListOptions::new()
            .filter("source", "input")
            .filter("step", 2),
    );
    assert_eq!(found.len(), 1, "one match for source=input AND step=2");
    assert_eq!(found[0].metadata.source, CheckpointSource::Input);
    assert_eq!(found[0].metadata.step, 2);
    assert_eq!(Some(found[0].checkpoint.id.clone()), wanted);
}

/// A filter no checkpoint matches lists nothing.
pub fn list_metadata_filter_no_match(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = setup_list_data(saver);
    let found = list(
        saver,
        Some(&config(&tid)),
        &ListOptions::new()
            .filter("source", "update")
            .filter("step", 99),
    );
    assert!(found.is_empty(), "got {found:?}");
}

/// Custom metadata keys can be filtered on.
pub fn list_metadata_custom_keys(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    put(
        saver,
        &config(&tid),
        &checkpoint(),
        &metadata().with_extra("score", 42).with_run_id("run-abc"),
    );
    put(
        saver,
        &config(&tid),
        &checkpoint(),
        &metadata().with_extra("score", 99).with_run_id("run-xyz"),
    );

    let found = list(
        saver,
        Some(&config(&tid)),
        &ListOptions::new().filter("score", 42),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].metadata.get("score"), Some(json!(42)));
    assert_eq!(found[0].metadata.run_id.as_deref(), Some("run-abc"));
}

/// `before` keeps only older checkpoints (exclusive).
pub fn list_before(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let found = list_ids(
        saver,
        Some(&config(&tid)),
        &ListOptions::new().before(&ids[2]),
    );
    assert!(!found.contains(&ids[2]), "before is exclusive");
    assert!(!found.contains(&ids[3]));
    assert_eq!(found, vec![ids[1].clone(), ids[0].clone()]);
}

/// `limit` caps the number of results (newest kept).
pub fn list_limit(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let one = list_ids(saver, Some(&config(&tid)), &ListOptions::new().limit(1));
    assert_eq!(one, vec![ids[3].clone()]);
    let two = list_ids(saver, Some(&config(&tid)), &ListOptions::new().limit(2));
    assert_eq!(two, vec![ids[3].clone(), ids[2].clone()]);
}

/// `before` with `limit`: the page right before the cursor.
pub fn list_limit_plus_before(saver: &dyn BaseCheckpointSaver) {
    let (tid, ids) = setup_list_data(saver);
    let found = list_ids(
        saver,
        Some(&config(&tid)),
        &ListOptions::new().before(&ids[3]).limit(1),
    );
    assert_eq!(found, vec![ids[2].clone()]);
}

/// Thread and filter together.
pub fn list_combined_thread_and_filter(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = setup_list_data(saver);
    setup_list_data(saver);
    let found = list(
        saver,
        Some(&config(&tid)),
        &ListOptions::new().filter("source", "loop"),
    );
    assert_eq!(found.len(), 2, "two loop checkpoints (steps 1 and 3)");
    for tup in &found {
        assert_eq!(tup.metadata.source, CheckpointSource::Loop);
        assert_eq!(tup.config.thread_id, tid);
    }
}

/// Nothing matches: an empty result, not an error.
pub fn list_empty_result(saver: &dyn BaseCheckpointSaver) {
    let found = list(
        saver,
        Some(&config(&thread_id())),
        &ListOptions::new().filter("source", "nonexistent"),
    );
    assert!(found.is_empty(), "got {found:?}");
}

/// Listed tuples carry their pending writes.
pub fn list_includes_pending_writes(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put(saver, &config(&tid), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[("ch", json!("val"))], &task);

    let found = list(saver, Some(&config(&tid)), &ListOptions::new());
    assert_eq!(found.len(), 1);
    assert_eq!(
        triples(&found[0].pending_writes),
        vec![(task, "ch".to_owned(), json!("val"))]
    );
}

/// Listing the root namespace of a thread with three namespaces gives the
/// root checkpoint only.
pub fn list_multiple_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut root_id = String::new();
    for ns in ["", "child:1", "child:2"] {
        let cp = checkpoint();
        put(saver, &config_ns(&tid, ns), &cp, &metadata());
        if ns.is_empty() {
            root_id = cp.id;
        }
    }
    let found = list(saver, Some(&config_ns(&tid, "")), &ListOptions::new());
    assert_eq!(found.len(), 1, "one root checkpoint, got {found:?}");
    assert_eq!(found[0].checkpoint.id, root_id);
    assert_eq!(found[0].config.ns(), "");
}
