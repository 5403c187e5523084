//! Where the runtime follows LangGraph 1.2.22 on behaviour it once did
//! differently: reducer defaults, fork step numbers, the recursion limit,
//! `get_state` after a stopped step, pending `Command` writes in
//! snapshots. Each expectation is what LangGraph does on the same graph,
//! printed by `tests/langgraph_reference/parity.py` (see the README
//! there). Every test runs once per saver.

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, Input, NodeContext, NodeResult, Reducer, START,
    State, StateGraph, Update,
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

macro_rules! parity_tests {
    ($module:ident, $factory:path) => {
        per_saver_tests!($module, $factory;
            reducer_defaults_show_in_nodes_outcomes_and_snapshots,
            a_fork_is_the_replayed_step_plus_one,
            recursion_limit_runs_and_checkpoints_step_n,
            recursion_limit_on_a_resume_counts_from_its_checkpoint,
        );
    };
}

parity_tests!(memory, super::memory_saver);
parity_tests!(sqlite, super::sqlite_saver);
