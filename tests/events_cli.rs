//! `checkpointer events list | runs | snapshot` on a real JSONL directory
//! and a real SQLite file, in tables and as JSON.
#![cfg(feature = "cli")]

use assert_cmd::Command;
use checkpointer::events::{
    Event, EventKind, EventLog, JsonlEventLog, RunState, RunStatus, SqliteEventLog,
};
use serde_json::{Value, json};

fn checkpointer(argv: &[&str]) -> std::process::Output {
    Command::cargo_bin("checkpointer")
        .unwrap()
        .env_remove("CHECKPOINTER_DB")
        .env_remove("CHECKPOINTER_EVENTS_URL")
        .args(argv)
        .output()
        .unwrap()
}

fn ok(argv: &[&str]) -> String {
    let out = checkpointer(argv);
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(argv: &[&str]) -> Value {
    serde_json::from_str(&ok(argv)).unwrap()
}

fn fill(log: &dyn EventLog) {
    for (seq, kind) in [
        (1, EventKind::RunStarted),
        (2, EventKind::ToolStarted),
        (3, EventKind::ToolResult),
    ] {
        log.save_event(
            &Event::new("run-1", kind)
                .with_seq(seq)
                .with_payload(json!({"n": seq})),
        )
        .unwrap();
    }
    let mut state = RunState::new("run-1");
    state.status = RunStatus::Paused;
    state.purpose = "render the files".into();
    log.save_snapshot("run-1", &state).unwrap();
    log.save_snapshot("run-2", &RunState::new("run-2")).unwrap();
}

fn check_commands(url: &str, log: &dyn EventLog) {
    let events = json_of(&["events", "--url", url, "list", "run-1", "--json"]);
    assert_eq!(
        events,
        serde_json::to_value(log.list_events("run-1", 0).unwrap()).unwrap()
    );
    let since = json_of(&[
        "events", "list", "run-1", "--since", "1", "--json", "--url", url,
    ]);
    assert_eq!(
        since
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 3]
    );
    let table = ok(&["events", "--url", url, "list", "run-1"]);
    assert!(table.starts_with("SEQ"), "{table}");
    assert!(
        table.contains("tool.result") && table.contains("{\"n\":3}"),
        "{table}"
    );
    assert_eq!(
        json_of(&["events", "--url", url, "runs", "--json"]),
        json!(["run-2", "run-1"])
    );
    assert_eq!(
        ok(&["events", "--url", url, "runs"]),
        "\"run-2\"\n\"run-1\"\n"
    );
    let snap = json_of(&["events", "--url", url, "snapshot", "run-1", "--json"]);
    assert_eq!(
        snap,
        serde_json::to_value(log.load_latest("run-1").unwrap().unwrap()).unwrap()
    );
    let text = ok(&["events", "--url", url, "snapshot", "run-1"]);
    assert!(
        text.contains("status    paused") && text.contains("render the files"),
        "{text}"
    );
    let missing = checkpointer(&["events", "--url", url, "snapshot", "nope"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("nope") && err.contains("no snapshot"), "{err}");
    assert!(ok(&["events", "--url", url, "list", "nope"]).starts_with("no events of run \"nope\""));
}

#[test]
fn events_commands_on_a_jsonl_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log = JsonlEventLog::open(dir.path()).unwrap();
    fill(&log);
    check_commands(&format!("jsonl://{}", dir.path().display()), &log);
}

#[test]
fn events_commands_on_a_sqlite_file_default_to_the_db() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    let log = SqliteEventLog::open(&path).unwrap();
    fill(&log);
    check_commands(&format!("sqlite://{}", path.display()), &log);
    // Without --url: the events tables of the --db file.
    let db = path.to_str().unwrap();
    assert_eq!(
        json_of(&["--db", db, "events", "runs", "--json"]),
        json!(["run-2", "run-1"])
    );
}

#[test]
fn events_refuses_a_missing_log_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let url = format!("sqlite://{}", missing.display());
    let out = checkpointer(&["events", "--url", &url, "runs"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event log at"));
    assert!(!missing.exists());
    let out = checkpointer(&["events", "--url", "ftp://x", "runs"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme"));
}
