//! Refused input: an empty thread id, writes without a stored checkpoint,
//! unknown filter keys, a copy onto a thread that is not empty, values
//! without a version. Each is an error that changes nothing; reading what
//! is not there changes nothing either.

use crate::{BaseCheckpointSaver, Config, Error, ListOptions, PruneStrategy};
use serde_json::json;

use super::fixtures::{
    checkpoint, checkpoint_with, child_of, config, config_ns, expect_err, id_of, list, metadata,
    metadata_step, put, put_writes, snapshot, thread_id, thread_ids, try_get, uuid4,
};

fn assert_empty_thread(what: &str, err: &Error) {
    assert!(
        matches!(err, Error::EmptyThreadId { .. }),
        "{what}: expected Error::EmptyThreadId, got {err:?}"
    );
}

/// Some state for the refused-input cases to leave alone: a thread with a
/// chain of two checkpoints and a write. Returns its id and the latest
/// config.
fn some_state(saver: &dyn BaseCheckpointSaver) -> (String, Config) {
    let tid = thread_id();
    let first = put(
        saver,
        &config(&tid),
        &checkpoint_with(&[("a", json!(1))]),
        &metadata(),
    );
    let latest = put(saver, &child_of(&first), &checkpoint(), &metadata_step(1));
    put_writes(saver, &latest, &[("ch", json!("v"))], &uuid4());
    (tid, latest)
}

/// `put` with an empty thread id: `EmptyThreadId`, nothing stored.
pub fn empty_thread_id_put(saver: &dyn BaseCheckpointSaver) {
    some_state(saver);
    let before = snapshot(saver);
    let cp = checkpoint_with(&[("a", json!(1))]);
    for cfg in [Config::thread(""), config("").with_checkpoint_id(uuid4())] {
        let err = expect_err(
            "put with an empty thread id",
            saver.put(&cfg, &cp, &metadata(), &cp.channel_versions),
        );
        assert_empty_thread("put", &err);
    }
    assert_eq!(snapshot(saver), before, "a refused put changed the saver");
}

/// `get_tuple` with an empty thread id: `EmptyThreadId`.
pub fn empty_thread_id_get_tuple(saver: &dyn BaseCheckpointSaver) {
    some_state(saver);
    let before = snapshot(saver);
    for cfg in [Config::thread(""), config("").with_checkpoint_id(uuid4())] {
        let err = expect_err("get_tuple with an empty thread id", saver.get_tuple(&cfg));
        assert_empty_thread("get_tuple", &err);
    }
    let err = expect_err(
        "get with an empty thread id",
        saver.get(&Config::thread("")),
    );
    assert_empty_thread("get", &err);
    assert_eq!(snapshot(saver), before);
}

/// `list` with an empty thread id: `EmptyThreadId`.
pub fn empty_thread_id_list(saver: &dyn BaseCheckpointSaver) {
    some_state(saver);
    let before = snapshot(saver);
    for cfg in [Config::thread(""), config("")] {
        let err = expect_err(
            "list with an empty thread id",
            saver.list(Some(&cfg), &ListOptions::new()),
        );
        assert_empty_thread("list", &err);
    }
    assert_eq!(snapshot(saver), before);
}

/// `put_writes` with an empty thread id: `EmptyThreadId`, nothing stored.
pub fn empty_thread_id_put_writes(saver: &dyn BaseCheckpointSaver) {
    let (_, latest) = some_state(saver);
    let before = snapshot(saver);
    let cfg = Config::thread("").with_checkpoint_id(id_of(&latest));
    let err = expect_err(
        "put_writes with an empty thread id",
        saver.put_writes(&cfg, &[("ch".to_owned(), json!("x"))], &uuid4(), ""),
    );
    assert_empty_thread("put_writes", &err);
    assert_eq!(snapshot(saver), before);
}

/// `delete_thread("")`: `EmptyThreadId`, nothing deleted.
pub fn empty_thread_id_delete_thread(saver: &dyn BaseCheckpointSaver) {
    some_state(saver);
    let before = snapshot(saver);
    let err = expect_err("delete_thread(\"\")", saver.delete_thread(""));
    assert_empty_thread("delete_thread", &err);
    assert_eq!(snapshot(saver), before);
}

/// `copy_thread` with an empty source or target: `EmptyThreadId`, nothing
/// copied.
pub fn empty_thread_id_copy_thread(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = some_state(saver);
    let before = snapshot(saver);
    let err = expect_err("copy_thread(\"\", _)", saver.copy_thread("", &thread_id()));
    assert_empty_thread("copy_thread source", &err);
    let err = expect_err("copy_thread(_, \"\")", saver.copy_thread(&tid, ""));
    assert_empty_thread("copy_thread target", &err);
    assert_eq!(snapshot(saver), before);
}

/// `prune` with an empty thread id among others: `EmptyThreadId`, nothing
/// pruned (not even the valid threads listed with it).
pub fn empty_thread_id_prune(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = some_state(saver);
    let before = snapshot(saver);
    for strategy in [PruneStrategy::KeepLatest, PruneStrategy::Delete] {
        let err = expect_err(
            "prune with an empty thread id",
            saver.prune(&[tid.clone(), String::new()], strategy),
        );
        assert_empty_thread("prune", &err);
        assert_eq!(snapshot(saver), before, "{strategy:?} pruned something");
    }
}

/// `put_writes` on a config without `checkpoint_id`: `MissingCheckpointId`.
pub fn put_writes_missing_checkpoint_id(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = some_state(saver);
    let before = snapshot(saver);
    let err = expect_err(
        "put_writes without checkpoint_id",
        saver.put_writes(
            &config(&tid),
            &[("ch".to_owned(), json!("x"))],
            &uuid4(),
            "",
        ),
    );
    assert!(
        matches!(err, Error::MissingCheckpointId { .. }),
        "expected Error::MissingCheckpointId, got {err:?}"
    );
    assert_eq!(snapshot(saver), before);
}

/// `put_writes` for a checkpoint that does not exist: `CheckpointNotFound`,
/// also for an id of another namespace or another thread.
pub fn put_writes_unknown_checkpoint(saver: &dyn BaseCheckpointSaver) {
    let (tid, latest) = some_state(saver);
    let before = snapshot(saver);
    let writes = [("ch".to_owned(), json!("x"))];
    let cases = [
        ("unknown id", config(&tid).with_checkpoint_id(uuid4())),
        (
            "unknown thread",
            config(&thread_id()).with_checkpoint_id(id_of(&latest)),
        ),
        (
            "id of another namespace",
            config_ns(&tid, "child:1").with_checkpoint_id(id_of(&latest)),
        ),
    ];
    for (what, cfg) in cases {
        let err = expect_err(what, saver.put_writes(&cfg, &writes, &uuid4(), ""));
        assert!(
            matches!(err, Error::CheckpointNotFound { .. }),
            "{what}: expected Error::CheckpointNotFound, got {err:?}"
        );
    }
    assert_eq!(snapshot(saver), before);
}

/// Filter keys that are not plain identifiers: `InvalidFilterKey`.
pub fn list_invalid_filter_key(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = some_state(saver);
    let before = snapshot(saver);
    for key in ["a.b", "x'--", "", "a b", "$.step", "step)", "ü"] {
        let options = ListOptions::new().filter(key, "loop");
        for cfg in [Some(config(&tid)), None] {
            let err = expect_err(
                &format!("filter key {key:?}"),
                saver.list(cfg.as_ref(), &options),
            );
            match &err {
                Error::InvalidFilterKey { key: rejected } => {
                    assert_eq!(rejected, key, "the error names the key");
                }
                other => panic!("filter key {key:?}: expected InvalidFilterKey, got {other:?}"),
            }
        }
    }
    // Plain keys are fine.
    for key in ["source", "step_2", "run-id", "X9"] {
        list(
            saver,
            Some(&config(&tid)),
            &ListOptions::new().filter(key, 1),
        );
    }
    assert_eq!(snapshot(saver), before);
}

/// `copy_thread` onto a thread that has checkpoints (in any namespace):
/// `TargetNotEmpty`, source and target unchanged.
pub fn copy_thread_target_not_empty(saver: &dyn BaseCheckpointSaver) {
    let (src, _) = some_state(saver);
    let dst_root = thread_id();
    put(saver, &config(&dst_root), &checkpoint(), &metadata());
    let dst_child = thread_id();
    put(
        saver,
        &config_ns(&dst_child, "child:1"),
        &checkpoint(),
        &metadata(),
    );
    let before = snapshot(saver);

    for dst in [&dst_root, &dst_child] {
        let err = expect_err("copy onto a non-empty thread", saver.copy_thread(&src, dst));
        assert!(
            matches!(err, Error::TargetNotEmpty { .. }),
            "expected Error::TargetNotEmpty, got {err:?}"
        );
    }
    assert_eq!(snapshot(saver), before);
}

/// `copy_thread` of an unknown source: `ThreadNotFound`, target empty.
pub fn copy_thread_unknown_source(saver: &dyn BaseCheckpointSaver) {
    some_state(saver);
    let before = snapshot(saver);
    let dst = thread_id();
    let err = expect_err(
        "copy of an unknown thread",
        saver.copy_thread(&thread_id(), &dst),
    );
    assert!(
        matches!(err, Error::ThreadNotFound { .. }),
        "expected Error::ThreadNotFound, got {err:?}"
    );
    assert!(thread_ids(saver, &dst).is_empty(), "the target stays empty");
    assert_eq!(snapshot(saver), before);
}

/// A checkpoint with a channel value but no version: `InvalidCheckpoint`,
/// nothing stored.
pub fn put_value_without_version(saver: &dyn BaseCheckpointSaver) {
    let (tid, latest) = some_state(saver);
    let before = snapshot(saver);
    let mut cp = checkpoint_with(&[("a", json!(1))]);
    cp.channel_values.insert("orphan".to_owned(), json!("x"));
    for cfg in [config(&tid), child_of(&latest), config(&thread_id())] {
        let err = expect_err(
            "put of a value without a version",
            saver.put(&cfg, &cp, &metadata(), &cp.channel_versions),
        );
        assert!(
            matches!(err, Error::InvalidCheckpoint { .. }),
            "expected Error::InvalidCheckpoint, got {err:?}"
        );
    }
    assert_eq!(snapshot(saver), before);
}

/// Reads of unknown threads, namespaces and ids change nothing.
pub fn read_unknown_changes_nothing(saver: &dyn BaseCheckpointSaver) {
    let (tid, _) = some_state(saver);
    let before = snapshot(saver);
    let unknown = thread_id();
    assert!(try_get(saver, &config(&unknown)).is_none());
    assert!(try_get(saver, &config_ns(&tid, "child:9")).is_none());
    assert!(try_get(saver, &config(&tid).with_checkpoint_id(uuid4())).is_none());
    assert!(list(saver, Some(&Config::thread(&unknown)), &ListOptions::new()).is_empty());
    assert!(
        list(
            saver,
            Some(&config_ns(&tid, "child:9")),
            &ListOptions::new()
        )
        .is_empty()
    );
    assert_eq!(snapshot(saver), before);
}
