//! The write path of `put`, `put_writes` and `put_with_writes`: each call
//! is serialised before it is queued, then stored by one [`Job`] in the
//! group-commit transaction. `put_with_writes` runs the bodies of the other
//! two in one job, so the writes and the checkpoint are stored or rolled
//! back together, in one transaction and one fsync.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::values::{self, Stored};
use super::{Job, RerunOp};
use super::{SqliteSaver, sql, sql_context};
use crate::saver::checks::{checkpoint_config, checkpoint_not_found};
use crate::saver::config::Config;
use crate::saver::delta;
use crate::saver::error::Result;
pub(super) use crate::saver::rows::{EncodedWrites, PreparedPut};
use crate::saver::writes::special_idx;

// The SQL of the shared write rows; an inherent impl, as the type is this
// crate's.
impl EncodedWrites {
    /// Stores the writes; the checkpoint they belong to must exist.
    pub(super) fn store(&self, tx: &Connection) -> Result<Stored> {
        let what = || self.what.clone();
        let key = [&self.thread_id, &self.ns, &self.checkpoint_id];
        let exists = tx
            .prepare_cached(sql::CHECKPOINT_EXISTS)
            .and_then(|mut s| s.query_row(key, |_| Ok(())).optional())
            .map_err(sql_context(what))?;
        if exists.is_none() {
            return Err(checkpoint_not_found(
                &self.thread_id,
                &self.ns,
                &self.checkpoint_id,
            ));
        }
        let mut upsert = tx
            .prepare_cached(sql::UPSERT_WRITE)
            .map_err(sql_context(what))?;
        let mut insert = tx
            .prepare_cached(sql::INSERT_WRITE)
            .map_err(sql_context(what))?;
        for (idx, channel, json) in &self.rows {
            let stmt = if special_idx(channel).is_some() {
                &mut upsert
            } else {
                &mut insert
            };
            stmt.execute(rusqlite::params![
                self.thread_id,
                self.ns,
                self.checkpoint_id,
                self.task_id,
                idx,
                channel,
                self.task_path,
                json
            ])
            .map_err(sql_context(what))?;
        }
        Ok(Stored::Done)
    }
}

/// The owned data of one attempt's op: the checkpoint row and the value
/// rows serialised in `mode`.
fn put_row(put: &PreparedPut<'_>, rows: Vec<values::Row>) -> PutRow {
    PutRow {
        thread_id: put.thread_id.to_owned(),
        ns: put.ns.to_owned(),
        id: put.checkpoint.id.clone(),
        parent: put.parent.clone(),
        checkpoint_json: put.checkpoint_json.clone(),
        metadata_json: put.metadata_json.clone(),
        step: put.merged.step,
        source: put.merged.source.as_str(),
        run_id: put.merged.run_id.clone(),
        rows,
        what: put.what.clone(),
    }
}
/// What one attempt of a `put` op writes: one checkpoint row and its
/// value rows, serialised and owned (also what `import_thread` stores per
/// checkpoint).
pub(super) struct PutRow {
    pub(super) thread_id: String,
    pub(super) ns: String,
    pub(super) id: String,
    pub(super) parent: Option<String>,
    pub(super) checkpoint_json: String,
    pub(super) metadata_json: String,
    pub(super) step: i64,
    pub(super) source: &'static str,
    pub(super) run_id: Option<String>,
    pub(super) rows: Vec<values::Row>,
    /// What the call is, for errors.
    pub(super) what: String,
}

impl PutRow {
    /// Stores the channel values; [`Stored::Retry`] (having written
    /// nothing) if they must be serialised again in full.
    pub(super) fn store_values(&self, tx: &Connection) -> Result<Stored> {
        values::store(tx, &self.thread_id, &self.ns, &self.id, &self.rows)
    }

    /// Stores the checkpoint row.
    pub(super) fn store_checkpoint(&self, tx: &Connection) -> Result<()> {
        tx.prepare_cached(sql::UPSERT_CHECKPOINT)
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    self.thread_id,
                    self.ns,
                    self.id,
                    self.parent,
                    self.checkpoint_json,
                    self.metadata_json,
                    self.step,
                    self.source,
                    self.run_id,
                ])
            })
            .map_err(sql_context(|| self.what.clone()))?;
        Ok(())
    }
}

impl SqliteSaver {
    /// As [`write`](SqliteSaver::write), for an op that can run again (see
    /// [`Job`]).
    fn write_again(&self, what: String, op: RerunOp) -> Result<Stored> {
        self.group.submit(self, what, Job::Again(op))
    }

    /// Reads from the database the delta bases of `put`'s appended lists
    /// that the delta cache does not hold (see [`delta::find_bases`]),
    /// in a read transaction of its own, only when there are any. A hint
    /// only: if the read fails, the values are stored in full, as without
    /// it.
    fn find_bases(&self, put: &PreparedPut<'_>) {
        let channels = delta::uncached_bases(
            &self.cache,
            put.thread_id,
            put.ns,
            put.checkpoint,
            put.new_versions,
        );
        if channels.is_empty() {
            return;
        }
        let found = self.read(|conn| {
            delta::find_bases(
                &self.cache,
                &values::SqliteValues(conn),
                put.thread_id,
                put.ns,
                put.checkpoint,
                &channels,
            )
        });
        if let Err(error) = found {
            tracing::debug!(
                thread_id = put.thread_id,
                checkpoint_id = %put.checkpoint.id,
                %error,
                "delta base not read; values stored in full"
            );
        }
    }

    /// Stores the writes of one `put_writes` call in one op.
    /// `token` is the lease token the call carries (checked in the op).
    pub(super) fn store_writes(&self, encoded: EncodedWrites, token: Option<u64>) -> Result<()> {
        let what = encoded.what.clone();
        let op: RerunOp = Box::new(move |tx| {
            super::lease::check(tx, &encoded.thread_id, token)?;
            encoded.store(tx)
        });
        self.write_again(what, op).map(drop)
    }

    /// Stores `writes` (each against the checkpoint `put`'s config names)
    /// and then the checkpoint, in one op: values first (so that a retry
    /// leaves nothing behind), then the writes, then the checkpoint row.
    /// Values are serialised lean first (deltas); if the database says
    /// they must be complete, again in full. Returns the stored
    /// checkpoint's config. `token` is the lease token the call carries,
    /// checked in the op.
    pub(super) fn store_put(
        &self,
        put: &PreparedPut<'_>,
        writes: Vec<EncodedWrites>,
        token: Option<u64>,
    ) -> Result<Config> {
        let what = match writes.len() {
            0 => put.what.clone(),
            n => format!("{} with the writes of {n} tasks", put.what),
        };
        let writes = Arc::new(writes);
        self.find_bases(put);
        delta::store_put_values(&self.cache, put, &what, |rows| {
            let row = put_row(put, rows);
            let writes = Arc::clone(&writes);
            let op: RerunOp = Box::new(move |tx| {
                super::lease::check(tx, &row.thread_id, token)?;
                if row.store_values(tx)? == Stored::Retry {
                    return Ok(Stored::Retry);
                }
                for task in writes.iter() {
                    task.store(tx)?;
                }
                row.store_checkpoint(tx)?;
                Ok(Stored::Done)
            });
            self.write_again(what.clone(), op)
        })?;
        Ok(checkpoint_config(put.thread_id, put.ns, &put.checkpoint.id))
    }
}
