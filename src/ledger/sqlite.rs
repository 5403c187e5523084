//! The SQLite step ledger: mooncat's `checkpoints` table.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::columns::{COLUMNS, Row, about, result_column};
use super::machine::{self, Outcome, ledger_transitions};
use super::{
    LedgerError, LedgerResult, StepLedger, StepRecord, StepStatus, check_namespace, now_ms,
    storage_key,
};

/// mooncat-checkpoint 0.1.0's schema, text for text (SQLite keeps the
/// text of a `CREATE`, so a file made by either reads the same).
const INIT_SQL: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    namespace     TEXT    NOT NULL,
    storage_key   TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    owner_run_id  TEXT,
    lease_token   TEXT,
    lease_until   INTEGER,
    result        TEXT,
    result_ref    TEXT,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (namespace, storage_key)
)
";

/// Writes a whole record; `key` stays the first writer's, as mooncat's
/// re-claim leaves it.
const UPSERT: &str = "INSERT INTO checkpoints (namespace, storage_key, key, status, owner_run_id, \
     lease_token, lease_until, result, result_ref, error, attempts, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
     ON CONFLICT (namespace, storage_key) DO UPDATE SET status = excluded.status, \
     owner_run_id = excluded.owner_run_id, lease_token = excluded.lease_token, \
     lease_until = excluded.lease_until, result = excluded.result, \
     result_ref = excluded.result_ref, error = excluded.error, attempts = excluded.attempts, \
     created_at = excluded.created_at, updated_at = excluded.updated_at";

/// How long a call waits for another connection's write (Python's
/// `sqlite3` default).
pub const SQLITE_LEDGER_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A step ledger in a SQLite file (`sqlite://PATH`), in mooncat's table,
/// shared with Python's `SqliteBackend` and other processes.
///
/// The file is in WAL mode; `claim`, `touch`, `done` and `fail` each run
/// in one `BEGIN IMMEDIATE` transaction (the write lock first, so two
/// processes never both decide on a stale read); a call waits up to
/// [`SQLITE_LEDGER_BUSY_TIMEOUT`] for another process's transaction.
/// Unlike mooncat 0.1.0, `list` with a status works.
///
/// ```
/// use checkpointer::ledger::{ClaimOptions, SqliteLedger, StepLedger};
///
/// let dir = tempfile::tempdir()?;
/// let ledger = SqliteLedger::open(dir.path().join("steps.db"))?;
/// let claim = ledger.claim("vision", "img-1", &ClaimOptions::new())?;
/// assert_eq!(claim.kind(), "claimed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SqliteLedger {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn db_err(operation: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> LedgerError {
    let operation = operation.into();
    move |e| LedgerError::backend("sqlite", operation, e)
}

impl SqliteLedger {
    /// Opens (or creates) the ledger at `path`: WAL mode and mooncat's
    /// table.
    pub fn open(path: impl AsRef<Path>) -> LedgerResult<Self> {
        let path = path.as_ref().to_owned();
        let at = format!("open {}", path.display());
        let conn = Connection::open(&path).map_err(db_err(at.as_str()))?;
        conn.busy_timeout(SQLITE_LEDGER_BUSY_TIMEOUT)
            .map_err(db_err(at.as_str()))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_err(at.as_str()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::backend(
                "sqlite",
                at,
                format!("the file stays in journal mode {mode:?}, not WAL"),
            ));
        }
        conn.execute_batch(INIT_SQL).map_err(db_err(at.as_str()))?;
        Ok(SqliteLedger {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-call drops its transaction, which rolls back.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<T>(
        &self,
        operation: &'static str,
        ns: &str,
        key: &str,
        change: impl FnOnce(Option<StepRecord>, i64) -> LedgerResult<Outcome<T>>,
    ) -> LedgerResult<T> {
        let at = about(operation, ns, key);
        let sk = storage_key(key);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err(at.as_str()))?;
        let old = read(&tx, ns, &sk).map_err(db_err(at.as_str()))?;
        let old = old.map(Row::into_record).transpose()?;
        let (out, write) = change(old, now_ms())?;
        if let Some(r) = write {
            tx.prepare_cached(UPSERT)
                .and_then(|mut s| {
                    s.execute(params![
                        r.namespace,
                        sk,
                        r.key,
                        r.status.as_str(),
                        r.owner_run_id,
                        r.lease_token,
                        r.lease_until,
                        result_column(&r),
                        r.result_ref,
                        r.error,
                        r.attempts,
                        r.created_at,
                        r.updated_at
                    ])
                })
                .map_err(db_err(at.as_str()))?;
        }
        tx.commit().map_err(db_err(at))?;
        Ok(out)
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        namespace: r.get(0)?,
        key: r.get(1)?,
        status: r.get(2)?,
        owner_run_id: r.get(3)?,
        lease_token: r.get(4)?,
        lease_until: r.get(5)?,
        result: r.get(6)?,
        result_ref: r.get(7)?,
        error: r.get(8)?,
        attempts: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

fn read(conn: &Connection, ns: &str, sk: &str) -> rusqlite::Result<Option<Row>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM checkpoints WHERE namespace = ?1 AND storage_key = ?2"
    ))?
    .query_row(params![ns, sk], row)
    .optional()
}

impl StepLedger for SqliteLedger {
    ledger_transitions!();

    fn get(&self, ns: &str, key: &str) -> LedgerResult<Option<StepRecord>> {
        check_namespace("get", ns)?;
        let found =
            read(&self.conn(), ns, &storage_key(key)).map_err(db_err(about("get", ns, key)))?;
        found.map(Row::into_record).transpose()
    }

    fn reset(&self, ns: &str, key: &str) -> LedgerResult<bool> {
        check_namespace("reset", ns)?;
        let n = self
            .conn()
            .prepare_cached("DELETE FROM checkpoints WHERE namespace = ?1 AND storage_key = ?2")
            .and_then(|mut s| s.execute(params![ns, storage_key(key)]))
            .map_err(db_err(about("reset", ns, key)))?;
        Ok(n > 0)
    }

    fn list(&self, ns: &str, status: Option<StepStatus>) -> LedgerResult<Vec<StepRecord>> {
        check_namespace("list", ns)?;
        let at = format!("list of namespace {ns}");
        let conn = self.conn();
        let rows: Vec<Row> = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM checkpoints WHERE namespace = ?1 \
                 AND (?2 IS NULL OR status = ?2) ORDER BY updated_at DESC, key"
            ))
            .and_then(|mut s| {
                s.query_map(params![ns, status.map(StepStatus::as_str)], row)?
                    .collect()
            })
            .map_err(db_err(at))?;
        drop(conn);
        rows.into_iter().map(Row::into_record).collect()
    }

    fn gc(&self, older_than_ms: u64) -> LedgerResult<usize> {
        let cutoff = machine::gc_cutoff(now_ms(), older_than_ms);
        self.conn()
            .prepare_cached("DELETE FROM checkpoints WHERE status = 'claimed' AND lease_until < ?1")
            .and_then(|mut s| s.execute(params![cutoff]))
            .map_err(db_err("gc"))
    }
}
