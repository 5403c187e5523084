//! Durable, resumable graph streams: with an event log in
//! [`CompileOptions`](crate::graph::CompileOptions::event_log), a streamed
//! run appends every stream event to the log, and [`follow_stream`] gives
//! a client the stream from any sequence number: every event it missed,
//! then the live ones, also after the process that ran the graph
//! restarted. [`DurableStream`] says what the log holds.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use futures::Stream;
use serde_json::{Map, Value, json};

use super::error::GraphError;
use super::io::RunOutcome;
use super::stream::StreamEvent;
use crate::events::{AsyncEventLog, Event, EventError, EventKind, EventLog, MAIN_LANE};

/// What the writer thread appends.
enum Record {
    Stream(StreamEvent),
    End(Result<(Vec<String>, bool), String>),
}

/// The writer of one streamed run: events go to its thread in order.
pub(crate) struct StreamRecorder {
    tx: Mutex<Option<Sender<Record>>>,
    worker: Mutex<Option<JoinHandle<Result<(), EventError>>>>,
}

impl std::fmt::Debug for StreamRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRecorder").finish_non_exhaustive()
    }
}

impl StreamRecorder {
    /// Starts the writer of a run of `thread_id` on `log`; it appends
    /// `run.started` first.
    pub(crate) fn start(log: Arc<dyn EventLog>, thread_id: &str) -> Arc<Self> {
        let (tx, rx) = channel();
        let writer = Writer {
            log,
            thread_id: thread_id.to_owned(),
            run: crate::saver::new_checkpoint_id(0),
            run_span: crate::events::new_span_id(),
            seq: 0,
        };
        let worker = std::thread::Builder::new()
            .name("checkpointer-stream-log".to_owned())
            .spawn(move || writer.run(&rx));
        let (tx, worker) = match worker {
            Ok(handle) => (Some(tx), Some(handle)),
            // No thread: nothing is recorded, and `close` says so.
            Err(_) => (None, None),
        };
        Arc::new(StreamRecorder {
            tx: Mutex::new(tx),
            worker: Mutex::new(worker),
        })
    }

    /// Queues a stream event (debug events are not recorded: they repeat
    /// the task and checkpoint events).
    pub(crate) fn record(&self, event: &StreamEvent) {
        if matches!(event, StreamEvent::Debug { .. }) {
            return;
        }
        if let Some(tx) = &*self.tx.lock().unwrap_or_else(PoisonError::into_inner) {
            // A stopped writer has its error for `close`.
            let _ = tx.send(Record::Stream(event.clone()));
        }
    }

    /// Appends the run's end, waits for every append and gives the first
    /// error. Blocks: call it off the async workers.
    pub(crate) fn close(
        &self,
        outcome: &Result<RunOutcome, GraphError>,
        thread_id: &str,
    ) -> Result<(), GraphError> {
        let end = match outcome {
            Ok(o) => Ok((
                o.next.clone(),
                !o.interrupts.is_empty() || !o.next.is_empty(),
            )),
            Err(e) => Err(e.to_string()),
        };
        if let Some(tx) = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = tx.send(Record::End(end));
        }
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let failed = |source| GraphError::EventLog {
            thread_id: thread_id.to_owned(),
            source: Box::new(source),
        };
        match worker.map(JoinHandle::join) {
            Some(Ok(result)) => result.map_err(failed),
            Some(Err(_)) => Err(failed(EventError::backend(
                "stream",
                "append the run's events",
                "the writer thread panicked",
            ))),
            None => Err(failed(EventError::backend(
                "stream",
                "append the run's events",
                "no writer thread could be started",
            ))),
        }
    }
}

/// The writer thread's state.
struct Writer {
    log: Arc<dyn EventLog>,
    thread_id: String,
    run: String,
    run_span: String,
    seq: u64,
}

impl Writer {
    fn run(mut self, rx: &Receiver<Record>) -> Result<(), EventError> {
        self.seq = self.log.last_seq(&self.thread_id, MAIN_LANE)?;
        let mut started = self.event(
            EventKind::RunStarted,
            "run",
            json!({"thread_id": self.thread_id}),
        );
        started.span_id.clone_from(&self.run_span);
        started.parent_span_id = None;
        self.append(started)?;
        // Ends when the recorder is closed (or dropped with the run).
        while let Ok(record) = rx.recv() {
            let event = match record {
                Record::Stream(e) => self.stream_event(e),
                Record::End(Ok((next, interrupted))) => self.event(
                    EventKind::RunFinished,
                    "run",
                    json!({"next": next, "interrupted": interrupted}),
                ),
                Record::End(Err(error)) => {
                    self.event(EventKind::RunError, "run", json!({"error": error}))
                }
            };
            self.append(event)?;
        }
        Ok(())
    }

    /// Appends with the next number; if another writer took it (a second
    /// process on the thread), once more after the log's last number.
    fn append(&mut self, mut event: Event) -> Result<(), EventError> {
        self.seq += 1;
        event.seq = self.seq;
        match self.log.save_event(&event) {
            Err(EventError::DuplicateSeq { .. }) => {
                self.seq = self.log.last_seq(&self.thread_id, MAIN_LANE)? + 1;
                event.seq = self.seq;
                self.log.save_event(&event)
            }
            other => other,
        }
    }

    fn event(&self, kind: EventKind, stream: &str, payload: Value) -> Event {
        let mut map = match payload {
            Value::Object(map) => map,
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        map.insert("stream".to_owned(), json!(stream));
        map.insert("run".to_owned(), json!(self.run));
        Event::new(self.thread_id.clone(), kind)
            .with_session(self.thread_id.clone())
            .with_parent_span(self.run_span.clone())
            .with_payload(Value::Object(map))
    }

    #[allow(clippy::too_many_lines, reason = "one short arm per stream event")]
    fn stream_event(&self, event: StreamEvent) -> Event {
        let (kind, stream, payload) = match event {
            StreamEvent::Values { step, values } => (
                EventKind::StateSnapshot,
                "values",
                json!({"step": step, "values": values}),
            ),
            StreamEvent::Updates {
                step,
                node,
                update,
                cached,
            } => (
                EventKind::StateDelta,
                "updates",
                json!({"step": step, "node": node, "update": update, "cached": cached}),
            ),
            // issue 17: what nodes stream while they run.
            StreamEvent::Custom { step, node, value } => (
                EventKind::AgentProgress,
                "custom",
                json!({"step": step, "node": node, "value": value}),
            ),
            StreamEvent::Message {
                step,
                node,
                task_id,
                chunk,
                metadata,
            } => (
                EventKind::AgentProgress,
                "messages",
                json!({"step": step, "node": node, "task_id": task_id, "chunk": chunk,
                    "metadata": metadata}),
            ),
            // The recorder sees only the root run's events and no debug ones
            // (see `StreamRecorder::record`); kept total for the match.
            StreamEvent::Debug {
                step,
                kind,
                timestamp,
                payload,
            } => (
                EventKind::AgentProgress,
                "debug",
                json!({"step": step, "type": kind, "timestamp": timestamp, "payload": payload}),
            ),
            StreamEvent::Subgraph { namespace, event } => {
                let mut inner = self.stream_event(*event);
                inner
                    .payload
                    .insert("namespace".to_owned(), json!(namespace));
                return inner;
            }
            StreamEvent::TaskStart {
                step,
                id,
                name,
                triggers,
            } => (
                EventKind::AgentStarted,
                "tasks",
                json!({"step": step, "task_id": id, "node": name, "triggers": triggers}),
            ),
            StreamEvent::TaskEnd {
                step,
                id,
                name,
                result,
                error,
                interrupts,
            } => (
                if error.is_some() {
                    EventKind::AgentError
                } else {
                    EventKind::AgentFinished
                },
                "tasks",
                json!({"step": step, "task_id": id, "node": name, "result": result,
                    "error": error, "interrupts": interrupts}),
            ),
            StreamEvent::TaskRetry {
                step,
                id,
                name,
                attempt,
                error,
                wait,
            } => (
                EventKind::AgentProgress,
                "tasks",
                json!({"step": step, "task_id": id, "node": name, "attempt": attempt,
                    "error": error, "wait_ms": u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)}),
            ),
            StreamEvent::Interrupt { interrupts, next } => (
                EventKind::HumanApprovalRequested,
                "interrupt",
                json!({"interrupts": interrupts, "next": next}),
            ),
            StreamEvent::CheckpointSaved {
                step,
                checkpoint_id,
            } => (
                EventKind::CheckpointSaved,
                "checkpoints",
                json!({"step": step, "checkpoint_id": checkpoint_id}),
            ),
        };
        self.event(kind, stream, payload)
    }
}

/// Options of [`follow_stream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowOptions {
    /// How often to look for new events when the follower has seen every
    /// one (the log is the only channel, so a follower in another process
    /// works the same way). 20 ms by default.
    pub poll_every: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_every: Duration::from_millis(20),
        }
    }
}

impl FollowOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`poll_every`](Self::poll_every).
    #[must_use]
    pub fn poll_every(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<Vec<Event>, EventError>> + Send>>;

/// The durable stream of a thread from a sequence number: what
/// [`follow_stream`] gives.
///
/// # What the log holds
///
/// The log's run id is the **thread id**, lane `main`, and sequence
/// numbers go on increasing over every run of the thread (a run starts
/// after the thread's last number), so "the stream of thread T from seq
/// N" is one question whatever ran in between. Each event's
/// `session_id` is the thread too; its payload names the graph run
/// (`"run"`, a fresh id per `stream` call) and its `parent_span_id` is the
/// span of that run's `run.started` event.
///
/// | stream event | kind | payload |
/// |---|---|---|
/// | run begins | `run.started` | `run`, `thread_id` |
/// | [`Values`](StreamEvent::Values) | `state.snapshot` | `step`, `values` |
/// | [`Updates`](StreamEvent::Updates) | `state.delta` | `step`, `node`, `update`, `cached` |
/// | [`Custom`](StreamEvent::Custom) | `agent.progress` | `step`, `node`, `value` |
/// | [`Message`](StreamEvent::Message) | `agent.progress` | `step`, `node`, `task_id`, `chunk`, `metadata` |
/// | [`TaskStart`](StreamEvent::TaskStart) | `agent.started` | `step`, `task_id`, `node`, `triggers` |
/// | [`TaskEnd`](StreamEvent::TaskEnd) | `agent.finished` (`agent.error` if it failed) | `step`, `task_id`, `node`, `result`, `error`, `interrupts` |
/// | [`TaskRetry`](StreamEvent::TaskRetry) | `agent.progress` | `step`, `task_id`, `node`, `attempt`, `error`, `wait_ms` |
/// | [`Interrupt`](StreamEvent::Interrupt) | `human.approval.requested` | `interrupts`, `next` |
/// | [`CheckpointSaved`](StreamEvent::CheckpointSaved) | `checkpoint.saved` | `step`, `checkpoint_id` |
/// | run ends | `run.finished` (`run.error` if it failed) | `next`, `interrupted` (or `error`) |
///
/// Every payload also has `"stream"` (the mode the event belongs to:
/// `values`, `updates`, `tasks`, `checkpoints`, `custom`, `messages`,
/// `interrupt` or `run`) and
/// `"run"`. The log records every mode but `debug` (which repeats the task
/// and checkpoint events), whatever modes the live caller of
/// [`stream`](crate::graph::CompiledGraph::stream) asked for; a subgraph's
/// events are not recorded (its final update is, as the parent's).
///
/// # Order and durability
///
/// Events are appended in the order the run emits them, by one writer
/// thread per run, so a slow disk never stalls the run. A follower reads
/// only what is in the log: what it sees is durable, in order, with no
/// gaps. If an append fails, the writer stops (a later event must not
/// land after a gap) and the live stream ends with
/// [`GraphError::EventLog`](crate::graph::GraphError::EventLog).
/// `invoke` records nothing; only streamed runs do.
///
/// # Following
///
/// It yields every event of the thread with `seq > since_seq`, in order,
/// then waits for new ones, and ends after a `run.finished` or
/// `run.error` event that nothing follows yet (the end of the run in
/// progress). A thread whose last event is already a run's end, asked
/// from that event's number, ends at once. An error of the log ends it
/// after that error. Dropping it is a disconnect: nothing is lost, ask
/// again from the last `seq` seen. Needs a tokio runtime.
///
/// A run whose process died never writes its end: its stream waits, and
/// goes on with the run that takes the thread over (its `run.started`
/// follows the dead run's last event). A client that wants to give up
/// drops the stream after a timeout of its own.
pub struct DurableStream {
    log: AsyncEventLog,
    thread_id: String,
    last: u64,
    ended: bool,
    /// Whether the last event delivered (or the one at `since`) ends a run.
    at_run_end: Option<bool>,
    buffer: VecDeque<Event>,
    pending: Option<Pending>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    options: FollowOptions,
}

impl std::fmt::Debug for DurableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStream")
            .field("thread_id", &self.thread_id)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

/// The stream of thread `thread_id` in `log` from `since_seq` (0 for all
/// of it): every missed event, then the live ones (see
/// [`DurableStream`]).
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::events::{EventKind, EventLog, MemoryEventLog};
/// use checkpointer::graph::{CompileOptions, END, Reducer, START, StateGraph, StreamMode, Update, follow_stream};
/// use checkpointer::{Config, InMemorySaver};
/// use futures::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
/// let mut g = StateGraph::new();
/// g.add_channel("msg", Reducer::last_value());
/// g.add_node("greet", |_s, _c| async { Ok(Update::new().set("msg", "hi")) });
/// g.add_edge(START, "greet").add_edge("greet", END);
/// let app = g
///     .compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())).event_log(log.clone()))
///     .unwrap();
/// let live: Vec<_> = app.stream(serde_json::json!({}), &Config::thread("t1"), StreamMode::Values)
///     .collect().await;
/// assert!(live.iter().all(Result::is_ok));
///
/// // A client that saw events up to seq 2 asks for the rest.
/// let rest: Vec<_> = follow_stream(log, "t1", 2).map(Result::unwrap).collect().await;
/// assert_eq!(rest.first().map(|e| e.seq), Some(3));
/// assert_eq!(rest.last().map(|e| e.kind), Some(EventKind::RunFinished));
/// # }
/// ```
pub fn follow_stream(
    log: Arc<dyn EventLog>,
    thread_id: impl Into<String>,
    since_seq: u64,
) -> DurableStream {
    follow_stream_with(log, thread_id, since_seq, FollowOptions::new())
}

/// [`follow_stream`] with `options`.
pub fn follow_stream_with(
    log: Arc<dyn EventLog>,
    thread_id: impl Into<String>,
    since_seq: u64,
    options: FollowOptions,
) -> DurableStream {
    DurableStream {
        log: AsyncEventLog::from_arc(log),
        thread_id: thread_id.into(),
        last: since_seq,
        ended: false,
        at_run_end: (since_seq == 0).then_some(false),
        buffer: VecDeque::new(),
        pending: None,
        sleep: None,
        options,
    }
}

fn is_run_end(kind: EventKind) -> bool {
    matches!(kind, EventKind::RunFinished | EventKind::RunError)
}

impl DurableStream {
    /// The `seq` of the last event delivered (or the `since_seq` asked
    /// for): where to ask again after a disconnect.
    pub fn last_seq(&self) -> u64 {
        self.last
    }

    /// Reads the events after `from` (and the one at `from`, to know
    /// whether it ended a run) on the blocking pool.
    fn read(&self) -> Pending {
        let (log, thread) = (self.log.clone(), self.thread_id.clone());
        let from = self.last.saturating_sub(1);
        Box::pin(async move { log.list_events(thread, from).await })
    }
}

impl Stream for DurableStream {
    type Item = Result<Event, EventError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if let Some(event) = this.buffer.pop_front() {
                this.last = event.seq;
                this.at_run_end = Some(is_run_end(event.kind));
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(sleep) = &mut this.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            if this.pending.is_none() {
                this.pending = Some(this.read());
            }
            let Some(pending) = this.pending.as_mut() else {
                return Poll::Pending;
            };
            let Poll::Ready(read) = pending.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            this.pending = None;
            let events = match read {
                Ok(events) => events,
                Err(e) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            let mut fresh = VecDeque::new();
            for event in events {
                if event.seq > this.last {
                    fresh.push_back(event);
                } else if event.seq == this.last && this.at_run_end.is_none() {
                    this.at_run_end = Some(is_run_end(event.kind));
                }
            }
            if fresh.is_empty() {
                if this.at_run_end == Some(true) {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                this.at_run_end.get_or_insert(false);
                this.sleep = Some(Box::pin(tokio::time::sleep(this.options.poll_every)));
            }
            this.buffer = fresh;
        }
    }
}
