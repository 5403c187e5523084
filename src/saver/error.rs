//! The saver error type.

use std::path::PathBuf;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error of a backend's engine or of a shared transaction, as
/// [`Error::Backend`] and [`Error::GroupCommit`] carry it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything a saver call can fail with.
///
/// Each variant names what it was working on (thread, checkpoint, file).
/// A call that fails with one of the input errors (`EmptyThreadId`,
/// `MissingCheckpointId`, `CheckpointNotFound`, `ThreadNotFound`,
/// `InvalidFilterKey`, `TargetNotEmpty`, `InvalidCheckpoint`,
/// `CheckpointOutOfOrder`) has changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A write to a thread whose live lease it does not carry the token
    /// of (missing, wrong or stale), or `acquire` of a leased thread. The
    /// call changed nothing.
    #[error("thread {thread_id:?} is leased by {holder:?} (the call carried token {token:?})")]
    LeaseHeld {
        /// The leased thread.
        thread_id: String,
        /// The owner of its live lease.
        holder: String,
        /// The token the call carried, if any.
        token: Option<u64>,
    },

    /// `renew` or `release` of a lease that is no longer the thread's, or
    /// a write carrying the token of a lease a newer one replaced.
    #[error("lease {token} of thread {thread_id:?} is stale (live holder: {holder:?})")]
    StaleLease {
        /// The thread.
        thread_id: String,
        /// The token of the stale lease.
        token: u64,
        /// The owner of the thread's live lease, if any.
        holder: Option<String>,
    },

    /// A config or argument had an empty `thread_id`.
    #[error("{operation}: thread_id must not be empty")]
    EmptyThreadId {
        /// The call that was refused.
        operation: &'static str,
    },

    /// The call needs a config that names one checkpoint.
    #[error("{operation} on thread {thread_id:?} needs a checkpoint_id in the config")]
    MissingCheckpointId {
        /// The call that was refused.
        operation: &'static str,
        /// The thread of the config.
        thread_id: String,
    },

    /// The config names a checkpoint that does not exist.
    #[error(
        "checkpoint {checkpoint_id} not found in thread {thread_id:?} (namespace {checkpoint_ns:?})"
    )]
    CheckpointNotFound {
        /// The thread searched.
        thread_id: String,
        /// The namespace searched.
        checkpoint_ns: String,
        /// The id that was not found.
        checkpoint_id: String,
    },

    /// The thread has no checkpoints.
    #[error("thread {thread_id:?} not found")]
    ThreadNotFound {
        /// The thread that was not found.
        thread_id: String,
    },

    /// A `list` filter key is not a plain identifier.
    #[error("invalid filter key {key:?}: use ASCII letters, digits, '_' and '-' only")]
    InvalidFilterKey {
        /// The rejected key.
        key: String,
    },

    /// `copy_thread` onto a thread that already has checkpoints.
    #[error(
        "cannot copy thread {source_thread:?} onto {target_thread:?}: the target already has checkpoints"
    )]
    TargetNotEmpty {
        /// The thread being copied.
        source_thread: String,
        /// The thread that already has checkpoints.
        target_thread: String,
    },

    /// A checkpoint given to `put` is not well-formed.
    #[error("invalid checkpoint {checkpoint_id:?} for thread {thread_id:?}: {reason}")]
    InvalidCheckpoint {
        /// The thread written to.
        thread_id: String,
        /// The checkpoint's id.
        checkpoint_id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A check of the database found problems: the quick check at open
    /// that [`SqliteOptions::with_quick_check`](crate::SqliteOptions::with_quick_check)
    /// asks for, or a failed [`CheckpointAdmin::check`](crate::CheckpointAdmin::check)
    /// reported as an error (the `checkpointer check` command).
    #[error(
        "{}: the check found {} problem(s), the first: {}",
        .database.display(),
        .problems.len(),
        .problems.first().map_or("", String::as_str)
    )]
    CheckFailed {
        /// The database file.
        database: PathBuf,
        /// Every problem, one line each.
        problems: Vec<String>,
    },

    /// Stored data could not be decoded.
    #[error("corrupt data in thread {thread_id:?}, checkpoint {checkpoint_id:?}: {what}")]
    Corrupt {
        /// The thread the data belongs to.
        thread_id: String,
        /// The checkpoint the data belongs to.
        checkpoint_id: String,
        /// What could not be decoded, and why.
        what: String,
    },

    /// A value could not be serialised for storage.
    #[error("cannot serialise {what} for thread {thread_id:?}: {source}")]
    Serialize {
        /// The thread written to.
        thread_id: String,
        /// What was being serialised.
        what: String,
        /// The serialiser's error.
        source: serde_json::Error,
    },

    /// The database was written by a newer version of this crate.
    #[error(
        "database {path} has schema version {found}, newer than {supported}, the newest this version of checkpointer knows"
    )]
    SchemaTooNew {
        /// The database (a file path, or a backend's name for it).
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this code supports.
        supported: i64,
    },

    /// The database is not a checkpoint database (not one the backend can
    /// read, or someone else's).
    #[error("{path} is not a checkpoint database: {reason}")]
    NotACheckpointDatabase {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// The backend could not put the database into its write-ahead log
    /// mode (SQLite's WAL, for example on a file system without shared
    /// memory support).
    #[error("{path}: WAL mode did not take (journal_mode is {journal_mode:?})")]
    WalUnavailable {
        /// The file.
        path: PathBuf,
        /// The journal mode the engine reported instead of `wal`.
        journal_mode: String,
    },

    /// The storage engine of a backend failed (a SQL statement, a
    /// connection, a pool). The engine's own error is the `source`, so a
    /// backend's driver is not part of this crate's public API.
    #[error("{backend} error during {operation}: {source}")]
    Backend {
        /// The backend that failed (`"sqlite"`, ...).
        backend: &'static str,
        /// What the saver was doing.
        operation: String,
        /// The engine's error.
        source: BoxError,
    },

    /// A write shared its transaction with concurrent writes (group
    /// commit), and that transaction could not begin or commit; nothing of
    /// the write was applied.
    #[error("{operation}: the shared transaction failed: {source}")]
    GroupCommit {
        /// The write that was not applied.
        operation: String,
        /// Why the shared transaction failed.
        source: BoxError,
    },

    /// A checkpoint given to `put` does not sort after its parent (the
    /// config's `checkpoint_id`): "latest" is the greatest id, so storing
    /// it would make the parent look newer than its child. Nothing was
    /// stored. Make ids with [`new_checkpoint_id_after`](crate::saver::new_checkpoint_id_after).
    #[error(
        "checkpoint {checkpoint_id:?} of thread {thread_id:?} does not sort after its parent {parent_id:?}"
    )]
    CheckpointOutOfOrder {
        /// The thread written to.
        thread_id: String,
        /// The id of the refused checkpoint.
        checkpoint_id: String,
        /// The id of its parent, which is not smaller.
        parent_id: String,
    },

    /// A file operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A blocking saver call run by [`AsyncSaver`](crate::AsyncSaver)
    /// panicked or was cancelled.
    #[error("saver task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// An [`Error::Backend`]: `backend`'s engine failed during `operation`.
    /// Backends map their driver's errors through this.
    pub fn backend(
        backend: &'static str,
        operation: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Backend {
            backend,
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// An [`Error::GroupCommit`]: the shared transaction of `operation`
    /// failed because of `source`.
    pub fn group_commit(operation: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::GroupCommit {
            operation: operation.into(),
            source: source.into(),
        }
    }
}
