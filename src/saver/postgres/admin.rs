//! [`CheckpointAdmin`] for [`PostgresSaver`]: thread summaries, light
//! history rows, exact import, pruning by age and `VACUUM`, each call one
//! transaction (`VACUUM` cannot run in one: it is its own statement).

use std::collections::BTreeMap;
use std::time::SystemTime;

use postgres::Row;
use serde_json::Value;

use super::sql::{self, CheckpointRows, PutParams, WriteRows, column};
use super::{PostgresSaver, pg_error};
use crate::saver::admin::{
    CheckpointAdmin, CheckpointSummary, ThreadSummary, Vacuumed, written_before,
};
use crate::saver::checkpoint::{Checkpoint, CheckpointMetadata};
use crate::saver::checks::{check_put, require_thread};
use crate::saver::config::Config;
use crate::saver::error::{Error, Result};
use crate::saver::tuple::CheckpointTuple;

const THREADS: &str = "
WITH t AS (
    SELECT thread_id, count(*)::bigint AS n, count(DISTINCT checkpoint_ns)::bigint AS namespaces,
        max(checkpoint_id) AS latest
    FROM checkpoints GROUP BY thread_id)
SELECT t.thread_id, t.n, t.namespaces, t.latest,
    (c.metadata ->> 'step')::bigint, c.checkpoint ->> 'ts'
FROM t CROSS JOIN LATERAL (
    SELECT metadata, checkpoint FROM checkpoints c
    WHERE c.thread_id = t.thread_id AND c.checkpoint_id = t.latest LIMIT 1) c
ORDER BY t.latest DESC, t.thread_id LIMIT $1";

const SUMMARIES: &str = "
SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint - 'channel_values', metadata
FROM checkpoints WHERE thread_id = $1 AND ($2::text IS NULL OR checkpoint_ns = $2)
ORDER BY checkpoint_id DESC, checkpoint_ns DESC";

/// Parents of the given threads that are gone, unlinked.
const UNLINK_ORPHANS: &str = "
UPDATE checkpoints c SET parent_checkpoint_id = NULL
WHERE c.thread_id = ANY($1) AND c.parent_checkpoint_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM checkpoints p WHERE p.thread_id = c.thread_id
        AND p.checkpoint_ns = c.checkpoint_ns AND p.checkpoint_id = c.parent_checkpoint_id)";

const TABLE_BYTES: &str = "SELECT (pg_total_relation_size('checkpoints')
    + pg_total_relation_size('checkpoint_blobs')
    + pg_total_relation_size('checkpoint_writes'))::bigint";

impl CheckpointAdmin for PostgresSaver {
    fn has_thread(&self, thread_id: &str) -> Result<bool> {
        if thread_id.is_empty() {
            return Ok(false);
        }
        let what = format!("look up thread {thread_id:?}");
        self.with_client(&what, |client| {
            client
                .query_opt(
                    "SELECT 1 FROM checkpoints WHERE thread_id = $1 LIMIT 1",
                    &[&thread_id],
                )
                .map(|row| row.is_some())
                .map_err(pg_error(|| what.clone()))
        })
    }

    fn threads(&self, limit: Option<usize>) -> Result<Vec<ThreadSummary>> {
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self.with_client("list the threads", |client| {
            client
                .query(THREADS, &[&limit])
                .map_err(pg_error(|| "list the threads".to_owned()))
        })?;
        rows.iter().map(thread_summary).collect()
    }

    fn checkpoint_summaries(
        &self,
        thread_id: &str,
        ns: Option<&str>,
    ) -> Result<Vec<CheckpointSummary>> {
        let what = format!("list the history of thread {thread_id:?}");
        let rows = self.with_client(&what, |client| {
            client
                .query(SUMMARIES, &[&thread_id, &ns])
                .map_err(pg_error(|| what.clone()))
        })?;
        rows.iter().map(|r| summary(thread_id, r)).collect()
    }

    fn import_thread(
        &self,
        thread_id: &str,
        tuples: &[CheckpointTuple],
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        require_thread("import_thread", thread_id)?;
        let mut prepared = Vec::with_capacity(tuples.len());
        for (done, t) in tuples.iter().enumerate() {
            check_put(&Config::thread(thread_id), &t.checkpoint)?;
            let rows = CheckpointRows::new(thread_id, &t.checkpoint, &t.metadata, None)?;
            prepared.push((t, rows, WriteRows::from_pending(&t.pending_writes)));
            progress(done + 1);
        }
        let what = format!("import thread {thread_id:?}");
        self.in_transaction(&what, |tx| {
            let taken = tx
                .query_opt(
                    "SELECT 1 FROM checkpoints WHERE thread_id = $1 LIMIT 1",
                    &[&thread_id],
                )
                .map_err(pg_error(|| what.clone()))?;
            if taken.is_some() {
                return Err(Error::TargetNotEmpty {
                    source_thread: "(import)".to_owned(),
                    target_thread: thread_id.to_owned(),
                });
            }
            for (t, rows, writes) in &prepared {
                let ns = t.config.ns();
                let parent = t
                    .parent_config
                    .as_ref()
                    .and_then(|p| p.checkpoint_id.as_deref());
                let params = PutParams {
                    thread_id,
                    ns,
                    parent,
                    writes: &WriteRows::default(),
                    parent_must_exist: false,
                    checkpoint_id: &t.checkpoint.id,
                    rows,
                    // An import takes an empty thread; it checks no lease.
                    fence: sql::Fence::Unchecked,
                };
                sql::exec_put(tx, &params, &what)?;
                sql::exec_put_writes(
                    tx,
                    (thread_id, ns, &t.checkpoint.id),
                    writes,
                    sql::Fence::Unchecked,
                    &what,
                )?;
            }
            Ok(())
        })
    }

    fn prune_older_than(&self, thread_ids: &[String], cutoff: SystemTime) -> Result<u64> {
        let what = format!("prune threads {thread_ids:?} by age");
        self.in_transaction(&what, |tx| {
            // A leased thread is its runner's: refused, naming the holder.
            for thread_id in thread_ids {
                super::lease::check(tx, thread_id, None)?;
            }
            let rows = tx
                .query(
                    "SELECT thread_id, checkpoint_ns, checkpoint_id, checkpoint ->> 'ts'
                    FROM checkpoints WHERE thread_id = ANY($1)",
                    &[&thread_ids],
                )
                .map_err(pg_error(|| what.clone()))?;
            let doomed = doomed_by_age(&rows, cutoff)?;
            if doomed.is_empty() {
                return Ok(0);
            }
            let columns = |i: usize| -> Vec<&str> { doomed.iter().map(|d| d[i]).collect() };
            let (threads, namespaces, ids) = (columns(0), columns(1), columns(2));
            for table in ["checkpoint_writes", "checkpoints"] {
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE (thread_id, checkpoint_ns, checkpoint_id) IN (
                        SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))"
                    ),
                    &[&threads, &namespaces, &ids],
                )
                .map_err(pg_error(|| format!("{what}: {table}")))?;
            }
            tx.execute(UNLINK_ORPHANS, &[&threads])
                .map_err(pg_error(|| what.clone()))?;
            let blobs = sql::PRUNE_KEEP_LATEST[3];
            tx.execute(blobs, &[&threads])
                .map_err(pg_error(|| what.clone()))?;
            Ok(doomed.len() as u64)
        })
    }

    /// `VACUUM` of the three tables, with their total size (table, TOAST
    /// and indexes) before and after.
    fn vacuum(&self) -> Result<Option<Vacuumed>> {
        self.with_client("vacuum", |client| {
            let size = |client: &mut postgres::Client| -> Result<u64> {
                let row = client
                    .query_one(TABLE_BYTES, &[])
                    .map_err(pg_error(|| "vacuum: table sizes".to_owned()))?;
                Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
            };
            let bytes_before = size(client)?;
            client
                .batch_execute("VACUUM checkpoints, checkpoint_blobs, checkpoint_writes")
                .map_err(pg_error(|| "vacuum".to_owned()))?;
            let bytes_after = size(client)?;
            Ok(Some(Vacuumed {
                bytes_before,
                bytes_after,
            }))
        })
    }
}

/// `(thread, namespace, id)` of each checkpoint written before `cutoff`
/// that is not the newest of its namespace.
fn doomed_by_age(rows: &[Row], cutoff: SystemTime) -> Result<Vec<[&str; 3]>> {
    let mut dated = Vec::with_capacity(rows.len());
    let mut newest: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for row in rows {
        let t: &str = column(row, 0, "", "")?;
        let (ns, id): (&str, &str) = (column(row, 1, t, "")?, column(row, 2, t, "")?);
        let ts: Option<&str> = column(row, 3, t, id)?;
        let latest = newest.entry((t, ns)).or_insert(id);
        if id > *latest {
            *latest = id;
        }
        dated.push(([t, ns, id], ts));
    }
    Ok(dated
        .into_iter()
        .filter(|([t, ns, id], ts)| {
            let old = ts.is_some_and(|ts| written_before(ts, cutoff));
            old && newest.get(&(*t, *ns)) != Some(id)
        })
        .map(|(key, _)| key)
        .collect())
}

fn thread_summary(row: &Row) -> Result<ThreadSummary> {
    let thread_id: String = column(row, 0, "", "")?;
    let latest: String = column(row, 3, &thread_id, "")?;
    let count = |i| -> Result<u64> {
        Ok(u64::try_from(column::<i64>(row, i, &thread_id, &latest)?).unwrap_or(0))
    };
    Ok(ThreadSummary {
        checkpoints: count(1)?,
        namespaces: count(2)?,
        last_step: column::<Option<i64>>(row, 4, &thread_id, &latest)?.unwrap_or(0),
        last_ts: column(row, 5, &thread_id, &latest)?,
        latest_checkpoint_id: latest,
        thread_id,
    })
}

fn summary(thread_id: &str, row: &Row) -> Result<CheckpointSummary> {
    let id: String = column(row, 1, thread_id, "")?;
    let corrupt = |what: String| Error::Corrupt {
        thread_id: thread_id.to_owned(),
        checkpoint_id: id.clone(),
        what,
    };
    let checkpoint: Value = column(row, 3, thread_id, &id)?;
    let metadata: Value = column(row, 4, thread_id, &id)?;
    let mut checkpoint: Checkpoint =
        serde_json::from_value(checkpoint).map_err(|e| corrupt(format!("checkpoint JSON: {e}")))?;
    checkpoint.id.clone_from(&id);
    let metadata: CheckpointMetadata =
        serde_json::from_value(metadata).map_err(|e| corrupt(format!("metadata JSON: {e}")))?;
    Ok(CheckpointSummary {
        checkpoint_ns: column(row, 0, thread_id, &id)?,
        parent_checkpoint_id: column(row, 2, thread_id, &id)?,
        checkpoint,
        metadata,
    })
}
