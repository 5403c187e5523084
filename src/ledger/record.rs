//! The record of one step, and its JSON (mooncat's `to_json_dict`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a step is: `claimed` (running under a lease), `done` (with its
/// result) or `failed` (with its error; terminal until
/// [`reset`](super::StepLedger::reset)). A step never claimed has no
/// record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Running under a lease.
    Claimed,
    /// Finished, with a result.
    Done,
    /// Failed, with an error.
    Failed,
}

impl StepStatus {
    /// `claimed`, `done` or `failed`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Claimed => "claimed",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StepStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "claimed" => Ok(StepStatus::Claimed),
            "done" => Ok(StepStatus::Done),
            "failed" => Ok(StepStatus::Failed),
            other => Err(format!(
                "unknown step status {other:?} (claimed, done or failed)"
            )),
        }
    }
}

/// One step of a ledger: mooncat-checkpoint's `CheckpointRecord`.
///
/// Its JSON is mooncat's (and the file backend's): camelCase keys in
/// the order `namespace, key, status, ownerRunId, leaseToken, leaseUntil,
/// result, resultRef, error, attempts, createdAt, updatedAt`; times in
/// milliseconds since the epoch. Reading needs only `namespace`, `key`
/// and `status`, and ignores unknown keys (the TS package writes no
/// `error`).
///
/// ```
/// use checkpointer::ledger::{StepRecord, StepStatus};
///
/// let record: StepRecord =
///     serde_json::from_str(r#"{"namespace": "vision", "key": "img-1", "status": "done"}"#)?;
/// assert_eq!(record.status, StepStatus::Done);
/// assert_eq!(record.attempts, 0);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// The namespace (`[a-zA-Z0-9_-]+`).
    pub namespace: String,
    /// The key, as given (not the storage key).
    pub key: String,
    /// Where the step is.
    pub status: StepStatus,
    /// The run that claimed it last, if it said.
    #[serde(default)]
    pub owner_run_id: Option<String>,
    /// The live lease's token (only while `claimed`).
    #[serde(default)]
    pub lease_token: Option<String>,
    /// When the lease ends, in epoch ms (only while `claimed`).
    #[serde(default)]
    pub lease_until: Option<i64>,
    /// The result of a `done` step (`null` otherwise).
    #[serde(default)]
    pub result: Value,
    /// A reference to a result stored elsewhere (a `done` step's).
    #[serde(default)]
    pub result_ref: Option<String>,
    /// The error of a `failed` step.
    #[serde(default)]
    pub error: Option<String>,
    /// How many times the step was claimed.
    #[serde(default)]
    pub attempts: i64,
    /// The first claim, in epoch ms.
    #[serde(default)]
    pub created_at: i64,
    /// The last change, in epoch ms.
    #[serde(default)]
    pub updated_at: i64,
}

impl StepRecord {
    /// The record as mooncat's file backend writes it: 2-space indented
    /// JSON, non-ASCII characters as they are.
    pub fn to_file_json(&self) -> String {
        // A record is strings, integers and a `Value`: it always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
