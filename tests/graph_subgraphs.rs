//! Subgraphs (`StateGraph::add_subgraph`): a compiled graph as a node, its
//! checkpoints under LangGraph's namespace `<node>:<task id>`, an
//! interrupt inside that surfaces in the parent and a resume that answers
//! it inside. The expectations are what LangGraph 1.2.22 does on the same
//! graphs (`tests/langgraph_reference/subgraph.py`,
//! `subgraph_interrupt_id.py`). Every test runs once
//! per saver.

use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, GraphError, Interrupt, Reducer, START, StateGraph,
    StreamEvent, StreamMode, StreamOptions, Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, Config, ListOptions};
use futures::StreamExt;
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

/// Two levels down, the outermost graph holds the innermost question under
/// its id too (issue 17), and a resume by that id reaches it.
async fn a_nested_question_keeps_its_id_and_resumes_by_it(factory: Factory) {
    let (saver, _guard) = factory();
    let outer = nested_review(&saver);
    let thread = Config::thread("t");
    let out = outer.invoke(json!({}), &thread).await.unwrap();
    let ns = namespaces(&saver);
    let innermost = pending_interrupts(&saver, &ns[2]);
    assert_eq!(innermost.len(), 1);
    assert_eq!(pending_interrupts(&saver, &ns[1]), innermost);
    assert_eq!(pending_interrupts(&saver, ""), innermost);
    assert_eq!(out.interrupts[0].id, innermost[0].0);
    let answer = Command::resume_map([(innermost[0].0.clone(), json!("yes"))]);
    let out = outer.invoke(answer, &thread).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["draft"], json!("hello (yes)!"));
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

/// The `__interrupt__` pending write of namespace `ns`'s latest checkpoint:
/// (id, value) of each interrupt in it.
fn pending_interrupts(saver: &Arc<dyn BaseCheckpointSaver>, ns: &str) -> Vec<(String, Value)> {
    let tuple = saver
        .get_tuple(&Config::thread("t").with_ns(ns))
        .unwrap()
        .expect("a checkpoint");
    tuple
        .pending_writes
        .iter()
        .filter(|w| w.channel == "__interrupt__")
        .flat_map(|w| w.value.as_array().cloned().unwrap_or_default())
        .map(|i| (i["id"].as_str().unwrap().to_owned(), i["value"].clone()))
        .collect()
}

/// LangGraph's interrupt id of the first question of the task whose
/// checkpoint namespace is `task_ns`: xxh3-128 hex of `task_ns`.
fn xxh3_id(task_ns: &str) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(task_ns.as_bytes()))
}

/// Issue 17: a subgraph's interrupt keeps its id in the parent. LangGraph
/// (`subgraph_interrupt_id.py`) gives the parent's `get_state().interrupts`,
/// its task's interrupts, its `__interrupt__` stream event (with and
/// without `subgraphs`) and its checkpoint's pending write the id the
/// interrupt has in the subgraph, xxh3-128 of the asking task's namespace
/// `review:<task id>|approve:<task id>`, not one of the parent's task
/// (`review:<task id>`); a resume by that id answers it. The ids hang on
/// the random checkpoint ids, so the relations are asserted.
async fn a_subgraphs_interrupt_keeps_its_id_in_the_parent(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    let options = StreamOptions::from(StreamMode::Updates).subgraphs(true);
    let events: Vec<StreamEvent> = app
        .stream(json!({}), &thread, options)
        .map(Result::unwrap)
        .collect()
        .await;
    let streamed: Vec<(String, Vec<Interrupt>)> = events
        .iter()
        .filter_map(|e| {
            let inner = match e {
                StreamEvent::Subgraph { event, .. } => event.as_ref(),
                other => other,
            };
            match inner {
                StreamEvent::Interrupt { interrupts, .. } => {
                    Some((e.namespace().to_owned(), interrupts.clone()))
                }
                _ => None,
            }
        })
        .collect();
    let s = app.get_state(&thread).await.unwrap();
    let sub_ns = format!("review:{}", s.tasks[0].id);
    let sub = review_graph(&saver);
    let inside = sub
        .get_state(&s.tasks[0].state.clone().expect("a subgraph task"))
        .await
        .unwrap();
    let id = xxh3_id(&format!("{sub_ns}|approve:{}", inside.tasks[0].id));
    assert_ne!(id, xxh3_id(&sub_ns), "not the parent task's id");
    let question = Interrupt {
        value: json!({"approve": "hello"}),
        id: id.clone(),
    };
    // The subgraph's event under its namespace, then the parent's: one id.
    assert_eq!(
        streamed,
        vec![
            (sub_ns.clone(), vec![question.clone()]),
            (String::new(), vec![question.clone()]),
        ]
    );
    assert_eq!(s.interrupts, vec![question.clone()]);
    assert_eq!(s.tasks[0].interrupts, vec![question.clone()]);
    assert_eq!(inside.interrupts, vec![question.clone()]);
    // Where written: both checkpoints' `__interrupt__` writes.
    let written = vec![(id.clone(), question.value.clone())];
    assert_eq!(pending_interrupts(&saver, ""), written);
    assert_eq!(pending_interrupts(&saver, &sub_ns), written);

    let out = app
        .invoke(Command::resume_map([(id, json!("yes"))]), &thread)
        .await
        .unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["draft"], json!("hello (yes)!"));
}

/// Without `subgraphs`, the parent's one `__interrupt__` event has the
/// subgraph's id too, and a resume by the map of all the parent's
/// interrupts answers it (`subgraph_interrupt_id.py`).
async fn a_subgraphs_interrupt_resumes_by_the_map_of_all(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    let events: Vec<StreamEvent> = app
        .stream(json!({}), &thread, StreamMode::Updates)
        .map(Result::unwrap)
        .collect()
        .await;
    let streamed: Vec<&Interrupt> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Interrupt { interrupts, .. } => Some(interrupts),
            _ => None,
        })
        .flatten()
        .collect();
    let s = app.get_state(&thread).await.unwrap();
    let sub_ns = format!("review:{}", s.tasks[0].id);
    assert_eq!(streamed, s.interrupts.iter().collect::<Vec<_>>());
    assert_eq!(pending_interrupts(&saver, &sub_ns)[0].0, s.interrupts[0].id);
    let all = s.interrupts.iter().map(|i| (i.id.clone(), json!("ok")));
    let out = app.invoke(Command::resume_map(all), &thread).await.unwrap();
    assert_eq!(out.values["draft"], json!("hello (ok)!"));
}

/// A thread written before issue 17 holds, in the parent's checkpoint,
/// the subgraph's question under the id of the parent's task; a resume by
/// that id still answers it.
async fn an_old_parent_form_interrupt_id_still_resumes(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let tuple = saver.get_tuple(&thread).unwrap().expect("a checkpoint");
    let asked = tuple
        .pending_writes
        .iter()
        .find(|w| w.channel == "__interrupt__")
        .expect("the parent's interrupt write")
        .clone();
    let old_id = xxh3_id(&format!("review:{}", asked.task_id));
    let old = json!([{"value": {"approve": "hello"}, "id": old_id}]);
    saver
        .put_writes(
            &tuple.config,
            &[("__interrupt__".to_owned(), old)],
            &asked.task_id,
            &asked.task_path,
        )
        .unwrap();
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.interrupts[0].id, old_id, "the rewrite took");
    let out = app
        .invoke(Command::resume_map([(old_id, json!("yes"))]), &thread)
        .await
        .unwrap();
    assert_eq!(out.values["draft"], json!("hello (yes)!"));
}

per_saver_tests!(memory, super::memory_saver;
    an_interrupt_inside_a_subgraph_surfaces_and_resumes_inside,
    nested_subgraphs_join_their_namespaces_with_a_bar,
    a_subgraph_past_its_recursion_limit_fails_the_parent_with_it,
    a_subgraphs_interrupt_keeps_its_id_in_the_parent,
    a_subgraphs_interrupt_resumes_by_the_map_of_all,
    an_old_parent_form_interrupt_id_still_resumes,
    a_nested_question_keeps_its_id_and_resumes_by_it,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    an_interrupt_inside_a_subgraph_surfaces_and_resumes_inside,
    nested_subgraphs_join_their_namespaces_with_a_bar,
    a_subgraph_past_its_recursion_limit_fails_the_parent_with_it,
    a_subgraphs_interrupt_keeps_its_id_in_the_parent,
    a_subgraphs_interrupt_resumes_by_the_map_of_all,
    an_old_parent_form_interrupt_id_still_resumes,
    a_nested_question_keeps_its_id_and_resumes_by_it,
);
