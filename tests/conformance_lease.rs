//! The lease conformance group ([`checkpointer::conformance::lease`]) on
//! every saver form with a lease table: memory, async, boxed, and SQLite
//! on a file (pools of 1 and 8 connections), in memory, async and boxed;
//! and through the hooked test wrapper (memory, SQLite), which forwards
//! the lease calls.

use checkpointer::conformance::{BlockingAsync, HookedSaver};
use checkpointer::{InMemorySaver, SqliteOptions, SqliteSaver, ThreadLeases, lease_suite};
use tempfile::TempDir;

/// A saver on a fresh file in a temp dir (the guard), with `options`.
fn on_file(options: SqliteOptions) -> (SqliteSaver, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let saver = SqliteSaver::open_with(dir.path().join("checkpoints.db"), options)
        .expect("open a SQLite saver");
    (saver, dir)
}

lease_suite!(memory, (InMemorySaver::new(), ()));

lease_suite!(
    boxed,
    (Box::new(InMemorySaver::new()) as Box<dyn ThreadLeases>, ())
);

lease_suite!(sqlite_file, on_file(SqliteOptions::new()));

lease_suite!(
    sqlite_pool1,
    on_file(SqliteOptions::new().with_pool_size(1))
);

lease_suite!(
    sqlite_pool8,
    on_file(SqliteOptions::new().with_pool_size(8))
);

lease_suite!(
    sqlite_memory,
    (SqliteSaver::in_memory().expect("open a memory saver"), ())
);

lease_suite!(sqlite_boxed, {
    let (saver, dir) = on_file(SqliteOptions::new());
    (Box::new(saver) as Box<dyn ThreadLeases>, dir)
});

lease_suite!(async_memory, (BlockingAsync::new(InMemorySaver::new()), ()));

lease_suite!(sqlite_async, {
    let (saver, dir) = on_file(SqliteOptions::new());
    (BlockingAsync::new(saver), dir)
});

lease_suite!(hooked_memory, (HookedSaver::new(InMemorySaver::new()), ()));

lease_suite!(hooked_sqlite, {
    let (saver, dir) = on_file(SqliteOptions::new());
    (HookedSaver::new(saver), dir)
});
