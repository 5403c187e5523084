//! `AsyncSaver`: async access to any saver through tokio's blocking pool.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::base::BaseCheckpointSaver;
use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::checks::{check_metadata, check_values, check_writes};
use super::config::Config;
use super::error::Result;
use super::list::ListOptions;
use super::prune::PruneStrategy;
use super::tuple::CheckpointTuple;
use super::version::ChannelVersion;
use super::writes::{OwnedWriteBatch, WriteBatch};

/// What [`AsyncSaver::put_with_writes_moved`] gives back: the checkpoint
/// and the batches it moved, and the saver's answer.
#[derive(Debug)]
pub(crate) struct MovedPut {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) batches: Vec<OwnedWriteBatch>,
    pub(crate) result: Result<Config>,
}

/// Async versions of every [`BaseCheckpointSaver`] method, for any saver.
///
/// Each call clones its arguments and runs the synchronous call on
/// [`tokio::task::spawn_blocking`], so a slow disk never stalls the async
/// runtime. Dropping the returned future does not cancel the call: the
/// blocking call runs to its end, and since every saver call is one atomic
/// operation, a dropped future never leaves half a write.
///
/// Cloning an `AsyncSaver` is cheap and shares the saver.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::{AsyncSaver, BaseCheckpointSaver, Config, InMemorySaver};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // Any saver, also behind `Arc<dyn BaseCheckpointSaver>`.
/// let shared: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
/// let saver = AsyncSaver::from_arc(shared);
/// assert!(saver.get_tuple(&Config::thread("nobody")).await?.is_none());
/// # Ok::<(), checkpointer::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncSaver<S: ?Sized> {
    inner: Arc<S>,
}

impl<S: ?Sized> Clone for AsyncSaver<S> {
    fn clone(&self) -> Self {
        AsyncSaver {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: ?Sized> fmt::Debug for AsyncSaver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSaver").finish_non_exhaustive()
    }
}

impl<S: BaseCheckpointSaver> AsyncSaver<S> {
    /// Wraps `saver`.
    pub fn new(saver: S) -> Self {
        AsyncSaver {
            inner: Arc::new(saver),
        }
    }
}

impl<S: BaseCheckpointSaver + ?Sized + 'static> AsyncSaver<S> {
    /// Wraps a shared saver, such as an `Arc<dyn BaseCheckpointSaver>`.
    pub fn from_arc(saver: Arc<S>) -> Self {
        AsyncSaver { inner: saver }
    }

    /// The wrapped saver, for synchronous calls.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Runs `call` on the blocking pool.
    async fn run<T, F>(&self, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> Result<T> + Send + 'static,
    {
        let saver = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || call(&saver)).await?
    }

    /// See [`BaseCheckpointSaver::get_tuple`].
    pub async fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
        let config = config.clone();
        self.run(move |s| s.get_tuple(&config)).await
    }

    /// See [`BaseCheckpointSaver::get`].
    pub async fn get(&self, config: &Config) -> Result<Option<Checkpoint>> {
        let config = config.clone();
        self.run(move |s| s.get(&config)).await
    }

    /// See [`BaseCheckpointSaver::list`].
    pub async fn list(
        &self,
        config: Option<&Config>,
        options: &ListOptions,
    ) -> Result<Vec<CheckpointTuple>> {
        let config = config.cloned();
        let options = options.clone();
        self.run(move |s| s.list(config.as_ref(), &options)).await
    }

    /// See [`BaseCheckpointSaver::put`].
    pub async fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        // Refused before the copy: copying a value nested too deep could
        // exhaust the stack.
        check_depths(config, &[], checkpoint, metadata)?;
        let (config, checkpoint) = (config.clone(), checkpoint.clone());
        let (metadata, new_versions) = (metadata.clone(), new_versions.clone());
        self.run(move |s| s.put(&config, &checkpoint, &metadata, &new_versions))
            .await
    }

    /// See [`BaseCheckpointSaver::put_writes`].
    pub async fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> Result<()> {
        check_writes(config, writes, task_id)?;
        let (config, writes) = (config.clone(), writes.to_vec());
        let (task_id, task_path) = (task_id.to_owned(), task_path.to_owned());
        self.run(move |s| s.put_writes(&config, &writes, &task_id, &task_path))
            .await
    }

    /// See [`BaseCheckpointSaver::put_with_writes`].
    pub async fn put_with_writes(
        &self,
        config: &Config,
        batches: &[WriteBatch<'_>],
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        check_depths(config, batches, checkpoint, metadata)?;
        let owned: Vec<OwnedWriteBatch> = batches.iter().map(OwnedWriteBatch::from).collect();
        let (config, checkpoint) = (config.clone(), checkpoint.clone());
        let (metadata, new_versions) = (metadata.clone(), new_versions.clone());
        self.run(move |s| {
            let batches: Vec<WriteBatch<'_>> =
                owned.iter().map(OwnedWriteBatch::as_batch).collect();
            s.put_with_writes(&config, &batches, &checkpoint, &metadata, &new_versions)
        })
        .await
    }

    /// [`put_with_writes`](Self::put_with_writes) with the checkpoint and
    /// the batches moved to the blocking pool instead of copied, and given
    /// back with the result: the caller goes on from the checkpoint, and
    /// can save the batches on their own if the call failed. With no
    /// batches this is [`put`](Self::put).
    pub(crate) async fn put_with_writes_moved(
        &self,
        config: &Config,
        batches: Vec<OwnedWriteBatch>,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> MovedPut {
        // Shared with the blocking call, which drops its handles when it
        // ends (or panics), so both come back without a copy.
        let (checkpoint, batches) = (Arc::new(checkpoint), Arc::new(batches));
        let (cp, owned, config) = (
            Arc::clone(&checkpoint),
            Arc::clone(&batches),
            config.clone(),
        );
        let result = self
            .run(move |s| {
                if owned.is_empty() {
                    return s.put(&config, &cp, &metadata, &new_versions);
                }
                let batches: Vec<WriteBatch<'_>> =
                    owned.iter().map(OwnedWriteBatch::as_batch).collect();
                s.put_with_writes(&config, &batches, &cp, &metadata, &new_versions)
            })
            .await;
        MovedPut {
            checkpoint: Arc::try_unwrap(checkpoint).unwrap_or_else(|cp| Checkpoint::clone(&cp)),
            batches: Arc::try_unwrap(batches).unwrap_or_else(|b| b.to_vec()),
            result,
        }
    }

    /// See [`BaseCheckpointSaver::delete_thread`].
    pub async fn delete_thread(&self, thread_id: &str) -> Result<()> {
        let thread_id = thread_id.to_owned();
        self.run(move |s| s.delete_thread(&thread_id)).await
    }

    /// See [`BaseCheckpointSaver::delete_for_runs`].
    pub async fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        let run_ids = run_ids.to_vec();
        self.run(move |s| s.delete_for_runs(&run_ids)).await
    }

    /// See [`BaseCheckpointSaver::copy_thread`].
    pub async fn copy_thread(&self, source: &str, target: &str) -> Result<()> {
        let (source, target) = (source.to_owned(), target.to_owned());
        self.run(move |s| s.copy_thread(&source, &target)).await
    }

    /// See [`BaseCheckpointSaver::prune`].
    pub async fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()> {
        let thread_ids = thread_ids.to_vec();
        self.run(move |s| s.prune(&thread_ids, strategy)).await
    }

    /// See [`BaseCheckpointSaver::get_next_version`]; runs inline, as it
    /// does no I/O.
    pub fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.inner.get_next_version(current)
    }
}

/// The checks of a write that the copy for the blocking pool must not
/// come before: values nested too deep are refused while still borrowed.
fn check_depths(
    config: &Config,
    batches: &[WriteBatch<'_>],
    checkpoint: &Checkpoint,
    metadata: &CheckpointMetadata,
) -> Result<()> {
    for batch in batches {
        check_writes(config, batch.writes, batch.task_id)?;
    }
    check_values(config, checkpoint)?;
    check_metadata(config, checkpoint, metadata)
}
