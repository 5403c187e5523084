//! `SqliteSaver` under concurrency and crashes: many threads on one file,
//! two processes on one file, and a process killed while it writes.
//!
//! The multi-process tests re-run this test binary: with
//! `CHECKPOINTER_CHILD_DB` set, the `child_*` tests do the child's work;
//! without it they return at once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, ListOptions,
    SqliteOptions, SqliteSaver,
};
use serde_json::json;

mod seed;
use seed::SEED_ENV;

const CHILD_DB: &str = "CHECKPOINTER_CHILD_DB";
const CHILD_THREAD: &str = "CHECKPOINTER_CHILD_THREAD";
const CHILD_COUNT: &str = "CHECKPOINTER_CHILD_COUNT";

/// Writes `n` checkpoints to `thread`, continuing from its latest one, each
/// with two writes (padded to a size drawn from `rng`); calls `after_put`
/// with each stored id.
fn write_chain(
    saver: &dyn BaseCheckpointSaver,
    thread: &str,
    n: usize,
    rng: &mut fastrand::Rng,
    mut after_put: impl FnMut(&str),
) {
    let latest = saver.get_tuple(&Config::thread(thread)).unwrap();
    let (mut cfg, mut cp, start) = match latest {
        Some(t) => {
            let step = t.metadata.step + 1;
            (t.config, t.checkpoint, step)
        }
        None => (Config::thread(thread), Checkpoint::new(-1), 0),
    };
    for step in start..start + i64::try_from(n).expect("a test writes few checkpoints") {
        let version = saver.get_next_version(cp.channel_versions.get("count"));
        cp = cp
            .successor(step)
            .with_value("count", json!(step), version)
            .with_value("thread", json!(thread), 1);
        // A value that makes the WAL grow (and checkpoint) now and then.
        let padding = "x".repeat(rng.usize(0..4096));
        let new_versions = [
            ("count".to_owned(), version),
            ("thread".to_owned(), cp.channel_versions["thread"]),
        ]
        .into();
        let metadata = CheckpointMetadata::new(CheckpointSource::Loop, step);
        cfg = saver.put(&cfg, &cp, &metadata, &new_versions).unwrap();
        after_put(&cp.id);
        saver
            .put_writes(
                &cfg,
                &[
                    ("out".to_owned(), json!({"step": step, "pad": padding})),
                    ("__interrupt__".to_owned(), json!(step)),
                ],
                "task-1",
                "~__pregel_pull, node",
            )
            .unwrap();
    }
}

/// Checks that `thread` holds an intact chain of exactly `n` checkpoints.
fn check_chain(saver: &SqliteSaver, thread: &str, n: usize) {
    let history = saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .unwrap();
    assert_eq!(history.len(), n, "thread {thread}");
    for (i, tuple) in history.iter().enumerate() {
        let step = i64::try_from(n - 1 - i).expect("a test writes few checkpoints");
        assert_eq!(tuple.metadata.step, step, "thread {thread}");
        assert_eq!(tuple.checkpoint.channel_values["count"], json!(step));
        assert_eq!(tuple.checkpoint.channel_values["thread"], json!(thread));
        assert_eq!(tuple.pending_writes.len(), 2, "thread {thread} step {step}");
        // Sorted by (task_path, task_id, idx): the interrupt (-3) first.
        assert_eq!(tuple.pending_writes[0].channel, "__interrupt__");
        assert_eq!(tuple.pending_writes[1].value["step"], json!(step));
        let parent = tuple
            .parent_config
            .as_ref()
            .map(|p| p.checkpoint_id.clone());
        let expected = history.get(i + 1).map(|t| t.config.checkpoint_id.clone());
        assert_eq!(parent, expected, "thread {thread} step {step}: parent link");
    }
}

fn integrity_check(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(result, "ok");
}

#[test]
fn eight_threads_share_one_saver() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("threads.db");
    let saver = Arc::new(SqliteSaver::open(&path).unwrap());
    let seed = seed::seed("eight_threads_share_one_saver");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let saver = Arc::clone(&saver);
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(i));
                write_chain(&*saver, &format!("thread-{i}"), 200, &mut rng, |_| {});
                // Reads run alongside the other threads' writes.
                saver.list(None, &ListOptions::new().limit(10)).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a writer thread failed");
    }
    for i in 0..8 {
        check_chain(&saver, &format!("thread-{i}"), 200);
    }
    assert_eq!(saver.list(None, &ListOptions::new()).unwrap().len(), 1600);
    drop(saver);
    integrity_check(&path);
}

#[test]
fn eight_threads_with_a_saver_each() {
    // Separate savers do not share the in-process write lock: this leaves
    // the waiting to SQLite's busy handler, as between processes.
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("threads.db"));
    SqliteSaver::open(&*path).unwrap();
    let seed = seed::seed("eight_threads_with_a_saver_each");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let path = Arc::clone(&path);
            std::thread::spawn(move || {
                let saver =
                    SqliteSaver::open_with(&*path, SqliteOptions::new().with_pool_size(2)).unwrap();
                let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(i));
                write_chain(&saver, &format!("thread-{i}"), 200, &mut rng, |_| {});
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a writer thread failed");
    }
    let saver = SqliteSaver::open(&*path).unwrap();
    for i in 0..8 {
        check_chain(&saver, &format!("thread-{i}"), 200);
    }
    drop(saver);
    integrity_check(&path);
}

/// Runs this test binary's test `name` as a child process writing to `db`,
/// its random choices from `seed`.
fn spawn_child(name: &str, db: &Path, thread: &str, count: usize, seed: u64) -> Child {
    let exe = std::env::current_exe().unwrap();
    Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DB, db)
        .env(CHILD_THREAD, thread)
        .env(CHILD_COUNT, count.to_string())
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The child's settings, if this process is a child.
fn child_env() -> Option<(String, String, usize)> {
    let db = std::env::var(CHILD_DB).ok()?;
    let thread = std::env::var(CHILD_THREAD).unwrap();
    let count = std::env::var(CHILD_COUNT).unwrap().parse().unwrap();
    Some((db, thread, count))
}

/// Child of `two_processes_write_one_file`: writes its chain.
#[test]
fn child_writer() {
    let Some((db, thread, count)) = child_env() else {
        return;
    };
    let saver = SqliteSaver::open(&db).unwrap();
    let mut rng = seed::rng("child_writer");
    write_chain(&saver, &thread, count, &mut rng, |_| {});
    println!("CHILD DONE {thread}");
}

#[test]
fn two_processes_write_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("processes.db");
    let seed = seed::seed("two_processes_write_one_file");
    let children: Vec<_> = ["proc-a", "proc-b"]
        .into_iter()
        .map(|t| (t, spawn_child("child_writer", &path, t, 300, seed)))
        .collect();
    // This process reads while they write.
    let mut reader = None;
    for (thread, child) in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child {thread} failed:\n{stdout}");
        assert!(stdout.contains(&format!("CHILD DONE {thread}")), "{stdout}");
        let saver = reader.get_or_insert_with(|| SqliteSaver::open(&path).unwrap());
        saver.list(None, &ListOptions::new().limit(5)).unwrap();
    }
    let saver = SqliteSaver::open(&path).unwrap();
    check_chain(&saver, "proc-a", 300);
    check_chain(&saver, "proc-b", 300);
    drop(saver);
    drop(reader);
    integrity_check(&path);
}

/// Child of `a_killed_writer_loses_nothing_it_reported`: writes until it is
/// killed, printing each id once `put` has returned.
#[test]
fn child_crash_writer() {
    let Some((db, thread, _)) = child_env() else {
        return;
    };
    let saver = SqliteSaver::open(&db).unwrap();
    let mut rng = seed::rng("child_crash_writer");
    loop {
        write_chain(&saver, &thread, 1_000, &mut rng, |id| println!("PUT {id}"));
    }
}

/// The id in a complete `PUT <id>` line of the child.
fn reported_id(line: &[u8]) -> Option<String> {
    let id = line.strip_prefix(b"PUT ")?.strip_suffix(b"\n")?;
    Some(String::from_utf8_lossy(id).into_owned())
}

#[test]
fn a_killed_writer_loses_nothing_it_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut reported: Vec<String> = Vec::new();
    let mut rng = seed::rng("a_killed_writer_loses_nothing_it_reported");
    for round in 0..3 {
        let mut child = spawn_child("child_crash_writer", &path, "crash", 0, rng.u64(..));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let kill_after = rng.usize(1..150);
        let mut seen = 0;
        let mut line = Vec::new();
        // Read until the random moment, then kill (SIGKILL on Unix).
        while seen < kill_after {
            line.clear();
            let read = stdout.read_until(b'\n', &mut line).unwrap();
            assert!(read != 0, "round {round}: the child exited early");
            if let Some(id) = reported_id(&line) {
                seen += 1;
                reported.push(id);
            }
        }
        std::thread::sleep(std::time::Duration::from_micros(rng.u64(0..3000)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever it printed before dying was reported too.
        loop {
            line.clear();
            if stdout.read_until(b'\n', &mut line).unwrap() == 0 {
                break;
            }
            reported.extend(reported_id(&line));
        }

        integrity_check(&path);
        let saver = SqliteSaver::open(&path).unwrap();
        let stored: std::collections::HashSet<String> = saver
            .list(Some(&Config::thread("crash")), &ListOptions::new())
            .unwrap()
            .into_iter()
            .map(|t| t.checkpoint.id)
            .collect();
        for id in &reported {
            assert!(stored.contains(id), "round {round}: reported {id} is lost");
        }
        // Each stored checkpoint reads back whole.
        for id in &stored {
            let cfg = Config::thread("crash").with_checkpoint_id(id);
            let tuple = saver.get_tuple(&cfg).unwrap().unwrap();
            assert_eq!(tuple.checkpoint.channel_values["thread"], json!("crash"));
        }
    }
}
