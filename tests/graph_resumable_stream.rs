//! Durable, resumable graph streams (issue 14, part 4): a streamed run
//! appends its events to the graph's event log; a consumer that
//! disconnects at random points and reconnects from the last `seq` it saw
//! gets exactly what an uninterrupted consumer got, also across the death
//! of the process that ran the graph. Everything on real SQLite files.
//!
//! The restart test re-executes this binary (`--exact stream_child`) with
//! the file paths in environment variables; without them `stream_child`
//! does nothing.
#![cfg(all(feature = "events", feature = "sqlite"))]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use checkpointer::events::{Event, EventKind, EventLog, SqliteEventLog};
use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, FollowOptions, Input, Reducer, START, StateGraph,
    StreamMode, Update, follow_stream, follow_stream_with,
};
use checkpointer::{Config, SqliteSaver};
use futures::StreamExt;
use serde_json::json;

mod seed;

const DB_ENV: &str = "CHECKPOINTER_STREAM_TEST_DB";
const STEPS: i64 = 60;

/// A node `work` that counts to `STEPS`, one step at a time, sleeping
/// `pause` in each step.
fn counting_graph(
    saver: Arc<SqliteSaver>,
    log: Arc<dyn EventLog>,
    pause: Duration,
) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("count", Reducer::last_value());
    g.add_node("work", move |state, _ctx| async move {
        tokio::time::sleep(pause).await;
        let count: i64 = state.get_or_default("count")?;
        Ok(Update::new().set("count", count + 1))
    });
    g.add_edge(START, "work");
    g.add_conditional_edges(
        "work",
        |s| {
            if s.get_or_default::<i64>("count").unwrap_or(0) < STEPS {
                "work"
            } else {
                END
            }
        },
        &["work", END],
    );
    g.compile(CompileOptions::new().saver(saver).event_log(log))
        .unwrap()
        .with_recursion_limit(200)
}

fn open(db: &Path) -> (Arc<SqliteSaver>, Arc<dyn EventLog>) {
    let saver = Arc::new(SqliteSaver::open(db).unwrap());
    let log: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open(db).unwrap());
    (saver, log)
}

fn fast() -> FollowOptions {
    FollowOptions::new().poll_every(Duration::from_millis(2))
}

/// Follows the thread to the end of a run, disconnecting after a random
/// number of events (0 to 3) each time and reconnecting from the last
/// `seq` seen; returns what it saw and how often it disconnected.
async fn flaky_consumer(
    log: Arc<dyn EventLog>,
    thread: &str,
    mut rng: fastrand::Rng,
) -> (Vec<Event>, usize) {
    let (mut seen, mut disconnects) = (Vec::<Event>::new(), 0);
    loop {
        let since = seen.last().map_or(0, |e| e.seq);
        let mut stream = follow_stream_with(Arc::clone(&log), thread, since, fast());
        let take = rng.usize(0..=3);
        for _ in 0..take {
            match stream.next().await {
                Some(event) => seen.push(event.expect("the log reads")),
                None => return (seen, disconnects),
            }
        }
        if take == 0 && rng.bool() {
            // A reconnect that ends at once when the run is over.
            if let Some(event) = stream.next().await {
                seen.push(event.expect("the log reads"));
            } else {
                return (seen, disconnects);
            }
        }
        drop(stream);
        disconnects += 1;
    }
}

/// Follows without disconnecting.
async fn steady_consumer(log: Arc<dyn EventLog>, thread: &str) -> Vec<Event> {
    follow_stream_with(log, thread, 0, fast())
        .map(|e| e.expect("the log reads"))
        .collect()
        .await
}

/// Waits for both consumers and checks that the reconnecting one (after
/// at least `min_disconnects` disconnects) saw exactly what the steady one
/// saw, which is exactly what the log holds, numbered 1..=n; gives it.
async fn both_saw_the_log(
    steady: tokio::task::JoinHandle<Vec<Event>>,
    flaky: tokio::task::JoinHandle<(Vec<Event>, usize)>,
    log: &dyn EventLog,
    thread: &str,
    min_disconnects: usize,
) -> Vec<Event> {
    let steady = steady.await.unwrap();
    let (flaky, disconnects) = flaky.await.unwrap();
    assert!(
        disconnects >= min_disconnects,
        "only {disconnects} disconnects"
    );
    assert_eq!(
        flaky, steady,
        "the reconnecting consumer saw another sequence"
    );
    assert_eq!(
        steady,
        log.list_events(thread, 0).unwrap(),
        "a consumer missed what the log holds"
    );
    assert_contiguous(&steady);
    steady
}

fn assert_contiguous(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let want: Vec<u64> = (1..=u64::try_from(events.len()).unwrap()).collect();
    assert_eq!(
        seqs, want,
        "sequence numbers must be 1..=n with no gap or repeat"
    );
}

fn kinds(events: &[Event], kind: EventKind) -> usize {
    events.iter().filter(|e| e.kind == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_consumer_sees_what_a_steady_one_saw() {
    let dir = tempfile::tempdir().unwrap();
    let (saver, log) = open(&dir.path().join("stream.db"));
    let app = counting_graph(saver, Arc::clone(&log), Duration::from_millis(1));
    let thread = "t-flaky";
    let rng = seed::rng("reconnecting_consumer_sees_what_a_steady_one_saw");

    let steady = tokio::spawn(steady_consumer(Arc::clone(&log), thread));
    let flaky = tokio::spawn(flaky_consumer(Arc::clone(&log), thread, rng));
    let live: Vec<_> = app
        .stream(
            json!({"count": 0}),
            &Config::thread(thread),
            StreamMode::Updates,
        )
        .collect()
        .await;
    assert!(live.iter().all(Result::is_ok), "the run failed: {live:?}");
    assert_eq!(
        live.len(),
        usize::try_from(STEPS).unwrap(),
        "one update per step"
    );

    let steady = both_saw_the_log(steady, flaky, &*log, thread, 100).await;
    // Every mode is in the log, whatever the live caller asked for.
    assert_eq!(kinds(&steady, EventKind::StateDelta), 60);
    assert_eq!(kinds(&steady, EventKind::AgentStarted), 60);
    assert_eq!(kinds(&steady, EventKind::AgentFinished), 60);
    assert!(kinds(&steady, EventKind::StateSnapshot) >= 60);
    assert!(kinds(&steady, EventKind::CheckpointSaved) >= 60);
    assert_eq!(steady.first().map(|e| e.kind), Some(EventKind::RunStarted));
    assert_eq!(steady.last().map(|e| e.kind), Some(EventKind::RunFinished));
    let last_values = steady
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::StateSnapshot)
        .unwrap();
    assert_eq!(last_values.payload["values"]["count"], json!(STEPS));

    // Asked again from its last event, a finished run's stream ends at once.
    let last = steady.last().unwrap().seq;
    assert!(
        follow_stream(Arc::clone(&log), thread, last)
            .next()
            .await
            .is_none()
    );
    // From the middle: exactly the rest.
    let rest: Vec<Event> = follow_stream(log, thread, 40)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(rest, steady[40..]);
}

/// The child of the restart test: streams the graph (it is killed long
/// before the end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_child() {
    let Ok(db) = std::env::var(DB_ENV) else {
        return;
    };
    let (saver, log) = open(Path::new(&db));
    let app = counting_graph(saver, log, Duration::from_millis(10));
    let _ = app
        .stream(
            json!({"count": 0}),
            &Config::thread("t-restart"),
            StreamMode::Values,
        )
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_resumes_across_a_killed_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restart.db");
    let (saver, log) = open(&db);
    let thread = "t-restart";
    let mut rng = seed::rng("stream_resumes_across_a_killed_process");
    let kill_at = rng.u64(15..80);

    // Both consumers follow from before the first event to the end of the
    // resumed run, through the death of the process that ran the graph.
    let steady = tokio::spawn(steady_consumer(Arc::clone(&log), thread));
    let flaky = tokio::spawn(flaky_consumer(
        Arc::clone(&log),
        thread,
        fastrand::Rng::with_seed(rng.u64(..)),
    ));

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stream_child", "--nocapture"])
        .env(DB_ENV, &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while log.last_seq(thread, "main").unwrap() < kill_at {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended before it was killed: {status}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL on Unix
    assert!(!child.wait().unwrap().success());
    let at_kill = log.last_seq(thread, "main").unwrap();

    // This process takes over the thread from its last checkpoint.
    let app = counting_graph(saver, Arc::clone(&log), Duration::from_millis(1));
    let live: Vec<_> = app
        .stream(Input::Continue, &Config::thread(thread), StreamMode::Values)
        .collect()
        .await;
    assert!(
        live.iter().all(Result::is_ok),
        "the resumed run failed: {live:?}"
    );

    let steady = both_saw_the_log(steady, flaky, &*log, thread, 30).await;
    // Two runs (the killed one, which never ended, and the resumed one).
    assert_eq!(kinds(&steady, EventKind::RunStarted), 2);
    assert_eq!(kinds(&steady, EventKind::RunFinished), 1);
    let resumed = steady.iter().position(|e| e.seq > at_kill).unwrap();
    assert_eq!(
        steady[resumed].kind,
        EventKind::RunStarted,
        "the resumed run starts after the killed one's last event"
    );
    assert_ne!(steady[0].payload["run"], steady[resumed].payload["run"]);
    let last_values = steady
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::StateSnapshot)
        .unwrap();
    assert_eq!(last_values.payload["values"]["count"], json!(STEPS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_mode_streams_each_checkpoint_made() {
    let dir = tempfile::tempdir().unwrap();
    let (saver, log) = open(&dir.path().join("modes.db"));
    let app = counting_graph(saver, Arc::clone(&log), Duration::ZERO);
    let live: Vec<_> = app
        .stream(
            json!({"count": 0}),
            &Config::thread("t-modes"),
            StreamMode::Checkpoints,
        )
        .map(Result::unwrap)
        .collect()
        .await;
    let ids: Vec<String> = live
        .iter()
        .map(|e| match e {
            checkpointer::graph::StreamEvent::CheckpointSaved { checkpoint_id, .. } => {
                checkpoint_id.clone()
            }
            other => panic!("not a checkpoint event: {other:?}"),
        })
        .collect();
    // The input checkpoint, __start__'s, then one per step.
    assert_eq!(ids.len(), usize::try_from(STEPS).unwrap() + 2);
    let logged: Vec<String> = log
        .list_events("t-modes", 0)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::CheckpointSaved)
        .map(|e| e.payload["checkpoint_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        logged, ids,
        "the log holds the checkpoints the live stream showed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_log_ends_the_stream_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("events");
    let log: Arc<dyn EventLog> =
        Arc::new(checkpointer::events::JsonlEventLog::open(&base).unwrap());
    // The log's directory becomes a plain file: every append fails.
    std::fs::remove_dir(&base).unwrap();
    std::fs::write(&base, "not a directory").unwrap();
    let saver = Arc::new(SqliteSaver::open(dir.path().join("cp.db")).unwrap());
    let app = counting_graph(saver, log, Duration::ZERO);
    let live: Vec<_> = app
        .stream(
            json!({"count": 0}),
            &Config::thread("t-fail"),
            StreamMode::Updates,
        )
        .collect()
        .await;
    let last = live.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(
        last.contains("event log of thread \"t-fail\"") && last.contains("events"),
        "{last}"
    );
    assert!(live[..live.len() - 1].iter().all(Result::is_ok));
}
