//! The subgraph graphs the subgraph test files share (the graphs of
//! `tests/langgraph_reference/subgraph.py` and `subgraph_state.py`).

use std::sync::Arc;

use checkpointer::graph::{CompileOptions, CompiledGraph, Reducer, START, StateGraph, Update};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use serde_json::json;

/// The subgraph `approve (asks) -> polish`; channels `draft` (last value),
/// `log` (append).
pub fn review_graph(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut sub = StateGraph::new();
    sub.add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("approve", |s, ctx| {
            let draft: String = s.get("draft")?;
            let ok = ctx.interrupt(json!({"approve": draft}))?;
            let ok = ok.as_str().unwrap_or_default().to_owned();
            Ok(Update::new()
                .set("draft", format!("{draft} ({ok})"))
                .set("log", vec!["approved"]))
        })
        .add_sync_node("polish", |s, _| {
            Ok(Update::new()
                .set("draft", format!("{}!", s.get::<String>("draft")?))
                .set("log", vec!["polished"]))
        })
        .add_edge(START, "approve")
        .add_edge("approve", "polish");
    sub.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// Parent `write -> review`, where `review` is [`review_graph`].
pub fn write_then_review(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("write", |_, _| {
            Ok(Update::new()
                .set("draft", "hello")
                .set("log", vec!["written"]))
        })
        .add_subgraph("review", review_graph(saver))
        .add_edge(START, "write")
        .add_edge("write", "review");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// `outer: inner`, where `inner` is [`write_then_review`]: three levels.
pub fn nested_review(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_subgraph("inner", write_then_review(saver))
        .add_edge(START, "inner");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// The namespaces of thread `t`, sorted.
pub fn namespaces(saver: &Arc<dyn BaseCheckpointSaver>) -> Vec<String> {
    let mut all: Vec<String> = saver
        .list(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap()
        .into_iter()
        .map(|t| t.config.ns().to_owned())
        .collect();
    all.sort();
    all.dedup();
    all
}
