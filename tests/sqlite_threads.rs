//! Dropping a `SqliteSaver` releases its threads: many open/drop cycles in
//! one process keep the thread count flat (every pool shares one set of
//! helper threads; the WAL checkpointer thread is joined on drop).
//!
//! `CHECKPOINTER_OPEN_CYCLES` sets the number of cycles (default 10,000).

use checkpointer::{BaseCheckpointSaver, Config, SqliteSaver};

/// The threads of this process (Linux: `/proc/self/task`).
fn thread_count() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count())
}

#[test]
fn open_and_drop_many_times_keeps_the_thread_count_flat() {
    let Some(start) = thread_count() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "/proc/self/task is needed to count threads"
        );
        println!("skipped: no /proc/self/task to count threads");
        return;
    };
    let cycles: usize = std::env::var("CHECKPOINTER_OPEN_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("threads.db");
    // The first open makes the shared helper threads.
    drop(SqliteSaver::open(&db).unwrap());
    let base = thread_count().unwrap();
    let mut most = base;
    for i in 0..cycles {
        let saver = SqliteSaver::open(&db).unwrap();
        if i % 1_000 == 0 {
            // The saver works, then goes.
            assert!(saver.get_tuple(&Config::thread("t")).unwrap().is_none());
        }
        drop(saver);
        most = most.max(thread_count().unwrap());
    }
    let end = thread_count().unwrap();
    // One more at a moment: a joined thread may still be listed briefly.
    assert!(
        most <= base + 1 && end <= base,
        "threads: {start} at the start, {base} after the first open, at most {most} \
         during {cycles} open/drop cycles, {end} at the end"
    );
}
