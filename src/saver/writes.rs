//! Reserved channel names and how pending writes are indexed and ordered.

use serde_json::Value;

use super::tuple::PendingWrite;

/// A task's error, stored as a write so a resumed run knows it failed.
pub const ERROR: &str = "__error__";
/// Tasks scheduled for the next step.
pub const SCHEDULED: &str = "__scheduled__";
/// The interrupts a task raised.
pub const INTERRUPT: &str = "__interrupt__";
/// The answers given to a task's interrupts.
pub const RESUME: &str = "__resume__";
/// Pending `Send` packets (dynamic tasks) of the next step.
pub const TASKS: &str = "__pregel_tasks";
/// Marks a task that finished without writing anything.
pub const NO_WRITES: &str = "__no_writes__";
/// The task id under which writes that belong to no task are stored.
pub const NULL_TASK_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The index a write is stored under: the fixed negative index of a special
/// channel (`__error__` -1, `__scheduled__` -2, `__interrupt__` -3,
/// `__resume__` -4), otherwise its position in the batch.
pub fn write_idx(channel: &str, position: usize) -> i64 {
    // A position in a batch (a slice) is at most `isize::MAX`: it fits.
    special_idx(channel).unwrap_or_else(|| i64::try_from(position).unwrap_or(i64::MAX))
}

/// The fixed index of a special channel, `None` for any other channel.
/// A write to a special channel replaces the previous one at the same
/// `(task_id, idx)`; any other write is kept first-come.
pub fn special_idx(channel: &str) -> Option<i64> {
    match channel {
        ERROR => Some(-1),
        SCHEDULED => Some(-2),
        INTERRUPT => Some(-3),
        RESUME => Some(-4),
        _ => None,
    }
}

/// Sorts pending writes into the order savers return them:
/// `(task_path, task_id, idx)`.
pub fn sort_pending_writes(writes: &mut [PendingWrite]) {
    writes
        .sort_by(|a, b| (&a.task_path, &a.task_id, a.idx).cmp(&(&b.task_path, &b.task_id, b.idx)));
}

/// One task's writes, as one [`put_writes`] call takes them: the writes
/// `(channel, value)`, the task's id and its path. A slice of these is what
/// [`put_with_writes`] stores together with a checkpoint.
///
/// [`put_writes`]: crate::BaseCheckpointSaver::put_writes
/// [`put_with_writes`]: crate::BaseCheckpointSaver::put_with_writes
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteBatch<'a> {
    /// The writes, in the order `put_writes` would get them (a write's
    /// index is its position, or its special channel's fixed index).
    pub writes: &'a [(String, Value)],
    /// The id of the task that made them.
    pub task_id: &'a str,
    /// The task's path (orders pending writes).
    pub task_path: &'a str,
}

impl<'a> WriteBatch<'a> {
    /// The batch of task `task_id` at `task_path`.
    pub fn new(writes: &'a [(String, Value)], task_id: &'a str, task_path: &'a str) -> Self {
        WriteBatch {
            writes,
            task_id,
            task_path,
        }
    }
}

/// A [`WriteBatch`] that owns its data, for a batch that outlives the call
/// that made it (queued for the blocking pool, held for a checkpoint).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OwnedWriteBatch {
    pub(crate) writes: Vec<(String, Value)>,
    pub(crate) task_id: String,
    pub(crate) task_path: String,
}

impl OwnedWriteBatch {
    /// The batch, borrowed.
    pub(crate) fn as_batch(&self) -> WriteBatch<'_> {
        WriteBatch::new(&self.writes, &self.task_id, &self.task_path)
    }
}

impl From<&WriteBatch<'_>> for OwnedWriteBatch {
    fn from(batch: &WriteBatch<'_>) -> Self {
        OwnedWriteBatch {
            writes: batch.writes.to_vec(),
            task_id: batch.task_id.to_owned(),
            task_path: batch.task_path.to_owned(),
        }
    }
}
