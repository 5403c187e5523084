//! One thread, two runtimes: the same graph in this crate and in Python
//! LangGraph (`tests/interop/pg_resume.py`) on one PostgreSQL database. A
//! loop (`count` until n = 3), a Send fan-out to three `work` tasks, an
//! interrupt in `review` and its resume.
//!
//! - Python runs to the interrupt, this crate resumes and finishes;
//! - this crate runs to the interrupt, Python resumes and finishes.
//!
//! Neither side runs a task the other finished (node calls are counted on
//! both sides), both see the other's pending interrupt and pending Sends
//! with the same task and interrupt ids at every checkpoint, and Python's
//! `list`/`get_tuple` and ours give the same values, metadata, parents and
//! pending writes for every checkpoint. Needs `CHECKPOINTER_PG_URL` and
//! `CHECKPOINTER_PYTHON`; skips without them, and fails under `CI=true`.
#![cfg(feature = "postgres")]

mod pg_support;
mod python_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, END, Route, START, SendTo, State, StateGraph,
    StateSnapshot, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use pg_support::Schema;
use python_support::{python, run_script, tuples};
use serde_json::{Value, json};

/// Runs `pg_resume.py` in `mode` on `thread`: its JSON report.
fn run_python(python: &str, schema: &Schema, mode: &str, thread: &str) -> Value {
    run_script(
        python,
        "pg_resume.py",
        [schema.url().as_str(), mode, thread],
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

/// The graph of `pg_resume.py`.
fn graph(calls: &Calls) -> StateGraph {
    let mut g = StateGraph::new();
    let (count_calls, work_calls, review_calls) = (calls.clone(), calls.clone(), calls.clone());
    g.add_channel("n", checkpointer::graph::Reducer::last_value())
        .add_channel("results", checkpointer::graph::Reducer::append())
        .add_channel("verdict", checkpointer::graph::Reducer::last_value())
        .add_sync_node("count", move |s, _| {
            count_calls.hit("count");
            let n: i64 = s.get("n").unwrap_or(0);
            Ok(Update::new().set("n", n + 1))
        })
        .add_sync_node("work", move |s, _| {
            work_calls.hit("work");
            let item: i64 = s.get("item")?;
            Ok(Update::new().set("results", item))
        })
        .add_sync_node("review", move |_, ctx| {
            review_calls.hit("review");
            let verdict = ctx.interrupt("approve?")?;
            Ok(Update::new().set("verdict", verdict))
        })
        .add_edge(START, "count")
        .add_conditional_edges(
            "count",
            |s: &State| -> Route {
                if s.get::<i64>("n").unwrap_or(0) < 3 {
                    "count".into()
                } else {
                    (0..3)
                        .map(|i| SendTo::new("work", json!({ "item": i })))
                        .collect::<Vec<_>>()
                        .into()
                }
            },
            &["count", "work"],
        )
        .add_edge("work", "review")
        .add_edge("review", END);
    g
}

fn compile(calls: &Calls, saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    graph(calls)
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// A snapshot in the form of `pg_resume.py`.
fn snapshot(s: &StateSnapshot) -> Value {
    json!({
        "values": s.values,
        "next": s.next,
        "interrupts": s.interrupts.iter()
            .map(|i| json!({"value": i.value, "id": i.id}))
            .collect::<Vec<_>>(),
        "tasks": s.tasks.iter().map(|t| json!([t.id, t.name])).collect::<Vec<_>>(),
    })
}

/// Our `get_state` and history in the form of `pg_resume.py`.
fn our_state(rt: &tokio::runtime::Runtime, app: &CompiledGraph, thread: &str) -> (Value, Value) {
    let config = Config::thread(thread);
    let state = rt.block_on(app.get_state(&config)).unwrap();
    let history = rt
        .block_on(app.get_state_history(&config, &ListOptions::new()))
        .unwrap();
    let history: Vec<Value> = history
        .iter()
        .map(|s| {
            let mut v = snapshot(s);
            v["id"] = json!(s.config.checkpoint_id);
            v
        })
        .collect();
    (snapshot(&state), Value::Array(history))
}

/// Python and this crate read `thread` alike: the same tuples, the same
/// state and the same next tasks (by id) at every checkpoint.
fn assert_same_reading(
    rt: &tokio::runtime::Runtime,
    app: &CompiledGraph,
    saver: &dyn BaseCheckpointSaver,
    theirs: &Value,
    thread: &str,
) {
    assert_eq!(tuples(saver, thread), theirs["tuples"], "list/get_tuple");
    let (state, history) = our_state(rt, app, thread);
    assert_eq!(state, theirs["state"], "get_state");
    assert_eq!(history, theirs["history"], "get_state_history");
}

fn final_values() -> Value {
    json!({"n": 3, "results": [0, 1, 2], "verdict": "ok"})
}

#[test]
fn python_runs_to_the_interrupt_and_this_crate_resumes() {
    let (Some(python), Some((saver, schema))) = (
        python("python_then_rust"),
        pg_support::fresh("python_then_rust"),
    ) else {
        return;
    };
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(saver);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let thread = "python-first";
    let calls = Calls::default();
    let app = compile(&calls, &saver);

    let theirs = run_python(&python, &schema, "run", thread);
    assert_eq!(theirs["calls"], json!({"count": 3, "work": 3, "review": 1}));
    assert_eq!(theirs["state"]["next"], json!(["review"]));
    assert_same_reading(&rt, &app, saver.as_ref(), &theirs, thread);
    // Python's pending Sends, seen here with Python's task ids.
    let sends = theirs["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["next"] == json!(["work", "work", "work"]));
    assert!(sends.is_some(), "{}", theirs["history"]);

    let out = rt
        .block_on(app.invoke(Command::resume("ok"), &Config::thread(thread)))
        .unwrap();
    assert!(!out.is_interrupted(), "{:?}", out.interrupts);
    assert_eq!(out.values, final_values());
    // Only the interrupted task ran here.
    assert_eq!(calls.get(), json!({"review": 1}));

    let theirs = run_python(&python, &schema, "read", thread);
    assert_eq!(theirs["state"]["values"], final_values());
    assert_eq!(theirs["state"]["next"], json!([]));
    assert_same_reading(&rt, &app, saver.as_ref(), &theirs, thread);
    drop(rt);
}

#[test]
fn this_crate_runs_to_the_interrupt_and_python_resumes() {
    let (Some(python), Some((saver, schema))) = (
        python("rust_then_python"),
        pg_support::fresh("rust_then_python"),
    ) else {
        return;
    };
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(saver);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let thread = "rust-first";
    let calls = Calls::default();
    let app = compile(&calls, &saver);

    let out = rt
        .block_on(app.invoke(json!({"n": 0}), &Config::thread(thread)))
        .unwrap();
    assert_eq!(calls.get(), json!({"count": 3, "work": 3, "review": 1}));
    assert_eq!(out.next, vec!["review"]);
    let ours: Vec<Value> = out
        .interrupts
        .iter()
        .map(|i| json!({"value": i.value, "id": i.id}))
        .collect();

    let theirs = run_python(&python, &schema, "read", thread);
    assert_eq!(theirs["calls"], json!({}));
    assert_eq!(theirs["state"]["interrupts"], json!(ours));
    assert_eq!(theirs["state"]["next"], json!(["review"]));
    assert_same_reading(&rt, &app, saver.as_ref(), &theirs, thread);
    let sends = theirs["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["next"] == json!(["work", "work", "work"]));
    assert!(sends.is_some(), "{}", theirs["history"]);

    let theirs = run_python(&python, &schema, "resume", thread);
    // Only the interrupted task ran there.
    assert_eq!(theirs["calls"], json!({"review": 1}));
    assert_eq!(theirs["state"]["values"], final_values());
    assert_eq!(theirs["state"]["next"], json!([]));
    assert_same_reading(&rt, &app, saver.as_ref(), &theirs, thread);
    drop(rt);
}
