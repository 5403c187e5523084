//! Per-run options (`invoke_with`/`stream_with` with `RunOptions`), thread
//! management through the graph (`delete_thread`, `copy_thread`) and the
//! graph's shape as Mermaid (`to_mermaid`, compared with LangGraph's
//! `draw_mermaid()` of the same graph, printed by
//! `tests/langgraph_reference/mermaid.py`). Every test runs once per saver.

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, Durability, END, GraphError, Input, Reducer, RunOptions, START,
    StateGraph, StreamEvent, StreamMode, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use futures::StreamExt;
use serde_json::json;

mod graph_support;
use graph_support::*;

/// `START -> a -> b -> c`, each appending its name to `log`.
fn abc(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for n in ["a", "b", "c"] {
        g.add_sync_node(n, logger(&c, n));
    }
    g.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c");
    compile(&g, saver)
}

async fn checkpoints(app: &CompiledGraph, thread: &Config) -> usize {
    app.get_state_history(thread, &ListOptions::new())
        .await
        .unwrap()
        .len()
}

async fn run_options_override_the_graph_for_one_run(factory: Factory) {
    let (saver, _guard) = factory();
    let app = abc(&saver);
    // interrupt_before, this run only.
    let t = Config::thread("before");
    let out = app
        .invoke_with(json!({}), &t, &RunOptions::new().interrupt_before(["b"]))
        .await
        .unwrap();
    assert_eq!(
        (out.next, out.values),
        (vec!["b".to_owned()], json!({"log": ["a"]}))
    );
    let out = app.invoke(Input::Continue, &t).await.unwrap();
    assert_eq!(out.values, json!({"log": ["a", "b", "c"]}));
    // interrupt_after.
    let t = Config::thread("after");
    let out = app
        .invoke_with(json!({}), &t, &RunOptions::new().interrupt_after(["b"]))
        .await
        .unwrap();
    assert_eq!(
        (out.next, out.values),
        (vec!["c".to_owned()], json!({"log": ["a", "b"]}))
    );
    // recursion_limit: steps 0 and 1 run, step 2 is the error.
    let t = Config::thread("limit");
    let err = app
        .invoke_with(json!({}), &t, &RunOptions::new().recursion_limit(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::RecursionLimit {
                limit: 0,
                step: 1,
                ..
            }
        ),
        "{err}"
    );
    // The graph's own settings are untouched.
    let out = app
        .invoke(json!({}), &Config::thread("plain"))
        .await
        .unwrap();
    assert_eq!(out.values, json!({"log": ["a", "b", "c"]}));
    // durability Exit: only the last checkpoint is saved.
    let t = Config::thread("exit");
    app.invoke_with(
        json!({}),
        &t,
        &RunOptions::new().durability(Durability::Exit),
    )
    .await
    .unwrap();
    assert_eq!(checkpoints(&app, &t).await, 1);
    assert_eq!(checkpoints(&app, &Config::thread("plain")).await, 5);
}

async fn run_options_naming_an_unknown_node_are_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let app = abc(&saver);
    let bad = RunOptions::new().interrupt_after(["ghost"]);
    let err = app
        .invoke_with(json!({}), &Config::thread("t"), &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidGraph { reason } if reason.contains("interrupt_after") && reason.contains("\"ghost\"")),
        "{err}"
    );
    let events: Vec<_> = app
        .stream_with(json!({}), &Config::thread("t"), StreamMode::Values, &bad)
        .collect()
        .await;
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Err(GraphError::InvalidGraph { .. })));
    // Nothing ran.
    assert_eq!(checkpoints(&app, &Config::thread("t")).await, 0);
}

async fn stream_with_applies_the_options(factory: Factory) {
    let (saver, _guard) = factory();
    let app = abc(&saver);
    let events: Vec<StreamEvent> = app
        .stream_with(
            json!({}),
            &Config::thread("t"),
            StreamMode::Values,
            &RunOptions::new().interrupt_before(["c"]),
        )
        .map(Result::unwrap)
        .collect()
        .await;
    match events.last() {
        Some(StreamEvent::Interrupt { next, .. }) => assert_eq!(next, &["c"]),
        other => panic!("unexpected last event {other:?}"),
    }
}

async fn threads_are_copied_and_deleted_through_the_graph(factory: Factory) {
    let (saver, _guard) = factory();
    let app = abc(&saver);
    let a = Config::thread("a");
    app.invoke(json!({}), &a).await.unwrap();
    app.copy_thread("a", "b").await.unwrap();
    let b = Config::thread("b");
    assert_eq!(checkpoints(&app, &b).await, 5);
    assert_eq!(
        app.get_state(&b).await.unwrap().values,
        json!({"log": ["a", "b", "c"]})
    );
    app.delete_thread("a").await.unwrap();
    assert_eq!(checkpoints(&app, &a).await, 0);
    assert_eq!(checkpoints(&app, &b).await, 5, "the copy stays");
    // An unknown thread is not an error; a missing id is.
    app.delete_thread("nope").await.unwrap();
    assert!(matches!(
        app.delete_thread("").await,
        Err(GraphError::MissingThreadId { .. })
    ));
    assert!(matches!(
        app.copy_thread("b", "").await,
        Err(GraphError::MissingThreadId { .. })
    ));
}

async fn thread_apis_need_a_saver(_factory: Factory) {
    let mut g = StateGraph::new();
    g.add_sync_node("a", |_, _| Ok(Update::new()))
        .add_edge(START, "a");
    let app = g.compile(CompileOptions::new()).unwrap();
    assert!(matches!(
        app.delete_thread("t").await,
        Err(GraphError::NoSaver { .. })
    ));
    assert!(matches!(
        app.copy_thread("t", "u").await,
        Err(GraphError::NoSaver { .. })
    ));
}

/// The graph of `tests/langgraph_reference/mermaid.py`.
#[test]
fn to_mermaid_matches_langgraph() {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", |_, _| Ok(Update::new()))
        .add_sync_node("b", |_, _| Ok(Update::new()))
        .add_sync_node("c", |_, _| Ok(Update::new().goto("a")))
        .add_destinations("c", &["a"])
        .add_sync_node("d", |_, _| Ok(Update::new()))
        .add_edge(START, "a")
        .add_conditional_edges("a", |_| "b", &["b", END])
        .add_edge("b", "c")
        .add_edge(["b", "c"], "d")
        .add_edge("d", END);
    let app = g.compile(CompileOptions::new()).unwrap();
    // LangGraph 1.2.22's `get_graph().draw_mermaid()` of the same graph.
    let expected = "---\nconfig:\n  flowchart:\n    curve: linear\n---\ngraph TD;\n\
        \t__start__([<p>__start__</p>]):::first\n\ta(a)\n\tb(b)\n\tc(c)\n\td(d)\n\
        \t__end__([<p>__end__</p>]):::last\n\
        \t__start__ --> a;\n\ta -.-> __end__;\n\ta -.-> b;\n\tb --> c;\n\tb --> d;\n\
        \tc -.-> a;\n\tc --> d;\n\td --> __end__;\n\
        \tclassDef default fill:#f2f0ff,line-height:1.2\n\tclassDef first fill-opacity:0\n\
        \tclassDef last fill:#bfb6fc\n";
    assert_eq!(app.to_mermaid(), expected);
}

per_saver_tests!(memory, super::memory_saver;
    run_options_override_the_graph_for_one_run,
    run_options_naming_an_unknown_node_are_an_error,
    stream_with_applies_the_options,
    threads_are_copied_and_deleted_through_the_graph,
    thread_apis_need_a_saver,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    run_options_override_the_graph_for_one_run,
    run_options_naming_an_unknown_node_are_an_error,
    stream_with_applies_the_options,
    threads_are_copied_and_deleted_through_the_graph,
);
