//! `prune`: keep the latest checkpoint of each namespace, or drop threads.

use crate::{BaseCheckpointSaver, ListOptions, PruneStrategy};
use serde_json::json;

use super::fixtures::{
    checkpoint, config, config_ns, get, id_of, list, metadata, put, put_chain, put_writes,
    snapshot, thread_id, thread_ids, triples, try_get, uuid4,
};

/// Only the latest checkpoint is left.
pub fn prune_keep_latest_single_thread(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 4);

    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");

    let found = list(saver, Some(&config(&tid)), &ListOptions::new());
    assert_eq!(found.len(), 1, "one checkpoint left, got {found:?}");
    assert_eq!(found[0].config.checkpoint_id, stored[3].checkpoint_id);
}

/// Each listed thread keeps its own latest.
pub fn prune_keep_latest_multiple_threads(saver: &dyn BaseCheckpointSaver) {
    let (tid1, tid2) = (thread_id(), thread_id());
    let c1 = put_chain(saver, &tid1, "", 3);
    let c2 = put_chain(saver, &tid2, "", 2);

    saver
        .prune(&[tid1.clone(), tid2.clone()], PruneStrategy::KeepLatest)
        .expect("prune");

    for (tid, latest) in [(&tid1, &c1[2]), (&tid2, &c2[1])] {
        let found = list(saver, Some(&config(tid)), &ListOptions::new());
        assert_eq!(found.len(), 1, "one checkpoint left in {tid}");
        assert_eq!(found[0].config.checkpoint_id, latest.checkpoint_id);
    }
}

/// The latest of each namespace is kept.
pub fn prune_keep_latest_across_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let root = put_chain(saver, &tid, "", 3);
    let child = put_chain(saver, &tid, "child:1", 2);

    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");

    for (ns, latest) in [("", &root[2]), ("child:1", &child[1])] {
        let found = list(saver, Some(&config_ns(&tid, ns)), &ListOptions::new());
        assert_eq!(found.len(), 1, "one checkpoint left in {ns:?}");
        assert_eq!(found[0].config.checkpoint_id, latest.checkpoint_id);
    }
}

/// The kept checkpoint keeps its writes.
pub fn prune_keep_latest_preserves_writes(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 3);
    put_writes(saver, &stored[0], &[("old", json!("gone"))], &uuid4());
    let task = uuid4();
    put_writes(saver, &stored[2], &[("ch", json!("val"))], &task);

    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");

    let tup = get(saver, &config(&tid));
    assert_eq!(tup.config.checkpoint_id, stored[2].checkpoint_id);
    assert_eq!(
        triples(&tup.pending_writes),
        vec![(task, "ch".to_owned(), json!("val"))]
    );

    // The pruned checkpoint's writes went with it: storing it again does
    // not bring them back.
    let old = get_pruned_again(saver, &stored[0]);
    assert!(
        old.pending_writes.is_empty(),
        "writes of a pruned checkpoint survived: {:?}",
        old.pending_writes
    );
}

/// Stores an empty checkpoint again under the id `stored` names (which
/// prune removed) and reads it back.
fn get_pruned_again(
    saver: &dyn BaseCheckpointSaver,
    stored: &crate::Config,
) -> crate::CheckpointTuple {
    assert!(
        try_get(saver, stored).is_none(),
        "the checkpoint was pruned"
    );
    let mut cp = checkpoint();
    cp.id = id_of(stored);
    let again = put(saver, &config(&stored.thread_id), &cp, &metadata());
    get(saver, &again)
}

/// `Delete` removes the whole thread.
pub fn prune_delete_all(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 3);
    put(
        saver,
        &config_ns(&tid, "child:1"),
        &checkpoint(),
        &metadata(),
    );
    put_writes(saver, &stored[2], &[("ch", json!("val"))], &uuid4());

    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::Delete)
        .expect("prune");

    assert!(list(saver, Some(&config(&tid)), &ListOptions::new()).is_empty());
    assert!(
        thread_ids(saver, &tid).is_empty(),
        "every namespace is gone"
    );
}

/// Threads not listed are untouched.
pub fn prune_preserves_other_threads(saver: &dyn BaseCheckpointSaver) {
    let (tid1, tid2) = (thread_id(), thread_id());
    put_chain(saver, &tid1, "", 3);
    put_chain(saver, &tid2, "", 2);
    let before = list(saver, Some(&config(&tid2)), &ListOptions::new());

    saver
        .prune(std::slice::from_ref(&tid1), PruneStrategy::KeepLatest)
        .expect("prune");

    let after = list(saver, Some(&config(&tid2)), &ListOptions::new());
    let ids = |l: &[crate::CheckpointTuple]| -> Vec<String> {
        l.iter().map(|t| t.checkpoint.id.clone()).collect()
    };
    assert_eq!(ids(&after), ids(&before), "ids unchanged");
    assert_eq!(after, before, "the other thread is intact");
}

/// An empty list prunes nothing.
pub fn prune_empty_list_noop(saver: &dyn BaseCheckpointSaver) {
    put_chain(saver, &thread_id(), "", 3);
    let before = snapshot(saver);

    for strategy in [PruneStrategy::KeepLatest, PruneStrategy::Delete] {
        saver
            .prune(&[], strategy)
            .expect("an empty list is not an error");
    }

    assert_eq!(snapshot(saver), before, "nothing changed");
}

/// Unknown threads are a no-op.
pub fn prune_nonexistent_noop(saver: &dyn BaseCheckpointSaver) {
    put_chain(saver, &thread_id(), "", 3);
    let before = snapshot(saver);

    for strategy in [PruneStrategy::KeepLatest, PruneStrategy::Delete] {
        saver
            .prune(&[thread_id()], strategy)
            .expect("an unknown thread is not an error");
    }

    assert_eq!(snapshot(saver), before, "nothing changed");
}
