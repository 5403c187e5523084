//! `StateGraph`: declare channels, nodes and edges, then compile.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::cache::CachePolicy;
use super::channel::{ChannelKind, Reducer, START_CHANNEL, branch_channel, join_channel};
use super::compiled::CompiledGraph;
use super::error::GraphError;
use super::interrupt::Route;
use super::mermaid;
use super::node::{AsyncFnNode, Node, NodeContext, NodeResult, SyncFnNode};
use super::options::CompileOptions;
use super::retry::RetryPolicy;
use super::spec::{END, GraphSpec, NodeSpec, RESERVED, RouterFn, START};
use super::state::State;
use super::subgraph::SubgraphNode;
use crate::saver::TASKS;

/// Channels by name, as the builder collects them.
type Channels = BTreeMap<String, ChannelKind>;
/// Nodes by name, as the builder collects them.
type Nodes = BTreeMap<String, NodeSpec>;

/// The sources of an edge: one node, or several for a join.
///
/// Converts from `&str`, `String`, `[&str; N]` and `Vec<&str>`, so both
/// `add_edge("a", "b")` and `add_edge(["a", "b"], "c")` work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeSources(Vec<String>);

impl From<&str> for EdgeSources {
    fn from(s: &str) -> Self {
        EdgeSources(vec![s.to_owned()])
    }
}

impl From<String> for EdgeSources {
    fn from(s: String) -> Self {
        EdgeSources(vec![s])
    }
}

impl<const N: usize> From<[&str; N]> for EdgeSources {
    fn from(list: [&str; N]) -> Self {
        EdgeSources(list.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<Vec<&str>> for EdgeSources {
    fn from(list: Vec<&str>) -> Self {
        EdgeSources(list.into_iter().map(str::to_owned).collect())
    }
}

impl From<Vec<String>> for EdgeSources {
    fn from(list: Vec<String>) -> Self {
        EdgeSources(list)
    }
}

/// A graph under construction: state channels, nodes and edges.
///
/// Channels hold JSON values and combine writes with a [`Reducer`]. Nodes
/// are async or sync closures from the [`State`] (and a [`NodeContext`]) to
/// an [`Update`](crate::graph::Update). Nodes triggered in the same
/// superstep run in parallel; their updates are applied together at the end
/// of the step. Mistakes (unknown nodes, no entry point, nodes that can
/// never run) are reported by [`compile`](StateGraph::compile).
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START, END};
/// use checkpointer::{Config, InMemorySaver};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut graph = StateGraph::new();
/// graph
///     .add_channel("messages", Reducer::append())
///     .add_node("greet", |state, _ctx| async move {
///         let name: String = state.get("name")?;
///         Ok(Update::new().set("messages", vec![format!("hello, {name}")]))
///     })
///     .add_sync_node("shout", |state, _ctx| {
///         let msgs: Vec<String> = state.get("messages")?;
///         Ok(Update::new().set("messages", vec![msgs[0].to_uppercase()]))
///     })
///     .add_channel("name", Reducer::last_value())
///     .add_edge(START, "greet")
///     .add_edge("greet", "shout")
///     .add_edge("shout", END);
/// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
///
/// let out = app.invoke(json!({"name": "ann"}), &Config::thread("t1")).await?;
/// assert_eq!(out.values["messages"], json!(["hello, ann", "HELLO, ANN"]));
/// // input, __start__ step, greet, shout
/// assert_eq!(app.get_state_history(&Config::thread("t1"), &Default::default()).await?.len(), 4);
/// # Ok::<(), checkpointer::graph::GraphError>(())
/// # }).unwrap();
/// ```
#[derive(Default)]
pub struct StateGraph {
    channels: Vec<(String, Reducer)>,
    nodes: Vec<(String, Arc<dyn Node>)>,
    edges: Vec<(Vec<String>, String)>,
    branches: Vec<(String, Arc<RouterFn>, Vec<String>)>,
    /// Where a node's own gotos may lead (LangGraph's `destinations=`).
    destinations: Vec<(String, Vec<String>)>,
    /// Retry policies by node.
    retries: BTreeMap<String, RetryPolicy>,
    /// issue 17: per-node cache policies.
    caches: BTreeMap<String, CachePolicy>,
    /// Nodes that run a compiled graph.
    subgraphs: BTreeMap<String, CompiledGraph>,
}

impl fmt::Debug for StateGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateGraph")
            .field(
                "channels",
                &self.channels.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "nodes",
                &self.nodes.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("edges", &self.edges)
            .field("branches", &self.branches.len())
            .field("destinations", &self.destinations)
            .field("retries", &self.retries)
            .field("caches", &self.caches)
            .field("subgraphs", &self.subgraphs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl StateGraph {
    /// An empty graph.
    pub fn new() -> Self {
        StateGraph::default()
    }

    /// Declares a state channel with its reducer.
    pub fn add_channel(&mut self, name: impl Into<String>, reducer: Reducer) -> &mut Self {
        self.channels.push((name.into(), reducer));
        self
    }

    /// Adds a node running an async closure
    /// `|state: State, ctx: NodeContext| async move { ... Ok(update) }`.
    pub fn add_node<F, Fut>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(State, NodeContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = NodeResult> + Send + 'static,
    {
        self.add_node_impl(name, AsyncFnNode(f))
    }

    /// Adds a node running a synchronous closure
    /// `|state: &State, ctx: &NodeContext| -> NodeResult`. It streams with
    /// [`StreamWriter::write_blocking`](crate::graph::StreamWriter::write_blocking)
    /// and [`NodeContext::emit_message_chunk_blocking`].
    pub fn add_sync_node<F>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(&State, &NodeContext) -> NodeResult + Send + Sync + 'static,
    {
        self.add_node_impl(name, SyncFnNode(Arc::new(f)))
    }

    /// Adds a node of a type implementing [`Node`].
    pub fn add_node_impl(&mut self, name: impl Into<String>, node: impl Node) -> &mut Self {
        self.nodes.push((name.into(), Arc::new(node)));
        self
    }

    /// Adds a node that runs the compiled graph `graph` (a subgraph), as a
    /// compiled LangGraph graph added as a node: on the parent's thread,
    /// under the namespace `<name>:<task id>` (joined to the parent's with
    /// `|`), with the parent's values of the channels it declares as its
    /// input; its final values of the channels the parent declares are the
    /// node's update (through the parent's reducers). An interrupt inside
    /// stops the parent with the same question, and
    /// [`Command::resume`](crate::graph::Command::resume) on the parent
    /// answers it inside. Give both graphs the same saver, so the
    /// subgraph's checkpoints are kept beside the parent's (without one,
    /// the subgraph runs afresh each time and cannot be resumed).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{Command, CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    /// let mut review = StateGraph::new();
    /// review
    ///     .add_channel("draft", Reducer::last_value())
    ///     .add_sync_node("approve", |s, ctx| {
    ///         let ok = ctx.interrupt(json!({"approve": s.get::<String>("draft")?}))?;
    ///         Ok(Update::new().set("draft", format!("{} ({ok})", s.get::<String>("draft")?)))
    ///     })
    ///     .add_edge(START, "approve");
    /// let review = review.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;
    ///
    /// let mut parent = StateGraph::new();
    /// parent
    ///     .add_channel("draft", Reducer::last_value())
    ///     .add_sync_node("write", |_, _| Ok(Update::new().set("draft", "hello")))
    ///     .add_subgraph("review", review)
    ///     .add_edge(START, "write")
    ///     .add_edge("write", "review");
    /// let app = parent.compile(CompileOptions::new().saver(saver))?;
    /// let thread = Config::thread("t");
    /// let out = app.invoke(json!({}), &thread).await?;
    /// assert_eq!(out.interrupts[0].value, json!({"approve": "hello"}));
    /// let out = app.invoke(Command::resume("yes"), &thread).await?;
    /// assert_eq!(out.values["draft"], json!("hello (\"yes\")"));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn add_subgraph(&mut self, name: impl Into<String>, graph: CompiledGraph) -> &mut Self {
        let name = name.into();
        let placeholder = SubgraphNode {
            graph: graph.clone(),
            parent_channels: Arc::new(Vec::new()),
        };
        self.subgraphs.insert(name.clone(), graph);
        self.add_node_impl(name, placeholder)
    }

    /// Adds an edge: after `from` runs, `to` runs in the next step. With
    /// several sources (`add_edge(["a", "b"], "c")`), `to` runs once after
    /// all of them have run.
    pub fn add_edge(&mut self, from: impl Into<EdgeSources>, to: impl Into<String>) -> &mut Self {
        self.edges.push((from.into().0, to.into()));
        self
    }

    /// Adds a conditional edge: after `source` runs, `router` reads the state
    /// (with `source`'s update applied) and returns the next node(s), `END`,
    /// or [`SendTo`](crate::graph::SendTo) packets. `destinations` lists
    /// where it may go, for `compile`'s checks; an empty list means
    /// "any node".
    pub fn add_conditional_edges<F, R>(
        &mut self,
        source: impl Into<String>,
        router: F,
        destinations: &[&str],
    ) -> &mut Self
    where
        F: Fn(&State) -> R + Send + Sync + 'static,
        R: Into<Route>,
    {
        let router: Arc<RouterFn> = Arc::new(move |s: &State| router(s).into());
        self.branches.push((
            source.into(),
            router,
            destinations.iter().map(|d| (*d).to_owned()).collect(),
        ));
        self
    }

    /// Declares where `node` may go with [`Update::goto`](crate::graph::Update::goto),
    /// as LangGraph's `add_node(..., destinations=...)`: for `compile`'s
    /// check that every node can be reached (a node reached only by gotos
    /// needs it). It does not limit the gotos at run time.
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, StateGraph, Update, START};
    ///
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_sync_node("router", |_, _| Ok(Update::new().goto("worker")))
    ///     .add_sync_node("worker", |_, _| Ok(Update::new()))
    ///     .add_edge(START, "router");
    /// // Without the declaration, `worker` is unreachable for `compile`.
    /// assert!(graph.compile(CompileOptions::new()).is_err());
    /// graph.add_destinations("router", &["worker"]);
    /// assert!(graph.compile(CompileOptions::new()).is_ok());
    /// ```
    pub fn add_destinations(
        &mut self,
        node: impl Into<String>,
        destinations: &[&str],
    ) -> &mut Self {
        self.destinations.push((
            node.into(),
            destinations.iter().map(|d| (*d).to_owned()).collect(),
        ));
        self
    }

    /// Retries `node` when it returns an error, as `policy` says (as
    /// LangGraph's `add_node(..., retry_policy=...)`); a later call for the
    /// same node replaces the policy. See [`RetryPolicy`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use checkpointer::graph::{CompileOptions, NodeError, Reducer, RetryPolicy, StateGraph, Update, START};
    /// use checkpointer::Config;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let calls = Arc::new(AtomicU32::new(0));
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("reply", Reducer::last_value())
    ///     .add_sync_node("call_api", {
    ///         let calls = Arc::clone(&calls);
    ///         move |_, _| match calls.fetch_add(1, Ordering::SeqCst) {
    ///             0 => Err(NodeError::msg("503 from the service")),
    ///             _ => Ok(Update::new().set("reply", "ok")),
    ///         }
    ///     })
    ///     .add_retry_policy("call_api", RetryPolicy::new().initial_interval(Duration::ZERO).jitter(false))
    ///     .add_edge(START, "call_api");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let out = app.invoke(json!({}), &Config::default()).await?;
    /// assert_eq!((out.values["reply"].clone(), calls.load(Ordering::SeqCst)), (json!("ok"), 2));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn add_retry_policy(&mut self, node: impl Into<String>, policy: RetryPolicy) -> &mut Self {
        self.retries.insert(node.into(), policy);
        self
    }

    /// Caches `node`'s results as `policy` says (LangGraph's
    /// `add_node(..., cache_policy=...)`), in the store of
    /// [`CompileOptions::cache`](crate::graph::CompileOptions::cache): a
    /// later call with the same input, in this run, another run or
    /// another process sharing the store, gets the stored writes instead
    /// of running the node. A later call for the same node replaces the
    /// policy. See [`CachePolicy`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use checkpointer::graph::{CachePolicy, CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let calls = Arc::new(AtomicU32::new(0));
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("question", Reducer::last_value())
    ///     .add_channel("answer", Reducer::last_value())
    ///     .add_sync_node("expensive", {
    ///         let calls = Arc::clone(&calls);
    ///         move |state, _| {
    ///             calls.fetch_add(1, Ordering::SeqCst);
    ///             Ok(Update::new().set("answer", format!("about {}", state.get::<String>("question")?)))
    ///         }
    ///     })
    ///     .add_cache_policy("expensive", CachePolicy::new())
    ///     .add_edge(START, "expensive");
    /// let store = Arc::new(InMemorySaver::new());
    /// let app = graph.compile(CompileOptions::new().cache(store))?;
    /// for thread in ["a", "b"] {
    ///     let out = app.invoke(json!({"question": "rust"}), &Config::thread(thread)).await?;
    ///     assert_eq!(out.values["answer"], json!("about rust"));
    /// }
    /// // The second thread's call was a cache hit.
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn add_cache_policy(&mut self, node: impl Into<String>, policy: CachePolicy) -> &mut Self {
        self.caches.insert(node.into(), policy);
        self
    }

    /// Checks the graph and makes it runnable.
    ///
    /// Errors ([`GraphError::InvalidGraph`]): duplicate or reserved node or
    /// channel names, edges or interrupt lists naming unknown nodes, no
    /// edge from `START`, and nodes that no path from `START` reaches.
    pub fn compile(&self, options: CompileOptions) -> Result<CompiledGraph, GraphError> {
        let spec = self.build_spec(&options)?;
        Ok(CompiledGraph::new(Arc::new(spec), options))
    }

    fn build_spec(&self, options: &CompileOptions) -> Result<GraphSpec, GraphError> {
        let mut channels = self.state_channels()?;
        let state_channels: Vec<String> = channels.keys().cloned().collect();
        let mut nodes = self.node_specs(&mut channels)?;
        self.check_names(&nodes, options)?;
        self.wire_edges(&mut nodes, &mut channels);
        self.check_reachable(&nodes)?;
        let names: Vec<String> = self.nodes.iter().map(|(n, _)| n.clone()).collect();
        Ok(GraphSpec {
            channels,
            state_channels,
            nodes,
            mermaid: mermaid::render(&names, &self.drawn_edges()),
        })
    }

    /// Every edge as `to_mermaid` draws it: static edges (a join as one
    /// edge from each source) and, dotted, the declared destinations of
    /// conditional edges and of nodes' gotos.
    fn drawn_edges(&self) -> BTreeSet<mermaid::DrawnEdge> {
        let mut edges = BTreeSet::new();
        for (sources, target) in &self.edges {
            for s in sources {
                edges.insert((s.clone(), target.clone(), false));
            }
        }
        let dotted = self
            .branches
            .iter()
            .map(|(source, _, dests)| (source, dests))
            .chain(
                self.destinations
                    .iter()
                    .map(|(source, dests)| (source, dests)),
            );
        for (source, dests) in dotted {
            for d in dests {
                edges.insert((source.clone(), d.clone(), true));
            }
        }
        edges
    }

    /// The declared state channels, checked for reserved and duplicate
    /// names.
    fn state_channels(&self) -> Result<Channels, GraphError> {
        let mut channels = Channels::new();
        for (name, reducer) in &self.channels {
            if name.is_empty() || name.contains(':') || RESERVED.contains(&name.as_str()) {
                return Err(GraphError::invalid_graph(format!(
                    "channel name {name:?} is reserved or invalid (no ':' and no __ names)"
                )));
            }
            if channels
                .insert(name.clone(), ChannelKind::State(reducer.clone()))
                .is_some()
            {
                return Err(GraphError::invalid_graph(format!(
                    "channel {name:?} is declared twice"
                )));
            }
        }
        Ok(channels)
    }

    /// The node's runner: a subgraph's knows the parent's state channels.
    fn runner_of(&self, name: &str, node: &Arc<dyn Node>, channels: &Channels) -> Arc<dyn Node> {
        match self.subgraphs.get(name) {
            Some(graph) => Arc::new(SubgraphNode {
                graph: graph.clone(),
                parent_channels: Arc::new(
                    channels
                        .iter()
                        .filter(|(_, kind)| matches!(kind, ChannelKind::State(_)))
                        .map(|(name, _)| name.clone())
                        .collect(),
                ),
            }),
            None => Arc::clone(node),
        }
    }

    /// The built-in `__start__` node and the declared nodes, each with its
    /// trigger channel (added to `channels`, with `__start__` and
    /// `__pregel_tasks`).
    fn node_specs(&self, channels: &mut Channels) -> Result<Nodes, GraphError> {
        let mut nodes = Nodes::new();
        nodes.insert(
            START.to_owned(),
            NodeSpec {
                runner: None,
                triggers: vec![START_CHANNEL.to_owned()],
                ..NodeSpec::default()
            },
        );
        channels.insert(START_CHANNEL.to_owned(), ChannelKind::Ephemeral);
        channels.insert(TASKS.to_owned(), ChannelKind::Tasks);
        for (name, node) in &self.nodes {
            if name.is_empty()
                || name.contains(':')
                || name.starts_with("__")
                || RESERVED.contains(&name.as_str())
            {
                return Err(GraphError::invalid_graph(format!(
                    "node name {name:?} is reserved or invalid (no ':' and no leading '__')"
                )));
            }
            if nodes.contains_key(name) {
                return Err(GraphError::invalid_graph(format!(
                    "node {name:?} is added twice"
                )));
            }
            let trigger = branch_channel(name);
            channels.insert(trigger.clone(), ChannelKind::Ephemeral);
            nodes.insert(
                name.clone(),
                NodeSpec {
                    runner: Some(self.runner_of(name, node, channels)),
                    triggers: vec![trigger],
                    retry: self.retries.get(name).cloned(),
                    cache: self.caches.get(name).cloned(),
                    subgraph: self.subgraphs.get(name).cloned(),
                    ..NodeSpec::default()
                },
            );
        }
        Ok(nodes)
    }

    /// Checks that edges, conditional edges and interrupt lists name nodes
    /// of the graph.
    fn check_names(&self, nodes: &Nodes, options: &CompileOptions) -> Result<(), GraphError> {
        let known = |n: &str, what: &str| -> Result<(), GraphError> {
            let ok = match what {
                "source" => nodes.contains_key(n),
                _ => n == END || (nodes.contains_key(n) && n != START),
            };
            if ok {
                Ok(())
            } else {
                Err(GraphError::invalid_graph(format!(
                    "edge {what} {n:?} is not a node of the graph"
                )))
            }
        };
        for (sources, target) in &self.edges {
            if sources.is_empty() {
                return Err(GraphError::invalid_graph(format!(
                    "edge to {target:?} has no source"
                )));
            }
            for s in sources {
                known(s, "source")?;
            }
            known(target, "target")?;
        }
        for (source, _, dests) in &self.branches {
            known(source, "source")?;
            for d in dests {
                known(d, "target")?;
            }
        }
        for node in self.retries.keys() {
            if !nodes.contains_key(node) || node == START {
                return Err(GraphError::invalid_graph(format!(
                    "a retry policy names {node:?}, which is not a node of the graph"
                )));
            }
        }
        for node in self.caches.keys() {
            if !nodes.contains_key(node) || node == START {
                return Err(GraphError::invalid_graph(format!(
                    "a cache policy names {node:?}, which is not a node of the graph"
                )));
            }
        }
        for (source, dests) in &self.destinations {
            known(source, "source")?;
            for d in dests {
                known(d, "target")?;
            }
        }
        for (list, what) in [
            (&options.interrupt_before, "interrupt_before"),
            (&options.interrupt_after, "interrupt_after"),
        ] {
            for n in list {
                if !nodes.contains_key(n) || n == START {
                    return Err(GraphError::invalid_graph(format!(
                        "{what} names {n:?}, which is not a node of the graph"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Wires edges into the nodes: static successors, join barriers (a
    /// channel each, written by the sources, triggering the target) and
    /// routers.
    fn wire_edges(&self, nodes: &mut Nodes, channels: &mut Channels) {
        for (sources, target) in &self.edges {
            if sources.len() == 1 {
                if target != END
                    && let Some(spec) = nodes.get_mut(&sources[0])
                    && !spec.successors.contains(target)
                {
                    spec.successors.push(target.clone());
                }
                continue;
            }
            let mut names = sources.clone();
            names.sort();
            names.dedup();
            if target == END {
                continue;
            }
            let channel = join_channel(&names, target);
            channels.insert(channel.clone(), ChannelKind::Barrier(names.clone()));
            for s in &names {
                if let Some(spec) = nodes.get_mut(s) {
                    spec.joins.push(channel.clone());
                }
            }
            if let Some(spec) = nodes.get_mut(target) {
                spec.triggers.push(channel);
            }
        }
        for (source, router, _) in &self.branches {
            if let Some(spec) = nodes.get_mut(source) {
                spec.routers.push(Arc::clone(router));
            }
        }
    }

    /// Checks that `START` has an edge and that every node (and every
    /// join's every source) can be reached from it, unless a reached
    /// router may go anywhere.
    fn check_reachable(&self, nodes: &Nodes) -> Result<(), GraphError> {
        let start = &nodes[START];
        if start.successors.is_empty() && start.routers.is_empty() {
            return Err(GraphError::invalid_graph(
                "no edge from START: add `add_edge(START, <first node>)` or a conditional edge from START",
            ));
        }
        let (reached, open_router_reached) = self.reached_from_start(nodes);
        if open_router_reached {
            return Ok(());
        }
        let unreachable: Vec<&String> = nodes.keys().filter(|n| !reached.contains(*n)).collect();
        if !unreachable.is_empty() {
            return Err(GraphError::invalid_graph(format!(
                "nodes {unreachable:?} can never run: no path from START reaches them \
                 (add an edge, or list them in a conditional edge's destinations)"
            )));
        }
        // A join whose sources are not all reachable can never fire.
        for (sources, target) in &self.edges {
            if sources.len() > 1
                && let Some(missing) = sources.iter().find(|s| !reached.contains(*s))
            {
                return Err(GraphError::invalid_graph(format!(
                    "the join into {target:?} waits for {missing:?}, which can never run"
                )));
            }
        }
        Ok(())
    }

    /// The nodes a path from `START` reaches, and whether it reaches a
    /// router without a destination list (which may go anywhere).
    fn reached_from_start(&self, nodes: &Nodes) -> (BTreeSet<String>, bool) {
        let mut reached: BTreeSet<String> = BTreeSet::new();
        let mut queue: VecDeque<String> = VecDeque::from([START.to_owned()]);
        let mut open_router_reached = false;
        while let Some(n) = queue.pop_front() {
            if !reached.insert(n.clone()) {
                continue;
            }
            let mut next: Vec<String> = nodes
                .get(&n)
                .map(|s| s.successors.clone())
                .unwrap_or_default();
            for (source, _, dests) in &self.branches {
                if *source == n {
                    if dests.is_empty() {
                        open_router_reached = true;
                    }
                    next.extend(dests.iter().filter(|d| *d != END).cloned());
                }
            }
            for (sources, target) in &self.edges {
                if sources.len() > 1 && sources.contains(&n) && target != END {
                    next.push(target.clone());
                }
            }
            for (source, dests) in &self.destinations {
                if *source == n {
                    next.extend(dests.iter().filter(|d| *d != END).cloned());
                }
            }
            queue.extend(next);
        }
        (reached, open_router_reached)
    }
}
