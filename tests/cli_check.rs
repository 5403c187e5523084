//! `checkpointer check` and the quick check at open: a sound file passes
//! (exit 0); a broken delta chain, a write that does not decode, a write
//! whose checkpoint is missing (foreign key) and damaged pages are each
//! reported (exit 1, with the thread and checkpoint or the table), and the
//! check changes nothing. `SqliteOptions::with_quick_check` refuses a file
//! with damaged pages at open.
// They run the `checkpointer` binary, which needs the `cli` feature.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointAdmin, CheckpointMetadata, CheckpointSource, Config,
    Error, SqliteOptions, SqliteSaver,
};
use serde_json::json;

/// A thread whose `messages` grow by appends (stored as a delta chain),
/// with a pending write on its latest checkpoint, and many more threads
/// (so the file has many pages).
fn sound_db(dir: &Path) -> PathBuf {
    let db = dir.join("check.db");
    let saver = SqliteSaver::open(&db).unwrap();
    let mut config = Config::thread("t1");
    let mut messages = Vec::new();
    for step in 0..6 {
        messages.push(json!(format!("message {step}")));
        let cp =
            Checkpoint::new(step).with_value("messages", json!(messages), 1 + step.unsigned_abs());
        let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
        config = saver.put(&config, &cp, &md, &cp.channel_versions).unwrap();
    }
    saver
        .put_writes(
            &config,
            &[("messages".into(), json!("pending"))],
            "task-1",
            "",
        )
        .unwrap();
    for i in 0..300 {
        let cp = Checkpoint::new(0).with_value("x", json!("filler ".repeat(20)), 1);
        let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);
        saver
            .put(
                &Config::thread(format!("filler-{i}")),
                &cp,
                &md,
                &cp.channel_versions,
            )
            .unwrap();
    }
    assert!(
        saver.check().unwrap().is_ok(),
        "a sound file fails the check"
    );
    drop(saver);
    db
}

fn run_check(db: &Path) -> (Option<i32>, String) {
    let out = Command::cargo_bin("checkpointer")
        .unwrap()
        .env_remove("CHECKPOINTER_DB")
        .arg("--db")
        .arg(db)
        .arg("check")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Changes the file behind the saver's back, with foreign keys off.
fn tamper(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
        .unwrap();
}

#[test]
fn a_sound_file_passes() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    let (code, text) = run_check(&db);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok: 306 checkpoints read back"), "{text}");
}

#[test]
fn a_broken_delta_chain_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    tamper(
        &db,
        "DELETE FROM channel_values WHERE thread_id = 't1' AND channel = 'messages' \
         AND base IS NULL;",
    );
    let (code, text) = run_check(&db);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("t1") && text.contains("problem"), "{text}");
}

#[test]
fn a_write_that_does_not_decode_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    tamper(
        &db,
        "UPDATE writes SET value = '{not json' WHERE thread_id = 't1';",
    );
    let (code, text) = run_check(&db);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("t1"), "{text}");
}

#[test]
fn a_write_of_a_missing_checkpoint_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    tamper(
        &db,
        "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, \
         task_path, value) VALUES ('ghost', '', 'no-such-checkpoint', 'task', 0, 'ch', '', '1');",
    );
    let before = std::fs::read(&db).unwrap();
    let (code, text) = run_check(&db);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("foreign_key_check") && text.contains("writes"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "check changed the file"
    );
}

#[test]
fn damaged_pages_are_reported_and_refused_by_the_quick_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    // Garbage over the middle of the file (whole pages, past the header).
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    let middle = (bytes.len() / page / 2) * page;
    for b in &mut bytes[middle..middle + 2 * page] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let (code, text) = run_check(&db);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let quick = SqliteOptions::new().with_quick_check(true);
    match SqliteSaver::open_with(&db, quick) {
        Err(Error::CheckFailed { problems, .. }) => assert!(!problems.is_empty()),
        Err(other) => panic!("expected CheckFailed, got {other:?}"),
        Ok(_) => panic!("the quick check passed a damaged file"),
    }
}
