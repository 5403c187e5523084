//! The driver's client owns a small tokio runtime, which must not be
//! created, used or dropped on a tokio worker thread (`PostgresSaver`
//! moves that work off the worker). A graph on a `PostgresSaver` inside a
//! multi-thread runtime (what `#[tokio::main]` builds) and inside a
//! current-thread one: the saver is opened, the graph runs (a Send
//! fan-out, an interrupt, its answer) and both are dropped there, without
//! a panic. The graph's Sends and interrupt are stored as the objects
//! Python rebuilds (ext 1 `Send`, ext 2 `Interrupt`). Needs
//! `CHECKPOINTER_PG_URL` (see `pg_support`).
#![cfg(feature = "postgres")]

mod pg_support;

use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, END, Reducer, START, SendTo, State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, PostgresSaver};
use pg_support::Schema;
use serde_json::json;

/// plan -> 3 x work (Sends) -> review (asks "approve?") -> END.
fn graph() -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("done", Reducer::append())
        .add_channel("verdict", Reducer::last_value())
        .add_sync_node("plan", |_, _| Ok(Update::new()))
        .add_sync_node("work", |s, _| {
            let item: i64 = s.get("item")?;
            Ok(Update::new().set("done", vec![item]))
        })
        .add_sync_node("review", |_, ctx| {
            let verdict = ctx.interrupt("approve?")?;
            Ok(Update::new().set("verdict", verdict))
        })
        .add_edge(START, "plan")
        .add_conditional_edges(
            "plan",
            |_: &State| {
                (0..3)
                    .map(|i| SendTo::new("work", json!({ "item": i })))
                    .collect::<Vec<_>>()
            },
            &["work"],
        )
        .add_edge("work", "review")
        .add_edge("review", END);
    g
}

/// Opens, runs and drops everything on the calling runtime.
async fn run_here(url: String) {
    let saver: Arc<dyn BaseCheckpointSaver> =
        Arc::new(PostgresSaver::open(&url).expect("open on the runtime"));
    let app = graph()
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .expect("compile");
    let thread = Config::thread("t");
    let out = app
        .invoke(json!({}), &thread)
        .await
        .expect("run to the interrupt");
    assert_eq!(out.interrupts.len(), 1, "{out:?}");
    assert_eq!(out.interrupts[0].value, json!("approve?"));
    let out = app
        .invoke(Command::resume(json!("yes")), &thread)
        .await
        .expect("resume");
    assert_eq!(out.values["verdict"], json!("yes"));
    assert_eq!(out.values["done"], json!([0, 1, 2]));
    drop(app);
    drop(saver);
}

/// The stored Sends are ext 1 and the interrupt ext 2, as Python writes
/// them (`c7 <len> <code>` after the list header where there is one).
fn check_python_forms(schema: &Schema) {
    let mut client = schema.client();
    let mut writes = |channel: &str| -> Vec<Vec<u8>> {
        let sql = "SELECT blob FROM checkpoint_writes WHERE channel = $1";
        let rows = client.query(sql, &[&channel]).expect("the writes");
        rows.iter().map(|r| r.get(0)).collect()
    };
    let sends = writes("__pregel_tasks");
    assert_eq!(sends.len(), 3, "one write per Send");
    for send in &sends {
        assert_eq!((send[0], send[2]), (0xc7, 1), "{send:02x?}");
    }
    let interrupts = writes("__interrupt__");
    assert!(!interrupts.is_empty());
    for list in &interrupts {
        assert_eq!((list[0], list[1], list[3]), (0x91, 0xc7, 2), "{list:02x?}");
    }
}

#[test]
fn a_graph_on_postgres_lives_and_dies_inside_a_multi_thread_runtime() {
    let Some(url) = pg_support::server_url("tokio_main_graph") else {
        return;
    };
    // The test's own client (Schema) is made and dropped off the runtime.
    let schema = Schema::new(&url);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = schema.url();
    runtime
        .block_on(async { tokio::spawn(run_here(url)).await })
        .expect("the graph ran on a worker without panicking");
    drop(runtime);
    check_python_forms(&schema);
}

#[test]
fn a_graph_on_postgres_lives_and_dies_inside_a_current_thread_runtime() {
    let Some(url) = pg_support::server_url("current_thread_graph") else {
        return;
    };
    let schema = Schema::new(&url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run_here(schema.url()));
    drop(runtime);
    check_python_forms(&schema);
}
