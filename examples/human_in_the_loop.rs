//! Human in the loop: a node asks a human with `interrupt`, the run stops
//! with `Ok`, we inspect the pending interrupt, then resume with the answer.
//! Also shows a static `interrupt_before` and `update_state`.
//!
//! Run with `cargo run --example human_in_the_loop`.

use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, END, GraphError, Input, Reducer, START, StateGraph, Update,
};
use checkpointer::{Config, InMemorySaver, ListOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), GraphError> {
    let mut graph = StateGraph::new();
    graph
        .add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("write", |state, _ctx| {
            let topic: String = state.get("topic")?;
            Ok(Update::new()
                .set("draft", format!("A short post about {topic}."))
                .set("log", "write"))
        })
        .add_sync_node("review", |state, ctx| {
            let draft: String = state.get("draft")?;
            // Stops the run the first time; returns the human's answer on resume.
            let answer =
                ctx.interrupt(json!({"question": "Publish this draft?", "draft": draft}))?;
            Ok(Update::new().set("log", format!("review: {}", answer.as_str().unwrap_or("?"))))
        })
        .add_sync_node("publish", |state, _ctx| {
            let draft: String = state.get("draft")?;
            Ok(Update::new().set("log", format!("published: {draft}")))
        })
        .add_channel("topic", Reducer::last_value())
        .add_edge(START, "write")
        .add_edge("write", "review")
        .add_edge("review", "publish")
        .add_edge("publish", END);

    let app = graph.compile(
        CompileOptions::new()
            .saver(Arc::new(InMemorySaver::new()))
            .interrupt_before(["publish"]),
    )?;
    let thread = Config::thread("post-1");

    println!("1. run until the reviewer is asked");
    let out = app
        .invoke(json!({"topic": "durable graphs"}), &thread)
        .await?;
    println!("   stopped before {:?}", out.next);
    for i in &out.interrupts {
        println!("   interrupt {}: {}", i.id, i.value);
    }

    println!("2. inspect the thread");
    let state = app.get_state(&thread).await?;
    println!("   values: {}", state.values);
    println!(
        "   next: {:?}, pending interrupts: {}",
        state.next,
        state.interrupts.len()
    );

    println!("3. answer the interrupt");
    let out = app.invoke(Command::resume("yes, ship it"), &thread).await?;
    println!(
        "   now stopped before {:?} (static interrupt_before)",
        out.next
    );

    println!("4. edit the draft by hand before publishing");
    app.update_state(
        &thread,
        json!({"draft": "A short post about durable graphs, edited."}),
        None,
    )
    .await?;

    println!("5. continue to the end");
    let out = app.invoke(Input::Continue, &thread).await?;
    println!("   done: {}", !out.is_interrupted());
    for line in out.values["log"].as_array().into_iter().flatten() {
        println!("   log: {line}");
    }

    let history = app.get_state_history(&thread, &ListOptions::new()).await?;
    println!("6. history ({} checkpoints, newest first):", history.len());
    for s in &history {
        let m = s
            .metadata
            .as_ref()
            .expect("stored checkpoints have metadata");
        println!(
            "   step {:>2} {:<6} next {:?}",
            m.step,
            m.source.as_str(),
            s.next
        );
    }
    Ok(())
}
