//! The run state machine: load a thread, apply the input, then the
//! superstep loop: prepare tasks, run them in parallel, save their writes,
//! apply them through the reducers, checkpoint, repeat.
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
//! - With `Durability::Sync`, the writes of the tasks that end last
//!   (the one that ends with no task still running, and those that
//!   ended before it, each having waited up to 1 ms for the others),
//!   when no task of the step failed or was interrupted, are *held*
//!   (kept in `pending`, not yet saved) and saved with the step's
//!   checkpoint in one `put_with_writes` call: one transaction and one
//!   fsync per step instead of two for a one-task step, and instead of
//!   one per task when parallel tasks end together. So a finished task
//!   is never run again after a failure: every other task's writes are
//!   saved as it ends, and the held ones become durable exactly when
//!   the checkpoint does (a crash before loses both, like a crash just
//!   before their own `put_writes`). If the step then ends without a
//!   checkpoint (its writes conflict), or the fused save fails, the
//!   held writes are saved alone, as they would have been. Other
//!   durability modes save as before.
//! - A failed task is saved as an `__error__` write (with `__resume__` if
//!   it took an answer) and the run stops with
//!   the error after the other tasks end; an interrupted one as
//!   `__interrupt__` (and `__resume__` with its answers so far). Invoking
//!   again from that checkpoint finds the finished tasks' writes under their
//!   deterministic ids and runs only the others.

//!
//! The pieces: [`RunSettings`] (what the run knows of its graph), `input`
//! (new values, `Continue`, and what is pending at the checkpoint),
//! `command` (a [`Command`](crate::graph::Command)'s writes), `supersteps`
//! (the loop and the static interrupts), `step` (one superstep's tasks),
//! `execute` (one task), `writes` (saving and holding task writes) and
//! `update` (`update_state`, through the same input handling).

mod command;
// issue 17: LangGraph's debug stream events.
mod debug;
mod execute;
mod input;
mod lease;
mod settings;
mod step;
mod supersteps;
mod update;
mod writes;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub(crate) use lease::leased;
pub(crate) use settings::{CALL_KEYS, RunSettings};

use super::algo::{INPUT_NODE, TaskWrites, apply_writes, ordered_writes, state_values};
use super::error::GraphError;
use super::interrupt::Interrupt;
use super::io::{CachedTask, Input, RunNotice, RunOutcome};
use super::persist::Persist;
use super::stream::{EventSink, StreamEvent, StreamMode};
use super::subgraph::{CHECKPOINT_MAP, own_config, parents_from_map};
use super::task::Task;
use crate::saver::{
    ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    INTERRUPT, OwnedWriteBatch, PendingWrite,
};

/// The `versions_seen` key that records the versions at the last interrupt.
const INTERRUPT_SEEN: &str = INTERRUPT;

/// An empty checkpoint that holds the place of one moved out for a moment.
fn placeholder() -> Checkpoint {
    Checkpoint {
        v: 0,
        id: String::new(),
        ts: String::new(),
        channel_values: BTreeMap::default(),
        channel_versions: ChannelVersions::new(),
        versions_seen: BTreeMap::default(),
        updated_channels: None,
    }
}

/// One run of the state machine over one thread.
pub(crate) struct Run {
    settings: RunSettings,
    /// The caller's config without a checkpoint id and without the keys
    /// that are not for the saver (`checkpoint_map`, per-call options).
    config: Config,
    /// The caller's config as the nodes get it (with `checkpoint_map` and
    /// the per-call option keys, so a subgraph inherits them).
    node_config: Config,
    /// The `parents` metadata of the checkpoints this run writes: the
    /// checkpoint of each enclosing graph, by namespace (LangGraph's
    /// `checkpoint_map`); empty for a root graph.
    parents: BTreeMap<String, String>,
    thread_id: String,
    checkpoint: Checkpoint,
    /// Metadata step of `checkpoint`.
    step: i64,
    /// The last step this run may take, LangGraph's rule: the step of the
    /// checkpoint it loaded (-2 on a new thread) + recursion limit + 2.
    /// So with a limit of N a new input runs steps 0 to N, a resume N + 2
    /// steps past its checkpoint, and the step after `stop` is
    /// [`GraphError::RecursionLimit`], even with no task left (as
    /// LangGraph's `tick` checks the limit first).
    stop: i64,
    /// Id of `checkpoint` if it is (or will be) saved; `None` before the
    /// first put of a new thread.
    saved_id: Option<String>,
    pending: Vec<PendingWrite>,
    /// Channels changed since `checkpoint` was saved outside a step (a
    /// command's update and goto); the next checkpoint announces them.
    carried: BTreeSet<String>,
    /// Writes of the step's last tasks (`Durability::Sync`), recorded in
    /// `pending` but saved with the step's checkpoint, in one saver call.
    held: Vec<OwnedWriteBatch>,
    persist: Persist,
    sink: Option<EventSink>,
    /// Likely mistakes found on the way, for the outcome.
    notices: Vec<RunNotice>,
    /// The tasks served from the node cache, for the outcome.
    cached: Vec<CachedTask>,
    /// This run's `Command::resume_map` answers, by the task that asked
    /// (a subgraph task hands them down by id, as LangGraph's resume map).
    answers_by_id: command::AnswersById,
}

impl Run {
    /// Loads the thread, applies the input, and runs supersteps until no
    /// task is left, an interrupt, an error or the recursion limit.
    pub(crate) async fn start(
        settings: RunSettings,
        input: Input,
        config: &Config,
        sink: Option<EventSink>,
    ) -> Result<RunOutcome, GraphError> {
        let (config, ignored) = own_config(config);
        let leases = settings.leases.clone();
        leased(leases.as_ref(), &config, "invoke", |config| async move {
            let mut run = Run::load(settings, &config, sink).await?;
            run.notices.extend(ignored);
            let result = run.drive(input, &config).await;
            run.finish(result).await
        })
        .await
    }

    /// The run of the thread `config` names, at its checkpoint (the latest
    /// if it names none; a new thread's empty checkpoint if there is none).
    async fn load(
        settings: RunSettings,
        config: &Config,
        sink: Option<EventSink>,
    ) -> Result<Run, GraphError> {
        let saver = settings.saver.clone();
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
        let node_config = config.latest();
        let mut user_config = node_config.clone();
        let map = user_config.configurable.remove(CHECKPOINT_MAP);
        for key in CALL_KEYS {
            user_config.configurable.remove(key);
        }
        let persist = Persist::new(saver, settings.durability, &thread_id);
        // A subgraph's run is told its enclosing checkpoints; any other
        // (`update_state` of a subgraph's checkpoint) keeps the loaded ones.
        let given = map.as_ref().map(parents_from_map);
        let (checkpoint, step, saved_id, pending, parents) = match tuple {
            Some(t) => {
                let id = Some(t.checkpoint.id.clone());
                let parents = given.unwrap_or(t.metadata.parents);
                (t.checkpoint, t.metadata.step, id, t.pending_writes, parents)
            }
            None => (
                Checkpoint::new(-1),
                -2,
                None,
                Vec::new(),
                given.unwrap_or_default(),
            ),
        };
        let limit = i64::try_from(settings.recursion_limit).unwrap_or(i64::MAX);
        let stop = step.saturating_add(limit).saturating_add(2);
        Ok(Run {
            stop,
            settings,
            config: user_config,
            node_config,
            parents,
            thread_id,
            checkpoint,
            step,
            saved_id,
            pending,
            carried: BTreeSet::new(),
            held: Vec::new(),
            persist,
            sink,
            notices: Vec::new(),
            cached: Vec::new(),
            answers_by_id: BTreeMap::new(),
        })
    }

    /// The config a `put` or `put_writes` uses to address checkpoint `id`:
    /// the caller's config (for its metadata keys) naming `id`.
    fn config_for(&self, id: Option<&str>) -> Config {
        let mut c = self.config.clone();
        c.checkpoint_ns = Some(self.config.ns().to_owned());
        c.checkpoint_id = id.map(str::to_owned);
        c
    }

    /// Emits the event `event` makes, if the run is streamed (else the
    /// event, which may copy the whole state, is not built). Waits while
    /// the stream's channel is full.
    async fn emit(&self, event: impl FnOnce() -> StreamEvent) {
        if let Some(sink) = &self.sink {
            sink.emit(event()).await;
        }
    }

    /// Whether the run's stream asks for `mode`.
    fn streams(&self, mode: StreamMode) -> bool {
        self.sink.as_ref().is_some_and(|s| s.wants(mode))
    }

    /// Applies writes to the run's checkpoint (errors name `step`).
    fn apply(
        &mut self,
        tasks: Vec<TaskWrites<'_>>,
        step: i64,
    ) -> Result<BTreeSet<String>, GraphError> {
        let settings = &self.settings;
        let next = |v: Option<&ChannelVersion>| settings.next_version(v);
        apply_writes(&settings.spec, &mut self.checkpoint, tasks, &next)
            .map_err(|e| e.into_graph_error(step, &self.thread_id))
    }

    /// Makes the current (mutated) checkpoint a new checkpoint of `step`
    /// and saves it; returns its config when it was saved at once.
    async fn checkpoint(
        &mut self,
        step: i64,
        source: CheckpointSource,
        updated: &BTreeSet<String>,
    ) -> Result<Option<Config>, GraphError> {
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
        let parent_id = self.saved_id.clone();
        let mut metadata = CheckpointMetadata::new(source, step);
        metadata.parents = self.parents.clone();
        // Held writes (of the step's last tasks) go in with the checkpoint.
        let held = std::mem::take(&mut self.held);
        let (next, saved) = self
            .persist
            .save_step(&parent, held, next, metadata, versions)
            .await;
        let saved = match saved {
            Ok(saved) => saved,
            Err(e) => {
                // Not saved: the run keeps its checkpoint as it was.
                self.checkpoint = next;
                (
                    self.checkpoint.id,
                    self.checkpoint.ts,
                    self.checkpoint.updated_channels,
                ) = kept;
                return Err(e);
            }
        };
        self.saved_id = Some(next.id.clone());
        self.checkpoint = next;
        self.step = step;
        self.emit(|| StreamEvent::CheckpointSaved {
            step,
            checkpoint_id: self.checkpoint.id.clone(),
        })
        .await;
        self.pending.clear();
        if self.streams(StreamMode::Debug) {
            self.emit_debug_checkpoint(step, source, parent_id.as_deref())
                .await;
        }
        Ok(saved)
    }

    /// The state values with the writes of `done` applied, on a copy.
    fn values_with(
        &self,
        done: &[(Task, Vec<(String, Value)>)],
        step: i64,
    ) -> Result<Value, GraphError> {
        let spec = &self.settings.spec;
        let mut copy = self.checkpoint.clone();
        apply_writes(spec, &mut copy, ordered_writes(done), &|v| {
            ChannelVersion::next_after(v)
        })
        .map_err(|e| e.into_graph_error(step, &self.thread_id))?;
        Ok(Value::Object(state_values(spec, &copy)))
    }

    fn values(&self) -> Value {
        Value::Object(state_values(&self.settings.spec, &self.checkpoint))
    }

    fn outcome(&self, next: Vec<String>, interrupts: Vec<Interrupt>) -> RunOutcome {
        let mut notices = self.notices.clone();
        if self.settings.saver.is_none() && !next.is_empty() {
            notices.push(RunNotice::NotResumable);
        }
        RunOutcome {
            notices,
            cached: self.cached.clone(),
            values: self.values(),
            next,
            interrupts,
            config: self
                .settings
                .saver
                .as_ref()
                .and(self.saved_id.as_ref())
                .map(|id| {
                    Config::thread(self.thread_id.clone())
                        .with_ns(self.config.ns())
                        .with_checkpoint_id(id.clone())
                }),
        }
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
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("thread_id", &self.thread_id)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}
