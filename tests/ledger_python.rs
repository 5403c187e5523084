//! The step ledger against the real mooncat-checkpoint 0.1.0 (Python),
//! on one SQLite file and one file directory: each side finishes steps
//! the other sees, both race for the same 500 keys, and the storage keys
//! match. `CHECKPOINTER_MOONCAT_PYTHON` is a Python with
//! `mooncat-checkpoint==0.1.0` (`.ci/run` makes the venv); under `CI=true`
//! the tests fail without it.
#![cfg(all(feature = "ledger", feature = "sqlite"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use checkpointer::ledger::{
    Claim, ClaimOptions, LedgerError, StepLedger, StepStatus, open_ledger, storage_key,
};
use serde_json::{Value, json};

mod mooncat_support;

use mooncat_support::{HELPER, python};

/// Set in the Rust race worker (this test binary, run again).
const WORKER_URL: &str = "CHECKPOINTER_LEDGER_RACE_URL";
const RACE_KEYS: usize = 500;

/// `mooncat_ledger.py URL ARGS...`: what it printed.
fn py(python: &str, url: &str, args: &[&str]) -> Value {
    let out = Command::new(python)
        .arg(HELPER)
        .arg(url)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// One SQLite file and one directory, as URLs.
fn stores(dir: &Path) -> [String; 2] {
    [
        format!("sqlite://{}", dir.join("steps.db").display()),
        format!("file://{}", dir.join("steps").display()),
    ]
}

fn rust_claim(ledger: &dyn StepLedger, ns: &str, key: &str, owner: &str) -> String {
    match ledger
        .claim(ns, key, &ClaimOptions::new().with_owner(owner))
        .expect("claim")
    {
        Claim::Claimed { token, .. } => token,
        other => panic!("rust claim of {ns}/{key}: expected claimed, got {other:?}"),
    }
}

#[test]
fn python_finishes_rust_sees_done_with_the_same_result() {
    let Some(python) = python("python_finishes") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    for url in stores(dir.path()) {
        let key = "https://example.com/x?a=1 中文";
        let claimed = py(&python, &url, &["claim", "vision", key, "py-run", ""]);
        assert_eq!(claimed["kind"], "claimed", "{url}");
        let token = claimed["leaseToken"].as_str().expect("token");
        let result = r#"{"labels": ["猫", 1], "score": 0.25, "nested": {"a": null}}"#;
        let theirs = py(
            &python,
            &url,
            &["done", "vision", key, token, result, "s3://b/o"],
        );
        let ledger = open_ledger(Some(&url)).expect("open");
        let ours = ledger
            .get("vision", key)
            .expect("get")
            .expect("python's record");
        assert_eq!(ours.status, StepStatus::Done, "{url}");
        assert_eq!(
            ours.result,
            serde_json::from_str::<Value>(result).expect("json"),
            "{url}"
        );
        assert_eq!(ours.owner_run_id.as_deref(), Some("py-run"));
        assert_eq!(
            serde_json::to_value(&ours).expect("json"),
            theirs,
            "{url}: the whole record, as Python wrote it"
        );
        let again = ledger
            .claim("vision", key, &ClaimOptions::new())
            .expect("claim");
        assert_eq!(
            again,
            Claim::Done(ours),
            "{url}: a Rust claim of Python's done step"
        );
        // A done step without a result (SQLite: the TEXT 'null').
        let c = py(&python, &url, &["claim", "vision", "bare", "", ""]);
        py(
            &python,
            &url,
            &[
                "done",
                "vision",
                "bare",
                c["leaseToken"].as_str().expect("t"),
                "null",
                "",
            ],
        );
        let bare = ledger.get("vision", "bare").expect("get").expect("record");
        assert_eq!((bare.status, bare.result), (StepStatus::Done, Value::Null));
    }
}

#[test]
fn rust_finishes_python_sees_failed_and_done() {
    let Some(python) = python("rust_finishes") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    for url in stores(dir.path()) {
        let ledger = open_ledger(Some(&url)).expect("open");
        let token = rust_claim(&*ledger, "jobs", "broken", "rust-run");
        let failed = ledger
            .fail("jobs", "broken", &token, "timeout: 30 s")
            .expect("fail");
        let theirs = py(&python, &url, &["claim", "jobs", "broken", "py", ""]);
        assert_eq!(
            theirs["kind"], "failed",
            "{url}: failed is terminal for Python too"
        );
        assert_eq!(
            theirs["checkpoint"],
            serde_json::to_value(&failed).expect("json"),
            "{url}"
        );
        let token = rust_claim(&*ledger, "jobs", "good", "rust-run");
        let done = ledger
            .done(
                "jobs",
                "good",
                &token,
                json!({"n": [1, 2], "t": "ü"}),
                Some("ref"),
            )
            .expect("done");
        let theirs = py(&python, &url, &["claim", "jobs", "good", "py", ""]);
        assert_eq!(theirs["kind"], "done", "{url}");
        assert_eq!(
            theirs["checkpoint"],
            serde_json::to_value(&done).expect("json"),
            "{url}"
        );
        let listed = py(&python, &url, &["list", "jobs", "done"]);
        assert_eq!(
            listed,
            json!([serde_json::to_value(&done).expect("json")]),
            "{url}: Python lists ours"
        );
        // Python fails a step; Rust sees failed.
        let c = py(&python, &url, &["claim", "jobs", "py-fails", "py", ""]);
        py(
            &python,
            &url,
            &[
                "fail",
                "jobs",
                "py-fails",
                c["leaseToken"].as_str().expect("t"),
                "boom",
            ],
        );
        let claim = ledger
            .claim("jobs", "py-fails", &ClaimOptions::new())
            .expect("claim");
        assert_eq!(claim.kind(), "failed", "{url}");
        assert_eq!(claim.record().error.as_deref(), Some("boom"));
    }
}

#[test]
fn a_reclaimed_lease_fences_the_other_side() {
    let Some(python) = python("fencing") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    for url in stores(dir.path()) {
        let ledger = open_ledger(Some(&url)).expect("open");
        // Python's lease lapses at once; Rust takes the step over.
        let c = py(&python, &url, &["claim", "ns", "k", "py", "0"]);
        std::thread::sleep(Duration::from_millis(3));
        let token = rust_claim(&*ledger, "ns", "k", "rust");
        assert_eq!(
            ledger
                .get("ns", "k")
                .expect("get")
                .expect("record")
                .attempts,
            2
        );
        let late = py(
            &python,
            &url,
            &[
                "done",
                "ns",
                "k",
                c["leaseToken"].as_str().expect("t"),
                "1",
                "",
            ],
        );
        assert_eq!(
            late["error"], "LeaseLostError",
            "{url}: Python's stale done is refused: {late}"
        );
        ledger
            .done("ns", "k", &token, json!("rust"), None)
            .expect("done");
        // And the other way: Rust's lapsed lease, Python's claim, Rust's stale done.
        let Claim::Claimed { token: stale, .. } = ledger
            .claim("ns", "r", &ClaimOptions::new().with_lease_ms(0))
            .expect("claim")
        else {
            panic!("claim");
        };
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(
            py(&python, &url, &["claim", "ns", "r", "py", ""])["kind"],
            "claimed"
        );
        match ledger.done("ns", "r", &stale, json!(1), None) {
            Err(LedgerError::LeaseLost { .. }) => {}
            other => panic!("{url}: Rust's stale done: expected LeaseLost, got {other:?}"),
        }
    }
}

/// The Rust side of the race: claims k0..k{N-1} (shuffled) once the go file exists
/// and prints the keys it won (a no-op unless run by the race test).
#[test]
fn race_worker() {
    let Ok(url) = std::env::var(WORKER_URL) else {
        return;
    };
    let go = PathBuf::from(std::env::var("CHECKPOINTER_LEDGER_RACE_GO").expect("the go file"));
    let ledger = open_ledger(Some(&url)).expect("open");
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Each worker in its own random order, so the claims meet all along.
    let mut keys: Vec<String> = (0..RACE_KEYS).map(|i| format!("k{i}")).collect();
    fastrand::shuffle(&mut keys);
    let mut won = Vec::new();
    for key in keys {
        let claim = ledger.claim("race", &key, &ClaimOptions::new().with_owner("rust"));
        if claim.expect("claim").kind() == "claimed" {
            won.push(key);
        }
        // A pause, so that a waiting process gets the write lock: SQLite's
        // busy handler sleeps, and a tight loop would starve it.
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("WON {}", serde_json::to_string(&won).expect("json"));
}

/// Starts this binary's `race_worker` on `url`.
fn spawn_rust_worker(url: &str, go: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "race_worker",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(WORKER_URL, url)
        .env("CHECKPOINTER_LEDGER_RACE_GO", go)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Rust worker")
}

fn rust_won(child: std::process::Child) -> Vec<String> {
    let out = child.wait_with_output().expect("the Rust worker");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Rust worker failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find_map(|l| l.split_once("WON ").map(|(_, won)| won))
        .unwrap_or_else(|| panic!("no WON line in {text}"));
    serde_json::from_str(line).expect("the won keys")
}

/// Asserts every key was won exactly once, and stored with one attempt
/// by its winner.
fn assert_one_winner_per_key(url: &str, a: &[String], b: &[String], owners: (&str, &str)) {
    let ledger = open_ledger(Some(url)).expect("open");
    let mut all: Vec<&String> = a.iter().chain(b).collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        RACE_KEYS,
        "every key won once: {} + {} claims for {} keys",
        a.len(),
        b.len(),
        all.len()
    );
    assert_eq!(a.len() + b.len(), RACE_KEYS, "no key won twice");
    for (won, owner) in [(a, owners.0), (b, owners.1)] {
        for key in won {
            let record = ledger.get("race", key).expect("get").expect("a record");
            assert_eq!(
                (record.owner_run_id.as_deref(), record.attempts),
                (Some(owner), 1),
                "{key}"
            );
        }
    }
    eprintln!(
        "{url}: {} keys won by {}, {} by {}",
        a.len(),
        owners.0,
        b.len(),
        owners.1
    );
}

#[test]
fn python_and_rust_race_for_500_keys_on_one_sqlite_file() {
    let Some(python) = python("race") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    let go = dir.path().join("go");
    // Both open the file (and create the table) before the start.
    open_ledger(Some(&url)).expect("create the ledger");
    let rust = spawn_rust_worker(&url, &go);
    let n = RACE_KEYS.to_string();
    let py_child = Command::new(&python)
        .arg(HELPER)
        .args([url.as_str(), "race", "race", &n])
        .arg(&go)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, "go").expect("the go file");
    let out = py_child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py_won: Vec<String> = serde_json::from_slice(&out.stdout).expect("python's won keys");
    assert_one_winner_per_key(&url, &py_won, &rust_won(rust), ("python", "rust"));
}

/// mooncat's file backend locks per process only, so Python workers must
/// not race on a directory; ours do, through the file lock.
#[test]
fn two_rust_processes_race_for_500_keys_on_one_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}", dir.path().join("race").display());
    let go = dir.path().join("go");
    let (a, b) = (spawn_rust_worker(&url, &go), spawn_rust_worker(&url, &go));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, "go").expect("the go file");
    assert_one_winner_per_key(&url, &rust_won(a), &rust_won(b), ("rust", "rust"));
}

#[test]
fn storage_keys_match_pythons_safe_key_segment() {
    // The reference's golden vectors, checked by Python itself.
    let golden = [
        (
            "https://example.com/x?a=1 中文",
            "sha256-89816c1a34c4db899f59cd6d223bc843",
        ),
        ("https://x/y", "sha256-5b416034726ea113e80d7e32328af6fe"),
        ("img-001", "img-001"),
    ];
    for (key, expected) in golden {
        assert_eq!(storage_key(key), expected, "{key:?}");
    }
    let Some(python) = python("storage_keys") else {
        return;
    };
    let long_ok = "a".repeat(128);
    let long_hashed = "a".repeat(129);
    let keys: Vec<&str> = vec![
        "https://example.com/x?a=1 中文",
        "https://x/y",
        "img-001",
        "",
        ".",
        "..",
        "...",
        ".hidden",
        "a.b-c_D9",
        &long_ok,
        &long_hashed,
        "abc\n",
        "abc\n\n",
        "\n",
        "a b",
        "中",
        "a/b",
        "a\\b",
        "é",
        "A-Z_0.9",
    ];
    let mut child = Command::new(&python)
        .arg(HELPER)
        .args(["-", "keys"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    serde_json::to_writer(child.stdin.take().expect("stdin"), &keys).expect("write keys");
    let out = child.wait_with_output().expect("python");
    assert!(out.status.success());
    let theirs: Vec<String> = serde_json::from_slice(&out.stdout).expect("python's storage keys");
    let ours: Vec<String> = keys.iter().map(|k| storage_key(k)).collect();
    assert_eq!(ours, theirs);
}

#[test]
fn the_sqlite_table_is_byte_identical_to_pythons() {
    let Some(python) = python("schema") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let theirs = dir.path().join("python.db");
    py(
        &python,
        &format!("sqlite://{}", theirs.display()),
        &["get", "ns", "k"],
    );
    let ours = dir.path().join("rust.db");
    open_ledger(Some(&format!("sqlite://{}", ours.display()))).expect("open");
    let schema = |path: &Path| -> (String, String) {
        let conn = rusqlite::Connection::open(path).expect("open");
        let sql = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'checkpoints'",
                [],
                |r| r.get(0),
            )
            .expect("the table");
        let mode = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        (sql, mode)
    };
    assert_eq!(schema(&ours), schema(&theirs));
    assert_eq!(schema(&ours).1, "wal");
    // Each opens the other's file.
    open_ledger(Some(&format!("sqlite://{}", theirs.display()))).expect("Rust opens Python's file");
    assert_eq!(
        py(
            &python,
            &format!("sqlite://{}", ours.display()),
            &["get", "ns", "k"]
        ),
        Value::Null
    );
}
