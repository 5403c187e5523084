//! `SqliteSaver`: checkpoints in a SQLite file, through a pool of WAL-mode
//! connections.

mod admin;
mod check;
// Thread leases (issue 12).
mod lease;
mod options;
// Compressed channel values (migration 5).
mod packed;
mod put;
mod setup;
mod sql;
mod values;
mod walcheck;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::group_commit::{self, Runner, fail_group};
use super::group_run::{GroupConnection, GroupTx, run_group};
use serde_json::Value;
use values::{DeltaCache, Stored};

pub use options::{SqliteOptions, Synchronous};

use super::base::BaseCheckpointSaver;
use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::checks::{check_copy, check_put, require_thread, require_threads};
use super::config::Config;
use super::error::{Error, Result};
use super::iter::CheckpointIter;
use super::list::ListOptions;
use super::page;
use super::prune::PruneStrategy;
use super::trace::{Call, traced};
use super::tuple::CheckpointTuple;
use super::writes::WriteBatch;
use sql::{CheckpointRow, RawCheckpoint};

/// A write of this backend, as the group commit queue runs it.
pub(crate) type Op = group_commit::Op<Connection, Stored>;
/// A write that can run again (see [`group_commit::Job`]).
pub(crate) type RerunOp = group_commit::RerunOp<Connection, Stored>;
/// A queued write of this backend.
pub(crate) type Job = group_commit::Job<Connection, Stored>;
/// The group commit queue of this backend.
type GroupCommit = group_commit::GroupCommit<Connection, Stored>;

/// The name of this backend in [`Error::Backend`].
const BACKEND: &str = "sqlite";

/// Maps a SQLite error to [`Error::Backend`], naming the operation.
pub(crate) fn sql_context<F: FnOnce() -> String>(
    operation: F,
) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::backend(BACKEND, operation(), source)
}

/// Maps a pool error (no connection could be had) to [`Error::Backend`].
pub(crate) fn pool_error(source: r2d2::Error) -> Error {
    Error::backend(BACKEND, "get a pooled connection", source)
}

/// A saver that keeps checkpoints in a SQLite database: the default way to
/// make threads survive a restart.
///
/// - **Durable.** Every call is atomic, and with the default
///   [`Synchronous::Full`] a call that returned `Ok` is on disk. The file
///   is in WAL mode, so readers never wait for writers.
/// - **Group commit.** Concurrent writes of one saver share one
///   `BEGIN IMMEDIATE` transaction and one fsync: the first waiting caller
///   runs every queued write, commits once and wakes the others. A write
///   that fails is rolled back alone and gets its own error: the group
///   first runs without savepoints, and if one of its writes fails it is
///   rolled back and run again with a savepoint per write. Each call still returns only after its own data is
///   committed; a lone writer pays no hand-off.
/// - **Concurrent.** Reads run on a pool of connections (r2d2), in
///   parallel; other processes writing the same file wait up to the busy
///   timeout.
/// - **Compact.** Channel values are stored once per `(channel, version)`:
///   a channel that did not change in a step is not stored again. A list
///   that grows by appends (a chat's `messages`) is stored as the appended
///   elements only, with a full snapshot every so often
///   ([`SqliteOptions::with_snapshot_every`]), so bytes per checkpoint stay
///   flat as a thread's history grows.
/// - **Safe to open.** The schema is versioned (`PRAGMA user_version`) and
///   migrated on open; the file is marked as ours (`PRAGMA
///   application_id`). A file that is not SQLite, someone else's database
///   or a database from a newer version of this crate is refused
///   ([`Error::NotACheckpointDatabase`], [`Error::SchemaTooNew`]), never
///   overwritten.
///
/// ```
/// use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
///     Config, SqliteSaver};
/// use serde_json::json;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("threads.db");
/// let saver = SqliteSaver::open(&path)?;
///
/// let cp = Checkpoint::new(0).with_value("messages", json!(["hi"]), 1);
/// let stored = saver.put(&Config::thread("t1"), &cp,
///     &CheckpointMetadata::new(CheckpointSource::Loop, 0), &cp.channel_versions)?;
/// drop(saver);
///
/// // Another run of the program: everything is still there.
/// let saver = SqliteSaver::open(&path)?;
/// let latest = saver.get_tuple(&Config::thread("t1"))?.expect("stored above");
/// assert_eq!(latest.config, stored);
/// assert_eq!(latest.checkpoint.channel_values["messages"], json!(["hi"]));
/// # Ok::<(), checkpointer::Error>(())
/// ```
///
/// # Layout
///
/// Three tables: `checkpoints` (one row per checkpoint, a `WITHOUT ROWID`
/// table keyed by thread, id and namespace, so that a thread's history is
/// one range: the checkpoint JSON without its channel values, the
/// metadata JSON, and `step`, `source` and `run_id` as indexed columns for
/// `list` filters),
/// `channel_values` (a `WITHOUT ROWID` table keyed by thread, namespace,
/// version counter, channel and version, so that a thread's history is
/// in counter order; a row is a full value, or a delta: the elements appended to
/// its `base` version; values over 640 bytes are kept in `channel_blobs`)
/// and `writes` (keyed by checkpoint, task and index). Values are JSON.
pub struct SqliteSaver {
    pool: Pool<SqliteConnectionManager>,
    /// The database file; `None` in memory.
    path: Option<PathBuf>,
    /// What errors call the database: the file, or the memory name.
    label: PathBuf,
    /// Writes of this saver take turns here rather than in SQLite's busy
    /// handler. In memory (shared cache, whose locks are per table and
    /// fail instead of waiting) readers take it too.
    gate: RwLock<()>,
    /// Readers must take the gate: the database is a shared-cache memory one.
    memory: bool,
    /// Keeps a memory database alive while the saver lives.
    _keepalive: Option<Mutex<Connection>>,
    /// Concurrent writes share a transaction (see `saver::group_commit`).
    group: GroupCommit,
    /// The last array written per channel, to store appends as deltas.
    cache: DeltaCache,
    /// Arrays decoded by recent `get_tuple` calls (checked against the
    /// database on every use).
    reads: Arc<values::ReadCache>,
    /// Checkpoints the WAL off the commit path (file databases opened by
    /// path).
    wal: Option<walcheck::WalCheckpointer>,
    /// A delete truncates the WAL after it (`secure_delete`, file opened
    /// by path).
    scrub_wal: bool,
}

impl fmt::Debug for SqliteSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteSaver")
            .field("database", &self.label)
            .field("memory", &self.memory)
            .field("pool_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

/// Open flags for a file path: read-write, create, no URI interpretation.
fn file_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

impl SqliteSaver {
    /// The schema version this version of the crate writes
    /// (`PRAGMA user_version` of its files).
    pub const SCHEMA_VERSION: i64 = setup::SCHEMA_VERSION;

    /// The `PRAGMA application_id` that marks a checkpointer database.
    pub const APPLICATION_ID: i32 = setup::APPLICATION_ID;

    /// Opens (or creates) the database at `path` with the default
    /// [`SqliteOptions`]: the file and its schema are created if missing,
    /// an older schema is migrated.
    ///
    /// # Errors
    ///
    /// [`Error::NotACheckpointDatabase`] for a file that is not SQLite or
    /// is another program's database, [`Error::SchemaTooNew`] for a file
    /// written by a newer version of this crate, [`Error::WalUnavailable`]
    /// if WAL mode does not take, [`Error::Backend`] or [`Error::Io`] if the
    /// file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteSaver::open_with(path, SqliteOptions::default())
    }

    /// Opens (or creates) the database at `path` with `options`.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_owned();
        setup::check_header(&path)?;
        let mut conn = Connection::open_with_flags(&path, file_flags())
            .map_err(sql_context(|| format!("open {}", path.display())))?;
        conn.busy_timeout(options.busy_timeout())
            .map_err(sql_context(|| format!("set up {}", path.display())))?;
        if options.quick_check() {
            let problems = SqliteSaver::quick_check_problems(&conn);
            if !problems.is_empty() {
                return Err(Error::CheckFailed {
                    database: path,
                    problems,
                });
            }
        }
        setup::prepare(&mut conn, &path, true)?;
        setup::init_connection(&conn, &options, true)
            .and_then(|()| {
                conn.pragma_update(None, "wal_autocheckpoint", walcheck::SAFETY_NET_PAGES)
            })
            .map_err(sql_context(|| format!("set up {}", path.display())))?;
        let builder = setup::pool_builder(&options);
        let reads = Arc::new(values::ReadCache::new(options.read_cache_bytes()));
        let cache = DeltaCache::new(options.snapshot_every());
        let scrub_wal = options.secure_delete();
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(file_flags())
            .with_init(move |c| {
                setup::init_connection(c, &options, true)?;
                c.pragma_update(None, "wal_autocheckpoint", walcheck::SAFETY_NET_PAGES)
            });
        let pool = builder.build(manager).map_err(pool_error)?;
        // The setup connection becomes the background checkpointer's.
        let wal = walcheck::WalCheckpointer::start(conn).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(SqliteSaver {
            pool,
            label: path.clone(),
            path: Some(path),
            gate: RwLock::new(()),
            memory: false,
            _keepalive: None,
            group: GroupCommit::default(),
            reads,
            cache,
            wal: Some(wal),
            scrub_wal,
        })
    }

    /// A fresh database in memory, shared by all pooled connections of this
    /// saver and gone when the saver is dropped.
    ///
    /// How: the connections open one named shared-cache memory database,
    /// `file:checkpointer-<unique>?mode=memory&cache=shared` (a URI, with
    /// `SQLITE_OPEN_URI`); such a database lives while one connection to
    /// it is open, so the saver holds one extra connection for its whole
    /// life. Shared-cache locks are per table and fail rather than wait,
    /// so in memory reads and writes of the saver take turns through an
    /// in-process lock; reads still run in parallel with each other.
    /// Memory databases have no WAL; nothing is durable.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if SQLite cannot open it.
    pub fn in_memory() -> Result<Self> {
        SqliteSaver::in_memory_with(SqliteOptions::default())
    }

    /// [`in_memory`](Self::in_memory) with `options` (pool size, timeouts).
    ///
    /// # Errors
    ///
    /// As [`in_memory`](Self::in_memory).
    pub fn in_memory_with(options: SqliteOptions) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "file:checkpointer-{}-{}-{:016x}?mode=memory&cache=shared",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fastrand::u64(..)
        );
        let label = PathBuf::from(&name);
        let flags = file_flags() | OpenFlags::SQLITE_OPEN_URI;
        let context = || format!("open the memory database {name}");
        let mut keepalive =
            Connection::open_with_flags(&name, flags).map_err(sql_context(context))?;
        setup::init_connection(&keepalive, &options, false).map_err(sql_context(context))?;
        setup::prepare(&mut keepalive, &label, false)?;
        let builder = setup::pool_builder(&options);
        let reads = Arc::new(values::ReadCache::new(options.read_cache_bytes()));
        let cache = DeltaCache::new(options.snapshot_every());
        let manager = SqliteConnectionManager::file(&name)
            .with_flags(flags)
            .with_init(move |c| setup::init_connection(c, &options, false));
        let pool = builder.build(manager).map_err(pool_error)?;
        Ok(SqliteSaver {
            pool,
            path: None,
            label,
            gate: RwLock::new(()),
            memory: true,
            _keepalive: Some(Mutex::new(keepalive)),
            group: GroupCommit::default(),
            reads,
            cache,
            wal: None,
            scrub_wal: false,
        })
    }

    /// A saver over a pool you built, for full control of the connections
    /// (set their pragmas in the manager's `with_init`; `foreign_keys` and a
    /// busy timeout are recommended). The schema is checked and migrated
    /// as by [`open`](Self::open), and a file database is switched to WAL.
    /// A pool of a memory database must be a shared-cache one
    /// (`SqliteConnectionManager::memory()` is).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if no connection can be had, else as
    /// [`open`](Self::open).
    pub fn from_pool(pool: Pool<SqliteConnectionManager>) -> Result<Self> {
        let mut conn = pool.get().map_err(pool_error)?;
        let file = conn.path().filter(|p| !p.is_empty()).map(PathBuf::from);
        let label = file
            .clone()
            .unwrap_or_else(|| PathBuf::from(":memory: (pool)"));
        setup::prepare(&mut conn, &label, file.is_some())?;
        drop(conn);
        Ok(SqliteSaver {
            pool,
            memory: file.is_none(),
            path: file,
            label,
            gate: RwLock::new(()),
            _keepalive: None,
            group: GroupCommit::default(),
            reads: Arc::new(values::ReadCache::new(
                SqliteOptions::default().read_cache_bytes(),
            )),
            cache: DeltaCache::new(SqliteOptions::default().snapshot_every()),
            wal: None,
            scrub_wal: false,
        })
    }

    /// The database file, `None` for a memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The connection pool, for tools that need SQL access to the same
    /// database (inspection, backups, `VACUUM`). Writes made through it
    /// bypass the saver's checks; keep them to maintenance.
    pub fn pool(&self) -> &Pool<SqliteConnectionManager> {
        &self.pool
    }

    /// The query plan SQLite chooses for this `list` call
    /// (`EXPLAIN QUERY PLAN`, one line per step), to check that a listing
    /// uses an index.
    ///
    /// # Errors
    ///
    /// As [`list`](BaseCheckpointSaver::list).
    pub fn explain_list(
        &self,
        config: Option<&Config>,
        options: &ListOptions,
    ) -> Result<Vec<String>> {
        options.validate()?;
        let query = sql::list_query(config, options);
        self.read(|tx| {
            let context = || "explain a list query".to_owned();
            let mut stmt = tx
                .prepare(&format!("EXPLAIN QUERY PLAN {}", query.sql))
                .map_err(sql_context(context))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(&query.params), |r| {
                    r.get::<_, String>(3)
                })
                .map_err(sql_context(context))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_context(context))
        })
    }

    /// Runs `op` atomically in a `BEGIN IMMEDIATE` transaction that
    /// concurrent writes of this saver may share (group commit), and returns
    /// once it is committed. An error rolls back `op` alone.
    fn write(&self, what: String, op: Op) -> Result<Stored> {
        self.group.submit(self, what, Job::Once(op))
    }

    /// After a delete, with `secure_delete`: checkpoints the WAL into the
    /// file and truncates it, so the deleted rows' old bytes are gone from
    /// both. Best effort: the delete is committed whatever happens here; a
    /// reader that keeps the checkpoint from finishing leaves the bytes to
    /// the next one (see [`SqliteOptions::with_secure_delete`]).
    fn scrub_wal(&self) {
        if !self.scrub_wal {
            return;
        }
        if let Ok(conn) = self.conn() {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }

    /// Runs `f` in one read transaction, so that it sees one snapshot.
    /// `BEGIN` and `COMMIT` are prepared once per connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let _turn = self.memory.then(|| {
            self.gate
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        });
        let conn = self.conn()?;
        let run = || {
            let tx = ReadTx::begin(&conn)?;
            let out = f(&conn)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| self.name_file(e))
    }

    /// Adds the database to the operation of a SQLite error.
    fn name_file(&self, error: Error) -> Error {
        match error {
            Error::Backend {
                backend,
                operation,
                source,
            } => Error::Backend {
                backend,
                operation: format!("{operation} (database {})", self.label.display()),
                source,
            },
            other => other,
        }
    }

    fn conn(&self) -> Result<PooledConnection<SqliteConnectionManager>> {
        self.pool.get().map_err(pool_error)
    }
}

impl Runner<Connection, Stored> for SqliteSaver {
    fn run(&self, jobs: Vec<(String, Job)>) -> Vec<Result<Stored>> {
        // Nothing is guarded by the lock itself; a panic elsewhere cannot
        // leave it inconsistent.
        let _turn = self
            .gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut conn = match self.conn() {
            Ok(conn) => conn,
            Err(e) => {
                let others: Vec<String> = jobs.iter().skip(1).map(|(w, _)| w.clone()).collect();
                return fail_group(self.name_file(e), &others);
            }
        };
        let outcome = run_group(BACKEND, &mut *conn, jobs, |e| self.name_file(e));
        if outcome.committed
            && let Some(wal) = &self.wal
        {
            wal.committed(outcome.results.len());
        }
        outcome.results
    }
}

impl GroupConnection<Connection> for Connection {
    type Tx<'a> = rusqlite::Transaction<'a>;
    type Error = rusqlite::Error;

    fn begin(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.transaction_with_behavior(TransactionBehavior::Immediate)
    }
}

impl GroupTx<Connection> for rusqlite::Transaction<'_> {
    type Error = rusqlite::Error;

    fn conn(&self) -> &Connection {
        self
    }

    fn savepoint(&self) -> rusqlite::Result<()> {
        self.prepare_cached("SAVEPOINT group_write")
            .and_then(|mut s| s.execute([]))
            .map(drop)
    }

    fn end_savepoint(&self, keep: bool) -> rusqlite::Result<()> {
        if keep {
            self.prepare_cached("RELEASE group_write")
                .and_then(|mut s| s.execute([]))
                .map(drop)
        } else {
            self.execute_batch("ROLLBACK TO group_write; RELEASE group_write")
        }
    }

    fn commit(self) -> rusqlite::Result<()> {
        rusqlite::Transaction::commit(self)
    }
}

/// A read transaction; rolled back if dropped before [`ReadTx::commit`].
struct ReadTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> ReadTx<'c> {
    fn begin(conn: &'c Connection) -> Result<Self> {
        conn.prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(sql_context(|| "begin a read".to_owned()))?;
        Ok(ReadTx { conn, open: true })
    }

    fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(sql_context(|| "end a read".to_owned()))
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing was written; a failed rollback leaves nothing behind
            // that the next BEGIN does not report.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// What a read fetched: its tuples, built as they are iterated.
type Page = page::Page<sql::RawWrite>;

/// Loads the values and pending writes of `rows` in `tx`. Values come
/// from `cache` where it holds them for the rows stored now (see
/// [`delta::load`](crate::saver::delta::load)).
fn fetch_page(
    tx: &Connection,
    rows: Vec<Result<CheckpointRow>>,
    cache: Option<&Arc<values::ReadCache>>,
) -> Result<Page> {
    let cache = cache.filter(|c| c.enabled());
    let place = page::range_place(&rows);
    let values = values::SqliteValues(tx);
    let loaded = page::load_values(&values, &rows, place, cache.map(|c| &**c))?;
    // Writes of checkpoints not on the page are dropped unread.
    let writes = if let Some((thread_id, ns)) = place {
        load_place_writes(tx, thread_id, ns)?
    } else {
        let keys: Vec<[&str; 3]> = rows
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| {
                [
                    r.thread_id.as_str(),
                    r.ns.as_str(),
                    r.checkpoint.id.as_str(),
                ]
            })
            .collect();
        load_writes(tx, &keys)?
    };
    Ok(Page::new(rows, loaded, cache.cloned(), writes))
}

/// The raw pending writes of the checkpoints `keys` names, in one query.
fn load_writes(
    tx: &Connection,
    keys: &[[&str; 3]],
) -> Result<HashMap<sql::CheckpointKey, Vec<sql::RawWrite>>> {
    let mut out: HashMap<sql::CheckpointKey, Vec<sql::RawWrite>> = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    if let [key] = keys {
        // One checkpoint: bound directly, no JSON parameter to parse.
        let context = || format!("load the writes of checkpoint {}", key[2]);
        let mut stmt = tx
            .prepare_cached(sql::SELECT_WRITES_ONE)
            .map_err(sql_context(context))?;
        let found = stmt
            .query_map(*key, sql::write_from_row)
            .map_err(sql_context(context))?;
        for row in found {
            let (key, write) = row.map_err(sql_context(context))?;
            out.entry(key).or_default().push(write);
        }
        return Ok(out);
    }
    let arg = serde_json::to_string(keys).map_err(|source| Error::Serialize {
        thread_id: keys[0][0].to_owned(),
        what: "checkpoint keys".into(),
        source,
    })?;
    let context = || format!("load the writes of {} checkpoints", keys.len());
    let mut stmt = tx
        .prepare_cached(sql::SELECT_WRITES_BATCH)
        .map_err(sql_context(context))?;
    let found = stmt
        .query_map([arg], sql::write_from_row)
        .map_err(sql_context(context))?;
    for row in found {
        let (key, write) = row.map_err(sql_context(context))?;
        out.entry(key).or_default().push(write);
    }
    Ok(out)
}

/// The raw pending writes of every checkpoint of one thread and namespace,
/// in one range scan.
fn load_place_writes(
    tx: &Connection,
    thread_id: &str,
    ns: &str,
) -> Result<HashMap<sql::CheckpointKey, Vec<sql::RawWrite>>> {
    let mut out: HashMap<sql::CheckpointKey, Vec<sql::RawWrite>> = HashMap::new();
    let context = || format!("load the writes of thread {thread_id:?}");
    let mut stmt = tx
        .prepare_cached(sql::SELECT_PLACE_WRITES)
        .map_err(sql_context(context))?;
    let found = stmt
        .query_map([thread_id, ns], sql::write_from_row)
        .map_err(sql_context(context))?;
    for row in found {
        let (key, write) = row.map_err(sql_context(context))?;
        out.entry(key).or_default().push(write);
    }
    Ok(out)
}

/// Runs each statement of `sql` with `params`.
fn execute_all<P: rusqlite::Params + Copy>(
    tx: &Connection,
    statements: &[&str],
    params: P,
    what: impl Fn() -> String,
) -> Result<()> {
    for statement in statements {
        tx.prepare_cached(statement)
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(sql_context(&what))?;
    }
    Ok(())
}

/// Whether thread `thread_id` has any checkpoint.
fn thread_exists(tx: &Connection, thread_id: &str) -> Result<bool> {
    tx.prepare_cached(sql::THREAD_EXISTS)
        .and_then(|mut stmt| stmt.query_row([thread_id], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(sql_context(|| format!("look up thread {thread_id:?}")))
}

impl BaseCheckpointSaver for SqliteSaver {
    fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
        traced(BACKEND, Call::config("get_tuple", Some(config)), || {
            require_thread("get_tuple", &config.thread_id)?;
            let (thread_id, ns) = (config.thread_id.as_str(), config.ns());
            let page = self.read(|tx| {
                let context = || format!("read a checkpoint of thread {thread_id:?}");
                let raw = match &config.checkpoint_id {
                    Some(id) => tx.prepare_cached(sql::SELECT_CHECKPOINT).and_then(|mut s| {
                        s.query_row([thread_id, ns, id], RawCheckpoint::from_row)
                            .optional()
                    }),
                    None => tx.prepare_cached(sql::SELECT_LATEST).and_then(|mut s| {
                        s.query_row([thread_id, ns], RawCheckpoint::from_row)
                            .optional()
                    }),
                }
                .map_err(sql_context(context))?;
                raw.map(|raw| fetch_page(tx, vec![Ok(raw.decode()?)], Some(&self.reads)))
                    .transpose()
            })?;
            page.and_then(|mut page| page.next()).transpose()
        })
    }

    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        traced(BACKEND, Call::config("list", config), || {
            options.validate()?;
            if let Some(config) = config {
                require_thread("list", &config.thread_id)?;
            }
            let query = sql::list_query(config, options);
            let page = self.read(|tx| {
                let context = || match config {
                    Some(c) => format!("list thread {:?}", c.thread_id),
                    None => "list all threads".to_owned(),
                };
                let mut stmt = tx
                    .prepare_cached(&query.sql)
                    .map_err(sql_context(context))?;
                let raw = stmt
                    .query_map(
                        rusqlite::params_from_iter(&query.params),
                        RawCheckpoint::from_row,
                    )
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(sql_context(context))?;
                let limit = options.limit.unwrap_or(usize::MAX);
                let mut rows = Vec::with_capacity(raw.len().min(limit));
                for raw in raw {
                    if rows.len() >= limit {
                        break;
                    }
                    let row = raw.decode();
                    // SQL has filtered already; this settles what it could only
                    // narrow down (floats, arrays, objects). A row that does not
                    // decode is kept: its item reports the damage.
                    let keep =
                        query.exact || row.as_ref().map_or(true, |r| options.matches(&r.metadata));
                    if keep {
                        rows.push(row);
                    }
                }
                fetch_page(tx, rows, Some(&self.reads))
            })?;
            Ok(CheckpointIter::new(page))
        })
    }

    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        traced(BACKEND, Call::put("put", config, &checkpoint.id), || {
            let put = put::PreparedPut::new(config, checkpoint, metadata, new_versions)?;
            self.store_put(&put, Vec::new(), config.lease_token())
        })
    }

    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> Result<()> {
        traced(BACKEND, Call::config("put_writes", Some(config)), || {
            let batch = WriteBatch::new(writes, task_id, task_path);
            self.store_writes(
                put::EncodedWrites::encode(config, &batch)?,
                config.lease_token(),
            )
        })
    }

    fn put_with_writes(
        &self,
        config: &Config,
        batches: &[WriteBatch<'_>],
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        traced(
            BACKEND,
            Call::put("put_with_writes", config, &checkpoint.id),
            || {
                // Every part is checked and serialised first; then one op.
                let writes = batches
                    .iter()
                    .map(|batch| put::EncodedWrites::encode(config, batch))
                    .collect::<Result<Vec<_>>>()?;
                let put = put::PreparedPut::new(config, checkpoint, metadata, new_versions)?;
                self.store_put(&put, writes, config.lease_token())
            },
        )
    }

    fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        self.delete_for_runs_impl(run_ids)
    }

    crate::saver::lease::unfenced_calls!();
}

// The whole-thread writes, with the fencing token of a lease (or none).
impl SqliteSaver {
    fn delete_thread_fenced(&self, thread_id: &str, token: Option<u64>) -> Result<()> {
        traced(BACKEND, Call::thread("delete_thread", thread_id), || {
            require_thread("delete_thread", thread_id)?;
            let what = format!("delete of thread {thread_id:?}");
            let (thread, context) = (thread_id.to_owned(), what.clone());
            let op: Op = Box::new(move |tx| {
                lease::check(tx, &thread, token)?;
                execute_all(tx, &sql::DELETE_THREAD, [&thread], || context.clone())?;
                values::delete_thread(tx, &thread)?;
                Ok(Stored::Done)
            });
            let result = self.write(what, op);
            self.cache.forget_thread(thread_id);
            self.reads.forget_thread(thread_id);
            result.map(|_| self.scrub_wal())
        })
    }

    fn delete_for_runs_impl(&self, run_ids: &[String]) -> Result<()> {
        traced(BACKEND, Call::new("delete_for_runs"), || {
            if run_ids.is_empty() {
                return Ok(());
            }
            let what = format!("delete of runs {run_ids:?}");
            let arg = sql::encode_json("", || "run ids".to_owned(), run_ids)?;
            let context = what.clone();
            let op: Op = Box::new(move |tx| {
                let what = || context.clone();
                let threads = tx
                    .prepare_cached(sql::THREADS_OF_RUNS)
                    .and_then(|mut stmt| {
                        stmt.query_map([&arg], |r| r.get::<_, String>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(sql_context(what))?;
                if threads.is_empty() {
                    return Ok(Stored::Done);
                }
                // A leased thread is its runner's: refused, naming the holder.
                for thread_id in &threads {
                    lease::check(tx, thread_id, None)?;
                }
                execute_all(tx, &sql::DELETE_RUNS, [&arg], what)?;
                for thread_id in &threads {
                    values::collect_garbage(tx, thread_id)?;
                }
                Ok(Stored::Done)
            });
            let result = self.write(what, op);
            self.cache.clear();
            self.reads.clear();
            result.map(|_| self.scrub_wal())
        })
    }

    fn copy_thread_fenced(&self, source: &str, target: &str, token: Option<u64>) -> Result<()> {
        traced(BACKEND, Call::thread("copy_thread", source), || {
            check_copy(source, target)?;
            let what = format!("copy of thread {source:?} to {target:?}");
            let (src, dst, context) = (source.to_owned(), target.to_owned(), what.clone());
            let op: Op = Box::new(move |tx| {
                lease::check(tx, &dst, token)?;
                if thread_exists(tx, &dst)? {
                    return Err(Error::TargetNotEmpty {
                        source_thread: src,
                        target_thread: dst,
                    });
                }
                if !thread_exists(tx, &src)? {
                    return Err(Error::ThreadNotFound { thread_id: src });
                }
                execute_all(tx, &sql::COPY_THREAD, [&src, &dst], || context.clone())?;
                values::copy_thread(tx, &src, &dst)?;
                Ok(Stored::Done)
            });
            let result = self.write(what, op);
            self.cache.forget_thread(target);
            self.reads.forget_thread(target);
            result.map(drop)
        })
    }

    fn prune_fenced(
        &self,
        thread_ids: &[String],
        strategy: PruneStrategy,
        token: Option<u64>,
    ) -> Result<()> {
        traced(BACKEND, Call::new("prune"), || {
            require_threads("prune", thread_ids)?;
            if thread_ids.is_empty() {
                return Ok(());
            }
            let what = format!("prune ({strategy:?}) of threads {thread_ids:?}");
            let (threads, context) = (thread_ids.to_vec(), what.clone());
            let op: Op = Box::new(move |tx| {
                let what = || context.clone();
                for thread_id in &threads {
                    lease::check(tx, thread_id, token)?;
                }
                for thread_id in &threads {
                    let thread_id = thread_id.as_str();
                    match strategy {
                        PruneStrategy::Delete => {
                            execute_all(tx, &sql::DELETE_THREAD, [thread_id], what)?;
                            values::delete_thread(tx, thread_id)?;
                        }
                        PruneStrategy::KeepLatest => {
                            execute_all(tx, &sql::PRUNE_KEEP_LATEST, [thread_id], what)?;
                            values::collect_garbage(tx, thread_id)?;
                        }
                    }
                }
                Ok(Stored::Done)
            });
            let result = self.write(what, op);
            for thread_id in thread_ids {
                self.cache.forget_thread(thread_id);
                self.reads.forget_thread(thread_id);
            }
            result.map(|_| self.scrub_wal())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EXPLAIN QUERY PLAN` of `sql`, one line per step.
    fn plan(saver: &SqliteSaver, sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let conn = saver.pool.get().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let lines: Vec<String> = stmt
            .query_map(params, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        lines.join(" / ")
    }

    #[test]
    fn point_reads_and_batches_are_index_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let saver = SqliteSaver::open(dir.path().join("db")).unwrap();
        let keys = r#"[["t","","a"]]"#;
        for (sql, params) in [
            (sql::SELECT_LATEST, vec![&"t" as &dyn rusqlite::ToSql, &""]),
            (sql::SELECT_CHECKPOINT, vec![&"t", &"", &"id"]),
            (sql::CHECKPOINT_EXISTS, vec![&"t", &"", &"id"]),
            (sql::SELECT_WRITES_BATCH, vec![&keys]),
            (values::SCAN_CHANNEL, vec![&"t", &"", &"c", &1]),
            (values::SCAN_SPAN, vec![&"t", &"", &1, &3]),
            (values::BASE_STATE, vec![&"t", &"", &"c", &"1"]),
            (sql::SELECT_WRITES_ONE, vec![&"t", &"", &"id"]),
            (sql::SELECT_PLACE_WRITES, vec![&"t", &""]),
            (sql::THREADS_OF_RUNS, vec![&r#"["r"]"#]),
        ] {
            let plan = plan(&saver, sql, &params);
            assert!(
                plan.contains("SEARCH")
                    && !plan.contains("SCAN checkpoints")
                    && !plan.contains("SCAN writes")
                    && !plan.contains("SCAN channel_values")
                    // No sort, not even of a part ("RIGHT PART OF ORDER BY").
                    && !plan.contains("ORDER BY"),
                "{sql}: {plan}"
            );
        }
    }
}
