//! The graph error type.

/// A `Result` whose error is [`GraphError`].
pub type GraphResult<T, E = GraphError> = std::result::Result<T, E>;

/// Everything building or running a graph can fail with.
///
/// Each variant names what it was working on: the node, the superstep and
/// the thread (`""` when the run has no saver and no thread). An interrupt
/// is never an error: a run that stops for one returns `Ok`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// `compile` found a problem in the graph's shape.
    #[error("invalid graph: {reason}")]
    InvalidGraph {
        /// What is wrong, naming the nodes or channels involved.
        reason: String,
    },

    /// A node returned an error. The error itself is the
    /// [`source`](std::error::Error::source), so a caller can downcast it:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, GraphError, StateGraph, START};
    /// use checkpointer::{Config, InMemorySaver};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_node("read", |_state, _ctx| async move {
    ///         Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))?
    ///     })
    ///     .add_edge(START, "read");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let err = app.invoke(serde_json::json!({}), &Config::thread("t")).await.unwrap_err();
    /// assert!(matches!(&err, GraphError::NodeFailed { message, .. } if message == "no such file"));
    /// let source = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<std::io::Error>());
    /// assert_eq!(source.map(std::io::Error::kind), Some(std::io::ErrorKind::NotFound));
    /// # Ok::<(), GraphError>(())
    /// # }).unwrap();
    /// ```
    #[error("node {node:?} failed in step {step} of thread {thread_id:?}: {message}")]
    NodeFailed {
        /// The node.
        node: String,
        /// The superstep.
        step: i64,
        /// The thread.
        thread_id: String,
        /// The task id the error was saved under.
        task_id: String,
        /// The node's error, as text (also saved as the task's `__error__` write).
        message: String,
        /// The node's error itself.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A node panicked; the panic was caught and turned into this error.
    #[error("node {node:?} panicked in step {step} of thread {thread_id:?}: {message}")]
    NodePanicked {
        /// The node.
        node: String,
        /// The superstep.
        step: i64,
        /// The thread.
        thread_id: String,
        /// The panic message.
        message: String,
    },

    /// Two tasks wrote to a last-value channel in the same superstep.
    #[error(
        "channel {channel:?} can receive only one value per step, but nodes {first_node:?} and \
         {second_node:?} both wrote to it in step {step} of thread {thread_id:?}; give it a \
         reducer (append or custom) to combine writes"
    )]
    ConflictingUpdate {
        /// The channel.
        channel: String,
        /// The first node that wrote to it.
        first_node: String,
        /// The second node that wrote to it.
        second_node: String,
        /// The superstep.
        step: i64,
        /// The thread.
        thread_id: String,
    },

    /// A custom reducer panicked while applying a step's writes; the
    /// panic was caught and the step not applied.
    #[error(
        "the reducer of channel {channel:?} panicked in step {step} of thread {thread_id:?}: {message}"
    )]
    ReducerPanicked {
        /// The channel.
        channel: String,
        /// The superstep.
        step: i64,
        /// The thread.
        thread_id: String,
        /// The panic message.
        message: String,
    },

    /// A node (or an input, or `update_state`) produced an update the graph
    /// cannot apply: an unknown channel, a value that is not a JSON object,
    /// a route to an unknown node.
    #[error("invalid update from {node:?} in step {step} of thread {thread_id:?}: {reason}")]
    InvalidUpdate {
        /// The node (`__start__` for the input, `__command__` for a command).
        node: String,
        /// The superstep.
        step: i64,
        /// The thread.
        thread_id: String,
        /// What is wrong.
        reason: String,
    },

    /// A node returned an update for the parent graph
    /// ([`Update::to_parent`](crate::graph::Update::to_parent)) in a graph
    /// run on its own, not as a subgraph (LangGraph raises `ParentCommand`
    /// there). Inside a subgraph this never reaches the caller: the
    /// parent's subgraph task applies the update.
    #[error(
        "node {node:?} returned an update for the parent graph in step {step} of thread \
         {thread_id:?} (namespace {checkpoint_ns:?}), but the graph is not running as a subgraph"
    )]
    ParentCommand {
        /// The node.
        node: String,
        /// The superstep.
        step: i64,
        /// The thread.
        thread_id: String,
        /// The namespace of the graph that ran the node.
        checkpoint_ns: String,
        /// The update, for the parent.
        update: Box<crate::graph::Update>,
    },

    /// The run took more supersteps than the recursion limit allows.
    #[error(
        "recursion limit of {limit} steps reached at step {step} of thread {thread_id:?} \
         without hitting a stop condition; raise it with `with_recursion_limit`"
    )]
    RecursionLimit {
        /// The limit.
        limit: usize,
        /// The superstep that would have run next.
        step: i64,
        /// The thread.
        thread_id: String,
    },

    /// A channel the node or caller read is not in the state.
    #[error("channel {channel:?} has no value")]
    MissingChannel {
        /// The channel.
        channel: String,
    },

    /// A run's outcome or a snapshot does not decode as the typed state
    /// of a [`TypedGraph`](crate::graph::TypedGraph): the source names the
    /// field.
    #[cfg(feature = "derive")]
    #[error("the state of thread {thread_id:?} at checkpoint {checkpoint_id:?}: {source}")]
    StateDecode {
        /// The thread.
        thread_id: String,
        /// The checkpoint the values are from (`None` without a saver).
        checkpoint_id: Option<String>,
        /// Which field, and why.
        source: super::typed::StateDecodeError,
    },

    /// A channel's value could not be read as the requested type.
    #[error("channel {channel:?} does not hold the requested type: {source}")]
    StateType {
        /// The channel.
        channel: String,
        /// The deserialiser's error.
        source: serde_json::Error,
    },

    /// The operation needs a checkpoint saver, and the graph was compiled
    /// without one.
    #[error("{operation} needs a checkpoint saver: compile the graph with `CompileOptions::saver`")]
    NoSaver {
        /// The operation.
        operation: &'static str,
    },

    /// [`update_state`](crate::graph::CompiledGraph::update_state) was given
    /// a namespace that names no subgraph of the graph (LangGraph's
    /// `ValueError: Subgraph <path> not found`): writing it with this
    /// graph's channels and edges would put the wrong state there.
    #[error(
        "subgraph {subgraph} not found: namespace {checkpoint_ns:?} of thread {thread_id:?} names \
         no subgraph of this graph"
    )]
    SubgraphNotFound {
        /// The namespace's node path without task ids (`review|check`).
        subgraph: String,
        /// The namespace as given.
        checkpoint_ns: String,
        /// The thread.
        thread_id: String,
    },

    /// The operation needs the node cache, and the graph was compiled
    /// without one ([`CompileOptions::cache`](crate::graph::CompileOptions::cache));
    /// LangGraph's "No cache is set for this graph".
    #[error("{operation} needs a node cache: compile the graph with `CompileOptions::cache`")]
    NoCache {
        /// The operation.
        operation: &'static str,
    },

    /// The operation needs a `thread_id` in the config.
    #[error("{operation} needs a thread_id in the config")]
    MissingThreadId {
        /// The operation.
        operation: &'static str,
    },

    /// The config names a checkpoint that does not exist.
    #[error("checkpoint {checkpoint_id} not found in thread {thread_id:?}")]
    CheckpointNotFound {
        /// The thread.
        thread_id: String,
        /// The checkpoint id.
        checkpoint_id: String,
    },

    /// A `Command` or `update_state` call that cannot be applied (or an
    /// `Input::Continue` on a thread with no checkpoint).
    #[error("{operation} on thread {thread_id:?}: {reason}")]
    InvalidCommand {
        /// `invoke` (for a `Command`) or `update_state`.
        operation: &'static str,
        /// The thread.
        thread_id: String,
        /// What is wrong.
        reason: String,
    },

    /// The call needs a tokio runtime and was made outside one.
    #[error("{operation} must be called inside a tokio runtime")]
    NoRuntime {
        /// The operation.
        operation: &'static str,
    },

    /// The background saver of a [`Durability::Async`](crate::graph::Durability::Async)
    /// run stopped before the run's saves were queued.
    #[error("the background saver of thread {thread_id:?} stopped")]
    SaverStopped {
        /// The thread.
        thread_id: String,
    },

    /// Another runner holds the thread's lease (a graph compiled with
    /// [`CompileOptions::leased_saver`](crate::graph::CompileOptions::leased_saver)):
    /// the thread is running elsewhere. Nothing was run or saved.
    #[error(
        "thread {thread_id:?} is busy: {operation} waited {waited:?} for its lease, held by \
         {holder:?}"
    )]
    ThreadBusy {
        /// `invoke` (also for `stream` and resumes), `update_state`,
        /// `delete_thread` or `copy_thread`.
        operation: &'static str,
        /// The thread.
        thread_id: String,
        /// The owner of the live lease.
        holder: String,
        /// How long the run waited for it.
        waited: std::time::Duration,
    },

    /// The saver refused a write of the run because the thread's lease is
    /// not this run's: the run's lease expired (the process was paused, a
    /// long GC) and another runner took the thread, or the graph takes no
    /// leases (compiled with `saver`, `token` is `None`) and someone else
    /// leased the thread. The run stopped at that write, which changed
    /// nothing: the history does not fork, and the other runner's work
    /// stands.
    #[error(
        "{operation} on thread {thread_id:?} was refused: the run's lease (token {token:?}) was \
         lost{}; the run stopped and saved nothing more",
        holder.as_ref().map(|h| format!(" to {h:?}")).unwrap_or_default()
    )]
    LeaseLost {
        /// The refused saver call.
        operation: &'static str,
        /// The thread.
        thread_id: String,
        /// The owner of the live lease, if one is live.
        holder: Option<String>,
        /// The token the write carried.
        token: Option<u64>,
    },

    /// A saver call failed.
    #[error("saver error during {operation} on thread {thread_id:?}: {source}")]
    Saver {
        /// What the graph was doing.
        operation: &'static str,
        /// The thread.
        thread_id: String,
        /// The saver's error.
        source: Box<crate::saver::Error>,
    },

    /// issue 14: appending a streamed run's events to the graph's event
    /// log failed; the log holds the events before the failure, and no
    /// later one.
    #[cfg(feature = "events")]
    #[error("event log of thread {thread_id:?}: {source}")]
    EventLog {
        /// The thread.
        thread_id: String,
        /// The log's error.
        source: Box<crate::events::EventError>,
    },
}

impl GraphError {
    pub(crate) fn invalid_graph(reason: impl Into<String>) -> Self {
        GraphError::InvalidGraph {
            reason: reason.into(),
        }
    }

    pub(crate) fn saver(
        operation: &'static str,
        thread_id: &str,
    ) -> impl FnOnce(crate::saver::Error) -> GraphError {
        let thread_id = thread_id.to_owned();
        move |source| match source {
            crate::saver::Error::LeaseHeld { holder, token, .. } => GraphError::LeaseLost {
                operation,
                thread_id,
                holder: Some(holder),
                token,
            },
            crate::saver::Error::StaleLease { holder, token, .. } => GraphError::LeaseLost {
                operation,
                thread_id,
                holder,
                token: Some(token),
            },
            source => GraphError::Saver {
                operation,
                thread_id,
                source: Box::new(source),
            },
        }
    }
}
