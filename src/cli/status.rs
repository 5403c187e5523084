//! What a checkpoint says about its thread, read from the checkpoint alone
//! (the tool has no graph): finished, waiting for a human, failed, or
//! stopped before some nodes; and the call that continues it.

use checkpointer::saver::{ERROR, INTERRUPT, RESUME, TASKS};
use checkpointer::{CheckpointTuple, PendingWrite};
use serde::Serialize;
use serde_json::Value;

/// The state a checkpoint leaves its thread in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum Status {
    /// Nothing runs next.
    Finished,
    /// A node called `interrupt`: what it asked is `values`.
    Waiting {
        /// The node(s) that asked.
        nodes: Vec<String>,
        /// What each interrupt carries.
        values: Vec<Value>,
    },
    /// A node failed.
    Failed {
        /// The node(s) that failed.
        nodes: Vec<String>,
        /// Their error texts.
        errors: Vec<String>,
    },
    /// The next step has not run (a run stopped here: it is still running,
    /// crashed, or was interrupted before these nodes).
    Before {
        /// The nodes of the next step.
        nodes: Vec<String>,
    },
}

/// The node of a task path: `~__pregel_pull, review` -> `review`.
fn node_of(task_path: &str) -> String {
    let last = task_path.rsplit(", ").next().unwrap_or(task_path);
    last.trim_start_matches('~').to_owned()
}

/// The nodes that run in the next step of `t`: those whose trigger channel
/// (`__start__`, `branch:to:NODE`) changed since the node last saw it, the
/// targets of pending `Send` packets, and the nodes with pending writes of
/// an interrupt or an error.
pub(crate) fn next_nodes(t: &CheckpointTuple) -> Vec<String> {
    let cp = &t.checkpoint;
    let mut next: Vec<String> = Vec::new();
    let mut add = |node: String| {
        if !next.contains(&node) {
            next.push(node);
        }
    };
    for (channel, version) in &cp.channel_versions {
        let node = if channel == "__start__" {
            "__start__"
        } else if let Some(node) = channel.strip_prefix("branch:to:") {
            node
        } else {
            continue;
        };
        if !cp.channel_values.contains_key(channel) {
            continue;
        }
        let seen = cp.versions_seen.get(node).and_then(|s| s.get(channel));
        if seen.is_none_or(|s| s < version) {
            add(node.to_owned());
        }
    }
    if let Some(Value::Array(packets)) = cp.channel_values.get(TASKS) {
        for p in packets {
            if let Some(node) = p.get("node").and_then(Value::as_str) {
                add(node.to_owned());
            }
        }
    }
    for w in &t.pending_writes {
        if w.channel == INTERRUPT || w.channel == ERROR {
            add(node_of(&w.task_path));
        }
    }
    next
}

/// The status of the thread at `t`.
pub(crate) fn status(t: &CheckpointTuple, next: &[String]) -> Status {
    let of = |channel: &str| -> Vec<&PendingWrite> {
        t.pending_writes
            .iter()
            .filter(|w| w.channel == channel)
            .collect()
    };
    let nodes = |writes: &[&PendingWrite]| {
        let mut nodes: Vec<String> = writes.iter().map(|w| node_of(&w.task_path)).collect();
        nodes.dedup();
        nodes
    };
    // An interrupt whose task has a resume value was answered.
    let answered = |w: &&PendingWrite| {
        t.pending_writes
            .iter()
            .any(|r| r.channel == RESUME && r.task_id == w.task_id)
    };
    let interrupts: Vec<&PendingWrite> =
        of(INTERRUPT).into_iter().filter(|w| !answered(w)).collect();
    if !interrupts.is_empty() {
        let values = interrupts
            .iter()
            .flat_map(|w| match &w.value {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.get("value").cloned().unwrap_or_else(|| i.clone()))
                    .collect(),
                other => vec![other.clone()],
            })
            .collect();
        return Status::Waiting {
            nodes: nodes(&interrupts),
            values,
        };
    }
    let errors = of(ERROR);
    if !errors.is_empty() {
        return Status::Failed {
            nodes: nodes(&errors),
            errors: errors
                .iter()
                .map(|w| match &w.value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        };
    }
    if next.is_empty() {
        Status::Finished
    } else {
        Status::Before {
            nodes: next.to_vec(),
        }
    }
}

/// The library call that continues the thread from `t` (`latest`: `t` is
/// the thread's latest checkpoint, so no checkpoint id is needed).
pub(crate) fn continue_hint(t: &CheckpointTuple, status: &Status, latest: bool) -> Option<String> {
    let ns = if t.config.ns().is_empty() {
        String::new()
    } else {
        format!(".with_ns({:?})", t.config.ns())
    };
    let id = if latest {
        String::new()
    } else {
        format!(".with_checkpoint_id({:?})", t.checkpoint.id)
    };
    let config = format!("Config::thread({:?}){ns}{id}", t.config.thread_id);
    let input = match status {
        Status::Finished => return None,
        Status::Waiting { .. } => "Command::resume(ANSWER)",
        Status::Failed { .. } | Status::Before { .. } => "Input::Continue",
    };
    let mut hint = format!("graph.invoke({input}, &{config})");
    if !latest {
        hint.push_str("  (from an older checkpoint: this forks the thread)");
    }
    Some(hint)
}
