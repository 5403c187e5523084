//! Histories the cases store: checkpoints with chosen steps, values and
//! times, and the writes of a task.

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, CheckpointTuple, Config,
    ListOptions,
};
use serde_json::json;

/// A `ts` long before any cutoff the cases use.
pub const OLD: &str = "2020-01-01T00:00:00+00:00";

/// Stores a checkpoint of `messages` at `step` as the child of `parent`
/// (written at `ts`, else now) and returns its config.
pub fn put(
    saver: &dyn BaseCheckpointSaver,
    parent: &Config,
    step: i64,
    messages: &[&str],
    ts: Option<&str>,
) -> Config {
    let mut cp = Checkpoint::new(step).with_value(
        "messages",
        json!(messages),
        u64::try_from(step).expect("the steps these tests store are not negative") + 1,
    );
    if let Some(ts) = ts {
        ts.clone_into(&mut cp.ts);
    }
    let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
    saver.put(parent, &cp, &md, &cp.channel_versions).unwrap()
}

/// Thread `thread`: two root checkpoints, the second with a normal write
/// at idx 0 and 1 and an `__error__` write, and one in namespace `sub:1`
/// (the newest). Returns the root configs, oldest first.
pub fn thread_with_writes(saver: &dyn BaseCheckpointSaver, thread: &str) -> Vec<Config> {
    let c0 = put(saver, &Config::thread(thread), 0, &["x"], None);
    let c1 = put(saver, &c0, 1, &["x", "y"], None);
    let writes = [("a".to_owned(), json!(1)), ("b".to_owned(), json!(2))];
    saver.put_writes(&c1, &writes, "task", "p").unwrap();
    let error = [("__error__".to_owned(), json!("boom"))];
    saver.put_writes(&c1, &error, "task", "p").unwrap();
    put(
        saver,
        &Config::thread(thread).with_ns("sub:1"),
        0,
        &["s"],
        None,
    );
    vec![c0, c1]
}

/// Every checkpoint of `thread`, newest first.
pub fn list(saver: &dyn BaseCheckpointSaver, thread: &str) -> Vec<CheckpointTuple> {
    saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .unwrap()
}

/// The ids of `list`.
pub fn ids(saver: &dyn BaseCheckpointSaver, thread: &str) -> Vec<String> {
    list(saver, thread)
        .into_iter()
        .map(|t| t.checkpoint.id)
        .collect()
}

/// Asserts that two listings hold the same checkpoints, metadata, writes
/// and parents, whatever their thread ids.
pub fn assert_same_tuples(a: &[CheckpointTuple], b: &[CheckpointTuple]) {
    assert_eq!(a.len(), b.len(), "as many checkpoints");
    for (a, b) in a.iter().zip(b) {
        assert_eq!(a.config.ns(), b.config.ns());
        assert_eq!(a.checkpoint, b.checkpoint);
        assert_eq!(a.metadata, b.metadata);
        assert_eq!(a.pending_writes, b.pending_writes);
        assert_eq!(
            a.parent_config.as_ref().map(|p| &p.checkpoint_id),
            b.parent_config.as_ref().map(|p| &p.checkpoint_id)
        );
    }
}
