//! Where the runtime follows LangGraph 1.2.22 on behaviour it once did
//! differently: reducer defaults, fork step numbers, the recursion limit,
//! `get_state` after a stopped step, pending `Command` writes in
//! snapshots. Each expectation is what LangGraph does on the same graph,
//! printed by `tests/langgraph_reference/parity.py` (see the README
//! there). Every test runs once per saver.

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, Input, NodeContext, NodeResult, Reducer, START,
    SendTo, State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, Config, ListOptions, StateSnapshot};
use serde_json::{Value, json};

mod graph_support;
use graph_support::*;

/// History as LangGraph's script prints it: step, source, next, values.
type Row = (i64, CheckpointSource, Vec<String>, Value);

async fn history(app: &CompiledGraph, thread: &Config) -> Vec<Row> {
    let h = app
        .get_state_history(thread, &ListOptions::new())
        .await
        .unwrap();
    h.iter().map(row).collect()
}

fn row(s: &StateSnapshot) -> Row {
    let m = s.metadata.as_ref().unwrap();
    (m.step, m.source, s.next.clone(), s.values.clone())
}

fn r(step: i64, source: CheckpointSource, next: &[&str], values: Value) -> Row {
    (
        step,
        source,
        next.iter().map(|n| (*n).to_owned()).collect(),
        values,
    )
}

/// A node that appends `"<name>@<step>"` to `log`.
fn stepper(name: &'static str) -> impl Fn(&State, &NodeContext) -> NodeResult + Send + Sync {
    move |_, ctx| Ok(Update::new().set("log", vec![format!("{name}@{}", ctx.step())]))
}

/// `START -> names[0] -> ... -> names[last] -> END`, channel `log` (append).
fn chain(
    names: &[&'static str],
    saver: &Arc<dyn BaseCheckpointSaver>,
    options: CompileOptions,
) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for n in names {
        g.add_sync_node(*n, stepper(n));
    }
    g.add_edge(START, names[0]);
    for w in names.windows(2) {
        g.add_edge(w[0], w[1]);
    }
    g.add_edge(names[names.len() - 1], END);
    g.compile(options.saver(Arc::clone(saver))).unwrap()
}

// ---------------------------------------------------------------------------
// 1. Reducer channels never written read as the reducer's default.

async fn reducer_defaults_show_in_nodes_outcomes_and_snapshots(factory: Factory) {
    let (saver, _guard) = factory();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_channel(
            "total",
            Reducer::custom(|c, u| json!(c.as_i64().unwrap_or(0) + u.as_i64().unwrap_or(0)))
                .with_default(json!(0)),
        )
        .add_sync_node("a", {
            let seen = Arc::clone(&seen);
            move |s: &State, _: &NodeContext| {
                seen.lock().unwrap().push(s.to_value());
                // Before: MissingChannel for `log` and `total`.
                let log: Vec<String> = s.get("log")?;
                let total: i64 = s.get("total")?;
                assert!(log.is_empty() && total == 0);
                Ok(Update::new().set("x", s.get::<i64>("x")? + 1))
            }
        })
        .add_edge(START, "a")
        .add_edge("a", END);
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let thread = Config::thread("t");
    let out = app.invoke(json!({"x": 1}), &thread).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![json!({"x": 1, "log": [], "total": 0})]
    );
    assert_eq!(out.values, json!({"x": 2, "log": [], "total": 0}));
    assert_eq!(
        history(&app, &thread).await,
        vec![
            r(1, LOOP, &[], json!({"x": 2, "log": [], "total": 0})),
            r(0, LOOP, &["a"], json!({"x": 1, "log": [], "total": 0})),
            r(-1, INPUT, &["__start__"], json!({"log": [], "total": 0})),
        ]
    );
    // The defaults are not stored, as in LangGraph.
    let stored = saver.get_tuple(&thread).unwrap().unwrap();
    let user: Vec<&String> = stored
        .checkpoint
        .channel_values
        .keys()
        .filter(|k| ["x", "log", "total"].contains(&k.as_str()))
        .collect();
    assert_eq!(user, vec!["x"]);
}

// ---------------------------------------------------------------------------
// 2. A fork is numbered the replayed step + 1.

async fn a_fork_is_the_replayed_step_plus_one(factory: Factory) {
    let (saver, _guard) = factory();
    let app = chain(&["a", "b", "c"], &saver, CompileOptions::new());
    let thread = Config::thread("t");
    app.invoke(json!({"log": []}), &thread).await.unwrap();
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    let target = h.iter().find(|s| s.next == ["b"]).unwrap();
    let out = app.invoke(Input::Continue, &target.config).await.unwrap();
    assert_eq!(out.values, json!({"log": ["a@1", "b@3", "c@4"]}));
    assert_eq!(
        history(&app, &thread).await,
        vec![
            r(4, LOOP, &[], json!({"log": ["a@1", "b@3", "c@4"]})),
            r(3, LOOP, &["c"], json!({"log": ["a@1", "b@3"]})),
            r(2, FORK, &["b"], json!({"log": ["a@1"]})),
            r(3, LOOP, &[], json!({"log": ["a@1", "b@2", "c@3"]})),
            r(2, LOOP, &["c"], json!({"log": ["a@1", "b@2"]})),
            r(1, LOOP, &["b"], json!({"log": ["a@1"]})),
            r(0, LOOP, &["a"], json!({"log": []})),
            r(-1, INPUT, &["__start__"], json!({"log": []})),
        ]
    );
}

// ---------------------------------------------------------------------------
// 5. With a recursion limit of N, step N runs and is checkpointed.

fn assert_limit(err: &GraphError, limit: usize, step: i64) {
    assert!(
        matches!(err, GraphError::RecursionLimit { limit: l, step: s, .. } if *l == limit && *s == step),
        "{err}"
    );
}

async fn recursion_limit_runs_and_checkpoints_step_n(factory: Factory) {
    let (saver, _guard) = factory();
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let app = chain(&names, &saver, CompileOptions::new()).with_recursion_limit(2);
    let thread = Config::thread("t");
    let err = app.invoke(json!({"log": []}), &thread).await.unwrap_err();
    assert_limit(&err, 2, 3);
    assert_eq!(
        history(&app, &thread).await,
        vec![
            r(2, LOOP, &["c"], json!({"log": ["a@1", "b@2"]})),
            r(1, LOOP, &["b"], json!({"log": ["a@1"]})),
            r(0, LOOP, &["a"], json!({"log": []})),
            r(-1, INPUT, &["__start__"], json!({"log": []})),
        ]
    );
}

async fn recursion_limit_fails_after_step_n_even_with_nothing_left(factory: Factory) {
    let (saver, _guard) = factory();
    // a -> b -> c at limit 3: step 3 runs c and leaves nothing to run, yet
    // step 4 is past the limit, and LangGraph raises there (parity.py 5d).
    let app = chain(&["a", "b", "c"], &saver, CompileOptions::new()).with_recursion_limit(3);
    let thread = Config::thread("t");
    let err = app.invoke(json!({"log": []}), &thread).await.unwrap_err();
    assert_limit(&err, 3, 4);
    assert_eq!(
        history(&app, &thread).await,
        vec![
            r(3, LOOP, &[], json!({"log": ["a@1", "b@2", "c@3"]})),
            r(2, LOOP, &["c"], json!({"log": ["a@1", "b@2"]})),
            r(1, LOOP, &["b"], json!({"log": ["a@1"]})),
            r(0, LOOP, &["a"], json!({"log": []})),
            r(-1, INPUT, &["__start__"], json!({"log": []})),
        ]
    );
    // a -> b ends at step 2: step 3 finds nothing to run within the limit.
    let short = chain(&["a", "b"], &saver, CompileOptions::new()).with_recursion_limit(3);
    let other = Config::thread("u");
    let out = short.invoke(json!({"log": []}), &other).await.unwrap();
    assert_eq!(out.values, json!({"log": ["a@1", "b@2"]}));
    assert_eq!(history(&short, &other).await.len(), 4);
}

async fn recursion_limit_stops_a_loop_at_step_n(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel(
        "n",
        // `Annotated[int, operator.add]`: a sum whose default is int() = 0.
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0)))
            .with_default(json!(0)),
    )
    .add_sync_node("inc", |_, _| Ok(Update::new().set("n", 1)))
    .add_sync_node("check", |_, _| Ok(Update::new()))
    .add_edge(START, "inc")
    .add_edge("inc", "check")
    .add_conditional_edges(
        "check",
        |s: &State| {
            if s.get::<i64>("n").unwrap_or(0) >= 4 {
                END
            } else {
                "inc"
            }
        },
        &["inc", END],
    );
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap()
        .with_recursion_limit(4);
    let thread = Config::thread("t");
    let err = app.invoke(json!({"n": 0}), &thread).await.unwrap_err();
    assert_limit(&err, 4, 5);
    // parity.py 5e.
    assert_eq!(
        history(&app, &thread).await,
        vec![
            r(4, LOOP, &["inc"], json!({"n": 2})),
            r(3, LOOP, &["check"], json!({"n": 2})),
            r(2, LOOP, &["inc"], json!({"n": 1})),
            r(1, LOOP, &["check"], json!({"n": 1})),
            r(0, LOOP, &["inc"], json!({"n": 0})),
            r(-1, INPUT, &["__start__"], json!({"n": 0})),
        ]
    );
}

async fn recursion_limit_on_a_resume_counts_from_its_checkpoint(factory: Factory) {
    let (saver, _guard) = factory();
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let app = chain(
        &names,
        &saver,
        CompileOptions::new().interrupt_before(["c"]),
    );
    let thread = Config::thread("t");
    let out = app.invoke(json!({"log": []}), &thread).await.unwrap();
    assert_eq!(out.values, json!({"log": ["a@1", "b@2"]}));
    let err = app
        .clone()
        .with_recursion_limit(2)
        .invoke(Input::Continue, &thread)
        .await
        .unwrap_err();
    assert_limit(&err, 2, 7);
    let h = history(&app, &thread).await;
    assert_eq!(
        h[..2],
        [
            r(
                6,
                LOOP,
                &["g"],
                json!({"log": ["a@1", "b@2", "c@3", "d@4", "e@5", "f@6"]})
            ),
            r(
                5,
                LOOP,
                &["f"],
                json!({"log": ["a@1", "b@2", "c@3", "d@4", "e@5"]})
            ),
        ]
    );
    assert_eq!(h.len(), 8);
}

// ---------------------------------------------------------------------------
// 3. `get_state` of the latest checkpoint after a stopped step shows the
//    finished tasks' writes and leaves them out of `next`
//    (tests/langgraph_reference/stopped_steps.py).

/// `START -> each of nodes`, channels `log` (append) and `x` (last value).
fn parallel(
    saver: &Arc<dyn BaseCheckpointSaver>,
    nodes: Vec<(&'static str, NodeFn)>,
) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("x", Reducer::last_value());
    for (name, f) in nodes {
        g.add_sync_node(name, f).add_edge(START, name);
    }
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

type NodeFn = fn(&State, &NodeContext) -> NodeResult;

const WORKER: NodeFn = |_, _| Ok(Update::new().set("log", vec!["worker"]));

fn asker(_: &State, ctx: &NodeContext) -> NodeResult {
    let answer = ctx.interrupt("go?")?;
    Ok(Update::new().set(
        "log",
        vec![format!("asker:{}", answer.as_str().unwrap_or(""))],
    ))
}

fn failer(_: &State, _: &NodeContext) -> NodeResult {
    Err(checkpointer::graph::NodeError::msg("boom"))
}

/// A task as the script prints it: name, failed, interrupted, finished.
type TaskRow = (String, bool, bool, bool);
/// A snapshot as the script prints it.
type Shown = (Value, Vec<String>, Vec<Value>, Vec<TaskRow>);

/// What the Python script prints of a snapshot: values, next, interrupt
/// values, and per task (name, failed, interrupted, finished).
fn show(s: &StateSnapshot) -> Shown {
    (
        s.values.clone(),
        s.next.clone(),
        s.interrupts.iter().map(|i| i.value.clone()).collect(),
        s.tasks
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.error.is_some(),
                    !t.interrupts.is_empty(),
                    t.result.is_some(),
                )
            })
            .collect(),
    )
}

fn tasks(list: &[(&str, bool, bool, bool)]) -> Vec<TaskRow> {
    list.iter()
        .map(|(n, e, i, r)| ((*n).to_owned(), *e, *i, *r))
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

async fn get_state_after_an_interrupt_applies_the_finished_writes(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parallel(&saver, vec![("worker", WORKER), ("asker", asker)]);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let task_list = tasks(&[
        ("asker", false, true, false),
        ("worker", false, false, true),
    ]);
    assert_eq!(
        show(&app.get_state(&thread).await.unwrap()),
        (
            json!({"log": ["worker"]}),
            names(&["asker"]),
            vec![json!("go?")],
            task_list.clone()
        )
    );
    // The same checkpoint named by its id, and in the history: a record
    // of the step, every task in `next`, values as the step started.
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    let record = (
        json!({"log": []}),
        names(&["asker", "worker"]),
        vec![json!("go?")],
        task_list,
    );
    assert_eq!(show(&h[0]), record);
    assert_eq!(show(&app.get_state(&h[0].config).await.unwrap()), record);
}

async fn get_state_after_an_error_applies_the_finished_writes(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parallel(&saver, vec![("worker", WORKER), ("failer", failer)]);
    let thread = Config::thread("t");
    let err = app.invoke(json!({}), &thread).await.unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    assert_eq!(
        show(&app.get_state(&thread).await.unwrap()),
        (
            json!({"log": ["worker"]}),
            names(&["failer"]),
            vec![],
            tasks(&[
                ("failer", true, false, false),
                ("worker", false, false, true)
            ])
        )
    );
}

const W1: NodeFn = |_, _| Ok(Update::new().set("x", 1));
const W2: NodeFn = |_, _| Ok(Update::new().set("x", 2));

async fn get_state_of_conflicting_finished_writes_is_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parallel(&saver, vec![("w1", W1), ("w2", W2), ("failer", failer)]);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap_err();
    // LangGraph: InvalidUpdateError "At key 'x': Can receive only one value
    // per step".
    let err = app.get_state(&thread).await.unwrap_err();
    match err {
        GraphError::ConflictingUpdate {
            channel,
            first_node,
            second_node,
            step,
            thread_id,
        } => assert_eq!(
            (
                channel.as_str(),
                first_node.as_str(),
                second_node.as_str(),
                step,
                thread_id.as_str()
            ),
            ("x", "w1", "w2", 1, "t")
        ),
        other => panic!("unexpected {other:?}"),
    }
    // The history, a record of the step, still reads.
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(h[0].next, names(&["failer", "w1", "w2"]));
}

// ---------------------------------------------------------------------------
// 4. A `Command`'s update saved against a checkpoint shows in its snapshot.

async fn a_snapshot_applies_the_pending_command_update(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parallel(&saver, vec![("asker", asker)]);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let stopped = app.get_state(&thread).await.unwrap().config;
    let out = app
        .invoke(
            checkpointer::graph::Command::resume("yes").with_update(json!({"x": 5})),
            &thread,
        )
        .await
        .unwrap();
    assert_eq!(out.values, json!({"log": ["asker:yes"], "x": 5}));
    let asked = tasks(&[("asker", false, true, true)]);
    assert_eq!(
        show(&app.get_state(&stopped).await.unwrap()),
        (
            json!({"log": [], "x": 5}),
            names(&["asker"]),
            vec![json!("go?")],
            asked.clone()
        )
    );
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        h.iter().map(show).collect::<Vec<_>>(),
        vec![
            (
                json!({"log": ["asker:yes"], "x": 5}),
                vec![],
                vec![],
                vec![]
            ),
            (
                json!({"log": [], "x": 5}),
                names(&["asker"]),
                vec![json!("go?")],
                asked
            ),
            (
                json!({"log": []}),
                names(&["__start__"]),
                vec![],
                tasks(&[("__start__", false, false, true)])
            ),
        ]
    );
}

// ---------------------------------------------------------------------------
// 6. A node routes with its update (`Update::goto`, LangGraph's returned
//    `Command(update=..., goto=...)`), beside its static edges
//    (tests/langgraph_reference/node_command.py).

async fn a_node_routes_with_goto_and_send_beside_its_edges(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", |_, _| {
            Ok(Update::new()
                .set("log", vec!["a"])
                .goto("c")
                .goto(SendTo::new("d", json!({"log": ["to-d"]}))))
        })
        .add_destinations("a", &["c", "d"]);
    for n in ["b", "c", "d"] {
        g.add_sync_node(n, move |s: &State, _: &NodeContext| {
            let seen = s.get::<Vec<Value>>("log")?.len();
            Ok(Update::new().set("log", vec![format!("{n} saw {seen}")]))
        });
    }
    g.add_edge(START, "a").add_edge("a", "b");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let thread = Config::thread("t");
    let out = app.invoke(json!({"log": []}), &thread).await.unwrap();
    let done = json!({"log": ["a", "b saw 1", "c saw 1", "d saw 1"]});
    assert_eq!(out.values, done);
    let h = history(&app, &thread).await;
    // `next` as LangGraph lists it: the Send task first.
    assert_eq!(
        h,
        vec![
            r(2, LOOP, &[], done.clone()),
            r(1, LOOP, &["d", "b", "c"], json!({"log": ["a"]})),
            r(0, LOOP, &["a"], json!({"log": []})),
            r(-1, INPUT, &["__start__"], json!({"log": []})),
        ]
    );
    // a's saved writes: the update, its gotos, then its static edge, as
    // LangGraph orders them.
    let step0 = saver
        .list(Some(&thread), &ListOptions::new())
        .unwrap()
        .into_iter()
        .find(|t| t.metadata.step == 0)
        .unwrap();
    let channels: Vec<&str> = step0
        .pending_writes
        .iter()
        .map(|w| w.channel.as_str())
        .collect();
    assert_eq!(
        channels,
        ["log", "branch:to:c", "__pregel_tasks", "branch:to:b"]
    );
    assert_eq!(
        step0.pending_writes[2].value,
        json!({"node": "d", "arg": {"log": ["to-d"]}})
    );
}

async fn a_goto_to_an_unknown_node_fails_the_task(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", |_, _| Ok(Update::new().goto("ghost")))
        .add_edge(START, "a");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let err = app
        .invoke(json!({}), &Config::thread("t"))
        .await
        .unwrap_err();
    match &err {
        GraphError::InvalidUpdate {
            node, step, reason, ..
        } => {
            assert_eq!((node.as_str(), *step), ("a", 1));
            assert!(reason.contains("\"ghost\""), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

macro_rules! parity_tests {
    ($module:ident, $factory:path) => {
        per_saver_tests!($module, $factory;
            reducer_defaults_show_in_nodes_outcomes_and_snapshots,
            a_fork_is_the_replayed_step_plus_one,
            recursion_limit_runs_and_checkpoints_step_n,
            recursion_limit_on_a_resume_counts_from_its_checkpoint,
            recursion_limit_fails_after_step_n_even_with_nothing_left,
            recursion_limit_stops_a_loop_at_step_n,
            get_state_after_an_interrupt_applies_the_finished_writes,
            get_state_after_an_error_applies_the_finished_writes,
            get_state_of_conflicting_finished_writes_is_an_error,
            a_snapshot_applies_the_pending_command_update,
            a_node_routes_with_goto_and_send_beside_its_edges,
            a_goto_to_an_unknown_node_fails_the_task,
        );
    };
}

parity_tests!(memory, super::memory_saver);
parity_tests!(sqlite, super::sqlite_saver);
