//! `demo`: a small graph run on the database, so that every other command
//! has something to show.
//!
//! The graph drafts a reply (`draft`), asks a human to review it
//! (`review`, an interrupt that the demo answers itself) and publishes it
//! (`publish`); every step appends to the `messages` channel. Then it
//! travels back to the checkpoint after the draft, edits the draft there
//! (`update_state`, which forks the thread) and runs the new branch to the
//! end.

use std::path::Path;
use std::sync::Arc;

use checkpointer::graph::{END, START};
use checkpointer::{
    BaseCheckpointSaver, CheckpointAdmin, Command, CompileOptions, CompiledGraph, Config,
    ListOptions, Reducer, RunOutcome, StateGraph, Update,
};
use serde_json::{Value, json};

use super::error::{CliError, CliResult};
use super::open::{DEFAULT_DB, open_or_create};

/// The thread the demo writes (replaced on every run).
pub(crate) const DEMO_THREAD: &str = "demo";

/// The demo graph: `draft` -> `review` (interrupt) -> `publish`.
fn build(saver: Arc<dyn BaseCheckpointSaver>) -> CliResult<CompiledGraph> {
    let mut graph = StateGraph::new();
    graph
        .add_channel("messages", Reducer::append())
        .add_channel("draft", Reducer::last_value())
        .add_channel("status", Reducer::last_value())
        .add_node("draft", |state, _ctx| async move {
            let request: Vec<String> = state.get("messages")?;
            let topic = request.first().cloned().unwrap_or_default();
            let draft = format!("Checkpoints make graphs durable ({topic})");
            Ok(Update::new()
                .set("draft", &draft)
                .set("messages", format!("assistant: draft: {draft}"))
                .set("status", "drafted"))
        })
        .add_node("review", |state, ctx| async move {
            let draft: String = state.get("draft")?;
            let verdict =
                ctx.interrupt(json!({"question": "publish this draft?", "draft": draft}))?;
            let verdict = verdict
                .as_str()
                .map_or_else(|| verdict.to_string(), str::to_owned);
            Ok(Update::new()
                .set("messages", format!("reviewer: {verdict}"))
                .set("status", "reviewed"))
        })
        .add_node("publish", |state, _ctx| async move {
            let draft: String = state.get("draft")?;
            Ok(Update::new()
                .set("messages", format!("assistant: published: {draft}"))
                .set("status", "published"))
        })
        .add_edge(START, "draft")
        .add_edge("draft", "review")
        .add_edge("review", "publish")
        .add_edge("publish", END);
    Ok(graph.compile(CompileOptions::new().saver(saver))?)
}

/// The checkpoint id of a run's outcome.
fn id_of(out: &RunOutcome) -> String {
    out.config
        .as_ref()
        .and_then(|c| c.checkpoint_id.clone())
        .unwrap_or_default()
}

/// Prints the messages of `values` from index `from` on, returns the count.
fn print_new_messages(values: &Value, from: usize) -> CliResult<usize> {
    let messages = values["messages"].as_array().cloned().unwrap_or_default();
    for m in messages.iter().skip(from) {
        outln!(
            "     + {}",
            m.as_str().map_or_else(|| m.to_string(), str::to_owned)
        );
    }
    Ok(messages.len())
}

/// `demo`: runs the graph on thread `demo` of the database at `path`.
pub(crate) fn demo(path: &Path) -> CliResult<()> {
    let saver = open_or_create(path)?;
    saver.delete_thread(DEMO_THREAD)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::io("start the async runtime"))?;
    runtime.block_on(run(saver, path))
}

/// The demo proper, on a tokio runtime.
async fn run(saver: Arc<dyn CheckpointAdmin>, path: &Path) -> CliResult<()> {
    let app = build(saver.clone())?;
    let thread = Config::thread(DEMO_THREAD);
    outln!("demo: thread {DEMO_THREAD:?} in {}", path.display());
    outln!();

    let first_end = run_and_answer(&app, &thread).await?;
    let (fork_point, second_end) = fork_and_finish(&app, &thread).await?;

    let count = saver.checkpoint_summaries(DEMO_THREAD, None)?.len();
    outln!("thread {DEMO_THREAD:?} now has {count} checkpoints on two branches.");
    outln!();
    print_next_steps(path, &fork_point, &first_end, &second_end)
}

/// Steps 1 and 2: runs the graph to the review's interrupt and answers it;
/// returns the checkpoint of the end.
async fn run_and_answer(app: &CompiledGraph, thread: &Config) -> CliResult<String> {
    outln!("1. run the graph (draft -> review -> publish) with a request:");
    let out = app
        .invoke(json!({"messages": ["user: explain checkpoints"]}), thread)
        .await?;
    let seen = print_new_messages(&out.values, 0)?;
    let question = out
        .interrupts
        .first()
        .map_or(Value::Null, |i| i.value["question"].clone());
    outln!(
        "   stopped before {:?}: the review node asked {question} (checkpoint {})",
        out.next.join(", "),
        id_of(&out)
    );
    outln!();

    outln!("2. a human answers the interrupt: Command::resume(\"approved\")");
    let out = app.invoke(Command::resume("approved"), thread).await?;
    print_new_messages(&out.values, seen)?;
    let first_end = id_of(&out);
    outln!("   done at checkpoint {first_end}");
    outln!();

    Ok(first_end)
}

/// Step 3: goes back to the checkpoint after the draft, edits the draft
/// there (a fork) and runs the new branch to its end; returns the fork
/// point and the new end.
async fn fork_and_finish(app: &CompiledGraph, thread: &Config) -> CliResult<(String, String)> {
    outln!("3. time travel: back to the checkpoint after the draft, edit the draft there");
    let history = app.get_state_history(thread, &ListOptions::new()).await?;
    let at_draft = history
        .iter()
        .find(|s| s.next == ["review"])
        .map(|s| s.config.clone())
        .ok_or_else(|| CliError::Demo {
            reason: "the checkpoint after the draft is missing from the history".into(),
        })?;
    let fork_point = at_draft.checkpoint_id.clone().unwrap_or_default();
    let edited = app
        .update_state(
            &at_draft,
            json!({"draft": "Checkpoints let a graph pause, resume and travel in time",
                   "messages": ["editor: shorter, please"]}),
            Some("draft"),
        )
        .await?;
    outln!(
        "   update_state at {fork_point} made {} (a fork: a second branch from there)",
        edited.checkpoint_id.as_deref().unwrap_or_default()
    );
    let out = app.invoke(checkpointer::Input::Continue, &edited).await?;
    outln!(
        "   continuing the new branch, the review asks again: {}",
        out.interrupts
            .first()
            .map_or(Value::Null, |i| i.value["draft"].clone())
    );
    let out = app
        .invoke(Command::resume("approved, shorter is better"), thread)
        .await?;
    let second_end = id_of(&out);
    outln!("   answered; the new branch's messages:");
    print_new_messages(&out.values, 0)?;
    outln!("   done at checkpoint {second_end}");
    outln!();

    Ok((fork_point, second_end))
}

/// The commands to try on what the demo made.
fn print_next_steps(
    path: &Path,
    fork_point: &str,
    first_end: &str,
    second_end: &str,
) -> CliResult<()> {
    let db = if path == Path::new(DEFAULT_DB) {
        String::new()
    } else {
        format!("--db {} ", shell_quote(&path.display().to_string()))
    };
    let tries = [
        ("threads".to_owned(), "every thread of the file"),
        (
            format!("history {DEMO_THREAD} --graph"),
            "the two branches as a tree, the latest of each marked",
        ),
        (
            format!("history {DEMO_THREAD}"),
            "newest first; * fork point, + branch starts",
        ),
        (
            format!("show {DEMO_THREAD}"),
            "finished? waiting? the latest state, metadata, writes",
        ),
        (
            format!("show {DEMO_THREAD} {fork_point}"),
            "the fork point and its pending writes",
        ),
        (
            format!("diff {DEMO_THREAD} {fork_point} {second_end}"),
            "what the new branch appended",
        ),
        (
            format!("diff {DEMO_THREAD} {first_end} {second_end}"),
            "the ends of the two branches",
        ),
        (
            format!("diff {DEMO_THREAD} {first_end}"),
            "one id: against the latest checkpoint",
        ),
        (
            format!("history {DEMO_THREAD} --filter source=update --json"),
            "the manual edit, as JSON",
        ),
        (
            format!("export {DEMO_THREAD} --out demo.jsonl"),
            "the thread as JSON Lines",
        ),
    ];
    outln!("Try next (from a clone, `cargo run --release -- ` instead of `checkpointer `):");
    for (command, note) in &tries {
        outln!("  # {note}");
        outln!("  checkpointer {db}{command}");
    }
    Ok(())
}

/// Quotes a path for a POSIX shell if it needs it.
fn shell_quote(text: &str) -> String {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@".contains(&b));
    if plain && !text.is_empty() {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
