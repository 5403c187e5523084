//! One thread with a subgraph, two runtimes: the same graph in this crate
//! and in Python LangGraph (`tests/interop/pg_subgraphs.py`) on one
//! PostgreSQL database. The parent `prep -> sub -> finish`, where `sub` is
//! a compiled subgraph `a -> b` sharing the keys `items` (append) and `n`.
//!
//! - Without an interrupt: this crate runs the thread to the end and
//!   Python reads it the way we do.
//! - With `interrupt()` in `b`: this crate runs to the interrupt, Python
//!   sees it (with the subgraph's state) and resumes, running only `b` and
//!   `finish`; and the other way round.
//!
//! "The way we do" is the same values, next tasks, metadata (source,
//! step, parents), parent ids and namespaces for every checkpoint of every
//! namespace (`list`/`get_tuple`), for `get_state` (with and without the
//! subgraphs' snapshots), the parent's history and each subgraph
//! namespace's history. Needs `CHECKPOINTER_PG_URL` and
//! `CHECKPOINTER_PYTHON`; skips without them, and fails under `CI=true`.
#![cfg(feature = "postgres")]

mod pg_support;
mod python_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, END, Reducer, START, StateGraph, StateSnapshot,
    TaskSnapshot, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use pg_support::Schema;
use python_support::{python, run_script, tuples};
use serde_json::{Value, json};

/// Which graph: `b` asks `interrupt("b?")` or not.
#[derive(Clone, Copy)]
enum Variant {
    Plain,
    Ask,
}

impl Variant {
    fn arg(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Ask => "ask",
        }
    }
}

/// Runs `pg_subgraphs.py` on `thread`: its JSON report.
fn run_python(python: &str, schema: &Schema, variant: Variant, mode: &str, thread: &str) -> Value {
    let url = schema.url();
    run_script(
        python,
        "pg_subgraphs.py",
        [url.as_str(), variant.arg(), mode, thread],
    )
}

/// Node calls of this process.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<BTreeMap<String, u64>>>);

impl Calls {
    fn hit(&self, node: &str) {
        *self.0.lock().unwrap().entry(node.to_owned()).or_default() += 1;
    }

    fn get(&self) -> Value {
        json!(*self.0.lock().unwrap())
    }
}

/// A node that appends `item` to `items` and adds one to `n`.
fn step(g: &mut StateGraph, calls: &Calls, name: &'static str, item: &'static str) {
    let calls = calls.clone();
    g.add_sync_node(name, move |s, _| {
        calls.hit(name);
        let n: i64 = s.get("n")?;
        Ok(Update::new().set("items", vec![item]).set("n", n + 1))
    });
}

fn channels(g: &mut StateGraph) -> &mut StateGraph {
    g.add_channel("items", Reducer::append())
        .add_channel("n", Reducer::last_value())
}

/// The subgraph `a -> b` of `pg_subgraphs.py`.
fn subgraph(
    calls: &Calls,
    variant: Variant,
    saver: &Arc<dyn BaseCheckpointSaver>,
) -> CompiledGraph {
    let mut sub = StateGraph::new();
    channels(&mut sub);
    step(&mut sub, calls, "a", "a");
    match variant {
        Variant::Plain => step(&mut sub, calls, "b", "b"),
        Variant::Ask => {
            let calls = calls.clone();
            sub.add_sync_node("b", move |s, ctx| {
                calls.hit("b");
                let answer = ctx.interrupt("b?")?;
                let answer = answer.as_str().unwrap_or_default();
                let n: i64 = s.get("n")?;
                Ok(Update::new()
                    .set("items", vec![format!("b:{answer}")])
                    .set("n", n + 1))
            });
        }
    }
    sub.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    sub.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// The parent `prep -> sub -> finish` of `pg_subgraphs.py`.
fn compile(calls: &Calls, variant: Variant, saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    channels(&mut g);
    let prep_calls = calls.clone();
    g.add_sync_node("prep", move |s, _| {
        prep_calls.hit("prep");
        let n: i64 = s.get("n").unwrap_or(0);
        Ok(Update::new().set("items", vec!["prep"]).set("n", n + 1))
    });
    g.add_subgraph("sub", subgraph(calls, variant, saver));
    step(&mut g, calls, "finish", "finish");
    g.add_edge(START, "prep")
        .add_edge("prep", "sub")
        .add_edge("sub", "finish")
        .add_edge("finish", END);
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

fn interrupts(list: &[checkpointer::graph::Interrupt]) -> Value {
    list.iter()
        .map(|i| json!({"value": i.value, "id": i.id}))
        .collect()
}

/// A task in the form of `pg_subgraphs.py`.
fn task(t: &TaskSnapshot) -> Value {
    let mut out = json!({"id": t.id, "name": t.name, "interrupts": interrupts(&t.interrupts)});
    match &t.subgraph {
        Some(inside) => out["subgraph"] = snapshot(inside),
        None => out["ns"] = json!(t.state.as_ref().map(|c| c.ns().to_owned())),
    }
    out
}

/// A snapshot in the form of `pg_subgraphs.py`.
fn snapshot(s: &StateSnapshot) -> Value {
    json!({
        "ns": s.config.ns(),
        "id": s.config.checkpoint_id,
        "parent": s.parent_config.as_ref().and_then(|p| p.checkpoint_id.clone()),
        "values": s.values,
        "next": s.next,
        "metadata": s.metadata,
        "interrupts": interrupts(&s.interrupts),
        "tasks": s.tasks.iter().map(task).collect::<Vec<_>>(),
    })
}

/// The subgraph namespaces of `tuples`, sorted.
fn namespaces(tuples: &Value) -> Vec<String> {
    let mut all: Vec<String> = tuples
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["ns"].as_str())
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned)
        .collect();
    all.dedup();
    all
}

/// Our reading of `thread` in the form of `pg_subgraphs.py` (all but
/// `calls`).
fn our_reading(
    rt: &tokio::runtime::Runtime,
    app: &CompiledGraph,
    saver: &dyn BaseCheckpointSaver,
    thread: &str,
) -> Value {
    let config = Config::thread(thread);
    let history = |config: &Config| -> Value {
        rt.block_on(app.get_state_history(config, &ListOptions::new()))
            .unwrap()
            .iter()
            .map(snapshot)
            .collect()
    };
    let tuples = tuples(saver, thread);
    let sub_history: serde_json::Map<String, Value> = namespaces(&tuples)
        .into_iter()
        .map(|ns| {
            let h = history(&config.clone().with_ns(ns.clone()));
            (ns, h)
        })
        .collect();
    json!({
        "state": snapshot(&rt.block_on(app.get_state(&config)).unwrap()),
        "state_subgraphs": snapshot(&rt.block_on(app.get_state_subgraphs(&config)).unwrap()),
        "history": history(&config),
        "sub_history": sub_history,
        "tuples": tuples,
    })
}

/// Python and this crate read `thread` alike, part by part (so a failure
/// names the part).
fn assert_same_reading(ours: &Value, theirs: &Value) {
    for part in [
        "tuples",
        "state",
        "state_subgraphs",
        "history",
        "sub_history",
    ] {
        assert_eq!(ours[part], theirs[part], "{part}");
    }
}

/// The reading's checkpoints outside the root namespace all live under
/// one namespace, LangGraph's `sub:<task id of the parent's sub task>`.
fn assert_one_subgraph_namespace(reading: &Value, sub_task: &str) {
    let ns = namespaces(&reading["tuples"]);
    assert_eq!(ns, vec![format!("sub:{sub_task}")]);
}

/// `[source, step]` of each snapshot of a history.
fn steps(history: &Value) -> Value {
    history
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| json!([s["metadata"]["source"], s["metadata"]["step"]]))
        .collect()
}

/// The id of the parent's `sub` task in the reading's history.
fn sub_task_id(reading: &Value) -> String {
    reading["history"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["tasks"].as_array().into_iter().flatten())
        .find(|t| t["name"] == "sub")
        .and_then(|t| t["id"].as_str())
        .expect("a `sub` task in the history")
        .to_owned()
}

/// `prep` twice: the subgraph returns its whole state, `items` included,
/// and the parent's append reducer adds it to what it had (LangGraph's
/// semantics for a shared reducer key, which Python shows too).
fn final_values() -> Value {
    json!({"items": ["prep", "prep", "a", "b", "finish"], "n": 4})
}

fn final_values_asked() -> Value {
    json!({"items": ["prep", "prep", "a", "b:ok", "finish"], "n": 4})
}

#[test]
fn python_reads_a_finished_subgraph_thread_of_this_crate() {
    let (Some(python), Some((saver, schema))) = (
        python("subgraph_finished"),
        pg_support::fresh("subgraph_finished"),
    ) else {
        return;
    };
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(saver);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let thread = "rust-plain";
    let calls = Calls::default();
    let app = compile(&calls, Variant::Plain, &saver);

    let out = rt
        .block_on(app.invoke(json!({"items": [], "n": 0}), &Config::thread(thread)))
        .unwrap();
    assert_eq!(out.values, final_values());
    assert_eq!(calls.get(), json!({"prep": 1, "a": 1, "b": 1, "finish": 1}));

    let theirs = run_python(&python, &schema, Variant::Plain, "read", thread);
    assert_eq!(theirs["calls"], json!({}));
    assert_eq!(theirs["state"]["values"], final_values());
    assert_eq!(theirs["state"]["next"], json!([]));
    let ours = our_reading(&rt, &app, saver.as_ref(), thread);
    assert_one_subgraph_namespace(&ours, &sub_task_id(&ours));
    assert_eq!(
        steps(&ours["sub_history"][format!("sub:{}", sub_task_id(&ours))]),
        json!([["loop", 2], ["loop", 1], ["loop", 0], ["input", -1]]),
        "the subgraph's own checkpoints"
    );
    assert_same_reading(&ours, &theirs);
    drop(rt);
}

/// What both sides must show at the interrupt in `b`.
fn assert_waits_in_b(reading: &Value) {
    let state = &reading["state_subgraphs"];
    assert_eq!(state["next"], json!(["sub"]));
    assert_eq!(state["values"], json!({"items": ["prep"], "n": 1}));
    let sub = &state["tasks"][0];
    assert_eq!(sub["name"], "sub");
    assert_eq!(sub["interrupts"][0]["value"], "b?");
    let inside = &sub["subgraph"];
    assert_eq!(inside["values"], json!({"items": ["prep", "a"], "n": 2}));
    assert_eq!(inside["next"], json!(["b"]));
    assert_eq!(
        inside["ns"],
        json!(format!("sub:{}", sub["id"].as_str().unwrap()))
    );
    assert_eq!(inside["metadata"]["parents"], json!({"": state["id"]}));
}

#[test]
fn this_crate_runs_to_the_interrupt_in_the_subgraph_and_python_resumes() {
    let (Some(python), Some((saver, schema))) = (
        python("subgraph_rust_then_python"),
        pg_support::fresh("subgraph_rust_then_python"),
    ) else {
        return;
    };
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(saver);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let thread = "rust-first";
    let calls = Calls::default();
    let app = compile(&calls, Variant::Ask, &saver);

    let out = rt
        .block_on(app.invoke(json!({"items": [], "n": 0}), &Config::thread(thread)))
        .unwrap();
    assert!(out.is_interrupted());
    assert_eq!(calls.get(), json!({"prep": 1, "a": 1, "b": 1}));

    let theirs = run_python(&python, &schema, Variant::Ask, "read", thread);
    assert_eq!(theirs["calls"], json!({}));
    let ours = our_reading(&rt, &app, saver.as_ref(), thread);
    assert_waits_in_b(&ours);
    assert_waits_in_b(&theirs);
    assert_one_subgraph_namespace(&ours, &sub_task_id(&ours));
    assert_same_reading(&ours, &theirs);

    let theirs = run_python(&python, &schema, Variant::Ask, "resume", thread);
    // Only the interrupted subgraph node and what follows ran there.
    assert_eq!(theirs["calls"], json!({"b": 1, "finish": 1}));
    assert_eq!(theirs["state"]["values"], final_values_asked());
    assert_eq!(theirs["state"]["next"], json!([]));
    assert_same_reading(&our_reading(&rt, &app, saver.as_ref(), thread), &theirs);
    drop(rt);
}

#[test]
fn python_runs_to_the_interrupt_in_the_subgraph_and_this_crate_resumes() {
    let (Some(python), Some((saver, schema))) = (
        python("subgraph_python_then_rust"),
        pg_support::fresh("subgraph_python_then_rust"),
    ) else {
        return;
    };
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(saver);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let thread = "python-first";
    let calls = Calls::default();
    let app = compile(&calls, Variant::Ask, &saver);

    let theirs = run_python(&python, &schema, Variant::Ask, "run", thread);
    assert_eq!(theirs["calls"], json!({"prep": 1, "a": 1, "b": 1}));
    let ours = our_reading(&rt, &app, saver.as_ref(), thread);
    assert_waits_in_b(&theirs);
    assert_waits_in_b(&ours);
    assert_one_subgraph_namespace(&ours, &sub_task_id(&ours));
    assert_same_reading(&ours, &theirs);

    let out = rt
        .block_on(app.invoke(Command::resume("ok"), &Config::thread(thread)))
        .unwrap();
    assert!(!out.is_interrupted(), "{:?}", out.interrupts);
    assert_eq!(out.values, final_values_asked());
    // Only the interrupted subgraph node and what follows ran here.
    assert_eq!(calls.get(), json!({"b": 1, "finish": 1}));

    let theirs = run_python(&python, &schema, Variant::Ask, "read", thread);
    assert_eq!(theirs["state"]["next"], json!([]));
    assert_same_reading(&our_reading(&rt, &app, saver.as_ref(), thread), &theirs);
    drop(rt);
}
