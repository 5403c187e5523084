//! `StateSnapshot`: a checkpoint as the graph reads it.

use serde_json::Value;

use super::interrupt::Interrupt;
use crate::saver::{CheckpointMetadata, Config};

/// The state of a thread at one checkpoint: values, what runs next, and
/// the tasks pending there with their errors and interrupts.
#[derive(Clone, Debug, PartialEq)]
pub struct StateSnapshot {
    /// Every state channel with a value, as one object.
    pub values: Value,
    /// The nodes of the tasks of the next step, as LangGraph reports them:
    /// every task, also those that already finished there (their writes
    /// are in [`TaskSnapshot::result`]); empty when the run is done.
    pub next: Vec<String>,
    /// The config naming this checkpoint (no `checkpoint_id` if the
    /// thread has none).
    pub config: Config,
    /// The checkpoint this one was made from.
    pub parent_config: Option<Config>,
    /// Its metadata (`source`, `step`, `parents`); `None` if the thread
    /// has no checkpoint.
    pub metadata: Option<CheckpointMetadata>,
    /// The checkpoint's time, ISO 8601.
    pub created_at: Option<String>,
    /// The tasks of the next step, with what is saved about them.
    pub tasks: Vec<TaskSnapshot>,
    /// All pending interrupts of those tasks.
    pub interrupts: Vec<Interrupt>,
}

impl StateSnapshot {
    /// The values as a [`State`](crate::graph::State), for typed reads.
    pub fn state(&self) -> crate::graph::State {
        crate::graph::State::from_value(self.values.clone())
    }
}

/// A task pending at a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSnapshot {
    /// Its deterministic id.
    pub id: String,
    /// The node.
    pub name: String,
    /// Its path (`~__pregel_pull, node` or `~__pregel_push, 0000000000`).
    pub path: String,
    /// The error it failed with, if it failed.
    pub error: Option<String>,
    /// The interrupts it stopped on.
    pub interrupts: Vec<Interrupt>,
    /// Its saved writes `[[channel, value], ...]`, if it finished.
    pub result: Option<Value>,
}
