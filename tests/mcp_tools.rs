//! The MCP tool functions, without a transport: the job tools' exact
//! results (dcc-mcp-core's envelopes, found and not found, under both
//! names) on the saver and file job stores, and the thread tools on a
//! real SQLite file, with their errors for bad input.
#![cfg(feature = "mcp")]

use std::sync::Arc;

use checkpointer::jobs::{JobStore, JsonFileJobStore, SaverJobStore};
use checkpointer::mcp::{
    McpServer, ToolError, checkpoint_state, jobs_checkpoint_status, jobs_resume_context,
    thread_history, threads_list,
};
use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointAdmin, CheckpointMetadata, CheckpointSource, Config,
    SqliteSaver,
};
use serde_json::{Map, Value, json};

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

fn sqlite(dir: &tempfile::TempDir) -> Arc<SqliteSaver> {
    Arc::new(SqliteSaver::open(dir.path().join("checkpoints.db")).unwrap())
}

/// The `saved_at` of `job` as JSON text, for the expected texts.
fn saved_at(store: &dyn JobStore, job: &str) -> String {
    serde_json::to_string(&store.get(job).unwrap().unwrap().saved_at).unwrap()
}

fn job_envelopes_are_dcc_mcp_cores(store: &dyn JobStore) {
    let render = args(json!({"job_id": "render"}));
    let status = jobs_checkpoint_status(store, Some(&render)).unwrap();
    assert_eq!(
        status.text,
        r#"{"success":true,"message":"No checkpoint for job 'render'.","context":{"job_id":"render","checkpoint":null}}"#
    );
    let resume = jobs_resume_context(store, Some(&render)).unwrap();
    assert_eq!(
        resume.text,
        r#"{"success":true,"message":"No checkpoint for 'render' — job will start from the beginning.","context":{"job_id":"render","has_checkpoint":false,"resume_state":null}}"#
    );

    store
        .save("render", json!({"done": 120, "files": ["a.ma"]}), "120/200")
        .unwrap();
    let t = saved_at(store, "render");
    let status = jobs_checkpoint_status(store, Some(&render)).unwrap();
    assert_eq!(
        status.text,
        format!(
            r#"{{"success":true,"message":"Checkpoint found: 120/200","context":{{"job_id":"render","saved_at":{t},"progress_hint":"120/200","context":{{"done":120,"files":["a.ma"]}}}}}}"#
        )
    );
    let resume = jobs_resume_context(store, Some(&render)).unwrap();
    assert_eq!(
        resume.text,
        format!(
            r#"{{"success":true,"message":"Checkpoint found at 120/200. Pass resume_state to the skill's initial parameters.","context":{{"job_id":"render","has_checkpoint":true,"resume_state":{{"done":120,"files":["a.ma"]}},"saved_at":{t},"progress_hint":"120/200"}}}}"#
        )
    );
    assert_eq!(
        resume.value,
        serde_json::from_str::<Value>(&resume.text).unwrap()
    );

    // An empty hint, as dcc-mcp-core: "found at . Pass".
    store.save("quiet", json!(null), "").unwrap();
    let quiet = args(json!({"job_id": "quiet"}));
    let resume = jobs_resume_context(store, Some(&quiet)).unwrap();
    assert_eq!(
        resume.value["message"],
        "Checkpoint found at . Pass resume_state to the skill's initial parameters."
    );
    assert_eq!(resume.value["context"]["resume_state"], Value::Null);
}

#[test]
fn job_envelopes_on_a_saver_store() {
    let dir = tempfile::tempdir().unwrap();
    job_envelopes_are_dcc_mcp_cores(&SaverJobStore::new(sqlite(&dir)));
}

#[test]
fn job_envelopes_on_a_json_file_store() {
    let dir = tempfile::tempdir().unwrap();
    job_envelopes_are_dcc_mcp_cores(&JsonFileJobStore::new(dir.path().join("checkpoints.json")));
}

#[test]
fn job_tools_take_a_missing_job_id_as_empty_and_refuse_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let store = SaverJobStore::new(sqlite(&dir));
    // dcc-mcp-core: a missing job_id is "", which has no checkpoint.
    let none = jobs_checkpoint_status(&store, None).unwrap();
    assert_eq!(
        none.value,
        json!({"success": true, "message": "No checkpoint for job ''.",
            "context": {"job_id": "", "checkpoint": null}})
    );
    let empty = jobs_resume_context(&store, Some(&args(json!({"job_id": ""})))).unwrap();
    assert_eq!(empty.value["context"]["has_checkpoint"], false);

    let number = jobs_checkpoint_status(&store, Some(&args(json!({"job_id": 7})))).unwrap_err();
    assert!(
        matches!(number, ToolError::BadArguments { .. }),
        "{number:?}"
    );
    assert_eq!(
        number.to_string(),
        "jobs_checkpoint_status: job_id must be a string, not 7"
    );
    let extra =
        jobs_resume_context(&store, Some(&args(json!({"job_id": "a", "jobid": "b"})))).unwrap_err();
    assert_eq!(
        extra.to_string(),
        "jobs_resume_context: unknown argument \"jobid\" (it takes job_id)"
    );
}

#[test]
fn the_dotted_names_are_aliases_and_an_unknown_tool_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Arc::new(SaverJobStore::new(sqlite(&dir)));
    jobs.save("index", json!({"next": 40}), "40/100").unwrap();
    let server = McpServer::new(jobs);
    let job = args(json!({"job_id": "index"}));
    for (name, alias) in [
        ("jobs_checkpoint_status", "jobs.checkpoint_status"),
        ("jobs_resume_context", "jobs.resume_context"),
    ] {
        let a = server.call(name, Some(&job)).unwrap();
        let b = server.call(alias, Some(&job)).unwrap();
        assert_eq!(a, b, "{alias} answers as {name}");
    }
    let names: Vec<&str> = server.tools().iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "jobs_checkpoint_status",
            "jobs_resume_context",
            "jobs.checkpoint_status",
            "jobs.resume_context"
        ],
        "no thread tools without a checkpoint store"
    );
    let unknown = server.call("threads_list", None).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "no tool named \"threads_list\" (tools/list shows the tools this server has)"
    );
}

/// Thread `t` with three root checkpoints (the newest with a pending
/// write) and one in namespace `sub`; thread `u` with one.
fn three_checkpoints(saver: &SqliteSaver) -> Vec<String> {
    let mut ids = Vec::new();
    let mut config = Config::thread("t");
    let mut checkpoint = Checkpoint::new(0).with_value("n", json!(0), 1);
    for (step, version) in [(0_i64, 1_u64), (1, 2), (2, 3)] {
        if step > 0 {
            checkpoint = checkpoint
                .successor(step)
                .with_value("n", json!(step), version);
        }
        let metadata = CheckpointMetadata::new(CheckpointSource::Loop, step);
        config = saver
            .put(
                &config,
                &checkpoint,
                &metadata,
                &checkpoint.channel_versions,
            )
            .unwrap();
        ids.push(checkpoint.id.clone());
    }
    saver
        .put_writes(&config, &[("n".to_owned(), json!(99))], "task-1", "")
        .unwrap();
    let sub = Checkpoint::new(0).with_value("inner", json!("x"), 1);
    let meta = CheckpointMetadata::new(CheckpointSource::Loop, 0);
    saver
        .put(
            &Config::thread("t").with_ns("sub"),
            &sub,
            &meta,
            &sub.channel_versions,
        )
        .unwrap();
    let u = Checkpoint::new(0);
    saver
        .put(&Config::thread("u"), &u, &meta, &u.channel_versions)
        .unwrap();
    ids
}

#[test]
fn threads_list_gives_every_thread_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let saver = sqlite(&dir);
    three_checkpoints(&saver);
    let all = threads_list(&*saver, None).unwrap();
    let threads = all.value["threads"].as_array().unwrap();
    let ids: Vec<&str> = threads
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["u", "t"]);
    assert_eq!(threads[1]["checkpoints"], 4);
    assert_eq!(threads[1]["namespaces"], 2);
    let one = threads_list(&*saver, Some(&args(json!({"limit": 1})))).unwrap();
    assert_eq!(one.value["threads"].as_array().unwrap().len(), 1);
    for bad in [json!(0), json!(-1), json!(1.5), json!("2"), json!(1001)] {
        let e = threads_list(&*saver, Some(&args(json!({"limit": bad.clone()})))).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("threads_list: limit must be a whole number from 1 to 1000, not {bad}")
        );
    }
}

#[test]
fn thread_history_pages_back_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let saver = sqlite(&dir);
    let ids = three_checkpoints(&saver);
    let root = args(json!({"thread_id": "t", "checkpoint_ns": ""}));
    let all = thread_history(&*saver, Some(&root)).unwrap();
    let rows = all.value["checkpoints"].as_array().unwrap();
    let got: Vec<&str> = rows
        .iter()
        .map(|r| r["checkpoint_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [&*ids[2], &*ids[1], &*ids[0]]);
    assert_eq!(rows[0]["parent_checkpoint_id"], ids[1].as_str());
    assert_eq!(rows[0]["step"], 2);
    assert_eq!(rows[0]["source"], "loop");
    assert_eq!(all.value["more"], false);

    let page = args(json!({"thread_id": "t", "checkpoint_ns": "", "before": ids[2], "limit": 1}));
    let page = thread_history(&*saver, Some(&page)).unwrap();
    assert_eq!(
        page.value["checkpoints"][0]["checkpoint_id"],
        ids[1].as_str()
    );
    assert_eq!(page.value["checkpoints"].as_array().unwrap().len(), 1);
    assert_eq!(page.value["more"], true);

    let every_ns = thread_history(&*saver, Some(&args(json!({"thread_id": "t"})))).unwrap();
    assert_eq!(every_ns.value["checkpoints"].as_array().unwrap().len(), 4);
}

#[test]
fn thread_history_names_what_it_cannot_find() {
    let dir = tempfile::tempdir().unwrap();
    let saver = sqlite(&dir);
    three_checkpoints(&saver);
    let e = thread_history(&*saver, Some(&args(json!({"thread_id": "nope"})))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "thread_history: no thread \"nope\" in the store (threads_list shows the threads)"
    );
    let e = thread_history(
        &*saver,
        Some(&args(json!({"thread_id": "t", "before": "zzz"}))),
    )
    .unwrap_err();
    assert!(matches!(e, ToolError::UnknownCheckpoint { .. }), "{e:?}");
    assert!(e.to_string().contains("\"zzz\""), "{e}");
    let e = thread_history(&*saver, None).unwrap_err();
    assert_eq!(e.to_string(), "thread_history: thread_id is required");
    let e = thread_history(&*saver, Some(&args(json!({"thread_id": ""})))).unwrap_err();
    assert_eq!(e.to_string(), "thread_history: thread_id must not be empty");
}

#[test]
fn checkpoint_state_shows_values_metadata_and_pending_writes() {
    let dir = tempfile::tempdir().unwrap();
    let saver = sqlite(&dir);
    let ids = three_checkpoints(&saver);
    let latest = checkpoint_state(&*saver, Some(&args(json!({"thread_id": "t"})))).unwrap();
    let v = &latest.value;
    assert_eq!(v["checkpoint_id"], ids[2].as_str());
    assert_eq!(v["parent_checkpoint_id"], ids[1].as_str());
    assert_eq!(v["values"], json!({"n": 2}));
    assert_eq!(v["metadata"]["step"], 2);
    assert_eq!(v["pending_writes"][0]["task_id"], "task-1");
    assert_eq!(v["pending_writes"][0]["value"], 99);

    let first = args(json!({"thread_id": "t", "checkpoint_id": ids[0]}));
    let first = checkpoint_state(&*saver, Some(&first)).unwrap();
    assert_eq!(first.value["values"], json!({"n": 0}));
    assert_eq!(first.value["parent_checkpoint_id"], Value::Null);

    let sub = args(json!({"thread_id": "t", "checkpoint_ns": "sub"}));
    let sub = checkpoint_state(&*saver, Some(&sub)).unwrap();
    assert_eq!(sub.value["values"], json!({"inner": "x"}));
    assert_eq!(sub.value["checkpoint_ns"], "sub");
}

#[test]
fn checkpoint_state_names_what_it_cannot_find() {
    let dir = tempfile::tempdir().unwrap();
    let saver = sqlite(&dir);
    three_checkpoints(&saver);
    let e = checkpoint_state(&*saver, Some(&args(json!({"thread_id": "gone"})))).unwrap_err();
    assert!(matches!(e, ToolError::UnknownThread { .. }), "{e:?}");
    let missing = args(json!({"thread_id": "t", "checkpoint_id": "1f0-none"}));
    let e = checkpoint_state(&*saver, Some(&missing)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "checkpoint_state: thread \"t\" has no checkpoint \"1f0-none\" in namespace \"\" \
         (thread_history shows its checkpoints)"
    );
    let e =
        checkpoint_state(&*saver, Some(&args(json!({"thread_id": "t", "ns": "sub"})))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "checkpoint_state: unknown argument \"ns\" (it takes thread_id, checkpoint_id, checkpoint_ns)"
    );
}

#[test]
fn a_server_with_a_checkpoint_store_has_the_thread_tools() {
    let dir = tempfile::tempdir().unwrap();
    let saver = sqlite(&dir);
    three_checkpoints(&saver);
    let admin: Arc<dyn CheckpointAdmin> = saver.clone();
    let server =
        McpServer::new(Arc::new(SaverJobStore::new(Arc::clone(&admin)))).with_threads(admin);
    let names: Vec<&str> = server.tools().iter().map(|t| t.name).collect();
    assert_eq!(
        names[4..],
        ["threads_list", "thread_history", "checkpoint_state"]
    );
    for tool in server.tools() {
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
        assert_eq!(
            tool.input_schema["additionalProperties"], false,
            "{}",
            tool.name
        );
    }
    let listed = server.call("threads_list", None).unwrap();
    assert_eq!(listed.value["threads"].as_array().unwrap().len(), 2);
}
