//! `StateSnapshot`: a checkpoint as the graph reads it.

use serde_json::{Value, json};

use super::algo::{
    INPUT_NODE, TaskWrites, apply_writes, finished_writes, null_task_writes, prepare_tasks,
    state_values, task_interrupts,
};
use super::error::GraphError;
use super::interrupt::Interrupt;
use super::spec::GraphSpec;
use super::subgraph::task_namespace;
use super::task::Task;
use crate::saver::{
    ChannelVersion, CheckpointMetadata, CheckpointTuple, Config, ERROR, PendingWrite,
};

/// The state of a thread at one checkpoint: values, what runs next, and
/// the tasks pending there with their errors and interrupts.
///
/// `V` is how the values read: a JSON object for
/// [`CompiledGraph`](crate::graph::CompiledGraph), the state struct for a
/// typed graph ([`TypedSnapshot`](crate::graph::TypedSnapshot)).
#[derive(Clone, Debug, PartialEq)]
pub struct StateSnapshot<V = Value> {
    /// Every state channel with a value, as one object; a reducer channel
    /// never written shows its reducer's default (`[]` for
    /// [`Reducer::append`](crate::graph::Reducer::append)), as in LangGraph.
    pub values: V,
    /// The nodes of the tasks of the next step that still have to run;
    /// empty when the run is done. As in LangGraph, a snapshot of the
    /// latest checkpoint (`get_state` with a config naming no checkpoint)
    /// leaves out the tasks that finished in a step an interrupt or an
    /// error stopped (their writes are in [`values`](Self::values) and in
    /// [`TaskSnapshot::result`]); a snapshot of a named checkpoint, and
    /// each one of the history, lists every task of the step, as a record
    /// of it.
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

impl<V> StateSnapshot<V> {
    /// The same snapshot with its values read through `read` (how a typed
    /// graph gets its struct from the JSON).
    pub fn try_map_values<U, E>(
        self,
        read: impl FnOnce(V) -> Result<U, E>,
    ) -> Result<StateSnapshot<U>, E> {
        Ok(StateSnapshot {
            values: read(self.values)?,
            next: self.next,
            config: self.config,
            parent_config: self.parent_config,
            metadata: self.metadata,
            created_at: self.created_at,
            tasks: self.tasks,
            interrupts: self.interrupts,
        })
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
    /// For a task of a subgraph node
    /// ([`add_subgraph`](crate::graph::StateGraph::add_subgraph)): the
    /// config of the subgraph's checkpoints (thread and namespace
    /// `<node>:<task id>`), as LangGraph's snapshot gives it; pass it to
    /// the subgraph's [`get_state`](crate::graph::CompiledGraph::get_state)
    /// or [`get_state_history`](crate::graph::CompiledGraph::get_state_history).
    pub state: Option<Config>,
    /// For a task of a subgraph node, in a snapshot from
    /// [`get_state_subgraphs`](crate::graph::CompiledGraph::get_state_subgraphs):
    /// the subgraph's latest snapshot in [`state`](Self::state)'s
    /// namespace, its own subgraph tasks filled in too (LangGraph's
    /// `task.state` with `subgraphs=True`); `None` otherwise.
    pub subgraph: Option<Box<StateSnapshot>>,
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
    ///
    /// As LangGraph's `_prepare_state_snapshot`: the NULL task's writes (a
    /// [`Command`](crate::graph::Command)'s update and goto saved against
    /// the checkpoint) are applied to the values; when `live` (the latest
    /// checkpoint, asked for without a checkpoint id) so are the writes of
    /// the tasks that finished there, and those tasks leave `next`.
    /// Finished writes that conflict are an error naming the channel, the
    /// nodes and the step, as LangGraph raises there.
    pub(crate) fn from_tuple(
        spec: &GraphSpec,
        t: CheckpointTuple,
        live: bool,
    ) -> Result<Self, GraphError> {
        let step = t.metadata.step + 1;
        let tasks = prepare_tasks(spec, &t.checkpoint, t.config.ns(), step, &t.pending_writes);
        let mut checkpoint = t.checkpoint;
        let next_version = |v: Option<&ChannelVersion>| ChannelVersion::next_after(v);
        let null_writes = null_task_writes(spec, &t.pending_writes);
        let apply = |checkpoint: &mut _, writes| {
            apply_writes(spec, checkpoint, writes, &next_version)
                .map(drop)
                .map_err(|e| e.into_graph_error(step, &t.config.thread_id))
        };
        if !null_writes.is_empty() {
            let null = TaskWrites {
                name: INPUT_NODE,
                triggers: &[],
                writes: null_writes,
            };
            apply(&mut checkpoint, vec![null])?;
        }
        let finished: Vec<Option<Vec<(String, Value)>>> = tasks
            .iter()
            .map(|task| finished_writes(&t.pending_writes, &task.id).filter(|_| live))
            .collect();
        let done: Vec<TaskWrites<'_>> = tasks
            .iter()
            .zip(&finished)
            .filter_map(|(task, writes)| {
                Some(TaskWrites {
                    name: &task.name,
                    triggers: &task.triggers,
                    writes: writes.clone()?,
                })
            })
            .collect();
        if !done.is_empty() {
            apply(&mut checkpoint, done)?;
        }
        let next = tasks
            .iter()
            .zip(&finished)
            .filter(|(_, writes)| writes.is_none())
            .map(|(task, _)| task.name.clone())
            .collect();
        let tasks: Vec<TaskSnapshot> = tasks
            .into_iter()
            .map(|task| {
                let sub = spec
                    .nodes
                    .get(&task.name)
                    .is_some_and(|n| n.subgraph.is_some());
                let state = sub.then(|| {
                    let ns = task_namespace(t.config.ns(), &task.name, &task.id);
                    Config::thread(t.config.thread_id.clone()).with_ns(ns)
                });
                TaskSnapshot::of(task, &t.pending_writes, state)
            })
            .collect();
        let interrupts = tasks.iter().flat_map(|s| s.interrupts.clone()).collect();
        Ok(StateSnapshot {
            values: Value::Object(state_values(spec, &checkpoint)),
            next,
            created_at: Some(checkpoint.ts.clone()),
            config: t.config,
            parent_config: t.parent_config,
            metadata: Some(t.metadata),
            tasks,
            interrupts,
        })
    }
}

impl TaskSnapshot {
    /// `task` as its writes pending at the checkpoint show it.
    fn of(task: Task, pending: &[PendingWrite], state: Option<Config>) -> Self {
        let mine = || pending.iter().filter(|w| w.task_id == task.id);
        let error = mine().find(|w| w.channel == ERROR).map(|w| match &w.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let interrupts = task_interrupts(pending, &task.id);
        let result = finished_writes(pending, &task.id)
            .map(|writes| Value::Array(writes.into_iter().map(|(ch, v)| json!([ch, v])).collect()));
        TaskSnapshot {
            id: task.id,
            name: task.name,
            path: task.path,
            error,
            interrupts,
            result,
            state,
            subgraph: None,
        }
    }
}
