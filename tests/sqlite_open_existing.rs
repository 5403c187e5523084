//! `SqliteSaver::open_existing` (what the tool's read commands use) never
//! writes into a file that holds no checkpoint database: a 0-byte file or
//! an SQLite file without the schema is refused and left byte for byte as
//! it was, and `threads` and `history` on it fail without changing it.
// They run the `checkpointer` binary, which needs the `cli` feature.
#![cfg(feature = "cli")]

use std::path::Path;

use assert_cmd::Command;
use checkpointer::{Error, SqliteOptions, SqliteSaver};

/// The bytes of the file and whether SQLite left a WAL or shm beside it.
fn state(db: &Path) -> (Vec<u8>, bool) {
    let side = ["db-wal", "db-shm"]
        .iter()
        .any(|ext| db.with_extension(ext).exists());
    (std::fs::read(db).unwrap(), side)
}

fn assert_refused_unchanged(db: &Path) {
    let before = state(db);
    let err = SqliteSaver::open_existing(db, SqliteOptions::new()).unwrap_err();
    assert!(
        matches!(err, Error::NotACheckpointDatabase { .. }),
        "expected NotACheckpointDatabase, got {err:?}"
    );
    assert_eq!(state(db), before, "open_existing changed {}", db.display());
    for command in [&["threads"][..], &["history", "t1"][..]] {
        let out = Command::cargo_bin("checkpointer")
            .unwrap()
            .env_remove("CHECKPOINTER_DB")
            .arg("--db")
            .arg(db)
            .args(command)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{command:?} on {}",
            db.display()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not a checkpoint database"),
            "{command:?}: {stderr}"
        );
        assert_eq!(state(db), before, "{command:?} changed {}", db.display());
    }
}

#[test]
fn an_empty_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(&db, b"").unwrap();
    assert_refused_unchanged(&db);
}

#[test]
fn an_sqlite_file_without_the_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blank.db");
    // A valid SQLite file with no tables: one page, as `VACUUM` writes it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA page_size = 4096; VACUUM;")
        .unwrap();
    drop(conn);
    assert!(std::fs::metadata(&db).unwrap().len() > 0);
    assert_refused_unchanged(&db);
}

#[test]
fn a_checkpoint_database_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ok.db");
    drop(SqliteSaver::open(&db).unwrap());
    assert!(SqliteSaver::open_existing(&db, SqliteOptions::new()).is_ok());
}
