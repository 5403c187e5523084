//! Thread leases across processes (issue 12, part 1), on SQLite and on
//! PostgreSQL:
//!
//! - two processes race to invoke one thread until it ran 1,000 times:
//!   exactly one runs at a time (the nodes log their start and end, and no
//!   two runs interleave), every run's work is in the final state, and the
//!   history has no fork;
//! - a runner killed with SIGKILL: its lease expires and `Input::Continue`
//!   from another process finishes the run;
//! - a runner stopped with SIGSTOP past its lease: another process
//!   continues the thread and finishes it; SIGCONT the first: its next
//!   write is refused (`GraphError::LeaseLost`), and the history is linear.
//!
//! The workers run inside this test binary (`--exact lease_worker`);
//! without the worker variables that test does nothing. PostgreSQL needs
//! feature `postgres` and `CHECKPOINTER_PG_URL` (skipped with a printed
//! line without it, failing under `CI=true`).

mod lease_support;
#[cfg(feature = "postgres")]
mod pg_support;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, Input, Reducer, RunOptions, START, StateGraph,
    Update,
};
use checkpointer::{Config, ListOptions, SqliteSaver, ThreadLeases};
use serde_json::json;

/// The worker's variables: its mode (`race`, `pause`), the saver
/// (`sqlite`, `postgres`) and database (a path or URL), the side-effect log
/// (race) or the mark file (pause), the owner, the runs wanted (race).
const MODE: &str = "LEASE_WORKER";
const SAVER: &str = "LEASE_WORKER_SAVER";
const DB: &str = "LEASE_WORKER_DB";
const FILE: &str = "LEASE_WORKER_FILE";
const OWNER: &str = "LEASE_WORKER_OWNER";
const RUNS: &str = "LEASE_WORKER_RUNS";

/// Runs worked through the race in all (half per process).
const RACE_RUNS: usize = 1_000;

/// The lease of the paused runner: short, so that a stop outlives it.
const PAUSE_TTL: Duration = Duration::from_millis(400);

/// Where a test's thread lives: the saver's name, its database, and what
/// keeps it (a temp dir, a schema) alive.
struct Target {
    saver: &'static str,
    db: String,
    _guard: Box<dyn std::any::Any>,
}

impl Target {
    fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("leases.db").display().to_string();
        Target {
            saver: "sqlite",
            db,
            _guard: Box::new(dir),
        }
    }

    #[cfg(feature = "postgres")]
    fn postgres(test: &str) -> Option<Target> {
        let url = pg_support::server_url(test)?;
        let schema = pg_support::Schema::new(&url);
        Some(Target {
            saver: "postgres",
            db: schema.url(),
            _guard: Box::new(schema),
        })
    }

    fn open(&self) -> Arc<dyn ThreadLeases> {
        open(self.saver, &self.db).expect("open the saver")
    }

    /// This test binary as a worker of `mode` on this database.
    fn worker(&self, mode: &str, file: &Path, owner: &str) -> Command {
        let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
        cmd.args(["--exact", "lease_worker", "--test-threads=1", "--nocapture"])
            .env(MODE, mode)
            .env(SAVER, self.saver)
            .env(DB, &self.db)
            .env(FILE, file)
            .env(OWNER, owner)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

fn open(saver: &str, db: &str) -> Result<Arc<dyn ThreadLeases>, String> {
    match saver {
        "sqlite" => Ok(Arc::new(SqliteSaver::open(db).map_err(|e| e.to_string())?)),
        #[cfg(feature = "postgres")]
        "postgres" => Ok(Arc::new(
            checkpointer::PostgresSaver::open(db).map_err(|e| e.to_string())?,
        )),
        other => Err(format!("no saver {other:?} in this build")),
    }
}

fn add() -> Reducer {
    Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0)))
}

/// Appends one line (one write call: the processes share the file).
fn append(path: &Path, line: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

fn compile(
    g: &StateGraph,
    saver: Arc<dyn ThreadLeases>,
    owner: &str,
    ttl: Duration,
) -> CompiledGraph {
    g.compile(
        CompileOptions::new()
            .leased_saver(saver)
            .lease_owner(owner)
            .lease_ttl(ttl),
    )
    .expect("compile")
}

// ------------------------------------------------------------------ workers

#[test]
fn lease_worker() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let result = match mode.as_str() {
        "race" => runtime.block_on(race_worker()),
        "pause" => runtime.block_on(pause_worker()),
        other => Err(format!("no worker mode {other:?}")),
    };
    if let Err(e) = result {
        eprintln!("lease worker: {e}");
        std::process::exit(3);
    }
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// START -> count -> END: `count` logs its start and end and adds 1 to `n`.
fn race_graph(log: &Path, owner: &str) -> StateGraph {
    let (log, owner) = (log.to_path_buf(), owner.to_owned());
    let mut g = StateGraph::new();
    g.add_channel("n", add())
        .add_node("count", move |_state, _ctx| {
            let (log, owner) = (log.clone(), owner.clone());
            async move {
                append(&log, &format!("start\t{owner}"))?;
                tokio::task::yield_now().await;
                append(&log, &format!("end\t{owner}"))?;
                Ok(Update::new().set("n", 1))
            }
        })
        .add_edge(START, "count")
        .add_edge("count", END);
    g
}

/// Invokes the thread until `RUNS` runs of this process went through; a
/// busy thread is tried again. Prints `ran N busy M`.
async fn race_worker() -> Result<(), String> {
    let (saver, db, owner) = (var(SAVER)?, var(DB)?, var(OWNER)?);
    let runs: usize = var(RUNS)?.parse().map_err(|e| format!("{RUNS}: {e}"))?;
    let log = PathBuf::from(var(FILE)?);
    let leases = tokio::task::spawn_blocking(move || open(&saver, &db))
        .await
        .map_err(|e| e.to_string())??;
    let app = compile(
        &race_graph(&log, &owner),
        leases,
        &owner,
        Duration::from_secs(30),
    );
    let thread = Config::thread("race");
    let (mut ran, mut busy) = (0, 0);
    while ran < runs {
        match app.invoke(json!({"n": 0}), &thread).await {
            Ok(_) => ran += 1,
            Err(GraphError::ThreadBusy { .. }) => {
                busy += 1;
                tokio::task::yield_now().await;
            }
            Err(e) => return Err(format!("run {ran} of {owner}: {e}")),
        }
    }
    println!("ran {ran} busy {busy}");
    Ok(())
}

/// START -> slow -> after -> END, each appending its name to `log`; with
/// `mark`, `slow` creates the mark file and then sleeps 3 s (the test
/// stops the process meanwhile).
fn pause_graph(mark: Option<PathBuf>) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_node("slow", move |_state, _ctx| {
            let mark = mark.clone();
            async move {
                if let Some(mark) = mark {
                    std::fs::write(&mark, b"in slow")?;
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                Ok(Update::new().set("log", "slow"))
            }
        })
        .add_sync_node("after", |_, _| Ok(Update::new().set("log", "after")))
        .add_edge(START, "slow")
        .add_edge("slow", "after")
        .add_edge("after", END);
    g
}

/// Runs the pause graph on thread `paused` with a short lease.
async fn pause_worker() -> Result<(), String> {
    let (saver, db, owner) = (var(SAVER)?, var(DB)?, var(OWNER)?);
    let mark = PathBuf::from(var(FILE)?);
    let leases = tokio::task::spawn_blocking(move || open(&saver, &db))
        .await
        .map_err(|e| e.to_string())??;
    let app = compile(&pause_graph(Some(mark)), leases, &owner, PAUSE_TTL);
    app.invoke(json!({"log": []}), &Config::thread("paused"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

// ------------------------------------------------------------------ checks

/// Waits for `child` (at most 120 s) and returns its output.
fn finish(child: std::process::Child, what: &str) -> Output {
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().expect("poll the worker").is_none() {
        if start.elapsed() > Duration::from_mins(2) {
            let _ = child.kill();
            panic!("{what} did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("the worker's output")
}

/// The checkpoints of `thread` with two or more children, and how many
/// checkpoints it has.
fn forks(saver: &dyn ThreadLeases, thread: &str) -> (Vec<String>, usize) {
    let history = saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .expect("list the thread");
    let forked = lease_support::forked(history.iter().map(|t| t.parent_config.as_ref()));
    (forked, history.len())
}

/// The runs in the side-effect log that overlapped another run.
fn interleavings(log: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut running: Option<&str> = None;
    for (n, line) in log.lines().enumerate() {
        match (line.split_once('\t'), running) {
            (Some(("start", owner)), None) => running = Some(owner),
            (Some(("end", owner)), Some(r)) if r == owner => running = None,
            _ => bad.push(format!("line {n}: {line:?} while {running:?} runs")),
        }
    }
    bad
}

fn race(db: &Target) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let log = dir.path().join("side-effects.log");
    db.open(); // the tables, before the workers race to make them
    let workers: Vec<_> = ["runner-a", "runner-b"]
        .into_iter()
        .map(|owner| {
            db.worker("race", &log, owner)
                .env(RUNS, (RACE_RUNS / 2).to_string())
                .spawn()
                .expect("start a worker")
        })
        .collect();
    for (n, w) in workers.into_iter().enumerate() {
        let out = finish(w, "a race worker");
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "race worker {n} ({}): {}",
            db.saver,
            text.find("ran ")
                .map_or("", |at| text[at..].lines().next().unwrap_or_default())
        );
        assert!(
            out.status.success(),
            "worker {n}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let log = std::fs::read_to_string(&log).expect("the side-effect log");
    let bad = interleavings(&log);
    assert!(
        bad.is_empty(),
        "two runs at once: {:?}",
        &bad[..bad.len().min(5)]
    );
    assert_eq!(
        log.lines().count(),
        2 * RACE_RUNS,
        "each run's node ran once"
    );
    let saver = db.open();
    let (forked, len) = forks(&*saver, "race");
    assert!(forked.is_empty(), "forks at {forked:?}");
    // input, __start__'s step and count's step: three checkpoints a run.
    assert_eq!(len, 3 * RACE_RUNS);
    let latest = saver
        .get_tuple(&Config::thread("race"))
        .expect("get")
        .expect("the thread");
    assert_eq!(
        latest.checkpoint.channel_values.get("n"),
        Some(&json!(RACE_RUNS))
    );
}

/// Runner b (in this process) continues thread `paused` once it gets the
/// lease, and finishes the run; its runtime and graph, for more reads.
fn continue_as_runner_b(saver: &Arc<dyn ThreadLeases>) -> (tokio::runtime::Runtime, CompiledGraph) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let b = compile(&pause_graph(None), Arc::clone(saver), "runner-b", PAUSE_TTL);
    let options = RunOptions::new().lease_wait(Duration::from_secs(30));
    let out = runtime
        .block_on(b.invoke_with(Input::Continue, &Config::thread("paused"), &options))
        .expect("runner b continues the thread once it has the lease");
    assert_eq!(out.values, json!({"log": ["slow", "after"]}));
    (runtime, b)
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid}: {status}");
}

/// Waits (at most 30 s) until `path` exists.
fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn paused_runner(db: &Target) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mark = dir.path().join("in-slow");
    db.open();
    let a = db
        .worker("pause", &mark, "runner-a")
        .spawn()
        .expect("start the runner");
    wait_for_file(&mark);
    signal(a.id(), "-STOP");
    // Stopped well past its lease.
    std::thread::sleep(PAUSE_TTL * 3);
    let saver = db.open();
    let (runtime, b) = continue_as_runner_b(&saver);
    signal(a.id(), "-CONT");
    let a_out = finish(a, "the paused runner");
    let stderr = String::from_utf8_lossy(&a_out.stderr);
    assert_eq!(
        a_out.status.code(),
        Some(3),
        "the paused runner must fail: {stderr}"
    );
    assert!(
        stderr.contains("was refused") && stderr.contains("lease") && stderr.contains("paused"),
        "a clear error naming the thread: {stderr}"
    );
    let (forked, len) = forks(&*saver, "paused");
    assert!(forked.is_empty(), "forks at {forked:?}");
    // input, __start__'s step, slow's step, after's step.
    assert_eq!(len, 4, "one linear history");
    let state = runtime
        .block_on(b.get_state(&Config::thread("paused")))
        .expect("the state");
    assert_eq!(state.values, json!({"log": ["slow", "after"]}));
}

/// SIGKILL a runner inside its node: its lease stays until it expires,
/// then `Input::Continue` from this process takes the thread and finishes
/// the run.
fn killed_runner(target: &Target) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mark = dir.path().join("in-slow");
    target.open();
    let mut a = target
        .worker("pause", &mark, "runner-a")
        .spawn()
        .expect("start the runner");
    wait_for_file(&mark);
    a.kill().expect("SIGKILL the runner");
    a.wait().expect("reap the runner");
    let saver = target.open();
    let held = saver.current("paused").expect("current");
    assert_eq!(
        held.map(|l| l.owner).as_deref(),
        Some("runner-a"),
        "the dead runner's lease"
    );
    let _ = continue_as_runner_b(&saver);
    let (forked, _) = forks(&*saver, "paused");
    assert!(forked.is_empty(), "forks at {forked:?}");
}

#[test]
fn a_killed_runners_lease_expires_and_continue_goes_on_on_sqlite() {
    killed_runner(&Target::sqlite());
}

#[cfg(feature = "postgres")]
#[test]
fn a_killed_runners_lease_expires_and_continue_goes_on_on_postgres() {
    let test = "a_killed_runners_lease_expires_and_continue_goes_on_on_postgres";
    if let Some(target) = Target::postgres(test) {
        killed_runner(&target);
    }
}

#[test]
fn two_processes_race_for_one_thread_on_sqlite() {
    race(&Target::sqlite());
}

#[test]
fn a_runner_paused_past_its_lease_is_refused_on_sqlite() {
    paused_runner(&Target::sqlite());
}

#[cfg(feature = "postgres")]
#[test]
fn two_processes_race_for_one_thread_on_postgres() {
    if let Some(db) = Target::postgres("two_processes_race_for_one_thread_on_postgres") {
        race(&db);
    }
}

#[cfg(feature = "postgres")]
#[test]
fn a_runner_paused_past_its_lease_is_refused_on_postgres() {
    if let Some(db) = Target::postgres("a_runner_paused_past_its_lease_is_refused_on_postgres") {
        paused_runner(&db);
    }
}
