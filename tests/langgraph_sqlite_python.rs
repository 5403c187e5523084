//! Interop with Python's `langgraph-checkpoint-sqlite` 3.1.2 through its
//! files: a real LangGraph graph (a loop, then an interrupt inside a
//! subgraph) writes a file; we import it and our `list` gives what
//! Python's `list` gives (values, versions, metadata, parents, pending
//! writes, namespaces); we export it back and Python reads the same and
//! resumes the thread from our file; and a thread our graph runtime wrote
//! (`checkpointer demo`), exported with the CLI, reads in Python as ours
//! does. Needs a Python with LangGraph (`CHECKPOINTER_PYTHON`, made by
//! `.ci/run`); without it the tests skip with a printed line, and fail
//! under `CI=true`.

#![cfg(all(feature = "langgraph-sqlite", feature = "cli"))]

mod python_support;

use std::ffi::OsStr;
use std::path::Path;

use checkpointer::saver::langgraph_sqlite::{LangGraphSqliteFile, export_threads, import_file};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, SqliteSaver};
use python_support::{python, run_script};
use serde_json::{Value, json};

/// Runs `tests/interop/lg_sqlite.py FILE MODE THREAD [ARG]`; its JSON.
fn run_python(python: &str, file: &Path, mode: &str, thread: &str, arg: Option<&str>) -> Value {
    let mut args = vec![file.as_os_str(), OsStr::new(mode), OsStr::new(thread)];
    args.extend(arg.map(OsStr::new));
    run_script(python, "lg_sqlite.py", args)
}

/// A listing in one order on both sides: entries by (namespace, id),
/// writes by their JSON text.
fn normalized(listing: Value) -> Value {
    let Value::Array(mut entries) = listing else {
        panic!("a listing is an array: {listing}");
    };
    for e in &mut entries {
        if let Some(Value::Array(writes)) = e.get_mut("writes") {
            writes.sort_by_key(|w| serde_json::to_string(w).unwrap_or_default());
        }
    }
    entries.sort_by_key(|e| (e["ns"].to_string(), e["id"].to_string()));
    Value::Array(entries)
}

/// Our listing of `thread` in the script's JSON form.
fn ours(saver: &dyn BaseCheckpointSaver, thread: &str) -> Value {
    let tuples = saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .expect("list");
    let items: Vec<Value> = tuples
        .iter()
        .map(|t| {
            let writes: Vec<Value> = t
                .pending_writes
                .iter()
                .map(|w| json!([w.task_id, w.channel, w.value]))
                .collect();
            let versions: serde_json::Map<String, Value> = t
                .checkpoint
                .channel_versions
                .iter()
                .map(|(ch, v)| (ch.clone(), json!(v.counter())))
                .collect();
            json!({
                "ns": t.config.ns(),
                "id": t.config.checkpoint_id,
                "parent": t.parent_config.as_ref().and_then(|p| p.checkpoint_id.clone()),
                "values": t.checkpoint.channel_values,
                "versions": versions,
                "metadata": t.metadata,
                "writes": writes,
            })
        })
        .collect();
    normalized(Value::Array(items))
}

#[test]
fn a_python_thread_imports_exports_and_resumes_from_our_file() {
    let Some(python) = python("python_thread_round_trip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let theirs_file = dir.path().join("python.sqlite");
    let first = run_python(&python, &theirs_file, "run", "py", None);
    assert!(
        first.get("__interrupt__").is_some(),
        "stopped at the interrupt: {first}"
    );
    let theirs = normalized(run_python(&python, &theirs_file, "read", "py", None));
    assert!(
        theirs
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["ns"] != "")),
        "the subgraph has checkpoints of its own: {theirs}"
    );

    let saver = SqliteSaver::open(dir.path().join("ours.db")).unwrap();
    let file = LangGraphSqliteFile::open(&theirs_file).unwrap();
    let done = import_file(&saver, &file, &mut |_| {}).unwrap();
    assert_eq!(done.checkpoints, theirs.as_array().map_or(0, Vec::len));
    assert_eq!(ours(&saver, "py"), theirs, "our list is Python's list");

    let back = dir.path().join("back.sqlite");
    let mut out = LangGraphSqliteFile::create(&back).unwrap();
    export_threads(&saver, &["py".to_owned()], &mut out, &mut |_| {}).unwrap();
    drop(out);
    let reread = normalized(run_python(&python, &back, "read", "py", None));
    assert_eq!(
        reread, theirs,
        "Python reads our export as it read its own file"
    );

    // Python resumes the thread from our file as from its own.
    let resumed = run_python(&python, &back, "resume", "py", Some("yes"));
    let expected = run_python(&python, &theirs_file, "resume", "py", Some("yes"));
    assert_eq!(resumed, expected);
    let log = resumed["log"].as_array().cloned().unwrap_or_default();
    assert_eq!(log.last(), Some(&json!("answer yes")), "{resumed}");
    assert!(
        resumed.get("__interrupt__").is_none(),
        "it finished: {resumed}"
    );
}

#[test]
fn a_thread_our_runtime_wrote_reads_in_python_as_ours() {
    let Some(python) = python("our_thread_in_python") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let file = dir.path().join("demo.sqlite");
    let tool = || {
        let mut cmd = assert_cmd::Command::cargo_bin("checkpointer").unwrap();
        cmd.env_remove("CHECKPOINTER_DB").arg("--db").arg(&db);
        cmd
    };
    tool().arg("demo").assert().success();
    tool()
        .args(["export-langgraph", "demo", "--out"])
        .arg(&file)
        .assert()
        .success();
    let saver = SqliteSaver::open(&db).unwrap();
    let expected = ours(&saver, "demo");
    assert!(
        expected.as_array().is_some_and(|a| a.len() > 3),
        "{expected}"
    );
    let theirs = normalized(run_python(&python, &file, "read", "demo", None));
    assert_eq!(theirs, expected);
}
