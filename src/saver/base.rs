//! The `BaseCheckpointSaver` trait: the contract every saver keeps.

use std::sync::Arc;

use serde_json::Value;

use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::checks::{check_metadata, check_put, check_writes, writes_target};
use super::config::Config;
use super::error::Result;
use super::iter::CheckpointIter;
use super::list::ListOptions;
use super::prune::PruneStrategy;
use super::tuple::CheckpointTuple;
use super::version::ChannelVersion;
use super::writes::WriteBatch;

/// Stores checkpoints, their metadata and the pending writes of their tasks,
/// per thread and namespace.
///
/// The trait is synchronous, `Send + Sync` and object safe: use it as
/// `&dyn BaseCheckpointSaver`, `Box<dyn ...>` or `Arc<dyn ...>`. For async
/// code wrap any saver in [`AsyncSaver`](crate::AsyncSaver).
///
/// # Contract
///
/// Every saver of this crate keeps these rules, and the shared conformance
/// suite in `tests/` checks each of them.
///
/// **Addressing.**
/// - A config names a thread (`thread_id`, never empty), a namespace
///   (`checkpoint_ns`, `""` when unset) and optionally a checkpoint.
///   Namespaces of one thread are isolated from each other.
/// - Checkpoint ids order checkpoints: a newer checkpoint has a greater id
///   (as a string). [`new_checkpoint_id`](crate::new_checkpoint_id) makes
///   such ids.
///
/// **Reading.**
/// - [`get_tuple`](Self::get_tuple) without a `checkpoint_id` returns the
///   latest checkpoint of the thread and namespace; with one, exactly that
///   checkpoint. Either way `Ok(None)` when there is none. A read of an
///   unknown thread changes nothing.
/// - [`list_iter`](Self::list_iter) (and [`list`](Self::list), which
///   collects it) returns checkpoints newest first. With a config it
///   lists that thread (only that namespace if `checkpoint_ns` is set, only
///   that checkpoint if `checkpoint_id` is set); without one, every thread.
///   `filter` keeps checkpoints whose metadata has every filter key at the
///   given value (AND of equalities, numbers compared by value; keys must be
///   plain identifiers, else [`Error::InvalidFilterKey`]); `before` keeps
///   ids strictly less than the given id; `limit` applies after filtering.
/// - A returned tuple carries its `parent_config` (the config `put` was
///   called with, if it named a checkpoint) and its pending writes ordered
///   by `(task_path, task_id, idx)`.
///
/// **Writing.**
/// - [`put`](Self::put) stores a checkpoint under the config's thread and
///   namespace with the config's `checkpoint_id` as parent, and returns the
///   config of the stored checkpoint. Channel values are stored for the
///   channels in `new_versions` (and for any channel whose version was never
///   stored before), so a channel whose version did not change is stored
///   once, and every checkpoint reads back with the value of each channel
///   at the version it names. Channels absent from `channel_versions` are
///   absent when read back. Scalar keys of the config's `metadata` and
///   `configurable` maps that the metadata lacks are merged in (not `__*`
///   keys, not the addressing keys); `configurable.run_id` becomes the
///   metadata's `run_id`.
/// - A new checkpoint starts with no pending writes.
/// - What a saver accepts it reads back. A channel value, metadata value
///   or task write nested deeper than
///   [`MAX_VALUE_DEPTH`](crate::saver::checks::MAX_VALUE_DEPTH) levels of
///   arrays and objects, and a channel version whose counter is exhausted
///   (`u64::MAX`), are refused at write time with
///   [`Error::InvalidCheckpoint`](crate::Error::InvalidCheckpoint) naming
///   the channel, key or task (see [`checks`](crate::saver::checks)).
/// - [`put_writes`](Self::put_writes) stores writes against the checkpoint
///   the config names; that checkpoint must exist
///   ([`Error::MissingCheckpointId`], [`Error::CheckpointNotFound`]).
///   Each write gets index [`write_idx`](crate::saver::write_idx): special
///   channels (`__error__`, `__scheduled__`, `__interrupt__`, `__resume__`)
///   have a fixed negative index and a new write replaces the old one; any
///   other write is kept first-come, so repeating a call is idempotent per
///   `(task_id, idx)`.
/// - [`put_with_writes`](Self::put_with_writes) stores task writes against
///   the checkpoint the config names and then a child of it: the same
///   result as one `put_writes` per batch (in order) followed by `put`,
///   and the same errors (a bad write batch is reported before a bad
///   checkpoint). Bad input in any part (whatever `put_writes` or `put`
///   would refuse, a missing parent included) is reported and changes
///   nothing. Savers that can make the whole call atomic do (both savers
///   of this crate: the SQLite saver stores it in one transaction with one
///   fsync, the memory saver under one lock); the default implementation,
///   for other savers, checks everything first and then makes the
///   separate calls.
///
/// **Deleting and copying.**
/// - [`delete_thread`](Self::delete_thread) removes every checkpoint, value
///   and write of every namespace of the thread and nothing else; an
///   unknown thread is a no-op.
/// - [`delete_for_runs`](Self::delete_for_runs) removes the checkpoints
///   whose metadata `run_id` is one of the given ids, with their writes, in
///   every thread and namespace; an empty list or unknown ids are a no-op.
/// - [`copy_thread`](Self::copy_thread) copies every checkpoint, namespace,
///   metadata and write of a thread to a new thread, keeping ids and order;
///   the source is unchanged. An unknown source is
///   [`Error::ThreadNotFound`]; a target that already has checkpoints is
///   [`Error::TargetNotEmpty`].
/// - [`prune`](Self::prune) with [`PruneStrategy::KeepLatest`] keeps the
///   latest checkpoint of each namespace of each listed thread (with its
///   writes and values; its parent link is cleared), with
///   [`PruneStrategy::Delete`] removes the threads; other threads are
///   untouched and unknown threads are a no-op.
///
/// **Atomicity.** Each call is all-or-nothing (`put_with_writes` only where
/// the saver overrides it, as both savers of this crate do): a call that
/// returns an error has changed nothing, and a call that returned `Ok` is durable as far as
/// the saver promises (in memory: until the saver is dropped). Concurrent
/// calls may share a transaction and its fsync (group commit); each stays
/// atomic on its own and returns only once its own data is durable.
///
/// [`Error::InvalidFilterKey`]: crate::Error::InvalidFilterKey
/// [`Error::MissingCheckpointId`]: crate::Error::MissingCheckpointId
/// [`Error::CheckpointNotFound`]: crate::Error::CheckpointNotFound
/// [`Error::ThreadNotFound`]: crate::Error::ThreadNotFound
/// [`Error::TargetNotEmpty`]: crate::Error::TargetNotEmpty
pub trait BaseCheckpointSaver: Send + Sync {
    /// The checkpoint the config names (the latest if it names none), with
    /// its metadata, parent and pending writes.
    fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>>;

    /// The checkpoint the config names (the latest if it names none).
    fn get(&self, config: &Config) -> Result<Option<Checkpoint>> {
        Ok(self.get_tuple(config)?.map(|t| t.checkpoint))
    }

    /// Checkpoints newest first, decoded as the caller iterates; see the
    /// contract for `config` and `options`. Bad options fail the call
    /// itself; an item fails only if its stored data cannot be decoded.
    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter>;

    /// [`list_iter`](Self::list_iter), collected.
    fn list(&self, config: Option<&Config>, options: &ListOptions) -> Result<Vec<CheckpointTuple>> {
        self.list_iter(config, options)?.collect()
    }

    /// Stores `checkpoint` as the child of the checkpoint `config` names and
    /// returns the config that names the stored checkpoint.
    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config>;

    /// Stores a task's writes `(channel, value)` against the checkpoint
    /// `config` names.
    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> Result<()>;

    /// Stores each batch of task writes against the checkpoint `config`
    /// names (as [`put_writes`](Self::put_writes) does), then `checkpoint`
    /// as that checkpoint's child (as [`put`](Self::put) does), and returns
    /// the config that names the stored child. With no batches it is
    /// `put`.
    ///
    /// The result is that of the separate calls, in that order; but input
    /// that any of them would refuse (an empty thread id, a config without
    /// `checkpoint_id` while there are writes, a checkpoint `put` refuses,
    /// a parent that does not exist) fails the whole call with that error
    /// and stores nothing. A saver that can store everything atomically
    /// overrides this method to do so; the SQLite saver writes it all in
    /// one transaction, so a durable graph step costs one fsync instead of
    /// two.
    ///
    /// The default implementation checks every part first, then calls
    /// `put_writes` per batch and `put`: the first `put_writes` reports a
    /// missing parent before anything is stored, but a failure of the
    /// storage itself part way leaves the earlier calls' data stored.
    ///
    /// # Errors
    ///
    /// Those of [`put_writes`](Self::put_writes) and [`put`](Self::put).
    fn put_with_writes(
        &self,
        config: &Config,
        batches: &[WriteBatch<'_>],
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        if !batches.is_empty() {
            writes_target(config)?;
        }
        for batch in batches {
            check_writes(config, batch.writes, batch.task_id)?;
        }
        check_put(config, checkpoint)?;
        check_metadata(config, checkpoint, metadata)?;
        for batch in batches {
            self.put_writes(config, batch.writes, batch.task_id, batch.task_path)?;
        }
        self.put(config, checkpoint, metadata, new_versions)
    }

    /// Removes everything stored for `thread_id`.
    fn delete_thread(&self, thread_id: &str) -> Result<()>;

    /// Removes the checkpoints (and their writes) whose metadata `run_id` is
    /// one of `run_ids`.
    fn delete_for_runs(&self, run_ids: &[String]) -> Result<()>;

    /// Copies thread `source` to the new thread `target`.
    fn copy_thread(&self, source: &str, target: &str) -> Result<()>;

    /// Removes old history of `thread_ids` as `strategy` says.
    fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()>;

    /// The version that follows `current` (`None`: a new channel). Versions
    /// of one saver are totally ordered and never mix kinds.
    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        ChannelVersion::next_after(current)
    }
}

/// Implements the trait for a pointer type by forwarding every call.
macro_rules! forward_saver {
    ($($ptr:ty),*) => {$(
        impl<S: BaseCheckpointSaver + ?Sized> BaseCheckpointSaver for $ptr {
            fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
                (**self).get_tuple(config)
            }
            fn get(&self, config: &Config) -> Result<Option<Checkpoint>> {
                (**self).get(config)
            }
            fn list_iter(
                &self,
                config: Option<&Config>,
                options: &ListOptions,
            ) -> Result<CheckpointIter> {
                (**self).list_iter(config, options)
            }
            fn list(
                &self,
                config: Option<&Config>,
                options: &ListOptions,
            ) -> Result<Vec<CheckpointTuple>> {
                (**self).list(config, options)
            }
            fn put(
                &self,
                config: &Config,
                checkpoint: &Checkpoint,
                metadata: &CheckpointMetadata,
                new_versions: &ChannelVersions,
            ) -> Result<Config> {
                (**self).put(config, checkpoint, metadata, new_versions)
            }
            fn put_writes(
                &self,
                config: &Config,
                writes: &[(String, Value)],
                task_id: &str,
                task_path: &str,
            ) -> Result<()> {
                (**self).put_writes(config, writes, task_id, task_path)
            }
            fn put_with_writes(
                &self,
                config: &Config,
                batches: &[WriteBatch<'_>],
                checkpoint: &Checkpoint,
                metadata: &CheckpointMetadata,
                new_versions: &ChannelVersions,
            ) -> Result<Config> {
                (**self).put_with_writes(config, batches, checkpoint, metadata, new_versions)
            }
            fn delete_thread(&self, thread_id: &str) -> Result<()> {
                (**self).delete_thread(thread_id)
            }
            fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
                (**self).delete_for_runs(run_ids)
            }
            fn copy_thread(&self, source: &str, target: &str) -> Result<()> {
                (**self).copy_thread(source, target)
            }
            fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()> {
                (**self).prune(thread_ids, strategy)
            }
            fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
                (**self).get_next_version(current)
            }
        }
    )*};
}

forward_saver!(&S, Box<S>, Arc<S>);
