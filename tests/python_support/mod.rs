//! The Python of CI's LangGraph venv (`CHECKPOINTER_PYTHON`, made by
//! `.ci/postgres`) and the interop scripts under `tests/interop/` it runs,
//! shared by the tests that use the real Python packages as clients.
#![allow(dead_code)] // each test binary uses what it needs

use std::ffi::OsStr;
use std::process::Command;

use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use serde_json::{Value, json};

/// The Python interpreter with LangGraph, or `None` to skip (printed);
/// under `CI=true` a missing one fails the test.
pub fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: CI=true but CHECKPOINTER_PYTHON is unset (.ci/run makes the venv)")
        }
        _ => {
            eprintln!("{test}: skipped, CHECKPOINTER_PYTHON is unset");
            None
        }
    }
}

/// Runs `tests/interop/<script>` with `args`: what it printed, as JSON.
/// A failed run fails the test with the script's stderr.
pub fn run_script<I, S>(python: &str, script: &str, args: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let path = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let args: Vec<S> = args.into_iter().collect();
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = Command::new(python)
        .arg(&path)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("run {python} {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {} failed: {}",
        shown.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON from {script} {}: {e}", shown.join(" ")))
}

/// Our `list` and `get_tuple` of every checkpoint of every namespace of
/// `thread` (both must give the same pending writes), in the form of
/// `tests/interop/lg_readings.py`'s `tuples`: ns, id, parent, values,
/// metadata and the writes `[task, channel, value]` sorted by their JSON;
/// sorted by namespace, then id.
pub fn tuples(saver: &dyn BaseCheckpointSaver, thread: &str) -> Value {
    let listed = saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .expect("list");
    let mut items: Vec<Value> = listed
        .iter()
        .map(|listed| {
            let t = saver
                .get_tuple(&listed.config)
                .expect("get_tuple")
                .expect("a listed checkpoint");
            assert_eq!(t.pending_writes, listed.pending_writes);
            let mut writes: Vec<Value> = t
                .pending_writes
                .iter()
                .map(|w| json!([w.task_id, w.channel, w.value]))
                .collect();
            // Python's json.dumps spacing, so both sides sort alike.
            writes.sort_by_key(|w| {
                serde_json::to_string(w)
                    .unwrap_or_default()
                    .replace(',', ", ")
                    .replace(':', ": ")
            });
            json!({
                "ns": t.config.ns(),
                "id": t.config.checkpoint_id,
                "parent": t.parent_config.as_ref().and_then(|p| p.checkpoint_id.clone()),
                "values": t.checkpoint.channel_values,
                "metadata": t.metadata,
                "writes": writes,
            })
        })
        .collect();
    items.sort_by(|x, y| {
        (x["ns"].as_str(), x["id"].as_str()).cmp(&(y["ns"].as_str(), y["id"].as_str()))
    });
    Value::Array(items)
}
