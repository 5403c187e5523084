//! [`ThreadLeases`] for [`InMemorySaver`]: the lease rows live beside the
//! threads, in the saver; expiry by the local clock.

use std::time::{Duration, SystemTime};

use super::InMemorySaver;
use crate::saver::error::Result;
use crate::saver::lease::{Lease, ThreadLeases, check_own, next_lease};

impl ThreadLeases for InMemorySaver {
    fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        let mut leases = self.leases();
        let lease = next_lease(
            thread_id,
            owner,
            ttl,
            leases.get(thread_id),
            SystemTime::now(),
        )?;
        leases.insert(thread_id.to_owned(), lease.clone());
        Ok(lease)
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let mut leases = self.leases();
        let now = SystemTime::now();
        check_own(lease, leases.get(&lease.thread_id), now, false)?;
        let renewed = Lease {
            expires: now.checked_add(ttl).unwrap_or(now),
            ..lease.clone()
        };
        leases.insert(lease.thread_id.clone(), renewed.clone());
        Ok(renewed)
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        let mut leases = self.leases();
        check_own(lease, leases.get(&lease.thread_id), SystemTime::now(), true)?;
        // The row stays, expired, so that the next token is greater.
        leases.insert(
            lease.thread_id.clone(),
            Lease {
                expires: SystemTime::UNIX_EPOCH,
                ..lease.clone()
            },
        );
        Ok(())
    }

    fn current(&self, thread_id: &str) -> Result<Option<Lease>> {
        let now = SystemTime::now();
        Ok(self
            .leases()
            .get(thread_id)
            .filter(|l| l.is_live_at(now))
            .cloned())
    }

    crate::saver::lease::fenced_calls!();
}
