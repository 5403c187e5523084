//! The step ledger contract.

use serde_json::Value;

use super::{LedgerResult, StepRecord, StepStatus};

/// A lease's length when a claim does not say: 60 s (mooncat's
/// `DEFAULT_LEASE_MS`).
pub const DEFAULT_LEASE_MS: u64 = 60_000;
/// A touch's extension when it does not say: 60 s (mooncat's
/// `DEFAULT_EXTEND_MS`).
pub const DEFAULT_EXTEND_MS: u64 = 60_000;

/// The options of a [`claim`](StepLedger::claim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimOptions {
    /// The run claiming, stored as `ownerRunId`.
    pub owner_run_id: Option<String>,
    /// The lease's length in ms ([`DEFAULT_LEASE_MS`] when `None`; 0 makes
    /// a lease that anyone may take over at once).
    pub lease_ms: Option<u64>,
}

impl ClaimOptions {
    /// No owner, the default lease.
    pub fn new() -> Self {
        ClaimOptions::default()
    }

    /// The same options with an owner.
    #[must_use]
    pub fn with_owner(mut self, owner_run_id: impl Into<String>) -> Self {
        self.owner_run_id = Some(owner_run_id.into());
        self
    }

    /// The same options with a lease of `lease_ms`.
    #[must_use]
    pub fn with_lease_ms(mut self, lease_ms: u64) -> Self {
        self.lease_ms = Some(lease_ms);
        self
    }
}

/// What a [`claim`](StepLedger::claim) found (mooncat's `ClaimResult`,
/// whose `kind` is [`Claim::kind`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The step is this caller's to run: finish it with `token`.
    Claimed {
        /// The lease's fencing token, for `touch`, `done` and `fail`.
        token: String,
        /// The record as claimed.
        record: StepRecord,
    },
    /// The step is done: its result is in the record (unchanged).
    Done(StepRecord),
    /// Another caller holds a live lease.
    Busy(StepRecord),
    /// The step failed; it stays failed until `reset`.
    Failed(StepRecord),
}

impl Claim {
    /// `claimed`, `done`, `busy` or `failed` (mooncat's `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Claim::Claimed { .. } => "claimed",
            Claim::Done(_) => "done",
            Claim::Busy(_) => "busy",
            Claim::Failed(_) => "failed",
        }
    }

    /// The record.
    pub fn record(&self) -> &StepRecord {
        match self {
            Claim::Claimed { record, .. }
            | Claim::Done(record)
            | Claim::Busy(record)
            | Claim::Failed(record) => record,
        }
    }

    /// The token, for a [`Claim::Claimed`].
    pub fn token(&self) -> Option<&str> {
        match self {
            Claim::Claimed { token, .. } => Some(token),
            _ => None,
        }
    }
}

/// A ledger of steps that must run once: a worker claims a step by
/// `(namespace, key)`, runs it under a time-limited lease and records it
/// done (with its result) or failed; a later claim of a done step gets
/// the stored result instead of a lease. The model and the storage
/// formats are mooncat-checkpoint 0.1.0's (Python), so a Python worker
/// and a Rust worker can share one ledger (file directory or SQLite
/// file).
///
/// # Contract
///
/// - Every call but `gc` refuses a namespace outside `[a-zA-Z0-9_-]+`
///   ([`LedgerError::InvalidNamespace`](super::LedgerError::InvalidNamespace)),
///   changing nothing. Keys are any text; two keys with one
///   [`storage_key`](super::storage_key) are one step.
/// - `claim` decides, atomically and in this order: a `done` record gives
///   [`Claim::Done`] and a `failed` one [`Claim::Failed`] (both
///   unchanged); a `claimed` record with `lease_until > now` gives
///   [`Claim::Busy`]; anything else (no record, a lapsed lease, a
///   `lease_until` of 0 or none) is claimed: a new random token (32 hex
///   digits), `lease_until = now + lease_ms` (default 60 s), `attempts`
///   plus one (1 for a new record), `ownerRunId` the new owner, `result`,
///   `resultRef` and `error` cleared, `createdAt` kept, `updatedAt = now`.
///   Of concurrent claims of one step, from any number of threads or
///   processes on one storage, exactly one gets `Claimed`.
/// - `touch(token, extend_ms)` of a `claimed` record with that token sets
///   `lease_until = now + extend_ms` (default 60 s) and returns the
///   record; otherwise it returns `None` and changes nothing. It does not
///   check expiry: a lapsed lease nobody re-claimed is revived.
/// - `done(token, result, result_ref)` and `fail(token, error)` need a
///   `claimed` record with that token (expiry is not checked, as for
///   touch); otherwise they fail with
///   [`LedgerError::LeaseLost`](super::LedgerError::LeaseLost) and change
///   nothing. `done` sets `status = done`, the result and result ref,
///   clears token, lease and error, keeps `attempts` and the owner; a
///   result over [`MAX_INLINE_RESULT_BYTES`](super::MAX_INLINE_RESULT_BYTES)
///   is refused ([`LedgerError::ResultTooLarge`](super::LedgerError::ResultTooLarge)).
///   `fail` sets `status = failed` and the error, clears token, lease,
///   result and result ref. A step that finished stays finished: `failed`
///   is terminal until `reset`.
/// - `done` and `fail` are durable when they return (the file backend
///   syncs the file and its directory; SQL backends commit).
/// - `get` is the record or `None`; `reset` deletes it and says whether
///   there was one.
/// - `list(ns, status)` is the namespace's records, with that status
///   when given, newest `updatedAt` first (ties by key).
/// - `gc(older_than_ms)` deletes, in every namespace, the `claimed`
///   records whose `lease_until < now - older_than_ms` (strictly), and
///   returns how many.
/// - Times are epoch milliseconds by one clock per storage: the local
///   clock for memory, file and SQLite ([`now_ms`](super::now_ms)),
///   PostgreSQL's `now()` for PostgreSQL.
/// - Every call is safe from many threads; the file, SQLite and
///   PostgreSQL backends are also safe from many processes.
pub trait StepLedger: Send + Sync + std::fmt::Debug {
    /// Claims the step `key` of `namespace` (see the contract).
    fn claim(&self, namespace: &str, key: &str, options: &ClaimOptions) -> LedgerResult<Claim>;

    /// Extends a live claim; `None` when `token` is not the claim's.
    fn touch(
        &self,
        namespace: &str,
        key: &str,
        token: &str,
        extend_ms: Option<u64>,
    ) -> LedgerResult<Option<StepRecord>>;

    /// Records the claimed step done, with its result.
    fn done(
        &self,
        namespace: &str,
        key: &str,
        token: &str,
        result: Value,
        result_ref: Option<&str>,
    ) -> LedgerResult<StepRecord>;

    /// Records the claimed step failed, with its error.
    fn fail(
        &self,
        namespace: &str,
        key: &str,
        token: &str,
        error: &str,
    ) -> LedgerResult<StepRecord>;

    /// The step's record.
    fn get(&self, namespace: &str, key: &str) -> LedgerResult<Option<StepRecord>>;

    /// Deletes the step's record; whether there was one.
    fn reset(&self, namespace: &str, key: &str) -> LedgerResult<bool>;

    /// The namespace's records (with `status`, when given), newest first.
    fn list(&self, namespace: &str, status: Option<StepStatus>) -> LedgerResult<Vec<StepRecord>>;

    /// Deletes the claims whose lease ended over `older_than_ms` ago; how
    /// many.
    fn gc(&self, older_than_ms: u64) -> LedgerResult<usize>;
}

/// `Box<L>`, `Arc<L>` and `&L` are ledgers too (so `Arc<dyn StepLedger>`
/// is).
macro_rules! forward_ledger {
    ($($ty:ty),*) => {$(
        impl<L: StepLedger + ?Sized> StepLedger for $ty {
            fn claim(&self, ns: &str, key: &str, options: &ClaimOptions) -> LedgerResult<Claim> {
                (**self).claim(ns, key, options)
            }
            fn touch(
                &self,
                ns: &str,
                key: &str,
                token: &str,
                extend_ms: Option<u64>,
            ) -> LedgerResult<Option<StepRecord>> {
                (**self).touch(ns, key, token, extend_ms)
            }
            fn done(
                &self,
                ns: &str,
                key: &str,
                token: &str,
                result: Value,
                result_ref: Option<&str>,
            ) -> LedgerResult<StepRecord> {
                (**self).done(ns, key, token, result, result_ref)
            }
            fn fail(&self, ns: &str, key: &str, token: &str, error: &str) -> LedgerResult<StepRecord> {
                (**self).fail(ns, key, token, error)
            }
            fn get(&self, ns: &str, key: &str) -> LedgerResult<Option<StepRecord>> {
                (**self).get(ns, key)
            }
            fn reset(&self, ns: &str, key: &str) -> LedgerResult<bool> {
                (**self).reset(ns, key)
            }
            fn list(&self, ns: &str, status: Option<StepStatus>) -> LedgerResult<Vec<StepRecord>> {
                (**self).list(ns, status)
            }
            fn gc(&self, older_than_ms: u64) -> LedgerResult<usize> {
                (**self).gc(older_than_ms)
            }
        }
    )*};
}

forward_ledger!(Box<L>, std::sync::Arc<L>, &L);
