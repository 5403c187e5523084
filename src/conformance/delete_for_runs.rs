//! `delete_for_runs`: the checkpoints of some runs go, with their writes.

use crate::{BaseCheckpointSaver, Config};
use serde_json::json;

use super::fixtures::{
    checkpoint, child_of, config, config_ns, get, metadata, put, put_writes, run_ids, snapshot,
    thread_id, try_get, uuid4,
};

/// Stores an empty checkpoint whose metadata has `run_id`.
fn put_with_run_id(
    saver: &dyn BaseCheckpointSaver,
    thread_id: &str,
    run_id: &str,
    ns: &str,
    parent: Option<&Config>,
) -> Config {
    let cfg = parent.map_or_else(|| config_ns(thread_id, ns), child_of);
    put(saver, &cfg, &checkpoint(), &metadata().with_run_id(run_id))
}

fn has_run(runs: &[Option<String>], run: &str) -> bool {
    runs.iter().any(|r| r.as_deref() == Some(run))
}

/// One run's checkpoint goes; the other run's stays.
pub fn delete_for_runs_single(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let (run1, run2) = (uuid4(), uuid4());
    let s1 = put_with_run_id(saver, &tid, &run1, "", None);
    let s2 = put_with_run_id(saver, &tid, &run2, "", Some(&s1));
    let before = run_ids(saver, &config(&tid));
    assert!(has_run(&before, &run1) && has_run(&before, &run2));

    saver
        .delete_for_runs(std::slice::from_ref(&run1))
        .expect("delete_for_runs");

    let after = run_ids(saver, &config(&tid));
    assert!(!has_run(&after, &run1), "run1 survived: {after:?}");
    assert!(has_run(&after, &run2), "run2 was removed: {after:?}");
    assert!(try_get(saver, &s1).is_none());
    assert!(try_get(saver, &s2).is_some());
}

/// Several runs go in one call.
pub fn delete_for_runs_multiple(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let (run1, run2, run3) = (uuid4(), uuid4(), uuid4());
    let s1 = put_with_run_id(saver, &tid, &run1, "", None);
    let s2 = put_with_run_id(saver, &tid, &run2, "", Some(&s1));
    put_with_run_id(saver, &tid, &run3, "", Some(&s2));
    let before = run_ids(saver, &config(&tid));
    for run in [&run1, &run2, &run3] {
        assert!(has_run(&before, run), "{run} stored");
    }

    saver
        .delete_for_runs(&[run1.clone(), run2.clone()])
        .expect("delete_for_runs");

    let after = run_ids(saver, &config(&tid));
    assert!(!has_run(&after, &run1), "run1 survived: {after:?}");
    assert!(!has_run(&after, &run2), "run2 survived: {after:?}");
    assert!(has_run(&after, &run3), "run3 was removed: {after:?}");
    assert_eq!(after.len(), 1);
}

/// Runs not named are untouched, even in the same thread.
pub fn delete_for_runs_preserves_other_runs(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let (keep, delete) = (uuid4(), uuid4());
    let kept = put_with_run_id(saver, &tid, &keep, "", None);
    put_with_run_id(saver, &tid, &delete, "", None);
    let kept_before = get(saver, &kept);
    let before = run_ids(saver, &config(&tid));
    assert!(has_run(&before, &keep) && has_run(&before, &delete));

    saver
        .delete_for_runs(std::slice::from_ref(&delete))
        .expect("delete_for_runs");

    let after = run_ids(saver, &config(&tid));
    assert!(has_run(&after, &keep), "the kept run was removed");
    assert!(!has_run(&after, &delete), "the deleted run survived");
    assert_eq!(
        get(saver, &kept),
        kept_before,
        "the kept checkpoint is intact"
    );
}

/// The run's writes go with its checkpoint: storing the same checkpoint
/// again does not bring them back (checked while another run keeps the
/// thread and namespace alive).
pub fn delete_for_runs_removes_writes(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let (run, other) = (uuid4(), uuid4());
    let cp = checkpoint();
    let md = metadata().with_run_id(&run);
    let stored = put(saver, &config(&tid), &cp, &md);
    put_writes(saver, &stored, &[("ch", json!("val"))], &uuid4());
    let kept = put_with_run_id(saver, &tid, &other, "", Some(&stored));
    put_writes(saver, &kept, &[("ch", json!("kept"))], &uuid4());
    assert_eq!(
        get(saver, &stored).pending_writes.len(),
        1,
        "one write stored"
    );

    saver
        .delete_for_runs(std::slice::from_ref(&run))
        .expect("delete_for_runs");
    assert!(try_get(saver, &stored).is_none(), "the checkpoint is gone");
    assert_eq!(
        get(saver, &kept).pending_writes.len(),
        1,
        "the other run keeps its write"
    );

    let again = put(saver, &config(&tid), &cp, &md);
    let tup = get(saver, &again);
    assert!(
        tup.pending_writes.is_empty(),
        "writes survived delete_for_runs: {:?}",
        tup.pending_writes
    );
}

/// An empty list deletes nothing.
pub fn delete_for_runs_empty_list_noop(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    put_with_run_id(saver, &tid, &uuid4(), "", None);
    put(saver, &config(&tid), &checkpoint(), &metadata());
    let before = snapshot(saver);

    saver
        .delete_for_runs(&[])
        .expect("an empty list is not an error");

    assert_eq!(snapshot(saver), before, "nothing changed");
}

/// Unknown run ids delete nothing.
pub fn delete_for_runs_nonexistent_noop(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    put_with_run_id(saver, &tid, &uuid4(), "", None);
    put(saver, &config(&tid), &checkpoint(), &metadata());
    let before = snapshot(saver);

    saver
        .delete_for_runs(&[uuid4()])
        .expect("an unknown run is not an error");

    assert_eq!(snapshot(saver), before, "nothing changed");
}

/// A run's checkpoints go from every namespace.
pub fn delete_for_runs_across_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let run = uuid4();
    for ns in ["", "child:1"] {
        put_with_run_id(saver, &tid, &run, ns, None);
    }
    for ns in ["", "child:1"] {
        assert!(
            has_run(&run_ids(saver, &config_ns(&tid, ns)), &run),
            "run stored in {ns:?}"
        );
    }

    saver
        .delete_for_runs(std::slice::from_ref(&run))
        .expect("delete_for_runs");

    for ns in ["", "child:1"] {
        let after = run_ids(saver, &config_ns(&tid, ns));
        assert!(!has_run(&after, &run), "run survived in {ns:?}: {after:?}");
    }
}
