//! Running one task: the node, then its edges; and how it ended.

use std::error::Error;
use std::sync::Arc;

use serde_json::Value;

use crate::graph::algo::node_writes;
use crate::graph::cache::{CacheError, NodeCache};
use crate::graph::interrupt::Interrupt;
use crate::graph::node::NodeContext;
use crate::graph::spec::GraphSpec;
use crate::graph::state::{State, Update};
use crate::graph::stream::{EventSink, StreamEvent};
use crate::graph::task::Task;

/// How a task ended.
pub(super) enum TaskOutput {
    /// Its writes; `cached`: they came from the node cache (the node did
    /// not run).
    Done {
        writes: Vec<(String, Value)>,
        cached: bool,
    },
    Interrupted(Interrupt),
    Failed(Failure),
    /// The node's update is for the parent graph (`Update::to_parent`).
    ToParent(Update),
}

/// Why a task failed.
pub(super) enum Failure {
    /// The node returned this error.
    Node(Box<dyn Error + Send + Sync>),
    /// The node's update (or a router's answer) cannot be applied.
    Invalid(String),
    /// The node panicked with this message.
    Panicked(String),
}

impl Failure {
    /// The text saved as the task's `__error__` write.
    pub(super) fn text(&self) -> String {
        match self {
            Failure::Node(e) => e.to_string(),
            Failure::Invalid(reason) => reason.clone(),
            Failure::Panicked(message) => format!("panic: {message}"),
        }
    }
}

/// Runs one task, through the node cache when the node has a cache policy
/// and the graph a cache: a hit gives the stored writes, a finished call
/// stores its writes. A cache that cannot be read or written fails the
/// task (with the node, the key's thread and why).
pub(super) async fn run_task(
    spec: Arc<GraphSpec>,
    task: Task,
    input: State,
    global: Arc<State>,
    ctx: NodeContext,
    sink: Option<EventSink>,
    cache: Option<NodeCache>,
) -> TaskOutput {
    let policy = spec.nodes.get(&task.name).and_then(|n| n.cache.clone());
    let (Some(policy), Some(cache)) = (policy, cache) else {
        return run_uncached(spec, task, input, global, ctx, sink).await;
    };
    let key = policy.key_of(&input.to_value());
    let node = task.name.clone();
    match cache.get(&node, &key, policy.ttl_value()).await {
        Ok(Some(writes)) => {
            return TaskOutput::Done {
                writes,
                cached: true,
            };
        }
        Ok(None) => {}
        Err(e) => return cache_failed(e),
    }
    let output = run_uncached(spec, task, input, global, ctx, sink).await;
    if let TaskOutput::Done { writes, .. } = &output
        && let Err(e) = cache.put(&node, &key, writes).await
    {
        return cache_failed(e);
    }
    output
}

/// A node cache that cannot be read or written fails the task, with the
/// cache's error (which names the node and the entry's thread).
fn cache_failed(e: CacheError) -> TaskOutput {
    TaskOutput::Failed(Failure::Node(Box::new(e)))
}

/// Runs one task: the node (again, as its retry policy says, while it
/// fails), then its edges. Retries are reported to `sink`.
async fn run_uncached(
    spec: Arc<GraphSpec>,
    task: Task,
    input: State,
    global: Arc<State>,
    ctx: NodeContext,
    sink: Option<EventSink>,
) -> TaskOutput {
    let node_spec = spec.nodes.get(&task.name);
    // The node's update and routes, or why they cannot be applied.
    let parts = match node_spec.and_then(|n| n.runner.clone()) {
        // The built-in __start__ node copies the input into the state.
        None => match input.to_value() {
            Value::Object(map) => Ok((map.into_iter().collect(), Vec::new())),
            _ => Ok((Vec::new(), Vec::new())),
        },
        Some(node) => {
            let retry = node_spec.and_then(|n| n.retry.as_ref());
            let mut attempt = 1u32;
            loop {
                let error = match node.call(input.clone(), ctx.clone()).await {
                    Ok(update) if update.is_for_parent() => {
                        return TaskOutput::ToParent(update.into_own());
                    }
                    Ok(update) => break update.into_parts(),
                    Err(e) => match e.into_outcome() {
                        Ok(interrupt) => return TaskOutput::Interrupted(interrupt),
                        Err(error) => error,
                    },
                };
                let Some(wait) = retry.and_then(|p| p.next_wait(attempt, error.as_ref())) else {
                    return TaskOutput::Failed(Failure::Node(error));
                };
                if let Some(sink) = &sink {
                    sink.emit(StreamEvent::TaskRetry {
                        step: ctx.step(),
                        id: task.id.clone(),
                        name: task.name.clone(),
                        attempt,
                        error: error.to_string(),
                        wait,
                    })
                    .await;
                }
                tracing::debug!(node = %task.name, attempt, error = %error, "retrying a failed task");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    };
    let writes =
        parts.and_then(|(update, gotos)| node_writes(&spec, &task.name, update, gotos, &global));
    match writes {
        Ok(writes) => TaskOutput::Done {
            writes,
            cached: false,
        },
        Err(reason) => TaskOutput::Failed(Failure::Invalid(reason)),
    }
}

/// The text of a spawned task's panic (or cancellation).
pub(super) fn join_message(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "task was cancelled".to_owned();
    }
    panic_message(&*e.into_panic())
}

/// The text of a caught panic's payload.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Aborts the step's tasks when dropped (a no-op for finished tasks).
pub(super) struct AbortOnDrop(pub(super) Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}
