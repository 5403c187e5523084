//! Streaming: the stream modes, complete streams that end with the error
//! or the interrupt, and streaming outside a runtime. Every test runs once
//! per saver (see `streaming_tests!` at the bottom).

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, GraphError, Input, NodeError, Reducer, START, StateGraph,
    StreamEvent, StreamMode,
};
use checkpointer::{BaseCheckpointSaver, Config};
use futures::StreamExt;
use serde_json::{Value, json};

mod graph_support;
use graph_support::*;

// ---------------------------------------------------------------------------
// Streams

async fn stream_modes(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&linear(&c), &saver);
    values_mode_streams_every_state(&app).await;
    updates_mode_streams_each_node_update(&app).await;
    tasks_mode_streams_task_start_and_end(&app).await;
    interrupted_stream_ends_with_the_interrupt(&c, &saver).await;
    failed_stream_ends_with_the_error(&saver).await;
}

/// `StreamMode::Values`: the state after every step, from the input on.
async fn values_mode_streams_every_state(app: &CompiledGraph) {
    let values: Vec<StreamEvent> = app
        .stream(json!({"x": 1}), &Config::thread("v"), StreamMode::Values)
        .map(Result::unwrap)
        .collect()
        .await;
    let vals: Vec<(i64, Value)> = values
        .into_iter()
        .map(|e| match e {
            StreamEvent::Values { step, values } => (step, values),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        vals,
        vec![
            (-1, json!({"log": []})),
            (0, json!({"x": 1, "log": []})),
            (1, json!({"x": 1, "log": ["a"]})),
            (2, json!({"x": 1, "log": ["a", "b"]})),
        ]
    );
}

/// `StreamMode::Updates`: what each node wrote.
async fn updates_mode_streams_each_node_update(app: &CompiledGraph) {
    let updates: Vec<(String, Value)> = app
        .stream(json!({"x": 1}), &Config::thread("u"), StreamMode::Updates)
        .map(|e| match e.unwrap() {
            StreamEvent::Updates { node, update, .. } => (node, update),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
        .await;
    assert_eq!(
        updates,
        vec![
            ("a".to_owned(), json!({"log": "a"})),
            ("b".to_owned(), json!({"log": "b"})),
        ]
    );
}

/// `StreamMode::Tasks`: a start and an end event per task.
async fn tasks_mode_streams_task_start_and_end(app: &CompiledGraph) {
    let tasks: Vec<StreamEvent> = app
        .stream(json!({"x": 1}), &Config::thread("k"), StreamMode::Tasks)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(tasks.len(), 4);
    match (&tasks[0], &tasks[1]) {
        (
            StreamEvent::TaskStart {
                name,
                id,
                triggers,
                step,
            },
            StreamEvent::TaskEnd {
                name: n2,
                id: id2,
                result,
                error,
                ..
            },
        ) => {
            assert_eq!((name.as_str(), n2.as_str(), *step), ("a", "a", 1));
            assert_eq!(id, id2);
            assert_eq!(triggers, &vec!["branch:to:a".to_owned()]);
            assert_eq!(
                result.as_ref().unwrap(),
                &json!([["log", "a"], ["branch:to:b", "a"]])
            );
            assert!(error.is_none());
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A run stopped by an interrupt ends with an Interrupt event.
async fn interrupted_stream_ends_with_the_interrupt(
    c: &Counter,
    saver: &Arc<dyn BaseCheckpointSaver>,
) {
    let paused = linear(c)
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(saver))
                .interrupt_before(["b"]),
        )
        .unwrap();
    let events: Vec<StreamEvent> = paused
        .stream(json!({"x": 1}), &Config::thread("i"), StreamMode::Updates)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Interrupt {
            interrupts: vec![],
            next: vec!["b".to_owned()]
        })
    );
    // Continuing streams the resumed state first.
    let resumed: Vec<StreamEvent> = paused
        .stream(Input::Continue, &Config::thread("i"), StreamMode::Values)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(resumed.len(), 2);
    assert!(
        matches!(&resumed[0], StreamEvent::Values { step: 1, values } if values["log"] == json!(["a"]))
    );
}

/// An error ends the stream with Err.
async fn failed_stream_ends_with_the_error(saver: &Arc<dyn BaseCheckpointSaver>) {
    let mut g = StateGraph::new();
    g.add_sync_node("bad", |_, _| Err(checkpointer::graph::NodeError::msg("no")))
        .add_edge(START, "bad");
    let bad = compile(&g, saver);
    let events: Vec<_> = bad
        .stream(json!({}), &Config::thread("e"), StreamMode::Values)
        .collect()
        .await;
    assert!(matches!(
        events.last(),
        Some(Err(GraphError::NodeFailed { .. }))
    ));
}

async fn streams_are_complete_and_end_with_the_error(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&fan_graph(&c), &saver);
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t"), StreamMode::Updates)
        .collect()
        .await;
    let nodes: Vec<String> = events
        .iter()
        .map(|e| match e.as_ref().unwrap() {
            StreamEvent::Updates { step, node, .. } => format!("{step}:{node}"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[2], "2:z");
    let values: Vec<_> = app
        .stream(json!({}), &Config::thread("t2"), StreamMode::Values)
        .collect()
        .await;
    let steps: Vec<i64> = values
        .iter()
        .map(|e| match e.as_ref().unwrap() {
            StreamEvent::Values { step, .. } => *step,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(steps, vec![-1, 0, 1, 2]);

    // Tasks mode: per step, every task starts before any ends; ends carry
    // the writes; steps only grow.
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t4"), StreamMode::Tasks)
        .collect()
        .await;
    let mut trace = Vec::new();
    for e in &events {
        match e.as_ref().unwrap() {
            StreamEvent::TaskStart { step, name, .. } => trace.push((*step, 0, name.clone())),
            StreamEvent::TaskEnd {
                step, name, result, ..
            } => {
                assert_eq!(result.as_ref().unwrap()[0], json!(["log", name]));
                trace.push((*step, 1, name.clone()));
            }
            other => panic!("{other:?}"),
        }
    }
    let mut sorted = trace.clone();
    sorted.sort_by_key(|(step, kind, _)| (*step, *kind));
    assert_eq!(
        trace.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
        sorted.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>()
    );
    let mut names: Vec<_> = trace
        .iter()
        .map(|t| format!("{}{}:{}", t.0, t.1, t.2))
        .collect();
    names.sort();
    assert_eq!(names, ["10:a", "10:b", "11:a", "11:b", "20:z", "21:z"]);

    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("ok", logger(&c, "ok"))
        .add_sync_node("bad", |_, _| Err(NodeError::msg("broken")))
        .add_edge(START, "ok")
        .add_edge(START, "bad");
    let app = compile(&g, &saver);
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t3"), StreamMode::Tasks)
        .collect()
        .await;
    let last = events.last().unwrap();
    assert!(
        matches!(last, Err(GraphError::NodeFailed { node, .. }) if node == "bad"),
        "{last:?}"
    );
    let ends = events
        .iter()
        .filter(|e| matches!(e, Ok(StreamEvent::TaskEnd { .. })))
        .count();
    assert_eq!(ends, 2);
}

async fn stream_ends_with_the_interrupt(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&two_askers(&c), &saver);
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t"), StreamMode::Values)
        .collect()
        .await;
    match events.last().unwrap() {
        Ok(StreamEvent::Interrupt { interrupts, next }) => {
            assert_eq!(interrupts.len(), 2);
            assert_eq!(next, &vec!["p".to_owned(), "q".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stream_outside_a_runtime_is_an_error_not_a_panic() {
    let c = Counter::default();
    let app = linear(&c).compile(CompileOptions::new()).unwrap();
    let events: Vec<_> = futures::executor::block_on(
        app.stream(json!({}), &Config::thread("t"), StreamMode::Values)
            .collect::<Vec<_>>(),
    );
    assert!(matches!(
        events.as_slice(),
        [Err(GraphError::NoRuntime {
            operation: "stream"
        })]
    ));
}

/// Every test above, once per saver.
macro_rules! streaming_tests {
    ($module:ident, $factory:path) => {
        streaming_tests!(@with per_saver_tests, $module, $factory);
    };
    (@with $emit:ident, $module:ident, $factory:path) => {
        $emit!($module, $factory;
            stream_modes,
            streams_are_complete_and_end_with_the_error,
            stream_ends_with_the_interrupt,
        );
    };
}

streaming_tests!(memory, super::memory_saver);
streaming_tests!(sqlite, super::sqlite_saver);

#[cfg(feature = "postgres")]
streaming_tests!(@with pg_tests, postgres, super::postgres_saver);
