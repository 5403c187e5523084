//! The job store contract.

use serde_json::Value;

use super::{JobEntry, JobResult};

/// Where jobs keep their progress.
///
/// # Contract
///
/// - `save(job_id, state, hint)` replaces the job's entry with
///   `{job_id, saved_at: now, progress_hint: hint, context: state}`; an
///   empty `job_id` is refused ([`JobError::EmptyJobId`](super::JobError::EmptyJobId))
///   and changes nothing.
/// - `get(job_id)` is the latest save, or `None` for a job never saved or
///   cleared since; it sees saves made through other instances of the
///   same storage (another process, another store on the same file or
///   database).
/// - `clear(job_id)` removes the job and returns whether it existed; a
///   cleared job stays cleared until it is saved again.
/// - `list_ids()` is every saved job once, sorted by job id.
/// - `clear_all()` clears every job and returns how many there were.
/// - Every call is safe from many threads.
pub trait JobStore: Send + Sync {
    /// Saves `state` as the job's progress, replacing the previous save.
    fn save(&self, job_id: &str, state: Value, progress_hint: &str) -> JobResult<()>;
    /// The job's latest save.
    fn get(&self, job_id: &str) -> JobResult<Option<JobEntry>>;
    /// Removes the job; whether it existed.
    fn clear(&self, job_id: &str) -> JobResult<bool>;
    /// Every saved job, sorted.
    fn list_ids(&self) -> JobResult<Vec<String>>;
    /// Removes every job; how many there were.
    fn clear_all(&self) -> JobResult<usize>;
}
