//! `NodeContext::step_once`: a side effect inside a node runs once per key
//! and thread across a killed worker process, a dropped runner, retries
//! and repeated runs; its result comes back from the ledger.
//!
//! The kill test re-executes this test binary (`--exact step_child`) with
//! the paths in environment variables; without them `step_child` does
//! nothing.
#![cfg(all(feature = "ledger", feature = "sqlite"))]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, Input, NodeError, Reducer, RetryPolicy, START,
    STEP_NAMESPACE, StateGraph, Update,
};
use checkpointer::ledger::{FileLedger, MemoryLedger, SqliteLedger, StepLedger, StepStatus};
use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver, SqliteSaver};
use serde_json::json;

const DIR_ENV: &str = "CHECKPOINTER_STEP_ONCE_DIR";

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_all()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `pay`: charges once (a line `charge` in `effects`), then, when `hang`,
/// writes `paid` and never returns (the worker dies there).
fn pay_graph(effects: &Path, hang: bool) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("receipt", Reducer::last_value());
    let effects = effects.to_path_buf();
    g.add_node("pay", move |_state, ctx| {
        let effects = effects.clone();
        async move {
            let receipt: String = ctx
                .step_once("charge", || async {
                    append(&effects, "charge")?;
                    Ok(format!("receipt-{}", lines(&effects).len()))
                })
                .await?;
            if hang {
                append(&effects, "paid")?;
                std::future::pending::<()>().await;
            }
            Ok(Update::new().set("receipt", json!(receipt)))
        }
    });
    g.add_edge(START, "pay").add_edge("pay", END);
    g
}

fn compile(
    g: &StateGraph,
    saver: Arc<dyn BaseCheckpointSaver>,
    ledger: Arc<dyn StepLedger>,
) -> CompiledGraph {
    g.compile(CompileOptions::new().saver(saver).ledger(ledger))
        .expect("compile")
}

/// The child: runs `pay` until it hangs after the charge (then it is
/// killed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let saver = Arc::new(SqliteSaver::open(dir.join("graph.db")).expect("saver"));
    let ledger = Arc::new(SqliteLedger::open(dir.join("ledger.db")).expect("ledger"));
    let app = compile(&pay_graph(&dir.join("effects.log"), true), saver, ledger);
    app.invoke(json!({}), &Config::thread("order-1"))
        .await
        .expect("the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_does_not_charge_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let effects = dir.path().join("effects.log");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "step_child", "--nocapture"])
        .env(DIR_ENV, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the worker");
    while !lines(&effects).contains(&"paid".to_owned()) {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the worker ended before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL the worker");
    assert!(!child.wait().expect("wait").success());

    // Another worker resumes the thread: the node runs again, the charge
    // does not.
    let saver = Arc::new(SqliteSaver::open(dir.path().join("graph.db")).expect("saver"));
    let ledger = Arc::new(SqliteLedger::open(dir.path().join("ledger.db")).expect("ledger"));
    let app = compile(
        &pay_graph(&effects, false),
        saver,
        Arc::clone(&ledger) as Arc<dyn StepLedger>,
    );
    let out = app
        .invoke(Input::Continue, &Config::thread("order-1"))
        .await
        .expect("resume");
    assert_eq!(
        out.values["receipt"],
        json!("receipt-1"),
        "the stored result"
    );
    assert_eq!(
        lines(&effects),
        ["charge", "paid"],
        "charged once, by the killed worker"
    );
    let record = ledger
        .get(STEP_NAMESPACE, r#"["order-1","charge"]"#)
        .expect("get")
        .expect("the step");
    assert_eq!(
        (record.status, record.result, record.attempts),
        (StepStatus::Done, json!("receipt-1"), 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_runner_does_not_charge_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let effects = dir.path().join("effects.log");
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    let ledger: Arc<dyn StepLedger> =
        Arc::new(FileLedger::open(dir.path().join("ledger")).expect("ledger"));
    let hanging = compile(
        &pay_graph(&effects, true),
        Arc::clone(&saver),
        Arc::clone(&ledger),
    );
    let run = tokio::spawn(async move { hanging.invoke(json!({}), &Config::thread("t")).await });
    while !lines(&effects).contains(&"paid".to_owned()) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    run.abort(); // the runner is dropped mid-node, after the step
    assert!(run.await.is_err_and(|e| e.is_cancelled()));
    let app = compile(&pay_graph(&effects, false), saver, ledger);
    let out = app
        .invoke(Input::Continue, &Config::thread("t"))
        .await
        .expect("resume");
    assert_eq!(out.values["receipt"], json!("receipt-1"));
    // A new run of the same thread: still charged once.
    app.invoke(json!({}), &Config::thread("t"))
        .await
        .expect("again");
    assert_eq!(lines(&effects), ["charge", "paid"]);
    // Another thread is another step.
    let other = app
        .invoke(json!({}), &Config::thread("u"))
        .await
        .expect("thread u");
    assert_eq!(other.values["receipt"], json!("receipt-3"));
}

/// A node that fails after its step (and once before finishing it) is
/// retried: the finished step is not repeated, the failed one is.
#[tokio::test]
async fn retries_repeat_only_unfinished_steps() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static FLAKY: AtomicUsize = AtomicUsize::new(0);
    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
    let mut g = StateGraph::new();
    g.add_channel("out", Reducer::last_value());
    g.add_node("work", |_state, ctx| async move {
        let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst);
        let a: usize = ctx
            .step_once("a", || async { Ok(RUNS.fetch_add(1, Ordering::SeqCst)) })
            .await?;
        let b: String = ctx
            .step_once("b", || async {
                if FLAKY.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(NodeError::msg("the mail server is down"));
                }
                Ok("sent".to_owned())
            })
            .await?;
        if attempt < 2 {
            return Err(NodeError::msg(format!(
                "attempt {attempt} fails after its steps"
            )));
        }
        Ok(Update::new().set("out", json!([a, b])))
    });
    g.add_retry_policy(
        "work",
        RetryPolicy::new()
            .max_attempts(4)
            .initial_interval(Duration::from_millis(1))
            .jitter(false),
    );
    g.add_edge(START, "work").add_edge("work", END);
    let app = compile(
        &g,
        Arc::new(InMemorySaver::new()),
        Arc::new(MemoryLedger::new()),
    );
    let out = app
        .invoke(json!({}), &Config::thread("t"))
        .await
        .expect("the run");
    assert_eq!(out.values["out"], json!([0, "sent"]));
    assert_eq!(
        ATTEMPTS.load(Ordering::SeqCst),
        3,
        "the node ran three times"
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "step a ran once");
    assert_eq!(
        FLAKY.load(Ordering::SeqCst),
        2,
        "step b ran again after it failed"
    );
}

#[tokio::test]
async fn step_once_without_a_ledger_is_a_clear_error() {
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value());
    g.add_node("n", |_state, ctx| async move {
        let v: i32 = ctx.step_once("k", || async { Ok(1) }).await?;
        Ok(Update::new().set("x", json!(v)))
    });
    g.add_edge(START, "n").add_edge("n", END);
    let app = g
        .compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))
        .expect("compile");
    match app.invoke(json!({}), &Config::thread("t")).await {
        Err(GraphError::NodeFailed { message, .. }) => {
            assert!(
                message.contains("CompileOptions::ledger") && message.contains("\"k\""),
                "{message}"
            );
        }
        other => panic!("expected NodeFailed, got {other:?}"),
    }
}
