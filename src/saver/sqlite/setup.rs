//! Opening a database: connection pragmas, the WAL check, the
//! `application_id` that marks our files, and the schema migrations.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use scheduled_thread_pool::ScheduledThreadPool;

use super::options::SqliteOptions;
use super::sql_context;
use crate::saver::error::{Error, Result};

/// `PRAGMA application_id` of every checkpointer database: `"CKPT"`.
pub(crate) const APPLICATION_ID: i32 = 0x434B_5054;

/// The schema migrations, in order. Migration `i` (from 0) takes the schema
/// from `PRAGMA user_version = i` to `i + 1`; all pending ones run in one
/// transaction. Never edit a released migration: append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the initial layout.
    "
    CREATE TABLE checkpoints (
        thread_id            TEXT NOT NULL,
        checkpoint_ns        TEXT NOT NULL DEFAULT '',
        checkpoint_id        TEXT NOT NULL,
        parent_checkpoint_id TEXT,
        checkpoint           TEXT NOT NULL,   -- JSON, without channel values
        metadata             TEXT NOT NULL,   -- JSON
        step                 INTEGER NOT NULL, -- copies of metadata keys,
        source               TEXT NOT NULL,    -- indexed for list filters
        run_id               TEXT,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    );
    CREATE INDEX checkpoints_thread_idx
        ON checkpoints (thread_id, checkpoint_id, checkpoint_ns);
    CREATE INDEX checkpoints_id_idx
        ON checkpoints (checkpoint_id, thread_id, checkpoint_ns);
    CREATE INDEX checkpoints_step_idx
        ON checkpoints (step, checkpoint_id, thread_id, checkpoint_ns);
    CREATE INDEX checkpoints_source_idx
        ON checkpoints (source, checkpoint_id, thread_id, checkpoint_ns);
    CREATE INDEX checkpoints_run_id_idx
        ON checkpoints (run_id, checkpoint_id, thread_id, checkpoint_ns);

    CREATE TABLE channel_values (
        thread_id     TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        channel       TEXT NOT NULL,
        version       TEXT NOT NULL,
        value         TEXT,                   -- JSON; NULL: versioned, no value
        PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
    );

    CREATE TABLE writes (
        thread_id     TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        task_id       TEXT NOT NULL,
        idx           INTEGER NOT NULL,
        channel       TEXT NOT NULL,
        task_path     TEXT NOT NULL DEFAULT '',
        value         TEXT NOT NULL,          -- JSON
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx),
        FOREIGN KEY (thread_id, checkpoint_ns, checkpoint_id)
            REFERENCES checkpoints (thread_id, checkpoint_ns, checkpoint_id)
            ON DELETE CASCADE
    );
    ",
    // 2: delta-encoded channel values (see `saver::delta`). Rows written before
    // are full values (`base` NULL).
    "
    ALTER TABLE channel_values ADD COLUMN base TEXT;    -- delta on this version; NULL: full
    ALTER TABLE channel_values ADD COLUMN depth INTEGER NOT NULL DEFAULT 0; -- deltas since a full value
    ALTER TABLE channel_values ADD COLUMN len INTEGER;   -- arrays: element count of the full value
    ALTER TABLE channel_values ADD COLUMN hash INTEGER;  -- arrays: FNV-1a of the elements' JSON
    -- Most checkpoints have no run id: index only those that do.
    DROP INDEX checkpoints_run_id_idx;
    CREATE INDEX checkpoints_run_id_idx
        ON checkpoints (run_id, checkpoint_id, thread_id, checkpoint_ns) WHERE run_id IS NOT NULL;
    ",
    // 3: `channel_values` clustered by thread and version counter, so that
    // a delta chain is one reverse range scan, the values of one checkpoint
    // (whose channels move together) share pages, and a lookup is one
    // B-tree descent (no rowid table behind a key index). `seq` is
    // `CAST(version AS INTEGER)`: the counter of every version this saver
    // writes, 0 for text without leading digits (still unique with
    // `version` in the key). A WITHOUT ROWID table keeps at most ~1000
    // bytes of a row in its page and spills the rest into an overflow page
    // of its own: values longer than 640 bytes live in the rowid table
    // `channel_blobs` (`blob` names the row), deleted by the statements that
    // delete value rows (a trigger per deleted row cost ~25 % of a
    // `delete_thread`) and, on a rewrite, by a trigger.
    "
    CREATE TABLE channel_blobs (
        id    INTEGER PRIMARY KEY,
        value TEXT                            -- JSON of a long value
    );
    CREATE TABLE channel_values_v3 (
        thread_id     TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        channel       TEXT NOT NULL,
        seq           INTEGER NOT NULL,       -- CAST(version AS INTEGER)
        version       TEXT NOT NULL,
        value         TEXT,                   -- JSON; NULL: in channel_blobs or no value
        blob          INTEGER,                -- channel_blobs.id of a long value
        base          TEXT,                   -- delta on this version; NULL: full
        depth         INTEGER NOT NULL DEFAULT 0,
        len           INTEGER,
        hash          INTEGER,
        PRIMARY KEY (thread_id, checkpoint_ns, seq, channel, version)
    ) WITHOUT ROWID;
    INSERT INTO channel_blobs (id, value)
    SELECT rowid, value FROM channel_values WHERE length(CAST(value AS BLOB)) > 640;
    INSERT INTO channel_values_v3 (thread_id, checkpoint_ns, channel, seq, version, value,
        blob, base, depth, len, hash)
    SELECT thread_id, checkpoint_ns, channel, CAST(version AS INTEGER), version,
        CASE WHEN length(CAST(value AS BLOB)) > 640 THEN NULL ELSE value END,
        CASE WHEN length(CAST(value AS BLOB)) > 640 THEN rowid END,
        base, depth, len, hash FROM channel_values;
    DROP TABLE channel_values;
    ALTER TABLE channel_values_v3 RENAME TO channel_values;
    CREATE TRIGGER channel_values_replace_blob AFTER UPDATE OF blob ON channel_values
    WHEN old.blob IS NOT NULL AND old.blob IS NOT new.blob BEGIN
        DELETE FROM channel_blobs WHERE id = old.blob;
    END;
    ",
    // 4: thread leases (issue 12). One row per thread ever leased; the row
    // outlives release and expiry so that tokens only grow.
    "
    CREATE TABLE thread_leases (
        thread_id  TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        token      INTEGER NOT NULL,          -- the fencing token
        expires_ms INTEGER NOT NULL           -- Unix ms, by the local clock
    ) WITHOUT ROWID;
    ",
    // 5: channel values may be stored DEFLATE-packed (`packed.rs`): a BLOB
    // starting with 0xF5 in `channel_values.value` or `channel_blobs.value`.
    // No table changes; the version tells an older reader that it cannot
    // read this file's values, instead of letting it call them damaged.
    "
    -- nothing to alter: the packed form is recognised by its first byte
    ",
    // 6: `checkpoints` clustered by (thread, id, namespace), WITHOUT ROWID:
    // a thread's checkpoints in id order are one range of the table itself,
    // so the thread index and the autoindex of the old key (two B-trees
    // written by every put and delete) go. The secondary indexes already
    // hold the whole new key. `prepare_with` turns foreign keys off around
    // this (the table `writes` references is rebuilt) and checks them after.
    // Values packed since are zstd frames (codec 2 in `packed.rs`), which a
    // schema-5 reader does not know: the version tells it.
    "
    CREATE TABLE checkpoints_v6 (
        thread_id            TEXT NOT NULL,
        checkpoint_ns        TEXT NOT NULL DEFAULT '',
        checkpoint_id        TEXT NOT NULL,
        parent_checkpoint_id TEXT,
        checkpoint           TEXT NOT NULL,
        metadata             TEXT NOT NULL,
        step                 INTEGER NOT NULL,
        source               TEXT NOT NULL,
        run_id               TEXT,
        PRIMARY KEY (thread_id, checkpoint_id, checkpoint_ns)
    ) WITHOUT ROWID;
    INSERT INTO checkpoints_v6 (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
        checkpoint, metadata, step, source, run_id)
    SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
        checkpoint, metadata, step, source, run_id FROM checkpoints;
    DROP TABLE checkpoints;
    ALTER TABLE checkpoints_v6 RENAME TO checkpoints;
    CREATE INDEX checkpoints_id_idx
        ON checkpoints (checkpoint_id, thread_id, checkpoint_ns);
    -- The step index is per thread: a thread's entries are one range
    -- (deleting a thread rewrote a leaf page per step when it led with
    -- `step`). `list` across threads by step visits thread by thread
    -- (`sql::list_query`).
    CREATE INDEX checkpoints_step_idx
        ON checkpoints (thread_id, step, checkpoint_id, checkpoint_ns);
    CREATE INDEX checkpoints_source_idx
        ON checkpoints (source, checkpoint_id, thread_id, checkpoint_ns);
    CREATE INDEX checkpoints_run_id_idx
        ON checkpoints (run_id, checkpoint_id, thread_id, checkpoint_ns) WHERE run_id IS NOT NULL;
    ",
];

/// The schema version this code writes: the number of migrations.
// `i64::try_from` is not usable in a const; the count (a handful) fits.
#[allow(clippy::cast_possible_wrap)]
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The pragmas every connection gets when the pool opens it.
pub(crate) fn init_connection(
    conn: &Connection,
    options: &SqliteOptions,
    file: bool,
) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout())?;
    if file {
        // Persistent once set; on an already-WAL file this takes no lock.
        switch_to_wal(conn)?;
    }
    conn.pragma_update(None, "synchronous", options.synchronous().as_pragma())?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "secure_delete", options.secure_delete())?;
    if file {
        // Checkpoint the WAL every 1 MiB rather than 4 MiB: the WAL file
        // stays small (it counts as database size), and each checkpoint
        // pauses a commit for less.
        conn.pragma_update(None, "wal_autocheckpoint", 256)?;
    }
    // Every statement of the saver stays prepared (`list` queries vary).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Refuses a file that exists but does not start with SQLite's header.
pub(crate) fn check_header(path: &Path) -> Result<()> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut header = Vec::with_capacity(16);
    file.by_ref()
        .take(16)
        .read_to_end(&mut header)
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
    // An empty file is an empty database to SQLite.
    if !header.is_empty() && header != b"SQLite format 3\0" {
        return Err(Error::NotACheckpointDatabase {
            path: path.to_owned(),
            reason: "the file is not a SQLite database (wrong header)".into(),
        });
    }
    Ok(())
}

/// What `identify` found in a database.
enum Identity {
    /// No tables, no application id: a new database.
    Fresh,
    /// Ours, at this schema version (the number of migrations applied).
    Ours(usize),
}

/// Refuses, without writing anything, a file that holds no checkpointer
/// database: a 0-byte file, or an SQLite file with no schema yet. For
/// [`SqliteSaver::open_existing`](crate::SqliteSaver::open_existing):
/// opening such a file would write the schema into it. A file that cannot
/// be read this way is left to the normal open and its errors.
pub(crate) fn require_schema(path: &Path) -> Result<()> {
    let empty = |reason: &str| Error::NotACheckpointDatabase {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => return Err(empty("the file is empty (0 bytes)")),
        Ok(_) => {}
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            });
        }
    }
    check_header(path)?;
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = Connection::open_with_flags(path, flags) else {
        return Ok(());
    };
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    match identify(&conn, path, supported)? {
        Identity::Fresh => Err(empty("it is an SQLite file with no checkpoint schema")),
        Identity::Ours(_) => Ok(()),
    }
}

/// Reads `application_id`, `user_version` and the table list, and refuses
/// a database that is not ours or is newer than this code.
fn identify(conn: &Connection, path: &Path, supported: i64) -> Result<Identity> {
    let read = |e: rusqlite::Error| not_a_database(e, path, "read the schema");
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(read)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(read)?;
    if app_id == APPLICATION_ID {
        if version > supported {
            return Err(Error::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                supported,
            });
        }
        // At most `supported` now: only a negative version does not fit.
        let Ok(applied) = usize::try_from(version) else {
            return Err(Error::NotACheckpointDatabase {
                path: path.to_owned(),
                reason: format!("its schema version {version} is invalid"),
            });
        };
        return Ok(Identity::Ours(applied));
    }
    if app_id != 0 {
        return Err(Error::NotACheckpointDatabase {
            path: path.to_owned(),
            reason: format!("its application_id is {app_id:#x}, another program's"),
        });
    }
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(read)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(read)?;
    if names.is_empty() && version == 0 {
        return Ok(Identity::Fresh);
    }
    let mut shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        shown.push_str(", ...");
    }
    Err(Error::NotACheckpointDatabase {
        path: path.to_owned(),
        reason: format!(
            "it has a schema (user_version {version}; {shown}) but not checkpointer's application_id"
        ),
    })
}

/// Maps "file is not a database" to [`Error::NotACheckpointDatabase`],
/// anything else to [`Error::Backend`].
fn not_a_database(e: rusqlite::Error, path: &Path, what: &str) -> Error {
    if matches!(e.sqlite_error_code(), Some(ErrorCode::NotADatabase)) {
        return Error::NotACheckpointDatabase {
            path: path.to_owned(),
            reason: format!("SQLite cannot read it: {e}"),
        };
    }
    sql_context(|| format!("{what} of {}", path.display()))(e)
}

/// How long [`switch_to_wal`] keeps trying while another connection holds
/// the database.
const WAL_SWITCH_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA journal_mode = WAL`, returning the mode in force. SQLite does
/// not call the busy handler for a journal-mode change, so when another
/// process is setting up the same new file at the same moment the change
/// fails at once with `SQLITE_BUSY`: retry, with a short growing pause,
/// for up to [`WAL_SWITCH_TIMEOUT`].
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = Instant::now() + WAL_SWITCH_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Checks that the database is ours (or empty), turns on WAL for a file
/// database and checks that it took, then brings the schema up to date in
/// one `BEGIN IMMEDIATE` transaction.
pub(crate) fn prepare(conn: &mut Connection, path: &Path, file: bool) -> Result<()> {
    prepare_with(conn, path, file, MIGRATIONS)
}

/// [`prepare`] with a given list of migrations (tests use longer ones).
fn prepare_with(conn: &mut Connection, path: &Path, file: bool, migrations: &[&str]) -> Result<()> {
    // A handful of migrations: the count fits.
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    // Refuse someone else's database before changing anything in it. One
    // read transaction, so that the ids and the table list come from one
    // snapshot even while another process is setting the same file up.
    {
        let snapshot = conn
            .transaction()
            .map_err(|e| not_a_database(e, path, "read the schema"))?;
        identify(&snapshot, path, supported)?;
    }
    if file {
        let mode = switch_to_wal(conn).map_err(|e| not_a_database(e, path, "turn on WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::WalUnavailable {
                path: path.to_owned(),
                journal_mode: mode,
            });
        }
    }
    // A migration may rebuild a table that `writes` references; with
    // foreign keys on, dropping the old table would delete (cascade) every
    // write. The pragma is a no-op inside a transaction: set it around one.
    let context = || format!("turn off foreign keys to migrate {}", path.display());
    let foreign_keys: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(sql_context(context))?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(sql_context(context))?;
    let migrated = migrate(conn, path, migrations, supported);
    let restored = conn
        .pragma_update(None, "foreign_keys", foreign_keys)
        .map_err(sql_context(|| {
            format!(
                "turn foreign keys back on after migrating {}",
                path.display()
            )
        }));
    migrated.and(restored)
}

/// Applies the pending `migrations` in one `BEGIN IMMEDIATE` transaction,
/// checking the foreign keys before it commits (they are off meanwhile).
fn migrate(conn: &mut Connection, path: &Path, migrations: &[&str], supported: i64) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| not_a_database(e, path, "begin the schema migration"))?;
    // Another process may have set the database up meanwhile: look again
    // under the write lock.
    let from = match identify(&tx, path, supported)? {
        Identity::Fresh => 0,
        Identity::Ours(version) => version,
    };
    if from < migrations.len() {
        let context = || format!("migrate {} to schema {supported}", path.display());
        for migration in migrations.iter().skip(from) {
            tx.execute_batch(migration).map_err(sql_context(context))?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sql_context(context))?;
        tx.pragma_update(None, "user_version", supported)
            .map_err(sql_context(context))?;
        check_foreign_keys(&tx, path)?;
    }
    tx.commit().map_err(sql_context(|| {
        format!("commit the schema of {}", path.display())
    }))
}

/// `PRAGMA foreign_key_check`: refuses a migration that left a write
/// without its checkpoint (dropping the transaction rolls it back).
fn check_foreign_keys(conn: &Connection, path: &Path) -> Result<()> {
    let context = || format!("check the foreign keys of {}", path.display());
    let mut stmt = conn
        .prepare("PRAGMA foreign_key_check")
        .map_err(sql_context(context))?;
    let problems = stmt
        .query_map([], |r| {
            let table: String = r.get(0)?;
            let rowid: Option<i64> = r.get(1)?;
            let parent: String = r.get(2)?;
            Ok(format!(
                "row {} of {table} has no row in {parent} (foreign key)",
                rowid.map_or_else(|| "?".to_owned(), |id| id.to_string())
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(sql_context(context))?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::CheckFailed {
        database: path.to_owned(),
        problems,
    })
}

/// The pool's builder for `options`. Its `build` opens the connections
/// (running `init_connection`) before it returns; the builder is made
/// first so the manager can own the options its init needs.
///
/// Every pool keeps its connections for the life of the saver (a SQLite
/// connection does not go stale, and a shared-cache memory database lives
/// as long as one connection to it), so r2d2 schedules no reaper; and all
/// pools share one helper thread pool (it opens connections), so a
/// dropped saver leaves no thread behind and opening many savers keeps
/// the thread count flat.
pub(crate) fn pool_builder(options: &SqliteOptions) -> r2d2::Builder<SqliteConnectionManager> {
    Pool::builder()
        .max_size(options.pool_size())
        // A SQLite connection does not go stale; skip the check query.
        .test_on_check_out(false)
        .connection_timeout(options.connection_timeout())
        .max_lifetime(None)
        .idle_timeout(None)
        .thread_pool(Arc::clone(helper_threads()))
}

/// The helper threads every pool of the process shares (r2d2 opens
/// connections on them): made at the first open, never dropped.
fn helper_threads() -> &'static Arc<ScheduledThreadPool> {
    static HELPERS: OnceLock<Arc<ScheduledThreadPool>> = OnceLock::new();
    HELPERS.get_or_init(|| {
        Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(POOL_HELPER_THREADS)
                .thread_name_pattern("checkpointer-sqlite-pool-{}")
                .build(),
        )
    })
}

/// How many helper threads the pools share (r2d2's own default per pool).
const POOL_HELPER_THREADS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    fn has_table(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    #[test]
    fn migrations_run_in_order_and_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        prepare(&mut conn, &path, true).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);

        // A later version adds two migrations, the second of which fails:
        // neither is applied.
        let mut broken: Vec<&str> = MIGRATIONS.to_vec();
        broken.push("CREATE TABLE extra (x INTEGER);");
        broken.push("CREATE TABLE extra (x INTEGER);");
        let err = prepare_with(&mut conn, &path, true, &broken).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Backend {
                    backend: "sqlite",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(version(&conn), SCHEMA_VERSION);
        assert!(!has_table(&conn, "extra"));

        // The fixed version applies both, once.
        let mut fixed: Vec<&str> = MIGRATIONS.to_vec();
        fixed.push("CREATE TABLE extra (x INTEGER);");
        fixed.push("ALTER TABLE extra ADD COLUMN y TEXT;");
        prepare_with(&mut conn, &path, true, &fixed).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION + 2);
        assert!(has_table(&conn, "extra"));
        prepare_with(&mut conn, &path, true, &fixed).unwrap();

        // The old code refuses the newer file.
        let err = prepare(&mut conn, &path, true).unwrap_err();
        assert!(matches!(err, Error::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 2));
    }

    use crate::saver::{
        BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata,
        CheckpointSource, CheckpointTuple, Config, ListOptions, SqliteOptions, SqliteSaver,
    };
    use serde_json::{Value, json};

    /// Puts a checkpoint after `parent` with these values (all announced).
    fn put(
        saver: &SqliteSaver,
        parent: &Config,
        step: i64,
        versions: &mut ChannelVersions,
        values: &[(&str, Value, ChannelVersion)],
    ) -> Config {
        let mut cp = Checkpoint::new(step);
        let mut new_versions = ChannelVersions::new();
        for (channel, _, version) in values {
            versions.insert((*channel).to_owned(), *version);
            new_versions.insert((*channel).to_owned(), *version);
        }
        cp.channel_versions = versions.clone();
        for (channel, value, _) in values {
            if !value.is_null() {
                cp.channel_values
                    .insert((*channel).to_owned(), value.clone());
            }
        }
        let metadata = CheckpointMetadata::new(CheckpointSource::Loop, step);
        saver.put(parent, &cp, &metadata, &new_versions).unwrap()
    }

    /// `step` (of `0..14`) as a count.
    fn steps_past(step: i64) -> usize {
        usize::try_from(step).expect("steps run from 0")
    }

    /// A history with deltas (snapshots every 4), a scratch object, a
    /// channel versioned without a value, plain-integer versions, a second
    /// namespace, a fork whose delta builds on a higher counter, and
    /// pending writes.
    fn fill(saver: &SqliteSaver) {
        for (thread, ns, plain) in [("a", "", false), ("a", "sub", false), ("b", "", true)] {
            let mut config = Config::thread(thread).with_ns(ns);
            let mut versions = ChannelVersions::new();
            let mut messages = Vec::new();
            let mut configs = Vec::new();
            for step in 0..14i64 {
                // Long enough that snapshots and scratch values are stored
                // in `channel_blobs` (deltas stay in their rows).
                let content = format!("{thread}{ns}{step}{}", "-".repeat(60));
                messages.push(json!({"role": "user", "content": content}));
                let next = |ch: &str, versions: &ChannelVersions| {
                    if plain {
                        ChannelVersion::new(versions.get(ch).map_or(0, ChannelVersion::counter) + 1)
                    } else {
                        ChannelVersion::next_after(versions.get(ch))
                    }
                };
                let mut values = vec![
                    (
                        "messages",
                        Value::from(messages.clone()),
                        next("messages", &versions),
                    ),
                    (
                        "scratch",
                        json!({"step": step, "x": "x".repeat(700 + steps_past(step))}),
                        next("scratch", &versions),
                    ),
                ];
                if step % 5 == 0 {
                    values.push(("empty", Value::Null, next("empty", &versions)));
                }
                config = put(saver, &config, step, &mut versions, &values);
                saver
                    .put_writes(&config, &[("messages".to_owned(), json!(step))], "task", "")
                    .unwrap();
                configs.push((config.clone(), versions.clone()));
            }
            if !plain {
                // A fork from step 6 whose value extends the latest one: a
                // delta on a version with a higher counter.
                let (parent, mut versions) = configs[6].clone();
                messages.push(json!("fork"));
                let version = ChannelVersion::next_after(versions.get("messages"));
                let values = [("messages", Value::from(messages.clone()), version)];
                put(saver, &parent, 7, &mut versions, &values);
            }
        }
    }

    /// Every checkpoint, by list and by get.
    /// The upgrade tests' history, written by this code at `source` (`fill`,
    /// snapshots every 4 versions): the options it was written with and
    /// every checkpoint read back.
    fn write_history(source: &Path) -> (SqliteOptions, Vec<CheckpointTuple>) {
        let options = SqliteOptions::new().with_snapshot_every(4);
        let saver = SqliteSaver::open_with(source, options.clone()).unwrap();
        fill(&saver);
        (options, read_all(&saver))
    }

    fn read_all(saver: &SqliteSaver) -> Vec<CheckpointTuple> {
        let listed = saver.list(None, &ListOptions::new()).unwrap();
        for tuple in &listed {
            let got = saver.get_tuple(&tuple.config).unwrap();
            assert_eq!(got.as_ref(), Some(tuple), "{:?}", tuple.config);
        }
        listed
    }

    /// Every row, long values in place of their ids.
    fn dump(conn: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        for table in [
            // Rows written before schema 3 also hold the id in the JSON.
            "(SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, \
             json_remove(checkpoint, '$.id'), metadata, step, source, run_id FROM checkpoints)",
            "writes",
            "(SELECT thread_id, checkpoint_ns, channel, seq, version, \
             coalesce(value, (SELECT value FROM channel_blobs WHERE id = blob)), \
             base, depth, len, hash FROM channel_values)",
        ] {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5"))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{:?}", unpacked(v)))
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .unwrap();
            for row in rows {
                out.push(format!("{table}: {}", row.unwrap().join(" | ")));
            }
        }
        out
    }

    /// A packed value as the text it stands for (where a value is stored
    /// depends on its packed length, so files compare by content).
    fn unpacked(value: rusqlite::types::Value) -> rusqlite::types::Value {
        match value {
            rusqlite::types::Value::Blob(b) if super::super::packed::is_packed(&b) => {
                rusqlite::types::Value::Text(super::super::packed::unpack(&b).unwrap())
            }
            other => other,
        }
    }

    /// A file at schema 2 (migrations 1 and 2 only) at `old`, filled with
    /// the rows of `source` through the columns of that layout.
    fn write_version_2_copy(old: &Path, source: &Path) {
        let mut conn = Connection::open(old).unwrap();
        prepare_with(&mut conn, old, true, &MIGRATIONS[..2]).unwrap();
        assert_eq!(version(&conn), 2);
        conn.execute("ATTACH ?1 AS source", [source.to_str().unwrap()])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, \
             parent_checkpoint_id, checkpoint, metadata, step, source, run_id) \
             SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, \
             json_set(checkpoint, '$.id', checkpoint_id), metadata, step, source, run_id \
             FROM source.checkpoints; \
             INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, \
             channel, task_path, value) SELECT thread_id, checkpoint_ns, checkpoint_id, \
             task_id, idx, channel, task_path, value FROM source.writes; \
             INSERT INTO channel_values (thread_id, checkpoint_ns, channel, version, \
             value, base, depth, len, hash) SELECT thread_id, checkpoint_ns, channel, \
             version, coalesce(value, (SELECT b.value FROM source.channel_blobs AS b \
             WHERE b.id = blob)), base, depth, len, hash FROM source.channel_values; \
             DETACH source;",
        )
        .unwrap();
        // Schema 2 knew only JSON text: unpack what this code packed.
        let packed: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT rowid, value FROM channel_values WHERE typeof(value) = 'blob'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(!packed.is_empty(), "the source has packed values");
        for (rowid, blob) in packed {
            let text = super::super::packed::unpack(&blob).unwrap();
            conn.execute(
                "UPDATE channel_values SET value = ?1 WHERE rowid = ?2",
                rusqlite::params![text, rowid],
            )
            .unwrap();
        }
        let deltas: i64 = conn
            .query_row(
                "SELECT count(*) FROM channel_values WHERE base IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(deltas > 20, "{deltas} deltas");
        let long: i64 = conn
            .query_row(
                "SELECT count(*) FROM channel_values WHERE length(value) > 640",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(long > 40, "{long} long values");
    }

    /// The migrated file holds the rows of `source`, long values moved to
    /// `channel_blobs`.
    fn check_migrated_rows(saver: &SqliteSaver, source: &Path) {
        let conn = saver.pool().get().unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let source_conn = Connection::open(source).unwrap();
        assert_eq!(dump(&conn), dump(&source_conn));
        // The forks' deltas build on higher counters (read by a
        // second range scan).
        let forward: i64 = conn
            .query_row(
                "SELECT count(*) FROM channel_values WHERE CAST(base AS INTEGER) > seq",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(forward, 2);
        // Long values moved to channel_blobs, one row each.
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(
            count("SELECT count(*) FROM channel_values WHERE length(value) > 640"),
            0
        );
        let blobs = count("SELECT count(*) FROM channel_blobs");
        assert!(blobs > 40, "{blobs} blobs");
        assert_eq!(
            count("SELECT count(DISTINCT blob) FROM channel_values"),
            blobs
        );
    }

    /// Writing on the migrated chains works too.
    fn check_write_after_migration(saver: &SqliteSaver) {
        let latest = saver.get_tuple(&Config::thread("a")).unwrap().unwrap();
        let mut versions = latest.checkpoint.channel_versions.clone();
        let Some(Value::Array(mut messages)) =
            latest.checkpoint.channel_values.get("messages").cloned()
        else {
            panic!("messages")
        };
        messages.push(json!("after"));
        let next = ChannelVersion::next_after(versions.get("messages"));
        let config = put(
            saver,
            &latest.config,
            20,
            &mut versions,
            &[("messages", Value::from(messages.clone()), next)],
        );
        let got = saver.get_tuple(&config).unwrap().unwrap();
        assert_eq!(
            got.checkpoint.channel_values["messages"],
            Value::from(messages)
        );
    }

    /// An old row whose JSON names another id is damage.
    fn check_renamed_row_is_damage(saver: &SqliteSaver, config: &Config) {
        let id = config.checkpoint_id.clone().unwrap();
        saver
            .pool()
            .get()
            .unwrap()
            .execute(
                "UPDATE checkpoints SET checkpoint = json_set(checkpoint, '$.id', 'x') \
                 WHERE checkpoint_id = ?1",
                [&id],
            )
            .unwrap();
        let err = saver.get_tuple(config).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt { what, .. } if what.contains("has id")),
            "{err:?}"
        );
    }

    #[test]
    fn a_version_2_file_upgrades_and_reads_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        // The history, written by this code.
        let source = dir.path().join("source.db");
        let (options, expected) = write_history(&source);
        assert_eq!(expected.len(), 3 * 14 + 2);
        let old = dir.path().join("v2.db");
        write_version_2_copy(&old, &source);
        // Opened by this code: migrated, every checkpoint identical.
        let saver = SqliteSaver::open_with(&old, options).unwrap();
        check_migrated_rows(&saver, &source);
        assert_eq!(read_all(&saver), expected);
        check_write_after_migration(&saver);
        check_renamed_row_is_damage(&saver, &expected[0].config);
    }

    /// A file at schema 5 (before `checkpoints` was clustered by thread
    /// and id) at `old`, holding the rows of `source`.
    fn write_version_5_copy(old: &Path, source: &Path) {
        let mut conn = Connection::open(old).unwrap();
        prepare_with(&mut conn, old, true, &MIGRATIONS[..5]).unwrap();
        assert_eq!(version(&conn), 5);
        assert!(has_table(&conn, "checkpoints_thread_idx"));
        conn.execute("ATTACH ?1 AS source", [source.to_str().unwrap()])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO checkpoints SELECT thread_id, checkpoint_ns, checkpoint_id, \
             parent_checkpoint_id, checkpoint, metadata, step, source, run_id \
             FROM source.checkpoints; \
             INSERT INTO writes SELECT * FROM source.writes; \
             INSERT INTO channel_blobs SELECT * FROM source.channel_blobs; \
             INSERT INTO channel_values SELECT * FROM source.channel_values; \
             DETACH source;",
        )
        .unwrap();
        let writes: i64 = conn
            .query_row("SELECT count(*) FROM writes", [], |r| r.get(0))
            .unwrap();
        assert!(writes > 40, "{writes} writes");
    }

    #[test]
    fn a_version_5_file_upgrades_and_reads_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source.db");
        let (options, expected) = write_history(&source);
        let old = dir.path().join("v5.db");
        write_version_5_copy(&old, &source);
        let saver = SqliteSaver::open_with(&old, options).unwrap();
        let conn = saver.pool().get().unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        assert_eq!(dump(&conn), dump(&Connection::open(&source).unwrap()));
        // The old key's autoindex and the thread index are gone.
        assert!(!has_table(&conn, "checkpoints_thread_idx"));
        assert!(!has_table(&conn, "checkpoints_v6"));
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'checkpoints' \
                 AND type = 'index'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 4);
        assert_eq!(read_all(&saver), expected);
        // Foreign keys are on again, and deleting a checkpoint still
        // deletes its writes.
        let on: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(on);
        let latest = expected[0].config.clone();
        let id = latest.checkpoint_id.clone().unwrap();
        let ns = latest.checkpoint_ns.clone().unwrap_or_default();
        let writes_of = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM writes WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
                 AND checkpoint_id = ?3",
                [&latest.thread_id, &ns, &id],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert!(writes_of(&conn) > 0);
        conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = ?1 AND checkpoint_ns = ?2 \
             AND checkpoint_id = ?3",
            [&latest.thread_id, &ns, &id],
        )
        .unwrap();
        assert_eq!(writes_of(&conn), 0);
        let orphan = conn.execute(
            "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, \
             channel, value) VALUES ('nobody', '', 'x', 't', 0, 'c', '1')",
            [],
        );
        assert!(orphan.is_err(), "{orphan:?}");
        drop(conn);
        check_write_after_migration(&saver);
    }

    #[test]
    fn a_migration_that_breaks_a_foreign_key_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fk.db");
        {
            let saver = SqliteSaver::open(&path).unwrap();
            fill(&saver);
        }
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        let mut broken: Vec<&str> = MIGRATIONS.to_vec();
        broken.push("DELETE FROM checkpoints WHERE thread_id = 'b';");
        let err = prepare_with(&mut conn, &path, true, &broken).unwrap_err();
        assert!(
            matches!(&err, Error::CheckFailed { problems, .. }
                if problems.iter().all(|p| p.contains("of writes"))),
            "{err:?}"
        );
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let on: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(on, "foreign keys are restored after a failed migration");
        let threads: i64 = conn
            .query_row(
                "SELECT count(*) FROM checkpoints WHERE thread_id = 'b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(threads, 14);
    }

    #[test]
    fn a_current_file_opened_again_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            let saver = SqliteSaver::open(&path).unwrap();
            fill(&saver);
        }
        let before = std::fs::read(&path).unwrap();
        let expected = {
            let saver = SqliteSaver::open(&path).unwrap();
            let conn = saver.pool().get().unwrap();
            assert_eq!(version(&conn), SCHEMA_VERSION);
            drop(conn);
            read_all(&saver)
        };
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let saver = SqliteSaver::open(&path).unwrap();
        assert_eq!(read_all(&saver), expected);
    }
}
