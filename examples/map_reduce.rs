//! Map-reduce with `SendTo` (LangGraph's `Send`): a router fans out one task
//! per subject; the tasks run in parallel in one superstep; a reducer
//! collects their results; a final node picks the best.
//!
//! Run with `cargo run --example map_reduce`.

use std::sync::Arc;
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, END, GraphError, Reducer, START, SendTo, State, StateGraph, StreamEvent,
    StreamMode, Update,
};
use checkpointer::{Config, InMemorySaver};
use futures::StreamExt;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), GraphError> {
    let mut graph = StateGraph::new();
    graph
        .add_channel("subjects", Reducer::last_value())
        .add_channel("jokes", Reducer::append())
        .add_channel("best", Reducer::last_value())
        .add_sync_node("plan", |_state, _ctx| Ok(Update::new()))
        .add_node("joke", |state, ctx| async move {
            // Each task sees its own SendTo argument as its state.
            let subject: String = state.get("subject")?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            println!("   [step {}] joke task for {subject}", ctx.step());
            Ok(Update::new().set(
                "jokes",
                vec![format!("Why did the {subject} cross the road?")],
            ))
        })
        .add_sync_node("pick", |state, _ctx| {
            let jokes: Vec<String> = state.get("jokes")?;
            let best = jokes
                .iter()
                .max_by_key(|j| j.len())
                .cloned()
                .unwrap_or_default();
            Ok(Update::new().set("best", best))
        })
        .add_edge(START, "plan")
        .add_conditional_edges(
            "plan",
            |state: &State| {
                let subjects: Vec<String> = state.get("subjects").unwrap_or_default();
                subjects
                    .into_iter()
                    .map(|s| SendTo::new("joke", json!({ "subject": s })))
                    .collect::<Vec<_>>()
            },
            &["joke"],
        )
        .add_edge("joke", "pick")
        .add_edge("pick", END);
    let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;

    println!("streaming updates:");
    let mut events = app.stream(
        json!({"subjects": ["chicken", "penguin", "armadillo"]}),
        &Config::thread("jokes"),
        StreamMode::Updates,
    );
    while let Some(event) = events.next().await {
        if let StreamEvent::Updates {
            step, node, update, ..
        } = event?
        {
            println!("   step {step}: {node} wrote {update}");
        }
    }
    let state = app.get_state(&Config::thread("jokes")).await?;
    println!("jokes: {}", state.values["jokes"]);
    println!("best:  {}", state.values["best"]);
    Ok(())
}
