//! What the graph test files share: saver factories, an execution counter,
//! small node and history helpers, and the macro that runs every test once
//! per saver.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use checkpointer::graph::{
    CompileOptions, CompiledGraph, NodeContext, NodeResult, State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, InMemorySaver};

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
