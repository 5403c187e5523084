//! Our own cases: rules of this crate's contract that LangGraph's kit does
//! not check (cross-thread listing, `list_iter`, refused input, write
//! indexes and order, value dedupe, forks, what deletes and copies do to
//! values, prune details, config metadata).

use std::collections::BTreeMap;

use crate::saver::{ERROR, INTERRUPT, RESUME, SCHEDULED};
use crate::{
    BaseCheckpointSaver, CheckpointSource, Config, Error, ListOptions, PendingWrite, PruneStrategy,
};
use serde_json::{Value, json};

use super::fixtures::*;

// ---------------------------------------------------------------- listing

/// `list(None, filter)` finds the matching checkpoints of every thread,
/// newest first.
pub fn list_all_threads_with_filter(saver: &dyn BaseCheckpointSaver) {
    let tag = uuid4();
    let threads = [thread_id(), thread_id(), thread_id()];
    let mut parents: BTreeMap<String, Config> = BTreeMap::new();
    // (thread, id) of the matching checkpoints, in creation order.
    let mut expected: Vec<(String, String)> = Vec::new();
    for round in 0..3 {
        for (i, tid) in threads.iter().enumerate() {
            let cfg = parents.get(tid).map_or_else(|| config(tid), child_of);
            let cp = checkpoint();
            // Thread 2 matches only in round 1; the others always.
            let matches = i != 2 || round == 1;
            let md = if matches {
                metadata_step(round).with_extra("tag", tag.as_str())
            } else {
                metadata_step(round).with_extra("tag", "other")
            };
            let stored = put(saver, &cfg, &cp, &md);
            if matches {
                expected.push((tid.clone(), cp.id));
            }
            parents.insert(tid.clone(), stored);
        }
    }
    // A child namespace of thread 0 also matches.
    let cp = checkpoint();
    put(
        saver,
        &config_ns(&threads[0], "child:1"),
        &cp,
        &metadata().with_extra("tag", tag.as_str()),
    );
    expected.push((threads[0].clone(), cp.id));
    expected.reverse();

    let found = list(saver, None, &ListOptions::new().filter("tag", tag.as_str()));
    let got: Vec<(String, String)> = found
        .iter()
        .map(|t| (t.config.thread_id.clone(), t.checkpoint.id.clone()))
        .collect();
    assert_eq!(
        got, expected,
        "matching checkpoints of all threads, newest first"
    );
    assert!(
        found
            .iter()
            .all(|t| t.metadata.get("tag") == Some(json!(tag)))
    );

    let step1 = list(
        saver,
        None,
        &ListOptions::new()
            .filter("tag", tag.as_str())
            .filter("step", 1),
    );
    assert_eq!(step1.len(), 3, "step 1 of each thread: {step1:?}");
}

/// `before`, a filter and `limit` together: limit counts after filtering.
pub fn list_before_filter_and_limit(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut ids = Vec::new();
    let mut parent: Option<Config> = None;
    for step in 0..7 {
        let cfg = parent.as_ref().map_or_else(|| config(&tid), child_of);
        let source = if step % 2 == 0 {
            CheckpointSource::Input
        } else {
            CheckpointSource::Loop
        };
        let cp = checkpoint();
        parent = Some(put(saver, &cfg, &cp, &metadata_at(source, step)));
        ids.push(cp.id);
    }
    // loop checkpoints: ids[1], ids[3], ids[5].
    let cfg = config(&tid);
    let loops = || ListOptions::new().filter("source", "loop");

    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().limit(2)),
        vec![ids[5].clone(), ids[3].clone()],
        "limit after filtering"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[5]).limit(1)),
        vec![ids[3].clone()],
        "before is exclusive, then filter, then limit"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[4]).limit(5)),
        vec![ids[3].clone(), ids[1].clone()],
        "a limit above the matches returns them all"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[6]).limit(2)),
        vec![ids[5].clone(), ids[3].clone()]
    );
    assert!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[1])).is_empty(),
        "nothing matches before the first loop checkpoint"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[5]).limit(0)),
        Vec::<String>::new(),
        "limit 0 lists nothing"
    );
    // The same through list(None), scoped by a filter on the step.
    assert_eq!(
        list_ids(
            saver,
            None,
            &loops().filter("step", 3).before(&ids[6]).limit(1)
        ),
        vec![ids[3].clone()]
    );
}

/// A config without a namespace lists every namespace of the thread; one
/// with `""` lists the root only.
pub fn list_without_namespace_lists_all_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut ids = Vec::new();
    for ns in ["", "child:1", "child:2"] {
        let cp = checkpoint();
        put(saver, &config_ns(&tid, ns), &cp, &metadata());
        ids.push(cp.id);
    }
    let all = list(saver, Some(&Config::thread(&tid)), &ListOptions::new());
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|t| (t.config.ns(), t.checkpoint.id.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("child:2", ids[2].as_str()),
            ("child:1", ids[1].as_str()),
            ("", ids[0].as_str())
        ]
    );
    assert_eq!(
        list_ids(saver, Some(&config_ns(&tid, "")), &ListOptions::new()),
        vec![ids[0].clone()]
    );
}

/// `list_iter` yields what `list` returns, for every kind of option; bad
/// options fail the call itself; the iterator holds nothing that blocks a
/// write while the caller iterates, and yields what was there when the call
/// was made.
pub fn list_iter_matches_list(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 5);
    put_chain(saver, &tid, "child:1", 2);
    put_writes(saver, &stored[4], &[("ch", json!("v"))], &uuid4());
    let mid = id_of(&stored[3]);
    let thread = Config::thread(&tid);
    let root = config(&tid);
    let options = [
        ListOptions::new(),
        ListOptions::new().limit(2),
        ListOptions::new().before(&mid),
        ListOptions::new().filter("step", 1),
        ListOptions::new()
            .filter("source", "loop")
            .before(&mid)
            .limit(1),
    ];
    for opts in &options {
        for cfg in [Some(&thread), Some(&root), None] {
            let eager = list(saver, cfg, opts);
            let lazy: Vec<_> = saver
                .list_iter(cfg, opts)
                .expect("list_iter")
                .collect::<crate::Result<_>>()
                .expect("every item decodes");
            assert_eq!(lazy, eager, "list_iter({cfg:?}, {opts:?})");
        }
    }

    let err = expect_err(
        "list_iter with a bad filter key",
        saver.list_iter(Some(&root), &ListOptions::new().filter("a.b", 1)),
    );
    assert!(matches!(err, Error::InvalidFilterKey { .. }), "got {err:?}");
    let err = expect_err(
        "list_iter with an empty thread id",
        saver.list_iter(Some(&Config::thread("")), &ListOptions::new()),
    );
    assert!(matches!(err, Error::EmptyThreadId { .. }), "got {err:?}");

    // A write while an iterator is half consumed.
    let before = list(saver, Some(&root), &ListOptions::new());
    let mut iter = saver
        .list_iter(Some(&root), &ListOptions::new())
        .expect("list_iter");
    let first = iter.next().expect("an item").expect("decodes");
    let newer = put(
        saver,
        &child_of(&stored[4]),
        &checkpoint(),
        &metadata_step(5),
    );
    let rest: Vec<_> = iter
        .collect::<crate::Result<_>>()
        .expect("every item decodes");
    let mut seen = vec![first];
    seen.extend(rest);
    assert_eq!(
        seen, before,
        "the iterator yields what was there at the call"
    );
    assert_eq!(get(saver, &root).config.checkpoint_id, newer.checkpoint_id);
}

// ----------------------------------------------------------- refused input

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

// ----------------------------------------------------------------- writes

/// A second write to a special channel by the same task replaces the first.
pub fn special_channel_write_replaces(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[(ERROR, json!("first failure"))], &task);
    put_writes(saver, &stored, &[(ERROR, json!("second failure"))], &task);

    let tup = get(saver, &stored);
    let errors = writes_to(&tup.pending_writes, &task, ERROR);
    assert_eq!(
        errors.len(),
        1,
        "one __error__ write: {:?}",
        tup.pending_writes
    );
    assert_eq!(
        errors[0].value,
        json!("second failure"),
        "the newer write wins"
    );
    assert_eq!(errors[0].idx, -1);

    // Every special channel, in one batch, twice.
    let task2 = uuid4();
    let specials = [ERROR, SCHEDULED, INTERRUPT, RESUME];
    for round in ["one", "two"] {
        let batch: Vec<(&str, Value)> = specials
            .iter()
            .map(|ch| (*ch, json!(format!("{ch} {round}"))))
            .collect();
        put_writes(saver, &stored, &batch, &task2);
    }
    let tup = get(saver, &stored);
    for (channel, idx) in specials.iter().zip([-1, -2, -3, -4]) {
        let w = writes_to(&tup.pending_writes, &task2, channel);
        assert_eq!(w.len(), 1, "one {channel} write");
        assert_eq!(w[0].value, json!(format!("{channel} two")));
        assert_eq!(w[0].idx, idx, "index of {channel}");
    }
    assert_eq!(tup.pending_writes.len(), 5);
}

/// A second write to a normal channel at the same `(task, idx)` is ignored.
pub fn normal_channel_write_first_wins(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[("ch", json!("first"))], &task);
    put_writes(saver, &stored, &[("ch", json!("second"))], &task);
    // Same index, other channel: still the first write stays.
    put_writes(saver, &stored, &[("other", json!("third"))], &task);

    let tup = get(saver, &stored);
    assert_eq!(
        triples(&tup.pending_writes),
        vec![(task.clone(), "ch".to_owned(), json!("first"))],
        "the first write is kept"
    );
    // A longer batch adds only the new index.
    put_writes(
        saver,
        &stored,
        &[("ch", json!("again")), ("ch2", json!("new"))],
        &task,
    );
    let tup = get(saver, &stored);
    assert_eq!(
        triples(&tup.pending_writes),
        vec![
            (task.clone(), "ch".to_owned(), json!("first")),
            (task, "ch2".to_owned(), json!("new")),
        ]
    );
}

/// Pending writes come back ordered by `(task_path, task_id, idx)`, however
/// they were written. (A task has one path; `task_path` is not part of a
/// write's key, as in LangGraph.)
pub fn pending_writes_order(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put(saver, &config(&tid), &checkpoint(), &metadata());
    let pull_a = "~__pregel_pull, a";
    let pull_b = "~__pregel_pull, b";
    // Written in an order that sorts differently on every key.
    put_writes_path(saver, &stored, &[("z", json!(3))], "task-a", pull_b);
    put_writes_path(saver, &stored, &[("v", json!(5))], "task-c", pull_a);
    put_writes_path(
        saver,
        &stored,
        &[("x", json!(1)), ("y", json!(2)), ("w", json!(0))],
        "task-b",
        pull_a,
    );
    put_writes_path(
        saver,
        &stored,
        &[("plain", json!(4)), (ERROR, json!("boom"))],
        "task-z",
        "",
    );

    let w = |task: &str, ch: &str, v: Value, path: &str, idx: i64| PendingWrite {
        task_id: task.to_owned(),
        channel: ch.to_owned(),
        value: v,
        task_path: path.to_owned(),
        idx,
    };
    let expected = vec![
        w("task-z", ERROR, json!("boom"), "", -1),
        w("task-z", "plain", json!(4), "", 0),
        w("task-b", "x", json!(1), pull_a, 0),
        w("task-b", "y", json!(2), pull_a, 1),
        w("task-b", "w", json!(0), pull_a, 2),
        w("task-c", "v", json!(5), pull_a, 0),
        w("task-a", "z", json!(3), pull_b, 0),
    ];
    assert_eq!(
        get(saver, &stored).pending_writes,
        expected,
        "get_tuple order"
    );
    let listed = list(saver, Some(&config(&tid)), &ListOptions::new());
    assert_eq!(listed[0].pending_writes, expected, "list order");
}

// ----------------------------------------------------------------- values

/// A value put again under an unchanged version (not announced in
/// `new_versions`) still reads back, and so does a value whose version was
/// never stored before even if not announced.
pub fn unchanged_version_value_readable(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_with(&[("a", json!({"n": 1})), ("b", json!("b1"))]);
    let s1 = put(saver, &config(&tid), &cp1, &metadata_step(0));

    // The same values at the same versions, nothing announced.
    let mut cp2 = cp1.clone();
    cp2.id = checkpoint().id;
    let s2 = put_new(
        saver,
        &child_of(&s1),
        &cp2,
        &metadata_step(1),
        &no_versions(),
    );
    assert_eq!(
        get(saver, &s2).checkpoint.channel_values,
        cp1.channel_values
    );

    // The first checkpoint stored again, nothing announced.
    put_new(
        saver,
        &config(&tid),
        &cp1,
        &metadata_step(0),
        &no_versions(),
    );
    assert_eq!(
        get(saver, &s1).checkpoint.channel_values,
        cp1.channel_values
    );
    assert_eq!(
        get(saver, &s2).checkpoint.channel_values,
        cp1.channel_values
    );

    // A fresh thread whose first put announces nothing: values are kept.
    let cp3 = checkpoint_with(&[("c", json!([1, 2, 3]))]);
    let s3 = put_new(
        saver,
        &config(&thread_id()),
        &cp3,
        &metadata(),
        &no_versions(),
    );
    assert_eq!(
        get(saver, &s3).checkpoint.channel_values,
        cp3.channel_values
    );
}

/// Many checkpoints share a channel that never changes; each reads it back,
/// beside a channel that changes every step.
pub fn unchanged_channel_shared_by_many(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let big = json!({"system": "You are helpful.", "tools": ["search", "calc"]});
    let mut stored = Vec::new();
    let mut parent: Option<Config> = None;
    for step in 0..8u64 {
        let cfg = parent.as_ref().map_or_else(|| config(&tid), child_of);
        let cp = checkpoint_versioned(
            &[("shared", big.clone()), ("counter", json!(step))],
            &[("shared", 1), ("counter", step + 1)],
        );
        let new = if step == 0 {
            versions_of(&[("shared", 1), ("counter", 1)])
        } else {
            versions_of(&[("counter", step + 1)])
        };
        let s = put_new(
            saver,
            &cfg,
            &cp,
            &metadata_step(i64::try_from(step).expect("small")),
            &new,
        );
        stored.push((s.clone(), step));
        parent = Some(s);
    }
    for (cfg, step) in &stored {
        let tup = get(saver, cfg);
        assert_eq!(
            values(&tup).get("shared"),
            Some(&big),
            "shared at step {step}"
        );
        assert_eq!(
            values(&tup).get("counter"),
            Some(&json!(step)),
            "counter at step {step}"
        );
    }
    for tup in list(saver, Some(&config(&tid)), &ListOptions::new()) {
        assert_eq!(
            values(&tup).get("shared"),
            Some(&big),
            "listed shared value"
        );
    }
}

/// A channel with a version but no value reads back absent (its version
/// stays); a `null` value is a value.
pub fn versioned_channel_without_value_absent(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp = checkpoint_versioned(
        &[("a", json!("x")), ("nothing", Value::Null)],
        &[("a", 1), ("empty", 1), ("nothing", 1)],
    );
    let stored = put(saver, &config(&tid), &cp, &metadata());

    let tup = get(saver, &stored);
    assert_eq!(values(&tup).get("a"), Some(&json!("x")));
    assert!(
        !values(&tup).contains_key("empty"),
        "a channel without a value reads back absent: {:?}",
        values(&tup)
    );
    assert_eq!(
        values(&tup).get("nothing"),
        Some(&Value::Null),
        "null is a value"
    );
    assert_eq!(tup.checkpoint.channel_versions, cp.channel_versions);

    // A child that keeps `empty` at its version still has no value for it.
    let child = checkpoint_versioned(
        &[("a", json!("y")), ("nothing", Value::Null)],
        &[("a", 2), ("empty", 1), ("nothing", 1)],
    );
    let s2 = put_new(
        saver,
        &child_of(&stored),
        &child,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );
    let tup2 = get(saver, &s2);
    assert!(!values(&tup2).contains_key("empty"));
    assert_eq!(values(&tup2).get("a"), Some(&json!("y")));
    assert_eq!(values(&tup2).get("nothing"), Some(&Value::Null));
}

/// Two children of one parent both move channel `a` to counter 2 with
/// different values; each reads back its own value.
pub fn fork_branches_keep_own_values(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let v1 = saver.get_next_version(None);
    let mut parent_cp = checkpoint();
    parent_cp
        .channel_values
        .insert("a".to_owned(), json!("base"));
    parent_cp.channel_versions.insert("a".to_owned(), v1);
    let parent = put(saver, &config(&tid), &parent_cp, &metadata());

    let branch = |value: &str| {
        let v2 = saver.get_next_version(Some(&v1));
        assert_eq!(v2.counter(), v1.counter() + 1, "next version counts up");
        assert!(v2 > v1, "next version is greater");
        let mut cp = parent_cp.clone();
        cp.id = checkpoint().id;
        cp.channel_values.insert("a".to_owned(), json!(value));
        cp.channel_versions.insert("a".to_owned(), v2);
        let new = BTreeMap::from([("a".to_owned(), v2)]);
        (
            put_new(saver, &child_of(&parent), &cp, &metadata_step(1), &new),
            v2,
        )
    };
    let (left, v_left) = branch("left");
    let (right, v_right) = branch("right");
    assert_ne!(v_left, v_right, "two branches get distinct versions");

    assert_eq!(values(&get(saver, &left)).get("a"), Some(&json!("left")));
    assert_eq!(values(&get(saver, &right)).get("a"), Some(&json!("right")));
    assert_eq!(values(&get(saver, &parent)).get("a"), Some(&json!("base")));
    for child in [&left, &right] {
        let p = get(saver, child)
            .parent_config
            .expect("a fork child has a parent");
        assert_eq!(p.checkpoint_id, parent.checkpoint_id);
    }
}

/// `prune(KeepLatest)` clears the kept checkpoint's parent link, and the
/// kept checkpoint still reads every value, also those stored by the
/// pruned checkpoints.
pub fn prune_keep_latest_clears_parent(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_versioned(
        &[("a", json!("a1")), ("b", json!("b1"))],
        &[("a", 1), ("b", 1)],
    );
    let s1 = put(saver, &config(&tid), &cp1, &metadata_step(0));
    let cp2 = checkpoint_versioned(
        &[("a", json!("a1")), ("b", json!("b2"))],
        &[("a", 1), ("b", 2)],
    );
    let s2 = put_new(
        saver,
        &child_of(&s1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("b", 2)]),
    );
    let cp3 = checkpoint_versioned(
        &[("a", json!("a1")), ("b", json!("b2")), ("c", json!("c1"))],
        &[("a", 1), ("b", 2), ("c", 1)],
    );
    let s3 = put_new(
        saver,
        &child_of(&s2),
        &cp3,
        &metadata_step(2),
        &versions_of(&[("c", 1)]),
    );
    let child_ns = put_chain(saver, &tid, "child:1", 2);
    assert!(get(saver, &s3).parent_config.is_some());

    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");

    let kept = get(saver, &config(&tid));
    assert_eq!(kept.config.checkpoint_id, s3.checkpoint_id);
    assert!(
        kept.parent_config.is_none(),
        "the kept checkpoint's parent link is cleared, got {:?}",
        kept.parent_config
    );
    assert_eq!(
        kept.checkpoint.channel_values, cp3.channel_values,
        "values still read back"
    );
    assert!(try_get(saver, &s1).is_none() && try_get(saver, &s2).is_none());

    let kept_child = get(saver, &config_ns(&tid, "child:1"));
    assert_eq!(kept_child.config.checkpoint_id, child_ns[1].checkpoint_id);
    assert!(kept_child.parent_config.is_none());
    let listed = list(saver, Some(&Config::thread(&tid)), &ListOptions::new());
    assert_eq!(listed.len(), 2, "one per namespace: {listed:?}");
    assert!(listed.iter().all(|t| t.parent_config.is_none()));
}

/// Values go with `delete_thread` and with the checkpoints `prune` drops:
/// a later checkpoint that names the same `(channel, version)` without a
/// value (and without announcing it) reads it back absent.
pub fn deleted_values_stay_deleted(saver: &dyn BaseCheckpointSaver) {
    // delete_thread
    let tid = thread_id();
    let cp = checkpoint_with(&[("a", json!("secret"))]);
    put(saver, &config(&tid), &cp, &metadata());
    saver.delete_thread(&tid).expect("delete_thread");
    let ghost = checkpoint_versioned(&[], &[("a", 1)]);
    let again = put_new(saver, &config(&tid), &ghost, &metadata(), &no_versions());
    assert!(
        !values(&get(saver, &again)).contains_key("a"),
        "a value survived delete_thread"
    );

    // prune(KeepLatest): `b` at version 1 was only in the pruned checkpoint.
    let tid = thread_id();
    let s1 = put(
        saver,
        &config(&tid),
        &checkpoint_versioned(&[("b", json!("old"))], &[("b", 1)]),
        &metadata_step(0),
    );
    let latest = checkpoint_versioned(&[("b", json!("new"))], &[("b", 2)]);
    put_new(
        saver,
        &child_of(&s1),
        &latest,
        &metadata_step(1),
        &versions_of(&[("b", 2)]),
    );
    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");
    assert_eq!(
        values(&get(saver, &config(&tid))).get("b"),
        Some(&json!("new"))
    );
    let ghost = checkpoint_versioned(&[], &[("b", 1)]);
    let again = put_new(saver, &config(&tid), &ghost, &metadata(), &no_versions());
    assert!(
        !values(&get(saver, &again)).contains_key("b"),
        "a pruned value survived"
    );
}

/// A copy stands on its own: deleting the source leaves every value and
/// write of the copy readable.
pub fn copy_survives_source_delete(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    let s1 = put(
        saver,
        &config(&src),
        &checkpoint_with(&[("a", json!("a1")), ("b", json!([1, 2]))]),
        &metadata_step(0),
    );
    let cp2 = checkpoint_versioned(
        &[("a", json!("a2")), ("b", json!([1, 2]))],
        &[("a", 2), ("b", 1)],
    );
    let s2 = put_new(
        saver,
        &child_of(&s1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );
    put_writes(saver, &s2, &[("ch", json!({"w": 1}))], &uuid4());
    put(
        saver,
        &config_ns(&src, "child:1"),
        &checkpoint_with(&[("c", json!(3))]),
        &metadata(),
    );
    let before = list(saver, Some(&Config::thread(&src)), &ListOptions::new());

    saver.copy_thread(&src, &dst).expect("copy_thread");
    saver.delete_thread(&src).expect("delete_thread");

    assert!(thread_ids(saver, &src).is_empty());
    let copied = list(saver, Some(&Config::thread(&dst)), &ListOptions::new());
    assert_eq!(copied.len(), before.len());
    for (s, d) in before.iter().zip(&copied) {
        assert_eq!(d.config.thread_id, dst);
        assert_eq!(d.config.ns(), s.config.ns());
        assert_eq!(d.checkpoint, s.checkpoint, "checkpoint {}", s.checkpoint.id);
        assert_eq!(d.metadata, s.metadata);
        assert_eq!(d.pending_writes, s.pending_writes);
    }
}

// --------------------------------------------------------- config metadata

/// `delete_for_runs` finds a run id that came from the config's
/// `configurable` map, merged into metadata by `put`.
pub fn delete_for_runs_run_id_from_configurable(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let (run1, run2) = (uuid4(), uuid4());
    let s1 = put(
        saver,
        &config(&tid).with_configurable("run_id", run1.as_str()),
        &checkpoint(),
        &metadata(),
    );
    let s2 = put(
        saver,
        &child_of(&s1).with_configurable("run_id", run2.as_str()),
        &checkpoint(),
        &metadata_step(1),
    );
    assert_eq!(
        get(saver, &s1).metadata.run_id.as_deref(),
        Some(run1.as_str())
    );
    assert_eq!(
        get(saver, &s2).metadata.run_id.as_deref(),
        Some(run2.as_str())
    );

    saver
        .delete_for_runs(std::slice::from_ref(&run1))
        .expect("delete_for_runs");

    assert!(try_get(saver, &s1).is_none(), "run1's checkpoint is gone");
    assert_eq!(
        get(saver, &s2).metadata.run_id.as_deref(),
        Some(run2.as_str())
    );
}

/// Scalar keys of the config's `metadata` and `configurable` maps land in
/// the stored metadata when it lacks them; `__*` keys, runtime keys and
/// nested values do not; the metadata's own keys win.
pub fn config_metadata_merged(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cfg = config(&tid)
        .with_metadata("user", "alice")
        .with_metadata("score", 7)
        .with_metadata("ratio", 0.5)
        .with_metadata("flag", true)
        .with_metadata("kept", "from-config")
        .with_metadata("__hidden", "x")
        .with_metadata("nested", json!({"a": 1}))
        .with_metadata("list", json!([1, 2]))
        .with_metadata("none", Value::Null)
        .with_configurable("model", "small")
        .with_configurable("__pregel_scratchpad", "x")
        .with_configurable("langgraph_step", 3)
        .with_configurable("langgraph_node", "agent")
        .with_configurable("checkpoint_map", json!({"": "id"}));
    let md = metadata().with_extra("kept", "own");
    let stored = put(saver, &cfg, &checkpoint(), &md);

    let got = get(saver, &stored).metadata;
    assert_eq!(got.get("user"), Some(json!("alice")));
    assert_eq!(got.get("score"), Some(json!(7)));
    assert_eq!(got.get("ratio"), Some(json!(0.5)));
    assert_eq!(got.get("flag"), Some(json!(true)));
    assert_eq!(
        got.get("model"),
        Some(json!("small")),
        "configurable scalars merge too"
    );
    assert_eq!(
        got.get("kept"),
        Some(json!("own")),
        "the metadata's own key wins"
    );
    for absent in [
        "__hidden",
        "nested",
        "list",
        "none",
        "__pregel_scratchpad",
        "langgraph_step",
        "langgraph_node",
        "checkpoint_map",
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
    ] {
        assert_eq!(got.get(absent), None, "{absent} must not be merged");
    }
    assert_eq!(got.source, CheckpointSource::Loop);
    assert_eq!(got.step, 0);

    // Merged keys can be filtered on.
    let found = list_ids(
        saver,
        Some(&config(&tid)),
        &ListOptions::new()
            .filter("user", "alice")
            .filter("score", 7),
    );
    assert_eq!(found, vec![id_of(&stored)]);
}
