//! Many workers on one PostgreSQL database: 4 processes × 8 threads run
//! graphs on threads of their own for a bounded time (10 s, or
//! `CHECKPOINTER_PG_STRESS_SECS`), with no error, and every checkpoint a
//! run acknowledged is readable afterwards with the state it returned.
//! The parent re-executes this test binary (`--exact worker_child`) as each
//! worker process. Needs `CHECKPOINTER_PG_URL` (see `pg_support`).
#![cfg(feature = "postgres")]

mod pg_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpointer::graph::{CompileOptions, END, Reducer, START, StateGraph, Update};
use checkpointer::{BaseCheckpointSaver, Config, PostgresOptions, PostgresSaver};
use serde_json::json;

const PROCESSES: usize = 4;
const THREADS: usize = 8;
const URL_ENV: &str = "CHECKPOINTER_PG_WORKER_URL";
const ID_ENV: &str = "CHECKPOINTER_PG_WORKER_ID";
const SECS_ENV: &str = "CHECKPOINTER_PG_WORKER_SECS";

/// START -> inc -> log -> END: `n` counts the turns of a thread, `log`
/// gets one entry per turn.
fn counter_graph() -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("inc", |s, _| {
            let n = s.get::<i64>("n").unwrap_or(0);
            Ok(Update::new().set("n", n + 1))
        })
        .add_sync_node("log", |s, _| {
            Ok(Update::new().set("log", s.get::<i64>("n").unwrap_or(0)))
        })
        .add_edge(START, "inc")
        .add_edge("inc", "log")
        .add_edge("log", END);
    g
}

/// One worker thread: turns on its own graph thread until `until`. Prints
/// `ACK <thread> <checkpoint_id> <n>` per acknowledged run, `ERR <what>`
/// per failure.
fn worker_thread(saver: &Arc<dyn BaseCheckpointSaver>, thread: &str, until: Instant) {
    let app = counter_graph()
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .expect("compile");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config::thread(thread);
    let mut turn = 0_i64;
    while Instant::now() < until {
        turn += 1;
        match rt.block_on(app.invoke(json!({}), &config)) {
            Ok(out) => {
                let n = out.values["n"].as_i64().unwrap_or(-1);
                if n != turn {
                    println!("ERR thread {thread}: turn {turn} returned n = {n}");
                    return;
                }
                match out.config.and_then(|c| c.checkpoint_id) {
                    Some(id) => println!("ACK {thread} {id} {n}"),
                    None => println!("ERR thread {thread}: turn {turn} has no checkpoint"),
                }
            }
            Err(e) => {
                println!("ERR thread {thread}: turn {turn}: {e}");
                return;
            }
        }
    }
}

/// The worker process's body; a no-op unless the parent set the variables.
#[test]
fn worker_child() {
    let (Ok(url), Ok(id), Ok(secs)) = (
        std::env::var(URL_ENV),
        std::env::var(ID_ENV),
        std::env::var(SECS_ENV),
    ) else {
        return;
    };
    let secs: u64 = secs.parse().expect("seconds");
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(
        PostgresSaver::open_with(
            &url,
            PostgresOptions::new().with_pool_size(u32::try_from(THREADS).unwrap()),
        )
        .expect("open the saver"),
    );
    let until = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let saver = &saver;
            let thread = format!("w{id}-t{t}");
            s.spawn(move || worker_thread(saver, &thread, until));
        }
    });
}

#[test]
fn four_processes_of_eight_threads_lose_nothing() {
    let Some(url) = pg_support::server_url("four_processes_of_eight_threads") else {
        return;
    };
    let secs = std::env::var("CHECKPOINTER_PG_STRESS_SECS").unwrap_or_else(|_| "10".to_owned());
    let schema = pg_support::Schema::new(&url);
    // Set up the tables once, so the workers race on the rows, not on setup
    // (tests/postgres.rs covers setup by many workers at once).
    drop(PostgresSaver::open(&schema.url()).expect("set up the schema"));
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(std::env::current_exe().expect("the test binary"))
                .args(["--exact", "worker_child", "--nocapture"])
                .env(URL_ENV, schema.url())
                .env(ID_ENV, p.to_string())
                .env(SECS_ENV, &secs)
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a worker process")
        })
        .collect();
    let mut acks = Vec::new();
    let mut errors = Vec::new();
    for (p, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait for a worker");
        assert!(out.status.success(), "worker process {p}: {}", out.status);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let f: Vec<&str> = rest.split(' ').collect();
                acks.push((
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].parse::<i64>().unwrap(),
                ));
            } else if let Some(rest) = line.strip_prefix("ERR ") {
                errors.push(rest.to_owned());
            }
        }
    }
    assert!(errors.is_empty(), "{} errors: {errors:?}", errors.len());
    let threads: std::collections::BTreeSet<&str> = acks.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(threads.len(), PROCESSES * THREADS, "every thread ran");
    let saver = PostgresSaver::open(&schema.url()).expect("open again");
    for (thread, id, n) in &acks {
        let config = Config::thread(thread.as_str()).with_checkpoint_id(id.as_str());
        let tuple = saver
            .get_tuple(&config)
            .unwrap_or_else(|e| panic!("thread {thread} checkpoint {id}: {e}"))
            .unwrap_or_else(|| panic!("thread {thread}: acknowledged checkpoint {id} is lost"));
        assert_eq!(
            tuple.checkpoint.channel_values.get("n"),
            Some(&json!(n)),
            "thread {thread} checkpoint {id}"
        );
    }
    println!(
        "{} runs acknowledged by {} threads in {secs} s, all readable",
        acks.len(),
        threads.len()
    );
}
