//! The command line on a PostgreSQL server: `--db postgres://…` (and
//! `CHECKPOINTER_DB`) opens a `PostgresSaver`, so every command works on a
//! server database as on a SQLite file. Without the `postgres` feature the
//! URL is refused with an error that says how to get it.

#![cfg(feature = "cli")]

use assert_cmd::Command;
#[cfg(feature = "postgres")]
use serde_json::Value;

#[cfg(feature = "postgres")]
mod pg_support;

fn checkpointer(db: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::cargo_bin("checkpointer").expect("the checkpointer binary");
    cmd.env_remove("CHECKPOINTER_DB")
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(db)
        .args(args);
    cmd.output().expect("run checkpointer")
}

#[cfg(feature = "postgres")]
fn ok(db: &str, args: &[&str]) -> String {
    let out = checkpointer(db, args);
    assert!(
        out.status.success(),
        "checkpointer {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The demo, then the read commands, then a delete, all on one server
/// schema; and the same thread seen through `CHECKPOINTER_DB`.
#[cfg(feature = "postgres")]
#[test]
fn every_command_works_on_a_postgres_url() {
    let Some(url) = pg_support::server_url("every_command_works_on_a_postgres_url") else {
        return;
    };
    let schema = pg_support::Schema::new(&url);
    let db = schema.url();
    ok(&db, &["demo"]);

    let threads: Value = serde_json::from_str(&ok(&db, &["threads", "--json"])).unwrap();
    let threads = threads.as_array().expect("a list of threads");
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0]["thread_id"], "demo");

    let history: Value = serde_json::from_str(&ok(&db, &["history", "demo", "--json"])).unwrap();
    let rows = history.as_array().expect("a list of checkpoints");
    assert!(
        rows.len() >= 8,
        "the demo saves its steps and a fork: {rows:?}"
    );
    let graph = ok(&db, &["history", "demo", "--graph"]);
    assert_eq!(
        graph.matches("(latest)").count(),
        2,
        "two branches:\n{graph}"
    );
    assert!(ok(&db, &["show", "demo"]).contains("status      finished"));

    let mut env = Command::cargo_bin("checkpointer").unwrap();
    let out = env
        .env("CHECKPOINTER_DB", &db)
        .args(["threads", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via_env: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(via_env[0]["thread_id"], "demo");

    let dry = ok(&db, &["delete", "demo", "--dry-run"]);
    assert!(dry.contains("demo"), "{dry}");
    ok(&db, &["delete", "demo", "--yes"]);
    let left: Value = serde_json::from_str(&ok(&db, &["threads", "--json"])).unwrap();
    assert_eq!(left, Value::Array(Vec::new()));
}

/// A build without the feature says what is missing instead of treating the
/// URL as a file name.
#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_url_without_the_feature_says_so() {
    let out = checkpointer("postgres://127.0.0.1:1/none", &["threads"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without the `postgres` feature"), "{err}");
    assert!(
        !std::path::Path::new("postgres:").exists(),
        "no file was created for the URL"
    );
}
