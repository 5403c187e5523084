//! Streaming a run: modes and events.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use serde_json::Value;

use super::error::GraphError;
use super::interrupt::Interrupt;
use super::spec::START;

/// What [`CompiledGraph::stream`](crate::graph::CompiledGraph::stream) emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// The run stopped for an interrupt (dynamic, or `interrupt_before` /
    /// `interrupt_after`).
    Interrupt {
        /// The dynamic interrupts (empty for a static one).
        interrupts: Vec<Interrupt>,
        /// The nodes that will run when the thread is resumed.
        next: Vec<String>,
    },
}

/// Where the runner sends events; drops them when nobody listens.
#[derive(Clone, Debug)]
pub(crate) struct EventSink {
    pub(crate) mode: StreamMode,
    pub(crate) tx: UnboundedSender<Result<StreamEvent, GraphError>>,
    /// issue 14: the durable log of the run's stream, if the graph has one.
    #[cfg(feature = "events")]
    pub(crate) recorder: Option<std::sync::Arc<super::durable_stream::StreamRecorder>>,
}

impl EventSink {
    pub(crate) fn emit(&self, event: StreamEvent) {
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
        let wanted = match &event {
            StreamEvent::Values { .. } => self.mode == StreamMode::Values,
            StreamEvent::Updates { .. } => self.mode == StreamMode::Updates,
            StreamEvent::TaskStart { .. }
            | StreamEvent::TaskEnd { .. }
            | StreamEvent::TaskRetry { .. } => self.mode == StreamMode::Tasks,
            StreamEvent::CheckpointSaved { .. } => self.mode == StreamMode::Checkpoints,
            StreamEvent::Interrupt { .. } => true,
        };
        if wanted {
            // A closed receiver means the caller stopped listening; the run
            // goes on and still checkpoints.
            let _ = self.tx.unbounded_send(Ok(event));
        }
    }
}

/// An async stream of [`StreamEvent`]s; a failed run ends with one `Err`.
///
/// The run proceeds in its own tokio task: dropping the stream stops
/// delivering events but not the run or its checkpoints.
#[derive(Debug)]
pub struct GraphStream {
    pub(crate) rx: UnboundedReceiver<Result<StreamEvent, GraphError>>,
}

impl GraphStream {
    /// A stream of one error: a run that could not start.
    #[cfg(feature = "derive")]
    pub(crate) fn failed(error: GraphError) -> Self {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let _ = tx.unbounded_send(Err(error));
        GraphStream { rx }
    }
}

impl Stream for GraphStream {
    type Item = Result<StreamEvent, GraphError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}
