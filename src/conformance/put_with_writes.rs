//! `put_with_writes`: task writes against a checkpoint and its child in one
//! call. It must give what the separate `put_writes` calls and `put` give,
//! and store nothing when any part is refused.

use crate::saver::{ERROR, INTERRUPT, RESUME, WriteBatch};
use crate::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, CheckpointTuple, Config,
    Error, ListOptions,
};
use serde_json::{Value, json};

use super::fixtures::{
    checkpoint_versioned, checkpoint_with, child_of, config, config_ns, expect_err, get, id_of,
    list, metadata, metadata_at, metadata_step, put, put_new, put_writes, snapshot, thread_id,
    triples, uuid4, versions_of, writes_to,
};

/// Owned writes of one task: `(writes, task_id, task_path)`.
type Task = (Vec<(String, Value)>, String, String);

fn task(writes: &[(&str, Value)], task_id: &str, task_path: &str) -> Task {
    (
        writes
            .iter()
            .map(|(ch, v)| ((*ch).to_owned(), v.clone()))
            .collect(),
        task_id.to_owned(),
        task_path.to_owned(),
    )
}

fn batches(tasks: &[Task]) -> Vec<WriteBatch<'_>> {
    tasks
        .iter()
        .map(|(w, id, path)| WriteBatch::new(w, id, path))
        .collect()
}

/// `put_with_writes` that must succeed.
fn fused(
    saver: &dyn BaseCheckpointSaver,
    config: &Config,
    tasks: &[Task],
    cp: &Checkpoint,
    md: &CheckpointMetadata,
    new_versions: &crate::ChannelVersions,
) -> Config {
    saver
        .put_with_writes(config, &batches(tasks), cp, md, new_versions)
        .unwrap_or_else(|e| panic!("put_with_writes of checkpoint {} failed: {e}", cp.id))
}

/// A tuple with its thread id replaced, to compare two threads that were
/// written the same way.
fn renamed(mut tuple: CheckpointTuple, thread_id: &str) -> CheckpointTuple {
    thread_id.clone_into(&mut tuple.config.thread_id);
    if let Some(parent) = &mut tuple.parent_config {
        thread_id.clone_into(&mut parent.thread_id);
    }
    tuple
}

/// Every checkpoint of `tid` as `list` returns it, under the thread name
/// `as_thread`.
fn history(saver: &dyn BaseCheckpointSaver, tid: &str, as_thread: &str) -> Vec<CheckpointTuple> {
    list(saver, Some(&Config::thread(tid)), &ListOptions::new())
        .into_iter()
        .map(|t| renamed(t, as_thread))
        .collect()
}

/// Some state for the refused-input cases to leave alone: a parent with
/// values and a write. Returns its config.
fn some_parent(saver: &dyn BaseCheckpointSaver) -> Config {
    let tid = thread_id();
    let first = put(
        saver,
        &config(&tid),
        &checkpoint_with(&[("a", json!(1)), ("log", json!(["x"]))]),
        &metadata(),
    );
    put_writes(saver, &first, &[("ch", json!("v"))], &uuid4());
    first
}

/// The tasks the equivalence cases store: two tasks on different paths,
/// written in an order that sorts differently, one with a special write,
/// and a second batch of the first task.
fn sample_tasks() -> Vec<Task> {
    vec![
        task(
            &[("log", json!("from b")), ("z", json!(3))],
            "task-b",
            "~__pregel_pull, b",
        ),
        task(
            &[("log", json!("from a")), (ERROR, json!("boom"))],
            "task-a",
            "~__pregel_pull, a",
        ),
        task(&[(RESUME, json!(["yes"]))], "task-b", "~__pregel_pull, b"),
    ]
}

/// The same thread written twice, once with separate calls and once with
/// `put_with_writes`: the tuples, their pending writes (and order) and the
/// listing are the same, and so is the returned config.
pub fn put_with_writes_matches_separate_calls(saver: &dyn BaseCheckpointSaver) {
    let (separate, together) = (thread_id(), thread_id());
    let parent_cp = checkpoint_with(&[("a", json!(1)), ("log", json!(["start"]))]);
    let mut child_cp = checkpoint_versioned(
        &[
            ("a", json!(1)),
            ("log", json!(["start", "from a", "from b"])),
        ],
        &[("a", 1), ("log", 2)],
    );
    child_cp.updated_channels = Some(vec!["log".to_owned()]);
    let child_md = metadata_step(1).with_extra("score", 7);
    let new_versions = versions_of(&[("log", 2)]);
    let tasks = sample_tasks();

    let mut returned = Vec::new();
    for (tid, fuse) in [(&separate, false), (&together, true)] {
        let parent = put(saver, &config(tid), &parent_cp, &metadata());
        // Config keys are merged into the child's metadata either way.
        let cfg = child_of(&parent)
            .with_metadata("user", "alice")
            .with_configurable("run_id", "run-1");
        let stored = if fuse {
            fused(saver, &cfg, &tasks, &child_cp, &child_md, &new_versions)
        } else {
            for (w, id, path) in &tasks {
                saver
                    .put_writes(&cfg, w, id, path)
                    .unwrap_or_else(|e| panic!("put_writes failed: {e}"));
            }
            put_new(saver, &cfg, &child_cp, &child_md, &new_versions)
        };
        returned.push(Config {
            thread_id: String::new(),
            ..stored
        });
    }
    assert_eq!(returned[0], returned[1], "returned configs differ");
    assert_eq!(
        returned[1].checkpoint_id.as_deref(),
        Some(child_cp.id.as_str())
    );

    let a = history(saver, &separate, "t");
    let b = history(saver, &together, "t");
    assert_eq!(a.len(), 2);
    assert_eq!(a, b, "put_with_writes stored something else than the calls");
    // The parent carries the writes in (task_path, task_id, idx) order; the
    // child starts with none.
    let order: Vec<(String, String, i64)> = b[1]
        .pending_writes
        .iter()
        .map(|w| (w.task_id.clone(), w.channel.clone(), w.idx))
        .collect();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        order,
        vec![
            (s("task-a"), s(ERROR), -1),
            (s("task-a"), s("log"), 0),
            (s("task-b"), s(RESUME), -4),
            (s("task-b"), s("log"), 0),
            (s("task-b"), s("z"), 1),
        ]
    );
    assert!(b[0].pending_writes.is_empty(), "the child has writes");
    assert_eq!(
        b[0].checkpoint.channel_values["log"],
        json!(["start", "from a", "from b"])
    );
    assert_eq!(b[0].metadata.run_id.as_deref(), Some("run-1"));
    assert_eq!(b[0].metadata.extra.get("user"), Some(&json!("alice")));
    // Point reads agree with the listing.
    for (i, t) in b.iter().enumerate() {
        let read = get(
            saver,
            &Config {
                thread_id: together.clone(),
                ..t.config.clone()
            },
        );
        assert_eq!(renamed(read, "t"), b[i]);
    }
}

/// A chain built by `put_with_writes` only, as a graph run saves it: each
/// step's writes land on its parent, every checkpoint reads back with its
/// own values.
pub fn put_with_writes_chain(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    // No writes: the call is a plain put, also for a first checkpoint
    // (no `checkpoint_id` in the config).
    let mut cfg = fused(
        saver,
        &config(&tid),
        &[],
        &checkpoint_with(&[("n", json!(0))]),
        &metadata_at(CheckpointSource::Input, -1),
        &versions_of(&[("n", 1)]),
    );
    let mut ids = vec![id_of(&cfg)];
    for step in 0..4u64 {
        let tasks = vec![task(&[("n", json!(step + 1))], &format!("task-{step}"), "")];
        let cp = checkpoint_versioned(&[("n", json!(step + 1))], &[("n", step + 2)]);
        cfg = fused(
            saver,
            &cfg,
            &tasks,
            &cp,
            &metadata_step(i64::try_from(step).expect("small")),
            &versions_of(&[("n", step + 2)]),
        );
        ids.push(cp.id);
    }
    let found = list(saver, Some(&config(&tid)), &ListOptions::new());
    let got: Vec<String> = found
        .iter()
        .rev()
        .map(|t| t.checkpoint.id.clone())
        .collect();
    assert_eq!(got, ids);
    for (i, t) in found.iter().rev().enumerate() {
        assert_eq!(t.checkpoint.channel_values["n"], json!(i), "value of {i}");
        if i + 1 < ids.len() {
            assert_eq!(
                triples(&t.pending_writes),
                vec![(format!("task-{i}"), "n".to_owned(), json!(i + 1))],
                "writes of {i}"
            );
        } else {
            assert!(t.pending_writes.is_empty());
        }
        let parent = t.parent_config.as_ref().map(id_of);
        assert_eq!(parent, i.checked_sub(1).map(|p| ids[p].clone()));
    }
}

/// A checkpoint `put` refuses (a value without a version, an empty id, an
/// empty thread id): the call fails with `put`'s error and the valid
/// writes that came with it are not stored either.
pub fn put_with_writes_bad_checkpoint_changes_nothing(saver: &dyn BaseCheckpointSaver) {
    let parent = some_parent(saver);
    let before = snapshot(saver);
    let tasks = vec![task(&[("a", json!(2))], &uuid4(), "")];
    let mut orphan = checkpoint_with(&[("a", json!(2))]);
    orphan
        .channel_values
        .insert("orphan".to_owned(), json!("x"));
    let mut no_id = checkpoint_with(&[("a", json!(2))]);
    no_id.id = String::new();
    for (what, cp) in [("value without version", orphan), ("empty id", no_id)] {
        let err = expect_err(
            what,
            saver.put_with_writes(
                &child_of(&parent),
                &batches(&tasks),
                &cp,
                &metadata_step(1),
                &cp.channel_versions,
            ),
        );
        assert!(
            matches!(err, Error::InvalidCheckpoint { .. }),
            "{what}: expected Error::InvalidCheckpoint, got {err:?}"
        );
        assert_eq!(
            snapshot(saver),
            before,
            "{what}: the refused call stored something"
        );
    }
    let cp = checkpoint_with(&[("a", json!(2))]);
    let empty = Config::thread("").with_checkpoint_id(id_of(&parent));
    for with_writes in [true, false] {
        let tasks = if with_writes { &tasks[..] } else { &[] };
        let err = expect_err(
            "empty thread id",
            saver.put_with_writes(
                &empty,
                &batches(tasks),
                &cp,
                &metadata_step(1),
                &cp.channel_versions,
            ),
        );
        assert!(
            matches!(err, Error::EmptyThreadId { .. }),
            "expected Error::EmptyThreadId, got {err:?}"
        );
    }
    assert_eq!(snapshot(saver), before, "a refused call stored something");
}

/// Writes `put_writes` refuses (a config without `checkpoint_id`): the
/// call fails with `put_writes`' error, and the checkpoint is not stored.
/// The error of the writes comes first, as with separate calls, also when
/// the checkpoint is bad too.
pub fn put_with_writes_bad_writes_change_nothing(saver: &dyn BaseCheckpointSaver) {
    let parent = some_parent(saver);
    let before = snapshot(saver);
    let tasks = vec![
        task(&[("a", json!(2))], &uuid4(), ""),
        task(&[(ERROR, json!("boom"))], &uuid4(), ""),
    ];
    let good = checkpoint_with(&[("a", json!(2))]);
    let mut bad = checkpoint_with(&[("a", json!(2))]);
    bad.channel_values.insert("orphan".to_owned(), json!("x"));
    let no_id = config(&parent.thread_id);
    for cp in [good, bad] {
        let err = expect_err(
            "writes without checkpoint_id",
            saver.put_with_writes(
                &no_id,
                &batches(&tasks),
                &cp,
                &metadata_step(1),
                &cp.channel_versions,
            ),
        );
        assert!(
            matches!(err, Error::MissingCheckpointId { .. }),
            "expected Error::MissingCheckpointId, got {err:?}"
        );
        assert_eq!(snapshot(saver), before, "a refused call stored something");
    }
}

/// Writes against a checkpoint that does not exist: `CheckpointNotFound`,
/// as `put_writes` gives, and the child is not stored (also when it would
/// be the first checkpoint of a thread or namespace).
pub fn put_with_writes_missing_parent(saver: &dyn BaseCheckpointSaver) {
    let parent = some_parent(saver);
    let tid = parent.thread_id.clone();
    let before = snapshot(saver);
    let tasks = vec![task(&[("a", json!(2))], &uuid4(), "")];
    // Unknown, and made before the child: it sorts before it, as a parent
    // must.
    let unknown = crate::new_checkpoint_id(0);
    let cp = checkpoint_with(&[("a", json!(2))]);
    let cases = [
        ("unknown id", config(&tid).with_checkpoint_id(unknown)),
        (
            "unknown thread",
            config(&thread_id()).with_checkpoint_id(id_of(&parent)),
        ),
        (
            "id of another namespace",
            config_ns(&tid, "child:1").with_checkpoint_id(id_of(&parent)),
        ),
    ];
    for (what, cfg) in cases {
        let err = expect_err(
            what,
            saver.put_with_writes(
                &cfg,
                &batches(&tasks),
                &cp,
                &metadata_step(1),
                &cp.channel_versions,
            ),
        );
        assert!(
            matches!(err, Error::CheckpointNotFound { .. }),
            "{what}: expected Error::CheckpointNotFound, got {err:?}"
        );
        assert_eq!(
            snapshot(saver),
            before,
            "{what}: the refused call stored something"
        );
    }
}

/// Special channels keep `put_writes`' rules inside one call and across
/// calls: `__error__` and `__interrupt__` writes replace the task's earlier
/// ones (also a batch earlier in the same call), any other write is kept
/// first-come.
pub fn put_with_writes_special_writes(saver: &dyn BaseCheckpointSaver) {
    let parent = put(
        saver,
        &config(&thread_id()),
        &checkpoint_with(&[("a", json!(1))]),
        &metadata(),
    );
    let t = uuid4();
    put_writes(
        saver,
        &parent,
        &[
            ("a", json!("first")),
            (ERROR, json!("old error")),
            (INTERRUPT, json!([{"value": "old", "id": "i0"}])),
        ],
        &t,
    );
    let tasks = vec![
        task(
            &[("a", json!("second")), (ERROR, json!("new error"))],
            &t,
            "",
        ),
        task(
            &[(INTERRUPT, json!([{"value": "mid", "id": "i1"}]))],
            &t,
            "",
        ),
        task(
            &[(INTERRUPT, json!([{"value": "new", "id": "i2"}]))],
            &t,
            "",
        ),
    ];
    let cp = checkpoint_versioned(&[("a", json!(2))], &[("a", 2)]);
    let child = fused(
        saver,
        &child_of(&parent),
        &tasks,
        &cp,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );
    let tup = get(saver, &parent);
    let one = |channel: &str| {
        let found = writes_to(&tup.pending_writes, &t, channel);
        assert_eq!(found.len(), 1, "{channel}: {:?}", tup.pending_writes);
        found[0].value.clone()
    };
    assert_eq!(one("a"), json!("first"), "a normal write is first-come");
    assert_eq!(one(ERROR), json!("new error"));
    assert_eq!(one(INTERRUPT), json!([{"value": "new", "id": "i2"}]));
    assert_eq!(tup.pending_writes.len(), 3);
    assert_eq!(get(saver, &child).checkpoint.channel_values["a"], json!(2));
}
