//! The `CheckpointAdmin` contract on every saver of this crate (the shared
//! cases of `admin_suite`, one `#[test]` per case per saver, also through
//! `Arc` and `Box<dyn>`), and the memory saver agreeing with SQLite on the
//! same histories.

mod admin_suite;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use admin_suite::Store;
use admin_suite::history::{OLD, list, put, thread_with_writes};
use checkpointer::{CheckpointAdmin, Config, InMemorySaver, SqliteSaver};

admin_suite!(memory, Store::in_memory(InMemorySaver::new()));
admin_suite!(memory_arc, Store::in_memory(Arc::new(InMemorySaver::new())));
admin_suite!(
    sqlite_memory,
    Store::in_memory(SqliteSaver::in_memory().unwrap())
);
admin_suite!(sqlite_file, Store::sqlite_file());
admin_suite!(sqlite_boxed_dyn, {
    let boxed: Box<dyn CheckpointAdmin> = Box::new(SqliteSaver::in_memory().unwrap());
    Store::in_memory(boxed)
});

/// The same history, stored in both savers (the same checkpoints, so the
/// same ids and times).
fn both_with_history() -> (InMemorySaver, SqliteSaver) {
    let source = InMemorySaver::new();
    thread_with_writes(&source, "w");
    let c0 = put(&source, &Config::thread("old"), 0, &["a"], Some(OLD));
    let c1 = put(&source, &c0, 1, &["a", "b"], Some(OLD));
    put(&source, &c1, 2, &["a", "b", "c"], None);
    put(
        &source,
        &Config::thread("old").with_ns("sub"),
        0,
        &["s"],
        Some(OLD),
    );
    put(
        &source,
        &Config::thread("undated"),
        0,
        &["u"],
        Some("someday"),
    );
    let (memory, sqlite) = (InMemorySaver::new(), SqliteSaver::in_memory().unwrap());
    for thread in ["w", "old", "undated"] {
        let tuples = list(&source, thread);
        memory.import_thread(thread, &tuples, &mut |_| {}).unwrap();
        CheckpointAdmin::import_thread(&sqlite, thread, &tuples, &mut |_| {}).unwrap();
    }
    (memory, sqlite)
}

/// Asserts that both savers answer every admin and listing call alike.
fn assert_agree(memory: &dyn CheckpointAdmin, sqlite: &dyn CheckpointAdmin) {
    assert_eq!(memory.threads(None).unwrap(), sqlite.threads(None).unwrap());
    assert_eq!(
        memory.threads(Some(2)).unwrap(),
        sqlite.threads(Some(2)).unwrap()
    );
    for thread in ["w", "old", "undated", "unknown"] {
        assert_eq!(
            memory.has_thread(thread).unwrap(),
            sqlite.has_thread(thread).unwrap()
        );
        for ns in [None, Some(""), Some("sub"), Some("sub:1")] {
            assert_eq!(
                memory.checkpoint_summaries(thread, ns).unwrap(),
                sqlite.checkpoint_summaries(thread, ns).unwrap(),
                "{thread} {ns:?}"
            );
        }
        assert_eq!(list(memory, thread), list(sqlite, thread), "{thread}");
    }
}

#[test]
fn memory_agrees_with_sqlite_on_summaries() {
    let (memory, sqlite) = both_with_history();
    assert_agree(&memory, &sqlite);
}

#[test]
fn memory_agrees_with_sqlite_after_pruning_by_age() {
    let (memory, sqlite) = both_with_history();
    let threads: Vec<String> = ["w", "old", "undated"].map(String::from).into();
    let cutoff = SystemTime::now() - Duration::from_hours(1);
    let removed = memory.prune_older_than(&threads, cutoff).unwrap();
    assert_eq!(removed, 2, "the two old root checkpoints of `old`");
    assert_eq!(
        CheckpointAdmin::prune_older_than(&sqlite, &threads, cutoff).unwrap(),
        removed
    );
    assert_agree(&memory, &sqlite);
}

#[test]
fn memory_agrees_with_sqlite_after_deleting() {
    let (memory, sqlite) = both_with_history();
    for admin in [&memory as &dyn CheckpointAdmin, &sqlite] {
        admin.delete_thread("w").unwrap();
        admin.copy_thread("old", "old-copy").unwrap();
    }
    assert_agree(&memory, &sqlite);
    assert_eq!(memory.threads(None).unwrap(), sqlite.threads(None).unwrap());
}

#[test]
fn every_pointer_forwards_to_the_saver() {
    let saver = InMemorySaver::new();
    put(&saver, &Config::thread("t"), 0, &["x"], None);
    let by_ref: &dyn CheckpointAdmin = &&saver;
    assert!(by_ref.has_thread("t").unwrap());
    let shared = Arc::new(saver);
    let arc: Arc<dyn CheckpointAdmin> = shared.clone();
    assert_eq!(arc.threads(None).unwrap().len(), 1);
    let boxed: Box<dyn CheckpointAdmin> = Box::new(arc.clone());
    assert_eq!(boxed.checkpoint_summaries("t", None).unwrap().len(), 1);
    // A tool holding the admin trait hands the graph a plain saver.
    let base: Arc<dyn checkpointer::BaseCheckpointSaver> = arc;
    assert!(base.get(&Config::thread("t")).unwrap().is_some());
    assert_eq!(boxed.vacuum().unwrap(), None, "nothing on disk in memory");
}
