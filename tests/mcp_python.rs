//! `checkpointer mcp` driven by a real MCP client: the Python `mcp`
//! package (pinned in `.ci/run`) starts our binary over stdio, lists its
//! tools and calls each, found and not found. With `--json-file` the job
//! tools' texts are compared byte for byte with dcc-mcp-core's own
//! handlers on the same file. `CHECKPOINTER_MCP_PYTHON` is a Python with
//! `mcp` and `dcc-mcp-core` (`.ci/run` makes the venv); under `CI=true`
//! the tests fail without it.
#![cfg(all(feature = "mcp", feature = "cli"))]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use checkpointer::jobs::{JobStore, JsonFileJobStore, SaverJobStore};
use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, SqliteSaver,
};
use serde_json::{Value, json};

#[cfg(feature = "postgres")]
mod pg_support;

fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_MCP_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: CI=true but CHECKPOINTER_MCP_PYTHON is unset (.ci/run makes the venv)")
        }
        _ => {
            println!("{test}: skipped, CHECKPOINTER_MCP_PYTHON is unset");
            None
        }
    }
}

/// Runs `tests/interop/mcp_client.py` with `plan` on stdin; its report and
/// the standard error of the client and the server.
fn client(python: &str, plan: &Value) -> (Value, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mcp_client.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python MCP client");
    let mut stdin = child.stdin.take().expect("its stdin");
    stdin.write_all(plan.to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().expect("the client ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the MCP client failed:\n{stderr}");
    assert!(
        stderr.contains("checkpointer mcp: "),
        "the server logs to stderr:\n{stderr}"
    );
    let report =
        serde_json::from_slice(&out.stdout).expect("the client printed its report as JSON");
    (report, stderr.into_owned())
}

fn call(name: &str, arguments: Value) -> Value {
    let mut call = json!({"name": name});
    call["arguments"] = arguments;
    call
}

fn tool_names(report: &Value) -> Vec<&str> {
    report["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect()
}

/// A job and a graph-like thread of two checkpoints, the second with a
/// pending write; the ids of the checkpoints.
fn fill(saver: &Arc<dyn checkpointer::CheckpointAdmin>) -> (String, String) {
    let jobs = SaverJobStore::new(Arc::clone(saver));
    jobs.save("render", json!({"done": 120, "名": "ü"}), "120/200")
        .unwrap();
    let first = Checkpoint::new(0).with_value("messages", json!(["hi"]), 1);
    let meta = CheckpointMetadata::new(CheckpointSource::Input, 0);
    let config = saver
        .put(
            &Config::thread("chat"),
            &first,
            &meta,
            &first.channel_versions,
        )
        .unwrap();
    let second = first
        .successor(1)
        .with_value("messages", json!(["hi", "hello"]), 2);
    let meta = CheckpointMetadata::new(CheckpointSource::Loop, 1);
    let config = saver
        .put(&config, &second, &meta, &second.channel_versions)
        .unwrap();
    saver
        .put_writes(&config, &[("messages".to_owned(), json!("more"))], "t1", "")
        .unwrap();
    (first.id, second.id)
}

/// Every tool over stdio on a database (`--db`), found and not found.
fn every_tool_over_stdio(python: &str, db: &str, saver: &Arc<dyn checkpointer::CheckpointAdmin>) {
    let (first, second) = fill(saver);
    let exe = env!("CARGO_BIN_EXE_checkpointer");
    let calls = vec![
        call("jobs_checkpoint_status", json!({"job_id": "render"})),
        call("jobs_checkpoint_status", json!({"job_id": "nope"})),
        call("jobs_resume_context", json!({"job_id": "render"})),
        call("jobs_resume_context", json!({"job_id": "nope"})),
        call("jobs.checkpoint_status", json!({"job_id": "render"})),
        call("jobs.resume_context", json!({"job_id": "nope"})),
        call("threads_list", Value::Null),
        call("thread_history", json!({"thread_id": "chat"})),
        call("thread_history", json!({"thread_id": "nope"})),
        call("checkpoint_state", json!({"thread_id": "chat"})),
        call(
            "checkpoint_state",
            json!({"thread_id": "chat", "checkpoint_id": first}),
        ),
        call(
            "checkpoint_state",
            json!({"thread_id": "chat", "checkpoint_id": "none"}),
        ),
        call(
            "thread_history",
            json!({"thread_id": "chat", "limit": "ten"}),
        ),
        call("no_such_tool", json!({})),
    ];
    let (report, stderr) = client(
        python,
        &json!({"command": [exe, "--db", db, "mcp"], "calls": calls}),
    );
    assert!(
        stderr.contains("tool call failed") && stderr.contains("no thread \"nope\""),
        "failed calls are logged on stderr:\n{stderr}"
    );
    assert_eq!(
        tool_names(&report),
        [
            "jobs_checkpoint_status",
            "jobs_resume_context",
            "jobs.checkpoint_status",
            "jobs.resume_context",
            "threads_list",
            "thread_history",
            "checkpoint_state"
        ]
    );
    for tool in report["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
    }
    let r = report["calls"].as_array().unwrap();
    let structured = |i: usize| {
        assert_eq!(r[i]["is_error"], false, "call {i}: {}", r[i]);
        let text: Value = serde_json::from_str(r[i]["text"].as_str().unwrap()).unwrap();
        assert_eq!(text, r[i]["structured"], "call {i}: the text is the result");
        text
    };
    let error = |i: usize| {
        assert_eq!(r[i]["is_error"], true, "call {i}: {}", r[i]);
        r[i]["text"].as_str().unwrap().to_owned()
    };
    assert_eq!(structured(0)["message"], "Checkpoint found: 120/200");
    assert_eq!(
        structured(0)["context"]["context"],
        json!({"done": 120, "名": "ü"})
    );
    assert_eq!(
        structured(1)["context"],
        json!({"job_id": "nope", "checkpoint": null})
    );
    assert_eq!(structured(2)["context"]["resume_state"]["done"], 120);
    assert_eq!(structured(3)["context"]["has_checkpoint"], false);
    assert_eq!(structured(4), structured(0), "the dotted alias");
    assert_eq!(structured(5), structured(3), "the dotted alias");
    let threads: Vec<&Value> = r[6]["structured"]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(structured(6)["threads"].as_array().unwrap().len(), 2);
    assert!(threads.iter().any(|t| t["thread_id"] == "render"));
    let history = structured(7);
    assert_eq!(history["checkpoints"][0]["checkpoint_id"], second.as_str());
    assert_eq!(history["checkpoints"][1]["checkpoint_id"], first.as_str());
    assert!(error(8).contains("no thread \"nope\""), "{}", r[8]);
    let latest = structured(9);
    assert_eq!(latest["values"]["messages"], json!(["hi", "hello"]));
    assert_eq!(latest["pending_writes"][0]["value"], "more");
    assert_eq!(structured(10)["values"]["messages"], json!(["hi"]));
    assert!(error(11).contains("no checkpoint \"none\""), "{}", r[11]);
    assert_eq!(
        error(12),
        "thread_history: limit must be a whole number from 1 to 1000, not \"ten\""
    );
    let unknown = r[13]["protocol_error"].as_str().expect("a JSON-RPC error");
    assert!(
        unknown.contains("no tool named \"no_such_tool\""),
        "{unknown}"
    );
}

#[test]
fn every_tool_over_stdio_on_sqlite() {
    let Some(python) = python("every_tool_over_stdio_on_sqlite") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("checkpoints.db");
    let saver: Arc<dyn checkpointer::CheckpointAdmin> = Arc::new(SqliteSaver::open(&db).unwrap());
    every_tool_over_stdio(&python, db.to_str().unwrap(), &saver);
}

#[cfg(feature = "postgres")]
#[test]
fn every_tool_over_stdio_on_postgres() {
    let Some(python) = python("every_tool_over_stdio_on_postgres") else {
        return;
    };
    let Some((saver, schema)) = pg_support::fresh("every_tool_over_stdio_on_postgres") else {
        return;
    };
    let saver: Arc<dyn checkpointer::CheckpointAdmin> = Arc::new(saver);
    every_tool_over_stdio(&python, &schema.url(), &saver);
}

/// With `--json-file`, each job tool's text is exactly what dcc-mcp-core's
/// handler returns on the same file (found, not found, empty hint,
/// non-ASCII state, a missing `job_id`), and only the job tools are listed.
#[test]
fn job_tools_on_a_dcc_file_match_dcc_mcp_core_byte_for_byte() {
    let Some(python) = python("job_tools_match_dcc_mcp_core") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.json");
    let store = JsonFileJobStore::new(&file);
    store
        .save(
            "render",
            json!({"done": 120, "files": ["a.ma", "b.ma"], "名": "ü"}),
            "120/200",
        )
        .unwrap();
    store.save("quiet", json!({}), "").unwrap();
    let exe = env!("CARGO_BIN_EXE_checkpointer");
    let mut calls = Vec::new();
    for tool in [
        "jobs_checkpoint_status",
        "jobs_resume_context",
        "jobs.resume_context",
    ] {
        for job in ["render", "quiet", "missing"] {
            calls.push(call(tool, json!({"job_id": job})));
        }
        calls.push(call(tool, Value::Null));
    }
    let (report, _) = client(
        &python,
        &json!({
            "command": [exe, "mcp", "--json-file", file],
            "calls": calls,
            "dcc_file": file,
        }),
    );
    assert_eq!(
        tool_names(&report),
        [
            "jobs_checkpoint_status",
            "jobs_resume_context",
            "jobs.checkpoint_status",
            "jobs.resume_context"
        ]
    );
    let ours = report["calls"].as_array().unwrap();
    let theirs = report["dcc"].as_array().unwrap();
    assert_eq!(ours.len(), calls.len());
    for ((call, ours), theirs) in calls.iter().zip(ours).zip(theirs) {
        assert_eq!(ours["is_error"], false, "{call}: {ours}");
        assert_eq!(ours["text"], *theirs, "{call}: ours, then dcc-mcp-core's");
    }
    assert_eq!(
        store.list_ids().unwrap(),
        ["quiet", "render"],
        "the tools changed nothing"
    );
}

/// A database that does not exist is an error on stderr, not a server.
#[test]
fn a_missing_database_is_an_error_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let out = Command::new(env!("CARGO_BIN_EXE_checkpointer"))
        .env_remove("CHECKPOINTER_DB")
        .arg("--db")
        .arg(&db)
        .arg("mcp")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout, the protocol's stream"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no checkpoint database at"), "{err}");
    assert!(!db.exists(), "the server does not create a database");
}

/// `--db` and `--json-file` together: the job tools read the file, the
/// thread tools the database.
#[test]
fn a_json_file_for_jobs_and_a_database_for_threads() {
    let Some(python) = python("a_json_file_for_jobs_and_a_database_for_threads") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("checkpoints.db");
    let saver: Arc<dyn checkpointer::CheckpointAdmin> = Arc::new(SqliteSaver::open(&db).unwrap());
    fill(&saver);
    let file = dir.path().join("checkpoints.json");
    JsonFileJobStore::new(&file)
        .save("from-file", json!({"n": 1}), "1/2")
        .unwrap();
    let exe = env!("CARGO_BIN_EXE_checkpointer");
    let calls = [
        call("jobs_checkpoint_status", json!({"job_id": "from-file"})),
        call("jobs_checkpoint_status", json!({"job_id": "render"})),
        call("thread_history", json!({"thread_id": "chat"})),
    ];
    let (report, _) = client(
        &python,
        &json!({"command": [exe, "--db", db, "mcp", "--json-file", file], "calls": calls}),
    );
    assert_eq!(tool_names(&report).len(), 7, "{report}");
    let r = &report["calls"];
    assert_eq!(r[0]["structured"]["message"], "Checkpoint found: 1/2");
    assert_eq!(
        r[1]["structured"]["context"]["checkpoint"],
        Value::Null,
        "the database's job is not in the file"
    );
    assert_eq!(
        r[2]["structured"]["checkpoints"].as_array().map(Vec::len),
        Some(2)
    );
}
