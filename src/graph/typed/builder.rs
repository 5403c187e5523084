//! `TypedStateGraph`: a [`StateGraph`] whose channels are a struct's
//! fields and whose nodes read the struct and return its partial update.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::GraphState;
use super::command::TypedCommand;
use super::compiled::TypedGraph;
use super::decode::decode_shared;
use crate::graph::builder::{EdgeSources, StateGraph};
use crate::graph::error::GraphError;
use crate::graph::interrupt::Route;
use crate::graph::node::{Node, NodeContext, NodeError, NodeResult};
use crate::graph::options::CompileOptions;
use crate::graph::retry::RetryPolicy;
use crate::graph::state::{State, Update};

/// A graph under construction whose state is the struct `S` (see
/// [`GraphState`] and the [typed state](crate::graph::GraphState) docs).
///
/// The same builder as [`StateGraph`], with typed nodes and routers: a
/// node gets the state as an `S` (a sync node `&S`, an async one an
/// `Arc<S>` it can hold across `.await`s) and returns an `S::Update`.
/// Edges, retry policies, subgraphs and compile options are
/// [`StateGraph`]'s.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::graph::{CompileOptions, GraphState, NodeError, TypedStateGraph, START, END};
/// use checkpointer::{Config, InMemorySaver};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(GraphState, Serialize, Deserialize, Clone, Debug)]
/// struct Counter {
///     #[state(add)]
///     n: i64,
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut graph = TypedStateGraph::<Counter>::new();
/// graph
///     .add_node("bump", |state: Arc<Counter>, _ctx| async move {
///         Ok::<_, NodeError>(CounterUpdate::default().n(state.n + 1))
///     })
///     // Loop until n passes 10 (each step adds n + 1 to n).
///     .add_conditional_edges("bump", |c: &Counter| if c.n > 10 { END } else { "bump" }, &["bump", END])
///     .add_edge(START, "bump");
/// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
/// let out = app.invoke(CounterUpdate::default(), &Config::thread("t")).await?;
/// assert_eq!(out.values.n, 15); // 0 -> 1 -> 3 -> 7 -> 15
/// # Ok::<(), checkpointer::graph::GraphError>(())
/// # }).unwrap();
/// ```
pub struct TypedStateGraph<S: GraphState> {
    graph: StateGraph,
    state: PhantomData<fn() -> S>,
}

impl<S: GraphState> fmt::Debug for TypedStateGraph<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedStateGraph")
            .field("state", &std::any::type_name::<S>())
            .field("graph", &self.graph)
            .finish()
    }
}

impl<S: GraphState> Default for TypedStateGraph<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: GraphState> TypedStateGraph<S> {
    /// A graph with a channel per field of `S`, and no nodes yet.
    pub fn new() -> Self {
        let mut graph = StateGraph::new();
        for (name, reducer) in S::channels() {
            graph.add_channel(name, reducer);
        }
        TypedStateGraph {
            graph,
            state: PhantomData,
        }
    }

    /// Adds a node running an async closure
    /// `|state: Arc<S>, ctx: NodeContext| async move { ... Ok(update) }`;
    /// it returns an `S::Update`, or a [`TypedCommand`] to route too.
    pub fn add_node<F, Fut, R>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(Arc<S>, NodeContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
        R: Into<TypedCommand<S>>,
    {
        self.graph
            .add_node_impl(name, TypedAsyncNode(f, PhantomData));
        self
    }

    /// Adds a node running a synchronous closure
    /// `|state: &S, ctx: &NodeContext| -> Result<S::Update, NodeError>`
    /// (or a [`TypedCommand`] to route too).
    pub fn add_sync_node<F, R>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(&S, &NodeContext) -> Result<R, NodeError> + Send + Sync + 'static,
        R: Into<TypedCommand<S>>,
    {
        self.graph
            .add_node_impl(name, TypedSyncNode(f, PhantomData));
        self
    }

    /// Adds an edge, as [`StateGraph::add_edge`].
    pub fn add_edge(&mut self, from: impl Into<EdgeSources>, to: impl Into<String>) -> &mut Self {
        self.graph.add_edge(from, to);
        self
    }

    /// Adds a conditional edge, as [`StateGraph::add_conditional_edges`],
    /// whose router reads the state as an `S` (with `source`'s update
    /// applied). A router cannot fail: if that state does not decode, the
    /// router panics with the [`StateDecodeError`](super::StateDecodeError)
    /// text, and the runtime reports the task as
    /// [`GraphError::NodePanicked`].
    pub fn add_conditional_edges<F, R>(
        &mut self,
        source: impl Into<String>,
        router: F,
        destinations: &[&str],
    ) -> &mut Self
    where
        F: Fn(&S) -> R + Send + Sync + 'static,
        R: Into<Route>,
    {
        let source = source.into();
        let node = source.clone();
        self.graph.add_conditional_edges(
            source,
            move |state: &State| typed_route(&router, state, &node),
            destinations,
        );
        self
    }

    /// Declares where a node's gotos may lead, as
    /// [`StateGraph::add_destinations`].
    pub fn add_destinations(
        &mut self,
        node: impl Into<String>,
        destinations: &[&str],
    ) -> &mut Self {
        self.graph.add_destinations(node, destinations);
        self
    }

    /// Retries `node` as `policy` says, as [`StateGraph::add_retry_policy`].
    /// A state that does not decode is not retried.
    pub fn add_retry_policy(&mut self, node: impl Into<String>, policy: RetryPolicy) -> &mut Self {
        self.graph.add_retry_policy(node, policy);
        self
    }

    /// Adds a node that runs a compiled graph, as
    /// [`StateGraph::add_subgraph`] (a typed one through
    /// [`TypedGraph::json`]).
    pub fn add_subgraph(
        &mut self,
        name: impl Into<String>,
        graph: crate::graph::CompiledGraph,
    ) -> &mut Self {
        self.graph.add_subgraph(name, graph);
        self
    }

    /// Checks the graph and makes it runnable, as [`StateGraph::compile`].
    pub fn compile(&self, options: CompileOptions) -> Result<TypedGraph<S>, GraphError> {
        Ok(TypedGraph::new(self.graph.compile(options)?))
    }
}

/// A typed router's route; a state that does not decode panics (a router
/// cannot return an error; the runtime catches it).
fn typed_route<S: GraphState, R: Into<Route>>(
    router: &impl Fn(&S) -> R,
    state: &State,
    node: &str,
) -> Route {
    match decode_shared::<S>(state) {
        Ok(typed) => router(&typed).into(),
        Err(e) => panic!("the router after {node:?}: {e}"),
    }
}

/// A typed node's return (an update or a command) as the runtime's update.
fn into_update<S: GraphState>(returned: impl Into<TypedCommand<S>>) -> Update {
    returned.into().into()
}

/// An async typed node: decodes (or shares) the state, runs the closure.
struct TypedAsyncNode<S, F>(F, PhantomData<fn() -> S>);

impl<S, F, Fut, R> Node for TypedAsyncNode<S, F>
where
    S: GraphState,
    F: Fn(Arc<S>, NodeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
    R: Into<TypedCommand<S>>,
{
    fn call(&self, state: State, ctx: NodeContext) -> BoxFuture<'static, NodeResult> {
        let typed = match decode_shared::<S>(&state) {
            Ok(typed) => typed,
            Err(e) => return Box::pin(std::future::ready(Err(e.into()))),
        };
        let run = (self.0)(typed, ctx);
        Box::pin(async move { run.await.map(into_update) })
    }
}

/// A sync typed node.
struct TypedSyncNode<S, F>(F, PhantomData<fn() -> S>);

impl<S, F, R> Node for TypedSyncNode<S, F>
where
    S: GraphState,
    F: Fn(&S, &NodeContext) -> Result<R, NodeError> + Send + Sync + 'static,
    R: Into<TypedCommand<S>>,
{
    fn call(&self, state: State, ctx: NodeContext) -> BoxFuture<'static, NodeResult> {
        let result = decode_shared::<S>(&state)
            .map_err(NodeError::from)
            .and_then(|typed| (self.0)(&typed, &ctx))
            .map(into_update);
        Box::pin(std::future::ready(result))
    }
}
