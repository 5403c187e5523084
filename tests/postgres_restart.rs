//! A PostgreSQL server restart (`pg_ctl restart -m immediate`) during a
//! graph run: the saver call in flight fails with a clear error (which
//! thread, which operation), the pool recovers with no new saver, the
//! graph goes on with `Input::Continue`, and no checkpoint acknowledged
//! before the restart is lost; and the same under 8 busy threads, each
//! finishing its failed turn with `Input::Continue`. Needs `CHECKPOINTER_PG_URL`,
//! `CHECKPOINTER_PG_CTL` and `CHECKPOINTER_PG_DATA` (`.ci/postgres` exports
//! them); without them the test is skipped with a printed line, and fails
//! under `CI=true`.
#![cfg(feature = "postgres")]

mod pg_support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkpointer::graph::{
    CompileOptions, END, GraphError, Input, Reducer, START, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, PostgresOptions, PostgresSaver};
use serde_json::json;

/// The tests here restart the one server: one at a time.
static SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `pg_ctl` and the data dir, or `None` (after printing why) to skip.
fn pg_ctl() -> Option<(String, String)> {
    match (
        std::env::var("CHECKPOINTER_PG_CTL"),
        std::env::var("CHECKPOINTER_PG_DATA"),
    ) {
        (Ok(ctl), Ok(data)) if !ctl.is_empty() && !data.is_empty() => Some((ctl, data)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "CI=true but CHECKPOINTER_PG_CTL or CHECKPOINTER_PG_DATA is unset (.ci/postgres exports them)"
        ),
        _ => {
            eprintln!("postgres_restart: skipped, CHECKPOINTER_PG_CTL/CHECKPOINTER_PG_DATA unset");
            None
        }
    }
}

/// `pg_ctl restart -m immediate`, as the data dir's owner when we are root
/// (`pg_ctl` refuses root); waits until the server takes connections.
fn restart_immediately(ctl: &str, data: &str) {
    let log = std::path::Path::new(data).with_file_name("log");
    let args = [
        "-D",
        data,
        "-l",
        log.to_str().expect("a UTF-8 log path"),
        "-m",
        "immediate",
        "-w",
        "-t",
        "60",
        "-s",
        "restart",
    ];
    let whoami = Command::new("id").arg("-u").output().expect("run id -u");
    let mut cmd = if String::from_utf8_lossy(&whoami.stdout).trim() == "0" {
        let owner = Command::new("stat")
            .args(["-c", "%U", data])
            .output()
            .expect("stat the data dir");
        let owner = String::from_utf8_lossy(&owner.stdout).trim().to_owned();
        let mut c = Command::new("runuser");
        c.args(["-u", &owner, "--", ctl]);
        c
    } else {
        Command::new(ctl)
    };
    // The server must not keep the test's output pipes open.
    let status = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run pg_ctl restart");
    assert!(status.success(), "pg_ctl restart: {status}");
}

/// Waits (at most 30 s) until a backend of the server waits on a lock.
fn wait_for_a_blocked_query(locker: &mut postgres::Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = locker
            .query(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                &[],
            )
            .expect("read pg_stat_activity");
        if rows[0].get::<_, i64>(0) > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no saver call blocked on the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How long either side waits for the other at the gate, so that a
/// failing test ends instead of hanging.
const GATE_WAIT: Duration = Duration::from_secs(30);

/// START -> a -> b -> END, counting the runs of each; b's first run says
/// on `entered` that it runs, then waits on `go` (for the test to have
/// locked the tables).
fn gated_graph(
    a_runs: &Arc<AtomicUsize>,
    b_runs: &Arc<AtomicUsize>,
    entered: Sender<()>,
    go: Receiver<()>,
) -> StateGraph {
    let mut g = StateGraph::new();
    let (ar, br) = (Arc::clone(a_runs), Arc::clone(b_runs));
    let (entered, go) = (Mutex::new(entered), Mutex::new(go));
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", move |_, _| {
            ar.fetch_add(1, Ordering::SeqCst);
            Ok(Update::new().set("log", "a"))
        })
        .add_sync_node("b", move |_, _| {
            if br.fetch_add(1, Ordering::SeqCst) == 0 {
                let _ = entered.lock().map(|tx| tx.send(()));
                let _ = go.lock().map(|rx| rx.recv_timeout(GATE_WAIT));
            }
            Ok(Update::new().set("log", "b"))
        })
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_run_fails_the_call_in_flight_and_the_graph_goes_on() {
    let Some(url) = pg_support::server_url("postgres_restart") else {
        return;
    };
    let Some((ctl, data)) = pg_ctl() else {
        return;
    };
    let _one_at_a_time = SERVER.lock().await;
    let schema = pg_support::Schema::new(&url);
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(
        PostgresSaver::open_with(&schema.url(), PostgresOptions::new().with_pool_size(2))
            .expect("open the saver"),
    );
    let (a_runs, b_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let ((entered_tx, entered_rx), (go_tx, go_rx)) = (channel(), channel());
    let app = Arc::new(
        gated_graph(&a_runs, &b_runs, entered_tx, go_rx)
            .compile(CompileOptions::new().saver(Arc::clone(&saver)))
            .expect("compile"),
    );
    let thread = Config::thread("restart");

    let run = {
        let (app, thread) = (Arc::clone(&app), thread.clone());
        tokio::spawn(async move { app.invoke(json!({}), &thread).await })
    };
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(GATE_WAIT))
        .await
        .expect("the gate's task")
        .expect("b runs");
    // b runs: the input checkpoint, step 0 (a next) and step 1 (after a)
    // are acknowledged.
    let before: Vec<String> = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .expect("history before the restart")
        .iter()
        .filter_map(|s| s.config.checkpoint_id.clone())
        .collect();
    assert_eq!(before.len(), 3, "{before:?}");
    // Lock the tables, let b end: the step's save blocks on the server,
    // which then restarts under it.
    let schema_url = schema.url();
    let (ctl2, data2) = (ctl.clone(), data.clone());
    tokio::task::spawn_blocking(move || {
        let mut locker =
            postgres::Client::connect(&schema_url, postgres::NoTls).expect("connect the locker");
        locker
            .batch_execute(
                "BEGIN; LOCK TABLE checkpoints, checkpoint_writes, checkpoint_blobs IN ACCESS EXCLUSIVE MODE",
            )
            .expect("lock the tables");
        go_tx.send(()).expect("b waits at the gate");
        wait_for_a_blocked_query(&mut locker);
        restart_immediately(&ctl2, &data2);
    })
    .await
    .expect("restart the server");

    let err = run
        .await
        .expect("the run's task")
        .expect_err("the save in flight fails");
    let text = err.to_string();
    assert!(
        matches!(&err, GraphError::Saver { thread_id, .. } if thread_id == "restart"),
        "{err:?}"
    );
    assert!(
        text.contains("\"restart\""),
        "the error names the thread: {text}"
    );
    println!("the call in flight: {text}");

    // The same saver, its pool recovered: the graph goes on.
    let out = app
        .invoke(Input::Continue, &thread)
        .await
        .expect("continue after the restart");
    assert_eq!(out.values["log"], json!(["a", "b"]));
    assert!(out.next.is_empty());
    assert_eq!(
        a_runs.load(Ordering::SeqCst),
        1,
        "a ran once: its step was saved"
    );
    // The step's fused save failed; the run then saved b's writes alone
    // (the pool waits up to its timeout, 30 s, for the server to be back),
    // so b does not run again.
    assert_eq!(b_runs.load(Ordering::SeqCst), 1, "b's writes were kept");
    let after: Vec<String> = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .expect("history after the restart")
        .iter()
        .filter_map(|s| s.config.checkpoint_id.clone())
        .collect();
    for id in &before {
        assert!(
            after.contains(id),
            "checkpoint {id} acknowledged before the restart is lost"
        );
    }
    assert_eq!(after.len(), 4, "{after:?}");
}

/// START -> inc -> END: `n` counts the turns of a thread.
fn counter_graph() -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_sync_node("inc", |s, _| {
            Ok(Update::new().set("n", s.get::<i64>("n").unwrap_or(0) + 1))
        })
        .add_edge(START, "inc")
        .add_edge("inc", END);
    g
}

/// What one thread of the busy test saw.
#[derive(Default)]
struct Seen {
    /// `(checkpoint_id, n)` of each acknowledged run.
    acks: Vec<(String, i64)>,
    /// The errors, as displayed.
    errors: Vec<String>,
    /// Errors that were not a saver error naming this thread.
    unclear: Vec<String>,
}

/// Turns on `thread` until it has `turns` acknowledged runs; after a
/// failed run, `Input::Continue` (until it succeeds) finishes that turn.
fn busy_thread(
    saver: &Arc<dyn BaseCheckpointSaver>,
    thread: &str,
    turns: usize,
    acked: &AtomicUsize,
) -> Seen {
    let app = counter_graph()
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .expect("compile");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config::thread(thread);
    let mut seen = Seen::default();
    let mut input: Input = json!({}).into();
    while seen.acks.len() < turns && seen.errors.len() < 100 {
        match rt.block_on(app.invoke(input.clone(), &config)) {
            Ok(out) => {
                let n = out.values["n"].as_i64().unwrap_or(-1);
                let id = out.config.and_then(|c| c.checkpoint_id).unwrap_or_default();
                seen.acks.push((id, n));
                acked.fetch_add(1, Ordering::SeqCst);
                input = json!({}).into();
            }
            Err(e) => {
                if !matches!(&e, GraphError::Saver { thread_id, .. } if thread_id == thread) {
                    seen.unclear.push(format!("{e:?}"));
                }
                seen.errors.push(e.to_string());
                input = Input::Continue;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    seen
}

#[test]
fn a_restart_under_eight_busy_threads_loses_nothing_acknowledged() {
    const THREADS: usize = 8;
    const TURNS: usize = 60;
    let Some(url) = pg_support::server_url("postgres_restart_busy") else {
        return;
    };
    let Some((ctl, data)) = pg_ctl() else {
        return;
    };
    let _one_at_a_time = SERVER.blocking_lock();
    let schema = pg_support::Schema::new(&url);
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(
        PostgresSaver::open_with(&schema.url(), PostgresOptions::new().with_pool_size(8))
            .expect("open the saver"),
    );
    let acked = AtomicUsize::new(0);
    let seen: Vec<(String, Seen)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (saver, acked) = (&saver, &acked);
                s.spawn(move || {
                    let thread = format!("busy-{t}");
                    let seen = busy_thread(saver, &thread, TURNS, acked);
                    (thread, seen)
                })
            })
            .collect();
        // Restart once the threads are well under way (waiting at most 30 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.load(Ordering::SeqCst) < THREADS * TURNS / 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        restart_immediately(&ctl, &data);
        workers
            .into_iter()
            .map(|w| w.join().expect("a busy thread"))
            .collect()
    });
    let reader = PostgresSaver::open(&schema.url()).expect("open a reader");
    let mut errors = 0;
    for (thread, seen) in &seen {
        assert!(
            seen.unclear.is_empty(),
            "thread {thread}: {:?}",
            seen.unclear
        );
        assert_eq!(
            seen.acks.len(),
            TURNS,
            "thread {thread} finished: {:?}",
            seen.errors
        );
        errors += seen.errors.len();
        for (id, n) in &seen.acks {
            let tuple = reader
                .get_tuple(&Config::thread(thread.as_str()).with_checkpoint_id(id.as_str()))
                .unwrap_or_else(|e| panic!("thread {thread} checkpoint {id}: {e}"))
                .unwrap_or_else(|| panic!("thread {thread}: acknowledged checkpoint {id} is lost"));
            assert_eq!(
                tuple.checkpoint.channel_values.get("n"),
                Some(&json!(n)),
                "thread {thread} checkpoint {id}"
            );
        }
        // A turn whose run failed before its input was saved is finished by
        // `Input::Continue` as a no-op: the same checkpoint again.
        for w in seen.acks.windows(2) {
            assert!(
                w[0].1 < w[1].1 || w[0] == w[1],
                "thread {thread}: n goes back or a checkpoint was replaced: {:?}",
                seen.acks
            );
        }
    }
    println!(
        "{} runs acknowledged by {THREADS} threads; {errors} calls failed at the restart",
        THREADS * TURNS
    );
    if let Some((thread, s)) = seen.iter().find(|(_, s)| !s.errors.is_empty()) {
        println!("e.g. thread {thread}: {}", s.errors[0]);
    }
}
