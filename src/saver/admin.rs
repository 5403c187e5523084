//! The [`CheckpointAdmin`] trait: inspection and maintenance of a whole
//! store, beyond the [`BaseCheckpointSaver`] contract. Tools (the
//! `checkpointer` command line, a future HTTP service) work through it, so
//! they never name a backend.

use std::sync::Arc;
use std::time::SystemTime;

use super::base::BaseCheckpointSaver;
use super::check::CheckReport;
use super::checkpoint::{Checkpoint, CheckpointMetadata};
use super::config::Config;
use super::error::Result;
use super::list::ListOptions;
use super::tuple::CheckpointTuple;

/// One thread of a store, as [`CheckpointAdmin::threads`] sums it up
/// (serialised with these field names, as the web page's `api/threads`
/// rows are).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ThreadSummary {
    /// The thread.
    pub thread_id: String,
    /// How many checkpoints it has, over all namespaces.
    pub checkpoints: u64,
    /// How many namespaces it has (1 for a thread without subgraphs).
    pub namespaces: u64,
    /// The id of its newest checkpoint.
    pub latest_checkpoint_id: String,
    /// The metadata `step` of its newest checkpoint.
    pub last_step: i64,
    /// The `ts` of its newest checkpoint, as stored (ISO 8601); `None` if
    /// the stored checkpoint has none.
    pub last_ts: Option<String>,
}

/// A checkpoint without its channel values: what a history listing needs.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointSummary {
    /// Its namespace (`""` for the root graph).
    pub checkpoint_ns: String,
    /// The checkpoint, with `channel_values` left empty (versions,
    /// `versions_seen`, `updated_channels`, `ts` and `id` are all there).
    pub checkpoint: Checkpoint,
    /// Its metadata.
    pub metadata: CheckpointMetadata,
    /// The id of the checkpoint it was made from (same namespace), if any.
    pub parent_checkpoint_id: Option<String>,
}

/// The size a store took on disk around a [`CheckpointAdmin::vacuum`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vacuumed {
    /// Bytes on disk before (for SQLite: the database plus its WAL file).
    pub bytes_before: u64,
    /// Bytes on disk after.
    pub bytes_after: u64,
}

/// Inspection and maintenance of a store: listing its threads, light
/// history rows, exact import of an exported thread, pruning by age and
/// giving space back. Object safe, like [`BaseCheckpointSaver`]: tools take
/// `&dyn CheckpointAdmin` or `Arc<dyn CheckpointAdmin>` and upcast it to
/// `Arc<dyn BaseCheckpointSaver>` where a graph needs a saver.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointAdmin, CheckpointMetadata,
///     CheckpointSource, Config, InMemorySaver};
///
/// let admin: Arc<dyn CheckpointAdmin> = Arc::new(InMemorySaver::new());
/// let cp = Checkpoint::new(0).with_value("messages", serde_json::json!(["hi"]), 1);
/// admin.put(&Config::thread("t1"), &cp, &CheckpointMetadata::new(CheckpointSource::Loop, 0),
///     &cp.channel_versions)?;
///
/// let threads = admin.threads(None)?;
/// assert_eq!((threads[0].thread_id.as_str(), threads[0].checkpoints), ("t1", 1));
/// let history = admin.checkpoint_summaries("t1", None)?;
/// assert!(history[0].checkpoint.channel_values.is_empty(), "no values in a summary");
///
/// // The same object, as the plain saver a graph takes.
/// let saver: Arc<dyn BaseCheckpointSaver> = admin;
/// assert!(saver.get(&Config::thread("t1"))?.is_some());
/// # Ok::<(), checkpointer::Error>(())
/// ```
///
/// # Contract
///
/// Every implementation keeps these rules (the shared admin suite in
/// `tests/admin.rs` checks each of them, on every saver of this crate):
///
/// - [`has_thread`](Self::has_thread) is true exactly when the thread has a
///   checkpoint in some namespace; an empty id has none.
/// - [`threads`](Self::threads) lists every thread once, most recently
///   updated first (greatest newest checkpoint id; ties by thread id),
///   at most `limit`. The newest checkpoint is taken over all namespaces,
///   and `last_step`/`last_ts` are that checkpoint's.
/// - [`checkpoint_summaries`](Self::checkpoint_summaries) returns what
///   [`list`](BaseCheckpointSaver::list) would (only namespace `ns` if
///   given), newest first (ties by namespace, greatest first), with empty
///   `channel_values` and no writes. An unknown thread gives an empty list.
/// - [`import_thread`](Self::import_thread) stores the tuples exactly as
///   given (all channel values, metadata verbatim with nothing merged from
///   a config, the parent from `parent_config`, pending writes with their
///   own `idx` and `task_path`) under `thread_id`, in the namespace of each
///   tuple's config, in one all-or-nothing step. A `thread_id` that already
///   has checkpoints is [`Error::TargetNotEmpty`] (its `source_thread` is
///   `"(import)"`) and changes nothing. `list` of the imported thread then
///   returns the same tuples as `list` of the exported one.
/// - [`prune_older_than`](Self::prune_older_than) removes the checkpoints
///   of the listed threads written before the cutoff (by their `ts`; see
///   [`written_before`]), with their writes and unreferenced values, but
///   always keeps the newest checkpoint of each namespace; a kept
///   checkpoint whose parent was removed loses its parent link. It returns
///   how many checkpoints it removed; unknown threads are a no-op.
/// - [`vacuum`](Self::vacuum) gives unused space back and reports the size
///   before and after, or `None` where that does not apply (a store with
///   nothing on disk, such as [`InMemorySaver`](crate::InMemorySaver)).
///   It changes no checkpoint.
///
/// [`Error::TargetNotEmpty`]: crate::Error::TargetNotEmpty
pub trait CheckpointAdmin: BaseCheckpointSaver {
    /// Whether `thread_id` has any checkpoint, in any namespace.
    ///
    /// The default reads at most one checkpoint through
    /// [`list_iter`](BaseCheckpointSaver::list_iter).
    fn has_thread(&self, thread_id: &str) -> Result<bool> {
        if thread_id.is_empty() {
            return Ok(false);
        }
        let options = ListOptions::new().limit(1);
        let mut found = self.list_iter(Some(&Config::thread(thread_id)), &options)?;
        Ok(found.next().transpose()?.is_some())
    }

    /// Every thread with its number of checkpoints and namespaces and its
    /// newest checkpoint's id, step and time, most recently updated first
    /// (at most `limit`).
    fn threads(&self, limit: Option<usize>) -> Result<Vec<ThreadSummary>>;

    /// The checkpoints of `thread_id` (only namespace `ns` if given),
    /// newest first, without channel values or writes.
    fn checkpoint_summaries(
        &self,
        thread_id: &str,
        ns: Option<&str>,
    ) -> Result<Vec<CheckpointSummary>>;

    /// Stores a whole thread exactly as given, all or nothing; `progress`
    /// is called with the number of checkpoints prepared so far.
    fn import_thread(
        &self,
        thread_id: &str,
        tuples: &[CheckpointTuple],
        progress: &mut dyn FnMut(usize),
    ) -> Result<()>;

    /// Removes the checkpoints of `thread_ids` written before `cutoff`,
    /// keeping the newest of each namespace; returns how many it removed.
    fn prune_older_than(&self, thread_ids: &[String], cutoff: SystemTime) -> Result<u64>;

    /// Gives unused space back; `None` where nothing is on disk.
    fn vacuum(&self) -> Result<Option<Vacuumed>>;

    /// Checks the whole store and reports every problem found; changes
    /// nothing. The default reads every checkpoint back
    /// ([`CheckReport::read_everything`]); a backend adds its own checks
    /// (SQLite: `integrity_check` and `foreign_key_check` first). An
    /// `Err` only when the check itself could not run.
    fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        report.read_everything(&self);
        Ok(report)
    }
}

/// Whether a checkpoint `ts` (RFC 3339, as [`Checkpoint::new`] writes it)
/// is strictly before `cutoff`. A `ts` that does not parse counts as new,
/// so pruning by age never removes a checkpoint it cannot date.
pub fn written_before(ts: &str, cutoff: SystemTime) -> bool {
    let Some(written) = super::timestamp::parse_rfc3339_nanos(ts) else {
        return false;
    };
    // Nanoseconds since the epoch on both sides: no conversion that can
    // overflow or panic, whatever the dates.
    written < super::timestamp::unix_nanos(cutoff)
}

/// Implements the trait for a pointer type by forwarding every call.
macro_rules! forward_admin {
    ($($ptr:ty),*) => {$(
        impl<S: CheckpointAdmin + ?Sized> CheckpointAdmin for $ptr {
            fn has_thread(&self, thread_id: &str) -> Result<bool> {
                (**self).has_thread(thread_id)
            }
            fn threads(&self, limit: Option<usize>) -> Result<Vec<ThreadSummary>> {
                (**self).threads(limit)
            }
            fn checkpoint_summaries(
                &self,
                thread_id: &str,
                ns: Option<&str>,
            ) -> Result<Vec<CheckpointSummary>> {
                (**self).checkpoint_summaries(thread_id, ns)
            }
            fn import_thread(
                &self,
                thread_id: &str,
                tuples: &[CheckpointTuple],
                progress: &mut dyn FnMut(usize),
            ) -> Result<()> {
                (**self).import_thread(thread_id, tuples, progress)
            }
            fn prune_older_than(&self, thread_ids: &[String], cutoff: SystemTime) -> Result<u64> {
                (**self).prune_older_than(thread_ids, cutoff)
            }
            fn vacuum(&self) -> Result<Option<Vacuumed>> {
                (**self).vacuum()
            }
            fn check(&self) -> Result<CheckReport> {
                (**self).check()
            }
        }
    )*};
}

forward_admin!(&S, Box<S>, Arc<S>);

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn written_before_compares_instants_and_keeps_what_it_cannot_date() {
        let cutoff = UNIX_EPOCH + Duration::from_secs(1_600_000_000); // 2020-09-13T12:26:40Z
        assert!(written_before("2020-01-01T00:00:00+00:00", cutoff));
        assert!(!written_before("2021-01-01T00:00:00Z", cutoff));
        assert!(
            !written_before("2020-09-13T12:26:40Z", cutoff),
            "strictly before"
        );
        assert!(
            written_before("2020-09-13T14:26:39+02:00", cutoff),
            "offsets count"
        );
        assert!(!written_before("not a time", cutoff));
        assert!(!written_before("", cutoff));
        assert!(written_before("1900-01-01T00:00:00Z", UNIX_EPOCH));
    }
}
