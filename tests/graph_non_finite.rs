//! A NaN or an infinity in a state value (issue 18's defect 8): refused
//! with an error naming the node, the channel and where in the value it
//! is, instead of being stored as `null`. Every test runs once per saver.

use std::sync::Arc;

use checkpointer::Config;
use checkpointer::graph::{CompileOptions, GraphError, Input, Reducer, START, StateGraph, Update};
use serde::Serialize;
use serde_json::json;

mod graph_support;
use graph_support::*;

#[derive(Serialize)]
struct Stats {
    mean: f64,
    samples: Vec<f64>,
}

async fn a_non_finite_float_fails_the_task_instead_of_becoming_null(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("stats", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("measure", |s, _| {
            let n: f64 = s.get_or_default("n")?;
            Ok(Update::new().set("log", "measured").set(
                "stats",
                Stats {
                    mean: 0.0 / n,
                    samples: vec![1.0, f64::INFINITY],
                },
            ))
        })
        .add_channel("n", Reducer::last_value())
        .add_edge(START, "measure");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let thread = Config::thread("t");
    let err = app.invoke(json!({"n": 0.0}), &thread).await.unwrap_err();
    match &err {
        GraphError::InvalidUpdate {
            node,
            step,
            thread_id,
            reason,
        } => {
            assert_eq!(
                (node.as_str(), *step, thread_id.as_str()),
                ("measure", 1, "t")
            );
            assert!(
                reason.contains("\"stats\"") && reason.contains("NaN at $.mean"),
                "{reason}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // Nothing of the task is stored: no `null` stats, the error saved.
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.values, json!({"n": 0.0, "log": []}));
    assert_eq!(s.next, vec!["measure"]);
    assert!(
        s.tasks[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("NaN"))
    );
    // With a finite mean, the infinity in the samples is named.
    app.update_state(&thread, json!({"n": 2.0}), Some(START))
        .await
        .unwrap();
    let err = app
        .invoke(Input::Continue, &thread)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("inf at $.samples[1]"), "{err}");
}

per_saver_tests!(memory, super::memory_saver;
    a_non_finite_float_fails_the_task_instead_of_becoming_null,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    a_non_finite_float_fails_the_task_instead_of_becoming_null,
);
