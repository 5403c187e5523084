//! `CompiledGraph`: run a graph and read its threads' history.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::builder::{GraphSpec, START};
use super::error::GraphError;
use super::interrupt::{Command, Interrupt};
use super::persist::Durability;
use super::pregel::{
    Run, TaskWrites, apply_writes, fresh_triggers, is_control, node_writes, prepare_tasks,
    state_values,
};
use super::snapshot::{StateSnapshot, TaskSnapshot};
use super::state::State;
use super::stream::{EventSink, GraphStream, StreamMode};
use super::task::update_task_id;
use crate::saver::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersion, ChannelVersions, CheckpointMetadata,
    CheckpointSource, CheckpointTuple, Config, ERROR, INTERRUPT, ListOptions,
};

/// The default [`CompiledGraph::with_recursion_limit`].
pub const DEFAULT_RECURSION_LIMIT: usize = 25;

/// Options of [`StateGraph::compile`](crate::graph::StateGraph::compile).
#[derive(Clone, Default)]
pub struct CompileOptions {
    pub(crate) saver: Option<Arc<dyn BaseCheckpointSaver>>,
    pub(crate) interrupt_before: Vec<String>,
    pub(crate) interrupt_after: Vec<String>,
}

impl CompileOptions {
    /// No saver, no interrupts.
    pub fn new() -> Self {
        CompileOptions::default()
    }

    /// Checkpoints every run through `saver` (needed for threads, history,
    /// resume and interrupts).
    #[must_use]
    pub fn saver(mut self, saver: Arc<dyn BaseCheckpointSaver>) -> Self {
        self.saver = Some(saver);
        self
    }

    /// Stops the run before any of these nodes runs.
    #[must_use]
    pub fn interrupt_before<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_before = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// Stops the run after any of these nodes has run (and its step is
    /// checkpointed).
    #[must_use]
    pub fn interrupt_after<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_after = nodes.into_iter().map(Into::into).collect();
        self
    }
}

impl fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompileOptions")
            .field("saver", &self.saver.is_some())
            .field("interrupt_before", &self.interrupt_before)
            .field("interrupt_after", &self.interrupt_after)
            .finish()
    }
}

/// The input of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// New values (a JSON object of channel values): starts a new run on the
    /// thread, from its latest checkpoint (or the one the config names).
    Values(Value),
    /// No new input: continue the thread where it stopped (after an error,
    /// an interrupt or a crash). At an older checkpoint (config with a
    /// `checkpoint_id` that is not the latest): replay from there, as a
    /// fork.
    Continue,
    /// Answer interrupts, update the state, or jump to nodes.
    Command(Command),
}

impl From<Value> for Input {
    fn from(value: Value) -> Self {
        Input::Values(value)
    }
}

impl From<Command> for Input {
    fn from(cmd: Command) -> Self {
        Input::Command(cmd)
    }
}

/// How a run ended without an error: done, or stopped for an interrupt.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// The state: every state channel with a value.
    pub values: Value,
    /// The nodes that run when the thread is continued; empty when the run
    /// is done.
    pub next: Vec<String>,
    /// The dynamic interrupts the run stopped on (answer them with
    /// [`Command::resume`]).
    pub interrupts: Vec<Interrupt>,
    /// The config of the last checkpoint (with a saver).
    pub config: Option<Config>,
}

impl RunOutcome {
    /// The values as a [`State`], for typed reads (`out.state().get::<T>(..)`).
    pub fn state(&self) -> State {
        State::from_value(self.values.clone())
    }

    /// Whether the run stopped before the end (dynamic or static interrupt).
    pub fn is_interrupted(&self) -> bool {
        !self.next.is_empty()
    }
}

/// A runnable graph. Cheap to clone; clones share the saver.
///
/// Build it with [`StateGraph::compile`](crate::graph::StateGraph::compile).
/// Without a saver, `invoke` and `stream` work, and the thread APIs
/// (`get_state`, `get_state_history`, `update_state`, resume) return
/// [`GraphError::NoSaver`].
#[derive(Clone)]
pub struct CompiledGraph {
    spec: Arc<GraphSpec>,
    saver: Option<AsyncSaver<dyn BaseCheckpointSaver>>,
    interrupt_before: Arc<BTreeSet<String>>,
    interrupt_after: Arc<BTreeSet<String>>,
    durability: Durability,
    recursion_limit: usize,
}

impl fmt::Debug for CompiledGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledGraph")
            .field("spec", &self.spec)
            .field("saver", &self.saver.is_some())
            .field("interrupt_before", &self.interrupt_before)
            .field("interrupt_after", &self.interrupt_after)
            .field("durability", &self.durability)
            .field("recursion_limit", &self.recursion_limit)
            .finish()
    }
}

impl CompiledGraph {
    pub(crate) fn new(spec: Arc<GraphSpec>, options: CompileOptions) -> Self {
        CompiledGraph {
            spec,
            saver: options.saver.map(AsyncSaver::from_arc),
            interrupt_before: Arc::new(options.interrupt_before.into_iter().collect()),
            interrupt_after: Arc::new(options.interrupt_after.into_iter().collect()),
            durability: Durability::default(),
            recursion_limit: DEFAULT_RECURSION_LIMIT,
        }
    }

    /// The same graph, saving as `durability` says (default
    /// [`Durability::Sync`]).
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The same graph, failing with [`GraphError::RecursionLimit`] when a run
    /// would take more than `limit` supersteps (default 25).
    #[must_use]
    pub fn with_recursion_limit(mut self, limit: usize) -> Self {
        self.recursion_limit = limit;
        self
    }

    /// The saver, if the graph has one.
    pub fn saver(&self) -> Option<&Arc<dyn BaseCheckpointSaver>> {
        self.saver.as_ref().map(AsyncSaver::inner)
    }

    pub(crate) fn spec(&self) -> &Arc<GraphSpec> {
        &self.spec
    }

    pub(crate) fn saver_ref(&self) -> Option<&AsyncSaver<dyn BaseCheckpointSaver>> {
        self.saver.as_ref()
    }

    pub(crate) fn durability(&self) -> Durability {
        self.durability
    }

    pub(crate) fn recursion_limit(&self) -> usize {
        self.recursion_limit
    }

    pub(crate) fn interrupt_before(&self) -> &BTreeSet<String> {
        &self.interrupt_before
    }

    pub(crate) fn interrupt_after(&self) -> &BTreeSet<String> {
        &self.interrupt_after
    }

    fn require_saver(
        &self,
        operation: &'static str,
        config: &Config,
    ) -> Result<&AsyncSaver<dyn BaseCheckpointSaver>, GraphError> {
        let saver = self
            .saver
            .as_ref()
            .ok_or(GraphError::NoSaver { operation })?;
        if config.thread_id.is_empty() {
            return Err(GraphError::MissingThreadId { operation });
        }
        Ok(saver)
    }

    /// Runs the graph on the thread `config` names until it finishes or
    /// stops for an interrupt, and returns the final state.
    ///
    /// `input` is new values (`json!({...})`), [`Input::Continue`] to resume
    /// the thread (after an error, a crash or an interrupt), or a
    /// [`Command`]. A config naming an older `checkpoint_id` runs from that
    /// checkpoint and forks the thread there.
    pub async fn invoke(
        &self,
        input: impl Into<Input>,
        config: &Config,
    ) -> Result<RunOutcome, GraphError> {
        Run::start(self.clone(), input.into(), config, None).await
    }

    /// Like [`invoke`](Self::invoke), but returns the run's events as a
    /// stream. The run proceeds in a tokio task; an error ends the stream
    /// with one `Err` (also [`GraphError::NoRuntime`] when called outside a
    /// tokio runtime).
    pub fn stream(
        &self,
        input: impl Into<Input>,
        config: &Config,
        mode: StreamMode,
    ) -> GraphStream {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let sink = EventSink {
            mode,
            tx: tx.clone(),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = tx.unbounded_send(Err(GraphError::NoRuntime {
                operation: "stream",
            }));
            return GraphStream { rx };
        };
        let graph = self.clone();
        let (input, config) = (input.into(), config.clone());
        runtime.spawn(async move {
            if let Err(e) = Run::start(graph, input, &config, Some(sink)).await {
                let _ = tx.unbounded_send(Err(e));
            }
        });
        GraphStream { rx }
    }

    /// The state of the thread at the checkpoint `config` names (the latest
    /// if it names none). A thread with no checkpoint gives an empty
    /// snapshot (`values` `{}`, no metadata).
    pub async fn get_state(&self, config: &Config) -> Result<StateSnapshot, GraphError> {
        let saver = self.require_saver("get_state", config)?;
        let tuple = saver
            .get_tuple(config)
            .await
            .map_err(GraphError::saver("get_tuple", &config.thread_id))?;
        match tuple {
            Some(t) => Ok(self.snapshot(t)),
            None => match &config.checkpoint_id {
                Some(id) => Err(GraphError::CheckpointNotFound {
                    thread_id: config.thread_id.clone(),
                    checkpoint_id: id.clone(),
                }),
                None => Ok(StateSnapshot {
                    values: Value::Object(Default::default()),
                    next: Vec::new(),
                    config: config.clone(),
                    parent_config: None,
                    metadata: None,
                    created_at: None,
                    tasks: Vec::new(),
                    interrupts: Vec::new(),
                }),
            },
        }
    }

    /// The thread's checkpoints as snapshots, newest first, narrowed by
    /// `options` (metadata `filter`, `before` a checkpoint id, `limit`).
    /// Forks show up as further checkpoints; follow `parent_config` to walk
    /// one branch.
    pub async fn get_state_history(
        &self,
        config: &Config,
        options: &ListOptions,
    ) -> Result<Vec<StateSnapshot>, GraphError> {
        let saver = self.require_saver("get_state_history", config)?;
        let mut cfg = config.clone();
        if cfg.checkpoint_ns.is_none() {
            cfg.checkpoint_ns = Some(String::new());
        }
        let tuples = saver
            .list(Some(&cfg), options)
            .await
            .map_err(GraphError::saver("list", &config.thread_id))?;
        Ok(tuples.into_iter().map(|t| self.snapshot(t)).collect())
    }

    fn snapshot(&self, t: CheckpointTuple) -> StateSnapshot {
        let tasks = prepare_tasks(
            &self.spec,
            &t.checkpoint,
            t.config.ns(),
            t.metadata.step + 1,
        );
        let mut snaps = Vec::new();
        let mut next = Vec::new();
        let mut all_interrupts = Vec::new();
        for task in tasks {
            let mine: Vec<_> = t
                .pending_writes
                .iter()
                .filter(|w| w.task_id == task.id)
                .collect();
            let error = mine
                .iter()
                .find(|w| w.channel == ERROR)
                .map(|w| match &w.value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            let interrupts: Vec<Interrupt> = mine
                .iter()
                .filter(|w| w.channel == INTERRUPT)
                .filter_map(|w| serde_json::from_value::<Vec<Interrupt>>(w.value.clone()).ok())
                .flatten()
                .collect();
            let finished = mine
                .iter()
                .any(|w| !matches!(w.channel.as_str(), ERROR | INTERRUPT | crate::saver::RESUME));
            let result = finished.then(|| {
                Value::Array(
                    mine.iter()
                        .filter(|w| !is_control(&w.channel))
                        .map(|w| serde_json::json!([w.channel, w.value]))
                        .collect(),
                )
            });
            next.push(task.name.clone());
            all_interrupts.extend(interrupts.iter().cloned());
            snaps.push(TaskSnapshot {
                id: task.id,
                name: task.name,
                path: task.path,
                error,
                interrupts,
                result,
            });
        }
        StateSnapshot {
            values: Value::Object(state_values(&self.spec, &t.checkpoint)),
            next,
            created_at: Some(t.checkpoint.ts.clone()),
            config: t.config,
            parent_config: t.parent_config,
            metadata: Some(t.metadata),
            tasks: snaps,
            interrupts: all_interrupts,
        }
    }

    /// Writes a new checkpoint (source `update`, step + 1, parent = the
    /// checkpoint `config` names, the latest if none) as if `as_node` had
    /// returned `values`: the values go through the reducers, and
    /// `as_node`'s edges decide what runs next. `as_node` `None` means the
    /// node that ran last (or `START` on a thread where nothing ran); pass
    /// [`START`] to write values as an input would. Returns the new
    /// checkpoint's config.
    pub async fn update_state(
        &self,
        config: &Config,
        values: Value,
        as_node: Option<&str>,
    ) -> Result<Config, GraphError> {
        let saver = self.require_saver("update_state", config)?;
        let thread_id = config.thread_id.clone();
        let invalid = |reason: String| GraphError::InvalidCommand {
            operation: "update_state",
            thread_id: thread_id.clone(),
            reason,
        };
        let tuple = saver
            .get_tuple(config)
            .await
            .map_err(GraphError::saver("get_tuple", &thread_id))?;
        if let (Some(id), None) = (&config.checkpoint_id, &tuple) {
            return Err(GraphError::CheckpointNotFound {
                thread_id,
                checkpoint_id: id.clone(),
            });
        }
        let (mut checkpoint, step, base_id) = match &tuple {
            Some(t) => (
                t.checkpoint.clone(),
                t.metadata.step,
                Some(t.checkpoint.id.clone()),
            ),
            None => (crate::saver::Checkpoint::new(-1), -2, None),
        };
        let as_node = match as_node {
            Some(n) if self.spec.nodes.contains_key(n) => n.to_owned(),
            Some(n) => return Err(invalid(format!("as_node {n:?} is not a node of the graph"))),
            None => self.last_node(&checkpoint).map_err(invalid)?,
        };
        let update: Vec<(String, Value)> = match values {
            Value::Object(map) => map.into_iter().collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(invalid(format!(
                    "values must be a JSON object, got {other}"
                )));
            }
        };
        let global = State::from_map(state_values(&self.spec, &checkpoint));
        // Routers are user code: a panic in one is an error, not a crash.
        let writes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            node_writes(&self.spec, &as_node, update, &global)
        }))
        .unwrap_or_else(|_| Err(format!("a router of {as_node:?} panicked")))
        .map_err(invalid)?;

        let mut parent = config.clone();
        parent.checkpoint_ns = Some(config.ns().to_owned());
        parent.checkpoint_id = base_id.clone();
        // Record the writes on the base checkpoint too, as LangGraph does,
        // unless a newer checkpoint already supersedes it.
        if let Some(base) = &base_id {
            let latest = saver
                .get_tuple(&config.latest())
                .await
                .map_err(GraphError::saver("get_tuple", &thread_id))?;
            if latest.is_some_and(|l| &l.checkpoint.id == base) {
                let task_id = prepare_tasks(&self.spec, &checkpoint, config.ns(), step + 1)
                    .into_iter()
                    .find(|t| t.name == as_node)
                    .map_or_else(|| update_task_id(base), |t| t.id);
                saver
                    .put_writes(&parent, &writes, &task_id, "~__interrupt__, 0000000000")
                    .await
                    .map_err(GraphError::saver("put_writes", &thread_id))?;
            }
        }

        let triggers = fresh_triggers(&self.spec, &checkpoint, &as_node);
        let next = |v: Option<&ChannelVersion>| saver.get_next_version(v);
        let updated = apply_writes(
            &self.spec,
            &mut checkpoint,
            vec![TaskWrites {
                name: &as_node,
                triggers: &triggers,
                writes,
            }],
            &next,
        )
        .map_err(|e| e.into_graph_error(step + 1, &thread_id))?;
        let mut new = checkpoint.successor(step + 1);
        new.updated_channels = Some(updated.iter().cloned().collect());
        let versions: ChannelVersions = updated
            .iter()
            .filter_map(|ch| Some((ch.clone(), *new.channel_versions.get(ch)?)))
            .collect();
        let metadata = CheckpointMetadata::new(CheckpointSource::Update, step + 1);
        saver
            .put(&parent, &new, &metadata, &versions)
            .await
            .map_err(GraphError::saver("put", &thread_id))
    }

    /// The node that ran last: the one whose seen versions are newest.
    fn last_node(&self, checkpoint: &crate::saver::Checkpoint) -> Result<String, String> {
        let mut best: Option<(ChannelVersion, Vec<&String>)> = None;
        for (node, seen) in &checkpoint.versions_seen {
            if !self.spec.nodes.contains_key(node) {
                continue;
            }
            let Some(max) = seen.values().max().copied() else {
                continue;
            };
            match &mut best {
                Some((v, names)) if *v == max => names.push(node),
                Some((v, _)) if *v > max => {}
                _ => best = Some((max, vec![node])),
            }
        }
        match best {
            None => Ok(START.to_owned()),
            Some((_, names)) if names.len() == 1 => Ok(names[0].clone()),
            Some((_, names)) => Err(format!(
                "nodes {names:?} ran last together; pass as_node to say which one the update comes from"
            )),
        }
    }
}
