//! Pending writes: a special channel's write replaces the task's earlier
//! one, a normal channel's first write wins, and writes read back in
//! task-path and index order.

use crate::saver::{ERROR, INTERRUPT, RESUME, SCHEDULED};
use crate::{BaseCheckpointSaver, ListOptions, PendingWrite};
use serde_json::{Value, json};

use super::fixtures::{
    checkpoint, config, get, list, metadata, put, put_writes, put_writes_path, thread_id, triples,
    uuid4, writes_to,
};

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
