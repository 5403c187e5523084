//! `SqliteOptions`: how `SqliteSaver::open_with` sets up its pool.

use std::time::Duration;

/// How hard SQLite pushes each commit to disk (`PRAGMA synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Synchronous {
    /// `FULL`: every call that returned `Ok` is on disk, also after a power
    /// loss. The default.
    #[default]
    Full,
    /// `NORMAL`: faster commits; in WAL mode a call that returned `Ok`
    /// survives a crash of the process, but the last commits may be lost on
    /// a power loss or an OS crash. The database never gets corrupted.
    Normal,
}

impl Synchronous {
    /// The pragma value: `FULL` or `NORMAL`.
    pub fn as_pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Options for [`SqliteSaver::open_with`](crate::SqliteSaver::open_with).
///
/// ```
/// use std::time::Duration;
/// use checkpointer::{SqliteOptions, Synchronous};
///
/// let options = SqliteOptions::new()
///     .with_pool_size(4)
///     .with_synchronous(Synchronous::Normal)
///     .with_busy_timeout(Duration::from_secs(30));
/// assert_eq!(options.pool_size(), 4);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    pool_size: u32,
    synchronous: Synchronous,
    busy_timeout: Duration,
    connection_timeout: Duration,
    snapshot_every: u32,
    read_cache_bytes: usize,
    secure_delete: bool,
    quick_check: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            pool_size: 8,
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(30),
            snapshot_every: 128,
            read_cache_bytes: 4 << 20,
            secure_delete: true,
            quick_check: false,
        }
    }
}

impl SqliteOptions {
    /// The defaults: a pool of 8 connections, `synchronous = FULL`, a busy
    /// timeout of 10 s, a pool checkout timeout of 30 s and a full snapshot
    /// of appended lists at least every 128 versions.
    pub fn new() -> Self {
        SqliteOptions::default()
    }

    /// At most `size` pooled connections (0 is taken as 1). Reads run in
    /// parallel on them; writes of one saver take turns.
    #[must_use]
    pub fn with_pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How commits reach the disk; see [`Synchronous`].
    #[must_use]
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How long a connection waits for a lock held by another connection
    /// or process before the call fails (`PRAGMA busy_timeout`).
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long a call waits for a free pooled connection before it fails
    /// with [`Error::Backend`](crate::Error::Backend).
    #[must_use]
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Delta storage: a channel value that is a JSON array extending the
    /// channel's previous value (a list that grows by appends) is stored as
    /// the appended elements only, with a full snapshot every `n + 1`
    /// versions (a snapshot and at most `n` deltas on it; only this cap
    /// decides when a snapshot is written). Reading a value costs one
    /// snapshot plus at most `n` small deltas. `0` stores every value in
    /// full. The default is 128.
    #[must_use]
    pub fn with_snapshot_every(mut self, n: u32) -> Self {
        self.snapshot_every = n;
        self
    }

    /// How much JSON (roughly) the read cache of `get_tuple` and `list`
    /// keeps: arrays they decoded, reused (cut to length) when a later read
    /// names a row of the same chain, after checking that row's element
    /// count and hash, read in the same transaction. It saves the chain walk and the JSON decode
    /// of a repeated read; it costs about this much memory (up to ~1.3x
    /// for decoded values). `0` turns it off. The default is 4 MiB.
    #[must_use]
    pub fn with_read_cache_bytes(mut self, bytes: usize) -> Self {
        self.read_cache_bytes = bytes;
        self
    }

    /// Whether deleted data is overwritten on disk (on by default).
    ///
    /// On: every connection runs with `PRAGMA secure_delete = ON`, so the
    /// transaction of `delete_thread`, `delete_for_runs`, `prune` or
    /// `prune_older_than`
    /// overwrites the deleted rows (ids, metadata, pending writes, values,
    /// long values) with zeros in the pages it writes; and when that call
    /// returns, the WAL has been checkpointed into the database file and
    /// truncated to zero bytes (`PRAGMA wal_checkpoint(TRUNCATE)`), so the
    /// old bytes are gone from the file and the WAL. One case defers it: if
    /// another connection (another process, or a read of this saver) is
    /// reading at that moment, the checkpoint cannot finish; the old bytes
    /// then stay in the WAL until its next full checkpoint, at the latest
    /// when the last connection to the file closes (SQLite checkpoints and
    /// removes the WAL then). Copies SQLite does not control (backups,
    /// the file system's own free blocks) are out of its reach.
    ///
    /// Off: deleted rows stay readable in free pages until they are reused
    /// or `VACUUM` runs; deletes write less.
    #[must_use]
    pub fn with_secure_delete(mut self, on: bool) -> Self {
        self.secure_delete = on;
        self
    }

    /// Whether deleted data is overwritten (see
    /// [`with_secure_delete`](Self::with_secure_delete)).
    pub fn secure_delete(&self) -> bool {
        self.secure_delete
    }

    /// Runs `PRAGMA quick_check` when the file is opened, before anything
    /// is written to it, and refuses a file it flags with
    /// [`Error::CheckFailed`](crate::Error::CheckFailed) (off by default:
    /// it reads the whole file). `checkpointer check` checks more (see
    /// [`CheckpointAdmin::check`](crate::CheckpointAdmin::check)).
    #[must_use]
    pub fn with_quick_check(mut self, on: bool) -> Self {
        self.quick_check = on;
        self
    }

    /// Whether the file is quick-checked at open.
    pub fn quick_check(&self) -> bool {
        self.quick_check
    }

    /// The read cache budget in bytes of JSON (0: no read cache).
    pub fn read_cache_bytes(&self) -> usize {
        self.read_cache_bytes
    }

    /// The most deltas between two full snapshots of a value (0: none).
    pub fn snapshot_every(&self) -> u32 {
        self.snapshot_every
    }

    /// The pool size.
    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// The `synchronous` setting.
    pub fn synchronous(&self) -> Synchronous {
        self.synchronous
    }

    /// The busy timeout.
    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// The pool checkout timeout.
    pub fn connection_timeout(&self) -> Duration {
        self.connection_timeout
    }
}
