//! The event log against the real purpose-agent 3.0.1 checkpointers
//! (`JSONLCheckpointer`, `SQLiteCheckpointer`), through
//! `tests/interop/purpose_agent_events.py`: Python writes and we read the
//! same events and state; we write and Python's `list_events`,
//! `load_latest` and `list_runs` agree; both append to one run.
//! `CHECKPOINTER_PURPOSE_PYTHON` is a Python with `purpose-agent` (`.ci/run`
//! makes the venv); under `CI=true` the tests fail without it.
#![cfg(all(feature = "events", feature = "sqlite"))]

use std::path::Path;
use std::process::Command;

use checkpointer::events::{
    Event, EventKind, EventLog, JsonlEventLog, NodeState, RunState, RunStatus, SqliteEventLog,
};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/purpose_agent_events.py"
);

fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_PURPOSE_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{test}: CI=true but CHECKPOINTER_PURPOSE_PYTHON is unset (.ci/run makes the venv)"
        ),
        _ => {
            println!("{test}: skipped, CHECKPOINTER_PURPOSE_PYTHON is unset");
            None
        }
    }
}

/// Runs the script with `args` and parses what it prints.
fn script(python: &str, args: &[&str]) -> Value {
    let out = Command::new(python)
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

fn open(kind: &str, path: &Path) -> Box<dyn EventLog> {
    match kind {
        "jsonl" => Box::new(JsonlEventLog::open(path).expect("open the JSONL log")),
        _ => Box::new(SqliteEventLog::open(path).expect("open the SQLite log")),
    }
}

fn place(kind: &str, dir: &Path) -> std::path::PathBuf {
    if kind == "jsonl" {
        dir.join("runs")
    } else {
        dir.join("pa.db")
    }
}

fn we_read_what_python_wrote(kind: &str) {
    let Some(python) = python(&format!("we_read_{kind}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = place(kind, dir.path());
    let written = script(&python, &["write", kind, path.to_str().unwrap(), "run-py"]);
    let log = open(kind, &path);
    let events = log.list_events("run-py", 0).unwrap();
    assert_eq!(events.len(), 27, "every one of the 27 kinds");
    let mut theirs = written["events"].as_array().unwrap().clone();
    theirs.sort_by_key(|e| e["seq"].as_u64());
    assert_eq!(serde_json::to_value(&events).unwrap(), Value::Array(theirs));
    let state = log
        .load_latest("run-py")
        .unwrap()
        .expect("Python's snapshot");
    assert_eq!(serde_json::to_value(&state).unwrap(), written["state"]);
    assert_eq!(state.status, RunStatus::Paused);
    assert_eq!(state.node_states["tools"].error.as_deref(), Some("timeout"));
    assert_eq!(log.list_runs().unwrap(), ["run-py"]);
    let since: Vec<u64> = log
        .list_events("run-py", 20)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(since, (21..=27).collect::<Vec<_>>());
}

fn our_run(run: &str) -> (Vec<Event>, RunState) {
    let events: Vec<Event> = (1..=9)
        .map(|seq| {
            Event::new(run, EventKind::ALL[usize::try_from(seq).unwrap() * 2])
                .with_seq(seq)
                .with_lane(if seq % 4 == 0 { "side" } else { "main" })
                .with_session("sess-rs")
                .with_payload(json!({"seq": seq, "text": "中文 ü 😀", "deep": {"x": [1.25, null]}}))
        })
        .collect();
    let mut state = RunState::new(run);
    state.status = RunStatus::Running;
    state.current_step = 3;
    state.data.insert("k".into(), json!({"v": [1, "二"]}));
    state.completed_nodes = vec!["plan".into()];
    state.node_states.insert(
        "plan".into(),
        NodeState {
            node_id: "plan".into(),
            status: "completed".into(),
            attempts: 1,
            idempotency_key: "k1".into(),
            ..NodeState::default()
        },
    );
    state.action_history = (0..12).map(|i| json!({"step": i})).collect();
    (events, state)
}

fn python_reads_what_we_wrote(kind: &str) {
    let Some(python) = python(&format!("python_reads_{kind}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = place(kind, dir.path());
    let log = open(kind, &path);
    let (events, state) = our_run("run-rs");
    for event in &events {
        log.save_event(event).unwrap();
    }
    log.save_snapshot("other-run", &RunState::new("other-run"))
        .unwrap();
    log.save_snapshot("run-rs", &state).unwrap();
    let theirs = script(
        &python,
        &["read", kind, path.to_str().unwrap(), "run-rs", "5"],
    );
    assert_eq!(
        theirs["all"],
        serde_json::to_value(log.list_events("run-rs", 0).unwrap()).unwrap()
    );
    assert_eq!(
        theirs["since"],
        serde_json::to_value(log.list_events("run-rs", 5).unwrap()).unwrap()
    );
    assert_eq!(theirs["state"], serde_json::to_value(&state).unwrap());
    if kind == "sqlite" {
        assert_eq!(theirs["runs"], json!(log.list_runs().unwrap()));
        assert_eq!(theirs["runs"], json!(["run-rs", "other-run"]));
    }
}

fn both_append_to_one_run(kind: &str) {
    let Some(python) = python(&format!("both_append_{kind}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = place(kind, dir.path());
    let log = open(kind, &path);
    let p = path.to_str().unwrap();
    log.save_event(&Event::new("mixed", EventKind::RunStarted).with_seq(1))
        .unwrap();
    script(&python, &["append", kind, p, "mixed", "2"]);
    log.save_event(&Event::new("mixed", EventKind::RunFinished).with_seq(3))
        .unwrap();
    // The number Python used is taken for us too.
    let err = log.save_event(&Event::new("mixed", EventKind::ToolResult).with_seq(2));
    assert!(err.is_err(), "seq 2 was written by Python: {err:?}");
    let seqs: Vec<(u64, String)> = log
        .list_events("mixed", 0)
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.seq,
                e.payload
                    .get("from")
                    .and_then(Value::as_str)
                    .unwrap_or("rust")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seqs,
        [(1, "rust".into()), (2, "python".into()), (3, "rust".into())]
    );
    let theirs = script(&python, &["read", kind, p, "mixed", "0"]);
    assert_eq!(
        theirs["all"],
        serde_json::to_value(log.list_events("mixed", 0).unwrap()).unwrap()
    );
}

#[test]
fn we_read_python_jsonl() {
    we_read_what_python_wrote("jsonl");
}

#[test]
fn we_read_python_sqlite() {
    we_read_what_python_wrote("sqlite");
}

#[test]
fn python_reads_our_jsonl() {
    python_reads_what_we_wrote("jsonl");
}

#[test]
fn python_reads_our_sqlite() {
    python_reads_what_we_wrote("sqlite");
}

#[test]
fn both_append_jsonl() {
    both_append_to_one_run("jsonl");
}

#[test]
fn both_append_sqlite() {
    both_append_to_one_run("sqlite");
}
