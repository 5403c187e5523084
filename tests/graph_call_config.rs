//! Per-call options as config keys: `recursion_limit` (where LangGraph
//! reads it, on the config) and `durability` in `Config::configurable`,
//! beside `RunOptions`; a key given both ways with two values is an error,
//! a key of the wrong form too; a subgraph inherits the keys. The
//! expectations are what LangGraph 1.2.22 does on the same graphs
//! (`tests/langgraph_reference/call_config.py`). Every test runs once per
//! saver.

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, Durability, GraphError, Reducer, RunOptions, START, StateGraph,
    Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use serde_json::json;

mod graph_support;
use graph_support::*;

/// `spin -> spin -> ...`, counting in `n`: only the recursion limit stops it.
fn spin(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_sync_node("spin", |s, _| {
            Ok(Update::new().set("n", s.get_or_default::<i64>("n")? + 1))
        })
        .add_edge(START, "spin")
        .add_edge("spin", "spin");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// Steps of thread `thread`'s checkpoints in namespace `ns`, newest first.
fn steps(saver: &Arc<dyn BaseCheckpointSaver>, thread: &str, ns: &str) -> Vec<i64> {
    saver
        .list(
            Some(&Config::thread(thread).with_ns(ns)),
            &ListOptions::new(),
        )
        .unwrap()
        .into_iter()
        .map(|t| t.metadata.step)
        .collect()
}

async fn recursion_limit_on_the_config_limits_the_run(factory: Factory) {
    let (saver, _guard) = factory();
    let app = spin(&saver);
    let config = Config::thread("t").with_configurable("recursion_limit", 2);
    let err = app.invoke(json!({}), &config).await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::RecursionLimit {
                limit: 2,
                step: 3,
                ..
            }
        ),
        "{err}"
    );
    let last = saver.get_tuple(&Config::thread("t")).unwrap().unwrap();
    assert_eq!(last.metadata.step, 2);
    assert_eq!(last.checkpoint.channel_values["n"], json!(2));
    // As in LangGraph, the option is not stored as checkpoint metadata.
    assert_eq!(last.metadata.get("recursion_limit"), None);
    assert!(last.metadata.extra.is_empty(), "{:?}", last.metadata.extra);
}

async fn a_key_given_twice_must_agree(factory: Factory) {
    let (saver, _guard) = factory();
    let app = spin(&saver);
    let config = Config::thread("t").with_configurable("recursion_limit", 2);
    let err = app
        .invoke_with(json!({}), &config, &RunOptions::new().recursion_limit(3))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidCommand { reason, .. }
            if reason.contains("recursion_limit") && reason.contains("RunOptions")),
        "{err}"
    );
    assert!(steps(&saver, "t", "").is_empty(), "nothing ran");
    // The same value both ways is no conflict.
    let err = app
        .invoke_with(json!({}), &config, &RunOptions::new().recursion_limit(2))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::RecursionLimit { limit: 2, .. }));
}

async fn a_key_of_the_wrong_form_is_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let app = spin(&saver);
    // LangGraph: "recursion_limit must be at least 1".
    for (key, value) in [
        ("recursion_limit", json!(0)),
        ("recursion_limit", json!("ten")),
        ("durability", json!("never")),
    ] {
        let config = Config::thread("t").with_configurable(key, value.clone());
        let err = app.invoke(json!({}), &config).await.unwrap_err();
        assert!(
            matches!(&err, GraphError::InvalidCommand { reason, .. } if reason.contains(key)),
            "{key} = {value}: {err}"
        );
    }
    assert!(steps(&saver, "t", "").is_empty(), "nothing ran");
}

async fn durability_on_the_config_saves_as_it_says(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_sync_node("a", |_, _| Ok(Update::new().set("n", 1)))
        .add_sync_node("b", |_, _| Ok(Update::new().set("n", 2)))
        .add_edge(START, "a")
        .add_edge("a", "b");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let config = Config::thread("d").with_configurable("durability", "exit");
    let out = app.invoke(json!({}), &config).await.unwrap();
    assert_eq!(out.values, json!({"n": 2}));
    // As LangGraph's durability="exit": only the last checkpoint is stored.
    assert_eq!(steps(&saver, "d", ""), vec![2]);
    // Given both ways, the same value is accepted.
    let both = app
        .invoke_with(
            json!({}),
            &Config::thread("e").with_configurable("durability", "exit"),
            &RunOptions::new().durability(Durability::Exit),
        )
        .await
        .unwrap();
    assert_eq!(both.values, json!({"n": 2}));
    assert_eq!(steps(&saver, "e", ""), vec![2]);
}

async fn a_subgraph_inherits_the_configs_recursion_limit(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_subgraph("inner", spin(&saver))
        .add_edge(START, "inner");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let config = Config::thread("s").with_configurable("recursion_limit", 2);
    let err = app.invoke(json!({}), &config).await.unwrap_err();
    // LangGraph raises GraphRecursionError out of the subgraph; here the
    // parent's task fails with the subgraph's error.
    assert!(err.to_string().contains("recursion limit of 2"), "{err}");
    assert_eq!(steps(&saver, "s", ""), vec![0, -1]);
    let inner = saver
        .list(Some(&Config::thread("s")), &ListOptions::new())
        .unwrap()
        .into_iter()
        .find(|t| !t.config.ns().is_empty())
        .unwrap()
        .config;
    assert!(inner.ns().starts_with("inner:"));
    assert_eq!(steps(&saver, "s", inner.ns()), vec![2, 1, 0, -1]);
}

per_saver_tests!(memory, super::memory_saver;
    recursion_limit_on_the_config_limits_the_run,
    a_key_given_twice_must_agree,
    a_key_of_the_wrong_form_is_an_error,
    durability_on_the_config_saves_as_it_says,
    a_subgraph_inherits_the_configs_recursion_limit,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    recursion_limit_on_the_config_limits_the_run,
    a_key_given_twice_must_agree,
    a_key_of_the_wrong_form_is_an_error,
    durability_on_the_config_saves_as_it_says,
    a_subgraph_inherits_the_configs_recursion_limit,
);
