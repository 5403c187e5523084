//! The superstep loop: prepare tasks, run them in parallel, save their
//! writes, apply them through the reducers, checkpoint, repeat.
//!
//! This follows LangGraph's runtime (`pregel/_loop.py`, `_algo.py`):
//!
//! - A run on a new input applies the input to the `__start__` channel and
//!   saves an `input` checkpoint (step = last step + 1, `-1` on a new
//!   thread). The built-in `__start__` task then copies the input into the
//!   state channels in the first `loop` step.
//! - Each step: the tasks are the nodes with a trigger channel whose version
//!   they have not seen, plus one task per pending Send packet. They run
//!   concurrently; each task's writes are saved with `put_writes` (against
//!   the step's starting checkpoint) as soon as it ends. Then all writes go
//!   through the reducers, versions grow by one `get_next_version` over the
//!   highest version, and a `loop` checkpoint is saved with
//!   `new_versions` = the channels that changed.
//! - With `Durability::Sync`, the writes of the task that ends last, when
//!   no task of the step failed or was interrupted, are *held* (kept in
//!   `pending`, not yet saved) and saved with the step's checkpoint in one
//!   `put_with_writes` call: one transaction and one fsync per step instead
//!   of two for a one-task step. So a finished task is never run again
//!   after a failure: every other task's writes are saved as it ends, and
//!   the held ones become durable exactly when the checkpoint does (a
//!   crash before loses both, like a crash just before their own
//!   `put_writes`). If the step then ends without a checkpoint (its writes
//!   conflict), or the fused save fails, the held writes are saved alone,
//!   as they would have been. Other durability modes save as before.
//! - A failed task is saved as an `__error__` write (with `__resume__` if
//!   it took an answer) and the run stops with
//!   the error after the other tasks end; an interrupted one as
//!   `__interrupt__` (and `__resume__` with its answers so far). Invoking
//!   again from that checkpoint finds the finished tasks' writes under their
//!   deterministic ids and runs only the others.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde_json::{Map, Value, json};

use super::builder::{END, GraphSpec, START};
use super::channel::{ChannelKind, Conflict, START_CHANNEL, branch_channel};
use super::compiled::{CompiledGraph, Input, RunOutcome};
use super::error::GraphError;
use super::interrupt::{Goto, Interrupt};
use super::node::NodeContext;
use super::persist::Persist;
use super::state::State;
use super::stream::{EventSink, StreamEvent};
use super::task::{Task, TaskKind, pull_path, pull_task_id, push_path, push_task_id};
use crate::saver::OwnedWriteBatch;
use crate::saver::{
    ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    ERROR, INTERRUPT, NO_WRITES, NULL_TASK_ID, PendingWrite, RESUME, SCHEDULED, TASKS,
};

/// The `versions_seen` key that records the versions at the last interrupt.
const INTERRUPT_SEEN: &str = INTERRUPT;
/// The node name of writes that come from the caller, not a task.
pub(crate) const INPUT_NODE: &str = "__input__";

/// The value that replaces the NULL task's `__resume__` write once a task
/// has taken it.
fn consumed_marker() -> Value {
    json!({"__resume_consumed__": true})
}

/// An empty checkpoint that holds the place of one moved out for a moment.
fn placeholder() -> Checkpoint {
    Checkpoint {
        v: 0,
        id: String::new(),
        ts: String::new(),
        channel_values: BTreeMap::new(),
        channel_versions: ChannelVersions::new(),
        versions_seen: BTreeMap::new(),
        updated_channels: None,
    }
}

/// Whether `channel` is a control channel (never applied to the state).
pub(crate) fn is_control(channel: &str) -> bool {
    matches!(channel, ERROR | INTERRUPT | RESUME | SCHEDULED | NO_WRITES)
}

/// Every state channel with a value, as one object.
pub(crate) fn state_values(spec: &GraphSpec, checkpoint: &Checkpoint) -> Map<String, Value> {
    spec.state_channels
        .iter()
        .filter_map(|ch| Some((ch.clone(), checkpoint.channel_values.get(ch)?.clone())))
        .collect()
}

/// The NULL-task writes pending at a checkpoint (the update and goto of the
/// [`Command`](super::interrupt::Command)s sent there), in order, as one
/// batch. Several commands can land on one checkpoint (the run stopped
/// again before a new checkpoint): for a last-value channel only the last
/// command's value is kept, as if they had been applied one after the
/// other, instead of a conflict that no later run could get past.
pub(crate) fn null_task_writes(spec: &GraphSpec, pending: &[PendingWrite]) -> Vec<(String, Value)> {
    let writes: Vec<(String, Value)> = pending
        .iter()
        .filter(|w| w.task_id == NULL_TASK_ID && !is_control(&w.channel))
        .map(|w| (w.channel.clone(), w.value.clone()))
        .collect();
    let last_value = |ch: &str| matches!(spec.channels.get(ch), Some(k) if k.is_last_value());
    writes
        .iter()
        .enumerate()
        .filter(|(i, (ch, _))| {
            !last_value(ch) || !writes[i + 1..].iter().any(|(later, _)| later == ch)
        })
        .map(|(_, w)| w.clone())
        .collect()
}

/// The trigger channels of `node` that have a version it has not seen.
pub(crate) fn fresh_triggers(spec: &GraphSpec, checkpoint: &Checkpoint, node: &str) -> Vec<String> {
    let Some(n) = spec.nodes.get(node) else {
        return Vec::new();
    };
    let seen = checkpoint.versions_seen.get(node);
    let mut triggers: Vec<String> = n
        .triggers
        .iter()
        .filter(|ch| {
            let available = spec
                .channels
                .get(*ch)
                .is_some_and(|k| k.is_available(checkpoint.channel_values.get(*ch)));
            let version = checkpoint.channel_versions.get(*ch);
            let seen = seen.and_then(|s| s.get(*ch));
            available && version.is_some() && version > seen
        })
        .cloned()
        .collect();
    triggers.sort();
    triggers
}

/// The tasks of step `step`, run from `checkpoint`: push tasks for pending
/// Send packets, then pull tasks in node order.
pub(crate) fn prepare_tasks(
    spec: &GraphSpec,
    checkpoint: &Checkpoint,
    ns: &str,
    step: i64,
) -> Vec<Task> {
    let mut tasks = Vec::new();
    if let Some(Value::Array(packets)) = checkpoint.channel_values.get(TASKS) {
        for (idx, packet) in packets.iter().enumerate() {
            let Some(node) = packet.get("node").and_then(Value::as_str) else {
                continue;
            };
            if !spec.nodes.contains_key(node) || node == START {
                continue;
            }
            tasks.push(Task {
                id: push_task_id(&checkpoint.id, ns, step, node, idx),
                name: node.to_owned(),
                path: push_path(idx),
                triggers: vec![super::task::PUSH.to_owned()],
                kind: TaskKind::Push(packet.get("arg").cloned().unwrap_or(Value::Null)),
            });
        }
    }
    for name in spec.nodes.keys() {
        let triggers = fresh_triggers(spec, checkpoint, name);
        if triggers.is_empty() {
            continue;
        }
        tasks.push(Task {
            id: pull_task_id(&checkpoint.id, ns, step, name, &triggers),
            name: name.clone(),
            path: pull_path(name),
            triggers,
            kind: TaskKind::Pull,
        });
    }
    tasks
}

/// Why `apply_writes` refused a step.
#[derive(Debug)]
pub(crate) enum ApplyError {
    Conflict {
        channel: String,
        first: String,
        second: String,
    },
    UnknownChannel {
        channel: String,
        node: String,
    },
    ReducerPanicked {
        channel: String,
        message: String,
    },
}

impl ApplyError {
    pub(crate) fn into_graph_error(self, step: i64, thread_id: &str) -> GraphError {
        match self {
            ApplyError::Conflict {
                channel,
                first,
                second,
            } => GraphError::ConflictingUpdate {
                channel,
                first_node: first,
                second_node: second,
                step,
                thread_id: thread_id.to_owned(),
            },
            ApplyError::ReducerPanicked { channel, message } => GraphError::ReducerPanicked {
                channel,
                step,
                thread_id: thread_id.to_owned(),
                message,
            },
            ApplyError::UnknownChannel { channel, node } => GraphError::InvalidUpdate {
                node,
                step,
                thread_id: thread_id.to_owned(),
                reason: format!("{channel:?} is not a channel of the graph"),
            },
        }
    }
}

/// One task's contribution to `apply_writes`.
pub(crate) struct TaskWrites<'a> {
    pub(crate) name: &'a str,
    pub(crate) triggers: &'a [String],
    pub(crate) writes: Vec<(String, Value)>,
}

/// The writes of a step's finished tasks in task-path order, the order
/// in which the reducers see them.
fn ordered_writes(done: &[(Task, Vec<(String, Value)>)]) -> Vec<TaskWrites<'_>> {
    let mut sorted: Vec<&(Task, Vec<(String, Value)>)> = done.iter().collect();
    sorted.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    sorted
        .into_iter()
        .map(|(t, w)| TaskWrites {
            name: &t.name,
            triggers: &t.triggers,
            writes: w.clone(),
        })
        .collect()
}

/// Applies a step's writes to `checkpoint` (LangGraph's `apply_writes`):
/// records what each task saw, resets consumed barriers, runs every
/// channel's reducer, clears ephemeral channels nobody wrote (when tasks
/// ran), and gives every changed channel one new version above the highest.
/// Returns the changed channels.
pub(crate) fn apply_writes(
    spec: &GraphSpec,
    checkpoint: &mut Checkpoint,
    tasks: Vec<TaskWrites<'_>>,
    next_version: &dyn Fn(Option<&ChannelVersion>) -> ChannelVersion,
) -> Result<BTreeSet<String>, ApplyError> {
    let max = checkpoint.channel_versions.values().max().copied();
    let next = next_version(max.as_ref());
    let mut updated = BTreeSet::new();
    let bump_step = tasks.iter().any(|t| !t.triggers.is_empty());

    for t in &tasks {
        let mut seen_now = ChannelVersions::new();
        for ch in t.triggers {
            if let Some(v) = checkpoint.channel_versions.get(ch) {
                seen_now.insert(ch.clone(), *v);
            }
        }
        if !seen_now.is_empty() {
            checkpoint
                .versions_seen
                .entry(t.name.to_owned())
                .or_default()
                .extend(seen_now);
        }
    }
    for t in &tasks {
        for ch in t.triggers {
            let Some(kind) = spec.channels.get(ch) else {
                continue;
            };
            let mut value = checkpoint.channel_values.remove(ch);
            let changed = kind.consume(&mut value);
            if let Some(v) = value {
                checkpoint.channel_values.insert(ch.clone(), v);
            }
            if changed {
                checkpoint.channel_versions.insert(ch.clone(), next);
                updated.insert(ch.clone());
            }
        }
    }

    let mut by_channel: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for t in tasks {
        for (ch, value) in t.writes {
            if is_control(&ch) {
                continue;
            }
            if !spec.channels.contains_key(&ch) {
                return Err(ApplyError::UnknownChannel {
                    channel: ch,
                    node: t.name.to_owned(),
                });
            }
            by_channel
                .entry(ch)
                .or_default()
                .push((t.name.to_owned(), value));
        }
    }
    let written: BTreeSet<String> = by_channel.keys().cloned().collect();
    for (ch, writes) in by_channel {
        let Some(kind) = spec.channels.get(&ch) else {
            continue;
        };
        let mut value = checkpoint.channel_values.remove(&ch);
        let result = kind.update(&mut value, writes);
        if let Some(v) = value {
            checkpoint.channel_values.insert(ch.clone(), v);
        }
        match result {
            Ok(true) => {
                checkpoint.channel_versions.insert(ch.clone(), next);
                updated.insert(ch);
            }
            Ok(false) => {}
            Err(Conflict::TwoWrites { first, second }) => {
                return Err(ApplyError::Conflict {
                    channel: ch,
                    first,
                    second,
                });
            }
            Err(Conflict::ReducerPanicked(message)) => {
                return Err(ApplyError::ReducerPanicked {
                    channel: ch,
                    message,
                });
            }
        }
    }
    if bump_step {
        for (ch, kind) in &spec.channels {
            if kind.is_ephemeral()
                && !written.contains(ch)
                && checkpoint.channel_values.remove(ch).is_some()
            {
                checkpoint.channel_versions.insert(ch.clone(), next);
                updated.insert(ch.clone());
            }
        }
    }
    Ok(updated)
}

/// The writes a node's update makes, with its edges: state writes, then
/// `branch:to:` triggers for static successors and router answers, join
/// barrier marks, and Send packets. `global` is the state before the step;
/// routers see it with the update applied.
pub(crate) fn node_writes(
    spec: &GraphSpec,
    node: &str,
    update: Vec<(String, Value)>,
    global: &State,
) -> Result<Vec<(String, Value)>, String> {
    let Some(n) = spec.nodes.get(node) else {
        return Err(format!("{node:?} is not a node of the graph"));
    };
    let mut local = global.clone();
    for (ch, value) in &update {
        let Some(kind @ ChannelKind::State(_)) = spec.channels.get(ch) else {
            return Err(format!(
                "{ch:?} is not a state channel of the graph (declare it with add_channel)"
            ));
        };
        let mut cur = local.value(ch).cloned();
        // Two writes to a last-value channel by one node: the last wins here;
        // apply_writes reports the conflict.
        if kind
            .update(&mut cur, vec![(node.to_owned(), value.clone())])
            .is_ok()
        {
            local.set(ch, cur);
        }
    }
    let mut writes = update;
    for succ in &n.successors {
        writes.push((branch_channel(succ), Value::from(node)));
    }
    for join in &n.joins {
        writes.push((join.clone(), Value::from(node)));
    }
    for router in &n.routers {
        for goto in router(&local).0 {
            goto_writes(spec, node, goto, &mut writes)?;
        }
    }
    Ok(writes)
}

/// The writes that make `goto` happen in the next step.
pub(crate) fn goto_writes(
    spec: &GraphSpec,
    from: &str,
    goto: Goto,
    writes: &mut Vec<(String, Value)>,
) -> Result<(), String> {
    let valid = |n: &str| spec.nodes.contains_key(n) && n != START;
    match goto {
        Goto::Node(n) if n == END => {}
        Goto::Node(n) => {
            if !valid(&n) {
                return Err(format!("route to {n:?}, which is not a node of the graph"));
            }
            writes.push((branch_channel(&n), Value::from(from)));
        }
        Goto::Send(s) => {
            if !valid(&s.node) {
                return Err(format!(
                    "SendTo {:?}, which is not a node of the graph",
                    s.node
                ));
            }
            writes.push((TASKS.to_owned(), json!({"node": s.node, "arg": s.arg})));
        }
    }
    Ok(())
}

/// How a task ended.
enum TaskOutput {
    Done(Vec<(String, Value)>),
    Interrupted(Interrupt),
    Failed { message: String, invalid: bool },
}

/// Runs one task: the node, then its edges.
async fn run_task(
    spec: Arc<GraphSpec>,
    task: Task,
    input: State,
    global: Arc<State>,
    ctx: NodeContext,
) -> TaskOutput {
    let update = match spec.nodes.get(&task.name).and_then(|n| n.runner.clone()) {
        // The built-in __start__ node copies the input into the state.
        None => match input.to_value() {
            Value::Object(map) => Ok(map.into_iter().collect()),
            _ => Ok(Vec::new()),
        },
        Some(node) => match node.call(input, ctx).await {
            Ok(update) => update.into_writes().map_err(|reason| (reason, true)),
            Err(e) => match e.into_outcome() {
                Ok(interrupt) => return TaskOutput::Interrupted(interrupt),
                Err(message) => Err((message, false)),
            },
        },
    };
    let writes =
        update.and_then(|u| node_writes(&spec, &task.name, u, &global).map_err(|r| (r, true)));
    match writes {
        Ok(w) => TaskOutput::Done(w),
        Err((message, invalid)) => TaskOutput::Failed { message, invalid },
    }
}

/// The text of a spawned task's panic (or cancellation).
fn join_message(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "task was cancelled".to_owned();
    }
    panic_message(&*e.into_panic())
}

/// The text of a caught panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Aborts the step's tasks when dropped (a no-op for finished tasks).
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// How a step ended.
enum StepEnd {
    /// Every task finished: their writes, in path order.
    Done(Vec<(Task, Vec<(String, Value)>)>),
    /// The run stops here (interrupt).
    /// The run stops here for these interrupts; `next` lists the tasks
    /// that did not finish, `done` the writes of those that did.
    Stop {
        interrupts: Vec<Interrupt>,
        next: Vec<String>,
        done: Vec<(Task, Vec<(String, Value)>)>,
    },
}

/// One run of the loop over one thread.
pub(crate) struct Run {
    graph: CompiledGraph,
    config: Config,
    thread_id: String,
    checkpoint: Checkpoint,
    /// Metadata step of `checkpoint`.
    step: i64,
    /// Id of `checkpoint` if it is (or will be) saved; `None` before the
    /// first put of a new thread.
    saved_id: Option<String>,
    pending: Vec<PendingWrite>,
    /// Channels changed since `checkpoint` was saved outside a step (a
    /// command's update and goto); the next checkpoint announces them.
    carried: BTreeSet<String>,
    /// Writes of the step's last task (`Durability::Sync`), recorded in
    /// `pending` but saved with the step's checkpoint, in one saver call.
    held: Vec<OwnedWriteBatch>,
    persist: Persist,
    sink: Option<EventSink>,
}

impl Run {
    /// The config a put or put_writes uses to address checkpoint `id`:
    /// the caller's config (for its metadata keys) naming `id`.
    fn config_for(&self, id: Option<&str>) -> Config {
        let mut c = self.config.clone();
        c.checkpoint_ns = Some(self.config.ns().to_owned());
        c.checkpoint_id = id.map(str::to_owned);
        c
    }

    /// Emits the event `event` makes, if the run is streamed (else the
    /// event, which may copy the whole state, is not built).
    fn emit(&self, event: impl FnOnce() -> StreamEvent) {
        if let Some(sink) = &self.sink {
            sink.emit(event());
        }
    }

    fn apply(
        &mut self,
        tasks: Vec<TaskWrites<'_>>,
        step: i64,
    ) -> Result<BTreeSet<String>, GraphError> {
        let spec = Arc::clone(self.graph.spec());
        let saver = self.graph.saver_ref().cloned();
        let next = move |v: Option<&ChannelVersion>| match &saver {
            Some(s) => s.get_next_version(v),
            None => ChannelVersion::next_after(v),
        };
        apply_writes(&spec, &mut self.checkpoint, tasks, &next)
            .map_err(|e| e.into_graph_error(step, &self.thread_id))
    }

    /// Makes the current (mutated) checkpoint a new checkpoint of `step`
    /// and saves it.
    async fn checkpoint(
        &mut self,
        step: i64,
        source: CheckpointSource,
        updated: &BTreeSet<String>,
    ) -> Result<(), GraphError> {
        let mut updated = updated.clone();
        updated.append(&mut self.carried);
        // The checkpoint moves to the saver call and comes back: no copy.
        let current = std::mem::replace(&mut self.checkpoint, placeholder());
        let kept = (
            current.id.clone(),
            current.ts.clone(),
            current.updated_channels.clone(),
        );
        let mut next = current.into_successor(step);
        next.updated_channels = Some(updated.iter().cloned().collect());
        let versions: ChannelVersions = updated
            .iter()
            .filter_map(|ch| Some((ch.clone(), *next.channel_versions.get(ch)?)))
            .collect();
        let parent = self.config_for(self.saved_id.as_deref());
        let metadata = CheckpointMetadata::new(source, step);
        // Held writes (of the step's last task) go in with the checkpoint.
        let held = std::mem::take(&mut self.held);
        let (next, saved) = self
            .persist
            .save_step(&parent, held, next, metadata, versions)
            .await;
        if let Err(e) = saved {
            // Not saved: the run keeps its checkpoint as it was.
            self.checkpoint = next;
            (
                self.checkpoint.id,
                self.checkpoint.ts,
                self.checkpoint.updated_channels,
            ) = kept;
            return Err(e);
        }
        self.saved_id = Some(next.id.clone());
        self.checkpoint = next;
        self.step = step;
        self.pending.clear();
        Ok(())
    }

    /// The state values with the writes of `done` applied, on a copy.
    fn values_with(
        &self,
        done: &[(Task, Vec<(String, Value)>)],
        step: i64,
    ) -> Result<Value, GraphError> {
        let spec = Arc::clone(self.graph.spec());
        let mut copy = self.checkpoint.clone();
        apply_writes(&spec, &mut copy, ordered_writes(done), &|v| {
            ChannelVersion::next_after(v)
        })
        .map_err(|e| e.into_graph_error(step, &self.thread_id))?;
        Ok(Value::Object(state_values(&spec, &copy)))
    }

    fn values(&self) -> Value {
        Value::Object(state_values(self.graph.spec(), &self.checkpoint))
    }

    fn outcome(&self, next: Vec<String>, interrupts: Vec<Interrupt>) -> RunOutcome {
        RunOutcome {
            values: self.values(),
            next,
            interrupts,
            config: self
                .graph
                .saver_ref()
                .and(self.saved_id.as_ref())
                .map(|id| {
                    Config::thread(self.thread_id.clone())
                        .with_ns(self.config.ns())
                        .with_checkpoint_id(id.clone())
                }),
        }
    }

    /// Whether the run must stop for a static interrupt: a task of `names`
    /// is listed, and some channel changed since the last interrupt.
    fn should_interrupt<'a>(
        &self,
        listed: &BTreeSet<String>,
        mut names: impl Iterator<Item = &'a str>,
    ) -> bool {
        if listed.is_empty() || !names.any(|n| listed.contains(n)) {
            return false;
        }
        let seen = self.checkpoint.versions_seen.get(INTERRUPT_SEEN);
        self.checkpoint
            .channel_versions
            .iter()
            .any(|(ch, v)| Some(v) > seen.and_then(|s| s.get(ch)))
    }

    /// Saves writes against the current checkpoint and keeps them in
    /// `pending`.
    async fn save_writes(
        &mut self,
        writes: Vec<(String, Value)>,
        task_id: &str,
        task_path: &str,
    ) -> Result<(), GraphError> {
        let config = self.config_for(self.saved_id.as_deref());
        self.record_writes(&writes, task_id, task_path);
        self.persist
            .put_writes(&config, writes, task_id, task_path)
            .await
    }

    /// Keeps writes in `pending` and holds them to be saved with the next
    /// checkpoint ([`checkpoint`](Self::checkpoint)), or alone by
    /// [`save_held`](Self::save_held) if the step ends otherwise.
    fn hold_writes(&mut self, writes: Vec<(String, Value)>, task_id: &str, task_path: &str) {
        self.record_writes(&writes, task_id, task_path);
        self.held.push(OwnedWriteBatch {
            writes,
            task_id: task_id.to_owned(),
            task_path: task_path.to_owned(),
        });
    }

    /// Saves the held writes on their own (the step they were held for
    /// ends without a checkpoint).
    async fn save_held(&mut self) -> Result<(), GraphError> {
        let config = self.config_for(self.saved_id.as_deref());
        for w in std::mem::take(&mut self.held) {
            self.persist
                .put_writes(&config, w.writes, &w.task_id, &w.task_path)
                .await?;
        }
        Ok(())
    }

    /// Adds writes to `pending` as the saver stores them.
    fn record_writes(&mut self, writes: &[(String, Value)], task_id: &str, task_path: &str) {
        for (i, (ch, v)) in writes.iter().enumerate() {
            let idx = crate::saver::write_idx(ch, i);
            let existing = self
                .pending
                .iter()
                .position(|w| w.task_id == task_id && w.idx == idx);
            match existing {
                // Special channels: the new write replaces the old one.
                Some(at) if idx < 0 => {
                    self.pending.remove(at);
                }
                // Others: the first write at an index stays, as in the saver.
                Some(_) => continue,
                None => {}
            }
            self.pending.push(PendingWrite {
                task_id: task_id.to_owned(),
                channel: ch.clone(),
                value: v.clone(),
                task_path: task_path.to_owned(),
                idx,
            });
        }
    }

    /// The saved writes of task `id` if it finished, without control writes.
    fn finished_writes(&self, id: &str) -> Option<Vec<(String, Value)>> {
        let mine: Vec<&PendingWrite> = self.pending.iter().filter(|w| w.task_id == id).collect();
        if !mine
            .iter()
            .any(|w| !matches!(w.channel.as_str(), ERROR | INTERRUPT | RESUME))
        {
            return None;
        }
        Some(
            mine.iter()
                .filter(|w| !is_control(&w.channel))
                .map(|w| (w.channel.clone(), w.value.clone()))
                .collect(),
        )
    }

    fn pending_value(&self, task_id: &str, channel: &str) -> Option<Value> {
        self.pending
            .iter()
            .find(|w| w.task_id == task_id && w.channel == channel)
            .map(|w| w.value.clone())
    }

    /// Runs the tasks of one step.
    async fn run_step(&mut self, tasks: &[Task], step: i64) -> Result<StepEnd, GraphError> {
        let spec = Arc::clone(self.graph.spec());
        let global = Arc::new(State::from_map(state_values(&spec, &self.checkpoint)));
        let shared_resume = Arc::new(Mutex::new(
            self.pending_value(NULL_TASK_ID, RESUME)
                .filter(|v| *v != consumed_marker()),
        ));
        let mut done: BTreeMap<usize, Vec<(String, Value)>> = BTreeMap::new();
        let mut running: FuturesUnordered<BoxFuture<'static, (usize, Result<TaskOutput, String>)>> =
            FuturesUnordered::new();
        let mut contexts = BTreeMap::new();
        // If this run is dropped mid-step, its tasks stop too.
        let mut abort_guard = AbortOnDrop(Vec::new());
        let lone = tasks
            .iter()
            .filter(|t| self.finished_writes(&t.id).is_none())
            .count()
            == 1;
        for (i, task) in tasks.iter().enumerate() {
            if let Some(writes) = self.finished_writes(&task.id) {
                done.insert(i, writes);
                continue;
            }
            let answers = match self.pending_value(&task.id, RESUME) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            let ctx = NodeContext::new(
                self.config.clone(),
                step,
                task.name.clone(),
                task.id.clone(),
                answers,
                Arc::clone(&shared_resume),
            );
            let input = match &task.kind {
                TaskKind::Pull if task.name == START => State::from_value(
                    self.checkpoint
                        .channel_values
                        .get(START_CHANNEL)
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
                TaskKind::Pull => State::clone(&global),
                TaskKind::Push(arg) => State::from_value(arg.clone()),
            };
            self.emit(|| StreamEvent::TaskStart {
                step,
                id: task.id.clone(),
                name: task.name.clone(),
                triggers: task.triggers.clone(),
            });
            let run = run_task(
                Arc::clone(&spec),
                task.clone(),
                input,
                Arc::clone(&global),
                ctx.clone(),
            );
            contexts.insert(i, ctx);
            if lone {
                // The only task to run runs in this run's own future: no
                // hand-off to another thread and back. A panic is caught
                // as a spawned task's would be.
                running.push(Box::pin(async move {
                    let caught = std::panic::AssertUnwindSafe(run).catch_unwind().await;
                    (i, caught.map_err(|payload| panic_message(&*payload)))
                }));
            } else {
                let handle = tokio::spawn(run);
                abort_guard.0.push(handle.abort_handle());
                running.push(Box::pin(
                    async move { (i, handle.await.map_err(join_message)) },
                ));
            }
        }

        let mut errors: BTreeMap<usize, GraphError> = BTreeMap::new();
        let mut interrupts: BTreeMap<usize, Interrupt> = BTreeMap::new();
        while let Some((i, joined)) = running.next().await {
            let task = &tasks[i];
            let new_answers = contexts.get(&i).and_then(NodeContext::new_answers);
            let (output, panicked) = match joined {
                Ok(output) => (output, false),
                Err(message) => (
                    TaskOutput::Failed {
                        message: format!("panic: {message}"),
                        invalid: false,
                    },
                    true,
                ),
            };
            match output {
                TaskOutput::Done(writes) => {
                    // The last task of a step that ends normally: its
                    // writes are saved with the step's checkpoint, in one
                    // saver call (one transaction, one fsync). Until then a
                    // crash loses them, as it would just before their own
                    // save; no other task's writes wait.
                    let hold = running.is_empty()
                        && errors.is_empty()
                        && interrupts.is_empty()
                        && self.persist.fuses();
                    let mut batches = Vec::with_capacity(2);
                    if let Some(answers) = new_answers {
                        batches.push(vec![(RESUME.to_owned(), Value::Array(answers))]);
                    }
                    batches.push(if writes.is_empty() {
                        vec![(NO_WRITES.to_owned(), Value::Null)]
                    } else {
                        writes.clone()
                    });
                    for batch in batches {
                        if hold {
                            self.hold_writes(batch, &task.id, &task.path);
                        } else {
                            self.save_writes(batch, &task.id, &task.path).await?;
                        }
                    }
                    self.emit(|| StreamEvent::Updates {
                        step,
                        node: task.name.clone(),
                        update: Value::Object(
                            writes
                                .iter()
                                .filter(|(ch, _)| spec.state_channels.contains(ch))
                                .cloned()
                                .collect(),
                        ),
                    });
                    self.emit(|| StreamEvent::TaskEnd {
                        step,
                        id: task.id.clone(),
                        name: task.name.clone(),
                        result: Some(json!(writes)),
                        error: None,
                        interrupts: Vec::new(),
                    });
                    done.insert(i, writes);
                }
                TaskOutput::Interrupted(interrupt) => {
                    let mut w = vec![(INTERRUPT.to_owned(), json!([interrupt]))];
                    if let Some(answers) = new_answers {
                        w.push((RESUME.to_owned(), Value::Array(answers)));
                    }
                    self.save_writes(w, &task.id, &task.path).await?;
                    self.emit(|| StreamEvent::TaskEnd {
                        step,
                        id: task.id.clone(),
                        name: task.name.clone(),
                        result: None,
                        error: None,
                        interrupts: vec![interrupt.clone()],
                    });
                    interrupts.insert(i, interrupt);
                }
                TaskOutput::Failed { message, invalid } => {
                    let mut w = vec![(ERROR.to_owned(), Value::from(message.clone()))];
                    // An answer the task took before failing is kept: the
                    // retry gets it instead of asking the human again.
                    if let Some(answers) = new_answers {
                        w.push((RESUME.to_owned(), Value::Array(answers)));
                    }
                    self.save_writes(w, &task.id, &task.path).await?;
                    self.emit(|| StreamEvent::TaskEnd {
                        step,
                        id: task.id.clone(),
                        name: task.name.clone(),
                        result: None,
                        error: Some(message.clone()),
                        interrupts: Vec::new(),
                    });
                    let thread_id = self.thread_id.clone();
                    let err = if panicked {
                        GraphError::NodePanicked {
                            node: task.name.clone(),
                            step,
                            thread_id,
                            message: message.trim_start_matches("panic: ").to_owned(),
                        }
                    } else if invalid {
                        GraphError::InvalidUpdate {
                            node: task.name.clone(),
                            step,
                            thread_id,
                            reason: message,
                        }
                    } else {
                        GraphError::NodeFailed {
                            node: task.name.clone(),
                            step,
                            thread_id,
                            task_id: task.id.clone(),
                            message,
                        }
                    };
                    errors.insert(i, err);
                }
            }
        }
        // A resume value a task took is now in that task's own `__resume__`
        // write; mark the shared one used, so that a later plain `Continue`
        // does not hand it to the task's next `interrupt` call.
        let had_shared = self
            .pending_value(NULL_TASK_ID, RESUME)
            .is_some_and(|v| v != consumed_marker());
        let taken = shared_resume
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none();
        if had_shared && taken {
            let marker = vec![(RESUME.to_owned(), consumed_marker())];
            if self.held.is_empty() {
                self.save_writes(marker, NULL_TASK_ID, "").await?;
            } else {
                self.hold_writes(marker, NULL_TASK_ID, "");
            }
        }
        if let Some((_, err)) = errors.into_iter().next() {
            return Err(err);
        }
        if !interrupts.is_empty() {
            let next = tasks
                .iter()
                .enumerate()
                .filter(|(i, _)| !done.contains_key(i))
                .map(|(_, t)| t.name.clone())
                .collect();
            return Ok(StepEnd::Stop {
                interrupts: interrupts.into_values().collect(),
                next,
                done: done
                    .into_iter()
                    .map(|(i, w)| (tasks[i].clone(), w))
                    .collect(),
            });
        }
        Ok(StepEnd::Done(
            done.into_iter()
                .map(|(i, w)| (tasks[i].clone(), w))
                .collect(),
        ))
    }

    /// Ends the run: waits for the saves, then returns `result`.
    async fn finish<T>(&mut self, result: Result<T, GraphError>) -> Result<T, GraphError> {
        // Held writes are saved with their step's checkpoint or, if the
        // step ended otherwise, alone; none should be left here.
        let held = if self.held.is_empty() {
            Ok(())
        } else {
            self.save_held().await
        };
        let flushed = self.persist.flush().await;
        let value = result?;
        held?;
        flushed?;
        Ok(value)
    }

    /// Loads the thread, applies the input, and runs supersteps until no
    /// task is left, an interrupt, an error or the recursion limit.
    pub(crate) async fn start(
        graph: CompiledGraph,
        input: Input,
        config: &Config,
        sink: Option<EventSink>,
    ) -> Result<RunOutcome, GraphError> {
        let saver = graph.saver_ref().cloned();
        if saver.is_some() && config.thread_id.is_empty() {
            return Err(GraphError::MissingThreadId {
                operation: "invoke",
            });
        }
        let thread_id = config.thread_id.clone();
        let tuple = match &saver {
            Some(s) => s
                .get_tuple(config)
                .await
                .map_err(GraphError::saver("get_tuple", &thread_id))?,
            None => None,
        };
        if let (Some(id), None) = (&config.checkpoint_id, &tuple) {
            return Err(GraphError::CheckpointNotFound {
                thread_id,
                checkpoint_id: id.clone(),
            });
        }
        let mut user_config = config.clone();
        user_config.checkpoint_id = None;
        let persist = Persist::new(saver.clone(), graph.durability(), &thread_id);
        let mut run = match tuple {
            Some(t) => Run {
                graph,
                config: user_config,
                thread_id,
                step: t.metadata.step,
                saved_id: Some(t.checkpoint.id.clone()),
                checkpoint: t.checkpoint,
                pending: t.pending_writes,
                carried: BTreeSet::new(),
                held: Vec::new(),
                persist,
                sink,
            },
            None => Run {
                graph,
                config: user_config,
                thread_id,
                checkpoint: Checkpoint::new(-1),
                step: -2,
                saved_id: None,
                pending: Vec::new(),
                carried: BTreeSet::new(),
                held: Vec::new(),
                persist,
                sink,
            },
        };
        let result = run.drive(input, config).await;
        run.finish(result).await
    }

    async fn drive(&mut self, input: Input, config: &Config) -> Result<RunOutcome, GraphError> {
        let resuming = match input {
            Input::Values(value) => {
                self.apply_input(value).await?;
                false
            }
            Input::Continue | Input::Command(_) if self.graph.saver_ref().is_none() => {
                return Err(GraphError::NoSaver {
                    operation: "continuing a thread",
                });
            }
            Input::Continue => {
                if self.saved_id.is_none() {
                    // Nothing to continue (LangGraph: EmptyInputError); most
                    // likely a wrong thread id, which must not look like a
                    // finished run.
                    return Err(GraphError::InvalidCommand {
                        operation: "invoke",
                        thread_id: self.thread_id.clone(),
                        reason: "the thread has no checkpoint to continue (Input::Continue \
                                 needs a thread that has run; start it with input values)"
                            .to_owned(),
                    });
                }
                if config.checkpoint_id.is_some() {
                    self.fork_if_old().await?;
                }
                true
            }
            Input::Command(cmd) => {
                if self.saved_id.is_none() {
                    return Err(GraphError::InvalidCommand {
                        operation: "invoke",
                        thread_id: self.thread_id.clone(),
                        reason: "the thread has no checkpoint to continue".to_owned(),
                    });
                }
                self.apply_command(cmd).await?;
                true
            }
        };
        if resuming {
            // Commands' state updates and gotos (NULL-task writes) apply
            // first; then the interrupt marker moves to the current
            // versions, so the interrupt that stopped the run does not fire
            // again.
            self.apply_null_writes()?;
            let versions = self.checkpoint.channel_versions.clone();
            self.checkpoint
                .versions_seen
                .insert(INTERRUPT_SEEN.to_owned(), versions);
            self.emit(|| StreamEvent::Values {
                step: self.step,
                values: self.values(),
            });
        }
        self.run_loop().await
    }

    /// Applies the NULL-task writes pending at the checkpoint (a
    /// [`Command`](super::interrupt::Command)'s update and goto), as
    /// LangGraph does before a resume or a new input. The channels they
    /// change are announced by the next checkpoint.
    fn apply_null_writes(&mut self) -> Result<(), GraphError> {
        let null_writes = null_task_writes(self.graph.spec(), &self.pending);
        if null_writes.is_empty() {
            return Ok(());
        }
        let step = self.step + 1;
        let mut updated = self.apply(
            vec![TaskWrites {
                name: INPUT_NODE,
                triggers: &[],
                writes: null_writes,
            }],
            step,
        )?;
        self.carried.append(&mut updated);
        Ok(())
    }

    /// Applies a new input to `__start__` and saves the `input` checkpoint.
    async fn apply_input(&mut self, value: Value) -> Result<(), GraphError> {
        let step = self.step + 1;
        if !matches!(value, Value::Object(_)) {
            return Err(GraphError::InvalidUpdate {
                node: START.to_owned(),
                step,
                thread_id: self.thread_id.clone(),
                reason: format!("the input must be a JSON object of channel values, got {value}"),
            });
        }
        // As LangGraph does, a command's update pending at the current
        // checkpoint still applies, and a new input discards the tasks
        // still pending there: their triggers count as seen, their saved
        // writes are not applied.
        self.apply_null_writes()?;
        let pending = if self.saved_id.is_some() {
            prepare_tasks(self.graph.spec(), &self.checkpoint, self.config.ns(), step)
        } else {
            Vec::new()
        };
        let mut tasks: Vec<TaskWrites<'_>> = pending
            .iter()
            .map(|t| TaskWrites {
                name: &t.name,
                triggers: &t.triggers,
                writes: Vec::new(),
            })
            .collect();
        tasks.push(TaskWrites {
            name: INPUT_NODE,
            triggers: &[],
            writes: vec![(START_CHANNEL.to_owned(), value)],
        });
        let updated = self.apply(tasks, step)?;
        self.checkpoint(step, CheckpointSource::Input, &updated)
            .await?;
        self.emit(|| StreamEvent::Values {
            step,
            values: self.values(),
        });
        Ok(())
    }

    /// Replaying an older checkpoint: saves a `fork` copy of it (same step,
    /// parent = it), so the new run branches off and the original history
    /// stays as it was. At the latest checkpoint this is a plain resume.
    async fn fork_if_old(&mut self) -> Result<(), GraphError> {
        let Some(saver) = self.graph.saver_ref().cloned() else {
            return Ok(());
        };
        let latest = saver
            .get_tuple(&self.config_for(None))
            .await
            .map_err(GraphError::saver("get_tuple", &self.thread_id))?;
        if latest.map(|t| t.checkpoint.id) == self.saved_id {
            return Ok(());
        }
        let step = self.step;
        self.checkpoint(step, CheckpointSource::Fork, &BTreeSet::new())
            .await?;
        // Keep the copied checkpoint's `updated_channels` meaningful: none.
        Ok(())
    }

    /// Saves a command's writes (as `__resume__` and NULL-task writes) on
    /// the current checkpoint.
    async fn apply_command(&mut self, cmd: super::interrupt::Command) -> Result<(), GraphError> {
        let spec = Arc::clone(self.graph.spec());
        let invalid = |reason: String| GraphError::InvalidCommand {
            operation: "invoke",
            thread_id: self.thread_id.clone(),
            reason,
        };
        if cmd.resume.is_none()
            && cmd.resume_map.is_empty()
            && cmd.goto.is_empty()
            && matches!(cmd.update, None | Some(Value::Null))
        {
            return Err(invalid(
                "the command is empty: give it a resume value, an update or a goto \
                 (use Input::Continue to continue the thread as it is)"
                    .to_owned(),
            ));
        }
        let mut null_writes: Vec<(String, Value)> = Vec::new();
        match cmd.update {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (ch, v) in map {
                    if !spec.state_channels.contains(&ch) {
                        return Err(invalid(format!(
                            "update names {ch:?}, which is not a state channel"
                        )));
                    }
                    null_writes.push((ch, v));
                }
            }
            Some(other) => {
                return Err(invalid(format!(
                    "update must be a JSON object, got {other}"
                )));
            }
        }
        for goto in cmd.goto {
            goto_writes(&spec, INPUT_NODE, goto, &mut null_writes).map_err(invalid)?;
        }
        let null_resume = cmd.resume;
        let mut by_task: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
        for (interrupt_id, answer) in cmd.resume_map {
            let owner = self.pending.iter().find(|w| {
                w.channel == INTERRUPT
                    && w.value.as_array().is_some_and(|list| {
                        list.iter().any(|i| {
                            i.get("id").and_then(Value::as_str) == Some(interrupt_id.as_str())
                        })
                    })
            });
            let Some(owner) = owner else {
                return Err(invalid(format!(
                    "no pending interrupt has id {interrupt_id:?}"
                )));
            };
            let key = (owner.task_id.clone(), owner.task_path.clone());
            let answers = by_task.entry(key.clone()).or_insert_with(|| {
                match self.pending_value(&key.0, RESUME) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                }
            });
            answers.push(answer);
        }
        if null_resume.is_some() {
            // A bare answer goes to the first `interrupt` call that asks; with
            // several tasks waiting, which one that is depends on timing. As
            // LangGraph does, refuse it: answers must name their interrupt.
            let waiting: BTreeSet<&str> = self
                .pending
                .iter()
                .filter(|w| w.channel == INTERRUPT && w.task_id != NULL_TASK_ID)
                .map(|w| w.task_id.as_str())
                .filter(|id| self.finished_writes(id).is_none())
                .filter(|id| !by_task.keys().any(|(t, _)| t == id))
                .collect();
            if waiting.len() > 1 {
                return Err(invalid(format!(
                    "{} interrupts are pending; a bare resume value cannot say which one it \
                     answers: answer each by its interrupt id with Command::resume_map",
                    waiting.len()
                )));
            }
        }
        if !null_writes.is_empty() {
            // NULL-task writes accumulate (as in LangGraph): the batch repeats
            // the earlier ones, so the new writes get fresh indexes instead
            // of colliding with (and being dropped for) the old ones.
            let mut batch: Vec<(String, Value)> = self
                .pending
                .iter()
                .filter(|w| w.task_id == NULL_TASK_ID && w.idx >= 0)
                .map(|w| (w.channel.clone(), w.value.clone()))
                .collect();
            batch.extend(null_writes);
            self.save_writes(batch, NULL_TASK_ID, "").await?;
        }
        if let Some(resume) = null_resume {
            self.save_writes(vec![(RESUME.to_owned(), resume)], NULL_TASK_ID, "")
                .await?;
        }
        for ((task_id, path), answers) in by_task {
            self.save_writes(
                vec![(RESUME.to_owned(), Value::Array(answers))],
                &task_id,
                &path,
            )
            .await?;
        }
        Ok(())
    }

    async fn run_loop(&mut self) -> Result<RunOutcome, GraphError> {
        let spec = Arc::clone(self.graph.spec());
        let limit = self.graph.recursion_limit();
        let mut steps_run = 0usize;
        loop {
            let step = self.step + 1;
            let tasks = prepare_tasks(&spec, &self.checkpoint, self.config.ns(), step);
            if tasks.is_empty() {
                return Ok(self.outcome(Vec::new(), Vec::new()));
            }
            if steps_run >= limit {
                return Err(GraphError::RecursionLimit {
                    limit,
                    step,
                    thread_id: self.thread_id.clone(),
                });
            }
            if self.should_interrupt(
                self.graph.interrupt_before(),
                tasks.iter().map(|t| t.name.as_str()),
            ) {
                let next: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
                self.emit(|| StreamEvent::Interrupt {
                    interrupts: Vec::new(),
                    next: next.clone(),
                });
                return Ok(self.outcome(next, Vec::new()));
            }
            let finished = match self.run_step(&tasks, step).await? {
                StepEnd::Done(f) => f,
                StepEnd::Stop {
                    interrupts,
                    next,
                    done,
                } => {
                    self.emit(|| StreamEvent::Interrupt {
                        interrupts: interrupts.clone(),
                        next: next.clone(),
                    });
                    let mut outcome = self.outcome(next, interrupts);
                    // As LangGraph does, the returned values include the
                    // writes of the step's finished tasks (they are saved as
                    // pending writes, not yet in a checkpoint).
                    if !done.is_empty() {
                        outcome.values = self.values_with(&done, step)?;
                    }
                    return Ok(outcome);
                }
            };
            let updated = match self.apply(ordered_writes(&finished), step) {
                Ok(updated) => updated,
                Err(e) => {
                    // No checkpoint for this step: the held writes are
                    // saved alone, as they would have been.
                    self.save_held().await?;
                    return Err(e);
                }
            };
            self.checkpoint(step, CheckpointSource::Loop, &updated)
                .await?;
            steps_run += 1;
            self.emit(|| StreamEvent::Values {
                step,
                values: self.values(),
            });
            if self.should_interrupt(
                self.graph.interrupt_after(),
                finished.iter().map(|(t, _)| t.name.as_str()),
            ) {
                let next: Vec<String> =
                    prepare_tasks(&spec, &self.checkpoint, self.config.ns(), step + 1)
                        .into_iter()
                        .map(|t| t.name)
                        .collect();
                if !next.is_empty() {
                    self.emit(|| StreamEvent::Interrupt {
                        interrupts: Vec::new(),
                        next: next.clone(),
                    });
                    return Ok(self.outcome(next, Vec::new()));
                }
            }
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("thread_id", &self.thread_id)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}
