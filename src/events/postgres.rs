//! The PostgreSQL event log.

use super::error::{EventError, EventResult};
use super::event::{Event, unix_now};
use super::log::{EventLog, check_event, check_run_id, duplicate};
use super::pyjson;
use super::state::RunState;
use crate::saver::{PostgresOptions, PostgresPool, off_runtime, postgres_pool, redact_url};

const BACKEND: &str = "postgres";

/// The tables, made under an advisory lock (concurrent `CREATE TABLE IF
/// NOT EXISTS` can collide in PostgreSQL).
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7314159265358979);
CREATE TABLE IF NOT EXISTS checkpointer_events (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    lane_id TEXT NOT NULL DEFAULT 'main',
    data TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL DEFAULT extract(epoch from now()),
    UNIQUE (run_id, lane_id, seq)
);
CREATE INDEX IF NOT EXISTS checkpointer_events_run_seq ON checkpointer_events (run_id, seq);
CREATE SEQUENCE IF NOT EXISTS checkpointer_event_snapshot_order;
CREATE TABLE IF NOT EXISTS checkpointer_event_snapshots (
    run_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    saved_order BIGINT NOT NULL
);
";

/// An [`EventLog`] in a PostgreSQL database, in tables of its own
/// (`checkpointer_events` with a unique `(run_id, lane_id, seq)`, and
/// `checkpointer_event_snapshots`), so it can share a database with a
/// [`PostgresSaver`](crate::PostgresSaver). Rows hold the same JSON text
/// as purpose-agent's SQLite tables. `list_runs` orders by a sequence, so
/// two snapshots in the same instant still come in the order they were
/// saved.
pub struct PostgresEventLog {
    pool: Option<PostgresPool>,
    name: String,
}

impl std::fmt::Debug for PostgresEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresEventLog")
            .field("database", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresEventLog {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

impl PostgresEventLog {
    /// Connects to `url` and makes the tables if missing.
    pub fn open(url: &str) -> EventResult<Self> {
        let name = redact_url(url);
        let pool = off_runtime(|| postgres_pool(url, PostgresOptions::new()))
            .map_err(|e| EventError::backend(BACKEND, format!("connect to {name}"), e))?;
        let log = PostgresEventLog {
            pool: Some(pool),
            name,
        };
        log.with_client("make the event log tables", |c| {
            let mut tx = c.transaction()?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        Ok(log)
    }

    /// Runs `f` on a pooled connection, off any tokio worker.
    fn with_client<T: Send>(
        &self,
        what: &str,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send,
    ) -> EventResult<T> {
        let context = || format!("{what} ({})", self.name);
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| EventError::backend(BACKEND, context(), "the log is being dropped"))?;
        off_runtime(|| {
            let mut conn = pool
                .get()
                .map_err(|e| EventError::backend(BACKEND, context(), e))?;
            f(&mut conn).map_err(|e| EventError::backend(BACKEND, context(), e))
        })
    }
}

fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn corrupt(run_id: &str, location: String, e: &serde_json::Error) -> EventError {
    EventError::Corrupt {
        run_id: run_id.to_owned(),
        location,
        reason: e.to_string(),
    }
}

impl EventLog for PostgresEventLog {
    fn save_event(&self, event: &Event) -> EventResult<()> {
        check_event(event)?;
        let what = format!("save event seq {} of run {:?}", event.seq, event.run_id);
        let data =
            pyjson::to_line(event).map_err(|e| EventError::backend(BACKEND, what.clone(), e))?;
        let inserted = self.with_client(&what, |c| {
            c.execute(
                "INSERT INTO checkpointer_events (run_id, seq, ts, kind, lane_id, data) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, lane_id, seq) DO NOTHING",
                &[
                    &event.run_id,
                    &to_i64(event.seq),
                    &event.ts,
                    &event.kind.as_str(),
                    &event.lane_id,
                    &data,
                ],
            )
        })?;
        if inserted == 0 {
            return Err(duplicate(event));
        }
        Ok(())
    }

    fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>> {
        check_run_id("list_events", run_id)?;
        let rows = self.with_client(&format!("list events of run {run_id:?}"), |c| {
            c.query(
                "SELECT id, data FROM checkpointer_events WHERE run_id = $1 AND seq > $2 ORDER BY seq, id",
                &[&run_id, &to_i64(since_seq)],
            )
        })?;
        rows.iter()
            .map(|row| {
                let (id, data): (i64, String) = (row.get(0), row.get(1));
                serde_json::from_str(&data)
                    .map_err(|e| corrupt(run_id, format!("table checkpointer_events, id {id}"), &e))
            })
            .collect()
    }

    fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()> {
        check_run_id("save_snapshot", run_id)?;
        let what = format!("save the snapshot of run {run_id:?}");
        let data =
            pyjson::to_line(state).map_err(|e| EventError::backend(BACKEND, what.clone(), e))?;
        self.with_client(&what, |c| {
            c.execute(
                "INSERT INTO checkpointer_event_snapshots (run_id, state, updated_at, saved_order) \
                 VALUES ($1, $2, $3, nextval('checkpointer_event_snapshot_order')) \
                 ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, \
                 updated_at = excluded.updated_at, saved_order = excluded.saved_order",
                &[&run_id, &data, &unix_now()],
            )
        })?;
        Ok(())
    }

    fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>> {
        check_run_id("load_latest", run_id)?;
        let row = self.with_client(&format!("load the snapshot of run {run_id:?}"), |c| {
            c.query_opt(
                "SELECT state FROM checkpointer_event_snapshots WHERE run_id = $1",
                &[&run_id],
            )
        })?;
        row.map(|row| {
            let text: String = row.get(0);
            serde_json::from_str(&text)
                .map_err(|e| corrupt(run_id, "table checkpointer_event_snapshots".to_owned(), &e))
        })
        .transpose()
    }

    fn delete_run(&self, run_id: &str) -> EventResult<()> {
        check_run_id("delete_run", run_id)?;
        self.with_client(&format!("delete run {run_id:?}"), |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "DELETE FROM checkpointer_events WHERE run_id = $1",
                &[&run_id],
            )?;
            tx.execute(
                "DELETE FROM checkpointer_event_snapshots WHERE run_id = $1",
                &[&run_id],
            )?;
            tx.commit()
        })
    }

    fn list_runs(&self) -> EventResult<Vec<String>> {
        let rows = self.with_client("list runs", |c| {
            c.query(
                "SELECT run_id FROM checkpointer_event_snapshots ORDER BY saved_order DESC",
                &[],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn last_seq(&self, run_id: &str, lane_id: &str) -> EventResult<u64> {
        check_run_id("last_seq", run_id)?;
        let row = self.with_client(&format!("last seq of run {run_id:?}"), |c| {
            c.query_one(
                "SELECT max(seq) FROM checkpointer_events WHERE run_id = $1 AND lane_id = $2",
                &[&run_id, &lane_id],
            )
        })?;
        let seq: Option<i64> = row.get(0);
        Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
    }
}
