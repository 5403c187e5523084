//! What the graph test files share: saver factories (the hooked test
//! wrapper over each saver among them), an execution counter, small graphs,
//! node and history helpers, a failing saver, and the macro that runs every
//! test once per saver.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use checkpointer::conformance::{HookedSaver, Op, Outcome};
use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, NodeContext, NodeResult, Reducer, START, State, StateGraph,
    Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, Config, InMemorySaver};

/// The subgraph graphs the subgraph test files share.
pub mod subgraphs;

/// Makes a fresh saver; the second value keeps its resources (a temp dir)
/// alive for the test.
pub type Factory = fn() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>);

pub fn memory_saver() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>) {
    (Arc::new(InMemorySaver::new()), Box::new(()))
}

pub fn sqlite_saver() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().unwrap();
    let saver = checkpointer::SqliteSaver::open(dir.path().join("graph.db")).unwrap();
    (Arc::new(saver), Box::new(dir))
}

/// The in-memory saver through the hooked test wrapper, in the form that
/// runs the trait's default `get`, `list` and `put_with_writes`.
pub fn hooked_memory_saver() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>) {
    let (inner, guard) = memory_saver();
    (
        Arc::new(HookedSaver::new(inner).with_trait_defaults()),
        guard,
    )
}

/// The SQLite saver through the hooked test wrapper, in the form that runs
/// the trait's default `get`, `list` and `put_with_writes`.
pub fn hooked_sqlite_saver() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>) {
    let (inner, guard) = sqlite_saver();
    (
        Arc::new(HookedSaver::new(inner).with_trait_defaults()),
        guard,
    )
}

/// A saver over `inner` that fails the `fail_put`-th `put` and the
/// `fail_writes`-th `put_writes` (1-based; 0 = never). It runs the trait's
/// default `put_with_writes`, so a fused step save counts as its
/// `put_writes` and `put` calls.
pub fn flaky(
    inner: &Arc<dyn BaseCheckpointSaver>,
    fail_put: usize,
    fail_writes: usize,
) -> HookedSaver<Arc<dyn BaseCheckpointSaver>> {
    HookedSaver::new(Arc::clone(inner))
        .with_trait_defaults()
        .with_failure(Op::Put, fail_put)
        .with_failure(Op::PutWrites, fail_writes)
}

/// The `put` calls `saver` passed on to its inner saver, in order.
fn passed_puts(
    saver: &HookedSaver<Arc<dyn BaseCheckpointSaver>>,
) -> Vec<checkpointer::conformance::Call> {
    saver
        .calls_of(Op::Put)
        .into_iter()
        .filter(|c| c.outcome != Outcome::Injected)
        .collect()
}

/// Of each `put` passed on: the channels named in `new_versions` and the
/// checkpoint's `updated_channels`.
pub fn put_versions(
    saver: &HookedSaver<Arc<dyn BaseCheckpointSaver>>,
) -> Vec<(Vec<String>, Vec<String>)> {
    passed_puts(saver)
        .into_iter()
        .map(|c| (c.new_versions, c.updated_channels.unwrap_or_default()))
        .collect()
}

/// The metadata step of each `put` passed on.
pub fn put_steps(saver: &HookedSaver<Arc<dyn BaseCheckpointSaver>>) -> Vec<i64> {
    passed_puts(saver).iter().filter_map(|c| c.step).collect()
}

pub const LOOP: CheckpointSource = CheckpointSource::Loop;
pub const INPUT: CheckpointSource = CheckpointSource::Input;
pub const FORK: CheckpointSource = CheckpointSource::Fork;

/// The checkpoint id of a stored config.
pub fn id(c: &Config) -> String {
    c.checkpoint_id.clone().unwrap()
}

/// START -> a -> b -> END, with `x` (last value) and `log` (append).
pub fn linear(c: &Counter) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("a", logger(c, "a"))
        .add_sync_node("b", logger(c, "b"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    g
}

/// START -> {p, q} (both ask a human) -> END.
pub fn two_askers(c: &Counter) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for name in ["p", "q"] {
        let c = c.clone();
        g.add_sync_node(name, move |_, ctx| {
            c.hit(name);
            let v = ctx.interrupt(format!("{name}?"))?;
            Ok(Update::new().set("log", format!("{name}:{}", v.as_str().unwrap_or("?"))))
        });
        g.add_edge(START, name);
    }
    g
}

/// START -> {a, b} -> z (a join), each node logging its name.
pub fn fan_graph(c: &Counter) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(c, "a"))
        .add_sync_node("b", logger(c, "b"))
        .add_sync_node("z", logger(c, "z"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge(["a", "b"], "z");
    g
}

/// Counts node executions.
#[derive(Clone, Default)]
pub struct Counter(Arc<Mutex<BTreeMap<String, usize>>>);

impl Counter {
    /// Counts one run of `node`; returns how many it has had.
    pub fn hit(&self, node: &str) -> usize {
        let mut m = self.0.lock().unwrap();
        let n = m.entry(node.to_owned()).or_default();
        *n += 1;
        *n
    }

    pub fn get(&self, node: &str) -> usize {
        self.0.lock().unwrap().get(node).copied().unwrap_or(0)
    }
}

/// A sync node that counts its runs and appends its name to `log`.
pub fn logger(
    c: &Counter,
    name: &'static str,
) -> impl Fn(&State, &NodeContext) -> NodeResult + 'static {
    let c = c.clone();
    move |_s, _ctx| {
        c.hit(name);
        Ok(Update::new().set("log", name))
    }
}

/// A sync node that counts its runs, waits for a human (`interrupt("?")`)
/// and appends the answer to `log`.
pub fn asker(
    c: &Counter,
    name: &'static str,
) -> impl Fn(&State, &NodeContext) -> NodeResult + 'static {
    let c = c.clone();
    move |_s, ctx| {
        c.hit(name);
        let v = ctx.interrupt("?")?;
        Ok(Update::new().set("log", v))
    }
}

pub fn compile(g: &StateGraph, saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// `(source, step)` of every checkpoint, newest first.
pub fn sources(h: &[checkpointer::StateSnapshot]) -> Vec<(CheckpointSource, i64)> {
    h.iter()
        .map(|s| {
            let m = s.metadata.as_ref().unwrap();
            (m.source, m.step)
        })
        .collect()
}

/// `per_saver_tests!(module, factory; test, ...)` emits `mod module` with one
/// multi-threaded tokio test per name, each calling `super::name(factory)`,
/// so a failure names the saver and the test.
#[macro_export]
macro_rules! per_saver_tests {
    ($module:ident, $factory:path; $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($factory).await;
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------
// PostgreSQL (feature `postgres`): a fresh schema per test on the server
// `CHECKPOINTER_PG_URL` names.

#[cfg(feature = "postgres")]
#[path = "../pg_support/mod.rs"]
pub mod pg_support;

/// A `PostgresSaver` on a fresh schema, the schema as its guard (the test
/// checked the server is there: see `pg_tests!`).
#[cfg(feature = "postgres")]
pub fn postgres_saver() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>) {
    let (saver, schema) = pg_support::fresh("graph tests").expect("a PostgreSQL server");
    (Arc::new(saver), Box::new(schema))
}

/// The PostgreSQL saver through the hooked test wrapper, in the form that
/// runs the trait's default `get`, `list` and `put_with_writes`.
#[cfg(feature = "postgres")]
pub fn hooked_postgres_saver() -> (Arc<dyn BaseCheckpointSaver>, Box<dyn Any + Send>) {
    let (inner, guard) = postgres_saver();
    (
        Arc::new(HookedSaver::new(inner).with_trait_defaults()),
        guard,
    )
}

/// `pg_tests!(module, factory; test, ...)`: as `per_saver_tests!`, on
/// PostgreSQL; each test first checks for the server (skipped with a
/// printed line without one, failing under `CI=true`).
#[cfg(feature = "postgres")]
#[macro_export]
macro_rules! pg_tests {
    ($module:ident, $factory:path; $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::graph_support::pg_support::server_url(stringify!($name)).is_some() {
                        super::$name($factory).await;
                    }
                }
            )*
        }
    };
}
