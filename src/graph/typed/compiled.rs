//! `TypedGraph`: a [`CompiledGraph`] whose input, outcomes and snapshots
//! are its typed state.

use std::fmt;
use std::marker::PhantomData;

use serde_json::Value;

use super::GraphState;
use super::stream::TypedStream;
use crate::graph::compiled::CompiledGraph;
use crate::graph::error::GraphError;
use crate::graph::interrupt::Command;
use crate::graph::io::{Input, RunOutcome};
use crate::graph::options::RunOptions;
use crate::graph::snapshot::StateSnapshot;
use crate::graph::spec::START;
use crate::graph::state::{State, Update};
use crate::graph::stream::GraphStream;
use crate::graph::stream_options::StreamOptions;
use crate::saver::{Config, ListOptions};

/// The input of a typed run: new values as the state's update type, or
/// [`Input::Continue`]'s and [`Command`]'s meaning. `S::Update` (when
/// derived) and [`Command`] convert into it.
pub enum TypedInput<S: GraphState> {
    /// New values: the fields set are written, through their reducers.
    Values(S::Update),
    /// Continue the thread where it stopped, as [`Input::Continue`].
    Continue,
    /// Answer interrupts, update the state, or jump, as [`Input::Command`].
    Command(Command),
}

impl<S: GraphState> fmt::Debug for TypedInput<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypedInput::Values(_) => f.write_str("TypedInput::Values(..)"),
            TypedInput::Continue => f.write_str("TypedInput::Continue"),
            TypedInput::Command(c) => f.debug_tuple("TypedInput::Command").field(c).finish(),
        }
    }
}

impl<S: GraphState> From<Command> for TypedInput<S> {
    fn from(command: Command) -> Self {
        TypedInput::Command(command)
    }
}

impl<S: GraphState> TypedInput<S> {
    /// The JSON API's input; an update the JSON cannot hold (a NaN) is
    /// [`GraphError::InvalidUpdate`] from `__start__`.
    fn into_input(self, config: &Config) -> Result<Input, GraphError> {
        match self {
            TypedInput::Values(update) => encode_update(update, START, config).map(Input::Values),
            TypedInput::Continue => Ok(Input::Continue),
            TypedInput::Command(c) => Ok(Input::Command(c)),
        }
    }
}

/// `update`'s writes as the JSON object the JSON API takes, written as
/// `node` would; one that JSON cannot hold is [`GraphError::InvalidUpdate`].
fn encode_update<U: Into<Update>>(
    update: U,
    node: &str,
    config: &Config,
) -> Result<Value, GraphError> {
    Into::<Update>::into(update)
        .into_value()
        .map_err(|reason| GraphError::InvalidUpdate {
            node: node.to_owned(),
            step: -1,
            thread_id: config.thread_id.clone(),
            reason,
        })
}

/// How a typed run ended: [`RunOutcome`] with the values as the struct.
pub type TypedOutcome<S> = RunOutcome<S>;

/// A checkpoint's state: [`StateSnapshot`] with the values as the struct.
pub type TypedSnapshot<S> = StateSnapshot<S>;

/// A runnable typed graph, from [`TypedStateGraph::compile`](super::TypedStateGraph::compile).
/// Cheap to clone. Its methods are [`CompiledGraph`]'s with typed input
/// and output; [`json`](Self::json) is the JSON view of the same graph.
pub struct TypedGraph<S: GraphState> {
    graph: CompiledGraph,
    state: PhantomData<fn() -> S>,
}

impl<S: GraphState> Clone for TypedGraph<S> {
    fn clone(&self) -> Self {
        TypedGraph::new(self.graph.clone())
    }
}

impl<S: GraphState> fmt::Debug for TypedGraph<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedGraph")
            .field("state", &std::any::type_name::<S>())
            .field("graph", &self.graph)
            .finish()
    }
}

impl<S: GraphState> TypedGraph<S> {
    pub(super) fn new(graph: CompiledGraph) -> Self {
        TypedGraph {
            graph,
            state: PhantomData,
        }
    }

    /// The same graph through the JSON API (streams, `update_state` with
    /// JSON, a subgraph of another graph).
    pub fn json(&self) -> &CompiledGraph {
        &self.graph
    }

    /// `values` (a JSON object of channel values, as a snapshot or a
    /// [`StreamEvent::Values`](crate::graph::StreamEvent::Values) holds
    /// them) as an `S`.
    pub fn decode(values: &Value) -> Result<S, super::StateDecodeError> {
        S::from_state(&State::from_value(values.clone()))
    }

    /// Runs the graph, as [`CompiledGraph::invoke`]; the outcome's values
    /// as an `S`.
    pub async fn invoke(
        &self,
        input: impl Into<TypedInput<S>>,
        config: &Config,
    ) -> Result<TypedOutcome<S>, GraphError> {
        self.invoke_with(input, config, &RunOptions::new()).await
    }

    /// Runs the graph with per-run options, as [`CompiledGraph::invoke_with`].
    pub async fn invoke_with(
        &self,
        input: impl Into<TypedInput<S>>,
        config: &Config,
        options: &RunOptions,
    ) -> Result<TypedOutcome<S>, GraphError> {
        let input = input.into().into_input(config)?;
        let outcome = self.graph.invoke_with(input, config, options).await?;
        typed_outcome(outcome, config)
    }

    /// Streams the run's events, as [`CompiledGraph::stream`], with
    /// `values` events as an `S` (decoded once per step) and `updates`
    /// events as an `S::Update` ([`TypedEvent`](super::TypedEvent)); other modes come as they
    /// are. An input that does not encode ends the stream with its error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, GraphState, NodeError, StreamEvent, StreamMode, TypedEvent, TypedStateGraph, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use futures::StreamExt;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(GraphState, Serialize, Deserialize, Clone, Debug)]
    /// struct Count {
    ///     #[state(add)]
    ///     n: i64,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = TypedStateGraph::<Count>::new();
    /// graph
    ///     .add_node("bump", |c: Arc<Count>, ctx| async move {
    ///         ctx.writer().write(format!("bumping {}", c.n)).await;
    ///         Ok::<_, NodeError>(CountUpdate::default().n(2))
    ///     })
    ///     .add_edge(START, "bump");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let mut events = app.stream(
    ///     CountUpdate::default().n(1),
    ///     &Config::thread("t"),
    ///     [StreamMode::Values, StreamMode::Updates, StreamMode::Custom],
    /// );
    /// let mut seen = Vec::new();
    /// while let Some(event) = events.next().await {
    ///     seen.push(match event? {
    ///         TypedEvent::Values { values, .. } => format!("n = {}", values.n),
    ///         TypedEvent::Updates { node, update, .. } => format!("{node} adds {:?}", update.n),
    ///         TypedEvent::Event(StreamEvent::Custom { value, .. }) => value.to_string(),
    ///         _ => continue,
    ///     });
    /// }
    /// // The input checkpoint (nothing written yet), the input, the node.
    /// assert_eq!(seen, ["n = 0", "n = 1", "\"bumping 1\"", "bump adds Some(2)", "n = 3"]);
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn stream(
        &self,
        input: impl Into<TypedInput<S>>,
        config: &Config,
        modes: impl Into<StreamOptions>,
    ) -> TypedStream<S> {
        self.stream_with(input, config, modes, &RunOptions::new())
    }

    /// Like [`stream`](Self::stream), with per-run options, as
    /// [`CompiledGraph::stream_with`].
    pub fn stream_with(
        &self,
        input: impl Into<TypedInput<S>>,
        config: &Config,
        modes: impl Into<StreamOptions>,
        options: &RunOptions,
    ) -> TypedStream<S> {
        let events = match input.into().into_input(config) {
            Ok(input) => self.graph.stream_with(input, config, modes, options),
            Err(e) => GraphStream::failed(e),
        };
        TypedStream::new(events, config.thread_id.clone())
    }

    /// The state at the checkpoint `config` names (the latest if none), as
    /// [`CompiledGraph::get_state`]. A thread with no checkpoint reads as
    /// the state of no values (reducer defaults; a decode error if a field
    /// needs a value).
    pub async fn get_state(&self, config: &Config) -> Result<TypedSnapshot<S>, GraphError> {
        typed_snapshot(self.graph.get_state(config).await?)
    }

    /// The thread's checkpoints, newest first, as
    /// [`CompiledGraph::get_state_history`].
    pub async fn get_state_history(
        &self,
        config: &Config,
        options: &ListOptions,
    ) -> Result<Vec<TypedSnapshot<S>>, GraphError> {
        self.graph
            .get_state_history(config, options)
            .await?
            .into_iter()
            .map(typed_snapshot)
            .collect()
    }

    /// Writes `update` as if `as_node` had returned it, as
    /// [`CompiledGraph::update_state`].
    pub async fn update_state(
        &self,
        config: &Config,
        update: S::Update,
        as_node: Option<&str>,
    ) -> Result<Config, GraphError> {
        let values = encode_update(update, as_node.unwrap_or("__update__"), config)?;
        self.graph.update_state(config, values, as_node).await
    }
}

fn decode_at<S: GraphState>(
    values: Value,
    thread_id: &str,
    checkpoint_id: Option<&String>,
) -> Result<S, GraphError> {
    S::from_state(&State::from_value(values)).map_err(|source| GraphError::StateDecode {
        thread_id: thread_id.to_owned(),
        checkpoint_id: checkpoint_id.cloned(),
        source,
    })
}

fn typed_outcome<S: GraphState>(
    outcome: RunOutcome,
    config: &Config,
) -> Result<TypedOutcome<S>, GraphError> {
    let at = outcome
        .config
        .as_ref()
        .and_then(|c| c.checkpoint_id.clone());
    outcome.try_map_values(|values| decode_at(values, &config.thread_id, at.as_ref()))
}

fn typed_snapshot<S: GraphState>(s: StateSnapshot) -> Result<TypedSnapshot<S>, GraphError> {
    let (thread_id, at) = (s.config.thread_id.clone(), s.config.checkpoint_id.clone());
    s.try_map_values(|values| decode_at(values, &thread_id, at.as_ref()))
}
