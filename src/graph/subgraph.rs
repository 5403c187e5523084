//! A compiled graph used as a node of a parent graph
//! ([`StateGraph::add_subgraph`](crate::graph::StateGraph::add_subgraph)).
//!
//! The subgraph runs on the parent's thread under its own namespace,
//! LangGraph's: `<node>:<task id>`, joined to the parent's with `|`. It
//! gets the parent's state (the channels it declares too) as its input and
//! returns its final values of the channels the parent declares as the
//! node's update (through the parent's reducers, as in LangGraph). An
//! interrupt inside it stops the parent's task with the same question, under
//! the same id (as in LangGraph); a resume of the parent, by that id or
//! not, answers it inside the subgraph. A node of the
//! subgraph may return an update for the parent ([`Update::to_parent`]):
//! the subgraph's run stops there and the parent's task returns that
//! update instead.
//!
//! As in LangGraph, a subgraph's run is told its enclosing checkpoints
//! through the config's `checkpoint_map` key (namespace to checkpoint id)
//! and writes them as its checkpoints' `parents` metadata; a run without
//! that key is a root run, whatever namespace its config names.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::compiled::CompiledGraph;
use super::error::GraphError;
use super::interrupt::{Command, Interrupt};
use super::io::{Input, RunNotice, RunOutcome};
use super::node::{Node, NodeContext, NodeError, NodeResult};
use super::state::{State, Update};
use crate::saver::Config;

/// The node that runs a subgraph; `parent_channels` are the state channels
/// of the parent (set when the parent compiles).
pub(crate) struct SubgraphNode {
    pub(crate) graph: CompiledGraph,
    pub(crate) parent_channels: Arc<Vec<String>>,
}

/// The `configurable` key of the enclosing graphs' checkpoints, by
/// namespace, as LangGraph names it.
pub(crate) const CHECKPOINT_MAP: &str = "checkpoint_map";

/// The `parents` metadata a `checkpoint_map` value gives (its string
/// entries).
pub(crate) fn parents_from_map(map: &Value) -> BTreeMap<String, String> {
    map.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(ns, id)| Some((ns.clone(), id.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The config a run starts from: a run that is not a subgraph's (no
/// `checkpoint_map`) runs the root graph from its latest checkpoint even
/// when the config names a subgraph's namespace and checkpoint, as
/// LangGraph's loop does; the notice says what was set aside.
pub(crate) fn own_config(config: &Config) -> (Config, Option<RunNotice>) {
    if config.ns().is_empty() || config.configurable.contains_key(CHECKPOINT_MAP) {
        return (config.clone(), None);
    }
    let notice = RunNotice::NamespaceIgnored {
        checkpoint_ns: config.ns().to_owned(),
        checkpoint_id: config.checkpoint_id.clone(),
    };
    let mut root = config.latest();
    root.checkpoint_ns = Some(String::new());
    (root, Some(notice))
}

/// The subgraph of `graph` whose checkpoints namespace `ns` holds
/// (`review:<task id>|check:<task id>` is node `check` of the subgraph of
/// node `review`), or `None` if `ns` is the root's or names no subgraph
/// `graph` declares.
pub(crate) fn graph_for_namespace<'g>(
    graph: &'g CompiledGraph,
    ns: &str,
) -> Option<&'g CompiledGraph> {
    if ns.is_empty() {
        return None;
    }
    let mut current = graph;
    for part in ns.split('|') {
        let node = part.split(':').next().unwrap_or(part);
        current = current.spec().nodes.get(node)?.subgraph.as_ref()?;
    }
    Some(current)
}

/// The node path of namespace `ns`, without task ids (`review:<id>|check:<id>`
/// is `review|check`), as LangGraph's `recast_checkpoint_ns`.
pub(crate) fn node_path(ns: &str) -> String {
    ns.split('|')
        .map(|part| part.split(':').next().unwrap_or(part))
        .collect::<Vec<_>>()
        .join("|")
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
            let config = ctx.config().latest().with_ns(ns);
            let outcome = match run_subgraph(&graph, &state, &ctx, &config).await? {
                Ok(outcome) => outcome,
                // A node inside returned an update for this graph.
                Err(GraphError::ParentCommand { update, .. }) => return Ok(*update),
                // The parent run fails with it too, as in LangGraph.
                Err(e @ GraphError::RecursionLimit { .. }) => return Err(e.into()),
                Err(e) => {
                    return Err(NodeError::msg(format!("subgraph {:?}: {e}", config.ns())));
                }
            };
            if let Some(question) = outcome.interrupts.first() {
                ctx.ask_subgraph_question(question)?;
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
/// continuing it where it stopped. The outer error is the parent task's
/// own (its interrupt), the inner one the subgraph run's.
async fn run_subgraph(
    graph: &CompiledGraph,
    state: &State,
    ctx: &NodeContext,
    config: &Config,
) -> Result<Result<RunOutcome, GraphError>, NodeError> {
    // issue 17: the subgraph's events go to the parent's stream, tagged
    // with the subgraph's namespace.
    let sink = ctx.sink().map(|s| s.child(config.ns().to_owned()));
    let run = |input: Input| graph.run_streamed(input, config, sink.clone());
    let Some(_) = graph.saver() else {
        return Ok(run(input_of(graph, state).into()).await);
    };
    let snapshot = match graph.get_state_here(config).await {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    if snapshot.metadata.is_none() {
        return Ok(run(input_of(graph, state).into()).await);
    }
    if let Some(question) = snapshot.interrupts.first() {
        if let Some(command) = answers_by_id(ctx, &snapshot.interrupts) {
            return Ok(run(command.into()).await);
        }
        let answer = ctx.ask_subgraph_question(question)?;
        return Ok(run(Command::resume(answer).into()).await);
    }
    if snapshot.next.is_empty() {
        // Finished before (the parent's task then failed or was cut
        // short): its result stands.
        return Ok(Ok(RunOutcome {
            values: snapshot.values,
            next: Vec::new(),
            interrupts: Vec::new(),
            config: Some(snapshot.config),
            notices: Vec::new(),
            cached: Vec::new(),
        }));
    }
    // Tasks are left but no question is saved (the subgraph's state was
    // updated since it asked): the parent's answer, if any, goes on to
    // whichever task asks first, as in LangGraph.
    let input = match ctx.fresh_answer() {
        Some(answer) => Input::from(Command::resume(answer)),
        None => Input::Continue,
    };
    Ok(run(input).await)
}

/// The resume the parent's command gives the subgraph by interrupt id: the
/// answers to the subgraph's `questions` by their ids (which the parent
/// holds them under, as in LangGraph); or, for a thread written before
/// issue 17 (the parent held the question under its own task's id), the
/// first answer the command gave the task, as a plain resume.
fn answers_by_id(ctx: &NodeContext, questions: &[Interrupt]) -> Option<Command> {
    let given = ctx.answers_by_id();
    let theirs: Vec<(String, Value)> = given
        .iter()
        .filter(|(id, _)| questions.iter().any(|q| q.id == *id))
        .cloned()
        .collect();
    if !theirs.is_empty() {
        return Some(Command::resume_map(theirs));
    }
    let (_, answer) = given.first()?;
    Some(Command::resume(answer.clone()))
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
