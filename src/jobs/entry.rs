//! One job's saved progress.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One job's latest save, in dcc-mcp-core's shape: `{"job_id", "saved_at",
/// "progress_hint", "context"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEntry {
    /// The job.
    pub job_id: String,
    /// When it was saved: seconds since the Unix epoch (Python's
    /// `time.time()`).
    #[serde(default)]
    pub saved_at: f64,
    /// A short text for people, such as `"120/200 files"`.
    #[serde(default)]
    pub progress_hint: String,
    /// The state to resume from.
    #[serde(default)]
    pub context: Value,
}

impl JobEntry {
    /// An entry saved now.
    pub fn now(job_id: &str, state: Value, progress_hint: &str) -> Self {
        JobEntry {
            job_id: job_id.to_owned(),
            saved_at: now_epoch_seconds(),
            progress_hint: progress_hint.to_owned(),
            context: state,
        }
    }
}

/// Seconds since the Unix epoch, as Python's `time.time()`.
pub(crate) fn now_epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
