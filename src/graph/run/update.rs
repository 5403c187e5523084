//! `update_state`: a superstep in which only `as_node` ran, with the
//! caller's values as its update, through the run's own input handling.

use std::sync::Arc;

use serde_json::Value;
use tracing::Instrument;

use super::{Run, RunSettings};
use crate::graph::algo::{
    TaskWrites, fresh_triggers, last_node, node_writes, prepare_tasks, state_values,
};
use crate::graph::error::GraphError;
use crate::graph::persist::Durability;
use crate::graph::state::State;
use crate::graph::task::{Task, update_task_id};
use crate::saver::{CheckpointSource, Config, INTERRUPT};

/// The task path of the writes `update_state` records on its base.
const UPDATE_PATH: &str = "~__interrupt__, 0000000000";

impl Run {
    /// [`CompiledGraph::update_state`](crate::graph::CompiledGraph::update_state):
    /// loads the checkpoint `config` names and saves the update's
    /// checkpoint at once, whatever the graph's durability.
    pub(crate) async fn update_state(
        settings: RunSettings,
        config: &Config,
        values: Value,
        as_node: Option<&str>,
    ) -> Result<Config, GraphError> {
        let settings = RunSettings {
            durability: Durability::Sync,
            ..settings
        };
        let span = tracing::debug_span!(
            "graph_update_state",
            thread_id = %config.thread_id,
            ns = %config.ns(),
            checkpoint_id = config.checkpoint_id.as_deref().unwrap_or(""),
        );
        let leases = settings.leases.clone();
        let body = |config: Config| async move {
            let mut run = Run::load(settings, &config, None).await?;
            let at_latest = config.checkpoint_id.is_none();
            let result = run.update(at_latest, values, as_node).await;
            run.finish(result).await
        };
        super::leased(leases.as_ref(), config, "update_state", body)
            .instrument(span)
            .await
    }

    /// Applies what is pending (at the latest checkpoint), then `values` as
    /// `as_node`'s update, and saves the `update` checkpoint.
    async fn update(
        &mut self,
        at_latest: bool,
        values: Value,
        as_node: Option<&str>,
    ) -> Result<Config, GraphError> {
        let spec = Arc::clone(&self.settings.spec);
        // As LangGraph's update_state: an empty thread's base step is -1,
        // so its first update is step 0.
        let step = if self.saved_id.is_some() {
            self.step + 1
        } else {
            0
        };
        // The task ids of the base checkpoint, before anything is applied.
        let base_tasks = prepare_tasks(
            &spec,
            &self.checkpoint,
            self.config.ns(),
            step,
            &self.pending,
        );
        // At the latest checkpoint, what is pending there applies first, as
        // LangGraph does: a Command's update and goto, then the writes of
        // the tasks that finished in the stopped step.
        if at_latest && self.saved_id.is_some() {
            self.apply_null_writes()?;
            self.apply_finished(&base_tasks)?;
        }
        let (as_node, writes) =
            self.update_writes(values, as_node)
                .map_err(|reason| GraphError::InvalidCommand {
                    operation: "update_state",
                    thread_id: self.thread_id.clone(),
                    reason,
                })?;
        self.record_on_base(&base_tasks, &as_node, &writes).await?;

        // The update is a superstep in which only `as_node` ran: the tasks
        // that were pending and that its edges do not trigger are dropped
        // (the non-channel `__interrupt__` trigger makes apply_writes end the
        // step, as LangGraph's update task does).
        let mut triggers = fresh_triggers(&spec, &self.checkpoint, &as_node);
        triggers.push(INTERRUPT.to_owned());
        let task = TaskWrites {
            name: &as_node,
            triggers: &triggers,
            writes,
        };
        let updated = self.apply(vec![task], step)?;
        let saved = self
            .checkpoint(step, CheckpointSource::Update, &updated)
            .await?;
        saved.ok_or(GraphError::NoSaver {
            operation: "update_state",
        })
    }

    /// The node the update comes from (`as_node`, else the one that ran
    /// last) and the writes its update makes along its edges; an error
    /// says why the update cannot be applied.
    fn update_writes(
        &self,
        values: Value,
        as_node: Option<&str>,
    ) -> Result<(String, Vec<(String, Value)>), String> {
        let spec = &self.settings.spec;
        let as_node = match as_node {
            Some(n) if spec.nodes.contains_key(n) => n.to_owned(),
            Some(n) => return Err(format!("as_node {n:?} is not a node of the graph")),
            None => last_node(spec, &self.checkpoint)?,
        };
        let update: Vec<(String, Value)> = match values {
            Value::Object(map) => map.into_iter().collect(),
            Value::Null => Vec::new(),
            other => return Err(format!("values must be a JSON object, got {other}")),
        };
        let global = State::from_map(state_values(spec, &self.checkpoint));
        // Routers are user code: a panic in one is an error, not a crash.
        let writes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            node_writes(spec, &as_node, update, Vec::new(), &global)
        }))
        .unwrap_or_else(|_| Err(format!("a router of {as_node:?} panicked")))?;
        Ok((as_node, writes))
    }

    /// Records the update's writes on the base checkpoint too, as LangGraph
    /// does, unless a newer checkpoint already supersedes it.
    async fn record_on_base(
        &mut self,
        base_tasks: &[Task],
        as_node: &str,
        writes: &[(String, Value)],
    ) -> Result<(), GraphError> {
        let (Some(base), Some(saver)) = (self.saved_id.clone(), self.settings.saver.clone()) else {
            return Ok(());
        };
        let latest = saver
            .get_tuple(&self.config.latest())
            .await
            .map_err(GraphError::saver("get_tuple", &self.thread_id))?;
        if latest.is_none_or(|l| l.checkpoint.id != base) {
            return Ok(());
        }
        let task_id = base_tasks
            .iter()
            .find(|t| t.name == as_node)
            .map_or_else(|| update_task_id(&base), |t| t.id.clone());
        let parent = self.config_for(Some(&base));
        self.persist
            .put_writes(&parent, writes.to_vec(), &task_id, UPDATE_PATH)
            .await
    }
}
