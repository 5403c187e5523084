//! SQL text and row mapping: how checkpoints, metadata and writes are laid
//! out in rows, and how rows become values again.

use std::fmt::Write as _;

use rusqlite::Row;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::saver::config::Config;
use crate::saver::error::{Error, Result};
use crate::saver::list::ListOptions;
use crate::saver::rows;
pub(crate) use crate::saver::rows::{CheckpointKey, CheckpointRow, encode_checkpoint, encode_json};
use crate::saver::tuple::PendingWrite;

/// The checkpoint columns every read selects, in this order.
const CHECKPOINT_COLUMNS: &str =
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata";

/// One checkpoint by id.
pub(crate) const SELECT_CHECKPOINT: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, \
     parent_checkpoint_id, checkpoint, metadata FROM checkpoints \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND checkpoint_id = ?3";

/// The latest checkpoint of a thread and namespace.
pub(crate) const SELECT_LATEST: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, \
     parent_checkpoint_id, checkpoint, metadata FROM checkpoints \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 ORDER BY checkpoint_id DESC LIMIT 1";

/// Whether one checkpoint exists.
pub(crate) const CHECKPOINT_EXISTS: &str = "SELECT 1 FROM checkpoints \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND checkpoint_id = ?3";

/// Whether a thread has any checkpoint.
pub(crate) const THREAD_EXISTS: &str = "SELECT 1 FROM checkpoints WHERE thread_id = ?1 LIMIT 1";

/// Stores a checkpoint; a second `put` of the same id replaces it but keeps
/// its writes (an upsert, not `INSERT OR REPLACE`, which would delete them).
pub(crate) const UPSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (thread_id, checkpoint_ns, \
     checkpoint_id, parent_checkpoint_id, checkpoint, metadata, step, source, run_id) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
     ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET \
     parent_checkpoint_id = excluded.parent_checkpoint_id, checkpoint = excluded.checkpoint, \
     metadata = excluded.metadata, step = excluded.step, source = excluded.source, \
     run_id = excluded.run_id";

/// A write to a special channel: replaces the one at the same `(task_id, idx)`.
pub(crate) const UPSERT_WRITE: &str = "INSERT INTO writes (thread_id, checkpoint_ns, \
     checkpoint_id, task_id, idx, channel, task_path, value) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
     ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET \
     channel = excluded.channel, task_path = excluded.task_path, value = excluded.value";

/// Any other write: the first one at a `(task_id, idx)` is kept.
pub(crate) const INSERT_WRITE: &str = "INSERT INTO writes (thread_id, checkpoint_ns, \
     checkpoint_id, task_id, idx, channel, task_path, value) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";

/// The writes of many checkpoints at once: `?1` is a JSON array of
/// `[thread_id, checkpoint_ns, checkpoint_id]`. `CROSS JOIN` makes the key
/// list the outer loop, so each key is one primary-key lookup.
pub(crate) const SELECT_WRITES_BATCH: &str = "SELECT w.thread_id, w.checkpoint_ns, \
     w.checkpoint_id, w.task_id, w.channel, w.value, w.task_path, w.idx \
     FROM json_each(?1) AS k CROSS JOIN writes AS w \
     ON w.thread_id = k.value ->> 0 AND w.checkpoint_ns = k.value ->> 1 \
     AND w.checkpoint_id = k.value ->> 2";

/// The writes of one checkpoint (thread `?1`, namespace `?2`, id `?3`).
pub(crate) const SELECT_WRITES_ONE: &str = "SELECT thread_id, checkpoint_ns, \
     checkpoint_id, task_id, channel, value, task_path, idx FROM writes \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND checkpoint_id = ?3";

/// The writes of every checkpoint of thread `?1`, namespace `?2`.
pub(crate) const SELECT_PLACE_WRITES: &str = "SELECT thread_id, checkpoint_ns, \
     checkpoint_id, task_id, channel, value, task_path, idx FROM writes \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2";

/// Deletes the checkpoints and writes of a thread (values: `values.rs`).
pub(crate) const DELETE_THREAD: [&str; 2] = [
    "DELETE FROM writes WHERE thread_id = ?1",
    "DELETE FROM checkpoints WHERE thread_id = ?1",
];

/// Copies the checkpoints and writes of thread `?1` to thread `?2`.
pub(crate) const COPY_THREAD: [&str; 2] = [
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, \
     checkpoint, metadata, step, source, run_id) \
     SELECT ?2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, step, \
     source, run_id FROM checkpoints WHERE thread_id = ?1",
    "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, \
     task_path, value) \
     SELECT ?2, checkpoint_ns, checkpoint_id, task_id, idx, channel, task_path, value \
     FROM writes WHERE thread_id = ?1",
];

/// Keeps only the latest checkpoint of each namespace of thread `?1`. The
/// latest ones are found once, in one pass over the thread's range (the
/// key is `(thread_id, checkpoint_id, checkpoint_ns)`: a per-row
/// `max(checkpoint_id)` of one namespace would scan the range per row).
pub(crate) const PRUNE_KEEP_LATEST: [&str; 3] = [
    "DELETE FROM writes WHERE thread_id = ?1 AND (checkpoint_ns, checkpoint_id) NOT IN \
     (SELECT c.checkpoint_ns, max(c.checkpoint_id) FROM checkpoints AS c \
      WHERE c.thread_id = ?1 GROUP BY c.checkpoint_ns)",
    "DELETE FROM checkpoints WHERE thread_id = ?1 AND (checkpoint_ns, checkpoint_id) NOT IN \
     (SELECT c.checkpoint_ns, max(c.checkpoint_id) FROM checkpoints AS c \
      WHERE c.thread_id = ?1 GROUP BY c.checkpoint_ns)",
    "UPDATE checkpoints SET parent_checkpoint_id = NULL \
     WHERE thread_id = ?1 AND parent_checkpoint_id IS NOT NULL",
];

/// The threads that have checkpoints of the runs in `?1` (a JSON array).
pub(crate) const THREADS_OF_RUNS: &str = "SELECT DISTINCT thread_id FROM checkpoints \
     WHERE run_id IN (SELECT value FROM json_each(?1))";

/// Deletes the checkpoints of the runs in `?1` (a JSON array), writes first.
pub(crate) const DELETE_RUNS: [&str; 2] = [
    "DELETE FROM writes WHERE (thread_id, checkpoint_ns, checkpoint_id) IN \
     (SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints \
      WHERE run_id IN (SELECT value FROM json_each(?1)))",
    "DELETE FROM checkpoints WHERE run_id IN (SELECT value FROM json_each(?1))",
];

/// A checkpoint row as read, before decoding.
#[derive(Debug)]
pub(crate) struct RawCheckpoint {
    thread_id: SqlValue,
    ns: SqlValue,
    id: SqlValue,
    parent: SqlValue,
    checkpoint: SqlValue,
    metadata: SqlValue,
}

impl RawCheckpoint {
    /// Reads the columns of [`CHECKPOINT_COLUMNS`] without interpreting
    /// them, so that a bad row is reported as corrupt, never as a type error.
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawCheckpoint {
            thread_id: row.get(0)?,
            ns: row.get(1)?,
            id: row.get(2)?,
            parent: row.get(3)?,
            checkpoint: row.get(4)?,
            metadata: row.get(5)?,
        })
    }
}

/// Text from a column, or why it is not text.
pub(crate) fn text(value: SqlValue) -> Result<String, String> {
    match value {
        SqlValue::Text(s) => Ok(s),
        SqlValue::Blob(b) => String::from_utf8(b).map_err(|e| format!("invalid UTF-8: {e}")),
        SqlValue::Null => Err("is NULL".into()),
        SqlValue::Integer(i) => Err(format!("is the integer {i}, not text")),
        SqlValue::Real(f) => Err(format!("is the number {f}, not text")),
    }
}

/// Text or NULL from a column.
pub(crate) fn optional_text(value: SqlValue) -> Result<Option<String>, String> {
    match value {
        SqlValue::Null => Ok(None),
        other => text(other).map(Some),
    }
}

impl RawCheckpoint {
    /// Decodes the row; any bad column is [`Error::Corrupt`].
    pub(crate) fn decode(self) -> Result<CheckpointRow> {
        let label = |v: &SqlValue| match v {
            SqlValue::Text(s) => s.clone(),
            other => format!("{other:?}"),
        };
        let thread_label = label(&self.thread_id);
        let id_label = label(&self.id);
        let corrupt = |what: String| Error::Corrupt {
            thread_id: thread_label.clone(),
            checkpoint_id: id_label.clone(),
            what,
        };
        let thread_id = text(self.thread_id).map_err(|e| corrupt(format!("thread_id {e}")))?;
        let ns = text(self.ns).map_err(|e| corrupt(format!("checkpoint_ns {e}")))?;
        let id = text(self.id).map_err(|e| corrupt(format!("checkpoint_id {e}")))?;
        let parent =
            optional_text(self.parent).map_err(|e| corrupt(format!("parent_checkpoint_id {e}")))?;
        let checkpoint_json =
            text(self.checkpoint).map_err(|e| corrupt(format!("checkpoint column {e}")))?;
        let checkpoint = rows::decode_checkpoint(id, &checkpoint_json).map_err(corrupt)?;
        let metadata_json =
            text(self.metadata).map_err(|e| corrupt(format!("metadata column {e}")))?;
        let metadata = rows::decode_metadata(&metadata_json).map_err(corrupt)?;
        Ok(CheckpointRow {
            thread_id,
            ns,
            parent,
            checkpoint,
            metadata,
        })
    }
}

/// A write row as read, before decoding: `task_id, channel, value,
/// task_path, idx`.
pub(crate) type RawWrite = [SqlValue; 5];

/// Reads one row of [`SELECT_WRITES_BATCH`] without decoding it.
pub(crate) fn write_from_row(row: &Row<'_>) -> rusqlite::Result<(CheckpointKey, RawWrite)> {
    let key: CheckpointKey = (row.get(0)?, row.get(1)?, row.get(2)?);
    let columns: RawWrite = [
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ];
    Ok((key, columns))
}

impl crate::saver::page::RawWrite for RawWrite {
    /// Decodes `task_id, channel, value, task_path, idx`.
    fn decode(self) -> Result<PendingWrite, String> {
        let [task_id, channel, value, task_path, idx] = self;
        let task_id = text(task_id).map_err(|e| format!("task_id {e}"))?;
        let channel = text(channel).map_err(|e| format!("channel {e}"))?;
        let value_json = text(value).map_err(|e| format!("value {e}"))?;
        let task_path = text(task_path).map_err(|e| format!("task_path {e}"))?;
        let idx = match idx {
            SqlValue::Integer(i) => i,
            other => return Err(format!("write index is {other:?}, not an integer")),
        };
        rows::decode_write(task_id, channel, &value_json, task_path, idx)
    }
}

/// The `SELECT` a `list` call runs, its parameters, and whether SQL alone
/// decides the filter (so `LIMIT` can be left to SQLite).
#[derive(Debug)]
pub(crate) struct ListQuery {
    pub(crate) sql: String,
    pub(crate) params: Vec<SqlValue>,
    /// Every filter condition is decided exactly by SQL.
    pub(crate) exact: bool,
}

/// Builds the `list` query. Filters on `step`, `source` and `run_id` use the
/// indexed columns; other keys use `json_extract` on the metadata JSON with
/// the key quoted and bound as a parameter. Conditions SQL cannot decide
/// exactly (floats, arrays, objects) only narrow by JSON type; the caller
/// then applies [`ListOptions::matches`] and the limit.
pub(crate) fn list_query(config: Option<&Config>, options: &ListOptions) -> ListQuery {
    // The step index leads with the thread: a step filter over all
    // threads probes it thread by thread (and sorts the hits, about one
    // per thread) instead of scanning the table.
    let by_step = config.is_none()
        && options
            .filter
            .iter()
            .any(|(key, wanted)| key == "step" && wanted.is_number());
    let mut sql = if by_step {
        // Without `INDEXED BY` SQLite may walk each thread's rows by the
        // primary key, testing `step` on each.
        format!(
            "{EACH_THREAD}SELECT {CHECKPOINT_COLUMNS} FROM threads CROSS JOIN checkpoints \
             INDEXED BY checkpoints_step_idx ON thread_id = threads.t"
        )
    } else {
        format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints")
    };
    let mut terms: Vec<String> = Vec::new();
    let mut params = Params::default();
    if let Some(config) = config {
        let p = params.bind(SqlValue::Text(config.thread_id.clone()));
        terms.push(format!("thread_id = {p}"));
        if let Some(ns) = &config.checkpoint_ns {
            let p = params.bind(SqlValue::Text(ns.clone()));
            terms.push(format!("checkpoint_ns = {p}"));
        }
        if let Some(id) = &config.checkpoint_id {
            let p = params.bind(SqlValue::Text(id.clone()));
            terms.push(format!("checkpoint_id = {p}"));
        }
    }
    if let Some(before) = &options.before {
        let p = params.bind(SqlValue::Text(before.clone()));
        terms.push(format!("checkpoint_id < {p}"));
    }
    for (key, wanted) in &options.filter {
        let term = filter_term(&mut params, key, wanted);
        terms.push(term);
    }
    if !terms.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&terms.join(" AND "));
    }
    // Newest first; ties (copied threads share ids) by thread, namespace.
    sql.push_str(" ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC");
    let exact = params.exact;
    if exact && let Some(limit) = options.limit {
        // A literal, not a parameter: SQLite plans `ORDER BY ... LIMIT ?`
        // with the bound value, so such a statement is prepared again at
        // every run (one cached statement per limit used instead).
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Writing to a `String` cannot fail.
        let _ = write!(sql, " LIMIT {limit}");
    }
    ListQuery {
        sql,
        params: params.values,
        exact,
    }
}

/// Every thread id, in order: each the first id after the previous one
/// (one descent of the step index per thread, not a scan of its rows).
const EACH_THREAD: &str = "WITH RECURSIVE threads(t) AS (\
     SELECT (SELECT min(thread_id) FROM checkpoints) \
     UNION ALL SELECT (SELECT min(c.thread_id) FROM checkpoints AS c WHERE c.thread_id > threads.t) \
     FROM threads WHERE threads.t IS NOT NULL) ";

/// The parameters of a query being built, and whether its conditions are
/// all decided exactly by SQL.
struct Params {
    values: Vec<SqlValue>,
    exact: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            values: Vec::new(),
            exact: true,
        }
    }
}

impl Params {
    /// Binds `v`; its placeholder.
    fn bind(&mut self, v: SqlValue) -> String {
        self.values.push(v);
        format!("?{}", self.values.len())
    }
}

/// The condition of one metadata filter `key = wanted`. `step`, `source`
/// and `run_id` use the indexed columns; other keys use `json_extract` on
/// the metadata JSON with the key quoted and bound as a parameter. A
/// condition SQL cannot decide exactly (floats, arrays, objects) only
/// narrows by JSON type and marks the query inexact.
fn filter_term(params: &mut Params, key: &str, wanted: &Value) -> String {
    match (key, wanted) {
        ("step", Value::Number(n)) => {
            let v = if let Some(i) = n.as_i64() {
                SqlValue::Integer(i)
            } else {
                params.exact = false;
                SqlValue::Real(n.as_f64().unwrap_or(f64::NAN))
            };
            format!("step = {}", params.bind(v))
        }
        ("source", Value::String(s)) => {
            format!("source = {}", params.bind(SqlValue::Text(s.clone())))
        }
        ("run_id", Value::String(s)) => {
            format!("run_id = {}", params.bind(SqlValue::Text(s.clone())))
        }
        ("run_id", Value::Null) => "run_id IS NULL".to_owned(),
        // `step` is always a number, `source` always a string and
        // `run_id` a string or absent: nothing else can match.
        ("step" | "source" | "run_id", _) => "0".to_owned(),
        (_, wanted) => json_term(params, key, wanted),
    }
}

/// The condition on a user metadata key, through `json_extract`.
fn json_term(params: &mut Params, key: &str, wanted: &Value) -> String {
    let path = params.bind(SqlValue::Text(format!("$.\"{key}\"")));
    match wanted {
        Value::Null => format!("json_extract(metadata, {path}) IS NULL"),
        Value::Bool(true) => format!("json_type(metadata, {path}) = 'true'"),
        Value::Bool(false) => format!("json_type(metadata, {path}) = 'false'"),
        Value::String(s) => {
            let p = params.bind(SqlValue::Text(s.clone()));
            format!(
                "(json_type(metadata, {path}) = 'text' \
                 AND json_extract(metadata, {path}) = {p})"
            )
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let p = params.bind(SqlValue::Integer(i));
                format!(
                    "(json_type(metadata, {path}) IN ('integer', 'real') \
                     AND json_extract(metadata, {path}) = {p})"
                )
            } else {
                params.exact = false;
                format!("json_type(metadata, {path}) IN ('integer', 'real')")
            }
        }
        Value::Array(_) => {
            params.exact = false;
            format!("json_type(metadata, {path}) = 'array'")
        }
        Value::Object(_) => {
            params.exact = false;
            format!("json_type(metadata, {path}) = 'object'")
        }
    }
}
