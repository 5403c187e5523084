//! `checkpointer jobs ...` on a real SQLite file (`--db`), a real
//! dcc-mcp-core JSON file (`--json-file`) and, with the `postgres`
//! feature, a PostgreSQL server (`--db postgres://…`, see `pg_support`).
#![cfg(feature = "cli")]

#[cfg(feature = "postgres")]
mod pg_support;

use assert_cmd::Command;
use checkpointer::jobs::{JobStore, JsonFileJobStore};
use serde_json::{Value, json};

/// `checkpointer ARGV...`, with no database from the environment.
fn checkpointer(argv: &[&str]) -> std::process::Output {
    Command::cargo_bin("checkpointer")
        .unwrap()
        .env_remove("CHECKPOINTER_DB")
        .args(argv)
        .output()
        .unwrap()
}

/// `checkpointer jobs PLACE... ARGS...`.
fn run(place: &[&str], args: &[&str]) -> std::process::Output {
    let argv: Vec<&str> = ["jobs"].iter().chain(place).chain(args).copied().collect();
    checkpointer(&argv)
}

/// The standard output of a command that must succeed.
fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(place: &[&str], args: &[&str]) -> String {
    stdout_of(&run(place, args))
}

fn json_of(place: &[&str], args: &[&str]) -> Value {
    serde_json::from_str(&ok(place, args)).unwrap()
}

/// The same session on one backend: save, list, get, clear (asking
/// first), clear-all.
fn session(place: &[&str]) {
    ok(
        place,
        &[
            "save",
            "render",
            "--state",
            r#"{"done": 3}"#,
            "--hint",
            "3/200",
        ],
    );
    ok(
        place,
        &[
            "save",
            "render",
            "--state",
            r#"{"done": 7}"#,
            "--hint",
            "7/200",
        ],
    );
    ok(place, &["save", "index", "--state", "{}"]);
    let list = json_of(place, &["list", "--json"]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["index", "render"]);
    let entry = json_of(place, &["get", "render", "--json"]);
    assert_eq!(
        (entry["context"].clone(), entry["progress_hint"].clone()),
        (json!({"done": 7}), json!("7/200"))
    );
    assert!(ok(place, &["get", "render"]).contains("7/200"));
    assert!(ok(place, &["list"]).contains("\"render\""));

    let refused = run(place, &["clear", "render"]);
    assert!(
        !refused.status.success(),
        "clear without --yes off a terminal is refused"
    );
    assert!(ok(place, &["clear", "render", "--dry-run"]).contains("render"));
    assert_eq!(
        json_of(place, &["get", "render", "--json"])["progress_hint"],
        "7/200"
    );
    ok(place, &["clear", "render", "--yes"]);
    let missing = run(place, &["get", "render"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success() && err.contains("job \"render\" not found"),
        "{err}"
    );
    ok(place, &["clear-all", "--yes"]);
    assert_eq!(json_of(place, &["list", "--json"]), json!([]));

    let bad = run(place, &["save", "x", "--state", "{nope"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--state is not JSON"));
}

#[test]
fn jobs_commands_on_a_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let db = db.to_str().unwrap();
    session(&["--db", db]);
}

#[test]
fn jobs_commands_on_a_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.json");
    session(&["--json-file", file.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{}",
        "clear-all leaves dcc-mcp-core's empty file"
    );
}

/// Three saves of one job in the database `db` are three checkpoints in
/// `checkpointer history`.
fn history_shows_three_saves(db: &str) {
    for i in 1..=3 {
        ok(
            &["--db", db],
            &["save", "bake", "--state", &format!("{{\"frame\": {i}}}")],
        );
    }
    let out = checkpointer(&["--db", db, "history", "bake", "--json"]);
    let history: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(history.as_array().map(Vec::len), Some(3), "{history}");
}

#[test]
fn history_shows_every_save_of_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    history_shows_three_saves(db.to_str().unwrap());
}

#[cfg(feature = "postgres")]
#[test]
fn jobs_commands_on_a_postgres_url() {
    let Some(url) = pg_support::server_url("jobs_commands_on_a_postgres_url") else {
        return;
    };
    let schema = pg_support::Schema::new(&url);
    let db = schema.url();
    session(&["--db", &db]);
    history_shows_three_saves(&db);
}

#[test]
fn the_cli_and_a_library_store_share_one_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.json");
    let store = JsonFileJobStore::new(&file);
    store
        .save("lib", json!({"n": 1}), "from the library")
        .unwrap();
    let place = ["--json-file", file.to_str().unwrap()];
    let entry = json_of(&place, &["get", "lib", "--json"]);
    assert_eq!(entry["progress_hint"], "from the library");
    ok(
        &place,
        &["save", "cli", "--state", "[1]", "--hint", "from the CLI"],
    );
    assert_eq!(store.get("cli").unwrap().unwrap().context, json!([1]));
}
