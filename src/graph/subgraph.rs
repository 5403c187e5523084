//! A compiled graph used as a node of a parent graph
//! ([`StateGraph::add_subgraph`](crate::graph::StateGraph::add_subgraph)).
//!
//! The subgraph runs on the parent's thread under its own namespace,
//! LangGraph's: `<node>:<task id>`, joined to the parent's with `|`. It
//! gets the parent's state (the channels it declares too) as its input and
//! returns its final values of the channels the parent declares as the
//! node's update (through the parent's reducers, as in LangGraph). An
//! interrupt inside it stops the parent's task with the same question; a
//! resume of the parent answers it inside the subgraph.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::compiled::CompiledGraph;
use super::error::GraphError;
use super::interrupt::Command;
use super::io::{Input, RunOutcome};
use super::node::{Node, NodeContext, NodeError, NodeResult};
use super::state::{State, Update};
use crate::saver::Config;

/// The node that runs a subgraph; `parent_channels` are the state channels
/// of the parent (set when the parent compiles).
pub(crate) struct SubgraphNode {
    pub(crate) graph: CompiledGraph,
    pub(crate) parent_channels: Arc<Vec<String>>,
}

/// The namespace of the subgraph run of task `task_id` of `node`.
pub(crate) fn task_namespace(parent_ns: &str, node: &str, task_id: &str) -> String {
    if parent_ns.is_empty() {
        format!("{node}:{task_id}")
    } else {
        format!("{parent_ns}|{node}:{task_id}")
    }
}

impl Node for SubgraphNode {
    fn call(&self, state: State, ctx: NodeContext) -> BoxFuture<'static, NodeResult> {
        let graph = self.graph.clone();
        let parent_channels = Arc::clone(&self.parent_channels);
        Box::pin(async move {
            let ns = task_namespace(ctx.config().ns(), ctx.node(), ctx.task_id());
            let mut config = ctx.config().clone();
            config.checkpoint_id = None;
            let config = config.with_ns(ns);
            let outcome = run_subgraph(&graph, &state, &ctx, &config).await?;
            if let Some(question) = outcome.interrupts.first() {
                ctx.interrupt_anew(question.value.clone())?;
            }
            let update: Map<String, Value> = match outcome.values {
                Value::Object(values) => values
                    .into_iter()
                    .filter(|(k, _)| parent_channels.contains(k))
                    .collect(),
                _ => Map::new(),
            };
            Ok(Update::from(update))
        })
    }
}

/// Runs the subgraph at `config`: from the parent's state on a first call;
/// on a later one (the parent resumed or retried the task), with the
/// parent's new answer when the subgraph waits on an interrupt, else
/// continuing it where it stopped.
async fn run_subgraph(
    graph: &CompiledGraph,
    state: &State,
    ctx: &NodeContext,
    config: &Config,
) -> Result<RunOutcome, NodeError> {
    let failed = |e: GraphError| NodeError::msg(format!("subgraph {:?}: {e}", config.ns()));
    // issue 17: the subgraph's events go to the parent's stream, tagged
    // with the subgraph's namespace.
    let sink = ctx.sink().map(|s| s.child(config.ns().to_owned()));
    let run = |input: Input| graph.run_streamed(input, config, sink.clone());
    let Some(_) = graph.saver() else {
        return run(input_of(graph, state).into()).await.map_err(failed);
    };
    let snapshot = graph.get_state(config).await.map_err(failed)?;
    if snapshot.metadata.is_none() {
        return run(input_of(graph, state).into()).await.map_err(failed);
    }
    if let Some(question) = snapshot.interrupts.first() {
        let answer = ctx.interrupt_anew(question.value.clone())?;
        return run(Command::resume(answer).into()).await.map_err(failed);
    }
    if snapshot.next.is_empty() {
        // Finished before (the parent's task then failed or was cut
        // short): its result stands.
        return Ok(RunOutcome {
            values: snapshot.values,
            next: Vec::new(),
            interrupts: Vec::new(),
            config: Some(snapshot.config),
            notices: Vec::new(),
        });
    }
    run(Input::Continue).await.map_err(failed)
}

/// The parent's state values of the channels the subgraph declares.
fn input_of(graph: &CompiledGraph, state: &State) -> Value {
    let mine = graph.state_channels();
    Value::Object(
        state
            .values()
            .iter()
            .filter(|(k, _)| mine.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}
