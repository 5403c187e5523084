//! `StateSnapshot`: a checkpoint as the graph reads it.

use serde_json::{Value, json};

use super::algo::{finished_writes, prepare_tasks, state_values};
use super::interrupt::Interrupt;
use super::spec::GraphSpec;
use super::task::Task;
use crate::saver::{CheckpointMetadata, CheckpointTuple, Config, ERROR, INTERRUPT, PendingWrite};

/// The state of a thread at one checkpoint: values, what runs next, and
/// the tasks pending there with their errors and interrupts.
#[derive(Clone, Debug, PartialEq)]
pub struct StateSnapshot {
    /// Every state channel with a value, as one object; a reducer channel
    /// never written shows its reducer's default (`[]` for
    /// [`Reducer::append`](crate::graph::Reducer::append)), as in LangGraph.
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

impl StateSnapshot {
    /// The snapshot of a thread with no checkpoint: no values, nothing
    /// next, no metadata.
    pub(crate) fn empty(config: &Config) -> Self {
        StateSnapshot {
            values: Value::Object(serde_json::Map::default()),
            next: Vec::new(),
            config: config.clone(),
            parent_config: None,
            metadata: None,
            created_at: None,
            tasks: Vec::new(),
            interrupts: Vec::new(),
        }
    }

    /// The snapshot of a stored checkpoint: its state, and the tasks that
    /// run next with what their pending writes say.
    pub(crate) fn from_tuple(spec: &GraphSpec, t: CheckpointTuple) -> Self {
        let tasks = prepare_tasks(spec, &t.checkpoint, t.config.ns(), t.metadata.step + 1);
        let next = tasks.iter().map(|task| task.name.clone()).collect();
        let tasks: Vec<TaskSnapshot> = tasks
            .into_iter()
            .map(|task| TaskSnapshot::of(task, &t.pending_writes))
            .collect();
        let interrupts = tasks.iter().flat_map(|s| s.interrupts.clone()).collect();
        StateSnapshot {
            values: Value::Object(state_values(spec, &t.checkpoint)),
            next,
            created_at: Some(t.checkpoint.ts.clone()),
            config: t.config,
            parent_config: t.parent_config,
            metadata: Some(t.metadata),
            tasks,
            interrupts,
        }
    }
}

impl TaskSnapshot {
    /// `task` as its writes pending at the checkpoint show it.
    fn of(task: Task, pending: &[PendingWrite]) -> Self {
        let mine = || pending.iter().filter(|w| w.task_id == task.id);
        let error = mine().find(|w| w.channel == ERROR).map(|w| match &w.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let interrupts: Vec<Interrupt> = mine()
            .filter(|w| w.channel == INTERRUPT)
            .filter_map(|w| serde_json::from_value::<Vec<Interrupt>>(w.value.clone()).ok())
            .flatten()
            .collect();
        let result = finished_writes(pending, &task.id)
            .map(|writes| Value::Array(writes.into_iter().map(|(ch, v)| json!([ch, v])).collect()));
        TaskSnapshot {
            id: task.id,
            name: task.name,
            path: task.path,
            error,
            interrupts,
            result,
        }
    }
}
