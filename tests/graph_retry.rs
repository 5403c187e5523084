//! Retry policies per node (`StateGraph::add_retry_policy`), as LangGraph's
//! `RetryPolicy`: the expectations are what LangGraph 1.2.22 does on the
//! same graph (`tests/langgraph_reference/retry.py`). Every test runs once
//! per saver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, GraphError, NodeError, Reducer, RetryPolicy, START, StateGraph,
    StreamEvent, StreamMode, Update,
};
use checkpointer::{BaseCheckpointSaver, Config};
use futures::StreamExt;
use serde_json::json;

mod graph_support;
use graph_support::*;

/// `START -> flaky`; flaky fails its first `fail_times` calls.
fn flaky_graph(
    saver: &Arc<dyn BaseCheckpointSaver>,
    fail_times: u32,
    policy: RetryPolicy,
) -> (CompiledGraph, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("flaky", {
            let calls = Arc::clone(&calls);
            move |_, _| {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n <= fail_times {
                    return Err(NodeError::msg(format!("attempt {n} failed")));
                }
                Ok(Update::new().set("log", vec![format!("ok after {n}")]))
            }
        })
        .add_retry_policy("flaky", policy)
        .add_edge(START, "flaky");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap();
    (app, calls)
}

fn quick(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .max_attempts(max_attempts)
        .initial_interval(Duration::ZERO)
        .jitter(false)
}

async fn a_node_that_fails_twice_succeeds_on_its_third_attempt(factory: Factory) {
    let (saver, _guard) = factory();
    let (app, calls) = flaky_graph(&saver, 2, quick(3));
    let thread = Config::thread("t");
    let events: Vec<StreamEvent> = app
        .stream(json!({}), &thread, StreamMode::Tasks)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Each failed attempt is in the stream, then the task's end.
    let retries: Vec<(u32, String)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TaskRetry {
                name,
                attempt,
                error,
                step,
                ..
            } => {
                assert_eq!((name.as_str(), *step), ("flaky", 1));
                Some((*attempt, error.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        vec![
            (1, "attempt 1 failed".to_owned()),
            (2, "attempt 2 failed".to_owned())
        ]
    );
    assert!(matches!(
        events.last(),
        Some(StreamEvent::TaskEnd { error: None, .. })
    ));
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.values, json!({"log": ["ok after 3"]}));
    assert!(s.next.is_empty());
}

async fn the_last_attempt_s_error_fails_the_task_and_is_saved(factory: Factory) {
    let (saver, _guard) = factory();
    let (app, calls) = flaky_graph(&saver, 5, quick(3));
    let thread = Config::thread("t");
    let err = app.invoke(json!({}), &thread).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    match &err {
        GraphError::NodeFailed { node, step, .. } => {
            assert_eq!((node.as_str(), *step), ("flaky", 1));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("flaky"), "{err}");
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["flaky"]);
    assert_eq!(s.tasks[0].error.as_deref(), Some("attempt 3 failed"));
}

async fn retry_on_decides_which_errors_retry(factory: Factory) {
    let (saver, _guard) = factory();
    let (app, calls) = flaky_graph(&saver, 5, quick(3).retry_on(|_| false));
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.tasks[0].error.as_deref(), Some("attempt 1 failed"));
}

async fn a_retry_policy_must_name_a_node(_factory: Factory) {
    let mut g = StateGraph::new();
    g.add_sync_node("a", |_, _| Ok(Update::new()))
        .add_edge(START, "a")
        .add_retry_policy("ghost", RetryPolicy::new());
    let err = g.compile(CompileOptions::new()).unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidGraph { reason } if reason.contains("\"ghost\"")),
        "{err}"
    );
}

per_saver_tests!(memory, super::memory_saver;
    a_node_that_fails_twice_succeeds_on_its_third_attempt,
    the_last_attempt_s_error_fails_the_task_and_is_saved,
    retry_on_decides_which_errors_retry,
    a_retry_policy_must_name_a_node,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    a_node_that_fails_twice_succeeds_on_its_third_attempt,
    the_last_attempt_s_error_fails_the_task_and_is_saved,
    retry_on_decides_which_errors_retry,
);
