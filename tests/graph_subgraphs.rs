//! Subgraphs (`StateGraph::add_subgraph`): a compiled graph as a node, its
//! checkpoints under LangGraph's namespace `<node>:<task id>`, an
//! interrupt inside that surfaces in the parent and a resume that answers
//! it inside. The expectations are what LangGraph 1.2.22 does on the same
//! graphs (`tests/langgraph_reference/subgraph.py`). Every test runs once
//! per saver.

use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, GraphError, Reducer, START, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, Config, ListOptions};
use serde_json::{Value, json};

mod graph_support;
use graph_support::subgraphs::*;
use graph_support::*;

/// (step, source, stored draft) of namespace `ns`, newest first.
fn history(saver: &Arc<dyn BaseCheckpointSaver>, ns: &str) -> Vec<(i64, CheckpointSource, Value)> {
    saver
        .list(Some(&Config::thread("t").with_ns(ns)), &ListOptions::new())
        .unwrap()
        .into_iter()
        .map(|t| {
            let draft = t.checkpoint.channel_values.get("draft").cloned();
            (
                t.metadata.step,
                t.metadata.source,
                draft.unwrap_or(Value::Null),
            )
        })
        .collect()
}

async fn an_interrupt_inside_a_subgraph_surfaces_and_resumes_inside(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(
        out.interrupts
            .iter()
            .map(|i| i.value.clone())
            .collect::<Vec<_>>(),
        vec![json!({"approve": "hello"})]
    );
    assert_eq!(out.values, json!({"draft": "hello", "log": ["written"]}));
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["review"]);
    // The subgraph's checkpoints: namespace `review:<task id>` (the parent
    // task's id), as LangGraph names it.
    let ns = namespaces(&saver);
    assert_eq!(ns.len(), 2);
    assert_eq!(ns[0], "");
    assert_eq!(ns[1], format!("review:{}", s.tasks[0].id));
    // The parent's snapshot points at the subgraph's checkpoints, as
    // LangGraph's does (`task.state`), and the subgraph reads them.
    let sub_config = s.tasks[0].state.clone().expect("a subgraph task");
    assert_eq!(sub_config.ns(), ns[1]);
    let sub = review_graph(&saver);
    let inside = sub.get_state(&sub_config).await.unwrap();
    assert_eq!(inside.next, vec!["approve"]);
    assert_eq!(inside.interrupts[0].value, json!({"approve": "hello"}));
    assert_eq!(
        sources(
            &sub.get_state_history(&sub_config, &ListOptions::new())
                .await
                .unwrap()
        ),
        vec![(LOOP, 0), (INPUT, -1)]
    );
    assert_eq!(
        history(&saver, &ns[1]),
        vec![(0, LOOP, json!("hello")), (-1, INPUT, Value::Null)]
    );

    let out = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    // As in LangGraph, the subgraph's whole `log` goes through the parent's
    // append reducer ("written" twice).
    assert_eq!(
        out.values,
        json!({"draft": "hello (yes)!", "log": ["written", "written", "approved", "polished"]})
    );
    assert_eq!(
        sources(
            &app.get_state_history(&thread, &ListOptions::new())
                .await
                .unwrap()
        ),
        vec![(LOOP, 2), (LOOP, 1), (LOOP, 0), (INPUT, -1)]
    );
    assert_eq!(
        history(&saver, &ns[1]),
        vec![
            (2, LOOP, json!("hello (yes)!")),
            (1, LOOP, json!("hello (yes)")),
            (0, LOOP, json!("hello")),
            (-1, INPUT, Value::Null)
        ]
    );
    assert_eq!(
        namespaces(&saver).len(),
        2,
        "the resume ran in the same namespace"
    );
}

async fn nested_subgraphs_join_their_namespaces_with_a_bar(factory: Factory) {
    let (saver, _guard) = factory();
    // outer -> inner (write_then_review) -> review.
    let outer = nested_review(&saver);
    let thread = Config::thread("t");
    let out = outer.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!({"approve": "hello"}));
    let ns = namespaces(&saver);
    assert_eq!(ns.len(), 3, "{ns:?}");
    assert!(
        ns[1].starts_with("inner:") && !ns[1].contains('|'),
        "{ns:?}"
    );
    let (first, second) = ns[2].split_once('|').expect("a nested namespace");
    assert_eq!(first, ns[1]);
    assert!(second.starts_with("review:"), "{ns:?}");
    // The answer reaches the innermost graph.
    let out = outer.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert_eq!(out.values["draft"], json!("hello (yes)!"));
    assert!(!out.is_interrupted());
}

/// `pre -> inner`, where `inner` is `spin -> spin -> ...` adding 1 to `n`
/// (a sum with default 0, LangGraph's `Annotated[int, operator.add]`).
fn spinning_parent(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let sum = || {
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0)))
            .with_default(json!(0))
    };
    let mut spinner = StateGraph::new();
    spinner
        .add_channel("n", sum())
        .add_sync_node("spin", |_, _| Ok(Update::new().set("n", 1)))
        .add_edge(START, "spin")
        .add_edge("spin", "spin");
    let spinner = spinner
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap();
    let mut g = StateGraph::new();
    g.add_channel("n", sum())
        .add_sync_node("pre", |_, _| Ok(Update::new().set("n", 100)))
        .add_subgraph("inner", spinner)
        .add_edge(START, "pre")
        .add_edge("pre", "inner");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

async fn a_subgraph_past_its_recursion_limit_fails_the_parent_with_it(factory: Factory) {
    let (saver, _guard) = factory();
    let app = spinning_parent(&saver);
    let thread = Config::thread("t").with_configurable("recursion_limit", 3);
    let err = app.invoke(json!({"n": 0}), &thread).await.unwrap_err();
    // LangGraph raises the subgraph's GraphRecursionError from the parent
    // (subgraph.py): the subgraph ran steps 0 to 3 and stopped at step 4.
    assert!(
        matches!(&err, GraphError::RecursionLimit { limit: 3, step: 4, thread_id } if thread_id == "t"),
        "{err}"
    );
    let parent: Vec<_> = app
        .get_state_history(&Config::thread("t"), &ListOptions::new())
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let m = s.metadata.unwrap();
            (m.step, m.source, s.next, s.values)
        })
        .collect();
    assert_eq!(
        parent,
        vec![
            (1, LOOP, vec!["inner".to_owned()], json!({"n": 100})),
            (0, LOOP, vec!["pre".to_owned()], json!({"n": 0})),
            (-1, INPUT, vec!["__start__".to_owned()], json!({"n": 0})),
        ]
    );
    // The parent's task holds the error as its `__error__` write.
    let latest = saver.get_tuple(&Config::thread("t")).unwrap().unwrap();
    let errors: Vec<_> = latest
        .pending_writes
        .iter()
        .filter(|w| w.channel == "__error__")
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .value
            .as_str()
            .unwrap()
            .contains("recursion limit of 3"),
        "{:?}",
        errors[0].value
    );
    let ns = namespaces(&saver);
    let inside: Vec<_> = saver
        .list(
            Some(&Config::thread("t").with_ns(&ns[1])),
            &ListOptions::new(),
        )
        .unwrap()
        .into_iter()
        .map(|t| {
            (
                t.metadata.step,
                t.checkpoint.channel_values.get("n").cloned(),
            )
        })
        .collect();
    assert_eq!(
        inside,
        vec![
            (3, Some(json!(103))),
            (2, Some(json!(102))),
            (1, Some(json!(101))),
            (0, Some(json!(100))),
            (-1, None),
        ]
    );
}

per_saver_tests!(memory, super::memory_saver;
    an_interrupt_inside_a_subgraph_surfaces_and_resumes_inside,
    nested_subgraphs_join_their_namespaces_with_a_bar,
    a_subgraph_past_its_recursion_limit_fails_the_parent_with_it,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    an_interrupt_inside_a_subgraph_surfaces_and_resumes_inside,
    nested_subgraphs_join_their_namespaces_with_a_bar,
    a_subgraph_past_its_recursion_limit_fails_the_parent_with_it,
);
