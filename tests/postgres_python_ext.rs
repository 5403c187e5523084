//! Python's objects in LangGraph's msgpack, on one PostgreSQL database:
//! a `Send`, an `Interrupt`, `LangChain` messages and a class this crate
//! does not know, written by Python, read here in the documented JSON
//! forms (see `PostgresSaver`), copied to another thread with `put` and
//! `put_writes`, and rebuilt by Python's `get_tuple` as equal objects.
//! Needs `CHECKPOINTER_PG_URL` and `CHECKPOINTER_PYTHON`; skips without
//! them, and fails under `CI=true`.
#![cfg(feature = "postgres")]

mod pg_support;
mod python_support;

use std::collections::BTreeMap;

use checkpointer::{BaseCheckpointSaver, Config, PostgresSaver};
use pg_support::Schema;
use python_support::{python, run_script};
use serde_json::{Value, json};

const NULL_TASK: &str = "00000000-0000-0000-0000-000000000000";

/// Runs `pg_ext_interop.py` in `mode` on `thread`: its JSON.
fn run_python(python: &str, schema: &Schema, mode: &str, thread: &str) -> Value {
    run_script(
        python,
        "pg_ext_interop.py",
        [schema.url().as_str(), mode, thread],
    )
}

/// Checks the forms Python's objects read as.
fn check_read_forms(values: &BTreeMap<String, Value>, writes: &BTreeMap<(String, String), Value>) {
    assert_eq!(
        values["__pregel_tasks"],
        json!([{"node": "work", "arg": {"item": 1}}])
    );
    let ai = &values["messages"][0];
    assert_eq!(ai["__ext__"]["code"], 5);
    assert_eq!(ai["__ext__"]["module"], "langchain_core.messages.ai");
    assert_eq!(ai["__ext__"]["class"], "AIMessage");
    assert_eq!(ai["__ext__"]["data"]["content"], "hi");
    assert!(ai["__msgpack__"].is_string(), "{ai}");
    assert_eq!(values["messages"][1]["__ext__"]["class"], "HumanMessage");
    let point = &values["point"]["__ext__"];
    assert_eq!(
        (&point["module"], &point["class"]),
        (&json!("__main__"), &json!("Point"))
    );
    assert_eq!(point["data"], json!({"x": 1, "y": 2}));
    let write =
        |task: &str, channel: &str| writes.get(&(task.to_owned(), channel.to_owned())).cloned();
    assert_eq!(
        write("task-1", "__interrupt__"),
        Some(json!([{"value": {"q": "approve?"}, "id": "int-1"}]))
    );
    assert_eq!(write("task-1", "__resume__"), Some(json!(["yes"])));
    assert_eq!(write(NULL_TASK, "__resume__"), Some(json!("yes")));
    assert_eq!(
        write("task-2", "__pregel_tasks"),
        Some(json!({"node": "work", "arg": {"item": 2}}))
    );
}

/// The blobs of `thread`'s channel `channel`, for a byte comparison.
fn blob(schema: &Schema, thread: &str, channel: &str) -> Vec<u8> {
    schema
        .client()
        .query_one(
            "SELECT blob FROM checkpoint_blobs WHERE thread_id = $1 AND channel = $2",
            &[&thread, &channel],
        )
        .expect("the blob")
        .get(0)
}

/// Copies the latest checkpoint of `from` and its writes to `to`, plus a
/// message and a Send made here, from a thread of its own.
fn copy_thread(saver: &PostgresSaver, from: &str, to: &str) {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let tuple = saver
                    .get_tuple(&Config::thread(from))
                    .expect("get_tuple")
                    .expect("Python's checkpoint");
                let mut checkpoint = tuple.checkpoint.clone();
                let made_here = json!({"__ext__": {"code": 5,
                    "module": "langchain_core.messages.ai", "class": "AIMessage",
                    "data": {"content": "from rust"}, "method": "model_validate_json"}});
                checkpoint
                    .channel_values
                    .insert("rust_message".to_owned(), made_here);
                let version = saver.get_next_version(None);
                checkpoint
                    .channel_versions
                    .insert("rust_message".to_owned(), version);
                let all = checkpoint.channel_versions.clone();
                let stored = saver
                    .put(&Config::thread(to), &checkpoint, &tuple.metadata, &all)
                    .expect("put the copy");
                let mut by_task: BTreeMap<&str, Vec<(String, Value)>> = BTreeMap::new();
                for w in &tuple.pending_writes {
                    by_task
                        .entry(&w.task_id)
                        .or_default()
                        .push((w.channel.clone(), w.value.clone()));
                }
                by_task.insert(
                    "task-3",
                    vec![(
                        "__pregel_tasks".to_owned(),
                        json!({"node": "work", "arg": {"item": 3}}),
                    )],
                );
                for (task, writes) in by_task {
                    saver
                        .put_writes(&stored, &writes, task, "")
                        .expect("put_writes");
                }
            })
            .join()
            .expect("the copying thread");
    });
}

#[test]
fn python_objects_read_as_documented_and_write_back_as_python_objects() {
    let (Some(python), Some((saver, schema))) =
        (python("python_ext"), pg_support::fresh("python_ext"))
    else {
        return;
    };
    assert_eq!(run_python(&python, &schema, "write", "py"), json!([]));
    let tuple = saver
        .get_tuple(&Config::thread("py"))
        .expect("get_tuple")
        .expect("Python's checkpoint");
    let writes = tuple
        .pending_writes
        .iter()
        .map(|w| ((w.task_id.clone(), w.channel.clone()), w.value.clone()))
        .collect();
    check_read_forms(&tuple.checkpoint.channel_values, &writes);

    copy_thread(&saver, "py", "rs");
    assert_eq!(run_python(&python, &schema, "check", "rs"), json!([]));
    // What this crate did not change is written back byte for byte.
    for channel in ["messages", "point"] {
        assert_eq!(
            blob(&schema, "rs", channel),
            blob(&schema, "py", channel),
            "{channel}"
        );
    }
}
