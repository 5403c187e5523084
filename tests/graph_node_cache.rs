//! The node cache (issue 17): a node with a `CachePolicy` is not called
//! again for an input it has seen, across threads, graph instances and
//! processes sharing a SQLite file; an expired TTL calls it again; hits
//! are streamed as LangGraph marks them (`cached` on the update, no task
//! result; `tests/langgraph_reference/streams.py`).
//!
//! The process test re-executes this binary (`--exact cache_child`) with
//! the file paths in environment variables; without them `cache_child`
//! does nothing.
#![cfg(feature = "sqlite")]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    CACHE_THREAD_PREFIX, CachePolicy, CompileOptions, CompiledGraph, GraphError, NodeError,
    Reducer, START, StateGraph, StreamEvent, StreamMode, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, SqliteSaver};
use futures::StreamExt;
use serde_json::{Value, json};

const DB_ENV: &str = "CHECKPOINTER_CACHE_TEST_DB";
const CALLS_ENV: &str = "CHECKPOINTER_CACHE_TEST_CALLS";

/// `slow` answers the question; it counts its calls in `calls` and fails
/// while `fail_first` calls are left.
fn graph(
    saver: Arc<dyn BaseCheckpointSaver>,
    policy: CachePolicy,
    calls: Arc<AtomicUsize>,
    fail_first: usize,
    cache: bool,
) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("question", Reducer::last_value())
        .add_channel("asker", Reducer::last_value())
        .add_channel("answer", Reducer::last_value())
        .add_sync_node("slow", move |state, _| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < fail_first {
                return Err(NodeError::msg("model unavailable"));
            }
            let q: String = state.get("question")?;
            Ok(Update::new().set("answer", format!("answer to {q}")))
        })
        .add_cache_policy("slow", policy)
        .add_edge(START, "slow");
    let mut options = CompileOptions::new().saver(Arc::clone(&saver));
    if cache {
        options = options.cache(saver);
    }
    g.compile(options).unwrap()
}

fn open(db: &Path) -> Arc<dyn BaseCheckpointSaver> {
    Arc::new(SqliteSaver::open(db).unwrap())
}

async fn events(app: &CompiledGraph, input: Value, thread: &str) -> Vec<StreamEvent> {
    app.stream(
        input,
        &Config::thread(thread),
        [StreamMode::Updates, StreamMode::Tasks],
    )
    .map(Result::unwrap)
    .collect()
    .await
}

/// Two graph instances, each with its own saver on one SQLite file: the
/// second gets the first one's result for the same input (the node is not
/// called), streamed as LangGraph streams a hit: the task starts, its
/// update says `cached`, and no task result follows. Another input is a
/// miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_graph_on_the_same_file_gets_the_cached_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let calls = Arc::new(AtomicUsize::new(0));
    let input = json!({"question": "why"});

    let first = graph(open(&db), CachePolicy::new(), Arc::clone(&calls), 0, true);
    let seen = events(&first, input.clone(), "a").await;
    assert!(matches!(
        seen.as_slice(),
        [
            StreamEvent::TaskStart { .. },
            StreamEvent::Updates { cached: false, .. },
            StreamEvent::TaskEnd { .. }
        ]
    ));
    drop(first);

    let second = graph(open(&db), CachePolicy::new(), Arc::clone(&calls), 0, true);
    let seen = events(&second, input.clone(), "b").await;
    match seen.as_slice() {
        [
            StreamEvent::TaskStart { name, .. },
            StreamEvent::Updates {
                node,
                update,
                cached: true,
                ..
            },
        ] => {
            assert_eq!((name.as_str(), node.as_str()), ("slow", "slow"));
            assert_eq!(update, &json!({"answer": "answer to why"}));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let state = second.get_state(&Config::thread("b")).await.unwrap();
    assert_eq!(state.values["answer"], json!("answer to why"));

    second
        .invoke(json!({"question": "how"}), &Config::thread("c"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The entries are threads of their own, under the reserved prefix.
    let saver = open(&db);
    let threads: Vec<String> = saver
        .list(None, &checkpointer::ListOptions::default())
        .unwrap()
        .into_iter()
        .map(|t| t.config.thread_id)
        .filter(|t| t.starts_with(CACHE_THREAD_PREFIX))
        .collect();
    assert_eq!(threads.len(), 2, "{threads:?}");
}

/// Another process on the same file: its identical call is a hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_gets_the_cached_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let calls_file = dir.path().join("calls.txt");
    let calls = Arc::new(AtomicUsize::new(0));
    let app = graph(open(&db), CachePolicy::new(), Arc::clone(&calls), 0, true);
    app.invoke(json!({"question": "why"}), &Config::thread("parent"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "cache_child", "--nocapture"])
        .env(DB_ENV, &db)
        .env(CALLS_ENV, &calls_file)
        .status()
        .unwrap();
    assert!(status.success());
    let child_calls = std::fs::read_to_string(&calls_file).unwrap();
    assert_eq!(child_calls, "0");
    let state = app.get_state(&Config::thread("child")).await.unwrap();
    assert_eq!(state.values["answer"], json!("answer to why"));
}

/// The child of `another_process_gets_the_cached_writes`: runs the same
/// call on its own thread and writes how often its node was called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_child() {
    let (Ok(db), Ok(calls_file)) = (std::env::var(DB_ENV), std::env::var(CALLS_ENV)) else {
        return;
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let app = graph(
        open(Path::new(&db)),
        CachePolicy::new(),
        Arc::clone(&calls),
        0,
        true,
    );
    app.invoke(json!({"question": "why"}), &Config::thread("child"))
        .await
        .unwrap();
    std::fs::write(calls_file, calls.load(Ordering::SeqCst).to_string()).unwrap();
}

/// An entry older than the TTL is not used: the node is called again, and
/// its new result replaces the entry. Within the TTL it is a hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_ttl_calls_the_node_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let input = json!({"question": "why"});

    let calls = Arc::new(AtomicUsize::new(0));
    let short = CachePolicy::new().ttl(Duration::from_millis(30));
    let app = graph(open(&db), short, Arc::clone(&calls), 0, true);
    app.invoke(input.clone(), &Config::thread("a"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    app.invoke(input.clone(), &Config::thread("b"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let calls = Arc::new(AtomicUsize::new(0));
    let long = CachePolicy::new().ttl(Duration::from_hours(1));
    let app = graph(open(&db), long, Arc::clone(&calls), 0, true);
    app.invoke(input.clone(), &Config::thread("c"))
        .await
        .unwrap();
    app.invoke(input, &Config::thread("d")).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the refreshed entry is used"
    );
}

/// A key function decides what counts as the same call: here only the
/// question, whoever asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_function_decides_what_is_the_same_call() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("cache.db"));
    let calls = Arc::new(AtomicUsize::new(0));
    let by_question = CachePolicy::new().key(|input| input["question"].to_string());
    let app = graph(saver, by_question, Arc::clone(&calls), 0, true);
    for (thread, asker) in [("a", "ann"), ("b", "bob")] {
        let input = json!({"question": "why", "asker": asker});
        app.invoke(input, &Config::thread(thread)).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Failures are not cached: the next call runs the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("cache.db"));
    let calls = Arc::new(AtomicUsize::new(0));
    let app = graph(saver, CachePolicy::new(), Arc::clone(&calls), 1, true);
    let input = json!({"question": "why"});
    assert!(
        app.invoke(input.clone(), &Config::thread("a"))
            .await
            .is_err()
    );
    let out = app.invoke(input, &Config::thread("b")).await.unwrap();
    assert_eq!(out.values["answer"], json!("answer to why"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Without `CompileOptions::cache`, a policy does nothing (as LangGraph
/// without `cache=`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_store_the_policy_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("cache.db"));
    let calls = Arc::new(AtomicUsize::new(0));
    let app = graph(saver, CachePolicy::new(), Arc::clone(&calls), 0, false);
    for thread in ["a", "b"] {
        let input = json!({"question": "why"});
        app.invoke(input, &Config::thread(thread)).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `a` and `b` (both cached, both from `START`), each counting its calls.
fn two_cached(saver: Arc<dyn BaseCheckpointSaver>, calls: &Arc<[AtomicUsize; 2]>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let calls = Arc::clone(calls);
        g.add_sync_node(name, move |_, _| {
            calls[i].fetch_add(1, Ordering::SeqCst);
            Ok(Update::new().set("log", vec![name]))
        })
        .add_cache_policy(name, CachePolicy::new())
        .add_edge(START, name);
    }
    g.compile(CompileOptions::new().saver(Arc::clone(&saver)).cache(saver))
        .unwrap()
}

/// One run on a new thread: (calls of a, calls of b) so far, and the
/// nodes its outcome says were served from the cache.
async fn cached_run(
    app: &CompiledGraph,
    calls: &[AtomicUsize; 2],
    thread: &str,
) -> ((usize, usize), Vec<String>) {
    let out = app
        .invoke(json!({"log": []}), &Config::thread(thread))
        .await
        .unwrap();
    assert_eq!(out.values, json!({"log": ["a", "b"]}));
    let mut hits: Vec<String> = out.cached.iter().map(|c| c.node.clone()).collect();
    hits.sort();
    let counts = (
        calls[0].load(Ordering::SeqCst),
        calls[1].load(Ordering::SeqCst),
    );
    (counts, hits)
}

/// The outcome lists the tasks served from the cache; `clear_cache` of
/// some nodes, of an unknown one, and of all of them does what
/// LangGraph's `clear_cache` does (streams.py: k1 to k5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_cache_makes_the_nodes_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let calls = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let app = two_cached(open(&db), &calls);
    let both = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!(cached_run(&app, &calls, "k1").await, ((1, 1), vec![]));
    assert_eq!(cached_run(&app, &calls, "k2").await, ((1, 1), both.clone()));
    // A cached task names its step and the task id its writes are under.
    let out = app
        .invoke(json!({"log": []}), &Config::thread("k2b"))
        .await
        .unwrap();
    let state = app.get_state(&Config::thread("k2b")).await.unwrap();
    let history = app
        .get_state_history(&Config::thread("k2b"), &checkpointer::ListOptions::new())
        .await
        .unwrap();
    let step0 = history
        .iter()
        .find(|s| s.metadata.as_ref().unwrap().step == 0);
    let ids: Vec<&str> = step0.unwrap().tasks.iter().map(|t| t.id.as_str()).collect();
    assert!(
        out.cached
            .iter()
            .all(|c| c.step == 1 && ids.contains(&c.task_id.as_str()))
    );
    assert!(state.next.is_empty());

    app.clear_cache(Some(&["a"])).await.unwrap();
    assert_eq!(
        cached_run(&app, &calls, "k3").await,
        ((2, 1), vec!["b".to_owned()])
    );
    app.clear_cache(Some(&["nope"])).await.unwrap();
    assert_eq!(cached_run(&app, &calls, "k4").await, ((2, 1), both));
    app.clear_cache(None).await.unwrap();
    assert_eq!(cached_run(&app, &calls, "k5").await, ((3, 2), vec![]));

    // The SQLite file holds one entry per node again (k5's calls), and
    // another graph on the file sees the cleared state.
    let entries: Vec<String> = open(&db)
        .list(None, &checkpointer::ListOptions::default())
        .unwrap()
        .into_iter()
        .map(|t| t.config.thread_id)
        .filter(|t| t.starts_with(CACHE_THREAD_PREFIX))
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    app.clear_cache(None).await.unwrap();
    let other = two_cached(open(&db), &calls);
    assert_eq!(cached_run(&other, &calls, "k6").await, ((4, 3), vec![]));
}

/// LangGraph: "No cache is set for this graph. Cannot clear cache."
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_cache_without_a_cache_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = graph(
        open(&dir.path().join("cache.db")),
        CachePolicy::new(),
        calls,
        0,
        false,
    );
    let err = app.clear_cache(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::NoCache {
                operation: "clear_cache"
            }
        ),
        "{err}"
    );
}
