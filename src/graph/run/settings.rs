//! What a run needs to know about its graph: the settings struct the run
//! state machine works over, instead of the whole `CompiledGraph`.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::graph::cache::NodeCache;
use crate::graph::error::GraphError;
use crate::graph::options::{CompileOptions, DEFAULT_RECURSION_LIMIT, LeaseOptions, RunOptions};
use crate::graph::persist::{Durability, Saver};
use crate::graph::spec::GraphSpec;
use crate::saver::{AsyncSaver, ChannelVersion, Config};

/// The per-call options a config's `configurable` map may carry, by the
/// names LangGraph reads from its config: `recursion_limit` (a positive
/// integer) and `durability` (`"sync"`, `"async"` or `"exit"`). They are
/// not stored in checkpoint metadata, and a subgraph inherits them.
pub(crate) const CALL_KEYS: [&str; 2] = ["recursion_limit", "durability"];

/// The options `config` carries as [`CALL_KEYS`]; a value of the wrong
/// form is an error naming the key.
fn config_options(config: &Config) -> Result<RunOptions, String> {
    let mut options = RunOptions::new();
    if let Some(v) = config.configurable.get("recursion_limit") {
        let limit = v
            .as_u64()
            .filter(|n| *n >= 1)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("recursion_limit must be an integer of at least 1, got {v}"))?;
        options.recursion_limit = Some(limit);
    }
    if let Some(v) = config.configurable.get("durability") {
        options.durability = Some(match v.as_str() {
            Some("sync") => Durability::Sync,
            Some("async") => Durability::Async,
            Some("exit") => Durability::Exit,
            _ => {
                return Err(format!(
                    "durability must be \"sync\", \"async\" or \"exit\", got {v}"
                ));
            }
        });
    }
    Ok(options)
}

/// `given` (from [`RunOptions`]) and `in_config` (from the config's key)
/// agree, or only one is set: the one set; else an error naming both.
fn one_of<T: PartialEq + std::fmt::Debug + Copy>(
    key: &str,
    given: Option<T>,
    in_config: Option<T>,
) -> Result<Option<T>, String> {
    match (given, in_config) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "{key} is {b:?} in the config but {a:?} in RunOptions: give it once"
        )),
        (a, b) => Ok(a.or(b)),
    }
}

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

    /// These settings for one call: `options` and the per-call keys of
    /// `config` ([`CALL_KEYS`]) over them. A key given both ways with two
    /// different values, or of the wrong form, is
    /// [`GraphError::InvalidCommand`] naming it.
    pub(crate) fn for_call(
        &self,
        config: &Config,
        options: &RunOptions,
        operation: &'static str,
    ) -> Result<Self, GraphError> {
        let invalid = |reason: String| GraphError::InvalidCommand {
            operation,
            thread_id: config.thread_id.clone(),
            reason,
        };
        let keys = config_options(config).map_err(invalid)?;
        let mut merged = options.clone();
        merged.recursion_limit = one_of(
            "recursion_limit",
            options.recursion_limit,
            keys.recursion_limit,
        )
        .map_err(invalid)?;
        merged.durability =
            one_of("durability", options.durability, keys.durability).map_err(invalid)?;
        self.with_run_options(&merged)
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
