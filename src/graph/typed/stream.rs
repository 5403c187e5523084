//! `TypedStream`: a typed graph's stream, with `values` events as the
//! struct and `updates` events as its update type.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use super::GraphState;
use crate::graph::error::GraphError;
use crate::graph::state::State;
use crate::graph::stream::{GraphStream, StreamEvent};

/// One event of a typed run's stream
/// ([`TypedGraph::stream`](super::TypedGraph::stream)).
///
/// The modes whose payload is the state come typed; every other event
/// (tasks, checkpoints, custom, messages, debug, a subgraph's events, the
/// closing [`StreamEvent::Interrupt`]) comes as it is, in
/// [`TypedEvent::Event`].
#[non_exhaustive]
pub enum TypedEvent<S: GraphState> {
    /// [`StreamMode::Values`](crate::graph::StreamMode::Values): the state
    /// after `step`, decoded once.
    Values {
        /// The superstep (`-1`-based, as in checkpoint metadata).
        step: i64,
        /// The state.
        values: S,
    },
    /// [`StreamMode::Updates`](crate::graph::StreamMode::Updates): what one
    /// node wrote. Writes that do not read as `S::Update` (a JSON node's
    /// single item for an `append` field, say) come as
    /// [`StreamEvent::Updates`] in [`TypedEvent::Event`] instead.
    Updates {
        /// The superstep.
        step: i64,
        /// The node.
        node: String,
        /// Its writes: the fields it set.
        update: S::Update,
        /// Whether the writes came from the node cache.
        cached: bool,
    },
    /// Any other event, as [`CompiledGraph::stream`](crate::graph::CompiledGraph::stream)
    /// gives it.
    Event(StreamEvent),
}

impl<S> fmt::Debug for TypedEvent<S>
where
    S: GraphState + fmt::Debug,
    S::Update: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypedEvent::Values { step, values } => f
                .debug_struct("Values")
                .field("step", step)
                .field("values", values)
                .finish(),
            TypedEvent::Updates {
                step,
                node,
                update,
                cached,
            } => f
                .debug_struct("Updates")
                .field("step", step)
                .field("node", node)
                .field("update", update)
                .field("cached", cached)
                .finish(),
            TypedEvent::Event(event) => f.debug_tuple("Event").field(event).finish(),
        }
    }
}

impl<S> Clone for TypedEvent<S>
where
    S: GraphState + Clone,
    S::Update: Clone,
{
    fn clone(&self) -> Self {
        match self {
            TypedEvent::Values { step, values } => TypedEvent::Values {
                step: *step,
                values: values.clone(),
            },
            TypedEvent::Updates {
                step,
                node,
                update,
                cached,
            } => TypedEvent::Updates {
                step: *step,
                node: node.clone(),
                update: update.clone(),
                cached: *cached,
            },
            TypedEvent::Event(event) => TypedEvent::Event(event.clone()),
        }
    }
}

impl<S> PartialEq for TypedEvent<S>
where
    S: GraphState + PartialEq,
    S::Update: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                TypedEvent::Values { step, values },
                TypedEvent::Values {
                    step: other_step,
                    values: other_values,
                },
            ) => step == other_step && values == other_values,
            (
                TypedEvent::Updates {
                    step,
                    node,
                    update,
                    cached,
                },
                TypedEvent::Updates {
                    step: other_step,
                    node: other_node,
                    update: other_update,
                    cached: other_cached,
                },
            ) => {
                step == other_step
                    && node == other_node
                    && update == other_update
                    && cached == other_cached
            }
            (TypedEvent::Event(a), TypedEvent::Event(b)) => a == b,
            _ => false,
        }
    }
}

/// An async stream of [`TypedEvent`]s over the run's [`GraphStream`]; a
/// failed run ends with one `Err`, as there. A `values` event that does
/// not decode comes as an `Err` of
/// [`GraphError::StateDecode`](crate::graph::GraphError::StateDecode) in
/// its place (the run goes on; the stream does not end there).
pub struct TypedStream<S: GraphState> {
    events: GraphStream,
    thread_id: String,
    state: PhantomData<fn() -> S>,
}

impl<S: GraphState> fmt::Debug for TypedStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedStream")
            .field("state", &std::any::type_name::<S>())
            .field("thread_id", &self.thread_id)
            .finish_non_exhaustive()
    }
}

impl<S: GraphState> TypedStream<S> {
    pub(super) fn new(events: GraphStream, thread_id: String) -> Self {
        TypedStream {
            events,
            thread_id,
            state: PhantomData,
        }
    }

    fn typed(&self, event: StreamEvent) -> Result<TypedEvent<S>, GraphError> {
        match event {
            StreamEvent::Values { step, values } => S::from_state(&State::from_value(values))
                .map(|values| TypedEvent::Values { step, values })
                .map_err(|source| GraphError::StateDecode {
                    thread_id: self.thread_id.clone(),
                    checkpoint_id: None,
                    source,
                }),
            StreamEvent::Updates {
                step,
                node,
                update,
                cached,
            } => Ok(match S::decode_update(&update) {
                Ok(typed) => TypedEvent::Updates {
                    step,
                    node,
                    update: typed,
                    cached,
                },
                Err(_) => TypedEvent::Event(StreamEvent::Updates {
                    step,
                    node,
                    update,
                    cached,
                }),
            }),
            other => Ok(TypedEvent::Event(other)),
        }
    }
}

impl<S: GraphState> Stream for TypedStream<S> {
    type Item = Result<TypedEvent<S>, GraphError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.events)
            .poll_next(cx)
            .map(|item| item.map(|event| event.and_then(|e| self.typed(e))))
    }
}
