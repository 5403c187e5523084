//! Streaming a run: modes and events.

use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use futures::Stream;
use serde_json::Value;
use tokio::sync::mpsc::{Receiver, Sender};

use super::error::GraphError;
use super::interrupt::Interrupt;
use super::spec::START;
use super::stream_options::StreamOptions;

/// What [`CompiledGraph::stream`](crate::graph::CompiledGraph::stream) emits.
///
/// Several modes go in one stream as a list (`[StreamMode::Updates,
/// StreamMode::Custom]`, see [`StreamOptions`]); each event says its mode
/// with [`StreamEvent::mode`], as LangGraph's `(mode, chunk)` pairs do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StreamMode {
    /// The whole state after the input and after every superstep.
    Values,
    /// Each node's update as its task finishes.
    Updates,
    /// Each task's start and end (with its writes, error or interrupts).
    Tasks,
    /// Each checkpoint the run makes, as it is made.
    Checkpoints,
    /// What nodes write with [`StreamWriter::write`](crate::graph::StreamWriter::write)
    /// (LangGraph's `get_stream_writer()`), in order.
    Custom,
    /// Token chunks nodes emit while they run
    /// ([`NodeContext::emit_message_chunk`](crate::graph::NodeContext::emit_message_chunk)),
    /// as LangGraph's `(chunk, metadata)` pairs.
    Messages,
    /// LangGraph's debug events: `checkpoint`, `task` and `task_result`,
    /// in its shapes ([`StreamEvent::Debug`]).
    Debug,
}

/// One event of a streamed run.
///
/// Whatever the mode, a run that stops for an interrupt ends with
/// [`StreamEvent::Interrupt`]. The built-in `__start__` task (which copies
/// the input into the state) emits no `Updates` or task events.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// [`StreamMode::Values`]: the state after `step`.
    Values {
        /// The superstep (`-1`-based, as in checkpoint metadata).
        step: i64,
        /// Every state channel with a value.
        values: Value,
    },
    /// [`StreamMode::Updates`]: what one node wrote to state channels.
    Updates {
        /// The superstep.
        step: i64,
        /// The node.
        node: String,
        /// Its state writes as an object (channel to value).
        update: Value,
        /// Whether the writes came from the node cache instead of a call
        /// of the node (LangGraph's `"__metadata__": {"cached": true}`;
        /// see [`CachePolicy`](crate::graph::CachePolicy)).
        cached: bool,
    },
    /// [`StreamMode::Tasks`]: a task starts.
    TaskStart {
        /// The superstep.
        step: i64,
        /// The task id.
        id: String,
        /// The node.
        name: String,
        /// The channels that triggered it (`__pregel_push` for a Send).
        triggers: Vec<String>,
    },
    /// [`StreamMode::Tasks`]: a task ended.
    TaskEnd {
        /// The superstep.
        step: i64,
        /// The task id.
        id: String,
        /// The node.
        name: String,
        /// Its writes `[channel, value]` when it succeeded.
        result: Option<Value>,
        /// Its error, when it failed.
        error: Option<String>,
        /// Its interrupts, when it stopped for a human.
        interrupts: Vec<Interrupt>,
    },
    /// [`StreamMode::Tasks`]: an attempt of a task with a
    /// [`RetryPolicy`](crate::graph::RetryPolicy) failed and the task is
    /// tried again after `wait`.
    TaskRetry {
        /// The superstep.
        step: i64,
        /// The task id.
        id: String,
        /// The node.
        name: String,
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// Its error.
        error: String,
        /// The wait before the next attempt (jitter included).
        wait: std::time::Duration,
    },
    /// [`StreamMode::Checkpoints`]: the run made checkpoint
    /// `checkpoint_id` of `step` (with [`Durability::Sync`], saved; with
    /// the other modes, handed to the saver queue).
    ///
    /// [`Durability::Sync`]: crate::graph::Durability::Sync
    CheckpointSaved {
        /// The superstep.
        step: i64,
        /// The checkpoint's id.
        checkpoint_id: String,
    },
    /// [`StreamMode::Custom`]: a value a node wrote with its
    /// [`StreamWriter`](crate::graph::StreamWriter).
    Custom {
        /// The superstep.
        step: i64,
        /// The node that wrote it.
        node: String,
        /// What it wrote.
        value: Value,
    },
    /// [`StreamMode::Messages`]: a chunk a node emitted while it ran.
    Message {
        /// The superstep.
        step: i64,
        /// The node.
        node: String,
        /// The task id.
        task_id: String,
        /// The chunk, as the node gave it (`LangChain`'s `AIMessageChunk`
        /// is `{"type": "AIMessageChunk", "content": "..."}`).
        chunk: Value,
        /// LangGraph's metadata of the chunk: `thread_id`,
        /// `langgraph_step`, `langgraph_node`, `langgraph_triggers`,
        /// `langgraph_path`, `langgraph_checkpoint_ns` and `checkpoint_ns`
        /// (the task's namespace, `<node>:<task id>`).
        metadata: Value,
    },
    /// [`StreamMode::Debug`]: one of LangGraph's debug events.
    Debug {
        /// The superstep.
        step: i64,
        /// `checkpoint`, `task` or `task_result`.
        kind: String,
        /// When it happened (RFC 3339, UTC); for a checkpoint, its `ts`.
        timestamp: String,
        /// LangGraph's payload: for `checkpoint`, `config`,
        /// `parent_config`, `values`, `metadata`, `next` and `tasks`
        /// (`id`, `name`, `interrupts`, `state`); for `task`, `id`, `name`,
        /// `input` and `triggers`; for `task_result`, `id`, `name`,
        /// `error`, `result` (the state update) and `interrupts`.
        payload: Value,
    },
    /// An event of a subgraph's run, with
    /// [`StreamOptions::subgraphs`] on (LangGraph's `subgraphs=True`
    /// `(namespace, event)` pairs). Without it, a subgraph's events are
    /// not streamed, as in LangGraph.
    Subgraph {
        /// The subgraph run's `checkpoint_ns`: `<node>:<task id>`, nested
        /// ones joined with `|` (LangGraph's namespace tuple, joined).
        namespace: String,
        /// The event.
        event: Box<StreamEvent>,
    },
    /// The run stopped for an interrupt (dynamic, or `interrupt_before` /
    /// `interrupt_after`). With [`StreamOptions::subgraphs`] on, a
    /// subgraph that stops streams its own, in a
    /// [`StreamEvent::Subgraph`], before the parent's.
    Interrupt {
        /// The dynamic interrupts (empty for a static one).
        interrupts: Vec<Interrupt>,
        /// The nodes that will run when the thread is resumed.
        next: Vec<String>,
    },
}

impl StreamEvent {
    /// The mode this event belongs to (a subgraph event's is its inner
    /// event's); `None` for [`StreamEvent::Interrupt`], which every
    /// stream ends with when the run stops for one.
    pub fn mode(&self) -> Option<StreamMode> {
        match self {
            StreamEvent::Values { .. } => Some(StreamMode::Values),
            StreamEvent::Updates { .. } => Some(StreamMode::Updates),
            StreamEvent::TaskStart { .. }
            | StreamEvent::TaskEnd { .. }
            | StreamEvent::TaskRetry { .. } => Some(StreamMode::Tasks),
            StreamEvent::CheckpointSaved { .. } => Some(StreamMode::Checkpoints),
            StreamEvent::Custom { .. } => Some(StreamMode::Custom),
            StreamEvent::Message { .. } => Some(StreamMode::Messages),
            StreamEvent::Debug { .. } => Some(StreamMode::Debug),
            StreamEvent::Subgraph { event, .. } => event.mode(),
            StreamEvent::Interrupt { .. } => None,
        }
    }

    /// The namespace of the run that emitted it: `""` for the graph
    /// streamed, a subgraph's `checkpoint_ns` for
    /// [`StreamEvent::Subgraph`].
    pub fn namespace(&self) -> &str {
        match self {
            StreamEvent::Subgraph { namespace, .. } => namespace,
            _ => "",
        }
    }
}

/// Where the runner sends events; drops them when nobody listens.
///
/// The channel is bounded ([`StreamOptions::capacity`]): when it is full,
/// `emit` waits, so a slow consumer slows the run instead of growing
/// memory. A closed receiver (the stream was dropped) makes every send
/// return at once.
#[derive(Clone, Debug)]
pub(crate) struct EventSink {
    pub(crate) options: Arc<StreamOptions>,
    pub(crate) tx: Sender<Result<StreamEvent, GraphError>>,
    /// The namespace of the run this sink serves (`""` for the root run).
    pub(crate) namespace: String,
    /// issue 14: the durable log of the run's stream, if the graph has one.
    #[cfg(feature = "events")]
    pub(crate) recorder: Option<std::sync::Arc<super::durable_stream::StreamRecorder>>,
}

impl EventSink {
    /// The sink of a subgraph run under `namespace` (its events are
    /// wrapped in [`StreamEvent::Subgraph`]; the durable log records only
    /// the root run's).
    pub(crate) fn child(&self, namespace: String) -> EventSink {
        EventSink {
            options: Arc::clone(&self.options),
            tx: self.tx.clone(),
            namespace,
            #[cfg(feature = "events")]
            recorder: None,
        }
    }

    /// Whether an event of `mode` reaches the caller (so it is worth
    /// building).
    pub(crate) fn wants(&self, mode: StreamMode) -> bool {
        (self.namespace.is_empty() || self.options.subgraphs) && self.options.has(mode)
    }

    /// Whether an event of `mode` goes anywhere: to the caller, or to the
    /// durable log (which records every mode but `debug`).
    pub(crate) fn needs(&self, mode: StreamMode) -> bool {
        #[cfg(feature = "events")]
        if self.recorder.is_some() && mode != StreamMode::Debug {
            return true;
        }
        self.wants(mode)
    }

    pub(crate) async fn emit(&self, event: StreamEvent) {
        // The built-in __start__ task is hidden, as in LangGraph.
        let hidden = match &event {
            StreamEvent::Updates { node, .. } => node == START,
            StreamEvent::TaskStart { name, .. } | StreamEvent::TaskEnd { name, .. } => {
                name == START
            }
            _ => false,
        };
        if hidden {
            return;
        }
        #[cfg(feature = "events")]
        if let Some(recorder) = &self.recorder {
            recorder.record(&event);
        }
        let wanted = match event.mode() {
            Some(mode) => self.wants(mode),
            // An interrupt ends every stream; a subgraph's is streamed
            // under its namespace with `subgraphs` on (before the parent's
            // own, as LangGraph's `__interrupt__` update of each level).
            None => self.namespace.is_empty() || self.options.subgraphs,
        };
        if !wanted {
            return;
        }
        let event = if self.namespace.is_empty() {
            event
        } else {
            StreamEvent::Subgraph {
                namespace: self.namespace.clone(),
                event: Box::new(event),
            }
        };
        // A closed receiver means the caller stopped listening; the run
        // goes on and still checkpoints. A full one makes the run wait.
        let _ = self.tx.send(Ok(event)).await;
    }
}

/// An async stream of [`StreamEvent`]s; a failed run ends with one `Err`.
///
/// The run proceeds in its own tokio task: dropping the stream stops
/// delivering events but not the run or its checkpoints. While the stream
/// is kept but not read, the run waits once
/// [`StreamOptions::capacity`] events are queued.
#[derive(Debug)]
pub struct GraphStream {
    pub(crate) rx: Receiver<Result<StreamEvent, GraphError>>,
}

impl GraphStream {
    /// A stream of one error: a run that could not start.
    #[cfg(feature = "derive")]
    pub(crate) fn failed(error: GraphError) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let _ = tx.try_send(Err(error));
        GraphStream { rx }
    }
}

impl Stream for GraphStream {
    type Item = Result<StreamEvent, GraphError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
