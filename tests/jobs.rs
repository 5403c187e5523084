//! The job store contract on every backend (memory, SQLite, the JSON
//! file), the save helpers, and what only the saver and file stores do.

use checkpointer::jobs::{JobStore, JsonFileJobStore, SaverJobStore};
use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver, ListOptions, SqliteSaver};
use serde_json::{Value, json};

// ---- the shared suite (tests/jobs_suite), on each backend ----

mod jobs_suite;

jobs_suite!(memory, ((), SaverJobStore::new(InMemorySaver::new())));
jobs_suite!(sqlite, {
    let dir = tempfile::tempdir().unwrap();
    let saver = SqliteSaver::open(dir.path().join("jobs.db")).unwrap();
    (dir, SaverJobStore::new(saver))
});
jobs_suite!(file, {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonFileJobStore::new(dir.path().join("checkpoints.json"));
    (dir, store)
});

// ---- the saver store ----

#[test]
fn saver_store_keeps_every_save_as_history() {
    let store = SaverJobStore::new(InMemorySaver::new());
    for i in 0..3 {
        store
            .save("index", json!({"files": i}), &format!("{i}/3"))
            .unwrap();
    }
    let history = store
        .saver()
        .list(Some(&Config::thread("index")), &ListOptions::new())
        .unwrap();
    let contexts: Vec<&Value> = history
        .iter()
        .map(|t| &t.checkpoint.channel_values["context"])
        .collect();
    assert_eq!(
        contexts,
        [
            &json!({"files": 2}),
            &json!({"files": 1}),
            &json!({"files": 0})
        ]
    );
    let steps: Vec<i64> = history.iter().map(|t| t.metadata.step).collect();
    assert_eq!(steps, [2, 1, 0]);
}

#[test]
fn saver_store_shares_jobs_between_stores_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SaverJobStore::new(SqliteSaver::open(&path).unwrap());
    let b = SaverJobStore::new(SqliteSaver::open(&path).unwrap());
    a.save("j", json!({"n": 1}), "one").unwrap();
    assert_eq!(b.get("j").unwrap().unwrap().context, json!({"n": 1}));
    assert!(b.clear("j").unwrap());
    assert_eq!(a.get("j").unwrap(), None);
}

#[test]
fn saver_store_names_a_thread_that_is_not_a_job() {
    let saver = InMemorySaver::new();
    let cp = checkpointer::Checkpoint::new(0);
    let meta = checkpointer::CheckpointMetadata::new(checkpointer::CheckpointSource::Input, 0);
    saver
        .put(
            &Config::thread("graph"),
            &cp,
            &meta,
            &checkpointer::ChannelVersions::new(),
        )
        .unwrap();
    let store = SaverJobStore::new(saver);
    let err = store.get("graph").unwrap_err().to_string();
    assert!(
        err.contains("\"graph\"") && err.contains("not a job save"),
        "{err}"
    );
    assert!(
        store.list_ids().unwrap().is_empty(),
        "a graph thread is not listed as a job"
    );
}

// ---- the file store ----

fn file_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("checkpoints.json")
}

#[test]
fn file_store_writes_dcc_mcp_core_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonFileJobStore::new(file_in(&dir));
    store.save("a", json!({"i": 1, "é": "ü"}), "1/2").unwrap();
    let text = std::fs::read_to_string(file_in(&dir)).unwrap();
    let saved_at = store.get("a").unwrap().unwrap().saved_at;
    let expected = format!(
        "{{\n  \"a\": {{\n    \"job_id\": \"a\",\n    \"saved_at\": {saved_at},\n    \"progress_hint\": \"1/2\",\n    \"context\": {{\n      \"i\": 1,\n      \"é\": \"ü\"\n    }}\n  }}\n}}"
    );
    // Keys in a fixed order: serde writes struct fields in declaration order.
    assert_eq!(text, expected);
    store.clear_all().unwrap();
    assert_eq!(std::fs::read_to_string(file_in(&dir)).unwrap(), "{}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn file_store_get_sees_another_stores_save() {
    let dir = tempfile::tempdir().unwrap();
    let a = JsonFileJobStore::new(file_in(&dir));
    let b = JsonFileJobStore::new(file_in(&dir));
    assert_eq!(b.get("x").unwrap(), None);
    a.save("x", json!({"n": 1}), "").unwrap();
    assert_eq!(b.get("x").unwrap().unwrap().context, json!({"n": 1}));
    b.save("y", json!({"n": 2}), "").unwrap();
    assert_eq!(
        a.list_ids().unwrap(),
        ["x", "y"],
        "merging keeps both writers' jobs"
    );
}

#[test]
fn file_store_cleared_job_stays_cleared_when_an_old_copy_is_written_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonFileJobStore::new(file_in(&dir));
    store.save("x", json!({"n": 1}), "").unwrap();
    let stale = std::fs::read_to_string(file_in(&dir)).unwrap();
    assert!(store.clear("x").unwrap());
    // A Python process that still holds `x` in memory writes it back.
    std::fs::write(file_in(&dir), &stale).unwrap();
    assert_eq!(store.get("x").unwrap(), None);
    assert!(store.list_ids().unwrap().is_empty());
    store.save("x", json!({"n": 2}), "").unwrap();
    assert_eq!(store.get("x").unwrap().unwrap().context, json!({"n": 2}));
}

#[test]
fn file_store_merge_keeps_the_newest_saved_at() {
    let dir = tempfile::tempdir().unwrap();
    let future =
        json!({"x": {"job_id": "x", "saved_at": 9.0e12, "progress_hint": "future", "context": {}}});
    std::fs::write(file_in(&dir), future.to_string()).unwrap();
    let store = JsonFileJobStore::new(file_in(&dir));
    store.save("x", json!({"n": 1}), "now").unwrap();
    assert_eq!(store.get("x").unwrap().unwrap().progress_hint, "future");
}

#[test]
fn file_store_reads_an_invalid_file_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(file_in(&dir), "not json").unwrap();
    let store = JsonFileJobStore::new(file_in(&dir));
    assert!(store.list_ids().unwrap().is_empty());
    store.save("a", json!(1), "").unwrap();
    assert_eq!(store.list_ids().unwrap(), ["a"]);
}

#[test]
fn file_store_writes_unlocked_after_the_lock_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("checkpoints.json.lock");
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let store = JsonFileJobStore::new(file_in(&dir))
        .with_lock_timeout(std::time::Duration::from_millis(50));
    store.save("a", json!(1), "").unwrap();
    assert_eq!(store.list_ids().unwrap(), ["a"]);
}
