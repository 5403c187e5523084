//! `TypedCommand`: a typed node's update with where to go next, as the
//! JSON API's [`Update::goto`] and [`Update::to_parent`] give it.

use std::fmt;
use std::marker::PhantomData;

use super::GraphState;
use crate::graph::interrupt::Goto;
use crate::graph::state::Update;
use crate::graph::task::SendTo;

/// What a typed node returns to route as well as write, as a LangGraph
/// node returns `Command(update=..., goto=..., graph=...)`: the state's
/// partial update, the nodes (or [`SendTo`] packets) to run next, and
/// whether it is for the parent graph.
///
/// A typed node returns either `S::Update` or a `TypedCommand<S>` (the
/// derived update type converts into it). The gotos behave as
/// [`Update::goto`]'s: the node's edges still apply, a name that is not a
/// node fails the task with
/// [`GraphError::InvalidUpdate`](crate::graph::GraphError::InvalidUpdate),
/// and [`add_destinations`](super::TypedStateGraph::add_destinations)
/// tells `compile` where they lead.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::graph::{CompileOptions, GraphState, NodeError, TypedCommand, TypedStateGraph, START};
/// use checkpointer::{Config, InMemorySaver};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(GraphState, Serialize, Deserialize, Clone, Debug)]
/// struct Ticket {
///     topic: String,
///     #[state(append)]
///     log: Vec<String>,
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut graph = TypedStateGraph::<Ticket>::new();
/// graph
///     .add_sync_node("triage", |t: &Ticket, _| {
///         let desk = if t.topic == "invoice" { "billing" } else { "support" };
///         Ok(TypedCommand::new(TicketUpdate::default().log(vec![format!("to {desk}")]))
///             .goto(desk)
///             // `notify` runs with this packet as its state.
///             .send("notify", TicketUpdate::default().topic(t.topic.clone())))
///     })
///     .add_sync_node("billing", |_, _| Ok(TicketUpdate::default().log(vec!["billed".into()])))
///     .add_sync_node("support", |_, _| Ok(TicketUpdate::default().log(vec!["helped".into()])))
///     .add_sync_node("notify", |t: &Ticket, _| {
///         Ok(TicketUpdate::default().log(vec![format!("notified about {}", t.topic)]))
///     })
///     .add_destinations("triage", &["billing", "support", "notify"])
///     .add_edge(START, "triage");
/// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
/// let out = app.invoke(TicketUpdate::default().topic("invoice"), &Config::thread("t")).await?;
/// assert_eq!(out.values.log, ["to billing", "billed", "notified about invoice"]);
/// # Ok::<(), checkpointer::graph::GraphError>(())
/// # }).unwrap();
/// ```
pub struct TypedCommand<S: GraphState> {
    update: Update,
    state: PhantomData<fn() -> S>,
}

impl<S: GraphState> TypedCommand<S> {
    /// A command that writes `update` and goes nowhere else yet.
    pub fn new(update: S::Update) -> Self {
        Self::from_update(update.into())
    }

    /// A command for the graph that runs this one as a subgraph, whose
    /// state is `P`, as [`Update::to_parent`]: this run stops in this
    /// step and the parent's subgraph task returns `update` and the
    /// gotos added after (names of the parent's nodes). For a parent with
    /// the same state type, [`to_parent`](Self::to_parent) says the same.
    pub fn for_parent<P: GraphState>(update: P::Update) -> Self {
        Self::from_update(Into::<Update>::into(update).to_parent())
    }

    fn from_update(update: Update) -> Self {
        TypedCommand {
            update,
            state: PhantomData,
        }
    }

    /// The same command, also running `goto` in the next step: a node by
    /// name, or a [`SendTo`] packet of JSON, as [`Update::goto`].
    #[must_use]
    pub fn goto(self, goto: impl Into<Goto>) -> Self {
        Self::from_update(self.update.goto(goto))
    }

    /// The same command, also running `node` (of the graph whose state is
    /// `S`) in the next step with `packet` as its whole state (LangGraph's
    /// `Send(node, arg)`): the fields it sets, the others unwritten. (For
    /// a parent of another state, [`goto`](Self::goto) a [`SendTo`].) A packet that JSON cannot hold
    /// (a NaN) fails the task with
    /// [`GraphError::InvalidUpdate`](crate::graph::GraphError::InvalidUpdate).
    #[must_use]
    pub fn send(self, node: impl Into<String>, packet: S::Update) -> Self {
        let node = node.into();
        match Into::<Update>::into(packet).into_value() {
            Ok(arg) => self.goto(SendTo::new(node, arg)),
            Err(reason) => Self::from_update(
                self.update
                    .refused(format!("the packet sent to {node:?}: {reason}")),
            ),
        }
    }

    /// The same command, for the graph that runs this one as a subgraph
    /// (whose state is `S` too), as [`Update::to_parent`].
    #[must_use]
    pub fn to_parent(self) -> Self {
        Self::from_update(self.update.to_parent())
    }
}

impl<S: GraphState> Default for TypedCommand<S> {
    /// A command that writes nothing and goes nowhere.
    fn default() -> Self {
        Self::from_update(Update::new())
    }
}

impl<S: GraphState> Clone for TypedCommand<S> {
    fn clone(&self) -> Self {
        Self::from_update(self.update.clone())
    }
}

impl<S: GraphState> fmt::Debug for TypedCommand<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedCommand")
            .field("state", &std::any::type_name::<S>())
            .field("update", &self.update)
            .finish()
    }
}

impl<S: GraphState> From<TypedCommand<S>> for Update {
    fn from(command: TypedCommand<S>) -> Self {
        command.update
    }
}
