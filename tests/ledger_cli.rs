//! `checkpointer ledger ...` on real file and SQLite ledgers, read back
//! through the library; the URL from `--url`, `MOONCAT_CHECKPOINT_URL` or
//! the default directory.
#![cfg(all(feature = "cli", feature = "ledger"))]

use std::path::Path;

use assert_cmd::Command;
use checkpointer::ledger::{StepLedger, StepStatus, open_ledger};
use serde_json::{Value, json};

/// `checkpointer ledger ARGV...` in `cwd`, with `env_url` as
/// `MOONCAT_CHECKPOINT_URL` (or none).
fn ledger_in(cwd: &Path, env_url: Option<&str>, argv: &[&str]) -> std::process::Output {
    let mut command = Command::cargo_bin("checkpointer").expect("the binary");
    command
        .current_dir(cwd)
        .env_remove("MOONCAT_CHECKPOINT_URL")
        .arg("ledger")
        .args(argv);
    if let Some(url) = env_url {
        command.env("MOONCAT_CHECKPOINT_URL", url);
    }
    command.output().expect("run checkpointer")
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "the command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout_of(out)).expect("JSON output")
}

fn stderr_of_failure(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `checkpointer ledger --url URL ARGV...` in `cwd`.
fn on(url: &str, cwd: &Path, argv: &[&str]) -> std::process::Output {
    let mut all = vec!["--url", url];
    all.extend_from_slice(argv);
    ledger_in(cwd, None, &all)
}

/// claim, touch, done, get, list, fail, reset and gc through the CLI on
/// one URL.
fn lifecycle(url: &str, cwd: &Path) {
    claim_to_done(url, cwd);
    fail_list_reset_gc(url, cwd);
}

fn claim_to_done(url: &str, cwd: &Path) {
    let run = |argv: &[&str]| on(url, cwd, argv);
    let claimed = json_of(&run(&[
        "claim",
        "vision",
        "img-1",
        "--owner",
        "run-7",
        "--lease-ms",
        "60000",
        "--json",
    ]));
    assert_eq!(claimed["kind"], "claimed");
    assert_eq!(claimed["checkpoint"]["ownerRunId"], "run-7");
    assert_eq!(claimed["checkpoint"]["attempts"], 1);
    let token = claimed["leaseToken"].as_str().expect("a token").to_owned();
    assert_eq!(claimed["checkpoint"]["leaseToken"], token.as_str());
    let busy = json_of(&run(&["claim", "vision", "img-1", "--json"]));
    assert_eq!(
        (busy["kind"].as_str(), &busy["leaseToken"]),
        (Some("busy"), &Value::Null)
    );

    let touched = json_of(&run(&[
        "touch",
        "vision",
        "img-1",
        "--token",
        &token,
        "--extend-ms",
        "90000",
        "--json",
    ]));
    assert_eq!(touched["status"], "claimed");
    let err = stderr_of_failure(&run(&["touch", "vision", "img-1", "--token", "wrong"]));
    assert!(
        err.contains("vision/img-1") && err.contains("lease lost"),
        "{err}"
    );

    let err = stderr_of_failure(&run(&[
        "done", "vision", "img-1", "--token", "wrong", "--result", "1",
    ]));
    assert!(err.contains("lease lost: vision/img-1"), "{err}");
    let done = json_of(&run(&[
        "done",
        "vision",
        "img-1",
        "--token",
        &token,
        "--result",
        r#"{"labels":["猫"]}"#,
        "--json",
    ]));
    assert_eq!(done["status"], "done");
    assert_eq!(done["result"], json!({"labels": ["猫"]}));

    let got = json_of(&run(&["get", "vision", "img-1", "--json"]));
    let keys: Vec<&String> = got.as_object().expect("an object").keys().collect();
    assert_eq!(keys.len(), 12, "mooncat's 12 keys: {keys:?}");
    assert_eq!(got, done);
    let text = stdout_of(&run(&["get", "vision", "img-1"]));
    assert!(
        text.contains("done") && text.contains("run-7") && text.contains("猫"),
        "{text}"
    );
}

fn fail_list_reset_gc(url: &str, cwd: &Path) {
    let run = |argv: &[&str]| on(url, cwd, argv);
    let second = json_of(&run(&["claim", "vision", "img-2", "--json"]));
    let t2 = second["leaseToken"].as_str().expect("token").to_owned();
    let failed = json_of(&run(&[
        "fail", "vision", "img-2", "--token", &t2, "--error", "timeout", "--json",
    ]));
    assert_eq!(
        (failed["status"].as_str(), failed["error"].as_str()),
        (Some("failed"), Some("timeout"))
    );

    let done_only = json_of(&run(&["list", "vision", "--status", "done", "--json"]));
    assert_eq!(done_only.as_array().map(Vec::len), Some(1));
    assert_eq!(done_only[0]["key"], "img-1");
    let all = stdout_of(&run(&["list", "vision"]));
    assert!(
        all.contains("img-1") && all.contains("img-2") && all.contains("failed"),
        "{all}"
    );

    assert_eq!(
        json_of(&run(&["reset", "vision", "img-2", "--json"])),
        json!({"reset": true})
    );
    assert_eq!(
        json_of(&run(&["reset", "vision", "img-2", "--json"])),
        json!({"reset": false})
    );
    json_of(&run(&[
        "claim",
        "vision",
        "lapsed",
        "--lease-ms",
        "0",
        "--json",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(json_of(&run(&["gc", "--json"])), json!({"removed": 1}));
    let err = stderr_of_failure(&run(&["get", "vision", "lapsed"]));
    assert!(err.contains("vision/lapsed"), "{err}");
    let err = stderr_of_failure(&run(&["list", "bad/ns"]));
    assert!(err.contains("bad/ns"), "{err}");
}

#[test]
fn ledger_commands_on_a_file_ledger() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("steps");
    lifecycle(&format!("file://{}", root.display()), dir.path());
    let ledger = open_ledger(Some(&format!("file://{}", root.display()))).expect("open");
    let record = ledger
        .get("vision", "img-1")
        .expect("get")
        .expect("the CLI's record");
    assert_eq!(
        (record.status, record.result),
        (StepStatus::Done, json!({"labels": ["猫"]}))
    );
}

#[test]
fn ledger_commands_on_a_sqlite_ledger() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("steps.db").display());
    lifecycle(&url, dir.path());
    let ledger = open_ledger(Some(&url)).expect("open");
    assert_eq!(
        ledger
            .list("vision", Some(StepStatus::Done))
            .expect("list")
            .len(),
        1
    );
}

#[test]
fn ledger_url_from_the_environment_then_the_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("env.db");
    let env_url = format!("sqlite://{}", db.display());
    let out = json_of(&ledger_in(
        dir.path(),
        Some(&env_url),
        &["claim", "ns", "k", "--json"],
    ));
    assert_eq!(out["kind"], "claimed");
    assert!(db.is_file(), "MOONCAT_CHECKPOINT_URL chose the SQLite file");
    let got = json_of(&ledger_in(
        dir.path(),
        Some(&env_url),
        &["get", "ns", "k", "--json"],
    ));
    assert_eq!(got["status"], "claimed");
    // --url wins over the variable: memory:// has no record.
    let err = stderr_of_failure(&ledger_in(
        dir.path(),
        Some(&env_url),
        &["--url", "memory://", "get", "ns", "k"],
    ));
    assert!(err.contains("ns/k") && err.contains("memory://"), "{err}");
    // Neither: file://./.mooncat/checkpoints under the working directory.
    let out = json_of(&ledger_in(
        dir.path(),
        None,
        &["claim", "ns", "k", "--json"],
    ));
    assert_eq!(out["kind"], "claimed");
    assert!(
        dir.path().join(".mooncat/checkpoints/ns/k.json").is_file(),
        "the default directory"
    );
    let err = stderr_of_failure(&ledger_in(
        dir.path(),
        None,
        &["--url", "redis://x", "list", "ns"],
    ));
    assert!(err.contains("redis://x"), "{err}");
}
