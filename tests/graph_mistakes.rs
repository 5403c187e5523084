//! The mistakes that returned `Ok` without a word: a resume of a thread
//! that is not waiting, new input on a thread waiting for a human, an
//! interrupt in a graph with no saver. LangGraph 1.2.22 lets all three
//! pass (see `tests/langgraph_reference/mistakes.py`): the runs here go on
//! as LangGraph's do, and the outcome names each in `notices`. Every test
//! runs once per saver.

use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, NodeContext, NodeResult, Reducer, RunNotice, START,
    State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use serde_json::json;

mod graph_support;
use graph_support::*;

fn ask(_: &State, ctx: &NodeContext) -> NodeResult {
    let answer = ctx.interrupt("go?")?;
    Ok(Update::new().set(
        "log",
        vec![format!("asker:{}", answer.as_str().unwrap_or(""))],
    ))
}

/// `START -> asker` (asks "go?"), channel `log` (append).
fn asker_graph(saver: Option<&Arc<dyn BaseCheckpointSaver>>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("asker", ask)
        .add_edge(START, "asker");
    let options = match saver {
        Some(s) => CompileOptions::new().saver(Arc::clone(s)),
        None => CompileOptions::new(),
    };
    g.compile(options).unwrap()
}

async fn a_resume_of_a_finished_thread_says_it_was_not_waiting(factory: Factory) {
    let (saver, _guard) = factory();
    let app = asker_graph(Some(&saver));
    let thread = Config::thread("t");
    let first = app.invoke(json!({}), &thread).await.unwrap();
    assert!(first.notices.is_empty());
    let done = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert!(done.notices.is_empty(), "{:?}", done.notices);
    assert_eq!(done.values, json!({"log": ["asker:yes"]}));
    let before = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap()
        .len();
    // Nothing waits: LangGraph returns the state as it is; so does this
    // run, and it says so.
    let out = app.invoke(Command::resume("again"), &thread).await.unwrap();
    assert_eq!(out.notices, vec![RunNotice::ResumeNotWaiting]);
    assert_eq!(out.values, json!({"log": ["asker:yes"]}));
    assert!(!out.is_interrupted());
    let after = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap()
        .len();
    assert_eq!(before, after, "no checkpoint is added");
}

async fn a_resume_after_interrupt_before_is_not_a_mistake(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("asker", ask)
        .add_edge(START, "asker");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["asker"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    let stopped = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(stopped.next, vec!["asker"]);
    // The answer goes to asker's first `interrupt` call, as in LangGraph.
    let out = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert!(out.notices.is_empty(), "{:?}", out.notices);
    assert_eq!(out.values, json!({"log": ["asker:yes"]}));
}

async fn new_input_on_a_waiting_thread_says_which_interrupts_it_dropped(factory: Factory) {
    let (saver, _guard) = factory();
    let app = asker_graph(Some(&saver));
    let thread = Config::thread("t");
    let first = app.invoke(json!({}), &thread).await.unwrap();
    let asked = first.interrupts.clone();
    assert_eq!(asked.len(), 1);
    let out = app.invoke(json!({"log": ["new"]}), &thread).await.unwrap();
    assert_eq!(
        out.notices,
        vec![RunNotice::InterruptsDropped(asked.clone())]
    );
    // As in LangGraph: the new run asks again, with a new interrupt.
    assert_eq!(out.values, json!({"log": ["new"]}));
    assert_eq!(out.next, vec!["asker"]);
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("go?"));
    assert_ne!(out.interrupts[0].id, asked[0].id);
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["asker"]);
    assert_eq!(s.interrupts, out.interrupts);
}

async fn an_interrupt_without_a_saver_says_it_cannot_be_resumed(_factory: Factory) {
    let app = asker_graph(None);
    let out = app.invoke(json!({}), &Config::default()).await.unwrap();
    // LangGraph returns the interrupt; so does this run, and says that no
    // answer can ever reach it.
    assert_eq!(out.notices, vec![RunNotice::NotResumable]);
    assert_eq!(out.next, vec!["asker"]);
    assert_eq!(out.interrupts[0].value, json!("go?"));
    assert_eq!(out.config, None);
}

per_saver_tests!(memory, super::memory_saver;
    a_resume_of_a_finished_thread_says_it_was_not_waiting,
    a_resume_after_interrupt_before_is_not_a_mistake,
    new_input_on_a_waiting_thread_says_which_interrupts_it_dropped,
    an_interrupt_without_a_saver_says_it_cannot_be_resumed,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    a_resume_of_a_finished_thread_says_it_was_not_waiting,
    a_resume_after_interrupt_before_is_not_a_mistake,
    new_input_on_a_waiting_thread_says_which_interrupts_it_dropped,
);
