//! What the file backends of the event log keep on disk: purpose-agent's
//! JSONL layout (hashed unsafe run ids, torn lines, corrupt lines) and its
//! SQLite tables (WAL, the unique number index).
#![cfg(all(feature = "events", feature = "sqlite"))]

use std::fs;

use checkpointer::events::{
    Event, EventError, EventKind, EventLog, JsonlEventLog, RunState, SqliteEventLog, run_dir_name,
};
use serde_json::json;

#[test]
fn jsonl_layout_is_purpose_agents() {
    let dir = tempfile::tempdir().unwrap();
    let log = JsonlEventLog::open(dir.path()).unwrap();
    let event = Event::new("run-1", EventKind::ModelResponse)
        .with_seq(1)
        .with_ts(1.5)
        .with_payload(json!({"text": "中"}));
    log.save_event(&event).unwrap();
    log.save_snapshot("run-1", &RunState::new("run-1")).unwrap();
    let line = fs::read_to_string(dir.path().join("run-1/events.jsonl")).unwrap();
    let span = &event.span_id;
    assert_eq!(
        line,
        format!(
            "{{\"run_id\": \"run-1\", \"session_id\": \"\", \"lane_id\": \"main\", \"span_id\": \"{span}\", \
             \"parent_span_id\": null, \"seq\": 1, \"ts\": 1.5, \"kind\": \"model.response\", \
             \"visibility\": \"public\", \"payload\": {{\"text\": \"\\u4e2d\"}}}}\n"
        )
    );
    let snapshot = fs::read_to_string(dir.path().join("run-1/snapshot.json")).unwrap();
    assert!(
        snapshot.starts_with("{\n  \"run_id\": \"run-1\",\n  \"session_id\": \"\",\n"),
        "{snapshot}"
    );
}

#[test]
fn unsafe_run_ids_are_hashed_never_paths() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("runs");
    let log = JsonlEventLog::open(&base).unwrap();
    let id = "../outside";
    log.save_event(&Event::new(id, EventKind::RunStarted))
        .unwrap();
    log.save_snapshot(id, &RunState::new(id)).unwrap();
    // Nothing outside the base, one hashed directory inside it.
    let outside: Vec<_> = fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, ["runs"]);
    let hashed = base.join(run_dir_name(id));
    assert!(run_dir_name(id).starts_with("sha256-"));
    assert_eq!(fs::read_to_string(hashed.join("run_id")).unwrap(), id);
    assert_eq!(log.list_runs().unwrap(), [id]);
    log.delete_run(id).unwrap();
    assert!(!hashed.exists());
}

#[test]
fn jsonl_skips_a_torn_line_and_appends_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = JsonlEventLog::open(dir.path()).unwrap();
    log.save_event(&Event::new("r", EventKind::RunStarted).with_seq(1))
        .unwrap();
    let path = dir.path().join("r/events.jsonl");
    // A crash in the middle of an append.
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("{\"run_id\": \"r\", \"seq\": 2, \"ki");
    fs::write(&path, &text).unwrap();
    assert_eq!(log.list_events("r", 0).unwrap().len(), 1);
    log.save_event(&Event::new("r", EventKind::RunFinished).with_seq(2))
        .unwrap();
    let seqs: Vec<u64> = log
        .list_events("r", 0)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 2]);
    // A fresh log (another process) sees the same.
    let again = JsonlEventLog::open(dir.path()).unwrap();
    assert_eq!(again.list_events("r", 0).unwrap().len(), 2);
    let err = again
        .save_event(&Event::new("r", EventKind::RunFinished).with_seq(2))
        .unwrap_err();
    assert!(
        matches!(err, EventError::DuplicateSeq { seq: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn jsonl_names_file_and_line_of_an_unknown_kind() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("r")).unwrap();
    fs::write(
        dir.path().join("r/events.jsonl"),
        "{\"run_id\": \"r\", \"seq\": 1, \"kind\": \"run.started\"}\n\n{\"run_id\": \"r\", \"seq\": 2, \"kind\": \"run.exploded\"}\n",
    )
    .unwrap();
    let log = JsonlEventLog::open(dir.path()).unwrap();
    let err = log.list_events("r", 0).unwrap_err().to_string();
    assert!(
        err.contains("events.jsonl line 3") && err.contains("run.exploded"),
        "{err}"
    );
}

#[test]
fn jsonl_reads_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = JsonlEventLog::open(dir.path()).unwrap();
    assert_eq!(log.load_latest("x").unwrap(), None);
    assert!(log.list_events("x", 0).unwrap().is_empty());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn jsonl_corrupt_snapshot_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = JsonlEventLog::open(dir.path()).unwrap();
    log.save_snapshot("r", &RunState::new("r")).unwrap();
    fs::write(dir.path().join("r/snapshot.json"), "{\"run_id\": ").unwrap();
    let err = log.load_latest("r").unwrap_err().to_string();
    assert!(
        err.contains("snapshot.json") && err.contains("\"r\""),
        "{err}"
    );
}

#[test]
fn sqlite_is_wal_with_unique_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.db");
    let log = SqliteEventLog::open(&path).unwrap();
    log.save_event(&Event::new("r", EventKind::RunStarted))
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Another writer (Python, say) cannot repeat a number either.
    let err = conn
        .execute(
            "INSERT INTO events (run_id, seq, ts, kind, lane_id, data) VALUES ('r', 1, 0, 'run.started', 'main', '{}')",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("UNIQUE"), "{err}");
}

#[test]
fn sqlite_refuses_a_file_whose_numbers_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("python.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    // purpose-agent's own schema, with no unique index: duplicates happen.
    conn.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, seq INTEGER NOT NULL,
             ts REAL NOT NULL, kind TEXT NOT NULL, lane_id TEXT DEFAULT 'main', data TEXT NOT NULL,
             created_at REAL DEFAULT (strftime('%s','now')));
         INSERT INTO events (run_id, seq, ts, kind, data) VALUES ('run-9', 4, 0, 'run.started', '{}');
         INSERT INTO events (run_id, seq, ts, kind, data) VALUES ('run-9', 4, 0, 'run.started', '{}');",
    )
    .unwrap();
    drop(conn);
    let err = SqliteEventLog::open(&path).unwrap_err().to_string();
    assert!(err.contains("run-9") && err.contains("seq 4"), "{err}");
}
