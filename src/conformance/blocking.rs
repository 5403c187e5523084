//! `BlockingAsync`: drives an [`AsyncSaver`] through the synchronous trait,
//! so the async wrapper runs the same conformance suite through its real
//! async path (`spawn_blocking` on a multi-thread runtime).

use checkpointer::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointIter,
    CheckpointMetadata, CheckpointTuple, Config, ListOptions, PruneStrategy, Result,
    saver::WriteBatch,
};
use serde_json::Value;
use tokio::runtime::{Builder, Runtime};

/// An [`AsyncSaver`] with its own multi-thread runtime; every trait call is
/// `runtime.block_on(async_saver.call(..))`.
#[derive(Debug)]
pub struct BlockingAsync<S> {
    runtime: Runtime,
    saver: AsyncSaver<S>,
}

impl<S: BaseCheckpointSaver + 'static> BlockingAsync<S> {
    /// Wraps `saver` in an [`AsyncSaver`] and a fresh runtime.
    pub fn new(saver: S) -> Self {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        BlockingAsync {
            runtime,
            saver: AsyncSaver::new(saver),
        }
    }
}

impl<S: BaseCheckpointSaver + 'static> BaseCheckpointSaver for BlockingAsync<S> {
    fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
        self.runtime.block_on(self.saver.get_tuple(config))
    }

    fn get(&self, config: &Config) -> Result<Option<Checkpoint>> {
        self.runtime.block_on(self.saver.get(config))
    }

    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        // The async wrapper lists eagerly (it cannot hand out an iterator
        // that reads on the blocking pool); serve its result as an iterator.
        self.runtime
            .block_on(self.saver.list(config, options))
            .map(CheckpointIter::from_vec)
    }

    fn list(&self, config: Option<&Config>, options: &ListOptions) -> Result<Vec<CheckpointTuple>> {
        self.runtime.block_on(self.saver.list(config, options))
    }

    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        self.runtime
            .block_on(self.saver.put(config, checkpoint, metadata, new_versions))
    }

    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> Result<()> {
        self.runtime
            .block_on(self.saver.put_writes(config, writes, task_id, task_path))
    }

    fn put_with_writes(
        &self,
        config: &Config,
        batches: &[WriteBatch<'_>],
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        self.runtime.block_on(self.saver.put_with_writes(
            config,
            batches,
            checkpoint,
            metadata,
            new_versions,
        ))
    }

    fn delete_thread(&self, thread_id: &str) -> Result<()> {
        self.runtime.block_on(self.saver.delete_thread(thread_id))
    }

    fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        self.runtime.block_on(self.saver.delete_for_runs(run_ids))
    }

    fn copy_thread(&self, source: &str, target: &str) -> Result<()> {
        self.runtime
            .block_on(self.saver.copy_thread(source, target))
    }

    fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()> {
        self.runtime
            .block_on(self.saver.prune(thread_ids, strategy))
    }

    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.saver.get_next_version(current)
    }
}
