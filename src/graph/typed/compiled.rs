//! `TypedGraph`: a [`CompiledGraph`] whose input, outcomes and snapshots
//! are its typed state.

use std::fmt;
use std::marker::PhantomData;

use serde_json::Value;

use super::GraphState;
use crate::graph::compiled::CompiledGraph;
use crate::graph::error::GraphError;
use crate::graph::interrupt::{Command, Interrupt};
use crate::graph::io::{Input, RunNotice, RunOutcome};
use crate::graph::options::RunOptions;
use crate::graph::snapshot::{StateSnapshot, TaskSnapshot};
use crate::graph::spec::START;
use crate::graph::state::{State, Update};
use crate::graph::stream::{GraphStream, StreamMode};
use crate::saver::{CheckpointMetadata, Config, ListOptions};

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
            TypedInput::Values(update) => Into::<Update>::into(update)
                .into_value()
                .map(Input::Values)
                .map_err(|reason| GraphError::InvalidUpdate {
                    node: START.to_owned(),
                    step: -1,
                    thread_id: config.thread_id.clone(),
                    reason,
                }),
            TypedInput::Continue => Ok(Input::Continue),
            TypedInput::Command(c) => Ok(Input::Command(c)),
        }
    }
}

/// How a typed run ended: [`RunOutcome`] with the values as the struct.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TypedOutcome<S> {
    /// The state.
    pub values: S,
    /// The nodes that run when the thread is continued; empty when done.
    pub next: Vec<String>,
    /// The dynamic interrupts the run stopped on.
    pub interrupts: Vec<Interrupt>,
    /// The config of the last checkpoint (with a saver).
    pub config: Option<Config>,
    /// Likely mistakes in how the run was asked for ([`RunNotice`]).
    pub notices: Vec<RunNotice>,
}

impl<S> TypedOutcome<S> {
    /// Whether the run stopped before the end (an interrupt).
    pub fn is_interrupted(&self) -> bool {
        !self.next.is_empty()
    }
}

/// A checkpoint's state: [`StateSnapshot`] with the values as the struct.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TypedSnapshot<S> {
    /// The state at the checkpoint.
    pub values: S,
    /// The nodes that run next from here.
    pub next: Vec<String>,
    /// The config naming this checkpoint.
    pub config: Config,
    /// The config of the parent checkpoint.
    pub parent_config: Option<Config>,
    /// The checkpoint's metadata (`None` for a thread with no checkpoint).
    pub metadata: Option<CheckpointMetadata>,
    /// When the checkpoint was made.
    pub created_at: Option<String>,
    /// The tasks of the next step.
    pub tasks: Vec<TaskSnapshot>,
    /// The interrupts pending at this checkpoint.
    pub interrupts: Vec<Interrupt>,
}

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

    /// Streams the run's events, as [`CompiledGraph::stream`] (values as
    /// JSON; [`decode`](Self::decode) reads them as an `S`). An input that
    /// does not encode ends the stream with its error.
    pub fn stream(
        &self,
        input: impl Into<TypedInput<S>>,
        config: &Config,
        mode: StreamMode,
    ) -> GraphStream {
        match input.into().into_input(config) {
            Ok(input) => self.graph.stream(input, config, mode),
            Err(e) => GraphStream::failed(e),
        }
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
        let values = Into::<Update>::into(update)
            .into_value()
            .map_err(|reason| GraphError::InvalidUpdate {
                node: as_node.unwrap_or("__update__").to_owned(),
                step: -1,
                thread_id: config.thread_id.clone(),
                reason,
            })?;
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
        .and_then(|c| c.checkpoint_id.as_ref());
    Ok(TypedOutcome {
        values: decode_at(outcome.values, &config.thread_id, at)?,
        next: outcome.next,
        interrupts: outcome.interrupts,
        config: outcome.config,
        notices: outcome.notices,
    })
}

fn typed_snapshot<S: GraphState>(s: StateSnapshot) -> Result<TypedSnapshot<S>, GraphError> {
    Ok(TypedSnapshot {
        values: decode_at(
            s.values,
            &s.config.thread_id,
            s.config.checkpoint_id.as_ref(),
        )?,
        next: s.next,
        config: s.config,
        parent_config: s.parent_config,
        metadata: s.metadata,
        created_at: s.created_at,
        tasks: s.tasks,
        interrupts: s.interrupts,
    })
}
