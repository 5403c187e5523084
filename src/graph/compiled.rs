//! `CompiledGraph`: the façade users run a graph and read its threads
//! through; the work is done by the run state machine (`run/`) over the
//! graph's [`RunSettings`].

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::error::GraphError;
use super::io::{Input, RunOutcome};
use super::options::{CompileOptions, RunOptions};
use super::persist::{Durability, Saver};
use super::run::{Run, RunSettings, leased};
use super::snapshot::StateSnapshot;
use super::spec::GraphSpec;
use super::stream::{EventSink, GraphStream};
use super::stream_options::StreamOptions;
use super::subgraph::{graph_for_namespace, node_path};
use crate::saver::{AsyncSaver, BaseCheckpointSaver, Config, ListOptions};

/// Tasks and saver calls run on tokio: outside a runtime, `tokio::spawn`
/// would panic; this is the error instead.
fn require_runtime(operation: &'static str) -> Result<(), GraphError> {
    tokio::runtime::Handle::try_current()
        .map(|_| ())
        .map_err(|_| GraphError::NoRuntime { operation })
}

/// A runnable graph. Cheap to clone; clones share the saver.
///
/// Build it with [`StateGraph::compile`](crate::graph::StateGraph::compile).
/// Without a saver, `invoke` and `stream` work, and the thread APIs
/// (`get_state`, `get_state_history`, `update_state`, resume) return
/// [`GraphError::NoSaver`].
#[derive(Clone)]
pub struct CompiledGraph {
    settings: RunSettings,
    /// issue 14: where streamed runs append their events.
    #[cfg(feature = "events")]
    event_log: Option<Arc<dyn crate::events::EventLog>>,
}

impl fmt::Debug for CompiledGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        let mut d = f.debug_struct("CompiledGraph");
        d.field("spec", &s.spec)
            .field("saver", &s.saver.is_some())
            .field("interrupt_before", &s.interrupt_before)
            .field("interrupt_after", &s.interrupt_after)
            .field("durability", &s.durability)
            .field("recursion_limit", &s.recursion_limit);
        #[cfg(feature = "events")]
        d.field("event_log", &self.event_log.is_some());
        d.finish()
    }
}

impl CompiledGraph {
    pub(crate) fn new(spec: Arc<GraphSpec>, options: CompileOptions) -> Self {
        CompiledGraph {
            #[cfg(feature = "events")]
            event_log: options.event_log.clone(),
            settings: RunSettings::new(spec, options),
        }
    }

    /// The same graph, saving as `durability` says (default
    /// [`Durability::Sync`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Durability, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver, ListOptions};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("a", |_, _| Ok(Update::new().set("log", "a")))
    ///     .add_sync_node("b", |_, _| Ok(Update::new().set("log", "b")))
    ///     .add_edge(START, "a")
    ///     .add_edge("a", "b");
    /// let app = graph
    ///     .compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?
    ///     .with_durability(Durability::Exit);
    /// let thread = Config::thread("t");
    /// let out = app.invoke(json!({}), &thread).await?;
    /// assert_eq!(out.values["log"], json!(["a", "b"]));
    /// // Only the run's last checkpoint was saved (`Sync` saves one a step).
    /// let history = app.get_state_history(&thread, &ListOptions::new()).await?;
    /// assert_eq!(history.len(), 1);
    /// assert_eq!(history[0].values["log"], json!(["a", "b"]));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.settings.durability = durability;
        self
    }

    /// The same graph, failing with [`GraphError::RecursionLimit`] when a run
    /// goes past its step limit (`limit` default 25), LangGraph's rule:
    /// with a limit of N, a run on new input runs and checkpoints steps 0
    /// to N (N counted from the loaded checkpoint's step + 2 in general)
    /// and then fails naming the next step, even when no work is left (as
    /// LangGraph raises `GraphRecursionError` there). The thread stays
    /// resumable from the last checkpoint.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, GraphError, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver, ListOptions};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("n", Reducer::last_value())
    ///     .add_sync_node("spin", |s, _| Ok(Update::new().set("n", s.get_or_default::<i64>("n")? + 1)))
    ///     .add_edge(START, "spin")
    ///     .add_edge("spin", "spin");
    /// let app = graph
    ///     .compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?
    ///     .with_recursion_limit(2);
    /// let thread = Config::thread("t");
    /// let err = app.invoke(json!({}), &thread).await.unwrap_err();
    /// assert!(matches!(err, GraphError::RecursionLimit { limit: 2, step: 3, .. }));
    /// // Steps 0 (`__start__`), 1 and 2 ran and were checkpointed.
    /// let last = app.get_state(&thread).await?;
    /// assert_eq!(last.metadata.unwrap().step, 2);
    /// assert_eq!(last.values["n"], json!(2));
    /// # Ok::<(), GraphError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_recursion_limit(mut self, limit: usize) -> Self {
        self.settings.recursion_limit = limit;
        self
    }

    /// The graph's shape.
    pub(crate) fn spec(&self) -> &GraphSpec {
        &self.settings.spec
    }

    /// The graph's state channels.
    pub(crate) fn state_channels(&self) -> &[String] {
        &self.settings.spec.state_channels
    }

    /// The saver, if the graph has one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, StateGraph, Update, START};
    /// use checkpointer::{BaseCheckpointSaver, InMemorySaver};
    ///
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_sync_node("a", |_, _| Ok(Update::new()))
    ///     .add_edge(START, "a");
    /// assert!(graph.compile(CompileOptions::new())?.saver().is_none());
    ///
    /// let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    /// let app = graph.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;
    /// // The very saver it was compiled with, shared (not a copy).
    /// assert!(Arc::ptr_eq(app.saver().unwrap(), &saver));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// ```
    pub fn saver(&self) -> Option<&Arc<dyn BaseCheckpointSaver>> {
        self.settings.saver.as_ref().map(Saver::inner)
    }

    fn require_saver(
        &self,
        operation: &'static str,
        config: &Config,
    ) -> Result<&Saver, GraphError> {
        let saver = self
            .settings
            .saver
            .as_ref()
            .ok_or(GraphError::NoSaver { operation })?;
        if config.thread_id.is_empty() {
            return Err(GraphError::MissingThreadId { operation });
        }
        require_runtime(operation)?;
        Ok(saver)
    }

    /// Runs the graph on the thread `config` names until it finishes or
    /// stops for an interrupt, and returns the final state.
    ///
    /// `input` is new values (`json!({...})`), [`Input::Continue`] to resume
    /// the thread (after an error, a crash or an interrupt), or a
    /// [`Command`](crate::graph::Command). A config naming an older `checkpoint_id` runs from that
    /// checkpoint and forks the thread there.
    ///
    /// Three likely mistakes pass as LangGraph lets them pass, and the
    /// outcome's [`notices`](RunOutcome::notices) names them (see
    /// [`RunNotice`](crate::graph::RunNotice)): a resume of a thread that
    /// is not waiting, new input on a thread waiting on an interrupt (the
    /// interrupt is dropped), an interrupt in a graph without a saver.
    ///
    /// The config's `recursion_limit` and `durability` keys, if any, are
    /// per-call options (see [`RunOptions`](crate::graph::RunOptions#the-same-options-as-config-keys)).
    /// A config naming a subgraph's namespace runs the root graph from its
    /// latest checkpoint, as LangGraph does, and says so in the notices
    /// ([`RunNotice::NamespaceIgnored`](crate::graph::RunNotice::NamespaceIgnored)).
    ///
    /// Tasks run on tokio: called outside a tokio runtime, this (and the
    /// thread APIs below) returns [`GraphError::NoRuntime`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("greet", |_, _| Ok(Update::new().set("log", "hello")))
    ///     .add_edge(START, "greet");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let out = app.invoke(json!({"log": ["hi"]}), &Config::thread("t")).await?;
    /// assert_eq!(out.values, json!({"log": ["hi", "hello"]}));
    /// assert!(out.next.is_empty() && !out.is_interrupted());
    /// // The thread keeps its state: a second call adds to it.
    /// let out = app.invoke(json!({"log": ["again"]}), &Config::thread("t")).await?;
    /// assert_eq!(out.values["log"], json!(["hi", "hello", "again", "hello"]));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn invoke(
        &self,
        input: impl Into<Input>,
        config: &Config,
    ) -> Result<RunOutcome, GraphError> {
        self.invoke_with(input, config, &RunOptions::new()).await
    }

    /// Like [`invoke`](Self::invoke), with per-run options over the
    /// graph's settings (durability, recursion limit, static interrupts),
    /// as LangGraph takes them per `invoke`. An interrupt list naming a
    /// node the graph does not have is [`GraphError::InvalidGraph`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Input, Reducer, RunOptions, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("draft", |_, _| Ok(Update::new().set("log", "drafted")))
    ///     .add_sync_node("send", |_, _| Ok(Update::new().set("log", "sent")))
    ///     .add_edge(START, "draft")
    ///     .add_edge("draft", "send");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let thread = Config::thread("t");
    /// // This run only stops before `send`; the graph itself has no interrupt.
    /// let out = app
    ///     .invoke_with(json!({}), &thread, &RunOptions::new().interrupt_before(["send"]))
    ///     .await?;
    /// assert_eq!(out.next, vec!["send"]);
    /// let out = app.invoke(Input::Continue, &thread).await?;
    /// assert_eq!(out.values["log"], json!(["drafted", "sent"]));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn invoke_with(
        &self,
        input: impl Into<Input>,
        config: &Config,
        options: &RunOptions,
    ) -> Result<RunOutcome, GraphError> {
        require_runtime("invoke")?;
        let settings = self.settings.for_call(config, options, "invoke")?;
        Run::start(settings, input.into(), config, None).await
    }

    /// Like [`invoke`](Self::invoke), but returns the run's events as a
    /// stream. The run proceeds in a tokio task; an error ends the stream
    /// with one `Err` (also [`GraphError::NoRuntime`] when called outside a
    /// tokio runtime).
    ///
    /// `modes` is one [`StreamMode`](crate::graph::StreamMode), a list of them (LangGraph's
    /// `stream_mode=[...]`; [`StreamEvent::mode`](crate::graph::StreamEvent::mode)
    /// tells the events apart), or [`StreamOptions`] (with subgraphs'
    /// events, or another bound). The stream is bounded: when
    /// [`StreamOptions::capacity`] events wait unread, the run waits too.
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, StreamEvent, StreamMode, Update, START};
    /// use checkpointer::Config;
    /// use futures::StreamExt;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_node("a", |_state, ctx| async move {
    ///         ctx.writer().write(json!({"progress": 1})).await;
    ///         Ok(Update::new().set("log", "a"))
    ///     })
    ///     .add_edge(START, "a");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let modes: Vec<_> = app
    ///     .stream(json!({}), &Config::default(), [StreamMode::Updates, StreamMode::Custom])
    ///     .map(|e| e.map(|e| e.mode()))
    ///     .collect::<Vec<_>>()
    ///     .await
    ///     .into_iter()
    ///     .collect::<Result<_, _>>()?;
    /// // As LangGraph: ('custom', {'progress': 1}), then ('updates', {'a': ...}).
    /// assert_eq!(modes, vec![Some(StreamMode::Custom), Some(StreamMode::Updates)]);
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn stream(
        &self,
        input: impl Into<Input>,
        config: &Config,
        modes: impl Into<StreamOptions>,
    ) -> GraphStream {
        self.stream_with(input, config, modes, &RunOptions::new())
    }

    /// Like [`stream`](Self::stream), with per-run options as
    /// [`invoke_with`](Self::invoke_with) takes them (an invalid one ends
    /// the stream with its error).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, RunOptions, StateGraph, StreamEvent, StreamMode, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use futures::StreamExt;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("draft", |_, _| Ok(Update::new().set("log", "drafted")))
    ///     .add_sync_node("send", |_, _| Ok(Update::new().set("log", "sent")))
    ///     .add_edge(START, "draft")
    ///     .add_edge("draft", "send");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let options = RunOptions::new().interrupt_before(["send"]);
    /// let mut events = app.stream_with(json!({}), &Config::thread("t"), StreamMode::Updates, &options);
    /// let mut seen = Vec::new();
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         StreamEvent::Updates { node, .. } => seen.push(node),
    ///         // Where LangGraph streams `{'__interrupt__': ()}`.
    ///         StreamEvent::Interrupt { next, .. } => seen.push(format!("stopped before {next:?}")),
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(seen, vec!["draft", r#"stopped before ["send"]"#]);
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn stream_with(
        &self,
        input: impl Into<Input>,
        config: &Config,
        modes: impl Into<StreamOptions>,
        options: &RunOptions,
    ) -> GraphStream {
        let modes = modes.into();
        let (tx, rx) = tokio::sync::mpsc::channel(modes.capacity_or_default());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = tx.try_send(Err(GraphError::NoRuntime {
                operation: "stream",
            }));
            return GraphStream { rx };
        };
        let settings = match self.settings.for_call(config, options, "stream") {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.try_send(Err(e));
                return GraphStream { rx };
            }
        };
        // issue 14: a run that starts is recorded in the graph's event log.
        #[cfg(feature = "events")]
        let recorder = self.event_log.as_ref().map(|log| {
            super::durable_stream::StreamRecorder::start(Arc::clone(log), &config.thread_id)
        });
        let sink = EventSink {
            options: Arc::new(modes),
            tx: tx.clone(),
            namespace: String::new(),
            #[cfg(feature = "events")]
            recorder: recorder.clone(),
        };
        let (input, config) = (input.into(), config.clone());
        runtime.spawn(async move {
            let result = Run::start(settings, input, &config, Some(sink)).await;
            #[cfg(feature = "events")]
            let result = match recorder {
                Some(r) => close_recorder(r, result, config.thread_id.clone()).await,
                None => result,
            };
            if let Err(e) = result {
                let _ = tx.send(Err(e)).await;
            }
        });
        GraphStream { rx }
    }

    /// Runs the graph as a subgraph node's run: like `invoke`, its events
    /// going to `sink` (the parent's, under the subgraph's namespace).
    pub(crate) async fn run_streamed(
        &self,
        input: Input,
        config: &Config,
        sink: Option<EventSink>,
    ) -> Result<RunOutcome, GraphError> {
        require_runtime("invoke")?;
        // The per-call keys of the config (recursion limit, durability)
        // reach the subgraph as they would through `invoke`.
        let settings = self
            .settings
            .for_call(config, &RunOptions::default(), "invoke")?;
        Run::start(settings, input, config, sink).await
    }

    /// The state of the thread at the checkpoint `config` names (the latest
    /// if it names none). A thread with no checkpoint gives an empty
    /// snapshot (`values` `{}`, no metadata). A config naming a subgraph's
    /// namespace (`review:<task id>`, as [`TaskSnapshot::state`](crate::graph::TaskSnapshot::state)
    /// gives it) reads that subgraph's checkpoints with the subgraph's
    /// channels, as LangGraph does; [`get_state_subgraphs`](Self::get_state_subgraphs)
    /// reads them all at once.
    ///
    /// As in LangGraph, the values include what is pending at the
    /// checkpoint: a [`Command`](crate::graph::Command)'s update and goto
    /// saved against it, and, for the latest checkpoint (a config without
    /// `checkpoint_id`), the writes of the tasks that finished in a step an
    /// interrupt or an error stopped; those tasks are left out of
    /// [`next`](StateSnapshot::next). If those finished writes conflict
    /// (two writes to a last-value channel) this is
    /// [`GraphError::ConflictingUpdate`], as LangGraph raises there; the
    /// history still reads. A reducer channel never written shows its
    /// default (`[]` for an append channel).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver, ListOptions};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("worker", |_, _| Ok(Update::new().set("log", "worked")))
    ///     .add_sync_node("asker", |_, ctx| {
    ///         let answer = ctx.interrupt("go?")?;
    ///         Ok(Update::new().set("log", answer))
    ///     })
    ///     .add_edge(START, "worker")
    ///     .add_edge(START, "asker");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let thread = Config::thread("t");
    /// app.invoke(json!({}), &thread).await?;
    ///
    /// // The latest state: worker's write applied, only asker still to run.
    /// let now = app.get_state(&thread).await?;
    /// assert_eq!(now.values, json!({"log": ["worked"]}));
    /// assert_eq!(now.next, vec!["asker"]);
    /// // The same checkpoint by id (or in the history): the step's record.
    /// let record = app.get_state(&now.config).await?;
    /// assert_eq!(record.values, json!({"log": []}));
    /// assert_eq!(record.next, vec!["asker", "worker"]);
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_state(&self, config: &Config) -> Result<StateSnapshot, GraphError> {
        match graph_for_namespace(self, config.ns()) {
            Some(sub) => sub.get_state_here(config).await,
            None => self.get_state_here(config).await,
        }
    }

    /// [`get_state`](Self::get_state) with this graph's channels, whatever
    /// the namespace.
    pub(crate) async fn get_state_here(
        &self,
        config: &Config,
    ) -> Result<StateSnapshot, GraphError> {
        let saver = self.require_saver("get_state", config)?;
        let tuple = saver
            .get_tuple(config)
            .await
            .map_err(GraphError::saver("get_tuple", &config.thread_id))?;
        match tuple {
            Some(t) => {
                let live = config.checkpoint_id.is_none();
                StateSnapshot::from_tuple(&self.settings.spec, t, live)
            }
            None => match &config.checkpoint_id {
                Some(id) => Err(GraphError::CheckpointNotFound {
                    thread_id: config.thread_id.clone(),
                    checkpoint_id: id.clone(),
                }),
                None => Ok(StateSnapshot::empty(config)),
            },
        }
    }

    /// [`get_state`](Self::get_state), with each subgraph task's own state:
    /// [`TaskSnapshot::subgraph`](crate::graph::TaskSnapshot::subgraph) is
    /// the latest snapshot of the subgraph's namespace (and so on down), as
    /// LangGraph's `get_state(config, subgraphs=True)` fills `task.state`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    /// let mut review = StateGraph::new();
    /// review
    ///     .add_channel("draft", Reducer::last_value())
    ///     .add_sync_node("approve", |_, ctx| {
    ///         let verdict = ctx.interrupt("approve?")?;
    ///         Ok(Update::new().set("draft", verdict))
    ///     })
    ///     .add_edge(START, "approve");
    /// let review = review.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("draft", Reducer::last_value())
    ///     .add_subgraph("review", review)
    ///     .add_edge(START, "review");
    /// let app = graph.compile(CompileOptions::new().saver(saver))?;
    /// let thread = Config::thread("t");
    /// app.invoke(json!({"draft": "hi"}), &thread).await?;
    ///
    /// let parent = app.get_state_subgraphs(&thread).await?;
    /// let inside = parent.tasks[0].subgraph.as_deref().expect("a subgraph task");
    /// assert_eq!(inside.next, vec!["approve"]);
    /// assert_eq!(inside.values, json!({"draft": "hi"}));
    /// // Its checkpoints record the parent's checkpoint they run under.
    /// let parents = &inside.metadata.as_ref().unwrap().parents;
    /// assert_eq!(parents[""], parent.config.checkpoint_id.clone().unwrap());
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_state_subgraphs(&self, config: &Config) -> Result<StateSnapshot, GraphError> {
        let graph = graph_for_namespace(self, config.ns()).unwrap_or(self);
        graph.get_state_subgraphs_here(config).await
    }

    /// [`get_state_subgraphs`](Self::get_state_subgraphs) with this graph's
    /// channels, whatever the namespace.
    async fn get_state_subgraphs_here(&self, config: &Config) -> Result<StateSnapshot, GraphError> {
        let mut snapshot = self.get_state_here(config).await?;
        for task in &mut snapshot.tasks {
            let sub = self.spec().nodes.get(&task.name);
            let (Some(sub), Some(sub_config)) =
                (sub.and_then(|n| n.subgraph.as_ref()), &task.state)
            else {
                continue;
            };
            let inside = Box::pin(sub.get_state_subgraphs_here(sub_config)).await?;
            task.subgraph = Some(Box::new(inside));
        }
        Ok(snapshot)
    }

    /// The thread's checkpoints as snapshots, newest first, narrowed by
    /// `options` (metadata `filter`, `before` a checkpoint id, `limit`).
    /// Forks show up as further checkpoints; follow `parent_config` to walk
    /// one branch. Each snapshot is a record of its step, as in LangGraph:
    /// a pending [`Command`](crate::graph::Command)'s update is applied,
    /// the finished tasks' writes are not (they are in
    /// [`TaskSnapshot::result`](crate::graph::TaskSnapshot::result)) and
    /// `next` lists every task. A config naming a subgraph's namespace
    /// lists that subgraph's checkpoints, read with its channels.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver, ListOptions};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("a", |_, _| Ok(Update::new().set("log", "a")))
    ///     .add_sync_node("b", |_, _| Ok(Update::new().set("log", "b")))
    ///     .add_edge(START, "a")
    ///     .add_edge("a", "b");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let thread = Config::thread("t");
    /// app.invoke(json!({}), &thread).await?;
    ///
    /// let history = app.get_state_history(&thread, &ListOptions::new()).await?;
    /// let steps: Vec<i64> = history.iter().map(|s| s.metadata.as_ref().unwrap().step).collect();
    /// assert_eq!(steps, vec![2, 1, 0, -1]); // newest first: input, `__start__`, a, b
    /// assert_eq!(history[1].values["log"], json!(["a"]));
    /// assert_eq!(history[1].next, vec!["b"]);
    /// // Narrowed by metadata: the checkpoint of the input.
    /// let input = app.get_state_history(&thread, &ListOptions::new().filter("source", "input")).await?;
    /// assert_eq!(input.len(), 1);
    /// assert_eq!(input[0].config, history[3].config);
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_state_history(
        &self,
        config: &Config,
        options: &ListOptions,
    ) -> Result<Vec<StateSnapshot>, GraphError> {
        match graph_for_namespace(self, config.ns()) {
            Some(sub) => sub.get_state_history_here(config, options).await,
            None => self.get_state_history_here(config, options).await,
        }
    }

    /// [`get_state_history`](Self::get_state_history) with this graph's
    /// channels, whatever the namespace.
    async fn get_state_history_here(
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
        let spec = &self.settings.spec;
        tuples
            .into_iter()
            .map(|t| StateSnapshot::from_tuple(spec, t, false))
            .collect()
    }

    /// Writes a new checkpoint (source `update`, step + 1, parent = the
    /// checkpoint `config` names, the latest if none; step 0 and no parent
    /// on a thread with no checkpoint, as in LangGraph) as if `as_node` had
    /// returned `values`: the values go through the reducers, and
    /// `as_node`'s edges decide what runs next (the update is a superstep
    /// of its own: tasks that were pending and that `as_node` does not
    /// trigger are dropped, as in LangGraph). `as_node` `None` means the
    /// node that ran last (or `START` on a thread where nothing ran); pass
    /// [`START`](crate::graph::START) to write values as an input would. Returns the new
    /// checkpoint's config.
    ///
    /// At the latest checkpoint (a config without `checkpoint_id`), what is
    /// pending there is applied first, as LangGraph does: a [`Command`](crate::graph::Command)'s
    /// update and goto, then the writes of the tasks that finished in a
    /// step stopped by an interrupt or an error, so their work is kept and
    /// they do not run again.
    ///
    /// A config naming a subgraph's namespace (and checkpoint) updates the
    /// subgraph there, with its channels and edges, as LangGraph does: a
    /// new checkpoint in that namespace (its `parents` metadata copied from
    /// the checkpoint it updates), which the parent's subgraph task
    /// continues from when the parent runs it again. This is how to go back
    /// in a subgraph: a run given a subgraph's config starts at the root's
    /// latest checkpoint (see [`RunNotice::NamespaceIgnored`](crate::graph::RunNotice::NamespaceIgnored)).
    /// A namespace whose nodes are not subgraphs of this graph is
    /// [`GraphError::SubgraphNotFound`], as in LangGraph (a known subgraph
    /// node with a task id that never ran is not checked, as there).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Input, Reducer, StateGraph, Update, START};
    /// use checkpointer::{CheckpointSource, Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("draft", Reducer::last_value())
    ///     .add_channel("sent", Reducer::last_value())
    ///     .add_sync_node("write", |_, _| Ok(Update::new().set("draft", "helo")))
    ///     .add_sync_node("send", |s, _| Ok(Update::new().set("sent", s.get::<String>("draft")?)))
    ///     .add_edge(START, "write")
    ///     .add_edge("write", "send");
    /// let options = CompileOptions::new().saver(Arc::new(InMemorySaver::new()));
    /// let app = graph.compile(options.interrupt_before(["send"]))?;
    /// let thread = Config::thread("t");
    /// app.invoke(json!({}), &thread).await?;
    /// // A person fixes the draft, as if `write` (the node that ran last) had written it.
    /// app.update_state(&thread, json!({"draft": "hello"}), None).await?;
    /// let now = app.get_state(&thread).await?;
    /// assert_eq!(now.metadata.unwrap().source, CheckpointSource::Update);
    /// assert_eq!(now.next, vec!["send"]);
    /// let out = app.invoke(Input::Continue, &thread).await?;
    /// assert_eq!(out.values["sent"], json!("hello"));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn update_state(
        &self,
        config: &Config,
        values: Value,
        as_node: Option<&str>,
    ) -> Result<Config, GraphError> {
        self.require_saver("update_state", config)?;
        let graph = match graph_for_namespace(self, config.ns()) {
            Some(sub) => sub,
            None if config.ns().is_empty() => self,
            None => {
                return Err(GraphError::SubgraphNotFound {
                    subgraph: node_path(config.ns()),
                    checkpoint_ns: config.ns().to_owned(),
                    thread_id: config.thread_id.clone(),
                });
            }
        };
        Run::update_state(graph.settings.clone(), config, values, as_node).await
    }

    /// Removes the node cache's entries of `nodes` (`None`: of every node
    /// of this graph), LangGraph's `graph.clear_cache(nodes)`: their next
    /// calls run the nodes again. Names that are not nodes of the graph are
    /// left alone, as in LangGraph; a graph compiled without
    /// [`CompileOptions::cache`] is [`GraphError::NoCache`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CachePolicy, CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("answer", Reducer::last_value())
    ///     .add_sync_node("expensive", |_, _| Ok(Update::new().set("answer", 42)))
    ///     .add_cache_policy("expensive", CachePolicy::new())
    ///     .add_edge(START, "expensive");
    /// let store = Arc::new(InMemorySaver::new());
    /// let app = graph.compile(CompileOptions::new().saver(store.clone()).cache(store))?;
    /// assert!(app.invoke(json!({}), &Config::thread("a")).await?.cached.is_empty());
    /// // The same input again: served from the cache, and the outcome says so.
    /// let out = app.invoke(json!({}), &Config::thread("b")).await?;
    /// assert_eq!(out.cached[0].node, "expensive");
    /// // Once cleared, the node runs again.
    /// app.clear_cache(Some(&["expensive"])).await?;
    /// assert!(app.invoke(json!({}), &Config::thread("c")).await?.cached.is_empty());
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn clear_cache(&self, nodes: Option<&[&str]>) -> Result<(), GraphError> {
        let Some(cache) = &self.settings.cache else {
            return Err(GraphError::NoCache {
                operation: "clear_cache",
            });
        };
        let known = &self.settings.spec.nodes;
        let nodes: Vec<String> = match nodes {
            Some(names) => names
                .iter()
                .filter(|n| known.contains_key(**n))
                .map(|n| (*n).to_owned())
                .collect(),
            None => known.keys().cloned().collect(),
        };
        cache.clear(&nodes).await
    }

    /// Removes everything the graph's saver holds for thread `thread_id`
    /// (checkpoints and writes, every namespace); an unknown thread is not
    /// an error. [`GraphError::NoSaver`] without a saver.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("n", Reducer::last_value())
    ///     .add_sync_node("one", |_, _| Ok(Update::new().set("n", 1)))
    ///     .add_edge(START, "one");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// app.invoke(json!({}), &Config::thread("a")).await?;
    ///
    /// app.copy_thread("a", "b").await?;
    /// assert_eq!(app.get_state(&Config::thread("b")).await?.values, json!({"n": 1}));
    /// app.delete_thread("a").await?;
    /// assert!(app.get_state(&Config::thread("a")).await?.metadata.is_none());
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// A graph with [leases](crate::graph::CompileOptions#thread-leases)
    /// deletes under the thread's lease: a running thread is
    /// [`GraphError::ThreadBusy`].
    pub async fn delete_thread(&self, thread_id: &str) -> Result<(), GraphError> {
        let config = Config::thread(thread_id);
        let saver = self.require_saver("delete_thread", &config)?.clone();
        let leases = self.settings.leases.as_ref();
        leased(leases, &config, "delete_thread", |leased| async move {
            let deleted = match (leases, leased.lease_token()) {
                (Some(l), Some(token)) => {
                    AsyncSaver::from_arc(Arc::clone(&l.leases))
                        .delete_thread_leased(thread_id, token)
                        .await
                }
                _ => saver.delete_thread(thread_id).await,
            };
            deleted.map_err(GraphError::saver("delete_thread", thread_id))
        })
        .await
    }

    /// Copies thread `source` (checkpoints and writes) to the new thread
    /// `target`, through the graph's saver: the copy then goes its own way.
    /// [`GraphError::NoSaver`] without a saver. With leases, the copy is
    /// made under the lease of `target`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver, ListOptions};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("step", |_, _| Ok(Update::new().set("log", "ran")))
    ///     .add_edge(START, "step");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let (a, b) = (Config::thread("a"), Config::thread("b"));
    /// app.invoke(json!({}), &a).await?;
    ///
    /// app.copy_thread("a", "b").await?;
    /// // The copy has all three checkpoints of `a` (input, `__start__`, step).
    /// assert_eq!(app.get_state_history(&b, &ListOptions::new()).await?.len(), 3);
    /// // Running the copy leaves the original as it was.
    /// app.invoke(json!({}), &b).await?;
    /// assert_eq!(app.get_state(&b).await?.values["log"], json!(["ran", "ran"]));
    /// assert_eq!(app.get_state(&a).await?.values["log"], json!(["ran"]));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn copy_thread(&self, source: &str, target: &str) -> Result<(), GraphError> {
        let saver = self
            .require_saver("copy_thread", &Config::thread(source))?
            .clone();
        if target.is_empty() {
            return Err(GraphError::MissingThreadId {
                operation: "copy_thread",
            });
        }
        let leases = self.settings.leases.as_ref();
        let config = Config::thread(target);
        leased(leases, &config, "copy_thread", |leased| async move {
            let copied = match (leases, leased.lease_token()) {
                (Some(l), Some(token)) => {
                    AsyncSaver::from_arc(Arc::clone(&l.leases))
                        .copy_thread_leased(source, target, token)
                        .await
                }
                _ => saver.copy_thread(source, target).await,
            };
            copied.map_err(GraphError::saver("copy_thread", source))
        })
        .await
    }

    /// The graph's shape as Mermaid text, laid out as LangGraph's
    /// `get_graph().draw_mermaid()`: `START` first, the nodes in the order
    /// they were added, `END` when an edge reaches it, then the edges
    /// sorted by source and target; static edges (a join as one edge from
    /// each source) solid, the declared destinations of conditional edges
    /// and of [`StateGraph::add_destinations`](crate::graph::StateGraph::add_destinations)
    /// dotted. Node names are written as they are (not escaped).
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, StateGraph, Update, START, END};
    ///
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_sync_node("a", |_, _| Ok(Update::new()))
    ///     .add_edge(START, "a")
    ///     .add_edge("a", END);
    /// let text = graph.compile(CompileOptions::new())?.to_mermaid();
    /// assert!(text.contains("\t__start__ --> a;\n\ta --> __end__;\n"));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// ```
    pub fn to_mermaid(&self) -> String {
        self.settings.spec.mermaid.clone()
    }
}

/// issue 14: appends the run's end to its event log and waits for every
/// append (on the blocking pool); the run's error comes first.
#[cfg(feature = "events")]
async fn close_recorder(
    recorder: Arc<super::durable_stream::StreamRecorder>,
    result: Result<super::io::RunOutcome, GraphError>,
    thread_id: String,
) -> Result<super::io::RunOutcome, GraphError> {
    let closed = tokio::task::spawn_blocking(move || {
        let closed = recorder.close(&result, &thread_id);
        (result, closed)
    })
    .await;
    match closed {
        Ok((result, closed)) => result.and_then(|o| closed.map(|()| o)),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
