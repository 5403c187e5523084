//! What a read returns: a checkpoint with its config, metadata, parent and
//! pending writes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpoint::{Checkpoint, CheckpointMetadata};
use super::config::Config;

/// One write a task made against a checkpoint, not yet applied to a newer
/// checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingWrite {
    /// The task that wrote it.
    pub task_id: String,
    /// The channel written to.
    pub channel: String,
    /// The value written.
    pub value: Value,
    /// The task's path (`~__pregel_pull, node`), `""` if none was given.
    #[serde(default)]
    pub task_path: String,
    /// Position in the task's batch, or the fixed negative index of a
    /// special channel (see [`write_idx`](crate::saver::write_idx)).
    pub idx: i64,
}

/// A checkpoint as read back from a saver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointTuple {
    /// Thread, namespace and id of this checkpoint.
    pub config: Config,
    /// The checkpoint, with every channel value resolved.
    pub checkpoint: Checkpoint,
    /// Its metadata.
    pub metadata: CheckpointMetadata,
    /// The checkpoint it was made from, if any.
    pub parent_config: Option<Config>,
    /// Writes made against it, ordered by `(task_path, task_id, idx)`.
    pub pending_writes: Vec<PendingWrite>,
}
