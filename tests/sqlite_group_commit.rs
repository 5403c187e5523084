//! Group commit in `SqliteSaver`: concurrent writes share transactions,
//! yet each call stays atomic and gets its own result. A write that fails
//! inside a shared transaction changes nothing and does not undo the
//! others.

use std::sync::{Arc, Barrier};

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, Error,
    ListOptions, SqliteOptions, SqliteSaver, Synchronous,
};
use serde_json::json;

#[test]
fn concurrent_writes_share_transactions_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let saver = Arc::new(
        SqliteSaver::open_with(
            &path,
            SqliteOptions::new().with_synchronous(Synchronous::Full),
        )
        .unwrap(),
    );
    let writers = 12;
    let steps = 40;
    let steps_stored = usize::try_from(steps).expect("40 steps fit a usize");
    let barrier = Arc::new(Barrier::new(writers));
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let saver = Arc::clone(&saver);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let thread = format!("w{w}");
                let mut config = Config::thread(thread.as_str()).with_ns("");
                let mut messages = Vec::new();
                let mut cp = Checkpoint::new(-1);
                for step in 0..steps {
                    messages.push(json!(format!("{thread} message {step}")));
                    let version = saver.get_next_version(cp.channel_versions.get("messages"));
                    cp =
                        cp.successor(step)
                            .with_value("messages", json!(messages.clone()), version);
                    let new_versions = [("messages".to_owned(), version)].into();
                    let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
                    config = saver.put(&config, &cp, &md, &new_versions).unwrap();
                    // A write to a checkpoint that does not exist fails in
                    // its group, alone.
                    let missing = Config::thread(thread.as_str())
                        .with_ns("")
                        .with_checkpoint_id(format!("missing-{step}"));
                    let err = saver
                        .put_writes(&missing, &[("x".to_owned(), json!(1))], "t", "")
                        .unwrap_err();
                    assert!(matches!(err, Error::CheckpointNotFound { .. }), "{err}");
                    saver
                        .put_writes(&config, &[("out".to_owned(), json!(step))], "task", "")
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a writer failed");
    }
    for w in 0..writers {
        let history = saver
            .list(Some(&Config::thread(format!("w{w}"))), &ListOptions::new())
            .unwrap();
        assert_eq!(history.len(), steps_stored);
        for (i, tuple) in history.iter().enumerate() {
            let step = steps_stored - 1 - i;
            let messages = tuple.checkpoint.channel_values["messages"]
                .as_array()
                .unwrap();
            assert_eq!(messages.len(), step + 1);
            assert_eq!(messages[step], json!(format!("w{w} message {step}")));
            assert_eq!(tuple.pending_writes.len(), 1);
            assert_eq!(tuple.pending_writes[0].value, json!(step));
        }
    }
    let writes: i64 = saver
        .pool()
        .get()
        .unwrap()
        .query_row("SELECT count(*) FROM writes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        writes,
        i64::try_from(writers).expect("12 writers fit an i64") * steps
    );
}

#[test]
fn the_memory_database_groups_writes_too() {
    let saver = Arc::new(SqliteSaver::in_memory().unwrap());
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let saver = Arc::clone(&saver);
            std::thread::spawn(move || {
                let mut config = Config::thread(format!("m{w}"));
                for step in 0..25 {
                    let cp = Checkpoint::new(step).with_value(
                        "n",
                        json!(step),
                        u64::try_from(step).expect("steps count up from 0") + 1,
                    );
                    let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
                    config = saver.put(&config, &cp, &md, &cp.channel_versions).unwrap();
                    saver.get_tuple(&config).unwrap().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a writer failed");
    }
    assert_eq!(saver.list(None, &ListOptions::new()).unwrap().len(), 200);
}
