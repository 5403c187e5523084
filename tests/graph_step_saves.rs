//! How a durable (`Durability::Sync`) run saves a superstep: the writes of
//! tasks that end while others still run are saved as they end; the
//! writes of the last task (and of those that ended with it) go with the
//! step's checkpoint in one `put_with_writes` call. Every test runs on the in-memory, the SQLite and the PostgreSQL
//! saver (feature `postgres`), through
//! `Recorder`: the hooked test wrapper, which logs the calls it gets.
//!
//! The order in which a step's tasks end is forced, not timed: a task that
//! must end late waits until the recorder has counted enough stored
//! `put_writes` calls.

use std::sync::Arc;

use checkpointer::conformance::{HookedSaver, Op};
use checkpointer::graph::{Durability, END, GraphError, Input, Reducer, START, StateGraph, Update};
use checkpointer::saver::ERROR;
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, SqliteSaver};
use serde_json::{Value, json};
use tokio::sync::watch;

mod graph_support;
use graph_support::*;

/// A write call the recorder saw (calls that failed are not logged).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Put,
    PutWrites {
        task_id: String,
        channels: Vec<String>,
    },
    /// The task ids of its batches, in order.
    PutWithWrites {
        task_ids: Vec<String>,
    },
}

/// A real saver in the hooked test wrapper, which records every call, and a
/// count of the stored `put_writes` calls that nodes can wait on.
struct Recorder {
    saver: Arc<HookedSaver<Arc<dyn BaseCheckpointSaver>>>,
    /// How many `put_writes` calls were stored.
    saved_writes: Arc<watch::Sender<u32>>,
}

impl Recorder {
    fn new(inner: Arc<dyn BaseCheckpointSaver>) -> Arc<Self> {
        let saved_writes = Arc::new(watch::Sender::new(0));
        let count = Arc::clone(&saved_writes);
        let saver = HookedSaver::new(inner).on_finish(move |call| {
            if call.op == Op::PutWrites && call.succeeded() {
                count.send_modify(|n| *n += 1);
            }
        });
        Arc::new(Recorder {
            saver: Arc::new(saver),
            saved_writes,
        })
    }

    /// The recording saver, for the graph.
    fn saver(&self) -> Arc<dyn BaseCheckpointSaver> {
        self.saver.clone()
    }

    /// The write calls stored so far, in order.
    fn calls(&self) -> Vec<Call> {
        self.saver
            .calls()
            .into_iter()
            .filter(checkpointer::conformance::Call::succeeded)
            .filter_map(|call| match call.op {
                Op::Put => Some(Call::Put),
                Op::PutWrites => Some(Call::PutWrites {
                    task_id: call.task_ids[0].clone(),
                    channels: call.write_channels,
                }),
                Op::PutWithWrites => Some(Call::PutWithWrites {
                    task_ids: call.task_ids,
                }),
                _ => None,
            })
            .collect()
    }

    fn clear(&self) {
        self.saver.clear_calls();
    }
}

/// A node that waits until `after` `put_writes` calls were stored (the
/// writes of the tasks that must end before it), fails on its first run
/// if `fail_first`, and else appends its name to `log`.
fn node(
    g: &mut StateGraph,
    c: &Counter,
    name: &'static str,
    saved: &watch::Sender<u32>,
    after: u32,
    fail_first: bool,
) {
    let (c, saved) = (c.clone(), saved.subscribe());
    g.add_node(name, move |_state, _ctx| {
        let (c, mut saved) = (c.clone(), saved.clone());
        async move {
            saved.wait_for(|n| *n >= after).await?;
            if c.hit(name) == 1 && fail_first {
                return Err(checkpointer::graph::NodeError::msg("flaky"));
            }
            Ok(Update::new().set("log", name))
        }
    });
}

/// `START -> a, b, c -> END`: one parallel step. `order` gives, per node,
/// how many stored `put_writes` calls it waits for.
fn fan_out(
    c: &Counter,
    saved: &watch::Sender<u32>,
    order: [(&'static str, u32, bool); 3],
) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for (name, after, fail) in order {
        node(&mut g, c, name, saved, after, fail);
        g.add_edge(START, name).add_edge(name, END);
    }
    g
}

/// The ids of the tasks pending at the checkpoint of `step`, by node.
async fn task_ids(
    app: &checkpointer::graph::CompiledGraph,
    thread: &Config,
    step: i64,
) -> std::collections::BTreeMap<String, String> {
    let history = app
        .get_state_history(thread, &ListOptions::new())
        .await
        .unwrap();
    let snapshot = history
        .iter()
        .find(|s| s.metadata.as_ref().unwrap().step == step)
        .unwrap();
    snapshot
        .tasks
        .iter()
        .map(|t| (t.name.clone(), t.id.clone()))
        .collect()
}

fn writes_of(id: &str) -> Call {
    Call::PutWrites {
        task_id: id.to_owned(),
        channels: vec!["log".to_owned()],
    }
}

/// The writes pending at `config`'s checkpoint, as (task id, value).
fn pending_writes(saver: &Arc<dyn BaseCheckpointSaver>, config: &Config) -> Vec<(String, Value)> {
    let tuple = saver.get_tuple(config).unwrap().unwrap();
    tuple
        .pending_writes
        .iter()
        .map(|w| (w.task_id.clone(), w.value.clone()))
        .collect()
}

/// The writes of `a`, `b` and `c` (each its name), in task path order.
fn abc_writes(ids: &std::collections::BTreeMap<String, String>) -> Vec<(String, Value)> {
    ["a", "b", "c"]
        .iter()
        .map(|name| (ids[*name].clone(), json!(name)))
        .collect()
}

/// Asserts that `calls` are the input `put`, the `__start__` step and
/// one fused save of the parallel step carrying `a`, `b` and `c` (in any
/// order).
fn assert_one_fused_step(calls: &[Call], ids: &std::collections::BTreeMap<String, String>) {
    let [
        Call::Put,
        Call::PutWithWrites { .. },
        Call::PutWithWrites { task_ids },
    ] = calls
    else {
        panic!("input, __start__, one fused save for the parallel step: {calls:?}");
    };
    let mut fused = task_ids.clone();
    fused.sort();
    let mut expected = vec![ids["a"].clone(), ids["b"].clone(), ids["c"].clone()];
    expected.sort();
    assert_eq!(fused, expected);
}

/// In a step of three tasks, the two that end first are saved with
/// `put_writes` as they end; the last one with the step's checkpoint, in
/// one `put_with_writes`. The parent checkpoint holds all three tasks'
/// writes; a single-task step is one call.
async fn last_task_writes_go_with_the_checkpoint(factory: Factory) {
    let (inner, _guard) = factory();
    let recorder = Recorder::new(inner);
    let saver = recorder.saver();
    let c = Counter::default();
    // a ends first, then b, then c.
    let g = fan_out(
        &c,
        &recorder.saved_writes,
        [("a", 0, false), ("b", 1, false), ("c", 2, false)],
    );
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({"log": []}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "c"]));

    let start = task_ids(&app, &thread, -1).await;
    let ids = task_ids(&app, &thread, 0).await;
    assert_eq!(
        recorder.calls(),
        vec![
            // The input checkpoint, then the __start__ step: one task, so
            // one call.
            Call::Put,
            Call::PutWithWrites {
                task_ids: vec![start["__start__"].clone()],
            },
            writes_of(&ids["a"]),
            writes_of(&ids["b"]),
            Call::PutWithWrites {
                task_ids: vec![ids["c"].clone()],
            },
        ]
    );

    // The step's starting checkpoint holds every task's writes, in task
    // path order, and the new checkpoint names it as its parent.
    let history = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    let parent = history[1].config.clone();
    assert_eq!(history[0].parent_config.as_ref(), Some(&parent));
    assert_eq!(pending_writes(&saver, &parent), abc_writes(&ids));
    assert!(
        history[1].tasks.iter().all(|t| t.result.is_some()),
        "{:?}",
        history[1].tasks
    );
    assert_eq!((c.get("a"), c.get("b"), c.get("c")), (1, 1, 1));
}

/// Parallel tasks that have all ended by the time the runner looks go
/// with the step's checkpoint together: one `put_with_writes` carrying
/// every task's writes, no `put_writes` of their own. On a current-thread
/// runtime the three spawned tasks run to their end before the runner's
/// future is polled again, so they end together, deterministically.
async fn tasks_that_end_together_go_with_the_checkpoint(factory: Factory) {
    let (inner, _guard) = factory();
    let recorder = Recorder::new(inner);
    let saver = recorder.saver();
    let c = Counter::default();
    let g = fan_out(
        &c,
        &recorder.saved_writes,
        [("a", 0, false), ("b", 0, false), ("c", 0, false)],
    );
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({"log": []}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "c"]));

    let ids = task_ids(&app, &thread, 0).await;
    assert_one_fused_step(&recorder.calls(), &ids);

    // The step's starting checkpoint holds every task's writes, in task
    // path order, whatever order they were saved in.
    let history = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(pending_writes(&saver, &history[1].config), abc_writes(&ids));
    assert_eq!((c.get("a"), c.get("b"), c.get("c")), (1, 1, 1));
}

/// A parallel task that ends a few scheduler turns after the others (here
/// it yields twice) still shares the step's commit: the tasks that ended
/// first yield to it before their writes would be saved alone. A task
/// that ends much later does not hold the others back
/// (`last_task_writes_go_with_the_checkpoint`: there `b` cannot end before
/// `a`'s writes are stored).
async fn a_task_a_few_turns_behind_shares_the_commit(factory: Factory) {
    let (inner, _guard) = factory();
    let recorder = Recorder::new(inner);
    let saver = recorder.saver();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for (name, turns) in [("a", 0), ("b", 2), ("c", 0)] {
        g.add_node(name, move |_state, _ctx| async move {
            for _ in 0..turns {
                tokio::task::yield_now().await;
            }
            Ok(Update::new().set("log", name))
        });
        g.add_edge(START, name).add_edge(name, END);
    }
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({"log": []}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "c"]));
    let ids = task_ids(&app, &thread, 0).await;
    assert_one_fused_step(&recorder.calls(), &ids);
}

#[tokio::test]
async fn a_task_a_few_turns_behind_shares_the_commit_memory() {
    a_task_a_few_turns_behind_shares_the_commit(memory_saver).await;
}

#[tokio::test]
async fn a_task_a_few_turns_behind_shares_the_commit_sqlite() {
    a_task_a_few_turns_behind_shares_the_commit(sqlite_saver).await;
}

#[tokio::test]
async fn tasks_that_end_together_go_with_the_checkpoint_memory() {
    tasks_that_end_together_go_with_the_checkpoint(memory_saver).await;
}

#[tokio::test]
async fn tasks_that_end_together_go_with_the_checkpoint_sqlite() {
    tasks_that_end_together_go_with_the_checkpoint(sqlite_saver).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn tasks_that_end_together_go_with_the_checkpoint_postgres() {
    let name = "tasks_that_end_together_go_with_the_checkpoint_postgres";
    if graph_support::pg_support::server_url(name).is_some() {
        tasks_that_end_together_go_with_the_checkpoint(postgres_saver).await;
    }
}

/// `Async` and `Exit` durability save as before: writes with
/// `put_writes`, checkpoints with `put`, never `put_with_writes`.
async fn other_durabilities_do_not_fuse(factory: Factory) {
    for durability in [Durability::Async, Durability::Exit] {
        let (inner, _guard) = factory();
        let recorder = Recorder::new(inner);
        let saver = recorder.saver();
        let c = Counter::default();
        // Nobody waits: under Exit nothing is saved before the end.
        let g = fan_out(
            &c,
            &recorder.saved_writes,
            [("a", 0, false), ("b", 0, false), ("c", 0, false)],
        );
        let app = compile(&g, &saver).with_durability(durability);
        let out = app
            .invoke(json!({"log": []}), &Config::thread("t"))
            .await
            .unwrap();
        assert_eq!(out.values["log"], json!(["a", "b", "c"]));
        let calls = recorder.calls();
        assert!(
            calls
                .iter()
                .all(|call| !matches!(call, Call::PutWithWrites { .. })),
            "{durability:?}: {calls:?}"
        );
        assert!(calls.contains(&Call::Put), "{durability:?}: {calls:?}");
    }
}

/// A task fails in a parallel step, first or last: the tasks that ended
/// are saved as they end (nothing waits for a checkpoint that will not
/// come), and a resume runs only the failed task, whose step then ends
/// with one `put_with_writes`.
async fn failure_in_a_parallel_step_does_not_rerun_finished_tasks(factory: Factory) {
    // (who fails, order): c fails first; or c fails last.
    let orders = [
        [("c", 0, true), ("a", 1, false), ("b", 2, false)],
        [("a", 0, false), ("b", 1, false), ("c", 2, true)],
    ];
    for order in orders {
        let (inner, _guard) = factory();
        let recorder = Recorder::new(inner);
        let saver = recorder.saver();
        let c = Counter::default();
        let g = fan_out(&c, &recorder.saved_writes, order);
        let app = compile(&g, &saver);
        let thread = Config::thread("t");
        let err = app.invoke(json!({"log": []}), &thread).await.unwrap_err();
        assert!(
            matches!(&err, GraphError::NodeFailed { node, .. } if node == "c"),
            "{err:?}"
        );
        let ids = task_ids(&app, &thread, 0).await;
        let step_calls: Vec<Call> = recorder.calls().split_off(2);
        let expected: Vec<Call> = order
            .iter()
            .map(|(name, _, fails)| {
                if *fails {
                    Call::PutWrites {
                        task_id: ids[*name].clone(),
                        channels: vec![ERROR.to_owned()],
                    }
                } else {
                    writes_of(&ids[*name])
                }
            })
            .collect();
        assert_eq!(step_calls, expected, "order {order:?}");

        recorder.clear();
        // The resumed step runs c alone (the saves it waits for are done).
        let out = app.invoke(Input::Continue, &thread).await.unwrap();
        assert_eq!(out.values["log"], json!(["a", "b", "c"]));
        assert_eq!(
            (c.get("a"), c.get("b"), c.get("c")),
            (1, 1, 2),
            "order {order:?}"
        );
        assert_eq!(
            recorder.calls(),
            vec![Call::PutWithWrites {
                task_ids: vec![ids["c"].clone()],
            }]
        );
    }
}

/// The step's tasks all end, but their writes conflict: there is no
/// checkpoint, so the last task's writes are saved alone, and a resume
/// runs no task again (it meets the same conflict).
async fn conflict_after_the_step_saves_the_last_writes_alone(factory: Factory) {
    let (inner, _guard) = factory();
    let recorder = Recorder::new(inner);
    let saver = recorder.saver();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value());
    for (name, after) in [("a", 0u32), ("b", 1)] {
        let (c, saved) = (c.clone(), recorder.saved_writes.subscribe());
        g.add_node(name, move |_state, _ctx| {
            let (c, mut saved) = (c.clone(), saved.clone());
            async move {
                saved.wait_for(|n| *n >= after).await?;
                c.hit(name);
                Ok(Update::new().set("x", name))
            }
        })
        .add_edge(START, name)
        .add_edge(name, END);
    }
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    for attempt in 0..2 {
        let err = app
            .invoke(
                if attempt == 0 {
                    Input::Values(json!({}))
                } else {
                    Input::Continue
                },
                &thread,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, GraphError::ConflictingUpdate { step: 1, .. }),
            "{err:?}"
        );
        assert_eq!((c.get("a"), c.get("b")), (1, 1), "attempt {attempt}");
    }
    let ids = task_ids(&app, &thread, 0).await;
    let x = |id: &str| Call::PutWrites {
        task_id: id.to_owned(),
        channels: vec!["x".to_owned()],
    };
    let calls = recorder.calls();
    assert_eq!(calls[2..], [x(&ids["a"]), x(&ids["b"])], "{calls:?}");
    // The latest state applies the finished writes, which conflict: an
    // error, as LangGraph's `get_state` raises; the history's record of
    // the step still shows both tasks finished.
    let err = app.get_state(&thread).await.unwrap_err();
    assert!(
        matches!(err, GraphError::ConflictingUpdate { step: 1, .. }),
        "{err:?}"
    );
    let history = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    let state = &history[0];
    assert!(state.tasks.iter().all(|t| t.result.is_some()), "{state:?}");
}

per_saver_tests!(memory, super::memory_saver;
    last_task_writes_go_with_the_checkpoint,
    other_durabilities_do_not_fuse,
    failure_in_a_parallel_step_does_not_rerun_finished_tasks,
    conflict_after_the_step_saves_the_last_writes_alone,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    last_task_writes_go_with_the_checkpoint,
    other_durabilities_do_not_fuse,
    failure_in_a_parallel_step_does_not_rerun_finished_tasks,
    conflict_after_the_step_saves_the_last_writes_alone,
);
#[cfg(feature = "postgres")]
pg_tests!(postgres, super::postgres_saver;
    last_task_writes_go_with_the_checkpoint,
    other_durabilities_do_not_fuse,
    failure_in_a_parallel_step_does_not_rerun_finished_tasks,
    conflict_after_the_step_saves_the_last_writes_alone,
);

/// The fused save of a step fails (SQLite refuses the checkpoint row): the
/// run fails with the saver's error, but the task's writes are then saved
/// on their own, as they were before the checkpoint's save, so a resume
/// does not run the task again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_save_keeps_the_task_writes() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteSaver::open(dir.path().join("graph.db")).unwrap();
    // Refuse the checkpoint of step 1 (the one after node a).
    sqlite
        .pool()
        .get()
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_step_1 BEFORE INSERT ON checkpoints WHEN NEW.step = 1 \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .unwrap();
    let sqlite = Arc::new(sqlite);
    let recorder = Recorder::new(sqlite.clone());
    let saver = recorder.saver();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let err = app.invoke(json!({"log": []}), &thread).await.unwrap_err();
    assert!(
        matches!(
            &err,
            GraphError::Saver {
                operation: "put_with_writes",
                ..
            }
        ),
        "{err:?}"
    );
    let ids = task_ids(&app, &thread, 0).await;
    // The fused call failed; then a's writes were saved alone.
    let calls = recorder.calls();
    assert!(
        matches!(&calls[2..], [Call::PutWrites { task_id, .. }] if *task_id == ids["a"]),
        "{calls:?}"
    );
    let state = app.get_state(&thread).await.unwrap();
    assert_eq!(state.metadata.as_ref().unwrap().step, 0);
    assert_eq!(state.tasks.len(), 1);
    assert!(state.tasks[0].result.is_some(), "{state:?}");

    sqlite
        .pool()
        .get()
        .unwrap()
        .execute_batch("DROP TRIGGER refuse_step_1")
        .unwrap();
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b"]));
    assert_eq!((c.get("a"), c.get("b")), (1, 1));
}
