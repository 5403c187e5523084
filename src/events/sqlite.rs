//! The SQLite event log: purpose-agent's `SQLiteCheckpointer` tables.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::error::{EventError, EventResult};
use super::event::{Event, unix_now};
use super::log::{EventLog, check_event, check_run_id, duplicate};
use super::pyjson;
use super::state::RunState;

const BACKEND: &str = "sqlite";

/// purpose-agent's schema, then this crate's additions: the unique
/// `(run_id, lane_id, seq)` index.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    lane_id TEXT DEFAULT 'main',
    data TEXT NOT NULL,
    created_at REAL DEFAULT (strftime('%s','now'))
);
CREATE TABLE IF NOT EXISTS snapshots (
    run_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL DEFAULT (strftime('%s','now'))
);
CREATE INDEX IF NOT EXISTS idx_events_run ON events(run_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS idx_events_run_lane_seq ON events(run_id, lane_id, seq);
";

/// How long a call waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn sql(operation: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> EventError {
    move |source| EventError::backend(BACKEND, operation, source)
}

/// An [`EventLog`] in a SQLite file, in purpose-agent's tables (`events`,
/// `snapshots`, index `idx_events_run`), so that purpose-agent's
/// `SQLiteCheckpointer(PATH)` and this log read each other's runs.
///
/// Beyond purpose-agent: the file is in WAL mode with `synchronous=FULL`
/// (readers never wait for the writer, and an event that was saved is on
/// disk), each write is a `BEGIN IMMEDIATE` transaction, and a unique
/// index on `(run_id, lane_id, seq)` refuses a second event with the same
/// numbers, from this crate or from Python. Opening a file whose events
/// already repeat a number fails, naming the run, lane and seq.
///
/// The tables have names of their own, so the log can share a file with a
/// [`SqliteSaver`](crate::SqliteSaver): open the saver first (it refuses
/// a file that has tables but not its own), then the log.
#[derive(Debug)]
pub struct SqliteEventLog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteEventLog {
    /// Opens (creating if missing) the log in the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> EventResult<Self> {
        let path = path.as_ref().to_owned();
        let at = || format!("open {}", path.display());
        let conn = Connection::open(&path).map_err(sql(at()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql(at()))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(sql(at()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(EventError::backend(
                BACKEND,
                at(),
                format!("the file stayed in journal mode {mode:?}, not WAL"),
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql(at()))?;
        if let Err(e) = conn.execute_batch(SCHEMA) {
            return Err(repeated_numbers(&conn).unwrap_or_else(|| sql(at())(e)));
        }
        Ok(SqliteEventLog {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A rusqlite connection stays usable after a panic elsewhere.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When the unique index could not be made: the first repeated number.
fn repeated_numbers(conn: &Connection) -> Option<EventError> {
    conn.query_row(
        "SELECT run_id, lane_id, seq FROM events GROUP BY run_id, lane_id, seq HAVING count(*) > 1 LIMIT 1",
        [],
        |r| {
            Ok(EventError::Corrupt {
                run_id: r.get(0)?,
                location: format!("table events, lane {:?}", r.get::<_, Option<String>>(1)?),
                reason: format!(
                    "seq {} occurs more than once, so the unique (run_id, lane_id, seq) index cannot be made",
                    r.get::<_, i64>(2)?
                ),
            })
        },
    )
    .optional()
    .ok()
    .flatten()
}

fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl EventLog for SqliteEventLog {
    fn save_event(&self, event: &Event) -> EventResult<()> {
        check_event(event)?;
        let what = || format!("save event seq {} of run {:?}", event.seq, event.run_id);
        let data = pyjson::to_line(event).map_err(|e| EventError::backend(BACKEND, what(), e))?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(what()))?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO events (run_id, seq, ts, kind, lane_id, data) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    event.run_id,
                    to_i64(event.seq),
                    event.ts,
                    event.kind.as_str(),
                    event.lane_id,
                    data
                ])
            });
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(duplicate(event)),
            Err(e) => Err(sql(what())(e)),
            Ok(_) => tx.commit().map_err(sql(what())),
        }
    }

    fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>> {
        check_run_id("list_events", run_id)?;
        let what = || format!("list events of run {run_id:?}");
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT id, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq, id",
            )
            .map_err(sql(what()))?;
        let rows = st
            .query_map(params![run_id, to_i64(since_seq)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(sql(what()))?;
        rows.into_iter()
            .map(|(id, data)| {
                serde_json::from_str(&data).map_err(|e| EventError::Corrupt {
                    run_id: run_id.to_owned(),
                    location: format!("{} table events, id {id}", self.path.display()),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()> {
        check_run_id("save_snapshot", run_id)?;
        let what = || format!("save the snapshot of run {run_id:?}");
        let data = pyjson::to_line(state).map_err(|e| EventError::backend(BACKEND, what(), e))?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(what()))?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (run_id, state, updated_at) VALUES (?, ?, ?)",
            params![run_id, data, unix_now()],
        )
        .map_err(sql(what()))?;
        tx.commit().map_err(sql(what()))
    }

    fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>> {
        check_run_id("load_latest", run_id)?;
        let what = || format!("load the snapshot of run {run_id:?}");
        let state: Option<String> = self
            .conn()
            .query_row(
                "SELECT state FROM snapshots WHERE run_id = ?",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql(what()))?;
        state
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| EventError::Corrupt {
                    run_id: run_id.to_owned(),
                    location: format!("{} table snapshots", self.path.display()),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    fn delete_run(&self, run_id: &str) -> EventResult<()> {
        check_run_id("delete_run", run_id)?;
        let what = || format!("delete run {run_id:?}");
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(what()))?;
        tx.execute("DELETE FROM events WHERE run_id = ?", [run_id])
            .and_then(|_| tx.execute("DELETE FROM snapshots WHERE run_id = ?", [run_id]))
            .map_err(sql(what()))?;
        tx.commit().map_err(sql(what()))
    }

    fn list_runs(&self) -> EventResult<Vec<String>> {
        let conn = self.conn();
        // A replaced snapshot gets a new rowid: ties of the clock go to
        // the later save.
        let mut st = conn
            .prepare_cached("SELECT run_id FROM snapshots ORDER BY updated_at DESC, rowid DESC")
            .map_err(sql("list runs"))?;
        st.query_map([], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(sql("list runs"))
    }

    fn last_seq(&self, run_id: &str, lane_id: &str) -> EventResult<u64> {
        check_run_id("last_seq", run_id)?;
        let seq: Option<i64> = self
            .conn()
            .query_row(
                "SELECT max(seq) FROM events WHERE run_id = ? AND lane_id = ?",
                [run_id, lane_id],
                |r| r.get(0),
            )
            .map_err(sql(format!("last seq of run {run_id:?}, lane {lane_id:?}")))?;
        Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
    }
}
