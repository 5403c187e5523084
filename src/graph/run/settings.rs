//! What a run needs to know about its graph: the settings struct the run
//! state machine works over, instead of the whole `CompiledGraph`.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::graph::cache::NodeCache;
use crate::graph::error::GraphError;
use crate::graph::options::{CompileOptions, DEFAULT_RECURSION_LIMIT, LeaseOptions, RunOptions};
use crate::graph::persist::{Durability, Saver};
use crate::graph::spec::GraphSpec;
use crate::saver::{AsyncSaver, ChannelVersion};

/// A compiled graph's settings: its specification, saver, durability,
/// recursion limit and static interrupts. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct RunSettings {
    pub(crate) spec: Arc<GraphSpec>,
    pub(crate) saver: Option<Saver>,
    /// How runs lease their thread; `None`: they take no lease.
    pub(crate) leases: Option<LeaseOptions>,
    pub(crate) durability: Durability,
    pub(crate) recursion_limit: usize,
    pub(crate) interrupt_before: Arc<BTreeSet<String>>,
    pub(crate) interrupt_after: Arc<BTreeSet<String>>,
    // issue 12 part 2: the step ledger of `NodeContext::step_once`.
    #[cfg(feature = "ledger")]
    pub(crate) ledger: Option<Arc<dyn crate::ledger::StepLedger>>,
    /// issue 17: the node cache (`CompileOptions::cache`).
    pub(crate) cache: Option<NodeCache>,
}

impl RunSettings {
    /// The settings of a graph just compiled with `options`.
    pub(crate) fn new(spec: Arc<GraphSpec>, options: CompileOptions) -> Self {
        RunSettings {
            spec,
            saver: options.saver.map(AsyncSaver::from_arc),
            leases: options.leases,
            durability: Durability::default(),
            recursion_limit: DEFAULT_RECURSION_LIMIT,
            interrupt_before: Arc::new(options.interrupt_before.into_iter().collect()),
            interrupt_after: Arc::new(options.interrupt_after.into_iter().collect()),
            #[cfg(feature = "ledger")]
            ledger: options.ledger,
            cache: options.cache.map(NodeCache::new),
        }
    }

    /// These settings with `options` over them, for one run; an interrupt
    /// list naming a node the graph does not have is an error naming it.
    pub(crate) fn with_run_options(&self, options: &RunOptions) -> Result<Self, GraphError> {
        let mut s = self.clone();
        if let Some(d) = options.durability {
            s.durability = d;
        }
        if let Some(limit) = options.recursion_limit {
            s.recursion_limit = limit;
        }
        if let (Some(wait), Some(leases)) = (options.lease_wait, &mut s.leases) {
            leases.wait = wait;
        }
        let lists = [
            (
                &options.interrupt_before,
                &mut s.interrupt_before,
                "interrupt_before",
            ),
            (
                &options.interrupt_after,
                &mut s.interrupt_after,
                "interrupt_after",
            ),
        ];
        for (given, slot, what) in lists {
            let Some(nodes) = given else { continue };
            if let Some(n) = nodes.iter().find(|n| !self.spec.is_user_node(n)) {
                return Err(GraphError::invalid_graph(format!(
                    "RunOptions::{what} names {n:?}, which is not a node of the graph"
                )));
            }
            *slot = Arc::new(nodes.iter().cloned().collect());
        }
        Ok(s)
    }

    /// The version after `current`: the saver's, or the default scheme
    /// without a saver.
    pub(crate) fn next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        match &self.saver {
            Some(s) => s.get_next_version(current),
            None => ChannelVersion::next_after(current),
        }
    }
}
