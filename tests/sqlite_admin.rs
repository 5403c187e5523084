//! `SqliteSaver`'s own maintenance methods (`src/saver/sqlite/admin.rs`,
//! callable without the `CheckpointAdmin` trait, whose shared cases are in
//! `tests/admin.rs`): open without creating, thread summaries, history rows
//! without values, exact import, age-based pruning (by a chrono time),
//! vacuum.

mod admin_suite;

use admin_suite::history::assert_same_tuples;
use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, ListOptions,
    SqliteOptions, SqliteSaver,
};
use serde_json::json;

fn put(saver: &SqliteSaver, parent: &Config, step: i64, msgs: &[&str], ts: Option<&str>) -> Config {
    let mut cp = Checkpoint::new(step).with_value(
        "messages",
        json!(msgs),
        u64::try_from(step).expect("the steps these tests store are not negative") + 1,
    );
    if let Some(ts) = ts {
        ts.clone_into(&mut cp.ts);
    }
    let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
    saver.put(parent, &cp, &md, &cp.channel_versions).unwrap()
}

#[test]
fn open_existing_never_creates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let err = SqliteSaver::open_existing(&path, SqliteOptions::new()).unwrap_err();
    assert!(
        matches!(&err, checkpointer::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(!path.exists());
    SqliteSaver::open(&path).unwrap();
    SqliteSaver::open_existing(&path, SqliteOptions::new()).unwrap();
}

#[test]
fn threads_and_summaries() {
    let saver = SqliteSaver::in_memory().unwrap();
    let a0 = put(&saver, &Config::thread("a"), 0, &["x"], None);
    let a1 = put(&saver, &a0, 1, &["x", "y"], None);
    put(
        &saver,
        &Config::thread("a").with_ns("sub:1"),
        0,
        &["s"],
        None,
    );
    put(&saver, &Config::thread("b"), 0, &["z"], None);
    assert!(saver.has_thread("a").unwrap());
    assert!(!saver.has_thread("c").unwrap());

    let threads = saver.threads(None).unwrap();
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0].thread_id, "b", "most recently updated first");
    let a = &threads[1];
    assert_eq!((a.checkpoints, a.namespaces), (3, 2));
    assert_eq!(a.last_step, 0, "the sub:1 checkpoint is the newest");
    assert!(a.last_ts.is_some());
    assert_eq!(saver.threads(Some(1)).unwrap().len(), 1);

    let rows = saver.checkpoint_summaries("a", Some("")).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].checkpoint.id, a1.checkpoint_id.clone().unwrap());
    assert_eq!(rows[0].parent_checkpoint_id, a0.checkpoint_id);
    assert!(rows[0].checkpoint.channel_values.is_empty());
    assert_eq!(saver.checkpoint_summaries("a", None).unwrap().len(), 3);
}

#[test]
fn import_restores_tuples_exactly() {
    let saver = SqliteSaver::in_memory().unwrap();
    let c0 = put(&saver, &Config::thread("t"), 0, &["x"], None);
    let c1 = put(&saver, &c0, 1, &["x", "y"], None);
    // A write at idx 1 alone (its batch-mate at 0 was a different call).
    saver
        .put_writes(
            &c1,
            &[("a".into(), json!(1)), ("b".into(), json!(2))],
            "task",
            "p",
        )
        .unwrap();
    saver
        .put_writes(&c1, &[("__error__".into(), json!("boom"))], "task", "p")
        .unwrap();
    let mut tuples = saver
        .list(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap();
    tuples[0].pending_writes.remove(1); // keep only idx -1 and 1
    let idx: Vec<i64> = tuples[0].pending_writes.iter().map(|w| w.idx).collect();
    assert_eq!(idx, vec![-1, 1]);

    let mut calls = Vec::new();
    saver
        .import_thread("copy", &tuples, |n| calls.push(n))
        .unwrap();
    assert_eq!(calls, vec![1, 2]);
    let back = saver
        .list(Some(&Config::thread("copy")), &ListOptions::new())
        .unwrap();
    assert_eq!(back.len(), 2);
    assert_same_tuples(&tuples, &back);
    assert!(back.iter().all(|b| b.config.thread_id == "copy"));
    let err = saver.import_thread("copy", &tuples, |_| {}).unwrap_err();
    assert!(
        matches!(err, checkpointer::Error::TargetNotEmpty { .. }),
        "{err}"
    );
}

#[test]
fn prune_older_than_keeps_each_namespace_latest() {
    let saver = SqliteSaver::in_memory().unwrap();
    let old = Some("2020-01-01T00:00:00+00:00");
    let c0 = put(&saver, &Config::thread("t"), 0, &["a"], old);
    let c1 = put(&saver, &c0, 1, &["a", "b"], old);
    let c2 = put(&saver, &c1, 2, &["a", "b", "c"], None);
    put(&saver, &Config::thread("t").with_ns("sub"), 0, &["s"], old);
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_hours(24);
    let removed = saver.prune_older_than(&["t".into()], cutoff).unwrap();
    assert_eq!(removed, 2);
    let left = saver
        .list(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap();
    let ids: Vec<&str> = left.iter().map(|t| t.checkpoint.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&c2.checkpoint_id.as_deref().unwrap()));
    let kept = saver.get_tuple(&c2).unwrap().unwrap();
    assert_eq!(kept.parent_config, None);
    assert_eq!(
        kept.checkpoint.channel_values["messages"],
        json!(["a", "b", "c"])
    );
}

#[test]
fn vacuum_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let saver = SqliteSaver::open(dir.path().join("v.db")).unwrap();
    let big = "x".repeat(50_000);
    let mut cfg = Config::thread("big");
    for step in 0..20 {
        cfg = put(&saver, &cfg, step, &[&big], None);
    }
    saver.delete_thread("big").unwrap();
    let (before, after) = saver.vacuum().unwrap();
    assert!(after < before, "{before} -> {after}");
    assert_eq!(SqliteSaver::in_memory().unwrap().vacuum().unwrap(), (0, 0));
}
