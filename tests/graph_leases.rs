//! The graph holds the thread's lease for the length of a run (issue 12,
//! part 1): a second `invoke`, `stream`, `update_state` or `delete_thread`
//! of a running thread is `ThreadBusy` naming the holder, or waits for it
//! with `lease_wait`; a run longer than its TTL keeps its lease (renewed in
//! the background); the lease is released when the run ends (done or
//! failed); a crashed runner's lease expires and `Input::Continue` goes on;
//! a graph without leases on a leased thread is refused, changing nothing;
//! a subgraph runs under its parent's lease. Each test runs on memory,
//! SQLite and (with feature `postgres` and `CHECKPOINTER_PG_URL`)
//! PostgreSQL.

mod lease_support;
#[cfg(feature = "postgres")]
mod pg_support;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, Input, NodeError, Reducer, RunOptions, START,
    StateGraph, StreamMode, Update,
};
use checkpointer::{Config, InMemorySaver, ListOptions, SqliteSaver, ThreadLeases};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;

/// A saver with leases, and what keeps its resources alive; `None` to skip.
type Made = Option<(Arc<dyn ThreadLeases>, Box<dyn Any + Send>)>;

fn memory() -> (Arc<dyn ThreadLeases>, Box<dyn Any + Send>) {
    (Arc::new(InMemorySaver::new()), Box::new(()))
}

fn sqlite() -> (Arc<dyn ThreadLeases>, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let saver = SqliteSaver::open(dir.path().join("leases.db")).expect("open SQLite");
    (Arc::new(saver), Box::new(dir))
}

#[cfg(feature = "postgres")]
fn postgres() -> Made {
    let (saver, schema) = pg_support::fresh("graph_leases")?;
    Some((Arc::new(saver), Box::new(schema)))
}

/// A gate a node waits at: `entered` gets a permit when the node runs,
/// the node goes on when the test adds one to `go`.
#[derive(Clone)]
struct Gate {
    entered: Arc<Semaphore>,
    go: Arc<Semaphore>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            entered: Arc::new(Semaphore::new(0)),
            go: Arc::new(Semaphore::new(0)),
        }
    }

    /// Waits (at most 30 s) until the node is at the gate.
    async fn wait_entered(&self) {
        let entered = tokio::time::timeout(Duration::from_secs(30), self.entered.acquire())
            .await
            .expect("the node reaches the gate within 30 s")
            .expect("the gate is open");
        entered.forget();
    }

    fn open(&self) {
        self.go.add_permits(1_000);
    }
}

/// START -> work -> END; `work` adds 1 to `n`, waiting at `gate` first.
fn graph(gate: &Gate) -> StateGraph {
    let mut g = StateGraph::new();
    let gate = gate.clone();
    g.add_channel(
        "n",
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))),
    )
    .add_node("work", move |_state, _ctx| {
        let gate = gate.clone();
        async move {
            gate.entered.add_permits(1);
            let go = gate.go.acquire().await?;
            go.forget();
            Ok(Update::new().set("n", 1))
        }
    })
    .add_edge(START, "work")
    .add_edge("work", END);
    g
}

fn compile(g: &StateGraph, saver: &Arc<dyn ThreadLeases>, owner: &str) -> Arc<CompiledGraph> {
    let options = CompileOptions::new()
        .leased_saver(Arc::clone(saver))
        .lease_owner(owner);
    Arc::new(g.compile(options).expect("compile"))
}

type RunHandle = tokio::task::JoinHandle<Result<checkpointer::graph::RunOutcome, GraphError>>;

/// Starts a run of `thread` on `app` and waits until its node runs.
async fn start_run(app: &Arc<CompiledGraph>, gate: &Gate, thread: &Config) -> RunHandle {
    let (app, thread) = (Arc::clone(app), thread.clone());
    let run = tokio::spawn(async move { app.invoke(json!({"n": 0}), &thread).await });
    gate.wait_entered().await;
    run
}

/// Two graphs on `saver`, of owners `runner-a` and `runner-b`; a's run of
/// `thread` is at the gate.
async fn two_runners(
    saver: &Arc<dyn ThreadLeases>,
    thread: &Config,
) -> (Gate, Arc<CompiledGraph>, RunHandle) {
    let gate = Gate::new();
    let g = graph(&gate);
    let (a, b) = (
        compile(&g, saver, "runner-a"),
        compile(&g, saver, "runner-b"),
    );
    let run = start_run(&a, &gate, thread).await;
    (gate, b, run)
}

fn assert_busy(err: &GraphError, thread: &str, holder: &str) {
    match err {
        GraphError::ThreadBusy {
            thread_id,
            holder: h,
            ..
        } => {
            assert_eq!(thread_id, thread);
            assert_eq!(h, holder);
            let text = err.to_string();
            assert!(text.contains(thread) && text.contains(holder), "{text}");
        }
        other => panic!("expected ThreadBusy, got {other:?}"),
    }
}

/// The checkpoint ids of the thread that have two or more children (a
/// fork), and the number of checkpoints.
async fn forks(app: &CompiledGraph, thread: &Config) -> (Vec<String>, usize) {
    let history = app
        .get_state_history(thread, &ListOptions::new())
        .await
        .expect("history");
    let forked = lease_support::forked(history.iter().map(|t| t.parent_config.as_ref()));
    (forked, history.len())
}

async fn a_second_run_of_a_running_thread_is_busy(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let thread = Config::thread("busy");
    let (gate, b, run) = two_runners(&saver, &thread).await;

    let err = b.invoke(json!({"n": 0}), &thread).await.unwrap_err();
    assert_busy(&err, "busy", "runner-a");
    let mut stream = b.stream(Input::Continue, &thread, StreamMode::Values);
    let first = stream.next().await.expect("the stream yields its error");
    assert_busy(&first.unwrap_err(), "busy", "runner-a");
    let err = b
        .update_state(&thread, json!({"n": 5}), None)
        .await
        .unwrap_err();
    assert_busy(&err, "busy", "runner-a");
    let err = b.delete_thread("busy").await.unwrap_err();
    assert_busy(&err, "busy", "runner-a");
    // Another thread is not busy: leases are per thread.
    gate.open();
    b.invoke(json!({"n": 0}), &Config::thread("other"))
        .await
        .expect("another thread runs");

    let out = run.await.expect("the run's task").expect("the first run");
    assert_eq!(out.values, json!({"n": 1}));
    assert_eq!(saver.current("busy").expect("current"), None, "released");
    let (forked, _) = forks(&b, &thread).await;
    assert!(forked.is_empty(), "{forked:?}");
}

async fn a_run_waits_for_the_lease_up_to_lease_wait(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let thread = Config::thread("wait");
    let (gate, b, run) = two_runners(&saver, &thread).await;
    let second = {
        let (b, thread) = (Arc::clone(&b), thread.clone());
        let options = RunOptions::new().lease_wait(Duration::from_mins(1));
        tokio::spawn(async move { b.invoke_with(json!({"n": 0}), &thread, &options).await })
    };
    gate.open();
    run.await
        .expect("the first run's task")
        .expect("the first run");
    let out = second
        .await
        .expect("the second run's task")
        .expect("the second run waited for the lease");
    // The second run went on from the first one's end: 1 + 1.
    assert_eq!(out.values, json!({"n": 2}));
    let (forked, len) = forks(&b, &thread).await;
    assert!(forked.is_empty(), "{forked:?}");
    assert!(len >= 6, "two runs of three checkpoints each: {len}");
}

/// A run longer than its lease keeps it: the background renewal extends
/// it, so another runner is still refused after twice the TTL, and the
/// run's writes after that are not refused.
async fn a_long_run_renews_its_lease(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let gate = Gate::new();
    let g = graph(&gate);
    let ttl = Duration::from_secs(1);
    let a = Arc::new(
        g.compile(
            CompileOptions::new()
                .leased_saver(Arc::clone(&saver))
                .lease_owner("runner-a")
                .lease_ttl(ttl),
        )
        .expect("compile"),
    );
    let b = compile(&g, &saver, "runner-b");
    let thread = Config::thread("long");
    let run = start_run(&a, &gate, &thread).await;
    tokio::time::sleep(ttl * 5 / 2).await;
    // Were the lease gone, b would take it and wait at the gate too.
    let err = tokio::time::timeout(Duration::from_secs(30), b.invoke(Input::Continue, &thread))
        .await
        .expect("b is refused, not let in")
        .unwrap_err();
    assert_busy(&err, "long", "runner-a");
    gate.open();
    let out = run.await.expect("the run's task").expect("the long run");
    assert_eq!(out.values, json!({"n": 1}));
}

async fn the_lease_is_released_after_a_failed_run(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_sync_node("fail", |_, _| Err(NodeError::msg("the node fails")))
        .add_edge(START, "fail");
    let app = compile(&g, &saver, "runner-a");
    let thread = Config::thread("failed");
    let err = app.invoke(json!({"n": 0}), &thread).await.unwrap_err();
    assert!(matches!(err, GraphError::NodeFailed { .. }), "{err:?}");
    assert_eq!(saver.current("failed").expect("current"), None);
    // update_state takes and releases the lease too.
    app.update_state(&thread, json!({"n": 3}), Some("fail"))
        .await
        .expect("update_state");
    assert_eq!(saver.current("failed").expect("current"), None);
}

async fn a_crashed_runners_lease_expires_and_continue_goes_on(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let gate = Gate::new();
    gate.open();
    let g = graph(&gate);
    let app = compile(&g, &saver, "runner-b");
    let thread = Config::thread("crashed");
    app.update_state(&thread, json!({"n": 10}), Some("work"))
        .await
        .expect("a first checkpoint");
    // A runner that took the lease and died: nobody renews or releases it.
    saver
        .acquire("crashed", "dead-runner", Duration::from_millis(300))
        .expect("the dead runner's lease");
    let err = app.invoke(Input::Continue, &thread).await.unwrap_err();
    assert_busy(&err, "crashed", "dead-runner");
    let err = app.invoke(json!({"n": 0}), &thread).await.unwrap_err();
    assert_busy(&err, "crashed", "dead-runner");
    let options = RunOptions::new().lease_wait(Duration::from_mins(1));
    let out = app
        .invoke_with(json!({"n": 1}), &thread, &options)
        .await
        .expect("the run takes the expired lease");
    assert_eq!(out.values, json!({"n": 12}));
}

async fn a_graph_without_leases_on_a_leased_thread_is_refused(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let gate = Gate::new();
    gate.open();
    let g = graph(&gate);
    let plain_saver: Arc<dyn checkpointer::BaseCheckpointSaver> = Arc::clone(&saver) as _;
    let plain = g
        .compile(CompileOptions::new().saver(plain_saver))
        .expect("compile");
    let thread = Config::thread("leased");
    // Without a live lease, a graph without leases works as before.
    plain.invoke(json!({"n": 0}), &thread).await.expect("run");
    saver
        .acquire("leased", "someone", Duration::from_mins(10))
        .expect("a lease");
    let err = plain.invoke(json!({"n": 0}), &thread).await.unwrap_err();
    match &err {
        GraphError::LeaseLost {
            thread_id, holder, ..
        } => {
            assert_eq!(thread_id, "leased");
            assert_eq!(holder.as_deref(), Some("someone"));
        }
        other => panic!("expected LeaseLost, got {other:?}"),
    }
    assert_eq!(
        plain.get_state(&thread).await.expect("state").values,
        json!({"n": 1}),
        "the refused run changed nothing"
    );
}

async fn a_subgraph_runs_under_its_parents_lease(made: Made) {
    let Some((saver, _guard)) = made else { return };
    let gate = Gate::new();
    gate.open();
    let child = compile(&graph(&gate), &saver, "child");
    let mut parent = StateGraph::new();
    parent
        .add_channel(
            "n",
            Reducer::custom(|c, u| json!(c.as_i64().unwrap_or(0) + u.as_i64().unwrap_or(0))),
        )
        .add_subgraph("child", (*child).clone())
        .add_edge(START, "child")
        .add_edge("child", END);
    let app = compile(&parent, &saver, "parent");
    let out = app
        .invoke(json!({"n": 0}), &Config::thread("nested"))
        .await
        .expect("the parent and its subgraph run under one lease");
    assert_eq!(out.values["n"], json!(1));
    assert_eq!(saver.current("nested").expect("current"), None);
}

/// One `#[tokio::test]` per saver for each case.
macro_rules! lease_tests {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(Some(super::memory())).await }) *
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(Some(super::sqlite())).await }) *
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let made = tokio::task::spawn_blocking(super::postgres).await.expect("open");
                super::$case(made).await
            }) *
        }
    };
}

lease_tests!(
    a_second_run_of_a_running_thread_is_busy,
    a_run_waits_for_the_lease_up_to_lease_wait,
    a_long_run_renews_its_lease,
    the_lease_is_released_after_a_failed_run,
    a_crashed_runners_lease_expires_and_continue_goes_on,
    a_graph_without_leases_on_a_leased_thread_is_refused,
    a_subgraph_runs_under_its_parents_lease,
);
