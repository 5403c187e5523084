//! One superstep: start its tasks, save each task's writes as it ends,
//! and say how the step ended.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{BoxFuture, Either};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};

use super::Run;
use super::execute::{AbortOnDrop, Failure, TaskOutput, join_message, panic_message, run_task};
use crate::graph::algo::{
    finished_writes, pending_value, shared_resume, state_values, taken_resume,
};
use crate::graph::channel::START_CHANNEL;
use crate::graph::error::GraphError;
use crate::graph::interrupt::Interrupt;
use crate::graph::io::CachedTask;
use crate::graph::node::NodeContext;
use crate::graph::spec::START;
use crate::graph::state::{State, Update};
use crate::graph::stream::{StreamEvent, StreamMode};
use crate::graph::stream_writer::langgraph_path;
use crate::graph::subgraph::{CHECKPOINT_MAP, task_namespace};
use crate::graph::task::{Task, TaskKind};
use crate::saver::{ERROR, INTERRUPT, NO_WRITES, NULL_TASK_ID, RESUME};

/// The step's resume value that the first `interrupt` call without an
/// answer takes (`None` once taken).
type SharedResume = Arc<Mutex<Option<Value>>>;

/// The tasks of a step that are running, each giving back its index and
/// how it ended (`Err`: it panicked, with this message).
type Running = FuturesUnordered<BoxFuture<'static, (usize, Result<TaskOutput, String>)>>;

/// Tasks that have ended, taken from [`Running`] but not yet handled.
type Ready = VecDeque<(usize, Result<TaskOutput, String>)>;

/// How long a task that ended while others still run waits for them
/// before its writes are saved on their own (see `run_step`): a fraction
/// of the commit (an fsync) that it may spare.
const LINGER: Duration = Duration::from_millis(1);

/// Waits up to [`LINGER`] for the tasks in `running` to end, moving those
/// that do to `ready`; returns early once none runs or one of them did not
/// finish with writes. The clock is a sleep on tokio's blocking pool, which
/// every runtime has (a runtime may be built without timers).
async fn linger(running: &mut Running, ready: &mut Ready) {
    let mut deadline = None;
    while !running.is_empty() && all_done(ready) {
        let wait = deadline
            .get_or_insert_with(|| tokio::task::spawn_blocking(|| std::thread::sleep(LINGER)));
        match futures::future::select(running.next(), wait).await {
            Either::Left((Some(ended_task), _)) => {
                ready.push_back(ended_task);
                drain_ended(running, ready);
            }
            Either::Left((None, _)) | Either::Right(_) => break,
        }
    }
}

/// Moves every task that has ended by now from `running` to `ready`,
/// without waiting.
fn drain_ended(running: &mut Running, ready: &mut Ready) {
    while let Some(Some(ended_task)) = running.next().now_or_never() {
        ready.push_back(ended_task);
    }
}

/// Whether every task in `ready` finished with writes (none failed, was
/// interrupted or panicked).
fn all_done(ready: &Ready) -> bool {
    ready
        .iter()
        .all(|(_, r)| matches!(r, Ok(TaskOutput::Done { .. })))
}

/// How a step ended.
pub(super) enum StepEnd {
    /// Every task finished: their writes, in task order.
    Done(Vec<(Task, Vec<(String, Value)>)>),
    /// The run stops here for these interrupts; `next` lists the tasks
    /// that did not finish, `done` the writes of those that did.
    Stop {
        interrupts: Vec<Interrupt>,
        next: Vec<String>,
        done: Vec<(Task, Vec<(String, Value)>)>,
    },
}

/// What the step's tasks came back with, by task index.
#[derive(Default)]
struct Ended {
    done: BTreeMap<usize, Vec<(String, Value)>>,
    errors: BTreeMap<usize, GraphError>,
    interrupts: BTreeMap<usize, Interrupt>,
    /// Updates for the parent graph (`Update::to_parent`), not saved here.
    to_parent: BTreeMap<usize, Update>,
}

impl Ended {
    /// Whether every task handled so far finished with writes.
    fn all_done(&self) -> bool {
        self.errors.is_empty() && self.interrupts.is_empty() && self.to_parent.is_empty()
    }

    /// The step's end: the first task's error, else the first update for
    /// the parent graph (as an error the parent's subgraph task takes),
    /// else a stop for the interrupts, else every task's writes.
    fn into_step_end(self, tasks: &[Task], run: &Run, step: i64) -> Result<StepEnd, GraphError> {
        if let Some((_, err)) = self.errors.into_iter().next() {
            return Err(err);
        }
        // As LangGraph's `ParentCommand`, the update leaves this graph's
        // run in the step it was returned in: no checkpoint for the step.
        if let Some((i, update)) = self.to_parent.into_iter().next() {
            return Err(GraphError::ParentCommand {
                node: tasks[i].name.clone(),
                step,
                thread_id: run.thread_id.clone(),
                checkpoint_ns: run.config.ns().to_owned(),
                update: Box::new(update),
            });
        }
        let next: Vec<String> = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.done.contains_key(i))
            .map(|(_, t)| t.name.clone())
            .collect();
        let done = self
            .done
            .into_iter()
            .map(|(i, w)| (tasks[i].clone(), w))
            .collect();
        if self.interrupts.is_empty() {
            return Ok(StepEnd::Done(done));
        }
        Ok(StepEnd::Stop {
            interrupts: self.interrupts.into_values().collect(),
            next,
            done,
        })
    }
}

impl Run {
    /// Runs the tasks of one step; a task that finished before (its writes
    /// are pending at the checkpoint) is not run again.
    pub(super) async fn run_step(
        &mut self,
        tasks: &[Task],
        step: i64,
    ) -> Result<StepEnd, GraphError> {
        let shared_resume: SharedResume = Arc::new(Mutex::new(shared_resume(&self.pending)));
        let mut ended = Ended::default();
        // If this run is dropped mid-step, its tasks stop too.
        let mut abort_guard = AbortOnDrop(Vec::new());
        let mut contexts = BTreeMap::new();
        let mut running = Running::new();
        for (i, task) in tasks.iter().enumerate() {
            match finished_writes(&self.pending, &task.id) {
                Some(writes) => {
                    ended.done.insert(i, writes);
                }
                None => {
                    contexts.insert(i, self.context(task, step, &shared_resume));
                }
            }
        }
        self.start_tasks(tasks, step, &contexts, &mut running, &mut abort_guard)
            .await;
        // Tasks that ended while another one's writes were being saved,
        // taken in the order they are found.
        let mut ready = Ready::new();
        loop {
            let (i, joined) = match ready.pop_front() {
                Some(ended_task) => ended_task,
                None => match running.next().await {
                    Some(ended_task) => ended_task,
                    None => break,
                },
            };
            // Collect every task that has ended by now (without waiting),
            // so that the hold below sees whether this one is among the
            // step's last.
            drain_ended(&mut running, &mut ready);
            // A task that could be held but for tasks still running waits
            // for them a moment ([`LINGER`]): parallel tasks that end close
            // together (short nodes started at once) then share the step's
            // commit, where each would be a commit of its own; a task that
            // runs longer does not hold this one's writes back further.
            if matches!(joined, Ok(TaskOutput::Done { .. }))
                && ended.all_done()
                && self.persist.fuses()
            {
                linger(&mut running, &mut ready).await;
            }
            let task = &tasks[i];
            let answers = contexts.get(&i).and_then(NodeContext::new_answers);
            match joined.unwrap_or_else(|message| TaskOutput::Failed(Failure::Panicked(message))) {
                TaskOutput::Done { writes, cached } => {
                    // The tasks that end a step that ends normally (none
                    // still running, every other ended one done too):
                    // their writes are saved with the step's checkpoint,
                    // in one saver call (one transaction, one fsync),
                    // where each would otherwise be a commit of its own.
                    // Until then a crash loses them, as it would just
                    // before their own save, and the tasks run again on
                    // resume; no write of a task that ended earlier waits.
                    let hold = running.is_empty()
                        && all_done(&ready)
                        && ended.all_done()
                        && self.persist.fuses();
                    self.task_done(task, step, &writes, answers, hold, cached)
                        .await?;
                    ended.done.insert(i, writes);
                }
                TaskOutput::Interrupted(interrupt) => {
                    let write = (INTERRUPT.to_owned(), json!([interrupt]));
                    let shown = vec![interrupt.clone()];
                    self.save_unfinished(task, step, write, answers, None, shown)
                        .await?;
                    ended.interrupts.insert(i, interrupt);
                }
                TaskOutput::Failed(failure) => {
                    let error = self.task_failed(task, step, failure, answers).await?;
                    ended.errors.insert(i, error);
                }
                TaskOutput::ToParent(update) => {
                    ended.to_parent.insert(i, update);
                }
            }
        }
        self.mark_resume_taken(&shared_resume).await?;
        ended.into_step_end(tasks, self, step)
    }

    /// The context of `task`: its config, step, id and saved answers.
    fn context(&self, task: &Task, step: i64, shared_resume: &SharedResume) -> NodeContext {
        let answers = match pending_value(&self.pending, &task.id, RESUME) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let ctx = NodeContext::new(
            self.node_config_for_tasks(),
            step,
            task.name.clone(),
            task.id.clone(),
            answers,
            Arc::clone(shared_resume),
        )
        .with_answers_by_id(
            self.answers_by_id
                .get(&task.id)
                .cloned()
                .unwrap_or_default(),
        );
        // issue 12 part 2: the step ledger of `step_once`.
        #[cfg(feature = "ledger")]
        let ctx = ctx.with_ledger(self.settings.ledger.clone());
        ctx.with_stream(
            self.sink.clone(),
            task.triggers.clone(),
            langgraph_path(&task.path),
            task_namespace(self.config.ns(), &task.name, &task.id),
        )
    }

    /// The config the step's nodes get: the caller's, with this graph's
    /// checkpoint added to `checkpoint_map` (a subgraph's run writes it as
    /// its checkpoints' `parents`, as LangGraph does).
    fn node_config_for_tasks(&self) -> crate::saver::Config {
        let mut config = self.node_config.clone();
        let mut map: serde_json::Map<String, Value> = self
            .parents
            .iter()
            .map(|(ns, id)| (ns.clone(), Value::from(id.clone())))
            .collect();
        if let Some(id) = &self.saved_id {
            map.insert(self.config.ns().to_owned(), Value::from(id.clone()));
        }
        config
            .configurable
            .insert(CHECKPOINT_MAP.to_owned(), Value::Object(map));
        config
    }

    /// Starts the tasks that have a context (those not finished before).
    /// A lone task runs in this run's own future (no hand-off to another
    /// thread and back); several run as tokio tasks, in parallel.
    async fn start_tasks(
        &self,
        tasks: &[Task],
        step: i64,
        contexts: &BTreeMap<usize, NodeContext>,
        running: &mut Running,
        abort_guard: &mut AbortOnDrop,
    ) {
        let spec = &self.settings.spec;
        let global = Arc::new(State::from_map(state_values(spec, &self.checkpoint)));
        let lone = contexts.len() == 1;
        for (&i, ctx) in contexts {
            let task = &tasks[i];
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
            })
            .await;
            if self.streams(StreamMode::Debug) && task.name != START {
                self.emit_debug_task(task, step, &input).await;
            }
            let run = run_task(
                Arc::clone(spec),
                task.clone(),
                input,
                Arc::clone(&global),
                ctx.clone(),
                self.sink.clone(),
                self.settings.cache.clone(),
            );
            if lone {
                // A panic is caught as a spawned task's would be.
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
    }

    /// A task finished (or its writes came from the node cache): saves (or
    /// holds) its answers and writes, and streams its update. A cached
    /// task has no `TaskEnd`, as LangGraph streams no task result for it.
    async fn task_done(
        &mut self,
        task: &Task,
        step: i64,
        writes: &[(String, Value)],
        answers: Option<Vec<Value>>,
        hold: bool,
        cached: bool,
    ) -> Result<(), GraphError> {
        let mut batches = Vec::with_capacity(2);
        if let Some(answers) = answers {
            batches.push(vec![(RESUME.to_owned(), Value::Array(answers))]);
        }
        batches.push(if writes.is_empty() {
            vec![(NO_WRITES.to_owned(), Value::Null)]
        } else {
            writes.to_vec()
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
            update: self.state_update(writes),
            cached,
        })
        .await;
        if cached {
            self.cached.push(CachedTask {
                step,
                node: task.name.clone(),
                task_id: task.id.clone(),
            });
            return Ok(());
        }
        self.emit(|| StreamEvent::TaskEnd {
            step,
            id: task.id.clone(),
            name: task.name.clone(),
            result: Some(json!(writes)),
            error: None,
            interrupts: Vec::new(),
        })
        .await;
        if self.streams(StreamMode::Debug) && task.name != START {
            let result = self.state_update(writes);
            self.emit_debug_result(task, step, Some(result), None, &[])
                .await;
        }
        Ok(())
    }

    /// A task that did not finish (it failed, or stopped for a human):
    /// saves `write` (its `__error__` or `__interrupt__`) and the answers
    /// it took, so that the retry gets them instead of asking the human
    /// again, and streams its end.
    async fn save_unfinished(
        &mut self,
        task: &Task,
        step: i64,
        write: (String, Value),
        answers: Option<Vec<Value>>,
        error: Option<String>,
        interrupts: Vec<Interrupt>,
    ) -> Result<(), GraphError> {
        let mut w = vec![write];
        if let Some(answers) = answers {
            w.push((RESUME.to_owned(), Value::Array(answers)));
        }
        self.save_writes(w, &task.id, &task.path).await?;
        if self.streams(StreamMode::Debug) {
            self.emit_debug_result(task, step, None, error.as_deref(), &interrupts)
                .await;
        }
        self.emit(|| StreamEvent::TaskEnd {
            step,
            id: task.id.clone(),
            name: task.name.clone(),
            result: None,
            error,
            interrupts,
        })
        .await;
        Ok(())
    }

    /// A task failed: saves its error and returns the error the run stops
    /// with once the other tasks end.
    async fn task_failed(
        &mut self,
        task: &Task,
        step: i64,
        failure: Failure,
        answers: Option<Vec<Value>>,
    ) -> Result<GraphError, GraphError> {
        let text = failure.text();
        let write = (ERROR.to_owned(), Value::from(text.clone()));
        self.save_unfinished(task, step, write, answers, Some(text.clone()), Vec::new())
            .await?;
        let (node, thread_id) = (task.name.clone(), self.thread_id.clone());
        Ok(match failure {
            Failure::Panicked(_) => GraphError::NodePanicked {
                node,
                step,
                thread_id,
                message: text.trim_start_matches("panic: ").to_owned(),
            },
            Failure::Invalid(reason) => GraphError::InvalidUpdate {
                node,
                step,
                thread_id,
                reason,
            },
            Failure::Node(source) => match source.downcast::<GraphError>() {
                // A subgraph went past its recursion limit: the run fails
                // with that, as LangGraph's GraphRecursionError propagates.
                Ok(inner) if matches!(*inner, GraphError::RecursionLimit { .. }) => *inner,
                Ok(other) => GraphError::NodeFailed {
                    node,
                    step,
                    thread_id,
                    task_id: task.id.clone(),
                    message: text,
                    source: other,
                },
                Err(source) => GraphError::NodeFailed {
                    node,
                    step,
                    thread_id,
                    task_id: task.id.clone(),
                    message: text,
                    source,
                },
            },
        })
    }

    /// A resume value a task took is now in that task's own `__resume__`
    /// write; marks the shared one used, so that a later plain `Continue`
    /// does not hand it to the task's next `interrupt` call.
    async fn mark_resume_taken(&mut self, shared_resume: &SharedResume) -> Result<(), GraphError> {
        let had_shared = crate::graph::algo::shared_resume(&self.pending).is_some();
        let taken = shared_resume
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none();
        if had_shared && taken {
            let marker = vec![(RESUME.to_owned(), taken_resume())];
            if self.held.is_empty() {
                self.save_writes(marker, NULL_TASK_ID, "").await?;
            } else {
                self.hold_writes(marker, NULL_TASK_ID, "");
            }
        }
        Ok(())
    }
}
