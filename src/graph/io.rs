//! What a run takes ([`Input`]) and what it gives back ([`RunOutcome`]).

use serde_json::Value;

use super::interrupt::{Command, Interrupt};
use super::state::State;
use crate::saver::Config;

/// The input of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// New values (a JSON object of channel values): starts a new run on the
    /// thread, from its latest checkpoint (or the one the config names).
    Values(Value),
    /// No new input: continue the thread where it stopped (after an error,
    /// an interrupt or a crash). At an older checkpoint (config with a
    /// `checkpoint_id` that is not the latest): replay from there, as a
    /// fork. On a thread with no checkpoint it is an error
    /// ([`GraphError::InvalidCommand`](crate::graph::GraphError::InvalidCommand)), as in LangGraph.
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
///
/// `V` is how the values read: a JSON object for
/// [`CompiledGraph`](crate::graph::CompiledGraph), the state struct for a
/// typed graph ([`TypedOutcome`](crate::graph::TypedOutcome)).
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome<V = Value> {
    /// The state: every state channel with a value.
    pub values: V,
    /// The nodes that run when the thread is continued; empty when the run
    /// is done.
    pub next: Vec<String>,
    /// The dynamic interrupts the run stopped on (answer them with
    /// [`Command::resume`]).
    pub interrupts: Vec<Interrupt>,
    /// The config of the last checkpoint (with a saver).
    pub config: Option<Config>,
    /// What the run did that was most likely not meant (LangGraph lets all
    /// of these pass without a word; so does this crate, but says so
    /// here). Empty for a run that went as asked.
    pub notices: Vec<RunNotice>,
    /// The tasks of this run whose writes came from the node cache (the
    /// node was not called; see [`CachePolicy`](crate::graph::CachePolicy)),
    /// in the order they ended. Empty without a cache.
    pub cached: Vec<CachedTask>,
}

/// A task a run served from the node cache instead of calling its node
/// (in [`RunOutcome::cached`]; streamed as an
/// [`Updates`](crate::graph::StreamEvent::Updates) event with `cached: true`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachedTask {
    /// The superstep.
    pub step: i64,
    /// The node.
    pub node: String,
    /// The task's id (its writes are saved under it, as a call's would be).
    pub task_id: String,
}

/// A likely mistake in how a run was asked for, that LangGraph lets pass
/// silently: the run goes on as LangGraph's would, and
/// [`RunOutcome::notices`] names it.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::graph::{Command, CompileOptions, RunNotice, Reducer, StateGraph, Update, START};
/// use checkpointer::{Config, InMemorySaver};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut graph = StateGraph::new();
/// graph
///     .add_channel("log", Reducer::append())
///     .add_sync_node("ask", |_, ctx| Ok(Update::new().set("log", ctx.interrupt("go?")?)))
///     .add_edge(START, "ask");
/// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
/// let thread = Config::thread("t");
/// app.invoke(json!({}), &thread).await?;
/// // New input while the thread waits for an answer: the question is dropped
/// // (and asked again by the new run), as in LangGraph; the outcome says so.
/// let out = app.invoke(json!({}), &thread).await?;
/// assert!(matches!(&out.notices[..], [RunNotice::InterruptsDropped(dropped)] if dropped[0].value == json!("go?")));
/// // Answer it: the thread finishes. A second answer finds nothing waiting.
/// app.invoke(Command::resume("yes"), &thread).await?;
/// let out = app.invoke(Command::resume("again"), &thread).await?;
/// assert_eq!(out.notices, vec![RunNotice::ResumeNotWaiting]);
/// # Ok::<(), checkpointer::graph::GraphError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RunNotice {
    /// A [`Command`] with a resume value on a thread that was not waiting:
    /// no interrupt pending and nothing left to run. Nothing ran; the
    /// value was saved as LangGraph saves it, and no interrupt will read
    /// it.
    ResumeNotWaiting,
    /// New input on a thread that was waiting on these interrupts: they
    /// were dropped unanswered, with the tasks that asked them, as in
    /// LangGraph (a task that asks again in the new run asks anew).
    InterruptsDropped(Vec<Interrupt>),
    /// The run stopped on an interrupt, but the graph has no saver: the
    /// thread cannot be resumed (compile it with
    /// [`CompileOptions::saver`](crate::graph::CompileOptions::saver)).
    NotResumable,
    /// The config named a subgraph's namespace (and maybe one of its
    /// checkpoints), but a run always starts at the root graph's latest
    /// checkpoint, as LangGraph's does: the namespace and the checkpoint
    /// id were set aside. To go back in a subgraph, write its checkpoint
    /// with [`update_state`](crate::graph::CompiledGraph::update_state)
    /// (which forks the subgraph's history there), then continue the parent.
    NamespaceIgnored {
        /// The namespace the config named.
        checkpoint_ns: String,
        /// The checkpoint id it named, if any.
        checkpoint_id: Option<String>,
    },
}

impl RunOutcome {
    /// The values as a [`State`], for typed reads (`out.state().get::<T>(..)`).
    pub fn state(&self) -> State {
        State::from_value(self.values.clone())
    }
}

impl<V> RunOutcome<V> {
    /// Whether the run stopped before the end (dynamic or static interrupt).
    pub fn is_interrupted(&self) -> bool {
        !self.next.is_empty()
    }

    /// The same outcome with its values read through `read` (how a typed
    /// graph gets its struct from the JSON).
    pub fn try_map_values<U, E>(
        self,
        read: impl FnOnce(V) -> Result<U, E>,
    ) -> Result<RunOutcome<U>, E> {
        Ok(RunOutcome {
            values: read(self.values)?,
            next: self.next,
            interrupts: self.interrupts,
            config: self.config,
            notices: self.notices,
            cached: self.cached,
        })
    }
}
