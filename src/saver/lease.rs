//! Thread leases: one writer per thread, fenced by a token (see
//! [`ThreadLeases`]).

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::base::BaseCheckpointSaver;
use super::config::Config;
use super::error::{Error, Result};
use super::prune::PruneStrategy;

/// The `configurable` key that carries a lease's fencing token.
pub const LEASE_TOKEN_KEY: &str = "lease_token";

/// A thread's lease, as [`ThreadLeases::acquire`] gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The thread leased.
    pub thread_id: String,
    /// Who holds it.
    pub owner: String,
    /// The fencing token: strictly increasing per thread.
    pub token: u64,
    /// When it expires (by the database's clock).
    pub expires: SystemTime,
}

impl Lease {
    /// Whether the lease is live at `now`.
    #[must_use]
    pub fn is_live_at(&self, now: SystemTime) -> bool {
        self.expires > now
    }
}

impl Config {
    /// The same config, carrying the fencing token of a lease of its
    /// thread (in `configurable`, key [`LEASE_TOKEN_KEY`]).
    ///
    /// ```
    /// use checkpointer::Config;
    /// assert_eq!(Config::thread("t").with_lease_token(7).lease_token(), Some(7));
    /// ```
    #[must_use]
    pub fn with_lease_token(self, token: u64) -> Self {
        self.with_configurable(LEASE_TOKEN_KEY, token)
    }

    /// The fencing token the config carries, if any (a value that is not
    /// a non-negative integer counts as none).
    #[must_use]
    pub fn lease_token(&self) -> Option<u64> {
        self.configurable
            .get(LEASE_TOKEN_KEY)
            .and_then(Value::as_u64)
    }
}

/// Thread leases with fencing tokens.
///
/// The companion trait of
/// [`BaseCheckpointSaver`](crate::BaseCheckpointSaver) that every saver of
/// this crate with a lease table implements ([`InMemorySaver`](crate::InMemorySaver),
/// [`SqliteSaver`](crate::SqliteSaver), and `PostgresSaver` with feature
/// `postgres`).
///
/// # Contract
///
/// - [`acquire`](ThreadLeases::acquire) gives `owner` the lease of a thread
///   for `ttl` when the thread has no live lease (none, released, or
///   expired: an expired lease can be taken by another owner at once).
///   A live lease, even one of the same owner, is [`Error::LeaseHeld`]
///   naming the holder. Each new lease of a thread carries a fencing
///   token strictly greater than every earlier token of that thread
///   (tokens survive release, expiry and `delete_thread`).
/// - [`renew`](ThreadLeases::renew) extends a live lease by `ttl` from
///   now; [`release`](ThreadLeases::release) ends it. Both refuse a lease
///   that is no longer the thread's live lease with [`Error::StaleLease`]
///   (releasing one's own lease that has just expired is allowed).
/// - A write to a thread with a live lease (`put`, `put_writes`,
///   `put_with_writes` with the token in the config, see
///   [`Config::with_lease_token`]; `delete_thread`, `copy_thread` onto it
///   and `prune` through the `*_leased` calls of this trait) must carry
///   that lease's token: the saver checks it in the same transaction as
///   the write. A missing, wrong or stale token is [`Error::LeaseHeld`]
///   naming thread and holder, and the write changes nothing.
/// - A write carrying the token of a lease that a newer lease of the
///   thread replaced is [`Error::StaleLease`] even when no lease is live
///   (the newer one expired or was released): a runner paused past its
///   lease cannot write once another runner took the thread. The token of
///   the thread's newest lease, expired, is accepted.
/// - A thread without a live lease otherwise behaves as without leases:
///   every write succeeds, with or without a token, so existing users see
///   no change.
/// - Time: expiry is judged by one clock per database. Memory and SQLite
///   use the clock of the machine the saver runs on ([`SystemTime::now`]):
///   processes sharing one SQLite file share that machine's clock.
///   PostgreSQL uses the server's `now()`, so workers on many machines
///   agree.
///
/// ```
/// use std::time::Duration;
/// use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
///     Config, Error, InMemorySaver, ThreadLeases};
///
/// let saver = InMemorySaver::new();
/// let lease = saver.acquire("t1", "worker-a", Duration::from_secs(30))?;
/// let cp = Checkpoint::new(-1);
/// let meta = CheckpointMetadata::new(CheckpointSource::Input, -1);
/// // Without the token the write is refused ...
/// let refused = saver.put(&Config::thread("t1"), &cp, &meta, &cp.channel_versions);
/// assert!(matches!(refused, Err(Error::LeaseHeld { .. })));
/// // ... with it, it is stored.
/// let config = Config::thread("t1").with_lease_token(lease.token);
/// saver.put(&config, &cp, &meta, &cp.channel_versions)?;
/// saver.release(&lease)?;
/// # Ok::<(), checkpointer::Error>(())
/// ```
pub trait ThreadLeases: BaseCheckpointSaver {
    /// Takes the lease of `thread_id` for `owner`, for `ttl` from now.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseHeld`] when the thread has a live lease;
    /// [`Error::EmptyThreadId`]; a backend error.
    fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease>;

    /// Extends a live lease to `ttl` from now and returns it.
    ///
    /// # Errors
    ///
    /// [`Error::StaleLease`] when `lease` is not the thread's live lease.
    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease>;

    /// Ends a lease, so that anyone can take the thread at once.
    ///
    /// # Errors
    ///
    /// [`Error::StaleLease`] when another lease of the thread was taken since.
    fn release(&self, lease: &Lease) -> Result<()>;

    /// The live lease of `thread_id`, if any.
    ///
    /// # Errors
    ///
    /// A backend error.
    fn current(&self, thread_id: &str) -> Result<Option<Lease>>;

    /// `delete_thread` under the lease whose token is `token`.
    ///
    /// # Errors
    ///
    /// As `delete_thread`, and [`Error::LeaseHeld`] for a wrong token.
    fn delete_thread_leased(&self, thread_id: &str, token: u64) -> Result<()>;

    /// `copy_thread` onto `target` under its lease, whose token is `token`.
    ///
    /// # Errors
    ///
    /// As `copy_thread`, and [`Error::LeaseHeld`] for a wrong token.
    fn copy_thread_leased(&self, source: &str, target: &str, token: u64) -> Result<()>;

    /// `prune` of one thread under its lease, whose token is `token`.
    ///
    /// # Errors
    ///
    /// As `prune`, and [`Error::LeaseHeld`] for a wrong token.
    fn prune_leased(&self, thread_id: &str, strategy: PruneStrategy, token: u64) -> Result<()>;
}

/// The three whole-thread calls of [`ThreadLeases`], for a saver whose
/// `delete_thread_fenced`, `copy_thread_fenced` and `prune_fenced` take
/// an optional token.
macro_rules! fenced_calls {
    () => {
        fn delete_thread_leased(&self, thread_id: &str, token: u64) -> Result<()> {
            self.delete_thread_fenced(thread_id, Some(token))
        }

        fn copy_thread_leased(&self, source: &str, target: &str, token: u64) -> Result<()> {
            self.copy_thread_fenced(source, target, Some(token))
        }

        fn prune_leased(
            &self,
            thread_id: &str,
            strategy: $crate::saver::PruneStrategy,
            token: u64,
        ) -> Result<()> {
            self.prune_fenced(&[thread_id.to_owned()], strategy, Some(token))
        }
    };
}
pub(crate) use fenced_calls;

/// `delete_thread`, `copy_thread` and `prune` of [`BaseCheckpointSaver`]
/// for the same savers: the fenced calls without a token.
macro_rules! unfenced_calls {
    () => {
        fn delete_thread(&self, thread_id: &str) -> Result<()> {
            self.delete_thread_fenced(thread_id, None)
        }

        fn copy_thread(&self, source: &str, target: &str) -> Result<()> {
            self.copy_thread_fenced(source, target, None)
        }

        fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()> {
            self.prune_fenced(thread_ids, strategy, None)
        }
    };
}
pub(crate) use unfenced_calls;

/// The check of a write to `thread_id`: `live` is the thread's lease row
/// (live or not), `given` the token the write carries.
pub(crate) fn check_write(
    thread_id: &str,
    row: Option<&Lease>,
    now: SystemTime,
    given: Option<u64>,
) -> Result<()> {
    let row = row.map(|l| (l.owner.as_str(), l.token, l.is_live_at(now)));
    check_row(thread_id, row, given)
}

/// As [`check_write`], for a backend that judged liveness itself: `row`
/// is the owner and token of the thread's newest lease and whether it is
/// live.
pub(crate) fn check_row(
    thread_id: &str,
    row: Option<(&str, u64, bool)>,
    given: Option<u64>,
) -> Result<()> {
    match (row, given) {
        (Some((owner, token, true)), _) if given != Some(token) => Err(Error::LeaseHeld {
            thread_id: thread_id.to_owned(),
            holder: owner.to_owned(),
            token: given,
        }),
        (Some((_, newest, false)), Some(given)) if given < newest => Err(Error::StaleLease {
            thread_id: thread_id.to_owned(),
            token: given,
            holder: None,
        }),
        _ => Ok(()),
    }
}

/// The outcome of `acquire` against the thread's lease row: the new lease.
pub(crate) fn next_lease(
    thread_id: &str,
    owner: &str,
    ttl: Duration,
    row: Option<&Lease>,
    now: SystemTime,
) -> Result<Lease> {
    if thread_id.is_empty() {
        return Err(Error::EmptyThreadId {
            operation: "acquire",
        });
    }
    if let Some(held) = row.filter(|l| l.is_live_at(now)) {
        return Err(Error::LeaseHeld {
            thread_id: thread_id.to_owned(),
            holder: held.owner.clone(),
            token: None,
        });
    }
    Ok(Lease {
        thread_id: thread_id.to_owned(),
        owner: owner.to_owned(),
        token: row.map_or(1, |l| l.token.saturating_add(1)),
        expires: now.checked_add(ttl).unwrap_or(now),
    })
}

/// The check of `renew` (`release` when `releasing`) against the row.
pub(crate) fn check_own(
    lease: &Lease,
    row: Option<&Lease>,
    now: SystemTime,
    releasing: bool,
) -> Result<()> {
    match row {
        Some(r) if r.token == lease.token && (releasing || r.is_live_at(now)) => Ok(()),
        _ => Err(Error::StaleLease {
            thread_id: lease.thread_id.clone(),
            token: lease.token,
            holder: row.filter(|r| r.is_live_at(now)).map(|r| r.owner.clone()),
        }),
    }
}

impl<S: ThreadLeases + ?Sized> ThreadLeases for Box<S> {
    fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        (**self).acquire(thread_id, owner, ttl)
    }
    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        (**self).renew(lease, ttl)
    }
    fn release(&self, lease: &Lease) -> Result<()> {
        (**self).release(lease)
    }
    fn current(&self, thread_id: &str) -> Result<Option<Lease>> {
        (**self).current(thread_id)
    }
    fn delete_thread_leased(&self, thread_id: &str, token: u64) -> Result<()> {
        (**self).delete_thread_leased(thread_id, token)
    }
    fn copy_thread_leased(&self, source: &str, target: &str, token: u64) -> Result<()> {
        (**self).copy_thread_leased(source, target, token)
    }
    fn prune_leased(&self, thread_id: &str, strategy: PruneStrategy, token: u64) -> Result<()> {
        (**self).prune_leased(thread_id, strategy, token)
    }
}

/// The lease calls of a saver with leases, async (each on tokio's blocking
/// pool, as the other calls of [`AsyncSaver`](crate::AsyncSaver)).
impl<S: ThreadLeases + ?Sized + 'static> crate::AsyncSaver<S> {
    async fn run_lease<T, F>(&self, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> Result<T> + Send + 'static,
    {
        let saver = std::sync::Arc::clone(self.inner());
        tokio::task::spawn_blocking(move || call(&saver)).await?
    }

    /// [`ThreadLeases::acquire`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::acquire`], and [`Error::Task`] if the blocking
    /// task panicked.
    pub async fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        let (thread_id, owner) = (thread_id.to_owned(), owner.to_owned());
        self.run_lease(move |s| s.acquire(&thread_id, &owner, ttl))
            .await
    }

    /// [`ThreadLeases::renew`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::renew`].
    pub async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let lease = lease.clone();
        self.run_lease(move |s| s.renew(&lease, ttl)).await
    }

    /// [`ThreadLeases::release`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::release`].
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        let lease = lease.clone();
        self.run_lease(move |s| s.release(&lease)).await
    }

    /// [`ThreadLeases::current`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::current`].
    pub async fn current(&self, thread_id: &str) -> Result<Option<Lease>> {
        let thread_id = thread_id.to_owned();
        self.run_lease(move |s| s.current(&thread_id)).await
    }

    /// [`ThreadLeases::delete_thread_leased`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::delete_thread_leased`].
    pub async fn delete_thread_leased(&self, thread_id: &str, token: u64) -> Result<()> {
        let thread_id = thread_id.to_owned();
        self.run_lease(move |s| s.delete_thread_leased(&thread_id, token))
            .await
    }

    /// [`ThreadLeases::copy_thread_leased`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::copy_thread_leased`].
    pub async fn copy_thread_leased(&self, source: &str, target: &str, token: u64) -> Result<()> {
        let (source, target) = (source.to_owned(), target.to_owned());
        self.run_lease(move |s| s.copy_thread_leased(&source, &target, token))
            .await
    }

    /// [`ThreadLeases::prune_leased`], async.
    ///
    /// # Errors
    ///
    /// As [`ThreadLeases::prune_leased`].
    pub async fn prune_leased(
        &self,
        thread_id: &str,
        strategy: PruneStrategy,
        token: u64,
    ) -> Result<()> {
        let thread_id = thread_id.to_owned();
        self.run_lease(move |s| s.prune_leased(&thread_id, strategy, token))
            .await
    }
}
