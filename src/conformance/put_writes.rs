//! `put_writes` and the pending writes `get_tuple` returns.

use crate::BaseCheckpointSaver;
use crate::saver::{ERROR, INTERRUPT};
use serde_json::json;

use super::fixtures::{
    checkpoint, child_of, config, config_ns, get, metadata, metadata_step, put, put_writes,
    put_writes_path, thread_id, uuid4, writes_to,
};

/// A write is visible in `get_tuple` as `(task_id, channel, value)`.
pub fn put_writes_basic(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[("channel1", json!("value1"))], &task);

    let tup = get(saver, &stored);
    let matching = writes_to(&tup.pending_writes, &task, "channel1");
    assert_eq!(matching.len(), 1, "writes: {:?}", tup.pending_writes);
    assert_eq!(matching[0].value, json!("value1"));
}

/// Several `(channel, value)` pairs in one call are all kept.
pub fn put_writes_multiple_writes_same_task(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    let writes = [
        ("ch1", json!("v1")),
        ("ch2", json!("v2")),
        ("ch3", json!("v3")),
    ];
    put_writes(saver, &stored, &writes, &task);

    let tup = get(saver, &stored);
    assert_eq!(
        tup.pending_writes.len(),
        3,
        "writes: {:?}",
        tup.pending_writes
    );
    for (position, (channel, value)) in writes.iter().enumerate() {
        let matching = writes_to(&tup.pending_writes, &task, channel);
        assert_eq!(matching.len(), 1, "one write to {channel}");
        assert_eq!(&matching[0].value, value, "value of {channel}");
        assert_eq!(
            matching[0].idx,
            i64::try_from(position).expect("small"),
            "idx of {channel} is its position in the batch"
        );
    }
}

/// Writes of different tasks are kept apart.
pub fn put_writes_multiple_tasks(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let (t1, t2) = (uuid4(), uuid4());
    put_writes(saver, &stored, &[("ch", json!("from_t1"))], &t1);
    put_writes(saver, &stored, &[("ch", json!("from_t2"))], &t2);

    let tup = get(saver, &stored);
    assert_eq!(
        tup.pending_writes.len(),
        2,
        "writes: {:?}",
        tup.pending_writes
    );
    let w1 = writes_to(&tup.pending_writes, &t1, "ch");
    let w2 = writes_to(&tup.pending_writes, &t2, "ch");
    assert_eq!(w1.len(), 1, "one write from t1");
    assert_eq!(w2.len(), 1, "one write from t2");
    assert_eq!(w1[0].value, json!("from_t1"));
    assert_eq!(w2[0].value, json!("from_t2"));
}

/// The task id comes back as given.
pub fn put_writes_preserves_task_id(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[("ch", json!("val"))], &task);

    let tup = get(saver, &stored);
    assert!(
        tup.pending_writes.iter().any(|w| w.task_id == task),
        "task id {task} missing from {:?}",
        tup.pending_writes
    );
}

/// Channel name and a map value round-trip.
pub fn put_writes_preserves_channel_and_value(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(
        saver,
        &stored,
        &[("my_channel", json!({"data": 123}))],
        &task,
    );

    let tup = get(saver, &stored);
    let matching = writes_to(&tup.pending_writes, &task, "my_channel");
    assert_eq!(matching.len(), 1, "writes: {:?}", tup.pending_writes);
    assert_eq!(matching[0].value, json!({"data": 123}));
}

/// A task path is accepted and kept.
pub fn put_writes_task_path(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes_path(saver, &stored, &[("ch", json!("v"))], &task, "a:b:c");

    let tup = get(saver, &stored);
    assert_eq!(
        tup.pending_writes.len(),
        1,
        "writes: {:?}",
        tup.pending_writes
    );
    assert_eq!(tup.pending_writes[0].task_path, "a:b:c");
}

/// Repeating a call does not duplicate its writes.
pub fn put_writes_idempotent(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(saver, &stored, &[("ch", json!("val"))], &task);
    put_writes(saver, &stored, &[("ch", json!("val"))], &task);

    let tup = get(saver, &stored);
    assert_eq!(
        tup.pending_writes.len(),
        1,
        "exactly one write, got {:?}",
        tup.pending_writes
    );
    assert_eq!(writes_to(&tup.pending_writes, &task, "ch").len(), 1);
}

/// `__error__` and `__interrupt__` written in one call are both kept.
pub fn put_writes_special_channels(saver: &dyn BaseCheckpointSaver) {
    let stored = put(saver, &config(&thread_id()), &checkpoint(), &metadata());
    let task = uuid4();
    put_writes(
        saver,
        &stored,
        &[
            (ERROR, json!("something went wrong")),
            (INTERRUPT, json!({"reason": "human_input"})),
        ],
        &task,
    );

    let tup = get(saver, &stored);
    let errors = writes_to(&tup.pending_writes, &task, ERROR);
    assert_eq!(errors.len(), 1, "writes: {:?}", tup.pending_writes);
    assert_eq!(errors[0].value, json!("something went wrong"));
    assert_eq!(errors[0].idx, -1, "__error__ has index -1");
    let interrupts = writes_to(&tup.pending_writes, &task, INTERRUPT);
    assert_eq!(interrupts.len(), 1, "writes: {:?}", tup.pending_writes);
    assert_eq!(interrupts[0].value, json!({"reason": "human_input"}));
    assert_eq!(interrupts[0].idx, -3, "__interrupt__ has index -3");
}

/// Writes in one namespace are not seen from another.
pub fn put_writes_across_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let root = put(saver, &config_ns(&tid, ""), &checkpoint(), &metadata());
    put_writes(saver, &root, &[("ch", json!("root_val"))], &uuid4());
    let child = put(
        saver,
        &config_ns(&tid, "child:1"),
        &checkpoint(),
        &metadata(),
    );
    put_writes(saver, &child, &[("ch", json!("child_val"))], &uuid4());

    let root_tup = get(saver, &root);
    let root_ch: Vec<_> = root_tup
        .pending_writes
        .iter()
        .filter(|w| w.channel == "ch")
        .collect();
    assert_eq!(
        root_ch.len(),
        1,
        "root writes: {:?}",
        root_tup.pending_writes
    );
    assert_eq!(root_ch[0].value, json!("root_val"));

    let child_tup = get(saver, &child);
    let child_ch: Vec<_> = child_tup
        .pending_writes
        .iter()
        .filter(|w| w.channel == "ch")
        .collect();
    assert_eq!(
        child_ch.len(),
        1,
        "child writes: {:?}",
        child_tup.pending_writes
    );
    assert_eq!(child_ch[0].value, json!("child_val"));
}

/// A new checkpoint starts without pending writes.
pub fn put_writes_cleared_on_next_checkpoint(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored1 = put(saver, &config(&tid), &checkpoint(), &metadata_step(0));
    put_writes(saver, &stored1, &[("ch", json!("old_write"))], &uuid4());
    let stored2 = put(saver, &child_of(&stored1), &checkpoint(), &metadata_step(1));

    let tup = get(saver, &stored2);
    assert!(
        tup.pending_writes.is_empty(),
        "the new checkpoint has writes: {:?}",
        tup.pending_writes
    );
    assert_eq!(
        get(saver, &stored1).pending_writes.len(),
        1,
        "the parent keeps its write"
    );
}
