//! [`HookedSaver`] over a saver with leases is a saver with leases: the
//! lease calls go to the inner saver, and the three fenced whole-thread
//! calls through the hooks as the calls they fence (`delete_thread`,
//! `copy_thread`, `prune`: counted, delayed, failed and recorded as
//! those), so a test can break a leased delete as it breaks a plain one.

use std::time::Duration;

use super::args::Args;
use super::hooked::HookedSaver;
use crate::saver::{Lease, PruneStrategy, Result, ThreadLeases};

impl<S: ThreadLeases> ThreadLeases for HookedSaver<S> {
    fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        self.inner().acquire(thread_id, owner, ttl)
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        self.inner().renew(lease, ttl)
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        self.inner().release(lease)
    }

    fn current(&self, thread_id: &str) -> Result<Option<Lease>> {
        self.inner().current(thread_id)
    }

    fn delete_thread_leased(&self, thread_id: &str, token: u64) -> Result<()> {
        self.hooked(Args::DeleteThread { thread_id }, |_| {
            self.inner().delete_thread_leased(thread_id, token)
        })
    }

    fn copy_thread_leased(&self, source: &str, target: &str, token: u64) -> Result<()> {
        self.hooked(Args::CopyThread { source, target }, |_| {
            self.inner().copy_thread_leased(source, target, token)
        })
    }

    fn prune_leased(&self, thread_id: &str, strategy: PruneStrategy, token: u64) -> Result<()> {
        let thread_ids = [thread_id.to_owned()];
        let args = Args::Prune {
            thread_ids: &thread_ids,
            strategy,
        };
        self.hooked(args, |_| {
            self.inner().prune_leased(thread_id, strategy, token)
        })
    }
}
