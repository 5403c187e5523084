//! Resume after a crash: a worker process runs a five-step pipeline on a
//! SQLite file and is killed (SIGKILL) in the middle of step three. A new
//! process opens the same file and continues the thread: the steps that had
//! finished are not run again.
//!
//! Run with `cargo run --example resume_after_crash`. The program starts a
//! copy of itself as the worker; the database lives in a temp dir that is
//! removed at the end.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, Input, Reducer, START, StateGraph, Update,
};
use checkpointer::{Config, ListOptions, SqliteSaver};
use serde_json::json;

const WORKER_ENV: &str = "RESUME_AFTER_CRASH_DB";
const STEPS: [&str; 5] = ["fetch", "parse", "enrich", "summarize", "publish"];

fn pipeline(db: &Path, who: &'static str) -> Result<CompiledGraph, Box<dyn std::error::Error>> {
    let mut graph = StateGraph::new();
    graph.add_channel("done", Reducer::append());
    for step in STEPS {
        graph.add_node(step, move |_state, _ctx| async move {
            println!("  [{who}] {step} running");
            // Slow work: the worker is killed while `enrich` sleeps here.
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok(Update::new().set("done", step))
        });
    }
    graph.add_edge(START, STEPS[0]);
    for pair in STEPS.windows(2) {
        graph.add_edge(pair[0], pair[1]);
    }
    graph.add_edge(STEPS[4], END);
    let saver = Arc::new(SqliteSaver::open(db)?);
    Ok(graph.compile(CompileOptions::new().saver(saver))?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let thread = Config::thread("job-7");

    // The worker: run the pipeline from the start (it never gets to finish).
    if let Ok(db) = std::env::var(WORKER_ENV) {
        pipeline(Path::new(&db), "worker")?
            .invoke(json!({"done": []}), &thread)
            .await?;
        return Ok(());
    }

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("jobs.db");
    println!("1. start a worker process on {}", db.display());
    let mut worker = Command::new(std::env::current_exe()?)
        .env(WORKER_ENV, &db)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = worker.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if line.contains("enrich running") {
            break;
        }
    }
    worker.kill()?; // SIGKILL: no cleanup, no goodbye
    println!(
        "2. killed the worker ({}) while `enrich` was running",
        worker.wait()?
    );

    let app = pipeline(&db, "resumer")?;
    let state = app.get_state(&thread).await?;
    println!(
        "3. the database says: done {} at step {}, next {:?}",
        state.values["done"],
        state.metadata.as_ref().map_or(-1, |m| m.step),
        state.next
    );

    println!("4. continue the thread in this process:");
    let out = app.invoke(Input::Continue, &thread).await?;
    println!("5. finished: done {}", out.values["done"]);
    let history = app.get_state_history(&thread, &ListOptions::new()).await?;
    println!("   {} checkpoints in one unbroken history", history.len());
    Ok(())
}
