//! The snapshot of a run: purpose-agent's `RunState`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// purpose-agent's `RunStatus`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Not started (the default).
    #[default]
    Pending,
    /// Running.
    Running,
    /// Paused for a human or at a checkpoint.
    Paused,
    /// Finished.
    Completed,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// The state of a run, in purpose-agent's `RunState.to_dict()` shape (the
/// fields serialize in its key order); what
/// [`save_snapshot`](super::EventLog::save_snapshot) stores.
///
/// Every key reads as purpose-agent's default when missing, and keys
/// beyond purpose-agent's are kept in [`extra`](RunState::extra). Unlike
/// purpose-agent, which writes only the last 50 `action_history` entries,
/// this crate writes them all.
///
/// ```
/// use checkpointer::events::{RunState, RunStatus};
/// use serde_json::json;
///
/// let mut state = RunState::new("run-1");
/// state.status = RunStatus::Running;
/// state.data.insert("files_done".into(), json!(12));
/// let back: RunState = serde_json::from_value(serde_json::to_value(&state)?)?;
/// assert_eq!(back, state);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunState {
    /// The run.
    pub run_id: String,
    /// The session.
    pub session_id: String,
    /// Where the run is.
    pub status: RunStatus,
    /// What the run is for.
    pub purpose: String,
    /// The node it is at.
    pub current_node: String,
    /// The step it is at.
    pub current_step: u64,
    /// Its step budget (20 by default).
    pub max_steps: u64,
    /// The run's data.
    pub data: Map<String, Value>,
    /// Each node's state, by node id.
    pub node_states: BTreeMap<String, NodeState>,
    /// The nodes completed, in order.
    pub completed_nodes: Vec<String>,
    /// The actions taken.
    pub action_history: Vec<Value>,
    /// Unix seconds.
    pub started_at: f64,
    /// Unix seconds.
    pub updated_at: f64,
    /// Unix seconds, 0 while running.
    pub finished_at: f64,
    /// Tool results by idempotency key.
    pub tool_results_cache: Map<String, Value>,
    /// Memory counts at the snapshot.
    pub heuristic_count_at_checkpoint: u64,
    /// Memory counts at the snapshot.
    pub experience_count_at_checkpoint: u64,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// The state's schema version (1).
    pub version: u64,
    /// Keys beyond purpose-agent's, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            run_id: String::new(),
            session_id: String::new(),
            status: RunStatus::Pending,
            purpose: String::new(),
            current_node: String::new(),
            current_step: 0,
            max_steps: 20,
            data: Map::new(),
            node_states: BTreeMap::new(),
            completed_nodes: Vec::new(),
            action_history: Vec::new(),
            started_at: 0.0,
            updated_at: 0.0,
            finished_at: 0.0,
            tool_results_cache: Map::new(),
            heuristic_count_at_checkpoint: 0,
            experience_count_at_checkpoint: 0,
            metadata: Map::new(),
            version: 1,
            extra: Map::new(),
        }
    }
}

impl RunState {
    /// A pending run `run_id`, started and updated now.
    pub fn new(run_id: impl Into<String>) -> Self {
        let now = super::event::unix_now();
        RunState {
            run_id: run_id.into(),
            started_at: now,
            updated_at: now,
            ..RunState::default()
        }
    }

    /// purpose-agent's idempotency key of a tool call at the current step:
    /// `"{run_id}:{current_step}:{tool}:{args_hash}"`.
    pub fn idempotency_key(&self, tool: &str, args_hash: &str) -> String {
        format!("{}:{}:{tool}:{args_hash}", self.run_id, self.current_step)
    }
}

/// The state of one node of a run (purpose-agent's `NodeState` as
/// `RunState.to_dict()` writes it: without its start and finish times).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeState {
    /// The node.
    pub node_id: String,
    /// `pending`, `running`, `completed`, `failed` or `skipped`.
    pub status: String,
    /// Its input.
    pub input_data: Map<String, Value>,
    /// Its output.
    pub output_data: Map<String, Value>,
    /// How often it ran.
    pub attempts: u64,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Keys beyond purpose-agent's, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
