//! A multi-turn chatbot thread on SQLite: an append reducer keeps the
//! conversation, every turn is checkpointed, then we read the history,
//! travel back with `before` and fork the conversation there, and finally
//! delete the thread.
//!
//! Run with `cargo run --example chatbot`. The database lives in a temp
//! dir that is removed at the end.

use std::sync::Arc;

use checkpointer::graph::{CompileOptions, END, Reducer, START, StateGraph, Update};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, SqliteSaver};
use serde_json::json;

/// A stand-in for an LLM call.
fn reply(history: &[String]) -> String {
    let last = history.last().map_or("", String::as_str);
    let turns = history.iter().filter(|m| m.starts_with("user:")).count();
    match last.trim_start_matches("user: ") {
        m if m.contains("name is") => {
            let name = m.rsplit(' ').next().unwrap_or("friend");
            format!("bot: Nice to meet you, {name}! (turn {turns})")
        }
        m if m.contains("my name") => {
            let name = history
                .iter()
                .find_map(|h| h.split("name is ").nth(1))
                .unwrap_or("a mystery");
            format!("bot: Your name is {name}. (turn {turns})")
        }
        m => format!("bot: You said {m:?}. (turn {turns})"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("chat.db");
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(SqliteSaver::open(&db)?);
    println!("database: {}", db.display());

    let mut graph = StateGraph::new();
    graph
        .add_channel("messages", Reducer::append())
        .add_sync_node("chatbot", |state, _ctx| {
            let history: Vec<String> = state.get("messages")?;
            Ok(Update::new().set("messages", vec![reply(&history)]))
        })
        .add_edge(START, "chatbot")
        .add_edge("chatbot", END);
    let app = graph.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;
    let thread = Config::thread("user-42");

    println!("\n== conversation");
    for text in ["hi there", "my name is Ada", "what is my name?"] {
        let out = app
            .invoke(json!({"messages": [format!("user: {text}")]}), &thread)
            .await?;
        let messages = out.values["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        println!(
            "user: {text}\n  {}",
            messages.last().and_then(|m| m.as_str()).unwrap_or("")
        );
    }

    println!("\n== history (newest first)");
    let history = app.get_state_history(&thread, &ListOptions::new()).await?;
    for s in &history {
        let m = s
            .metadata
            .as_ref()
            .ok_or("stored checkpoints have metadata")?;
        let n = s.values["messages"].as_array().map_or(0, Vec::len);
        println!(
            "  step {:>2} {:<5} {n} messages, next {:?}",
            m.step,
            m.source.as_str(),
            s.next
        );
    }

    println!("\n== time travel: the last checkpoint before the third question");
    let last_input = app
        .get_state_history(
            &thread,
            &ListOptions::new().filter("source", "input").limit(1),
        )
        .await?;
    let before_id = last_input[0].config.checkpoint_id.clone().ok_or("id")?;
    let past = app
        .get_state_history(&thread, &ListOptions::new().before(before_id).limit(1))
        .await?;
    let fork_point = past[0].config.clone();
    println!(
        "  checkpoint {}: {}",
        fork_point.checkpoint_id.as_deref().unwrap_or("?"),
        past[0].values["messages"]
    );

    println!("\n== fork: ask something else from there");
    let out = app
        .invoke(
            json!({"messages": ["user: actually, call me Grace"]}),
            &fork_point,
        )
        .await?;
    for m in out.values["messages"].as_array().into_iter().flatten() {
        println!("  {}", m.as_str().unwrap_or(""));
    }
    let all = app.get_state_history(&thread, &ListOptions::new()).await?;
    println!(
        "  the thread now has {} checkpoints: both branches are kept",
        all.len()
    );

    println!("\n== delete the thread");
    saver.delete_thread("user-42")?;
    let after = app.get_state(&thread).await?;
    println!(
        "  values after delete: {} ({})",
        after.values,
        if after.metadata.is_none() {
            "no checkpoints left"
        } else {
            "checkpoints remain!"
        }
    );
    Ok(())
}
