//! The chaos harness: a worker process runs a graph on a SQLite file and is
//! killed with SIGKILL at seeded random moments, then restarted (with
//! `Input::Continue`) until the run ends. After every kill the harness
//! checks, with the worker dead:
//!
//! - `PRAGMA integrity_check` passes;
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
//! ```
//!
//! Options: `--kills N` (kills in all, default 20; runs start until that
//! many kills happened), `--seed S` (default: random, printed),
//! `--max-delay-ms D` (a worker is killed after a uniform random delay in
//! `0..=D` ms, default 150), `--dir PATH` (work there instead of in a temp
//! dir, and keep the files of a failing run), `--broken-saver` (the saver under test hides the first
//! pending write of every checkpoint it reads: the harness must catch it).

use std::collections::BTreeSet;
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

/// Environment of a worker: the database, the side-effect log, the report
/// file, the thread, the seed of its node delays, and `1` for the broken
/// saver.
pub const DB_ENV: &str = "CHECKPOINTER_CHAOS_DB";
const LOG_ENV: &str = "CHECKPOINTER_CHAOS_LOG";
const REPORT_ENV: &str = "CHECKPOINTER_CHAOS_REPORT";
const THREAD_ENV: &str = "CHECKPOINTER_CHAOS_THREAD";
const BROKEN_ENV: &str = "CHECKPOINTER_CHAOS_BROKEN";
const SEED_ENV: &str = "CHECKPOINTER_CHAOS_SEED";

/// The stages of the graph: a chain of fan-outs, each stage's nodes joined
/// into every node of the next one (widths 1, 3, 2, 4, 1, ...).
const WIDTHS: [usize; 10] = [1, 3, 2, 4, 1, 3, 1, 2, 4, 1];

/// What a harness run does.
#[derive(Clone, Debug)]
pub struct Options {
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
}

/// What a harness run found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Graph runs finished (or abandoned after a violation).
    pub runs: usize,
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
    /// Everything that broke a rule, one line each.
    pub violations: Vec<String>,
}

impl Summary {
    /// The summary as the harness prints it.
    pub fn render(&self, options: &Options) -> String {
        let mut out = format!(
            "chaos: seed {} | {} runs, {} kills | {} looks for a reported checkpoint and {} for \
             a reported write | {} in-flight tasks re-ran (allowed) | {} violations",
            options.seed,
            self.runs,
            self.kills,
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
    let keep = std::env::args().any(|a| a == "--dir");
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
        kills: 20,
        seed: fastrand::u64(..),
        max_delay_ms: 150,
        broken_saver: false,
        dir: std::env::temp_dir().join(format!("checkpointer-chaos-{}", std::process::id())),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--kills" => options.kills = number(&value("--kills")?)?,
            "--seed" => options.seed = number(&value("--seed")?)?,
            "--max-delay-ms" => options.max_delay_ms = number(&value("--max-delay-ms")?)?,
            "--dir" => options.dir = PathBuf::from(value("--dir")?),
            "--broken-saver" => options.broken_saver = true,
            other => return Err(format!("unknown argument {other:?} (see the file's doc)")),
        }
    }
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
    let db = env_path(DB_ENV)?;
    let report = env_path(REPORT_ENV)?;
    let log = env_path(LOG_ENV)?;
    let thread = Config::thread(std::env::var(THREAD_ENV)?);
    let seed: u64 = number(&std::env::var(SEED_ENV)?)?;
    let broken = std::env::var(BROKEN_ENV).is_ok_and(|v| v == "1");
    let saver = ChaosSaver::open(&db, Some(report), broken)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let started = saver.get_tuple(&thread)?.is_some();
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

/// The saver under test: SQLite, reporting each call that returned `Ok`
/// (worker) and, with `broken`, hiding the first pending write of every
/// checkpoint it reads (the defect the harness must catch).
struct ChaosSaver {
    inner: SqliteSaver,
    report: Option<PathBuf>,
    broken: bool,
}

impl ChaosSaver {
    fn open(db: &Path, report: Option<PathBuf>, broken: bool) -> Result<Self, BoxError> {
        Ok(ChaosSaver {
            inner: SqliteSaver::open(db)?,
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
    while summary.kills < options.kills && summary.violations.is_empty() {
        let mut one = RunState::new(options, rng.u64(..), summary.runs);
        if let Err(e) = one.run_to_end(options, &mut rng, worker, &mut summary) {
            summary.violations.push(format!("{}: {e}", one.thread));
        }
        if summary.violations.is_empty() {
            // A sound run's files are of no more use; a failing run's stay.
            one.remove_files();
        }
        summary.runs += 1;
    }
    summary
}

/// One graph run on its own database, across worker lives.
struct RunState {
    thread: String,
    seed: u64,
    db: PathBuf,
    log: PathBuf,
    report: PathBuf,
    /// Tasks whose writes were saved at the last check.
    saved_tasks: BTreeSet<String>,
    /// Side-effect log lines already checked.
    log_seen: usize,
}

impl RunState {
    fn new(options: &Options, seed: u64, number: usize) -> Self {
        let file = |ext: &str| options.dir.join(format!("run-{number}.{ext}"));
        let run = RunState {
            thread: format!("run-{seed}"),
            seed,
            db: file("db"),
            log: file("log"),
            report: file("report"),
            saved_tasks: BTreeSet::new(),
            log_seen: 0,
        };
        run.remove_files();
        run
    }

    fn files(&self) -> [PathBuf; 5] {
        let side = |ext: &str| self.db.with_extension(ext);
        [
            self.db.clone(),
            side("db-wal"),
            side("db-shm"),
            self.log.clone(),
            self.report.clone(),
        ]
    }

    fn remove_files(&self) {
        for file in self.files() {
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
            let mut child = self.spawn(options, worker)?;
            if let Some(status) = wait_or_kill(&mut child, delay)? {
                if !status.success() {
                    return Err(format!("the worker failed ({status}); see its stderr").into());
                }
                self.check(options, summary)?;
                return self.check_final(options, summary);
            }
            summary.kills += 1;
            self.check(options, summary)?;
            if !summary.violations.is_empty() {
                return Ok(());
            }
        }
        Err("10,000 worker lives and the run did not end".into())
    }

    fn spawn(&self, options: &Options, worker: &dyn Fn() -> Command) -> Result<Child, BoxError> {
        let mut cmd = worker();
        cmd.env(DB_ENV, &self.db)
            .env(LOG_ENV, &self.log)
            .env(REPORT_ENV, &self.report)
            .env(THREAD_ENV, &self.thread)
            .env(SEED_ENV, self.seed.to_string())
            .env(BROKEN_ENV, if options.broken_saver { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        Ok(cmd.spawn()?)
    }

    /// The checks after a kill (or the end): integrity, every reported
    /// save is there, no task with saved writes ran again.
    fn check(&mut self, options: &Options, summary: &mut Summary) -> Result<(), BoxError> {
        let ctx = format!("{} after kill {}", self.thread, summary.kills);
        if let Some(problem) = integrity_problem(&self.db)? {
            summary
                .violations
                .push(format!("{ctx}: integrity_check: {problem}"));
        }
        let saver = ChaosSaver::open(&self.db, None, options.broken_saver)?;
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
        let thread = Config::thread(&self.thread);
        for tuple in saver.list(Some(&thread), &ListOptions::new())? {
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
        let saver = ChaosSaver::open(&self.db, None, options.broken_saver)?;
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

/// Waits `delay` for the child to end by itself; kills it (SIGKILL) if it
/// has not. `Some(status)` when it ended by itself.
fn wait_or_kill(
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
    if let Some(status) = child.try_wait()? {
        return Ok(Some(status));
    }
    child.kill()?; // SIGKILL on Unix: no cleanup, no goodbye
    child.wait()?;
    Ok(None)
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
