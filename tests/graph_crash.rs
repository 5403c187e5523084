//! Crash test: a child process runs a long graph on a SQLite file and is
//! killed with SIGKILL mid-run; the parent resumes the thread, reaches the
//! same final state as an uninterrupted run, and no node whose task had
//! finished (its writes saved) before the kill runs again.
//!
//! The parent re-executes this test binary (`--exact crash_child`) with the
//! database and side-effect log paths in environment variables; without
//! them `crash_child` does nothing.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, Input, Reducer, START, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver, SqliteSaver};
use serde_json::json;

mod seed;

const DB_ENV: &str = "CHECKPOINTER_GRAPH_CRASH_DB";
const LOG_ENV: &str = "CHECKPOINTER_GRAPH_CRASH_LOG";
const THREAD: &str = "crash";

/// The nodes: a chain `n00 .. n19` with a fan-out/join `p0, p1, p2` after
/// `n09`. Every node appends its name to the side-effect log file (before
/// it returns), sleeps a little, and appends its name to the `log` channel
/// and its number to `sum`.
fn long_graph(side_effects: &Path) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append()).add_channel(
        "sum",
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))),
    );
    let mut names: Vec<String> = (0..20).map(|i| format!("n{i:02}")).collect();
    names.extend(["p0", "p1", "p2"].map(String::from));
    for (i, name) in names.iter().enumerate() {
        let (name, path) = (name.clone(), side_effects.to_path_buf());
        g.add_node(name.clone(), move |_state, _ctx| {
            let (name, path) = (name.clone(), path.clone());
            async move {
                let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
                // One write call: parallel nodes append to the same file,
                // and `writeln!` may split the name and the newline.
                f.write_all(format!("{name}\n").as_bytes())?;
                f.sync_all()?;
                tokio::time::sleep(Duration::from_millis(15)).await;
                Ok(Update::new()
                    .set("log", name)
                    .set("sum", i64::try_from(i).expect("23 nodes: the index fits")))
            }
        });
    }
    g.add_edge(START, "n00");
    for i in 0..19 {
        if i == 9 {
            continue;
        }
        g.add_edge(format!("n{i:02}").as_str(), format!("n{:02}", i + 1));
    }
    for p in ["p0", "p1", "p2"] {
        g.add_edge("n09", p);
    }
    g.add_edge(["p0", "p1", "p2"], "n10");
    g.add_edge("n19", END);
    g
}

fn compile(g: &StateGraph, saver: Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    g.compile(CompileOptions::new().saver(saver))
        .unwrap()
        .with_recursion_limit(100)
}

fn read_log(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The child: runs the graph to the end (it is killed long before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let (Ok(db), Ok(log)) = (std::env::var(DB_ENV), std::env::var(LOG_ENV)) else {
        return;
    };
    let saver = Arc::new(SqliteSaver::open(&db).unwrap());
    let app = compile(&long_graph(Path::new(&log)), saver);
    app.invoke(json!({"log": [], "sum": 0}), &Config::thread(THREAD))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_resumes_without_rerunning_finished_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("crash.db");
    let log = dir.path().join("side_effects.log");

    // Kill after a random number of side effects, somewhere in the middle.
    let kill_after = seed::rng("killed_run_resumes_without_rerunning_finished_nodes").usize(3..16);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture"])
        .env(DB_ENV, &db)
        .env(LOG_ENV, &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while read_log(&log).len() < kill_after {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child ended before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());

    // What the database says had finished when the process died: the nodes
    // applied in the latest checkpoint, plus tasks with saved writes there.
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(SqliteSaver::open(&db).unwrap());
    let app = compile(&long_graph(&log), Arc::clone(&saver));
    let thread = Config::thread(THREAD);
    let at_kill = app.get_state(&thread).await.unwrap();
    let mut finished: Vec<String> = serde_json::from_value(at_kill.values["log"].clone()).unwrap();
    finished.extend(
        at_kill
            .tasks
            .iter()
            .filter(|t| t.result.is_some())
            .map(|t| t.name.clone()),
    );
    assert!(!finished.is_empty(), "killed before any node finished");
    let ran_before_kill = read_log(&log);

    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert!(!out.is_interrupted());

    // The same final state as a run that was never killed.
    let clean_log = dir.path().join("clean.log");
    let clean = compile(&long_graph(&clean_log), Arc::new(InMemorySaver::new()));
    let expected = clean
        .invoke(json!({"log": [], "sum": 0}), &Config::thread("clean"))
        .await
        .unwrap();
    assert_eq!(out.values, expected.values);
    assert_eq!(out.values["sum"], json!((0..23).sum::<i64>()));

    // Every node ran; finished ones exactly once; only tasks that were in
    // flight at the kill ran twice.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for name in read_log(&log) {
        *counts.entry(name).or_default() += 1;
    }
    assert_eq!(counts.len(), 23, "{counts:?}");
    for name in &finished {
        assert_eq!(
            counts[name], 1,
            "{name} finished before the kill but ran again"
        );
    }
    for (name, n) in &counts {
        if *n > 1 {
            assert_eq!(*n, 2, "{name}");
            assert!(ran_before_kill.contains(name) && !finished.contains(name));
        }
    }
}
