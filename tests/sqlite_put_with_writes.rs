//! `SqliteSaver::put_with_writes` is one transaction: when the database
//! refuses the checkpoint row (a trigger raises, after the values and the
//! writes of the same call went in), none of the call stays; with the
//! separate calls the writes would have stayed. In a group commit a
//! refused call fails alone.

use std::sync::{Arc, Barrier};

use checkpointer::saver::WriteBatch;
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    Error, ListOptions, SqliteSaver, new_checkpoint_id,
};
use serde_json::{Value, json};

/// Rows in each table, to see that a refused call wrote nothing.
fn rows(saver: &SqliteSaver) -> [i64; 3] {
    let conn = saver.pool().get().unwrap();
    ["checkpoints", "writes", "channel_values"].map(|table| {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    })
}

/// Makes the database refuse the checkpoint row with this id.
fn refuse(saver: &SqliteSaver, checkpoint_id: &str) {
    saver
        .pool()
        .get()
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_put BEFORE INSERT ON checkpoints \
             WHEN NEW.checkpoint_id = '{checkpoint_id}' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ))
        .unwrap();
}

fn allow(saver: &SqliteSaver) {
    saver
        .pool()
        .get()
        .unwrap()
        .execute_batch("DROP TRIGGER refuse_put")
        .unwrap();
}

fn checkpoint(values: &[(&str, Value, u64)]) -> Checkpoint {
    let mut cp = Checkpoint::new(-1);
    cp.id = new_checkpoint_id(1);
    for (ch, v, version) in values {
        cp.channel_values.insert((*ch).to_owned(), v.clone());
        cp.channel_versions
            .insert((*ch).to_owned(), ChannelVersion::new(*version));
    }
    cp
}

fn md(step: i64) -> CheckpointMetadata {
    CheckpointMetadata::new(CheckpointSource::Loop, step)
}

/// A thread with one checkpoint and one task's write; returns its config.
fn parent(saver: &SqliteSaver, thread_id: &str) -> Config {
    let cp = checkpoint(&[("log", json!(["start"]), 1)]);
    let stored = saver
        .put(
            &Config::thread(thread_id),
            &cp,
            &md(0),
            &cp.channel_versions,
        )
        .unwrap();
    saver
        .put_writes(&stored, &[("log".to_owned(), json!("early"))], "early", "")
        .unwrap();
    stored
}

fn writes(task: &str) -> Vec<(String, Value)> {
    vec![
        ("log".to_owned(), json!(format!("from {task}"))),
        ("__error__".to_owned(), json!("")),
    ]
}

#[test]
fn a_refused_checkpoint_row_rolls_back_the_writes_of_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let saver = SqliteSaver::open(dir.path().join("cp.db")).unwrap();
    let parent = parent(&saver, "t");
    let child = checkpoint(&[
        ("log", json!(["start", "from a", "from b"]), 2),
        ("new", json!({"big": "x".repeat(5000)}), 2),
    ]);
    let (wa, wb) = (writes("a"), writes("b"));
    let batches = [
        WriteBatch::new(&wa, "a", "p/a"),
        WriteBatch::new(&wb, "b", "p/b"),
    ];

    refuse(&saver, &child.id);
    let before = (rows(&saver), saver.list(None, &ListOptions::new()).unwrap());
    let err = saver
        .put_with_writes(&parent, &batches, &child, &md(1), &child.channel_versions)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Backend {
                backend: "sqlite",
                ..
            }
        ) && err.to_string().contains("refused by the test"),
        "{err}"
    );
    let after = (rows(&saver), saver.list(None, &ListOptions::new()).unwrap());
    assert_eq!(after, before, "the refused call left rows behind");

    // The same refusal with separate calls: the writes stay (so the
    // trigger does fire after them).
    for b in &batches {
        saver
            .put_writes(&parent, b.writes, b.task_id, b.task_path)
            .unwrap();
    }
    saver
        .put(&parent, &child, &md(1), &child.channel_versions)
        .unwrap_err();
    assert_eq!(rows(&saver)[1], before.0[1] + 4, "separate writes stored");

    // Allowed again, the fused call stores everything (the repeated
    // writes are idempotent).
    allow(&saver);
    let stored = saver
        .put_with_writes(&parent, &batches, &child, &md(1), &child.channel_versions)
        .unwrap();
    let tuple = saver.get_tuple(&stored).unwrap().unwrap();
    assert_eq!(tuple.checkpoint.channel_values, child.channel_values);
    assert_eq!(
        saver
            .get_tuple(&parent)
            .unwrap()
            .unwrap()
            .pending_writes
            .len(),
        5
    );
}

#[test]
fn in_a_group_a_refused_call_fails_alone() {
    const N: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let saver = Arc::new(SqliteSaver::open(dir.path().join("cp.db")).unwrap());
    let parents: Vec<Config> = (0..N).map(|i| parent(&saver, &format!("t{i}"))).collect();
    let children: Vec<Checkpoint> = (0..N)
        .map(|i| checkpoint(&[("log", json!(["start", i]), 2)]))
        .collect();
    let refused = 3;
    refuse(&saver, &children[refused].id);
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (saver, barrier) = (Arc::clone(&saver), Arc::clone(&barrier));
            let (parent, child) = (parents[i].clone(), children[i].clone());
            std::thread::spawn(move || {
                let w = writes("a");
                barrier.wait();
                saver.put_with_writes(
                    &parent,
                    &[WriteBatch::new(&w, "a", "")],
                    &child,
                    &md(1),
                    &child.channel_versions,
                )
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let result = h.join().unwrap();
        let thread = Config::thread(format!("t{i}"));
        let latest = saver.get_tuple(&thread).unwrap().unwrap();
        let on_parent = saver.get_tuple(&parents[i]).unwrap().unwrap();
        if i == refused {
            assert!(result.is_err(), "thread {i}: {result:?}");
            assert_eq!(latest.config, parents[i], "thread {i}");
            assert_eq!(on_parent.pending_writes.len(), 1, "thread {i}");
        } else {
            let stored = result.unwrap();
            assert_eq!(latest.config, stored, "thread {i}");
            assert_eq!(latest.checkpoint.channel_values["log"], json!(["start", i]));
            assert_eq!(on_parent.pending_writes.len(), 3, "thread {i}");
        }
    }
}
