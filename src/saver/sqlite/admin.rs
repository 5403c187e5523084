//! Maintenance and inspection on a [`SqliteSaver`] file: opening without
//! creating, and [`CheckpointAdmin`] in SQL (thread summaries with
//! `GROUP BY`, light history rows, exact import, age-based pruning,
//! `VACUUM`). The inherent methods are the trait's, callable without
//! importing it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};

use super::Op;
use super::put::PutRow;
use super::sql::{self, RawCheckpoint, encode_json};
use super::values::Stored;
use super::{SqliteOptions, SqliteSaver, execute_all, sql_context, thread_exists, values};
use crate::saver::admin::{
    CheckpointAdmin, CheckpointSummary, ThreadSummary, Vacuumed, written_before,
};
use crate::saver::error::{Error, Result};
use crate::saver::timestamp::system_time_iso;
use crate::saver::tuple::CheckpointTuple;

/// The number of bytes a database takes on disk, with its WAL file.
fn disk_bytes(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path) + size(Path::new(&wal))
}

/// One checkpoint of an import, serialised and owned, ready for the write.
struct Prepared {
    row: PutRow,
    writes: Vec<(String, i64, String, String, String)>,
}

/// The write of an import: refuses a thread that has checkpoints, then
/// stores each prepared checkpoint with its values and its writes (each
/// with its own `idx`).
fn import_op(thread: String, context: String, prepared: Vec<Prepared>) -> Op {
    const INSERT_WRITE_EXACT: &str = "INSERT INTO writes (thread_id, checkpoint_ns, \
         checkpoint_id, task_id, idx, channel, task_path, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET \
         channel = excluded.channel, task_path = excluded.task_path, value = excluded.value";
    Box::new(move |tx| {
        let what = || context.clone();
        if thread_exists(tx, &thread)? {
            return Err(Error::TargetNotEmpty {
                source_thread: "(import)".to_owned(),
                target_thread: thread.clone(),
            });
        }
        for p in &prepared {
            if p.row.store_values(tx)? == Stored::Retry {
                // Complete rows never ask for a retry; refuse rather than
                // store a checkpoint without its values.
                return Err(Error::group_commit(
                    what(),
                    "complete values asked to be retried",
                ));
            }
            p.row.store_checkpoint(tx)?;
            let mut insert = tx
                .prepare_cached(INSERT_WRITE_EXACT)
                .map_err(sql_context(what))?;
            for (task_id, idx, channel, task_path, json) in &p.writes {
                insert
                    .execute(params![
                        thread, p.row.ns, p.row.id, task_id, idx, channel, task_path, json
                    ])
                    .map_err(sql_context(what))?;
            }
        }
        Ok(Stored::Done)
    })
}

impl SqliteSaver {
    /// Opens the database at `path` like [`open_with`](Self::open_with),
    /// but never creates it: a missing file is [`Error::Io`] with
    /// [`std::io::ErrorKind::NotFound`], and a file with no checkpoint
    /// database in it (0 bytes, or an SQLite file without the schema) is
    /// [`Error::NotACheckpointDatabase`], left as it was (no schema is
    /// written into it). An existing database of an older schema is still
    /// migrated.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file does not exist or cannot be inspected,
    /// [`Error::NotACheckpointDatabase`] for an empty one, else as
    /// [`open`](Self::open).
    pub fn open_existing(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {
                super::setup::require_schema(path)?;
                SqliteSaver::open_with(path, options)
            }
            Ok(_) => Err(io(std::io::Error::other("not a regular file"))),
            Err(e) => Err(io(e)),
        }
    }

    /// Whether `thread_id` has any checkpoint, in any namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if the database cannot be read.
    pub fn has_thread(&self, thread_id: &str) -> Result<bool> {
        self.read(|tx| thread_exists(tx, thread_id))
    }

    /// Every thread with its number of checkpoints and namespaces and its
    /// newest checkpoint's id, step and time, most recently updated first
    /// (at most `limit`). Computed in SQL (`GROUP BY`); no checkpoint is
    /// decoded.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if the database cannot be read.
    pub fn threads(&self, limit: Option<usize>) -> Result<Vec<ThreadSummary>> {
        // SQLite fills the bare columns (step, ts) from the row that holds
        // max(checkpoint_id).
        const SQL: &str = "SELECT thread_id, count(*), count(DISTINCT checkpoint_ns), \
             max(checkpoint_id), step, json_extract(checkpoint, '$.ts') \
             FROM checkpoints GROUP BY thread_id \
             ORDER BY max(checkpoint_id) DESC, thread_id LIMIT ?1";
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.read(|tx| {
            let context = || "summarise threads".to_owned();
            let mut stmt = tx.prepare(SQL).map_err(sql_context(context))?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok(ThreadSummary {
                        thread_id: r.get(0)?,
                        checkpoints: r.get::<_, i64>(1)?.unsigned_abs(),
                        namespaces: r.get::<_, i64>(2)?.unsigned_abs(),
                        latest_checkpoint_id: r.get(3)?,
                        last_step: r.get(4)?,
                        last_ts: r.get::<_, Option<String>>(5).ok().flatten(),
                    })
                })
                .map_err(sql_context(context))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_context(context))
        })
    }

    /// The checkpoints of `thread_id` (only namespace `ns` if given),
    /// newest first, without channel values or writes: enough to draw a
    /// history with its forks and the channels each step changed.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if the database cannot be read, [`Error::Corrupt`]
    /// if a row does not decode.
    pub fn checkpoint_summaries(
        &self,
        thread_id: &str,
        ns: Option<&str>,
    ) -> Result<Vec<CheckpointSummary>> {
        const ALL: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, \
             parent_checkpoint_id, checkpoint, metadata FROM checkpoints \
             WHERE thread_id = ?1 ORDER BY checkpoint_id DESC, checkpoint_ns DESC";
        const ONE_NS: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, \
             parent_checkpoint_id, checkpoint, metadata FROM checkpoints \
             WHERE thread_id = ?1 AND checkpoint_ns = ?2 ORDER BY checkpoint_id DESC";
        let raw = self.read(|tx| {
            let context = || format!("list the checkpoints of thread {thread_id:?}");
            let rows = match ns {
                None => tx.prepare_cached(ALL).and_then(|mut s| {
                    s.query_map([thread_id], RawCheckpoint::from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                }),
                Some(ns) => tx.prepare_cached(ONE_NS).and_then(|mut s| {
                    s.query_map([thread_id, ns], RawCheckpoint::from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                }),
            };
            rows.map_err(sql_context(context))
        })?;
        raw.into_iter()
            .map(|raw| {
                let row = raw.decode()?;
                Ok(CheckpointSummary {
                    checkpoint_ns: row.ns,
                    checkpoint: row.checkpoint,
                    metadata: row.metadata,
                    parent_checkpoint_id: row.parent,
                })
            })
            .collect()
    }

    /// Stores a whole thread exactly as given, in one transaction: each
    /// tuple's checkpoint (all its channel values), its metadata verbatim
    /// (nothing merged from the config), its parent (from `parent_config`)
    /// and its pending writes with their own `idx` and `task_path`. The
    /// tuples' own `thread_id`s are ignored: everything goes to
    /// `thread_id`, in the namespace of each tuple's config, in any order.
    /// `progress` is called with the number of checkpoints prepared so far
    /// (serialised; the write itself is one transaction at the end).
    ///
    /// This is the restore half of an export: `list` of the imported thread
    /// returns the same tuples as `list` of the exported one.
    ///
    /// # Errors
    ///
    /// [`Error::TargetNotEmpty`] (with `source_thread` `"(import)"`) if
    /// `thread_id` already has checkpoints (nothing is changed), [`Error::EmptyThreadId`],
    /// [`Error::InvalidCheckpoint`] for a tuple with no checkpoint id or a
    /// value without a version, [`Error::Backend`] if the write fails.
    pub fn import_thread(
        &self,
        thread_id: &str,
        tuples: &[CheckpointTuple],
        mut progress: impl FnMut(usize),
    ) -> Result<()> {
        super::require_thread("import_thread", thread_id)?;
        let what = format!("import of thread {thread_id:?}");
        // Serialise everything before queueing the write. Checkpoints of a
        // thread share most values: each (namespace, channel, version) is
        // serialised and stored once, with the first checkpoint naming it.
        let mut prepared = Vec::with_capacity(tuples.len());
        let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
        for (done, t) in tuples.iter().enumerate() {
            prepared.push(self.prepare_import(thread_id, t, &mut seen, &what)?);
            progress(done + 1);
        }
        let op = import_op(thread_id.to_owned(), what.clone(), prepared);
        let result = self.write(what, op);
        self.cache.forget_thread(thread_id);
        result.map(drop)
    }

    /// One tuple of an import, serialised: its checkpoint row with the
    /// values no earlier tuple stored (`seen` holds those), and its writes.
    fn prepare_import(
        &self,
        thread_id: &str,
        t: &CheckpointTuple,
        seen: &mut BTreeSet<(String, String, String)>,
        what: &str,
    ) -> Result<Prepared> {
        let cp = &t.checkpoint;
        super::check_put(&crate::Config::thread(thread_id), cp)?;
        let ns = t.config.ns();
        let new_versions: crate::ChannelVersions = cp
            .channel_versions
            .iter()
            .filter(|(ch, v)| seen.insert((ns.to_owned(), (*ch).clone(), v.to_string())))
            .map(|(ch, v)| (ch.clone(), *v))
            .collect();
        // Values stored with an earlier checkpoint are not serialised again.
        let mut first_seen = cp.clone();
        first_seen
            .channel_values
            .retain(|ch, _| new_versions.contains_key(ch));
        let encoded = values::encode(
            &self.cache,
            thread_id,
            ns,
            &first_seen,
            &new_versions,
            values::Mode::Complete,
        )?;
        let writes = t
            .pending_writes
            .iter()
            .map(|w| {
                let json = encode_json(
                    thread_id,
                    || format!("write to {:?} by task {}", w.channel, w.task_id),
                    &w.value,
                )?;
                Ok((
                    w.task_id.clone(),
                    w.idx,
                    w.channel.clone(),
                    w.task_path.clone(),
                    json,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let row = PutRow {
            thread_id: thread_id.to_owned(),
            ns: ns.to_owned(),
            id: cp.id.clone(),
            parent: t
                .parent_config
                .as_ref()
                .and_then(|p| p.checkpoint_id.clone()),
            checkpoint_json: sql::encode_checkpoint(thread_id, cp)?,
            metadata_json: encode_json(
                thread_id,
                || format!("metadata of checkpoint {}", cp.id),
                &t.metadata,
            )?,
            step: t.metadata.step,
            source: t.metadata.source.as_str(),
            run_id: t.metadata.run_id.clone(),
            rows: encoded.rows,
            what: what.to_owned(),
        };
        Ok(Prepared { row, writes })
    }

    /// Removes the checkpoints of `thread_ids` whose `ts` is before
    /// `cutoff`, with their writes and the values no remaining checkpoint
    /// names, but always keeps the newest checkpoint of each namespace.
    /// A kept checkpoint whose parent was removed loses its parent link
    /// (as with [`PruneStrategy::KeepLatest`](crate::PruneStrategy)). A
    /// `ts` that does not parse as RFC 3339 counts as new (kept). One
    /// transaction; returns how many checkpoints were removed.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if the database cannot be read or written.
    pub fn prune_older_than(&self, thread_ids: &[String], cutoff: SystemTime) -> Result<u64> {
        const ROWS: &str = "SELECT checkpoint_ns, checkpoint_id, \
             json_extract(checkpoint, '$.ts') FROM checkpoints WHERE thread_id = ?1";
        const DELETE: [&str; 2] = [
            "DELETE FROM writes WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND checkpoint_id = ?3",
            "DELETE FROM checkpoints WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
             AND checkpoint_id = ?3",
        ];
        const UNLINK: &str = "UPDATE checkpoints SET parent_checkpoint_id = NULL \
             WHERE thread_id = ?1 AND parent_checkpoint_id IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM checkpoints AS p WHERE p.thread_id = checkpoints.thread_id \
              AND p.checkpoint_ns = checkpoints.checkpoint_ns \
              AND p.checkpoint_id = checkpoints.parent_checkpoint_id)";
        let what = format!(
            "prune of checkpoints older than {} in {thread_ids:?}",
            system_time_iso(cutoff)
        );
        let removed = Arc::new(AtomicU64::new(0));
        let (threads, context, counter) = (thread_ids.to_vec(), what.clone(), Arc::clone(&removed));
        let op: Op = Box::new(move |tx| {
            let what = || context.clone();
            for thread_id in &threads {
                let thread_id = thread_id.as_str();
                // A leased thread is its runner's: refused, naming the holder.
                super::lease::check(tx, thread_id, None)?;
                let rows = tx
                    .prepare_cached(ROWS)
                    .and_then(|mut s| {
                        s.query_map([thread_id], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Option<String>>(2).ok().flatten(),
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(sql_context(what))?;
                let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
                for (ns, id, _) in &rows {
                    let entry = latest.entry(ns.as_str()).or_insert(id.as_str());
                    if id.as_str() > *entry {
                        *entry = id.as_str();
                    }
                }
                let doomed: BTreeSet<(&str, &str)> = rows
                    .iter()
                    .filter(|(ns, id, ts)| {
                        latest.get(ns.as_str()) != Some(&id.as_str())
                            && ts.as_deref().is_some_and(|t| written_before(t, cutoff))
                    })
                    .map(|(ns, id, _)| (ns.as_str(), id.as_str()))
                    .collect();
                if doomed.is_empty() {
                    continue;
                }
                for (ns, id) in &doomed {
                    execute_all(tx, &DELETE, params![thread_id, ns, id], what)?;
                }
                tx.prepare_cached(UNLINK)
                    .and_then(|mut s| s.execute([thread_id]))
                    .map_err(sql_context(what))?;
                values::collect_garbage(tx, thread_id)?;
                counter.fetch_add(doomed.len() as u64, Ordering::Relaxed);
            }
            Ok(Stored::Done)
        });
        let result = self.write(what, op);
        for thread_id in thread_ids {
            self.cache.forget_thread(thread_id);
        }
        result.map(|_| {
            self.scrub_wal();
            removed.load(Ordering::Relaxed)
        })
    }

    /// Gives unused space back to the file system: checkpoints the WAL
    /// into the database, runs `VACUUM`, and truncates the WAL. Returns the
    /// size on disk (database plus WAL file) before and after, in bytes;
    /// `(0, 0)` in memory.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if SQLite refuses (for example while another
    /// connection holds a read transaction open for too long).
    pub fn vacuum(&self) -> Result<(u64, u64)> {
        let before = self.path().map_or(0, disk_bytes);
        let _turn = self
            .gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let conn = self.conn()?;
        let context = || format!("vacuum {}", self.label.display());
        conn.execute_batch("VACUUM").map_err(sql_context(context))?;
        if self.path().is_some() {
            truncate_wal(&conn).map_err(sql_context(context))?;
        }
        drop(conn);
        let after = self.path().map_or(0, disk_bytes);
        Ok((before, after))
    }
}

/// Copies the WAL into the database and truncates it, so the space VACUUM
/// freed leaves the WAL too. The saver's background WAL checkpointer (or
/// another process) may hold the checkpoint lock for a moment, and then
/// TRUNCATE reports busy without doing anything: try again, briefly.
fn truncate_wal(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    const ATTEMPTS: u32 = 200;
    for _ in 1..ATTEMPTS {
        let busy: Option<i64> = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .optional()?;
        if busy != Some(1) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Still busy after ~2 s: the space comes back at the next checkpoint.
    Ok(())
}

/// The SQL behind each method is the inherent method of the same name.
impl CheckpointAdmin for SqliteSaver {
    fn has_thread(&self, thread_id: &str) -> Result<bool> {
        SqliteSaver::has_thread(self, thread_id)
    }

    fn check(&self) -> Result<crate::saver::CheckReport> {
        self.check_store()
    }

    fn threads(&self, limit: Option<usize>) -> Result<Vec<ThreadSummary>> {
        SqliteSaver::threads(self, limit)
    }

    fn checkpoint_summaries(
        &self,
        thread_id: &str,
        ns: Option<&str>,
    ) -> Result<Vec<CheckpointSummary>> {
        SqliteSaver::checkpoint_summaries(self, thread_id, ns)
    }

    fn import_thread(
        &self,
        thread_id: &str,
        tuples: &[CheckpointTuple],
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        SqliteSaver::import_thread(self, thread_id, tuples, progress)
    }

    fn prune_older_than(&self, thread_ids: &[String], cutoff: SystemTime) -> Result<u64> {
        SqliteSaver::prune_older_than(self, thread_ids, cutoff)
    }

    /// `None` for a memory database (nothing on disk).
    fn vacuum(&self) -> Result<Option<Vacuumed>> {
        let (bytes_before, bytes_after) = SqliteSaver::vacuum(self)?;
        Ok(self.path().map(|_| Vacuumed {
            bytes_before,
            bytes_after,
        }))
    }
}
