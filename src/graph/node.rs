//! Nodes: the functions a graph runs, their context and their errors.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use serde_json::Value;

use super::interrupt::{Interrupt, Interrupted};
use super::state::{State, Update};
use super::stream::EventSink;
use super::stream_writer::{StreamWriter, TaskTag};
use super::task::interrupt_id;
use crate::saver::Config;

/// What a node's future resolves to.
pub type NodeResult = Result<Update, NodeError>;

/// A graph node. Closures implement it through
/// [`StateGraph::add_node`](crate::graph::StateGraph::add_node) (async) and
/// [`StateGraph::add_sync_node`](crate::graph::StateGraph::add_sync_node);
/// implement it directly for a node type of your own.
pub trait Node: Send + Sync + 'static {
    /// Runs the node on `state`.
    fn call(&self, state: State, ctx: NodeContext) -> BoxFuture<'static, NodeResult>;
}

/// An async closure as a node.
pub(crate) struct AsyncFnNode<F>(pub(crate) F);

impl<F, Fut> Node for AsyncFnNode<F>
where
    F: Fn(State, NodeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = NodeResult> + Send + 'static,
{
    fn call(&self, state: State, ctx: NodeContext) -> BoxFuture<'static, NodeResult> {
        Box::pin((self.0)(state, ctx))
    }
}

/// A synchronous closure as a node. It runs inside the task's own tokio
/// task, so other tasks of the step go on in parallel; put long blocking
/// work in an async node with `spawn_blocking`. When the run streams what
/// nodes write (custom values, message chunks), it runs on tokio's
/// blocking pool instead, so that its blocking writes
/// ([`StreamWriter::write_blocking`]) can wait for the consumer without
/// holding a runtime thread.
pub(crate) struct SyncFnNode<F>(pub(crate) Arc<F>);

impl<F> Node for SyncFnNode<F>
where
    F: Fn(&State, &NodeContext) -> NodeResult + Send + Sync + 'static,
{
    fn call(&self, state: State, ctx: NodeContext) -> BoxFuture<'static, NodeResult> {
        let blocking_pool = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|_| ctx.writer.streams_from_node());
        let Some(runtime) = blocking_pool else {
            let result = (self.0)(&state, &ctx);
            return Box::pin(async move { result });
        };
        let f = Arc::clone(&self.0);
        let running = runtime.spawn_blocking(move || f(&state, &ctx));
        Box::pin(async move {
            match running.await {
                Ok(result) => result,
                // The node's own panic goes on as if it had run here, to be
                // caught (and reported) where every node's panic is.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(NodeError::msg("the node's blocking task was cancelled")),
            }
        })
    }
}

/// Why a node did not return an update: it failed, or it is waiting for a
/// human ([`NodeContext::interrupt`]).
///
/// Any `std::error::Error + Send + Sync` converts into it with `?`, and so
/// does [`Interrupted`]; [`NodeError::msg`] makes one from text.
pub struct NodeError(NodeErrorKind);

enum NodeErrorKind {
    Interrupted(Interrupt),
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

impl NodeError {
    /// A failure with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        NodeError(NodeErrorKind::Failed(message.to_string().into()))
    }

    /// The interrupt, if this is one rather than a failure.
    pub fn as_interrupt(&self) -> Option<&Interrupt> {
        match &self.0 {
            NodeErrorKind::Interrupted(i) => Some(i),
            NodeErrorKind::Failed(_) => None,
        }
    }

    /// The interrupt, or the node's error.
    pub(crate) fn into_outcome(
        self,
    ) -> Result<Interrupt, Box<dyn std::error::Error + Send + Sync>> {
        match self.0 {
            NodeErrorKind::Interrupted(i) => Ok(i),
            NodeErrorKind::Failed(e) => Err(e),
        }
    }
}

impl fmt::Debug for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            NodeErrorKind::Interrupted(i) => f.debug_tuple("Interrupted").field(i).finish(),
            NodeErrorKind::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            NodeErrorKind::Interrupted(i) => write!(f, "interrupted: {}", i.value),
            NodeErrorKind::Failed(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for NodeError {
    fn from(e: E) -> Self {
        NodeError(NodeErrorKind::Failed(Box::new(e)))
    }
}

impl From<Interrupted> for NodeError {
    fn from(i: Interrupted) -> Self {
        NodeError(NodeErrorKind::Interrupted(i.0))
    }
}

/// What a node knows about its run: the config, the superstep, its task,
/// and the way to ask a human ([`interrupt`](NodeContext::interrupt)).
#[derive(Clone)]
pub struct NodeContext {
    inner: Arc<ContextInner>,
    // issue 12 part 2: the step ledger of `step_once` (CompileOptions::ledger).
    #[cfg(feature = "ledger")]
    pub(crate) ledger: Option<Arc<dyn crate::ledger::StepLedger>>,
    /// issue 17: where the task's custom and message events go.
    writer: StreamWriter,
    /// The answers by interrupt id that this run's command gave the task.
    answers_by_id: Arc<Vec<(String, Value)>>,
}

struct ContextInner {
    config: Config,
    step: i64,
    node: String,
    task_id: String,
    resume: Mutex<ResumeState>,
}

/// The answers a task has, and how many `interrupt` calls it made.
pub(crate) struct ResumeState {
    /// Answers saved for this task (its `__resume__` write), by call index.
    pub(crate) answers: Vec<Value>,
    /// Whether an answer was taken from the step's shared resume value.
    pub(crate) took_shared: bool,
    next: usize,
    shared: Arc<Mutex<Option<Value>>>,
}

impl NodeContext {
    pub(crate) fn new(
        config: Config,
        step: i64,
        node: String,
        task_id: String,
        answers: Vec<Value>,
        shared: Arc<Mutex<Option<Value>>>,
    ) -> Self {
        NodeContext {
            inner: Arc::new(ContextInner {
                config,
                step,
                node,
                task_id,
                resume: Mutex::new(ResumeState {
                    answers,
                    took_shared: false,
                    next: 0,
                    shared,
                }),
            }),
            #[cfg(feature = "ledger")]
            ledger: None,
            writer: StreamWriter {
                sink: None,
                task: TaskTag::default(),
            },
            answers_by_id: Arc::default(),
        }
    }

    /// The same context holding the answers by interrupt id that the
    /// run's command gave the task.
    pub(crate) fn with_answers_by_id(mut self, answers: Vec<(String, Value)>) -> Self {
        self.answers_by_id = Arc::new(answers);
        self
    }

    /// The answers by interrupt id that the run's command gave the task
    /// ([`Command::resume_map`](crate::graph::Command::resume_map)).
    pub(crate) fn answers_by_id(&self) -> &[(String, Value)] {
        &self.answers_by_id
    }

    /// The same context streaming to `sink` (if the run is streamed), its
    /// events tagged with the task's triggers, path and namespace.
    pub(crate) fn with_stream(
        mut self,
        sink: Option<EventSink>,
        triggers: Vec<String>,
        path: Value,
        task_ns: String,
    ) -> Self {
        self.writer = StreamWriter {
            sink,
            task: TaskTag {
                thread_id: self.inner.config.thread_id.clone(),
                step: self.inner.step,
                node: self.inner.node.clone(),
                task_id: self.inner.task_id.clone(),
                triggers,
                path,
                task_ns,
            },
        };
        self
    }

    /// The run's event sink, for a subgraph run of this task.
    pub(crate) fn sink(&self) -> Option<&EventSink> {
        self.writer.sink.as_ref()
    }

    /// The writer of this task's [`StreamMode::Custom`](crate::graph::StreamMode::Custom)
    /// events (LangGraph's `get_stream_writer()`): each value written is a
    /// [`StreamEvent::Custom`](crate::graph::StreamEvent::Custom) tagged
    /// with the node and step, in the order written.
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, StateGraph, StreamEvent, StreamMode, Update, START};
    /// use checkpointer::Config;
    /// use futures::StreamExt;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_node("fetch", |_state, ctx| async move {
    ///         let progress = ctx.writer();
    ///         progress.write(json!({"fetched": 1})).await;
    ///         progress.write(json!({"fetched": 2})).await;
    ///         Ok(Update::new())
    ///     })
    ///     .add_edge(START, "fetch");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let events: Vec<StreamEvent> = app
    ///     .stream(json!({}), &Config::default(), StreamMode::Custom)
    ///     .map(Result::unwrap)
    ///     .collect()
    ///     .await;
    /// assert_eq!(
    ///     events[1],
    ///     StreamEvent::Custom { step: 1, node: "fetch".into(), value: json!({"fetched": 2}) }
    /// );
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn writer(&self) -> StreamWriter {
        self.writer.clone()
    }

    /// Streams `chunk` (e.g. one token of a model's answer) as a
    /// [`StreamMode::Messages`](crate::graph::StreamMode::Messages) event
    /// while the node runs, with LangGraph's `(chunk, metadata)` metadata
    /// (node, step, triggers, path, the task's namespace). Does nothing
    /// unless the stream asks for that mode; waits while the stream's
    /// channel is full.
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, StateGraph, StreamEvent, StreamMode, Update, START};
    /// use checkpointer::Config;
    /// use futures::StreamExt;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_node("chat", |_state, ctx| async move {
    ///         for token in ["hello", " ", "world"] {
    ///             ctx.emit_message_chunk(json!({"type": "AIMessageChunk", "content": token})).await;
    ///         }
    ///         Ok(Update::new())
    ///     })
    ///     .add_edge(START, "chat");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let mut text = String::new();
    /// let mut chunks = app.stream(json!({}), &Config::default(), StreamMode::Messages);
    /// while let Some(event) = chunks.next().await {
    ///     if let StreamEvent::Message { chunk, metadata, .. } = event? {
    ///         assert_eq!(metadata["langgraph_node"], "chat");
    ///         text.push_str(chunk["content"].as_str().unwrap_or_default());
    ///     }
    /// }
    /// assert_eq!(text, "hello world");
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub async fn emit_message_chunk(&self, chunk: impl Into<Value>) {
        self.writer.message_chunk(chunk.into()).await;
    }

    /// [`emit_message_chunk`](Self::emit_message_chunk) for a synchronous
    /// node ([`StateGraph::add_sync_node`](crate::graph::StateGraph::add_sync_node)):
    /// blocks the node's thread while the stream's channel is full. Do not
    /// call it from async code (use `emit_message_chunk` there).
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, StateGraph, StreamEvent, StreamMode, Update, START};
    /// use checkpointer::Config;
    /// use futures::StreamExt;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_sync_node("chat", |_state, ctx| {
    ///         for token in ["hello", " world"] {
    ///             ctx.emit_message_chunk_blocking(json!({"content": token}));
    ///         }
    ///         Ok(Update::new())
    ///     })
    ///     .add_edge(START, "chat");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let mut text = String::new();
    /// let mut chunks = app.stream(json!({}), &Config::default(), StreamMode::Messages);
    /// while let Some(event) = chunks.next().await {
    ///     if let StreamEvent::Message { chunk, .. } = event? {
    ///         text.push_str(chunk["content"].as_str().unwrap_or_default());
    ///     }
    /// }
    /// assert_eq!(text, "hello world");
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn emit_message_chunk_blocking(&self, chunk: impl Into<Value>) {
        futures::executor::block_on(self.writer.message_chunk(chunk.into()));
    }

    /// The config of the run (thread, user keys).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The superstep this task runs in.
    pub fn step(&self) -> i64 {
        self.inner.step
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The task's deterministic id.
    pub fn task_id(&self) -> &str {
        &self.inner.task_id
    }

    /// Asks a human: the first time, returns `Err(Interrupted)`, which the
    /// node propagates with `?`; the run then stops with this interrupt in
    /// its outcome. When the run is resumed with
    /// [`Command::resume`](crate::graph::Command::resume), the node runs
    /// again from the top and this call returns the answer.
    ///
    /// A node may call `interrupt` several times; answers are matched to
    /// calls by their order.
    pub fn interrupt(&self, value: impl Into<Value>) -> Result<Value, Interrupted> {
        let mut state = self
            .inner
            .resume
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let idx = state.next;
        state.next += 1;
        if let Some(answer) = state.answers.get(idx) {
            return Ok(answer.clone());
        }
        let shared = state
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(answer) = shared {
            state.answers.push(answer.clone());
            state.took_shared = true;
            return Ok(answer);
        }
        // LangGraph keys the id by how many answers the task holds.
        let answered = state.answers.len();
        Err(Interrupted(Interrupt {
            value: value.into(),
            id: interrupt_id(self.config().ns(), self.node(), self.task_id(), answered),
        }))
    }

    /// Like [`interrupt`](Self::interrupt), but past the answers the task
    /// already holds: the answer of the resume the run continues with, or
    /// `question` itself, its id kept. A subgraph node asks its subgraph's
    /// question this way: each comes after the ones already answered
    /// inside, and, as in LangGraph, the parent holds it under the id it
    /// has in the subgraph (its task's namespace), so a resume by that id
    /// answers it.
    pub(crate) fn ask_subgraph_question(&self, question: &Interrupt) -> Result<Value, Interrupted> {
        drop(self.past_held_answers());
        match self.interrupt(question.value.clone()) {
            Ok(answer) => Ok(answer),
            Err(Interrupted(_)) => Err(Interrupted(question.clone())),
        }
    }

    /// The task's resume state, its next question moved past the answers
    /// it already holds (what a subgraph node's asks start from).
    fn past_held_answers(&self) -> std::sync::MutexGuard<'_, ResumeState> {
        let mut state = self
            .inner
            .resume
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.next = state.next.max(state.answers.len());
        state
    }

    /// The answer of the resume the run continues with, if there is one
    /// and no earlier call took it (it is then the task's, as if an
    /// [`ask_subgraph_question`](Self::ask_subgraph_question) call had
    /// taken it). A subgraph node whose subgraph waits on no saved question
    /// (its checkpoint was updated since it asked) hands it on this way.
    pub(crate) fn fresh_answer(&self) -> Option<Value> {
        let mut state = self.past_held_answers();
        let answer = state
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        state.answers.push(answer.clone());
        state.took_shared = true;
        state.next += 1;
        Some(answer)
    }

    /// The answers the task holds after running, if it took a new one.
    pub(crate) fn new_answers(&self) -> Option<Vec<Value>> {
        let state = self
            .inner
            .resume
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.took_shared.then(|| state.answers.clone())
    }
}

impl fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeContext")
            .field("node", &self.inner.node)
            .field("step", &self.inner.step)
            .field("task_id", &self.inner.task_id)
            .field("thread_id", &self.inner.config.thread_id)
            .finish_non_exhaustive()
    }
}
