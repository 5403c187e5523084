//! `BlockingAsync`: drives an [`AsyncSaver`] through the synchronous trait,
//! so the async wrapper runs the same conformance suite through its real
//! async path (`spawn_blocking` on a multi-thread runtime).

use std::fmt;
use std::future::Future;

use serde_json::Value;
use tokio::runtime::{Builder, Runtime};

use super::args::Args;
use super::forward::forward_calls;
use crate::saver::WriteBatch;
use crate::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointIter,
    CheckpointMetadata, CheckpointTuple, Config, ListOptions, PruneStrategy, Result,
};

/// An [`AsyncSaver`] with its own multi-thread runtime; every trait call is
/// `runtime.block_on(async_saver.call(..))`.
pub struct BlockingAsync<S> {
    runtime: Runtime,
    saver: AsyncSaver<S>,
}

impl<S: BaseCheckpointSaver + 'static> BlockingAsync<S> {
    /// Wraps `saver` in an [`AsyncSaver`] and a fresh runtime of two
    /// worker threads.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built (the system refuses threads): this is
    /// a test helper.
    pub fn new(saver: S) -> Self {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio runtime for BlockingAsync");
        BlockingAsync {
            runtime,
            saver: AsyncSaver::new(saver),
        }
    }

    /// Runs one async call to its end on the runtime.
    fn block_on<'a, F: Future>(
        &'a self,
        _args: Args<'_>,
        call: impl FnOnce(&'a AsyncSaver<S>) -> F,
    ) -> F::Output {
        self.runtime.block_on(call(&self.saver))
    }
}

// Thread leases (issue 12): the lease calls through the async path.
impl<S: crate::ThreadLeases + 'static> crate::ThreadLeases for BlockingAsync<S> {
    fn acquire(
        &self,
        thread_id: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<crate::Lease> {
        self.runtime
            .block_on(self.saver.acquire(thread_id, owner, ttl))
    }
    fn renew(&self, lease: &crate::Lease, ttl: std::time::Duration) -> Result<crate::Lease> {
        self.runtime.block_on(self.saver.renew(lease, ttl))
    }
    fn release(&self, lease: &crate::Lease) -> Result<()> {
        self.runtime.block_on(self.saver.release(lease))
    }
    fn current(&self, thread_id: &str) -> Result<Option<crate::Lease>> {
        self.runtime.block_on(self.saver.current(thread_id))
    }
    fn delete_thread_leased(&self, thread_id: &str, token: u64) -> Result<()> {
        self.runtime
            .block_on(self.saver.delete_thread_leased(thread_id, token))
    }
    fn copy_thread_leased(&self, source: &str, target: &str, token: u64) -> Result<()> {
        self.runtime
            .block_on(self.saver.copy_thread_leased(source, target, token))
    }
    fn prune_leased(&self, thread_id: &str, strategy: PruneStrategy, token: u64) -> Result<()> {
        self.runtime
            .block_on(self.saver.prune_leased(thread_id, strategy, token))
    }
}

impl<S> fmt::Debug for BlockingAsync<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingAsync").finish_non_exhaustive()
    }
}

forward_calls!(all [impl<S: BaseCheckpointSaver + 'static> BaseCheckpointSaver for BlockingAsync<S>] via block_on {
    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        // The async wrapper lists eagerly (it cannot hand out an iterator
        // that reads on the blocking pool); serve its result as an iterator.
        self.block_on(Args::ListIter { config, options }, |s| s.list(config, options))
            .map(CheckpointIter::from_vec)
    }

    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.saver.get_next_version(current)
    }
});
