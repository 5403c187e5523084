//! Interop with Python's `langgraph-checkpoint-postgres` on one database:
//! Python's `list`/`get_tuple` on checkpoints this crate wrote, and ours
//! on checkpoints Python wrote, give the same values, metadata, parents
//! and pending writes. Needs `CHECKPOINTER_PG_URL` and a Python with the
//! LangGraph packages (`CHECKPOINTER_PYTHON`, made by `.ci/run`); without
//! them the tests skip with a printed line, and fail under `CI=true`.
#![cfg(feature = "postgres")]

mod pg_support;
mod python_support;

use checkpointer::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
};
use pg_support::Schema;
use python_support::{python, run_script, tuples};
use serde_json::{Value, json};

/// Runs `pg_interop.py` in `mode` on `thread`: its JSON.
fn run_python(python: &str, schema: &Schema, mode: &str, thread: &str) -> Value {
    run_script(
        python,
        "pg_interop.py",
        [schema.url().as_str(), mode, thread],
    )
}

#[test]
fn python_reads_what_this_crate_wrote() {
    let (Some(python), Some((saver, schema))) =
        (python("python_reads"), pg_support::fresh("python_reads"))
    else {
        return;
    };
    let thread = "rust-written";
    let config = Config::thread(thread);
    let md = CheckpointMetadata::new(CheckpointSource::Input, -1).with_extra("user", "rust");
    let cp = Checkpoint::new(-1)
        .with_value("count", 1, 1)
        .with_value("topic", "t\u{0}nul", 1)
        .with_value("items", json!([1, {"a": [true, null, 2.5]}]), 1);
    let all: ChannelVersions = cp.channel_versions.clone();
    let first = saver.put(&config, &cp, &md, &all).expect("put");
    saver
        .put_writes(
            &first,
            &[
                ("items".into(), json!([2])),
                ("__interrupt__".into(), json!({"value": "ask"})),
            ],
            "task-1",
            "~__pregel_pull, node",
        )
        .expect("put_writes");
    let mut next = cp.successor(0);
    let v2 = saver.get_next_version(next.channel_versions.get("count"));
    next = next.with_value("count", 2, v2);
    let changed: ChannelVersions = [("count".to_owned(), v2)].into();
    let md2 = CheckpointMetadata::new(CheckpointSource::Loop, 0);
    saver
        .put(&first, &next, &md2, &changed)
        .expect("second put");

    let theirs = run_python(&python, &schema, "read", thread);
    assert_eq!(theirs, tuples(&saver, thread));
    assert_eq!(theirs.as_array().map(Vec::len), Some(2), "{theirs}");
}

#[test]
fn this_crate_reads_what_python_wrote() {
    let (Some(python), Some((saver, schema))) =
        (python("python_writes"), pg_support::fresh("python_writes"))
    else {
        return;
    };
    let thread = "python-written";
    let theirs = run_python(&python, &schema, "write", thread);
    assert_eq!(tuples(&saver, thread), theirs);
    let latest = saver
        .get_tuple(&Config::thread(thread))
        .expect("get_tuple")
        .expect("Python's latest checkpoint");
    assert_eq!(latest.checkpoint.channel_values["count"], json!(2));
    assert_eq!(
        latest.checkpoint.channel_values["items"],
        json!([1, {"a": "b"}])
    );
    assert_eq!(latest.metadata.extra.get("user"), Some(&json!("py")));
}

#[test]
fn a_database_python_set_up_opens_as_it_is() {
    let (Some(python), Some(url)) = (
        python("python_setup"),
        pg_support::server_url("python_setup"),
    ) else {
        return;
    };
    let schema = Schema::new(&url);
    assert_eq!(run_python(&python, &schema, "setup", "none"), json!([]));
    let saver = checkpointer::PostgresSaver::open(&schema.url()).expect("open Python's tables");
    let cp = Checkpoint::new(-1).with_value("k", json!([1]), 1);
    let md = CheckpointMetadata::new(CheckpointSource::Input, -1);
    saver
        .put(&Config::thread("t"), &cp, &md, &ChannelVersions::new())
        .expect("put");
    let versions: Vec<i32> = schema
        .client()
        .query("SELECT v FROM checkpoint_migrations ORDER BY v", &[])
        .expect("migrations")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (0..10).collect::<Vec<_>>());
    let theirs = run_python(&python, &schema, "read", "t");
    assert_eq!(theirs, tuples(&saver, "t"));
}
