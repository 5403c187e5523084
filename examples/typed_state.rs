//! Typed state: a `#[derive(GraphState)]` struct as a graph's state, a
//! reducer per field, a flaky node with a retry policy that streams its
//! tokens as custom events, checkpointed in SQLite and resumed after a
//! human's answer by a fresh graph on the same file (as a new process
//! would).
//!
//! Run with `cargo run --example typed_state`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    Command, CompileOptions, GraphState, NodeError, RetryPolicy, START, StreamEvent, StreamMode,
    TypedEvent, TypedGraph, TypedStateGraph,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, SqliteSaver};
use futures::StreamExt;
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

/// `START -> answer -> review`: `answer` calls a flaky model (its first
/// call times out half way through), streaming each token as it comes;
/// `review` asks a human.
fn build(saver: Arc<dyn BaseCheckpointSaver>, model_calls: Arc<AtomicU32>) -> TypedGraph<Request> {
    let mut graph = TypedStateGraph::<Request>::new();
    graph
        .add_node("answer", move |req: Arc<Request>, ctx| {
            let call = model_calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let answer = format!("Restart the router, then ask again: {}", req.question);
                let tokens: Vec<&str> = answer.split(' ').collect();
                for (i, token) in tokens.iter().enumerate() {
                    if call == 1 && i == 3 {
                        return Err(NodeError::msg(format!("model timed out (call {call})")));
                    }
                    // A custom event per token: the stream's `custom` mode.
                    ctx.writer()
                        .write(json!({"call": call, "token": token}))
                        .await;
                }
                Ok::<_, NodeError>(
                    RequestUpdate::default()
                        .tokens(tokens.len() as u64)
                        .answer(answer.clone())
                        .log(vec![format!("answered on call {call}")]),
                )
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

    // First process: the run streams the model's tokens, retries it once,
    // then stops for the review.
    {
        println!("first process: the run, streamed");
        let app = build(Arc::new(SqliteSaver::open(&path)?), Arc::clone(&calls));
        let mut events = app.stream(
            RequestUpdate::default().question("wifi is down"),
            &thread,
            [StreamMode::Custom, StreamMode::Tasks, StreamMode::Updates],
        );
        while let Some(event) = events.next().await {
            match event? {
                TypedEvent::Event(StreamEvent::Custom { value, .. }) => {
                    println!("  call {} token {}", value["call"], value["token"]);
                }
                TypedEvent::Event(StreamEvent::TaskRetry {
                    name,
                    attempt,
                    error,
                    ..
                }) => println!("{name}: attempt {attempt} failed ({error}), retrying"),
                TypedEvent::Updates { node, update, .. } => {
                    println!("{node} wrote {:?} (tokens {:?})", update.log, update.tokens);
                }
                TypedEvent::Event(StreamEvent::Interrupt { next, interrupts }) => {
                    println!("waiting on {next:?}: {}", interrupts[0].value);
                }
                _ => {}
            }
        }
    }

    // Second process: a new graph on the same file answers the review.
    println!("second process: the reviewer approves");
    let app = build(Arc::new(SqliteSaver::open(&path)?), Arc::clone(&calls));
    let out = app.invoke(Command::resume("approved"), &thread).await?;
    let request = out.values;
    println!("answer: {}", request.answer.as_deref().unwrap_or("-"));
    println!(
        "log: {:?}, tokens: {}, verdicts: {:?}",
        request.log, request.tokens, request.verdicts
    );
    assert_eq!(request.log, ["answered on call 2", "reviewed: approved"]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one failed call, one that worked"
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
