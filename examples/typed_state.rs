//! Typed state: a `#[derive(GraphState)]` struct as a graph's state, a
//! reducer per field, a flaky node with a retry policy, checkpointed in
//! SQLite and resumed after a human's answer by a fresh graph on the same
//! file (as a new process would).
//!
//! Run with `cargo run --example typed_state`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    Command, CompileOptions, GraphState, NodeError, RetryPolicy, START, TypedGraph, TypedStateGraph,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, SqliteSaver};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The state of a support request, one channel per field.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Request {
    /// Last value: the question asked.
    question: String,
    /// Last value, unset until the model answers.
    answer: Option<String>,
    /// Appended to by every node.
    #[state(append)]
    log: Vec<String>,
    /// Summed: the tokens every call spent.
    #[state(add)]
    tokens: u64,
    /// Merged: each reviewer's verdict by name.
    #[state(merge)]
    verdicts: BTreeMap<String, String>,
}

/// `START -> answer -> review`: `answer` calls a flaky model (it fails its
/// first two calls), `review` asks a human.
fn build(saver: Arc<dyn BaseCheckpointSaver>, model_calls: Arc<AtomicU32>) -> TypedGraph<Request> {
    let mut graph = TypedStateGraph::<Request>::new();
    graph
        .add_node("answer", move |req: Arc<Request>, _ctx| {
            let call = model_calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                // (Custom streaming of the model's tokens goes here, through
                // the node's context, once the graph streams custom events.)
                if call <= 2 {
                    return Err(NodeError::msg(format!("model timed out (call {call})")));
                }
                Ok(RequestUpdate::default()
                    .answer(format!(
                        "Restart the router, then ask again: {}",
                        req.question
                    ))
                    .tokens(42u64)
                    .log(vec![format!("answered on call {call}")]))
            }
        })
        .add_retry_policy(
            "answer",
            RetryPolicy::new()
                .max_attempts(5)
                .initial_interval(Duration::from_millis(10))
                .jitter(false),
        )
        .add_sync_node("review", |req: &Request, ctx| {
            let verdict = ctx.interrupt(json!({"review": req.answer}))?;
            let verdict = verdict.as_str().unwrap_or("?").to_owned();
            Ok(RequestUpdate::default()
                .verdicts(BTreeMap::from([("ann".to_owned(), verdict.clone())]))
                .log(vec![format!("reviewed: {verdict}")]))
        })
        .add_edge(START, "answer")
        .add_edge("answer", "review");
    graph
        .compile(CompileOptions::new().saver(saver))
        .expect("the graph is valid")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile_dir()?;
    let path = dir.join("requests.db");
    let thread = Config::thread("request-1");
    let calls = Arc::new(AtomicU32::new(0));

    // First process: the run retries the model, then stops for the review.
    {
        let app = build(Arc::new(SqliteSaver::open(&path)?), Arc::clone(&calls));
        let out = app
            .invoke(RequestUpdate::default().question("wifi is down"), &thread)
            .await?;
        println!("waiting on {:?}: {}", out.next, out.interrupts[0].value);
        println!("so far: {:?}", out.values.log);
    }

    // Second process: a new graph on the same file answers the review.
    let app = build(Arc::new(SqliteSaver::open(&path)?), Arc::clone(&calls));
    let out = app.invoke(Command::resume("approved"), &thread).await?;
    let request = out.values;
    println!("answer: {}", request.answer.as_deref().unwrap_or("-"));
    println!(
        "log: {:?}, tokens: {}, verdicts: {:?}",
        request.log, request.tokens, request.verdicts
    );
    assert_eq!(request.log, ["answered on call 3", "reviewed: approved"]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two failed calls, one that worked"
    );

    // The history, typed: one snapshot per checkpoint, newest first.
    for snapshot in app
        .get_state_history(&thread, &ListOptions::default())
        .await?
    {
        let step = snapshot.metadata.map_or(-2, |m| m.step);
        println!(
            "step {step:>2}: log {:?}, next {:?}",
            snapshot.values.log, snapshot.next
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A fresh directory under the system's temp dir for this run's database.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("typed-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
