//! Deleted data leaves the disk: after `delete_thread` (and `prune`), the
//! deleted thread's id, metadata, pending writes and values are found
//! neither in the database file nor in its WAL (a long value is stored
//! packed, so its text is not searchable: its pages are cleared by the same
//! `secure_delete` as the short value's, which is searched), while the saver is open
//! and after it closed. With `secure_delete` off they stay (which shows
//! the search finds what is there).

use std::path::Path;

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, PruneStrategy,
    SqliteOptions, SqliteSaver,
};
use serde_json::json;

const MARKER: &str = "ZQXJ-deleted-marker";

/// Whether `MARKER` is in the file or its WAL.
fn on_disk(db: &Path) -> bool {
    let wal = db.with_extension("db-wal");
    [db, wal.as_path()].iter().any(|p| {
        std::fs::read(p)
            .is_ok_and(|bytes| bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()))
    })
}

/// A thread whose id, metadata, short value (stored as text), long value
/// (packed, kept out of line) and pending write all hold the marker, and
/// another thread to keep writing to.
fn fill(saver: &SqliteSaver, thread: &str) {
    let long = MARKER.repeat(400);
    let cp = Checkpoint::new(0)
        .with_value("doc", json!([long]), 1)
        .with_value("short", json!([MARKER]), 1);
    let md = CheckpointMetadata::new(CheckpointSource::Loop, 0).with_extra("tag", MARKER);
    let stored = saver
        .put(&Config::thread(thread), &cp, &md, &cp.channel_versions)
        .unwrap();
    saver
        .put_writes(&stored, &[("note".into(), json!(MARKER))], "task-1", "")
        .unwrap();
    let other = Checkpoint::new(0).with_value("x", json!(1), 1);
    saver
        .put(
            &Config::thread("other"),
            &other,
            &md,
            &other.channel_versions,
        )
        .unwrap();
}

fn more_writes(saver: &SqliteSaver) {
    for i in 0..20 {
        let cp = Checkpoint::new(i).with_value("x", json!(i), 1);
        let md = CheckpointMetadata::new(CheckpointSource::Loop, i);
        saver
            .put(
                &Config::thread(format!("more-{i}")),
                &cp,
                &md,
                &cp.channel_versions,
            )
            .unwrap();
    }
}

#[test]
fn deleted_thread_is_gone_from_file_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("secure.db");
    let saver = SqliteSaver::open(&db).unwrap();
    let thread = format!("user-{MARKER}");
    fill(&saver, &thread);
    assert!(on_disk(&db), "the marker was never written");
    saver.delete_thread(&thread).unwrap();
    // The metadata of "other" holds the marker too: delete it as well.
    saver
        .prune(&["other".into()], PruneStrategy::Delete)
        .unwrap();
    assert!(
        !on_disk(&db),
        "the deleted data is still on disk after the delete returned"
    );
    more_writes(&saver);
    drop(saver);
    assert!(!on_disk(&db), "the deleted data is on disk after close");
}

#[test]
fn without_secure_delete_the_bytes_stay_until_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.db");
    let options = SqliteOptions::new().with_secure_delete(false);
    assert!(SqliteOptions::new().secure_delete(), "on by default");
    let saver = SqliteSaver::open_with(&db, options).unwrap();
    let thread = format!("user-{MARKER}");
    fill(&saver, &thread);
    saver.delete_thread(&thread).unwrap();
    saver
        .prune(&["other".into()], PruneStrategy::Delete)
        .unwrap();
    drop(saver);
    assert!(
        on_disk(&db),
        "without secure_delete the freed pages keep the bytes"
    );
}

#[test]
fn pruned_checkpoints_are_gone_from_file_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pruned.db");
    let saver = SqliteSaver::open(&db).unwrap();
    let old = Checkpoint::new(0).with_value("doc", json!(MARKER.repeat(400)), 1);
    let md = CheckpointMetadata::new(CheckpointSource::Loop, 0).with_extra("tag", MARKER);
    let first = saver
        .put(&Config::thread("t"), &old, &md, &old.channel_versions)
        .unwrap();
    let new = Checkpoint::new(1).with_value("doc", json!("clean"), 2);
    let md = CheckpointMetadata::new(CheckpointSource::Loop, 1);
    saver.put(&first, &new, &md, &new.channel_versions).unwrap();
    assert!(on_disk(&db), "the marker was never written");
    let removed = saver
        .prune_older_than(&["t".into()], std::time::SystemTime::now())
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!on_disk(&db), "the pruned checkpoint is still on disk");
}
