//! The graph's specification: the channels and nodes that
//! [`StateGraph::compile`](crate::graph::StateGraph::compile) checks and
//! wires, and that the runner, the step functions and the snapshots read.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::channel::ChannelKind;
use super::compiled::CompiledGraph;
use super::interrupt::Route;
use super::node::Node;
use super::retry::RetryPolicy;
use super::state::State;
use crate::saver::{ERROR, INTERRUPT, NO_WRITES, RESUME, SCHEDULED, TASKS};

/// The virtual first node: edges from `START` name the entry points.
pub const START: &str = "__start__";
/// The virtual last node: an edge to `END` finishes that path.
pub const END: &str = "__end__";

/// Names no channel or node may take: the virtual nodes and the channels
/// the runtime writes itself.
pub(crate) const RESERVED: [&str; 8] = [
    START, END, ERROR, INTERRUPT, RESUME, SCHEDULED, TASKS, NO_WRITES,
];

/// A conditional edge's router: reads the state, says where to go.
pub(crate) type RouterFn = dyn Fn(&State) -> Route + Send + Sync;

/// A node as the runner sees it.
#[derive(Clone, Default)]
pub(crate) struct NodeSpec {
    /// The function; `None` for the built-in `__start__` node.
    pub(crate) runner: Option<Arc<dyn Node>>,
    /// Channels whose new versions run the node.
    pub(crate) triggers: Vec<String>,
    /// Static successors (their `branch:to:` channels are written).
    pub(crate) successors: Vec<String>,
    /// Join barriers this node writes its name to.
    pub(crate) joins: Vec<String>,
    /// Conditional edges from this node.
    pub(crate) routers: Vec<Arc<RouterFn>>,
    /// How a failing run of the node is retried (none: it is not).
    pub(crate) retry: Option<RetryPolicy>,
    /// issue 17: how the node's results are cached (none: they are not).
    pub(crate) cache: Option<super::cache::CachePolicy>,
    /// The subgraph the node runs, if it runs one (its snapshots and
    /// namespaced state calls go to it).
    pub(crate) subgraph: Option<CompiledGraph>,
}

/// A compiled graph's shape.
pub(crate) struct GraphSpec {
    /// Every channel, state and internal.
    pub(crate) channels: BTreeMap<String, ChannelKind>,
    /// The user's state channels.
    pub(crate) state_channels: Vec<String>,
    /// Every node, with `__start__`.
    pub(crate) nodes: BTreeMap<String, NodeSpec>,
    /// The shape as Mermaid text (`CompiledGraph::to_mermaid`).
    pub(crate) mermaid: String,
}

impl GraphSpec {
    /// Whether `name` is a node a route, a command or an interrupt list may
    /// name: one of the graph's nodes, not the virtual `START`.
    pub(crate) fn is_user_node(&self, name: &str) -> bool {
        name != START && self.nodes.contains_key(name)
    }
}

impl fmt::Debug for GraphSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphSpec")
            .field("state_channels", &self.state_channels)
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
