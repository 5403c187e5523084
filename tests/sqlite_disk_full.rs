//! Disk full: a worker process writes checkpoints to a SQLite file under a
//! file-size limit (`ulimit -f`, with `SIGXFSZ` ignored so that a write
//! past the limit fails instead of killing the process). Its writes start
//! to fail with an error naming the database; nothing it was told was
//! saved is lost; once the limit is gone ("space is back") the file opens,
//! passes `integrity_check` and takes new writes.
//!
//! The worker is this test binary again (`--exact disk_full_worker`);
//! without its variable that test does nothing. It needs `bash` (for
//! `ulimit` and `trap`): locally the test skips without it, under `CI=true`
//! it fails.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, SqliteSaver,
};
use serde_json::json;

const DB_ENV: &str = "CHECKPOINTER_DISK_FULL_DB";
/// The file-size limit of the worker, in KiB (`ulimit -f` in bash).
const LIMIT_KIB: u32 = 1024;

/// The worker: puts 8 KiB checkpoints until they fail; prints `ACK <id>`
/// after each one that returned `Ok` and `ERR <error>` for each failure
/// (it stops after three).
#[test]
fn disk_full_worker() {
    let Ok(db) = std::env::var(DB_ENV) else {
        return;
    };
    let saver = SqliteSaver::open(&db).unwrap();
    let mut out = std::io::stdout().lock();
    let mut config = Config::thread("t");
    let mut failures = 0;
    for step in 0..10_000 {
        let cp = Checkpoint::new(step).with_value("blob", json!("x".repeat(8192)), 1);
        let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
        match saver.put(&config, &cp, &md, &cp.channel_versions) {
            Ok(stored) => {
                writeln!(
                    out,
                    "ACK {}",
                    stored.checkpoint_id.clone().unwrap_or_default()
                )
                .unwrap();
                config = stored;
            }
            Err(e) => {
                writeln!(out, "ERR {e}").unwrap();
                failures += 1;
                if failures == 3 {
                    break;
                }
            }
        }
        out.flush().unwrap();
    }
}

fn have_bash() -> bool {
    Command::new("bash")
        .args(["-c", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_full_disk_gives_clear_errors_and_loses_nothing_acknowledged() {
    if !have_bash() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "bash is needed"
        );
        println!("skipped: no bash for ulimit -f");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.db");
    drop(SqliteSaver::open(&db).unwrap());
    // SIG_IGN survives exec: the worker's writes past the limit fail with
    // EFBIG instead of killing it.
    let script = format!("trap '' XFSZ; ulimit -f {LIMIT_KIB}; exec \"$0\" \"$@\"");
    let child = Command::new("bash")
        .args(["-c", &script])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "disk_full_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the worker did not end cleanly ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let acked: Vec<String> = BufReader::new(stdout.as_bytes())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.find("ACK ").map(|at| l[at + 4..].to_owned()))
        .collect();
    let errors: Vec<&str> = stdout.lines().filter(|l| l.contains("ERR ")).collect();
    assert!(
        acked.len() > 10,
        "too few writes before the limit: {stdout}"
    );
    assert!(
        !errors.is_empty(),
        "no write failed under the limit: {stdout}"
    );
    for e in &errors {
        assert!(
            e.contains("full.db"),
            "the error does not name the database: {e}"
        );
    }
    space_is_back(&db, &acked);
}

/// Without the limit: the file opens, passes `integrity_check`, holds every
/// acknowledged checkpoint and takes new writes.
fn space_is_back(db: &Path, acked: &[String]) {
    let saver = SqliteSaver::open(db).unwrap();
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    for id in acked {
        let cfg = Config::thread("t").with_checkpoint_id(id.clone());
        assert!(
            saver.get_tuple(&cfg).unwrap().is_some(),
            "acknowledged checkpoint {id} is lost"
        );
    }
    let cp = Checkpoint::new(0).with_value("after", json!(1), 1);
    let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);
    saver
        .put(&Config::thread("after"), &cp, &md, &cp.channel_versions)
        .unwrap();
}
