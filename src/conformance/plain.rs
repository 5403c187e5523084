//! `Plain`: a saver that forwards every call to the one it wraps but leaves
//! `put_with_writes` to the trait's default implementation, so the suite
//! also checks that default (the one savers outside this crate get).

use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointIter,
    CheckpointMetadata, CheckpointTuple, Config, ListOptions, PruneStrategy, Result,
};
use serde_json::Value;

/// Wraps `S`, without overriding `put_with_writes`.
#[derive(Debug)]
pub struct Plain<S>(pub S);

impl<S: BaseCheckpointSaver> BaseCheckpointSaver for Plain<S> {
    fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
        self.0.get_tuple(config)
    }

    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        self.0.list_iter(config, options)
    }

    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        self.0.put(config, checkpoint, metadata, new_versions)
    }

    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> Result<()> {
        self.0.put_writes(config, writes, task_id, task_path)
    }

    fn delete_thread(&self, thread_id: &str) -> Result<()> {
        self.0.delete_thread(thread_id)
    }

    fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        self.0.delete_for_runs(run_ids)
    }

    fn copy_thread(&self, source: &str, target: &str) -> Result<()> {
        self.0.copy_thread(source, target)
    }

    fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()> {
        self.0.prune(thread_ids, strategy)
    }

    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.0.get_next_version(current)
    }
}
