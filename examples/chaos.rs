//! The chaos harness: a worker process runs a graph on a SQLite file (or,
//! with `--saver postgres`, on a PostgreSQL schema of its own) and is
//! killed with SIGKILL at seeded random moments, then restarted (with
//! `Input::Continue`) until the run ends. On PostgreSQL the harness also
//! restarts the server itself (`pg_ctl restart -m immediate`) under some
//! workers. After every kill the harness checks, with the worker dead:
//!
//! - the store is sound: on SQLite `PRAGMA integrity_check` passes; on
//!   PostgreSQL (which has no such check) LangGraph's tables are
//!   consistent: no pending write without its checkpoint, no blob that no
//!   checkpoint refers to, no checkpoint whose `log` blob is missing;
//! - the history is linear: every parent is there, no checkpoint has two
//!   children;
//! - every checkpoint and every task write the worker reported as saved
//!   (it reports a call only after the saver returned `Ok`) is there;
//! - no task whose writes were saved ran again (each node appends its task
//!   id to a side-effect log before it returns; a task that appears in the
//!   log after a kill must not have had saved writes at that kill);
//!
//! and at the end of each run that the final state equals the state of a
//! run that was never killed. It prints its seed and a summary and exits
//! non-zero on any violation.
//!
//! ```text
//! cargo run --release --example chaos -- --kills 1000           # the long run
//! cargo run --example chaos -- --kills 100 --seed 42            # CI's run, repeated
//! cargo run --example chaos -- --broken-saver --kills 5         # must fail
//! # PostgreSQL (`. .ci/postgres` starts a server and exports the variables):
//! cargo run --release --features postgres --example chaos -- --saver postgres --kills 1000
//! ```
//!
//! Options: `--kills N` (kills of the worker or the server in all, default
//! 20; runs start until that many happened), `--seed S` (default: random, printed),
//! `--max-delay-ms D` (a worker is killed after a uniform random delay in
//! `0..=D` ms, default 150), `--dir PATH` (work there instead of in a temp
//! dir, and keep the files of a failing run), `--broken-saver` (the saver under test hides the first
//! pending write of every checkpoint it reads: the harness must catch it),
//! `--saver sqlite|postgres` (default `sqlite`). `--saver postgres` needs
//! feature `postgres` and `CHECKPOINTER_PG_URL`; each run gets a schema of
//! its own (dropped after a sound run). With `CHECKPOINTER_PG_CTL` and
//! `CHECKPOINTER_PG_DATA` also set (as `.ci/postgres` does) every 8th worker
//! life sees the server restarted under it (`pg_ctl restart -m immediate`,
//! counted as a kill); a worker whose call fails then is cut as if killed.
//! `--no-server-restarts` turns that off.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpointer::graph::Update;
use checkpointer::graph::{CompileOptions, CompiledGraph, END, Input, Reducer, START, StateGraph};
use checkpointer::saver::WriteBatch;
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointIter,
    CheckpointMetadata, CheckpointTuple, Config, InMemorySaver, ListOptions, PruneStrategy,
    SqliteSaver,
};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Environment of a worker: the database (a SQLite path or a PostgreSQL
/// URL), which saver (`sqlite` or `postgres`), the side-effect log, the
/// report file, the thread, the seed of its node delays, and `1` for the
/// broken saver.
pub const DB_ENV: &str = "CHECKPOINTER_CHAOS_DB";
const SAVER_ENV: &str = "CHECKPOINTER_CHAOS_SAVER";
const LOG_ENV: &str = "CHECKPOINTER_CHAOS_LOG";
const REPORT_ENV: &str = "CHECKPOINTER_CHAOS_REPORT";
const THREAD_ENV: &str = "CHECKPOINTER_CHAOS_THREAD";
const BROKEN_ENV: &str = "CHECKPOINTER_CHAOS_BROKEN";
const SEED_ENV: &str = "CHECKPOINTER_CHAOS_SEED";

/// The stages of the graph: a chain of fan-outs, each stage's nodes joined
/// into every node of the next one (widths 1, 3, 2, 4, 1, ...).
const WIDTHS: [usize; 10] = [1, 3, 2, 4, 1, 3, 1, 2, 4, 1];

/// The saver a harness run tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `SqliteSaver`, a file per graph run.
    Sqlite,
    /// `PostgresSaver` (feature `postgres`), a schema per graph run.
    Postgres(PgTarget),
}

/// The PostgreSQL server a harness run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    /// The server's URL (`CHECKPOINTER_PG_URL`).
    pub url: String,
    /// `pg_ctl` and the data dir (`CHECKPOINTER_PG_CTL`,
    /// `CHECKPOINTER_PG_DATA`): when set, the harness restarts the server
    /// under every `restart_every`th worker life.
    pub server: Option<(String, String)>,
    /// Which worker lives see a server restart (every 8th by default).
    pub restart_every: usize,
}

impl PgTarget {
    /// The server of `CHECKPOINTER_PG_URL`, restarted mid-run when
    /// `restarts` and `CHECKPOINTER_PG_CTL`/`CHECKPOINTER_PG_DATA` are set.
    ///
    /// # Errors
    ///
    /// When `CHECKPOINTER_PG_URL` is unset.
    pub fn from_env(restarts: bool) -> Result<PgTarget, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let url = var("CHECKPOINTER_PG_URL").ok_or(
            "--saver postgres needs CHECKPOINTER_PG_URL (`. .ci/postgres` starts a server)",
        )?;
        let server = match (var("CHECKPOINTER_PG_CTL"), var("CHECKPOINTER_PG_DATA")) {
            (Some(ctl), Some(data)) if restarts => Some((ctl, data)),
            _ => None,
        };
        Ok(PgTarget {
            url,
            server,
            restart_every: 8,
        })
    }
}

/// What a harness run does.
#[derive(Clone, Debug)]
pub struct Options {
    /// The saver under test.
    pub backend: Backend,
    /// Kills in all: runs start until that many kills happened.
    pub kills: usize,
    /// The seed of the kill moments and node delays.
    pub seed: u64,
    /// A worker is killed after a random delay in `0..=max_delay_ms`.
    pub max_delay_ms: u64,
    /// Test the harness: the saver hides a saved write.
    pub broken_saver: bool,
    /// Where the files go.
    pub dir: PathBuf,
    /// Keep the database of a failing run (a SQLite file is kept with
    /// its dir; a PostgreSQL schema is dropped unless this is set).
    pub keep_failed: bool,
}

/// What a harness run found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Graph runs finished (or abandoned after a violation).
    pub runs: usize,
    /// Worker lives started.
    pub lives: usize,
    /// Workers killed.
    pub kills: usize,
    /// Checks that a reported checkpoint is there (each check after a
    /// kill looks at every report of the run so far).
    pub checkpoints_checked: usize,
    /// Checks that a reported task write is there.
    pub writes_checked: usize,
    /// Tasks that ran twice because they were killed before their writes
    /// were saved (allowed).
    pub in_flight_reruns: usize,
    /// PostgreSQL server restarts under a running worker.
    pub server_restarts: usize,
    /// Workers that stopped with an error because the server restarted
    /// under them (allowed: the run goes on with `Input::Continue`).
    pub failed_by_restart: usize,
    /// Everything that broke a rule, one line each.
    pub violations: Vec<String>,
}

impl Summary {
    /// The summary as the harness prints it.
    pub fn render(&self, options: &Options) -> String {
        let saver = match options.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        };
        let mut out = format!(
            "chaos: {saver}, seed {} | {} runs, {} kills, {} server restarts ({} workers failed \
             by them) | {} looks for a reported checkpoint and {} for a reported write | {} \
             in-flight tasks re-ran (allowed) | {} violations",
            options.seed,
            self.runs,
            self.kills,
            self.server_restarts,
            self.failed_by_restart,
            self.checkpoints_checked,
            self.writes_checked,
            self.in_flight_reruns,
            self.violations.len()
        );
        for v in &self.violations {
            let _ = write!(out, "\nVIOLATION: {v}");
        }
        out
    }
}

fn main() -> ExitCode {
    if std::env::var_os(DB_ENV).is_some() {
        return worker_main();
    }
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = options.dir.clone();
    let keep = options.keep_failed;
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("chaos: cannot find this program: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "chaos: seed {} (repeat with --seed {})",
        options.seed, options.seed
    );
    let summary = run(&options, &|| Command::new(&program));
    println!("{}", summary.render(&options));
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if summary.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        backend: Backend::Sqlite,
        kills: 20,
        seed: fastrand::u64(..),
        max_delay_ms: 150,
        broken_saver: false,
        dir: std::env::temp_dir().join(format!("checkpointer-chaos-{}", std::process::id())),
        keep_failed: false,
    };
    let (mut saver, mut restarts) = (String::from("sqlite"), true);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--saver" => saver = value("--saver")?,
            "--no-server-restarts" => restarts = false,
            "--kills" => options.kills = number(&value("--kills")?)?,
            "--seed" => options.seed = number(&value("--seed")?)?,
            "--max-delay-ms" => options.max_delay_ms = number(&value("--max-delay-ms")?)?,
            "--dir" => {
                options.dir = PathBuf::from(value("--dir")?);
                options.keep_failed = true;
            }
            "--broken-saver" => options.broken_saver = true,
            other => return Err(format!("unknown argument {other:?} (see the file's doc)")),
        }
    }
    options.backend = match saver.as_str() {
        "sqlite" => Backend::Sqlite,
        "postgres" if cfg!(feature = "postgres") => {
            Backend::Postgres(PgTarget::from_env(restarts)?)
        }
        "postgres" => return Err("--saver postgres needs --features postgres".into()),
        other => return Err(format!("--saver {other:?}: sqlite or postgres")),
    };
    Ok(options)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

// ---------------------------------------------------------------- the graph

/// The graph: every node appends `task_id name` to the side-effect log
/// (before it returns), sleeps a little, and adds its name to `log` and its
/// number to `sum`.
fn graph(side_effects: &Path, seed: u64) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append()).add_channel(
        "sum",
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))),
    );
    let stages: Vec<Vec<String>> = WIDTHS
        .iter()
        .enumerate()
        .map(|(s, w)| (0..*w).map(|j| format!("s{s}_{j}")).collect())
        .collect();
    for (number, name) in stages.iter().flatten().enumerate() {
        add_logging_node(&mut g, name, number, side_effects, seed);
    }
    g.add_edge(START, stages[0][0].as_str());
    for pair in stages.windows(2) {
        for to in &pair[1] {
            g.add_edge(pair[0].clone(), to.as_str());
        }
    }
    if let Some(last) = stages.last() {
        g.add_edge(last.clone(), END);
    }
    g
}

fn add_logging_node(g: &mut StateGraph, name: &str, number: usize, log: &Path, seed: u64) {
    let (name, log) = (name.to_owned(), log.to_path_buf());
    let mut rng = fastrand::Rng::with_seed(seed ^ (number as u64));
    let delay = Duration::from_millis(rng.u64(1..6));
    g.add_node(name.clone(), move |_state, ctx| {
        let (name, log) = (name.clone(), log.clone());
        async move {
            let line = format!("{}\t{name}\n", ctx.task_id());
            // One write call: parallel nodes append to the same file.
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?
                .write_all(line.as_bytes())?;
            tokio::time::sleep(delay).await;
            Ok(Update::new().set("log", name).set("sum", number))
        }
    });
}

fn compile(g: &StateGraph, saver: Arc<dyn BaseCheckpointSaver>) -> Result<CompiledGraph, BoxError> {
    Ok(g.compile(CompileOptions::new().saver(saver))?
        .with_recursion_limit(100))
}

fn initial_input() -> Value {
    json!({"log": [], "sum": 0})
}

// ---------------------------------------------------------------- the worker

/// The worker: runs (or continues) the thread to its end, reporting every
/// saved checkpoint and write to the report file.
fn worker_main() -> ExitCode {
    match worker() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos worker: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_path(name: &str) -> Result<PathBuf, BoxError> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{name} is not set").into())
}

/// Runs the worker's part; public for the harness' own test, which runs
/// the worker inside its test binary.
pub fn worker() -> Result<(), BoxError> {
    let db = std::env::var_os(DB_ENV).ok_or(format!("{DB_ENV} is not set"))?;
    let kind = std::env::var(SAVER_ENV).unwrap_or_else(|_| "sqlite".into());
    let report = env_path(REPORT_ENV)?;
    let log = env_path(LOG_ENV)?;
    let thread = Config::thread(std::env::var(THREAD_ENV)?);
    let seed: u64 = number(&std::env::var(SEED_ENV)?)?;
    let broken = std::env::var(BROKEN_ENV).is_ok_and(|v| v == "1");
    let saver = ChaosSaver::open(&kind, db, Some(report), broken)?;
    // Outside the runtime: PostgreSQL's blocking client must not run on it.
    let started = saver.get_tuple(&thread)?.is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = compile(&graph(&log, seed), Arc::new(saver))?;
        let input = if started {
            Input::Continue
        } else {
            Input::Values(initial_input())
        };
        let out = app.invoke(input, &thread).await?;
        if out.is_interrupted() {
            return Err(format!("the run stopped at {:?}", out.next).into());
        }
        Ok::<_, BoxError>(())
    })
}

/// The saver under test: SQLite or PostgreSQL, reporting each call that
/// returned `Ok` (worker) and, with `broken`, hiding the first pending
/// write of every checkpoint it reads (the defect the harness must catch).
struct ChaosSaver {
    inner: Box<dyn BaseCheckpointSaver>,
    report: Option<PathBuf>,
    broken: bool,
}

impl ChaosSaver {
    /// Opens the saver `kind` (`sqlite`, `postgres`) on `db` (a path or a URL).
    fn open(
        kind: &str,
        db: OsString,
        report: Option<PathBuf>,
        broken: bool,
    ) -> Result<Self, BoxError> {
        let inner: Box<dyn BaseCheckpointSaver> = match kind {
            "sqlite" => Box::new(SqliteSaver::open(PathBuf::from(db))?),
            #[cfg(feature = "postgres")]
            "postgres" => {
                let url = db
                    .into_string()
                    .map_err(|u| format!("{}: not UTF-8", u.display()))?;
                Box::new(checkpointer::PostgresSaver::open(&url)?)
            }
            other => return Err(format!("no saver {other:?} in this build").into()),
        };
        Ok(ChaosSaver {
            inner,
            report,
            broken,
        })
    }

    /// Appends one line to the report (one write call, so a kill never
    /// leaves half a line that reads as a whole one).
    fn report(&self, line: &str) -> checkpointer::Result<()> {
        let Some(path) = &self.report else {
            return Ok(());
        };
        let result = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        result.map_err(|e| checkpointer::Error::backend("chaos report", "append", e))
    }

    fn report_checkpoint(&self, stored: &Config) -> checkpointer::Result<()> {
        let id = stored.checkpoint_id.as_deref().unwrap_or_default();
        self.report(&format!("CP\t{}\t{}\t{id}", stored.thread_id, stored.ns()))
    }

    fn report_writes(&self, target: &Config, task_id: &str, n: usize) -> checkpointer::Result<()> {
        let id = target.checkpoint_id.as_deref().unwrap_or_default();
        let (thread, ns) = (&target.thread_id, target.ns());
        self.report(&format!("W\t{thread}\t{ns}\t{id}\t{task_id}\t{n}"))
    }

    fn hide(&self, mut tuple: CheckpointTuple) -> CheckpointTuple {
        if self.broken && !tuple.pending_writes.is_empty() {
            tuple.pending_writes.remove(0);
        }
        tuple
    }
}

impl BaseCheckpointSaver for ChaosSaver {
    fn get_tuple(&self, config: &Config) -> checkpointer::Result<Option<CheckpointTuple>> {
        Ok(self.inner.get_tuple(config)?.map(|t| self.hide(t)))
    }

    fn list_iter(
        &self,
        config: Option<&Config>,
        options: &ListOptions,
    ) -> checkpointer::Result<CheckpointIter> {
        let tuples = self.inner.list(config, options)?;
        Ok(CheckpointIter::from_vec(
            tuples.into_iter().map(|t| self.hide(t)).collect(),
        ))
    }

    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> checkpointer::Result<Config> {
        let stored = self.inner.put(config, checkpoint, metadata, new_versions)?;
        self.report_checkpoint(&stored)?;
        Ok(stored)
    }

    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> checkpointer::Result<()> {
        self.inner.put_writes(config, writes, task_id, task_path)?;
        self.report_writes(config, task_id, writes.len())
    }

    fn put_with_writes(
        &self,
        config: &Config,
        batches: &[WriteBatch<'_>],
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> checkpointer::Result<Config> {
        let stored =
            self.inner
                .put_with_writes(config, batches, checkpoint, metadata, new_versions)?;
        for batch in batches {
            self.report_writes(config, batch.task_id, batch.writes.len())?;
        }
        self.report_checkpoint(&stored)?;
        Ok(stored)
    }

    fn delete_thread(&self, thread_id: &str) -> checkpointer::Result<()> {
        self.inner.delete_thread(thread_id)
    }

    fn delete_for_runs(&self, run_ids: &[String]) -> checkpointer::Result<()> {
        self.inner.delete_for_runs(run_ids)
    }

    fn copy_thread(&self, source: &str, target: &str) -> checkpointer::Result<()> {
        self.inner.copy_thread(source, target)
    }

    fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> checkpointer::Result<()> {
        self.inner.prune(thread_ids, strategy)
    }

    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.inner.get_next_version(current)
    }
}

// ---------------------------------------------------------------- the harness

/// Runs graph runs until `options.kills` kills happened; `worker` makes the
/// command that starts a worker (this program, or a test binary).
pub fn run(options: &Options, worker: &dyn Fn() -> Command) -> Summary {
    let mut summary = Summary::default();
    if let Err(e) = std::fs::create_dir_all(&options.dir) {
        summary
            .violations
            .push(format!("cannot create {}: {e}", options.dir.display()));
        return summary;
    }
    let mut rng = fastrand::Rng::with_seed(options.seed);
    while summary.kills + summary.server_restarts < options.kills && summary.violations.is_empty() {
        let mut one = RunState::new(options, rng.u64(..), summary.runs);
        let result = one
            .store
            .create()
            .and_then(|()| one.run_to_end(options, &mut rng, worker, &mut summary));
        if let Err(e) = result {
            summary
                .violations
                .push(format!("{}: {}", one.thread, chain(&*e)));
        }
        if summary.violations.is_empty() || !options.keep_failed {
            // A sound run's files are of no more use; a failing run's stay
            // when asked.
            one.remove_files();
        }
        summary.runs += 1;
    }
    summary
}

/// Where one graph run keeps its checkpoints.
enum Store {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A schema of its own on a PostgreSQL server.
    Postgres { target: PgTarget, schema: String },
}

impl Store {
    fn new(options: &Options, number: usize, seed: u64) -> Store {
        match &options.backend {
            Backend::Sqlite => Store::Sqlite(options.dir.join(format!("run-{number}.db"))),
            Backend::Postgres(target) => Store::Postgres {
                target: target.clone(),
                schema: format!("chaos_{}_{number}_{:x}", std::process::id(), seed >> 16),
            },
        }
    }

    /// The saver's name and its database (path or URL), as a worker gets them.
    fn locator(&self) -> (&'static str, OsString) {
        match self {
            Store::Sqlite(db) => ("sqlite", db.clone().into_os_string()),
            Store::Postgres { target, schema } => {
                ("postgres", with_search_path(&target.url, schema).into())
            }
        }
    }

    fn open(&self, broken: bool) -> Result<ChaosSaver, BoxError> {
        let (kind, db) = self.locator();
        ChaosSaver::open(kind, db, None, broken)
    }

    fn create(&self) -> Result<(), BoxError> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres { target, schema } => {
                let mut client = postgres::Client::connect(&target.url, postgres::NoTls)?;
                client.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))?;
                // The tables, before any worker (whose open a kill may cut).
                self.open(false).map(drop)
            }
        }
    }

    fn remove(&self) {
        match self {
            Store::Sqlite(db) => {
                for ext in ["db", "db-wal", "db-shm"] {
                    let _ = std::fs::remove_file(db.with_extension(ext));
                }
            }
            Store::Postgres { target, schema } => {
                if let Ok(mut client) = postgres::Client::connect(&target.url, postgres::NoTls) {
                    let _ =
                        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            }
        }
    }

    /// What is wrong with the store itself, one line each: SQLite's
    /// `integrity_check`; PostgreSQL's tables checked against each other.
    fn problems(&self) -> Result<Vec<String>, BoxError> {
        match self {
            Store::Sqlite(db) => Ok(integrity_problem(db)?
                .map(|p| format!("integrity_check: {p}"))
                .into_iter()
                .collect()),
            Store::Postgres { target, schema } => {
                let url = with_search_path(&target.url, schema);
                let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
                let rows = client.query(PG_CONSISTENCY, &[])?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            }
        }
    }
}

/// LangGraph's PostgreSQL tables against each other: a pending write
/// without its checkpoint, a blob no checkpoint refers to (its checkpoint
/// was lost), a checkpoint whose `log` value is neither inline nor in a
/// blob. One row per problem.
const PG_CONSISTENCY: &str = "
SELECT format('pending write %s/%s of thread %s against checkpoint %s, which is missing',
              w.task_id, w.idx, w.thread_id, w.checkpoint_id)
FROM checkpoint_writes w
WHERE NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = w.thread_id
                  AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)
UNION ALL
SELECT format('blob %s@%s of thread %s, which no checkpoint refers to',
              b.channel, b.version, b.thread_id)
FROM checkpoint_blobs b
WHERE NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id
                  AND c.checkpoint_ns = b.checkpoint_ns
                  AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)
UNION ALL
SELECT format('checkpoint %s of thread %s refers to log@%s, which is missing',
              c.checkpoint_id, c.thread_id, c.checkpoint -> 'channel_versions' ->> 'log')
FROM checkpoints c
WHERE c.checkpoint -> 'channel_versions' ? 'log'
  AND NOT COALESCE(c.checkpoint -> 'channel_values' ? 'log', false)
  AND NOT EXISTS (SELECT 1 FROM checkpoint_blobs b WHERE b.thread_id = c.thread_id
                  AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = 'log'
                  AND b.version = c.checkpoint -> 'channel_versions' ->> 'log')";

/// `url` with `search_path` set to `schema` for every session.
fn with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{schema}")
    } else {
        format!("{url} options='-c search_path={schema}'")
    }
}

/// `pg_ctl restart -m immediate` (as the data dir's owner when we are
/// root: `pg_ctl` refuses root), waiting until the server takes
/// connections again.
fn restart_server(ctl: &str, data: &str) -> Result<(), BoxError> {
    let log = Path::new(data).with_file_name("log");
    let owner = Command::new("stat").args(["-c", "%U", data]).output()?;
    let owner = String::from_utf8_lossy(&owner.stdout).trim().to_owned();
    let me = Command::new("id").arg("-un").output()?;
    let mut cmd = if String::from_utf8_lossy(&me.stdout).trim() == owner {
        Command::new(ctl)
    } else {
        let mut c = Command::new("runuser");
        c.args(["-u", &owner, "--", ctl]);
        c
    };
    let status = cmd
        .arg("-D")
        .arg(data)
        .arg("-l")
        .arg(&log)
        .args(["-m", "immediate", "-w", "-t", "60", "-s", "restart"])
        // The server must not hold the harness' output open.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "pg_ctl restart of {data}: {status} (its log: {})",
            log.display()
        )
        .into())
    }
}

/// One graph run on its own database, across worker lives.
struct RunState {
    thread: String,
    seed: u64,
    store: Store,
    log: PathBuf,
    report: PathBuf,
    /// Tasks whose writes were saved at the last check.
    saved_tasks: BTreeSet<String>,
    /// Side-effect log lines already checked.
    log_seen: usize,
}

/// How one worker life ended.
enum Life {
    /// The worker finished the run.
    Finished,
    /// It was killed, or failed because the server restarted under it.
    Cut,
}

impl RunState {
    fn new(options: &Options, seed: u64, number: usize) -> Self {
        let file = |ext: &str| options.dir.join(format!("run-{number}.{ext}"));
        let run = RunState {
            thread: format!("run-{seed}"),
            seed,
            store: Store::new(options, number, seed),
            log: file("log"),
            report: file("report"),
            saved_tasks: BTreeSet::new(),
            log_seen: 0,
        };
        run.remove_files();
        run
    }

    fn remove_files(&self) {
        self.store.remove();
        for file in [&self.log, &self.report] {
            let _ = std::fs::remove_file(file);
        }
    }

    fn run_to_end(
        &mut self,
        options: &Options,
        rng: &mut fastrand::Rng,
        worker: &dyn Fn() -> Command,
        summary: &mut Summary,
    ) -> Result<(), BoxError> {
        for _life in 0..10_000 {
            let delay = Duration::from_millis(rng.u64(0..=options.max_delay_ms));
            summary.lives += 1;
            let server = match &options.backend {
                Backend::Postgres(PgTarget {
                    server: Some(server),
                    restart_every,
                    ..
                }) if summary.lives.is_multiple_of((*restart_every).max(1)) => Some(server),
                _ => None,
            };
            let child = self.spawn(options, worker)?;
            if let Life::Finished = live(child, delay, server, summary)? {
                self.check(options, summary)?;
                return self.check_final(options, summary);
            }
            self.check(options, summary)?;
            if !summary.violations.is_empty() {
                return Ok(());
            }
        }
        Err("10,000 worker lives and the run did not end".into())
    }

    fn spawn(&self, options: &Options, worker: &dyn Fn() -> Command) -> Result<Child, BoxError> {
        let mut cmd = worker();
        let (kind, db) = self.store.locator();
        cmd.env(DB_ENV, db)
            .env(SAVER_ENV, kind)
            .env(LOG_ENV, &self.log)
            .env(REPORT_ENV, &self.report)
            .env(THREAD_ENV, &self.thread)
            .env(SEED_ENV, self.seed.to_string())
            .env(BROKEN_ENV, if options.broken_saver { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        Ok(cmd.spawn()?)
    }

    /// The checks after a kill (or the end): the store is sound, every
    /// reported save is there, the history is linear, no task with saved
    /// writes ran again.
    fn check(&mut self, options: &Options, summary: &mut Summary) -> Result<(), BoxError> {
        let ctx = format!("{} after kill {}", self.thread, summary.kills);
        for problem in self.store.problems()? {
            summary.violations.push(format!("{ctx}: {problem}"));
        }
        let saver = self.store.open(options.broken_saver)?;
        self.check_reports(&saver, &ctx, summary)?;
        let log = read_lines(&self.log);
        let task_of = |line: &str| line.split_once('\t').map_or(line, |p| p.0).to_owned();
        let ran_before: BTreeSet<String> =
            log.iter().take(self.log_seen).map(|l| task_of(l)).collect();
        for line in log.iter().skip(self.log_seen) {
            let task = task_of(line);
            if self.saved_tasks.contains(&task) {
                summary.violations.push(format!(
                    "{ctx}: task {line:?} ran again although its writes were saved"
                ));
            } else if ran_before.contains(&task) {
                summary.in_flight_reruns += 1;
            }
        }
        self.log_seen = log.len();
        let history = saver.list(Some(&Config::thread(&self.thread)), &ListOptions::new())?;
        summary
            .violations
            .extend(fork_or_gap(&history).map(|p| format!("{ctx}: {p}")));
        for tuple in history {
            self.saved_tasks
                .extend(tuple.pending_writes.into_iter().map(|w| w.task_id));
        }
        Ok(())
    }

    fn check_reports(
        &self,
        saver: &ChaosSaver,
        ctx: &str,
        summary: &mut Summary,
    ) -> Result<(), BoxError> {
        for line in read_lines(&self.report) {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["CP", thread, ns, id] => {
                    let cfg = Config::thread(*thread).with_ns(*ns).with_checkpoint_id(*id);
                    if saver.get_tuple(&cfg)?.is_none() {
                        summary.violations.push(format!(
                            "{ctx}: checkpoint {id} of thread {thread} (ns {ns:?}) was reported saved and is gone"
                        ));
                    }
                    summary.checkpoints_checked += 1;
                }
                ["W", thread, ns, id, task, n] => {
                    let cfg = Config::thread(*thread).with_ns(*ns).with_checkpoint_id(*id);
                    let found = saver.get_tuple(&cfg)?.map_or(0, |t| {
                        t.pending_writes
                            .iter()
                            .filter(|w| w.task_id == *task)
                            .count()
                    });
                    if found.to_string() != *n {
                        summary.violations.push(format!(
                            "{ctx}: task {task} saved {n} writes against checkpoint {id} of \
                             thread {thread}; {found} are there (missing write)"
                        ));
                    }
                    summary.writes_checked += 1;
                }
                _ => summary
                    .violations
                    .push(format!("{ctx}: bad report line {line:?}")),
            }
        }
        Ok(())
    }

    /// The end of a run: the final state equals an uncrashed run's.
    fn check_final(&self, options: &Options, summary: &mut Summary) -> Result<(), BoxError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let clean_log = options.dir.join("clean.log");
        let saver = self.store.open(options.broken_saver)?;
        let (got, want) = runtime.block_on(async {
            let thread = Config::thread(&self.thread);
            let got = compile(&graph(&self.log, self.seed), Arc::new(saver))?
                .get_state(&thread)
                .await?;
            let clean = compile(
                &graph(&clean_log, self.seed),
                Arc::new(InMemorySaver::new()),
            )?;
            let want = clean.invoke(initial_input(), &thread).await?;
            Ok::<_, BoxError>((got, want))
        })?;
        let _ = std::fs::remove_file(&clean_log);
        if !got.next.is_empty() || got.values != want.values {
            summary.violations.push(format!(
                "{}: final state {} (next {:?}) differs from an uncrashed run's {}",
                self.thread, got.values, got.next, want.values
            ));
        }
        Ok(())
    }
}

/// A worker's life: waits `delay`, then kills it (SIGKILL), or, with a
/// `server`, restarts the server under it and gives it 10 s to end.
fn live(
    mut child: Child,
    delay: Duration,
    server: Option<&(String, String)>,
    summary: &mut Summary,
) -> Result<Life, BoxError> {
    let ended = |status: std::process::ExitStatus| {
        if status.success() {
            Ok(Life::Finished)
        } else {
            Err(BoxError::from(format!(
                "the worker failed ({status}); see its stderr"
            )))
        }
    };
    if let Some(status) = wait_for(&mut child, delay)? {
        return ended(status);
    }
    if let Some((ctl, data)) = server {
        let restarted = restart_server(ctl, data);
        if restarted.is_err() {
            kill(&mut child)?;
        }
        restarted?;
        summary.server_restarts += 1;
        match wait_for(&mut child, Duration::from_secs(10))? {
            Some(status) if status.success() => return Ok(Life::Finished),
            Some(_) => {
                summary.failed_by_restart += 1;
                return Ok(Life::Cut);
            }
            None => {}
        }
    }
    kill(&mut child)?;
    summary.kills += 1;
    Ok(Life::Cut)
}

/// Waits up to `delay` for the child to end by itself: `Some(status)` when
/// it did.
fn wait_for(
    child: &mut Child,
    delay: Duration,
) -> Result<Option<std::process::ExitStatus>, BoxError> {
    let start = Instant::now();
    while start.elapsed() < delay {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    Ok(child.try_wait()?)
}

/// SIGKILL on Unix: no cleanup, no goodbye.
fn kill(child: &mut Child) -> Result<(), BoxError> {
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// The breaks of a linear history (newest first, as `list` gives it): a
/// parent that is missing, a checkpoint with two children (a fork).
fn fork_or_gap(history: &[CheckpointTuple]) -> impl Iterator<Item = String> {
    let ids: BTreeSet<&str> = history
        .iter()
        .filter_map(|t| t.config.checkpoint_id.as_deref())
        .collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut problems = Vec::new();
    for tuple in history {
        let id = tuple.config.checkpoint_id.as_deref().unwrap_or_default();
        let Some(parent) = tuple
            .parent_config
            .as_ref()
            .and_then(|p| p.checkpoint_id.as_deref())
        else {
            continue;
        };
        if !ids.contains(parent) {
            problems.push(format!("checkpoint {id}'s parent {parent} is missing"));
        }
        children.entry(parent).or_default().push(id);
    }
    problems.extend(
        children
            .into_iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(p, c)| format!("checkpoint {p} has {} children {c:?} (a fork)", c.len())),
    );
    problems.into_iter()
}

/// An error with its sources (`db error: ERROR: ...`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

/// `None` when `PRAGMA integrity_check` says `ok`, else what it says.
fn integrity_problem(db: &Path) -> Result<Option<String>, BoxError> {
    if !db.exists() {
        return Ok(None);
    }
    let conn = rusqlite::Connection::open(db)?;
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((rows != ["ok"]).then(|| rows.join("; ")))
}

/// The complete lines of a file (a line cut by a kill is not counted).
fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_owned).collect()
}
