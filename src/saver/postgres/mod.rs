//! `PostgresSaver`: checkpoints in a PostgreSQL database, in LangGraph's
//! own schema (`langgraph-checkpoint-postgres` 3.2.0), so that Python
//! workers and this crate share one database.
//!
//! Layout: [`setup`] (pool, migrations under an advisory lock), [`sql`]
//! (statements and row mapping); values are encoded as Python does by
//! `crate::saver::langgraph_values`.

mod admin;
// Thread leases (issue 12).
mod lease;
mod options;
mod setup;
mod sql;
// issue 11: TLS (the connector; `sslmode` in URLs).
mod ssl_params;
mod tls;
// Statements prepared once per pooled connection (issue 11).
mod statements;

use std::fmt;

use postgres::types::{ToSql, Type};
use r2d2_postgres::PostgresConnectionManager;
use serde_json::{Map, Value};

pub use options::{PostgresOptions, PostgresTlsMode};
pub use tls::PostgresTls;
// issue 14: the PostgreSQL event log opens its pool as the saver does.
pub(crate) use setup::{build_pool, redact};

use super::base::BaseCheckpointSaver;
use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::checks::{
    check_copy, check_metadata, check_put, check_writes, checkpoint_config, checkpoint_not_found,
    merged_metadata, require_thread, require_threads, writes_target,
};
use super::config::Config;
use super::error::{BoxError, Error, Result};
use super::iter::CheckpointIter;
use super::list::ListOptions;
use super::prune::PruneStrategy;
use super::trace::{Call, traced};
use super::tuple::CheckpointTuple;
use super::writes::WriteBatch;
use sql::{CheckpointRows, WriteRows};
use statements::RunStatement;

/// The backend name in errors and spans.
pub(crate) const BACKEND: &str = "postgres";

/// The connection pool a [`PostgresSaver`] works through
/// ([`PostgresSaver::from_pool`] takes one).
pub type PostgresPool = r2d2::Pool<PostgresConnectionManager<PostgresTls>>;
pub(crate) type Pool = PostgresPool;
/// A connection of a [`PostgresPool`].
pub(crate) type PooledClient = r2d2::PooledConnection<PostgresConnectionManager<PostgresTls>>;

/// Maps a driver error to [`Error::Backend`] with the context `what`.
pub(crate) fn pg_error<E: Into<BoxError>>(
    what: impl FnOnce() -> String,
) -> impl FnOnce(E) -> Error {
    move |e| Error::backend(BACKEND, what(), e)
}

/// A saver on a PostgreSQL database, in the tables LangGraph's
/// `PostgresSaver` uses: `checkpoints`, `checkpoint_blobs`,
/// `checkpoint_writes` and `checkpoint_migrations` (v0–v9).
///
/// - **Shared with Python.** A database Python's `setup()` made opens as
///   it is; an empty one is migrated with Python's own statements, so
///   Python's `setup()` is then a no-op. A database migrated past v9 (a
///   newer LangGraph) is refused with [`Error::SchemaTooNew`] and not
///   touched. Values are stored as Python stores them: `None`, strings,
///   numbers and booleans inline in the checkpoint's JSONB, everything
///   else one msgpack blob per `(channel, version)`; blobs of type
///   `msgpack`, `json`, `null`, `bytes` and `empty` are read.
/// - **Python objects.** A `Send` on `__pregel_tasks` reads as the graph's
///   `{"node": .., "arg": ..}` and an `Interrupt` on `__interrupt__` as
///   `{"value": .., "id": ..}`; the graph's own are written as the
///   `langgraph.types` objects Python rebuilds. Any other class Python's
///   serializer writes (a `LangChain` message, a dataclass, a datetime)
///   reads as `{"__ext__": {"code", "module", "class", "data"(, "method")},
///   "__msgpack__": "<hex>"}` and is written back as those bytes, or
///   encoded from `__ext__` if that was changed (or made without
///   `__msgpack__`). Binary, non-string map keys, NaN and other ext codes
///   read as `{"__msgpack__": "<hex>"}`, written back byte for byte.
/// - **TLS** (feature `postgres-tls`): the URL's `sslmode=require` or
///   `sslmode=verify-full&sslrootcert=<CA file>`, or
///   [`PostgresOptions::with_tls`]; see [`PostgresTlsMode`].
/// - **Many workers.** Setup takes a session advisory lock, so workers
///   starting at once on an empty database all succeed. Every call is one
///   transaction; `put`, `put_with_writes`, `put_writes`, `delete_thread`
///   and the reads are one statement each (one round trip, the lease check
///   included), prepared once per pooled connection.
/// - **Async.** The driver's client runs a small tokio runtime of its own,
///   which must not be used or dropped on a tokio worker thread. The saver
///   sees to it: called (or dropped) inside a runtime, it moves the work
///   off the worker (`block_in_place` on a multi-thread runtime, a scoped
///   thread on a current-thread one). Wrap it in
///   [`AsyncSaver`](crate::AsyncSaver) for async code.
///
/// ```no_run
/// use checkpointer::{BaseCheckpointSaver, Config, PostgresSaver};
/// let saver = PostgresSaver::open("postgresql://postgres@127.0.0.1/postgres")?;
/// let latest = saver.get_tuple(&Config::thread("thread-1"))?;
/// # Ok::<(), checkpointer::Error>(())
/// ```
pub struct PostgresSaver {
    /// Always `Some` until `drop`, which takes it to drop it off any runtime.
    pool: Option<Pool>,
    /// The database, for errors (the URL without its password).
    name: String,
}

impl fmt::Debug for PostgresSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSaver")
            .field("database", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresSaver {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

/// Runs `f` where the driver may block: directly on a plain thread, off
/// the worker inside a tokio runtime (see [`PostgresSaver`]).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Err(_) => f(),
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|scope| match scope.spawn(f).join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

impl PostgresSaver {
    /// Connects to `url` (`postgresql://user:pass@host:port/db` or
    /// `host=... dbname=...`) with the default [`PostgresOptions`] and
    /// brings the schema to LangGraph's v9.
    pub fn open(url: &str) -> Result<Self> {
        PostgresSaver::open_with(url, PostgresOptions::new())
    }

    /// [`open`](Self::open) with `options`.
    pub fn open_with(url: &str, options: PostgresOptions) -> Result<Self> {
        off_runtime(|| {
            let pool = setup::build_pool(url, options)?;
            PostgresSaver::start(pool, setup::redact(url))
        })
    }

    /// A saver on an existing pool (its connections' settings are the
    /// caller's); migrates as [`open`](Self::open) does. `name` names the
    /// database in errors.
    pub fn from_pool(pool: PostgresPool, name: &str) -> Result<Self> {
        off_runtime(|| PostgresSaver::start(pool, name.to_owned()))
    }

    fn start(pool: Pool, name: String) -> Result<Self> {
        setup::migrate(&pool, &name)?;
        Ok(PostgresSaver {
            pool: Some(pool),
            name,
        })
    }

    /// The newest LangGraph migration this saver applies (9).
    pub const SCHEMA_VERSION: i64 = setup::NEWEST;

    /// Runs `f` on a pooled connection, off any tokio worker.
    pub(crate) fn with_client<T: Send>(
        &self,
        what: &str,
        f: impl FnOnce(&mut postgres::Client) -> Result<T> + Send,
    ) -> Result<T> {
        let pool = self.pool.as_ref().ok_or_else(|| {
            Error::backend(BACKEND, what.to_owned(), "the saver is being dropped")
        })?;
        off_runtime(|| {
            let mut conn = pool.get().map_err(|e| {
                Error::backend(
                    BACKEND,
                    format!("{what}: get a connection to {}", self.name),
                    e,
                )
            })?;
            f(&mut conn)
        })
    }

    /// Runs `f` in one transaction on a pooled connection.
    pub(crate) fn in_transaction<T: Send>(
        &self,
        what: &str,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        self.with_client(what, |client| {
            let mut tx = client
                .transaction()
                .map_err(pg_error(|| format!("{what}: begin")))?;
            let out = f(&mut tx)?;
            tx.commit()
                .map_err(pg_error(|| format!("{what}: commit")))?;
            Ok(out)
        })
    }

    fn put_rows(
        &self,
        config: &Config,
        put: &Put<'_>,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
    ) -> Result<Config> {
        let (writes, must_exist, operation) = (put.writes, put.parent_must_exist, put.operation);
        let (thread_id, ns) = (config.thread_id.as_str(), config.ns());
        let merged = merged_metadata(config, metadata);
        let parent = config.checkpoint_id.as_deref();
        let what = format!(
            "{operation} of checkpoint {} in thread {thread_id:?}",
            checkpoint.id
        );
        // Only the blobs of `new_versions`, as Python sends them; should
        // one that the others name be missing, all of them once more.
        let mut new_versions = Some(put.new_versions);
        let outcome = loop {
            let rows = CheckpointRows::new(thread_id, checkpoint, &merged, new_versions)?;
            let params = sql::PutParams {
                thread_id,
                ns,
                parent,
                writes,
                parent_must_exist: must_exist,
                checkpoint_id: &checkpoint.id,
                rows: &rows,
                fence: sql::Fence::Token(config.lease_token()),
            };
            let outcome = self.with_session(&what, |s| sql::exec_put(s, &params, &what))?;
            if outcome.missing == 0 || new_versions.is_none() {
                break outcome;
            }
            new_versions = None;
        };
        if !outcome.found {
            return Err(checkpoint_not_found(
                thread_id,
                ns,
                parent.unwrap_or_default(),
            ));
        }
        Ok(checkpoint_config(thread_id, ns, &checkpoint.id))
    }

    /// Reads the tuples of the read statement `sql` with `params`.
    fn read(
        &self,
        what: &str,
        sql: &'static str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<CheckpointTuple>> {
        self.with_session(what, |session| {
            let rows = session
                .run(sql, types, params)
                .map_err(pg_error(|| what.to_owned()))?;
            rows.iter().map(sql::tuple_from_row).collect()
        })
    }
}

/// The writes of one `put_rows` call and how to check its parent.
struct Put<'a> {
    writes: &'a WriteRows,
    /// The channels whose blobs are new (the others are stored already).
    new_versions: &'a ChannelVersions,
    /// Whether the config's checkpoint must exist (there are writes for it).
    parent_must_exist: bool,
    operation: &'static str,
}

/// The `metadata @> $n` object of a filter: the scalar values (numbers
/// compare by value in JSONB). Null and structured values are settled by
/// [`ListOptions::matches`] after the query; `None` when some are, so the
/// limit must be applied after that.
fn containment(options: &ListOptions) -> (Value, bool) {
    let mut map = Map::new();
    let mut exact = true;
    for (key, value) in &options.filter {
        match value {
            Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                map.insert(key.clone(), value.clone());
            }
            _ => exact = false,
        }
    }
    (Value::Object(map), exact)
}

impl BaseCheckpointSaver for PostgresSaver {
    fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
        traced(BACKEND, Call::config("get_tuple", Some(config)), || {
            require_thread("get_tuple", &config.thread_id)?;
            let (thread_id, ns) = (config.thread_id.as_str(), config.ns());
            let what = format!("read a checkpoint of thread {thread_id:?}");
            let tuples = match config.checkpoint_id.as_deref() {
                Some(id) => self.read(
                    &what,
                    &sql::GET_BY_ID,
                    &[Type::TEXT, Type::TEXT, Type::TEXT],
                    &[&thread_id, &ns, &id],
                )?,
                None => self.read(
                    &what,
                    &sql::GET_LATEST,
                    &[Type::TEXT, Type::TEXT],
                    &[&thread_id, &ns],
                )?,
            };
            Ok(tuples.into_iter().next())
        })
    }

    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        traced(BACKEND, Call::config("list", config), || {
            options.validate()?;
            if let Some(config) = config {
                require_thread("list", &config.thread_id)?;
            }
            let (filter, exact) = containment(options);
            let limit = options.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
            let sql_limit = if exact { limit } else { None };
            let thread = config.map(|c| c.thread_id.as_str());
            let ns = config.and_then(|c| c.checkpoint_ns.as_deref());
            let id = config.and_then(|c| c.checkpoint_id.as_deref());
            let before = options.before.as_deref();
            let (what, statement): (String, &'static str) = match thread {
                Some(t) => (format!("list thread {t:?}"), &sql::LIST_THREAD),
                None => ("list every thread".to_owned(), &sql::LIST_ALL),
            };
            let mut tuples = self.read(
                &what,
                statement,
                &sql::LIST_TYPES,
                &[&thread, &ns, &id, &before, &filter, &sql_limit],
            )?;
            if !exact {
                tuples.retain(|t| options.matches(&t.metadata));
                if let Some(limit) = options.limit {
                    tuples.truncate(limit);
                }
            }
            Ok(CheckpointIter::from_vec(tuples))
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
            check_put(config, checkpoint)?;
            check_metadata(config, checkpoint, metadata)?;
            let put = Put {
                writes: &WriteRows::default(),
                new_versions,
                parent_must_exist: false,
                operation: "put",
            };
            self.put_rows(config, &put, checkpoint, metadata)
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
            let (thread_id, ns, id) = writes_target(config)?;
            check_writes(config, writes, task_id)?;
            let rows = WriteRows::new(&[WriteBatch::new(writes, task_id, task_path)]);
            let what = format!(
                "put_writes of task {task_id:?} on checkpoint {id} of thread {thread_id:?}"
            );
            let token = config.lease_token();
            let outcome = self.with_session(&what, |s| {
                sql::exec_put_writes(
                    s,
                    (thread_id, ns, id),
                    &rows,
                    sql::Fence::Token(token),
                    &what,
                )
            })?;
            if outcome.found {
                Ok(())
            } else {
                Err(checkpoint_not_found(thread_id, ns, id))
            }
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
                if !batches.is_empty() {
                    writes_target(config)?;
                }
                for batch in batches {
                    check_writes(config, batch.writes, batch.task_id)?;
                }
                check_put(config, checkpoint)?;
                check_metadata(config, checkpoint, metadata)?;
                let writes = WriteRows::new(batches);
                let put = Put {
                    writes: &writes,
                    new_versions,
                    parent_must_exist: !batches.is_empty(),
                    operation: "put_with_writes",
                };
                self.put_rows(config, &put, checkpoint, metadata)
            },
        )
    }

    fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        self.delete_for_runs_impl(run_ids)
    }

    crate::saver::lease::unfenced_calls!();
}

// The whole-thread writes, with the fencing token of a lease (or none).
impl PostgresSaver {
    fn delete_thread_fenced(&self, thread_id: &str, token: Option<u64>) -> Result<()> {
        traced(BACKEND, Call::thread("delete_thread", thread_id), || {
            require_thread("delete_thread", thread_id)?;
            let what = format!("delete thread {thread_id:?}");
            // The lease check and the deletes: one statement.
            self.with_session(&what, |s| {
                sql::exec_delete_thread(s, thread_id, token, &what)
            })
        })
    }

    fn delete_for_runs_impl(&self, run_ids: &[String]) -> Result<()> {
        traced(BACKEND, Call::new("delete_for_runs"), || {
            if run_ids.is_empty() {
                return Ok(());
            }
            let what = format!("delete the checkpoints of runs {run_ids:?}");
            self.in_transaction(&what, |tx| {
                // A leased thread with a checkpoint of these runs is its
                // runner's: refused, naming the holder.
                let threads = tx
                    .query(
                        "SELECT DISTINCT thread_id FROM checkpoints WHERE metadata ->> 'run_id' = ANY($1)",
                        &[&run_ids],
                    )
                    .map_err(pg_error(|| what.clone()))?;
                for row in threads {
                    lease::check(tx, row.get::<_, &str>(0), None)?;
                }
                tx.execute(
                    "WITH gone AS (
                        DELETE FROM checkpoints WHERE metadata ->> 'run_id' = ANY($1)
                        RETURNING thread_id, checkpoint_ns, checkpoint_id)
                    DELETE FROM checkpoint_writes w USING gone
                    WHERE w.thread_id = gone.thread_id AND w.checkpoint_ns = gone.checkpoint_ns
                        AND w.checkpoint_id = gone.checkpoint_id",
                    &[&run_ids],
                )
                .map_err(pg_error(|| what.clone()))?;
                Ok(())
            })
        })
    }

    fn copy_thread_fenced(&self, source: &str, target: &str, token: Option<u64>) -> Result<()> {
        traced(BACKEND, Call::thread("copy_thread", source), || {
            check_copy(source, target)?;
            let what = format!("copy thread {source:?} to {target:?}");
            self.in_transaction(&what, |tx| {
                lease::check(tx, target, token)?;
                let exists = |tx: &mut postgres::Transaction<'_>, thread: &str| {
                    tx.query_opt(
                        "SELECT 1 FROM checkpoints WHERE thread_id = $1 LIMIT 1",
                        &[&thread],
                    )
                    .map(|r| r.is_some())
                    .map_err(pg_error(|| format!("{what}: look up thread {thread:?}")))
                };
                if exists(tx, target)? {
                    return Err(Error::TargetNotEmpty {
                        source_thread: source.to_owned(),
                        target_thread: target.to_owned(),
                    });
                }
                if !exists(tx, source)? {
                    return Err(Error::ThreadNotFound {
                        thread_id: source.to_owned(),
                    });
                }
                for statement in sql::COPY {
                    tx.execute(statement, &[&source, &target])
                        .map_err(pg_error(|| what.clone()))?;
                }
                Ok(())
            })
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
            let what = format!("prune ({strategy:?}) threads {thread_ids:?}");
            let statements: &[&str] = match strategy {
                PruneStrategy::Delete => &[sql::DELETE_THREADS],
                PruneStrategy::KeepLatest => &sql::PRUNE_KEEP_LATEST,
            };
            self.in_transaction(&what, |tx| {
                for thread_id in thread_ids {
                    lease::check(tx, thread_id, token)?;
                }
                for statement in statements {
                    tx.execute(*statement, &[&thread_ids])
                        .map_err(pg_error(|| what.clone()))?;
                }
                Ok(())
            })
        })
    }
}
