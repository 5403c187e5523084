//! `CompileOptions`: what `compile` takes besides the graph.

use std::fmt;
use std::sync::Arc;

use crate::saver::BaseCheckpointSaver;

/// The default [`CompiledGraph::with_recursion_limit`](crate::graph::CompiledGraph::with_recursion_limit).
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
