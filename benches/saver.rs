//! The saver benchmark: LangGraph's own workload, one JSON line per scenario.
//!
//! `cargo bench --bench saver -- [--threads T] [--steps S] [--state-kb K]
//! [--sync full|normal] [--writers W] [--groups saver,graph] [--seed N]`
//!
//! Only the saver call (or, for graph scenarios, the `invoke`) is timed;
//! building the workload is not. See BENCHMARKS.md for results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

use checkpointer::graph::{
    CompileOptions, CompiledGraph, Durability, END, Reducer, START, StateGraph, Update,
};
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, Config, ListOptions, SqliteOptions, SqliteSaver, Synchronous, ThreadLeases,
};

#[derive(Parser, Debug, Clone)]
#[command(about = "checkpointer saver benchmark (LangGraph's workload)")]
// Each bool is a command-line switch, not a state machine in disguise.
#[allow(clippy::struct_excessive_bools)]
struct Args {
    /// Threads (conversations) written.
    #[arg(long, default_value_t = 100)]
    threads: usize,
    /// Checkpoints per thread.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Size of the `scratch` channel in KiB.
    #[arg(long = "state-kb", default_value_t = 1)]
    state_kb: usize,
    /// SQLite synchronous mode: full or normal.
    #[arg(long, default_value = "full")]
    sync: String,
    /// Writer OS threads for `put_concurrent`.
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Scenario groups to run: saver, graph.
    #[arg(long, default_value = "saver,graph", value_delimiter = ',')]
    groups: Vec<String>,
    /// Seed of the workload's random data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Which saver to measure: sqlite, memory or (feature `postgres`,
    /// server URL from `PG_URL`, a fresh schema per group) postgres.
    #[arg(long, default_value = "sqlite")]
    saver: String,
    /// Directory for the database files (default: a temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Stop the saver group after this scenario (keeps its database with
    /// `--dir`, for inspection).
    #[arg(long = "stop-after")]
    stop_after: Option<String>,
    /// Most deltas between full snapshots of an appended list (SQLite).
    #[arg(long = "snapshot-every", default_value_t = 128)]
    snapshot_every: u32,
    /// Read cache of `get_tuple` in KiB of JSON (SQLite; 0: off).
    #[arg(long = "read-cache-kb", default_value_t = 4096)]
    read_cache_kb: usize,
    /// `put_chain` writes in rounds, one step of every thread per round
    /// (as a server with many conversations at once), instead of thread
    /// after thread.
    #[arg(long)]
    interleave: bool,
    /// Runs this benchmark and LangGraph's side by side instead
    /// (`benches/compare_langgraph.py`, interleaved rounds, medians, the
    /// ratio table), for `--saver sqlite` or `postgres` (both on `PG_URL`);
    /// needs the shared harness's venv (`LG_VENV`).
    #[arg(long = "compare-langgraph")]
    compare_langgraph: bool,
    /// Rounds of `--compare-langgraph`.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// `put_chain` with each thread under a live lease, its fencing token
    /// in every put's config (what the lease check costs a put; issue 12).
    #[arg(long)]
    leased: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn synchronous(&self) -> Synchronous {
        match self.sync.as_str() {
            "normal" => Synchronous::Normal,
            _ => Synchronous::Full,
        }
    }
}

/// Per-call latencies of one scenario.
struct Samples {
    durations: Vec<Duration>,
    wall: Option<Duration>,
}

impl Samples {
    fn new() -> Self {
        Samples {
            durations: Vec::new(),
            wall: None,
        }
    }

    fn time<T>(&mut self, call: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = call();
        self.durations.push(start.elapsed());
        out
    }

    /// One JSON line: ops, throughput (over summed call time, or wall time
    /// for concurrent scenarios), median and p99 latency.
    fn report(mut self, scenario: &str, db: Option<&Path>, extra: Value) {
        self.durations.sort();
        let ops = self.durations.len();
        let total: Duration = self.wall.unwrap_or_else(|| self.durations.iter().sum());
        // The nearest-rank percentile, in microseconds: the sample at rank
        // ceil(ops * per_mille / 1000).
        let pct = |per_mille: usize| {
            if ops == 0 {
                0.0
            } else {
                let i = (ops * per_mille).div_ceil(1000).clamp(1, ops) - 1;
                self.durations[i].as_secs_f64() * 1e6
            }
        };
        let mut line = json!({
            "scenario": scenario,
            "ops": ops,
            "ops_per_sec": round(count_f64(ops as u64) / total.as_secs_f64().max(1e-9)),
            "median_us": round(pct(500)),
            "p99_us": round(pct(990)),
            "db_bytes": db.map_or(0, db_bytes),
            "peak_rss_so_far_bytes": peak_rss(),
        });
        if let (Value::Object(line), Value::Object(extra)) = (&mut line, extra) {
            line.extend(extra);
        }
        println!("{line}");
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A count (of calls, checkpoints, bytes) as the `f64` the report's ratios
/// divide.
// Exact below 2^53, far above any count a run makes; beyond it the nearest
// `f64` is what a ratio rounded to 0.1 wants anyway.
#[allow(clippy::cast_precision_loss)]
fn count_f64(n: u64) -> f64 {
    n as f64
}

/// Main file plus WAL, in bytes.
fn db_bytes(path: &Path) -> u64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    size(path.to_path_buf()) + size(wal)
}

/// Peak resident set size of this process, in bytes (`VmHWM`).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The deterministic data of the workload.
struct Workload {
    rng: fastrand::Rng,
    state_kb: usize,
}

impl Workload {
    fn message(&mut self, thread: usize, step: usize) -> String {
        let mut s = format!("thread {thread} step {step} ");
        while s.len() < 200 {
            s.push(self.rng.alphanumeric());
        }
        s.truncate(200);
        s
    }

    fn scratch(&mut self, step: usize) -> Value {
        let len = (self.state_kb * 1024 / 16).saturating_sub(8);
        let mut map = serde_json::Map::new();
        for k in 0..16 {
            let hex: String = (0..len)
                .map(|_| char::from_digit(self.rng.u32(0..16), 16).unwrap_or('0'))
                .collect();
            map.insert(format!("k{k:02}"), Value::from(hex));
        }
        map.insert("step".into(), Value::from(step));
        Value::Object(map)
    }
}

fn thread_id(prefix: &str, t: usize) -> String {
    format!("{prefix}-{t:05}")
}

/// One thread of the workload being written: its state between steps.
struct ThreadWriter {
    thread: String,
    t: usize,
    messages: Vec<Value>,
    versions: BTreeMap<&'static str, ChannelVersion>,
    config: Config,
    ids: Vec<String>,
    /// The fencing token every put carries (`--leased`).
    token: Option<u64>,
}

impl ThreadWriter {
    fn new(thread: String, t: usize, steps: usize, token: Option<u64>) -> Self {
        let config = Config::thread(thread.as_str()).with_ns("");
        ThreadWriter {
            config: match token {
                Some(token) => config.with_lease_token(token),
                None => config,
            },
            token,
            thread,
            t,
            messages: Vec::with_capacity(steps),
            versions: BTreeMap::new(),
            ids: Vec::with_capacity(steps),
        }
    }

    /// Step `s` (the next one): one `put` naming the previous checkpoint.
    fn step(
        &mut self,
        saver: &dyn BaseCheckpointSaver,
        work: &mut Workload,
        s: usize,
        samples: &mut Samples,
    ) {
        let step = i64::try_from(s).expect("a thread has far fewer than 2^63 steps");
        self.messages.push(Value::from(work.message(self.t, s)));
        let mut checkpoint = Checkpoint::new(step);
        checkpoint.v = 1;
        let mut new_versions = ChannelVersions::new();
        for channel in ["messages", "counter", "scratch"] {
            let next = saver.get_next_version(self.versions.get(channel));
            self.versions.insert(channel, next);
            new_versions.insert(channel.to_owned(), next);
        }
        checkpoint.channel_versions = new_versions.clone();
        checkpoint
            .channel_values
            .insert("messages".into(), Value::Array(self.messages.clone()));
        checkpoint
            .channel_values
            .insert("counter".into(), Value::from(s));
        checkpoint
            .channel_values
            .insert("scratch".into(), work.scratch(s));
        let metadata = CheckpointMetadata::new(CheckpointSource::Loop, step);
        let config = &self.config;
        let stored = samples
            .time(|| saver.put(config, &checkpoint, &metadata, &new_versions))
            .unwrap_or_else(|e| fail(&format!("put {} step {s}", self.thread), e));
        self.ids.push(checkpoint.id.clone());
        self.config = match self.token {
            Some(token) => stored.with_lease_token(token),
            None => stored,
        };
    }
}

/// Writes thread `t` as the workload says: `steps` puts, each config naming
/// the previous checkpoint. Returns the checkpoint ids in order.
fn write_thread(
    saver: &dyn BaseCheckpointSaver,
    work: &mut Workload,
    thread: &str,
    t: usize,
    steps: usize,
    samples: &mut Samples,
    token: Option<u64>,
) -> Vec<String> {
    let mut writer = ThreadWriter::new(thread.to_owned(), t, steps, token);
    for s in 0..steps {
        writer.step(saver, work, s, samples);
    }
    writer.ids
}

/// A list call consumed item by item, as LangGraph's generator is: every
/// checkpoint is decoded, none is kept. Returns how many there were.
fn walk(
    saver: &dyn BaseCheckpointSaver,
    config: Option<&Config>,
    options: &ListOptions,
) -> checkpointer::Result<usize> {
    let mut n = 0;
    for item in saver.list_iter(config, options)? {
        let tuple = item?;
        n += usize::from(!tuple.checkpoint.id.is_empty());
    }
    Ok(n)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("benchmark failed: {what}: {e}");
    std::process::exit(1)
}

/// The threads `put_chain` wrote, which the other single-caller scenarios
/// read, write to and delete, on the saver that holds them.
struct Written<'a> {
    saver: &'a dyn BaseCheckpointSaver,
    db: Option<&'a Path>,
    /// Each thread's id and its checkpoint ids, in order.
    all_ids: Vec<(String, Vec<String>)>,
}

impl<'a> Written<'a> {
    /// `put_chain`: writes every thread of the workload (with `leases`,
    /// each under a lease taken before and released after; not timed).
    fn put_chain(
        saver: &'a dyn BaseCheckpointSaver,
        db: Option<&'a Path>,
        args: &Args,
        work: &mut Workload,
        leases: Option<&dyn ThreadLeases>,
    ) -> Self {
        let mut samples = Samples::new();
        // With `leases`, each thread is written under a lease taken before
        // and released after (neither timed).
        let leased: Vec<_> = (0..args.threads)
            .map(|t| {
                let thread = thread_id("chain", t);
                leases.map(|l| {
                    l.acquire(&thread, "bench", Duration::from_hours(1))
                        .unwrap_or_else(|e| fail(&format!("lease {thread}"), e))
                })
            })
            .collect();
        let mut writers: Vec<ThreadWriter> = (0..args.threads)
            .map(|t| {
                let token = leased[t].as_ref().map(|l| l.token);
                ThreadWriter::new(thread_id("chain", t), t, args.steps, token)
            })
            .collect();
        if args.interleave {
            // Round s writes step s of every thread.
            for s in 0..args.steps {
                for writer in &mut writers {
                    writer.step(saver, work, s, &mut samples);
                }
            }
        } else {
            for writer in &mut writers {
                for s in 0..args.steps {
                    writer.step(saver, work, s, &mut samples);
                }
            }
        }
        if let Some(l) = leases {
            for lease in leased.iter().flatten() {
                l.release(lease)
                    .unwrap_or_else(|e| fail(&format!("release {}", lease.thread_id), e));
            }
        }
        let all_ids: Vec<(String, Vec<String>)> =
            writers.into_iter().map(|w| (w.thread, w.ids)).collect();
        let checkpoints = count_f64((args.threads * args.steps).max(1) as u64);
        let bytes = db.map_or(0, db_bytes);
        samples.report(
            "put_chain",
            db,
            json!({
                "bytes_per_checkpoint": round(count_f64(bytes) / checkpoints),
                "interleave": args.interleave,
            }),
        );
        Written { saver, db, all_ids }
    }

    /// `put_writes`: a random 10% of checkpoints, 3 tasks each.
    fn put_writes(&self, work: &mut Workload, rng: &mut fastrand::Rng) {
        let mut samples = Samples::new();
        for (thread, ids) in &self.all_ids {
            for id in ids {
                if rng.u32(0..10) != 0 {
                    continue;
                }
                let config = Config::thread(thread.as_str())
                    .with_ns("")
                    .with_checkpoint_id(id.as_str());
                for task in 0..3 {
                    let writes = vec![
                        ("messages".to_owned(), Value::from(work.message(task, 0))),
                        ("counter".to_owned(), Value::from(task)),
                    ];
                    let task_id = format!("task-{task}");
                    samples
                        .time(|| self.saver.put_writes(&config, &writes, &task_id, ""))
                        .unwrap_or_else(|e| fail("put_writes", e));
                }
            }
        }
        samples.report("put_writes", self.db, json!({}));
    }

    /// `get_latest`: every thread, 5 rounds.
    fn get_latest(&self) {
        let mut samples = Samples::new();
        for _ in 0..5 {
            for (thread, _) in &self.all_ids {
                let config = Config::thread(thread.as_str()).with_ns("");
                let found = samples
                    .time(|| self.saver.get_tuple(&config))
                    .unwrap_or_else(|e| fail("get_latest", e));
                assert!(found.is_some(), "latest of {thread} missing");
            }
        }
        samples.report("get_latest", self.db, json!({}));
    }

    /// `get_by_id`: 1000 random existing checkpoints.
    fn get_by_id(&self, rng: &mut fastrand::Rng) {
        let all_ids = &self.all_ids;
        let mut samples = Samples::new();
        for _ in 0..1000 {
            let (thread, ids) = &all_ids[rng.usize(0..all_ids.len())];
            let id = &ids[rng.usize(0..ids.len())];
            let config = Config::thread(thread.as_str())
                .with_ns("")
                .with_checkpoint_id(id.as_str());
            let found = samples
                .time(|| self.saver.get_tuple(&config))
                .unwrap_or_else(|e| fail("get_by_id", e));
            assert!(found.is_some(), "checkpoint {id} missing");
        }
        samples.report("get_by_id", self.db, json!({}));
    }

    /// `list_full`: the whole history of each thread, walked item by item.
    fn list_full(&self) {
        let mut samples = Samples::new();
        for (thread, ids) in &self.all_ids {
            let config = Config::thread(thread.as_str()).with_ns("");
            let n = samples.time(|| {
                let mut n = 0usize;
                for item in self
                    .saver
                    .list_iter(Some(&config), &ListOptions::new())
                    .unwrap_or_else(|e| fail("list_full", e))
                {
                    let tuple = item.unwrap_or_else(|e| fail("list_full item", e));
                    n += usize::from(!tuple.checkpoint.id.is_empty());
                }
                n
            });
            assert_eq!(n, ids.len(), "history of {thread}");
        }
        samples.report("list_full", self.db, json!({}));
    }

    /// `list_before_limit`: before the checkpoint at step S/2, limit 10.
    fn list_before_limit(&self) {
        let mut samples = Samples::new();
        for _ in 0..5 {
            for (thread, ids) in &self.all_ids {
                let config = Config::thread(thread.as_str()).with_ns("");
                let options = ListOptions::new()
                    .before(ids[ids.len() / 2].as_str())
                    .limit(10);
                let page = samples
                    .time(|| walk(self.saver, Some(&config), &options))
                    .unwrap_or_else(|e| fail("list_before_limit", e));
                assert_eq!(page, (ids.len() / 2).min(10));
            }
        }
        samples.report("list_before_limit", self.db, json!({}));
    }

    /// `list_filter_thread`: step = k within a thread, for `k` below `steps`.
    fn list_filter_thread(&self, steps: usize, rng: &mut fastrand::Rng) {
        let mut samples = Samples::new();
        for _ in 0..5 {
            for (thread, _) in &self.all_ids {
                let config = Config::thread(thread.as_str()).with_ns("");
                let k = rng.usize(0..steps);
                let options = ListOptions::new().filter("step", k);
                let page = samples
                    .time(|| walk(self.saver, Some(&config), &options))
                    .unwrap_or_else(|e| fail("list_filter_thread", e));
                assert_eq!(page, 1);
            }
        }
        samples.report("list_filter_thread", self.db, json!({}));
    }

    /// `list_filter_global`: step = k over every thread.
    fn list_filter_global(&self, args: &Args, rng: &mut fastrand::Rng) {
        let mut samples = Samples::new();
        for _ in 0..5 {
            let k = rng.usize(0..args.steps);
            let options = ListOptions::new().filter("step", k);
            let page = samples
                .time(|| walk(self.saver, None, &options))
                .unwrap_or_else(|e| fail("list_filter_global", e));
            assert_eq!(page, args.threads);
        }
        samples.report("list_filter_global", self.db, json!({}));
    }

    /// `delete_thread`: every thread.
    fn delete_thread(&self) {
        let mut samples = Samples::new();
        for (thread, _) in &self.all_ids {
            samples
                .time(|| self.saver.delete_thread(thread))
                .unwrap_or_else(|e| fail("delete_thread", e));
        }
        samples.report("delete_thread", self.db, json!({}));
    }
}

/// A `PostgresSaver` on a fresh schema named for `name` (dropped and made
/// again) on the server `PG_URL` names, with a pool for `writers`.
#[cfg(feature = "postgres")]
fn postgres_saver(name: &str, writers: usize) -> Arc<dyn ThreadLeases> {
    let url = std::env::var("PG_URL").unwrap_or_else(|e| {
        fail(
            "--saver postgres needs PG_URL (e.g. PG_URL=$(pg.sh url))",
            e,
        )
    });
    let schema = format!("bench_{}", name.replace('.', "_"));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| fail(&format!("connect to {url}"), e));
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap_or_else(|e| fail("make the benchmark schema", e));
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let pool = u32::try_from(writers.max(20) + 4).unwrap_or(32);
    let options = checkpointer::PostgresOptions::new().with_pool_size(pool);
    let saver = checkpointer::PostgresSaver::open_with(&url, options)
        .unwrap_or_else(|e| fail(&format!("open {url}"), e));
    Arc::new(saver)
}

struct SaverRun<'a> {
    args: &'a Args,
    dir: &'a Path,
}

impl SaverRun<'_> {
    fn open(&self, name: &str) -> (Arc<dyn ThreadLeases>, Option<PathBuf>) {
        let path = self.dir.join(name);
        match self.args.saver.as_str() {
            "memory" => (Arc::new(checkpointer::InMemorySaver::new()), None),
            "sqlite" => {
                let _ = std::fs::remove_file(&path);
                let options = SqliteOptions::default()
                    .with_synchronous(self.args.synchronous())
                    .with_snapshot_every(self.args.snapshot_every)
                    .with_read_cache_bytes(self.args.read_cache_kb * 1024);
                let saver = SqliteSaver::open_with(&path, options)
                    .unwrap_or_else(|e| fail(&format!("open {}", path.display()), e));
                (Arc::new(saver), Some(path))
            }
            #[cfg(feature = "postgres")]
            "postgres" => (postgres_saver(name, self.args.writers), None),
            other => fail(
                "--saver",
                format!(
                    "unknown saver {other:?} (sqlite, memory, postgres with feature postgres); {}",
                    path.display()
                ),
            ),
        }
    }

    fn run(&self) {
        let args = self.args;
        if args.stop_after.as_deref() == Some("none") {
            // Only the concurrent scenarios (for profiling).
            self.put_concurrent();
            return;
        }
        // Each group on its own saver, dropped before the next one starts.
        self.sequential();
        if args.stop_after.as_deref() == Some("put_chain") {
            return;
        }
        self.put_concurrent();
        self.raw_commit();
    }

    /// The single-caller scenarios, on one saver.
    fn sequential(&self) {
        let args = self.args;
        let (saver, db) = self.open("saver.db");
        let mut work = Workload {
            rng: fastrand::Rng::with_seed(args.seed),
            state_kb: args.state_kb,
        };
        let mut rng = fastrand::Rng::with_seed(args.seed ^ 0x5eed);
        let leases = args.leased.then_some(&*saver);
        let written = Written::put_chain(&*saver, db.as_deref(), args, &mut work, leases);
        if args.stop_after.as_deref() == Some("put_chain") {
            return;
        }
        written.put_writes(&mut work, &mut rng);
        written.get_latest();
        written.get_by_id(&mut rng);
        written.list_full();
        written.list_before_limit();
        written.list_filter_thread(args.steps, &mut rng);
        written.list_filter_global(args, &mut rng);
        written.delete_thread();
    }

    /// The disk's ceiling for `put_chain`: single-row insert commits on a
    /// bare connection with the saver's pragmas (WAL, `synchronous`, same
    /// autocheckpoint), one transaction and one fsync each.
    fn raw_commit(&self) {
        if self.args.saver != "sqlite" {
            return;
        }
        let path = self.dir.join("raw.db");
        let _ = std::fs::remove_file(&path);
        let conn = rusqlite::Connection::open(&path).unwrap_or_else(|e| fail("raw.db", e));
        let setup = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA wal_autocheckpoint = 256; \
             CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
            self.args.synchronous().as_pragma()
        );
        conn.execute_batch(&setup)
            .unwrap_or_else(|e| fail("raw.db setup", e));
        let payload = vec![7u8; 200];
        let mut samples = Samples::new();
        for _ in 0..2000 {
            samples
                .time(|| {
                    conn.execute_batch("BEGIN IMMEDIATE")?;
                    conn.prepare_cached("INSERT INTO t (v) VALUES (?1)")?
                        .execute([&payload])?;
                    conn.execute_batch("COMMIT")
                })
                .unwrap_or_else(|e| fail("raw commit", e));
        }
        samples.report("raw_commit", Some(&path), json!({}));
    }

    /// The `put_chain` workload split over `--writers` OS threads at once.
    fn put_concurrent(&self) {
        let args = self.args;
        let (saver, db) = self.open("concurrent.db");
        let writers = args.writers.max(1);
        let start = Instant::now();
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let saver = Arc::clone(&saver);
                let args = args.clone();
                std::thread::spawn(move || {
                    let mut work = Workload {
                        rng: fastrand::Rng::with_seed(args.seed.wrapping_add(w as u64)),
                        state_kb: args.state_kb,
                    };
                    let mut samples = Samples::new();
                    for t in (w..args.threads).step_by(writers) {
                        let thread = thread_id("concurrent", t);
                        write_thread(
                            &*saver,
                            &mut work,
                            &thread,
                            t,
                            args.steps,
                            &mut samples,
                            None,
                        );
                    }
                    samples.durations
                })
            })
            .collect();
        let mut samples = Samples::new();
        for h in handles {
            match h.join() {
                Ok(d) => samples.durations.extend(d),
                Err(_) => fail("put_concurrent", "a writer thread panicked"),
            }
        }
        samples.wall = Some(start.elapsed());
        samples.report("put_concurrent", db.as_deref(), json!({"writers": writers}));
    }
}

/// Supersteps per invoke of the graph scenarios.
const GRAPH_STEPS: i64 = 100;
/// Threads the graph scenarios invoke.
const GRAPH_THREADS: usize = 20;
/// The parallel nodes of `graph_fanout`.
const FANOUT_WORKERS: [&str; 5] = ["w0", "w1", "w2", "w3", "w4"];
/// Fan-out and join cycles of `graph_fanout` (two supersteps each).
const FANOUT_CYCLES: i64 = 25;

impl SaverRun<'_> {
    /// `a -> b -> c -> a`, each node appending one 200-byte message and
    /// adding 1 to `steps`; every node routes to END once `steps` is 100.
    fn loop_graph(saver: Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
        let mut graph = StateGraph::new();
        graph
            .add_channel("messages", Reducer::append())
            .add_channel("steps", Reducer::last_value());
        let nodes = ["a", "b", "c"];
        for (i, node) in nodes.iter().enumerate() {
            let next = nodes[(i + 1) % nodes.len()];
            graph
                .add_sync_node(*node, move |state, ctx| {
                    let steps: i64 = state.get_or_default("steps")?;
                    let mut message = format!("{} step {steps} ", ctx.node());
                    while message.len() < 200 {
                        message.push('x');
                    }
                    Ok(Update::new()
                        .set("messages", message)
                        .set("steps", steps + 1))
                })
                .add_conditional_edges(
                    *node,
                    move |state| {
                        let steps: i64 = state.get_or_default("steps").unwrap_or(0);
                        if steps >= GRAPH_STEPS { END } else { next }
                    },
                    &[next, END],
                );
        }
        graph.add_edge(START, "a");
        graph
            .compile(CompileOptions::new().saver(saver))
            .unwrap_or_else(|e| fail("compile the graph", e))
            .with_durability(Durability::Sync)
            .with_recursion_limit(usize::try_from(10 * GRAPH_STEPS).expect("GRAPH_STEPS is 100"))
    }

    /// START fans out to `w0`..`w4` in parallel (each appends one 200-byte
    /// message), which join in `plan`; `plan` counts the cycle and fans out
    /// again, or ends after [`FANOUT_CYCLES`]: two supersteps a cycle. The
    /// graph of `benches/lg_graph_fanout.py`.
    fn fanout_graph(saver: Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
        let mut graph = StateGraph::new();
        graph
            .add_channel("messages", Reducer::append())
            .add_channel("cycles", Reducer::last_value());
        for worker in FANOUT_WORKERS {
            graph
                .add_sync_node(worker, move |state, _| {
                    let cycles: i64 = state.get_or_default("cycles")?;
                    let mut message = format!("{worker} cycle {cycles} ");
                    while message.len() < 200 {
                        message.push('x');
                    }
                    Ok(Update::new().set("messages", message))
                })
                .add_edge(START, worker);
        }
        graph
            .add_sync_node("plan", |state, _| {
                let cycles: i64 = state.get_or_default("cycles")?;
                Ok(Update::new().set("cycles", cycles + 1))
            })
            .add_edge(FANOUT_WORKERS, "plan");
        let mut destinations = FANOUT_WORKERS.to_vec();
        destinations.push(END);
        graph.add_conditional_edges(
            "plan",
            |state| {
                let cycles: i64 = state.get_or_default("cycles").unwrap_or(0);
                if cycles >= FANOUT_CYCLES {
                    vec![END]
                } else {
                    FANOUT_WORKERS.to_vec()
                }
            },
            &destinations,
        );
        graph
            .compile(CompileOptions::new().saver(saver))
            .unwrap_or_else(|e| fail("compile the fan-out graph", e))
            .with_durability(Durability::Sync)
            .with_recursion_limit(usize::try_from(4 * FANOUT_CYCLES).expect("FANOUT_CYCLES is 25"))
    }

    /// `graph_fanout`: [`GRAPH_THREADS`] invokes of [`fanout_graph`](Self::fanout_graph),
    /// one after another; only `invoke` is timed.
    fn graph_fanout(&self, runtime: &tokio::runtime::Runtime) {
        let (saver, db) = self.open("graph_fanout.db");
        let app = Self::fanout_graph(saver);
        let mut samples = Samples::new();
        for t in 0..GRAPH_THREADS {
            let config = Config::thread(thread_id("fanout", t));
            let outcome = samples
                .time(|| runtime.block_on(app.invoke(json!({"cycles": 0}), &config)))
                .unwrap_or_else(|e| fail("graph_fanout", e));
            let cycles = outcome.values["cycles"].as_i64().unwrap_or(0);
            let messages = outcome.values["messages"].as_array().map_or(0, Vec::len);
            assert_eq!(cycles, FANOUT_CYCLES, "a fan-out run ended early");
            assert_eq!(
                messages,
                FANOUT_WORKERS.len() * usize::try_from(FANOUT_CYCLES).unwrap_or(0),
                "fan-out messages"
            );
        }
        let total: Duration = samples.durations.iter().sum();
        let supersteps = count_f64(GRAPH_THREADS as u64 * 2 * FANOUT_CYCLES.unsigned_abs());
        let rate = round(supersteps / total.as_secs_f64().max(1e-9));
        samples.report(
            "graph_fanout",
            db.as_deref(),
            json!({"supersteps_per_sec": rate, "supersteps": supersteps}),
        );
    }

    fn graph(&self) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| fail("tokio runtime", e));
        let check = |outcome: checkpointer::graph::RunOutcome| {
            let steps = outcome.values["steps"].as_i64().unwrap_or(0);
            assert_eq!(steps, GRAPH_STEPS, "a run ended early");
        };

        // graph_loop: 20 threads, one after another; only invoke is timed.
        let (saver, db) = self.open("graph.db");
        let app = Self::loop_graph(saver);
        let mut samples = Samples::new();
        for t in 0..GRAPH_THREADS {
            let config = Config::thread(thread_id("graph", t));
            let outcome = samples
                .time(|| runtime.block_on(app.invoke(json!({"steps": 0}), &config)))
                .unwrap_or_else(|e| fail("graph_loop", e));
            check(outcome);
        }
        let total: Duration = samples.durations.iter().sum();
        let supersteps = count_f64(GRAPH_THREADS as u64 * GRAPH_STEPS.unsigned_abs());
        let rate = round(supersteps / total.as_secs_f64().max(1e-9));
        samples.report(
            "graph_loop",
            db.as_deref(),
            json!({"supersteps_per_sec": rate, "supersteps": supersteps}),
        );
        drop(app);

        // graph_loop_concurrent: the 20 invoked at once.
        let (saver, db) = self.open("graph_concurrent.db");
        let app = Self::loop_graph(saver);
        let start = Instant::now();
        let outcomes = runtime.block_on(async {
            let runs = (0..GRAPH_THREADS).map(|t| {
                let app = app.clone();
                tokio::spawn(async move {
                    let config = Config::thread(thread_id("graph-concurrent", t));
                    let begun = Instant::now();
                    let outcome = app.invoke(json!({"steps": 0}), &config).await;
                    (outcome, begun.elapsed())
                })
            });
            futures::future::join_all(runs).await
        });
        let wall = start.elapsed();
        let mut samples = Samples::new();
        for joined in outcomes {
            let (outcome, took) = joined.unwrap_or_else(|e| fail("graph_loop_concurrent", e));
            check(outcome.unwrap_or_else(|e| fail("graph_loop_concurrent", e)));
            samples.durations.push(took);
        }
        samples.wall = Some(wall);
        let rate = round(supersteps / wall.as_secs_f64().max(1e-9));
        samples.report(
            "graph_loop_concurrent",
            db.as_deref(),
            json!({"supersteps_per_sec": rate, "supersteps": supersteps}),
        );
        drop(app);

        self.graph_fanout(&runtime);
    }
}

/// The shared LangGraph harness (`lg_saver_bench.py`, `setup.sh`):
/// `LG_BENCH`, else `shared/bench/langgraph` beside the crate or one
/// directory further up (a worktree).
fn langgraph_harness() -> PathBuf {
    if let Some(dir) = std::env::var_os("LG_BENCH") {
        return PathBuf::from(dir);
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["..", "../.."]
        .iter()
        .map(|up| crate_dir.join(up).join("shared/bench/langgraph"))
        .find(|dir| dir.join("lg_saver_bench.py").is_file())
        .unwrap_or_else(|| {
            fail(
                "--compare-langgraph",
                "LangGraph's harness not found: set LG_BENCH to shared/bench/langgraph",
            )
        })
}

/// `--compare-langgraph`: runs `benches/compare_langgraph.py` with the
/// python of LangGraph's venv (`LG_VENV`, else the shared harness's
/// `setup.sh` makes one), handing it this binary and the workload flags.
fn compare_langgraph(args: &Args) -> ! {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/compare_langgraph.py");
    let python = if let Some(venv) = std::env::var_os("LG_VENV") {
        PathBuf::from(venv).join("bin/python")
    } else {
        let setup = langgraph_harness().join("setup.sh");
        let out = std::process::Command::new(&setup)
            .output()
            .unwrap_or_else(|e| fail(&format!("run {} (or set LG_VENV)", setup.display()), e));
        if !out.status.success() {
            fail(&format!("{} (or set LG_VENV)", setup.display()), out.status);
        }
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    };
    let me = std::env::current_exe().unwrap_or_else(|e| fail("this benchmark's path", e));
    let mut command = std::process::Command::new(&python);
    command
        .env("LG_BENCH", langgraph_harness())
        .arg(&script)
        .arg("--ours")
        .arg(me)
        .args(["--rounds", &args.rounds.to_string()])
        .args(["--saver", &args.saver])
        .args(["--threads", &args.threads.to_string()])
        .args(["--steps", &args.steps.to_string()])
        .args(["--state-kb", &args.state_kb.to_string()]);
    if args.interleave {
        command.args(["--", "--interleave"]);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| fail(&format!("run {} {}", python.display(), script.display()), e));
    std::process::exit(status.code().unwrap_or(1))
}

fn main() {
    let args = Args::parse();
    if args.compare_langgraph {
        compare_langgraph(&args);
    }
    let temp = tempfile::tempdir().unwrap_or_else(|e| fail("temp dir", e));
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    if !["full", "normal"].contains(&args.sync.as_str()) {
        fail("--sync", format!("{:?} is not full or normal", args.sync));
    }
    let run = SaverRun {
        args: &args,
        dir: &dir,
    };
    if args.groups.iter().any(|g| g == "saver") {
        run.run();
    }
    if args.groups.iter().any(|g| g == "graph") {
        run.graph();
    }
    println!(
        "{}",
        json!({
            "scenario": "meta",
            "params": {
                "threads": args.threads, "steps": args.steps, "state_kb": args.state_kb,
                "sync": args.sync, "writers": args.writers, "groups": args.groups,
                "seed": args.seed, "saver": args.saver, "interleave": args.interleave,
            },
            "versions": {
                "checkpointer": env!("CARGO_PKG_VERSION"),
                "sqlite": rusqlite::version(),
            },
            "nproc": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            "peak_rss_bytes": peak_rss(),
        })
    );
}
