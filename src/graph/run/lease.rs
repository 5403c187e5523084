//! A run's thread lease: taken before the run loads its thread (waiting
//! for a busy thread up to the graph's `lease_wait`), renewed in the
//! background every third of its TTL, released when the run ends. Its
//! token goes into the run's config, so every write of the run carries it
//! and the saver fences it (see [`ThreadLeases`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::graph::error::GraphError;
use crate::graph::options::LeaseOptions;
use crate::saver::{AsyncSaver, Config, Error, Lease, ThreadLeases};

/// How often a run waiting for a busy thread tries again.
const RETRY: Duration = Duration::from_millis(25);

/// A lease a run holds, and the task that renews it.
pub(crate) struct HeldLease {
    saver: AsyncSaver<dyn ThreadLeases>,
    lease: Lease,
    renewer: JoinHandle<()>,
}

/// Runs `body` with `config` carrying the token of the thread's lease,
/// taken for the call and released after it; `body` gets `config` as it
/// is when the graph has no leases, or `config` carries a token already
/// (its caller holds the lease, as a subgraph's parent does).
///
/// # Errors
///
/// [`GraphError::ThreadBusy`] when another runner holds the lease past
/// the wait; a saver error of `acquire`; else `body`'s.
pub(crate) async fn leased<T, F, Fut>(
    leases: Option<&LeaseOptions>,
    config: &Config,
    operation: &'static str,
    body: F,
) -> Result<T, GraphError>
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<T, GraphError>>,
{
    let Some(options) = leases.filter(|_| config.lease_token().is_none()) else {
        return body(config.clone()).await;
    };
    if config.thread_id.is_empty() {
        return Err(GraphError::MissingThreadId { operation });
    }
    let held = HeldLease::take(options, &config.thread_id, operation).await?;
    let result = body(config.clone().with_lease_token(held.lease.token)).await;
    held.release().await;
    result
}

impl HeldLease {
    /// Takes the lease of `thread_id`, waiting up to `options.wait` while
    /// another runner holds it, and starts renewing it.
    async fn take(
        options: &LeaseOptions,
        thread_id: &str,
        operation: &'static str,
    ) -> Result<HeldLease, GraphError> {
        let saver = AsyncSaver::from_arc(Arc::clone(&options.leases));
        let deadline = Instant::now() + options.wait;
        let lease = loop {
            match saver.acquire(thread_id, &options.owner, options.ttl).await {
                Ok(lease) => break lease,
                Err(Error::LeaseHeld { holder, .. }) if Instant::now() >= deadline => {
                    return Err(GraphError::ThreadBusy {
                        operation,
                        thread_id: thread_id.to_owned(),
                        holder,
                        waited: options.wait,
                    });
                }
                Err(Error::LeaseHeld { .. }) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(left.min(RETRY)).await;
                }
                Err(e) => {
                    return Err(GraphError::saver("acquire the thread's lease", thread_id)(
                        e,
                    ));
                }
            }
        };
        let renewer = tokio::spawn(renew(saver.clone(), lease.clone(), options.ttl));
        Ok(HeldLease {
            saver,
            lease,
            renewer,
        })
    }

    /// Stops renewing and releases the lease. A lease another runner took
    /// meanwhile is theirs (the run's refused write said so); any other
    /// failure only delays the next run until the lease expires, so it is
    /// logged, not returned.
    async fn release(self) {
        self.renewer.abort();
        let lease = &self.lease;
        match self.saver.release(lease).await {
            Ok(()) | Err(Error::StaleLease { .. }) => {}
            Err(e) => tracing::warn!(
                thread_id = %lease.thread_id,
                token = lease.token,
                error = %e,
                "releasing the thread's lease failed; it expires by itself"
            ),
        }
    }
}

impl Drop for HeldLease {
    /// A run dropped mid-way (its future cancelled) stops renewing: its
    /// lease expires after its TTL.
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Renews `lease` every third of `ttl` until the run ends (the task is
/// aborted) or a renewal fails: the lease expired and another runner may
/// hold it, so the saver refuses the run's next write.
async fn renew(saver: AsyncSaver<dyn ThreadLeases>, mut lease: Lease, ttl: Duration) {
    let every = (ttl / 3).max(Duration::from_millis(1));
    loop {
        tokio::time::sleep(every).await;
        match saver.renew(&lease, ttl).await {
            Ok(renewed) => lease = renewed,
            Err(e) => {
                tracing::warn!(
                    thread_id = %lease.thread_id,
                    token = lease.token,
                    error = %e,
                    "the thread's lease could not be renewed; the run's next write may be refused"
                );
                return;
            }
        }
    }
}
