//! `delete_thread`: everything of one thread goes, nothing else.

use crate::{BaseCheckpointSaver, ListOptions};
use serde_json::json;

use super::fixtures::{
    checkpoint, checkpoint_with, config, config_ns, get, list, metadata, put, put_chain,
    put_writes, snapshot, thread_id, thread_ids, try_get, uuid4,
};

/// No checkpoint of the thread is left.
pub fn delete_thread_removes_checkpoints(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    put_chain(saver, &tid, "", 3);
    assert!(
        try_get(saver, &config(&tid)).is_some(),
        "stored before delete"
    );

    saver.delete_thread(&tid).expect("delete_thread");

    assert!(try_get(saver, &config(&tid)).is_none());
    assert!(list(saver, Some(&config(&tid)), &ListOptions::new()).is_empty());
    assert!(thread_ids(saver, &tid).is_empty());
}

/// The thread's pending writes go too: storing the same checkpoint again
/// does not bring them back.
pub fn delete_thread_removes_writes(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp = checkpoint();
    let stored = put(saver, &config(&tid), &cp, &metadata());
    put_writes(saver, &stored, &[("ch", json!("val"))], &uuid4());
    assert_eq!(
        get(saver, &config(&tid)).pending_writes.len(),
        1,
        "one write before delete"
    );

    saver.delete_thread(&tid).expect("delete_thread");
    assert!(try_get(saver, &config(&tid)).is_none());

    let again = put(saver, &config(&tid), &cp, &metadata());
    let tup = get(saver, &again);
    assert!(
        tup.pending_writes.is_empty(),
        "writes survived delete_thread: {:?}",
        tup.pending_writes
    );
}

/// Root and child namespaces are both removed.
pub fn delete_thread_removes_all_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    for ns in ["", "child:1"] {
        put(saver, &config_ns(&tid, ns), &checkpoint(), &metadata());
    }
    for ns in ["", "child:1"] {
        assert!(
            try_get(saver, &config_ns(&tid, ns)).is_some(),
            "namespace {ns:?} stored before delete"
        );
    }

    saver.delete_thread(&tid).expect("delete_thread");

    for ns in ["", "child:1"] {
        assert!(
            try_get(saver, &config_ns(&tid, ns)).is_none(),
            "namespace {ns:?} survived"
        );
    }
    assert!(thread_ids(saver, &tid).is_empty());
}

/// Other threads are untouched.
pub fn delete_thread_preserves_other_threads(saver: &dyn BaseCheckpointSaver) {
    let (tid1, tid2) = (thread_id(), thread_id());
    put(saver, &config(&tid1), &checkpoint(), &metadata());
    let kept = put(
        saver,
        &config(&tid2),
        &checkpoint_with(&[("x", json!(1))]),
        &metadata(),
    );
    put_writes(saver, &kept, &[("ch", json!("val"))], &uuid4());
    let before = get(saver, &kept);

    saver.delete_thread(&tid1).expect("delete_thread");

    assert!(try_get(saver, &config(&tid1)).is_none());
    assert_eq!(
        get(saver, &config(&tid2)),
        before,
        "the other thread is intact"
    );
}

/// Deleting an unknown thread is a no-op.
pub fn delete_thread_nonexistent_noop(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    put_chain(saver, &tid, "", 2);
    let before = snapshot(saver);

    saver
        .delete_thread(&thread_id())
        .expect("deleting an unknown thread is not an error");

    assert_eq!(snapshot(saver), before, "nothing changed");
}
