//! `CompileOptions`: what `compile` takes besides the graph.

use std::fmt;
use std::sync::Arc;

use super::persist::Durability;
use crate::saver::BaseCheckpointSaver;

/// The default [`CompiledGraph::with_recursion_limit`](crate::graph::CompiledGraph::with_recursion_limit).
pub const DEFAULT_RECURSION_LIMIT: usize = 25;

/// Node names, as the interrupt lists take them.
fn names<I, S>(nodes: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    nodes.into_iter().map(Into::into).collect()
}

/// Options of [`StateGraph::compile`](crate::graph::StateGraph::compile).
#[derive(Clone, Default)]
pub struct CompileOptions {
    pub(crate) saver: Option<Arc<dyn BaseCheckpointSaver>>,
    pub(crate) interrupt_before: Vec<String>,
    pub(crate) interrupt_after: Vec<String>,
    // issue 12 part 2: the step ledger of `NodeContext::step_once`.
    #[cfg(feature = "ledger")]
    pub(crate) ledger: Option<Arc<dyn crate::ledger::StepLedger>>,
    /// issue 14: where streamed runs append their events.
    #[cfg(feature = "events")]
    pub(crate) event_log: Option<Arc<dyn crate::events::EventLog>>,
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

    /// Makes streams durable and resumable: every run of
    /// [`stream`](crate::graph::CompiledGraph::stream) appends its events
    /// (all modes) to `log` under its thread, and
    /// [`follow_stream`](crate::graph::follow_stream) replays them from any
    /// sequence number, then follows live ([`DurableStream`](crate::graph::DurableStream)
    /// says what the log holds).
    #[cfg(feature = "events")]
    #[cfg_attr(docsrs, doc(cfg(feature = "events")))]
    #[must_use]
    pub fn event_log(mut self, log: Arc<dyn crate::events::EventLog>) -> Self {
        self.event_log = Some(log);
        self
    }

    /// Stops the run before any of these nodes runs.
    #[must_use]
    pub fn interrupt_before<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_before = names(nodes);
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
        self.interrupt_after = names(nodes);
        self
    }
}

// issue 12 part 2: the step ledger.
#[cfg(feature = "ledger")]
impl CompileOptions {
    /// Keeps the results of [`NodeContext::step_once`](crate::graph::NodeContext::step_once)
    /// in `ledger`, so that a side effect runs once per key and thread
    /// across crashes, retries and resumes (any backend:
    /// [`open_ledger`](crate::ledger::open_ledger)).
    #[must_use]
    pub fn ledger(mut self, ledger: Arc<dyn crate::ledger::StepLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }
}

impl fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CompileOptions");
        d.field("saver", &self.saver.is_some())
            .field("interrupt_before", &self.interrupt_before)
            .field("interrupt_after", &self.interrupt_after);
        // issue 12 part 2: the step ledger.
        #[cfg(feature = "ledger")]
        d.field("ledger", &self.ledger.is_some());
        #[cfg(feature = "events")]
        d.field("event_log", &self.event_log.is_some());
        d.finish()
    }
}

/// Options of one run ([`CompiledGraph::invoke_with`] and
/// [`CompiledGraph::stream_with`]), as LangGraph takes them per `invoke`:
/// each one given replaces the compiled graph's setting for this run only.
///
/// ```
/// use checkpointer::graph::{Durability, RunOptions};
///
/// let options = RunOptions::new()
///     .durability(Durability::Exit)
///     .recursion_limit(50)
///     .interrupt_before(["review"]);
/// assert_eq!(options.recursion_limit, Some(50));
/// ```
///
/// [`CompiledGraph::invoke_with`]: crate::graph::CompiledGraph::invoke_with
/// [`CompiledGraph::stream_with`]: crate::graph::CompiledGraph::stream_with
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// When the run saves (else the graph's, [`Durability::Sync`] by default).
    pub durability: Option<Durability>,
    /// The recursion limit (else the graph's, 25 by default).
    pub recursion_limit: Option<usize>,
    /// Stop before these nodes (else the graph's compiled list).
    pub interrupt_before: Option<Vec<String>>,
    /// Stop after these nodes (else the graph's compiled list).
    pub interrupt_after: Option<Vec<String>>,
}

impl RunOptions {
    /// No option: the run uses the graph's settings.
    pub fn new() -> Self {
        RunOptions::default()
    }

    /// Saves as `durability` says in this run.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = Some(durability);
        self
    }

    /// Uses `limit` as this run's recursion limit.
    #[must_use]
    pub fn recursion_limit(mut self, limit: usize) -> Self {
        self.recursion_limit = Some(limit);
        self
    }

    /// Stops this run before any of these nodes (an empty list: never).
    #[must_use]
    pub fn interrupt_before<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_before = Some(names(nodes));
        self
    }

    /// Stops this run after any of these nodes (an empty list: never).
    #[must_use]
    pub fn interrupt_after<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_after = Some(names(nodes));
        self
    }
}
