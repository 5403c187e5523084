//! The conformance suite for `SqliteSaver`: on a file with the default
//! pool, with pools of 1 and 8 connections, in memory, and through the
//! async wrapper.

use checkpointer::conformance::BlockingAsync;
use checkpointer::{SqliteOptions, SqliteSaver, conformance_suite};
use tempfile::TempDir;

/// A saver on a fresh file in a temp dir (the guard), with `options`.
fn on_file(options: SqliteOptions) -> (SqliteSaver, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let saver = SqliteSaver::open_with(dir.path().join("checkpoints.db"), options)
        .expect("open a SQLite saver");
    (saver, dir)
}

conformance_suite!(sqlite_file, on_file(SqliteOptions::new()));

conformance_suite!(
    sqlite_pool1,
    on_file(SqliteOptions::new().with_pool_size(1))
);

conformance_suite!(
    sqlite_pool8,
    on_file(SqliteOptions::new().with_pool_size(8))
);

conformance_suite!(
    sqlite_memory,
    (SqliteSaver::in_memory().expect("open a memory saver"), ())
);

conformance_suite!(sqlite_async, {
    let (saver, dir) = on_file(SqliteOptions::new());
    (BlockingAsync::new(saver), dir)
});
