//! Subgraphs: a compiled review graph used as a node of a publishing graph.
//! The review asks a human inside the subgraph; the question surfaces in
//! the parent, and the parent's resume answers it inside. Also shows a
//! node that routes with `Update::goto`, a retry policy on a flaky node,
//! per-run options, the subgraph's own state seen from the parent, and the
//! graph as Mermaid text.
//!
//! Run with `cargo run --example subgraphs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    Command, CompileOptions, END, NodeError, Reducer, RetryPolicy, RunOptions, START, StateGraph,
    Update,
};
use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver, ListOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());

    // The subgraph: a human approves the draft, then it is polished.
    let mut review = StateGraph::new();
    review
        .add_channel("draft", Reducer::last_value())
        .add_sync_node("approve", |state, ctx| {
            let draft: String = state.get("draft")?;
            let verdict = ctx.interrupt(json!({"approve": draft}))?;
            Ok(Update::new().set(
                "draft",
                format!("{draft} [{}]", verdict.as_str().unwrap_or("?")),
            ))
        })
        .add_sync_node("polish", |state, _| {
            Ok(Update::new().set("draft", format!("{}!", state.get::<String>("draft")?)))
        })
        .add_edge(START, "approve")
        .add_edge("approve", "polish");
    let review = review.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;

    // The parent: a flaky writer (retried), a triage node that routes with
    // `goto`, and the review subgraph.
    let attempts = Arc::new(AtomicU32::new(0));
    let mut graph = StateGraph::new();
    graph
        .add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("write", {
            let attempts = Arc::clone(&attempts);
            move |_, _| {
                if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(NodeError::msg("the model timed out"));
                }
                Ok(Update::new()
                    .set("draft", "Subgraphs are here")
                    .set("log", "written"))
            }
        })
        .add_retry_policy(
            "write",
            RetryPolicy::new()
                .initial_interval(Duration::from_millis(10))
                .jitter(false),
        )
        .add_sync_node("triage", |state, _| {
            let long = state.get::<String>("draft")?.len() > 5;
            Ok(Update::new()
                .set("log", "triaged")
                .goto(if long { "review" } else { END }))
        })
        .add_destinations("triage", &["review"])
        .add_subgraph("review", review)
        .add_edge(START, "write")
        .add_edge("write", "triage");
    let app = graph.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;
    println!("{}", app.to_mermaid());

    let thread = Config::thread("post-1");
    let out = app
        .invoke_with(json!({}), &thread, &RunOptions::new().recursion_limit(10))
        .await?;
    println!("writer attempts: {}", attempts.load(Ordering::SeqCst));
    println!("waiting on: {:?} -> {}", out.next, out.interrupts[0].value);

    // The parent's snapshot with the subgraph's own state inside (LangGraph's
    // `get_state(config, subgraphs=True)`); its checkpoints name the
    // parent checkpoint they run under (`parents`).
    let waiting = app.get_state_subgraphs(&thread).await?;
    if let Some(inside) = waiting.tasks.iter().find_map(|t| t.subgraph.as_deref()) {
        let parents = inside.metadata.as_ref().map(|m| &m.parents);
        println!(
            "inside the review: next {:?}, parents {parents:?}",
            inside.next
        );
    }

    let out = app.invoke(Command::resume("ok"), &thread).await?;
    println!("final draft: {}", out.values["draft"]);
    println!("log: {}", out.values["log"]);

    // The subgraph's checkpoints live beside the parent's, in their own
    // namespace.
    let tuples = saver.list(Some(&thread), &ListOptions::new())?;
    let mut namespaces: Vec<&str> = tuples.iter().map(|t| t.config.ns()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    println!("namespaces: {namespaces:?}");
    app.delete_thread("post-1").await?;
    Ok(())
}
