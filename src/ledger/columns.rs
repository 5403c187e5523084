//! The `checkpoints` table's columns, shared by the SQL backends
//! (mooncat's schema: the same in SQLite and PostgreSQL).

use serde_json::Value;

use super::{LedgerError, LedgerResult, StepRecord, StepStatus};

/// A row of `checkpoints` as the driver read it.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) namespace: String,
    pub(super) key: String,
    pub(super) status: String,
    pub(super) owner_run_id: Option<String>,
    pub(super) lease_token: Option<String>,
    pub(super) lease_until: Option<i64>,
    pub(super) result: Option<String>,
    pub(super) result_ref: Option<String>,
    pub(super) error: Option<String>,
    pub(super) attempts: i64,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

/// The columns, in the order every `SELECT` lists them.
pub(super) const COLUMNS: &str = "namespace, key, status, owner_run_id, lease_token, lease_until, \
     result, result_ref, error, attempts, created_at, updated_at";

impl Row {
    /// The record; `result` is JSON text (SQL NULL, as the TS package
    /// writes for no result, reads as `null`).
    pub(super) fn into_record(self) -> LedgerResult<StepRecord> {
        let corrupt = |reason: String| LedgerError::Corrupt {
            namespace: self.namespace.clone(),
            key: self.key.clone(),
            reason,
        };
        let status: StepStatus = self.status.parse().map_err(corrupt)?;
        let result = match self.result.as_deref() {
            None => Value::Null,
            Some(text) => serde_json::from_str(text)
                .map_err(|e| corrupt(format!("result is not JSON: {e}")))?,
        };
        Ok(StepRecord {
            namespace: self.namespace,
            key: self.key,
            status,
            owner_run_id: self.owner_run_id,
            lease_token: self.lease_token,
            lease_until: self.lease_until,
            result,
            result_ref: self.result_ref,
            error: self.error,
            attempts: self.attempts,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The `result` column of `record`: JSON text for a done step (`'null'`
/// for none, as Python writes), SQL NULL otherwise.
pub(super) fn result_column(record: &StepRecord) -> Option<String> {
    (record.status == StepStatus::Done).then(|| record.result.to_string())
}

/// What an operation was about, for errors.
pub(super) fn about(operation: &str, namespace: &str, key: &str) -> String {
    format!("{operation} of {namespace}/{key}")
}
