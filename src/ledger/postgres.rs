//! The PostgreSQL step ledger: mooncat's table, on a server.

use postgres::Transaction;

use crate::saver::{
    PostgresOptions, PostgresPool, PostgresPooledClient, off_runtime, postgres_pool,
};

use super::columns::{COLUMNS, Row, about, result_column};
use super::machine::{Outcome, ledger_transitions};
use super::{
    LedgerError, LedgerResult, StepLedger, StepRecord, StepStatus, check_namespace, storage_key,
};

/// mooncat's table with PostgreSQL types (`BIGINT` for epoch ms), named
/// `mooncat_checkpoints`: LangGraph's schema, which `PostgresSaver`
/// keeps in the same databases, already has a `checkpoints` table.
const INIT_SQL: &str = "
SELECT pg_advisory_xact_lock(7020584353112680302);
CREATE TABLE IF NOT EXISTS mooncat_checkpoints (
    namespace     TEXT    NOT NULL,
    storage_key   TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    owner_run_id  TEXT,
    lease_token   TEXT,
    lease_until   BIGINT,
    result        TEXT,
    result_ref    TEXT,
    error         TEXT,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (namespace, storage_key)
);
";

/// One step's row (read by `get`, and by every transition in its
/// transaction).
static SELECT_STEP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM mooncat_checkpoints WHERE namespace = $1 AND storage_key = $2")
});

/// The server's clock, in epoch ms.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const UPSERT: &str = "INSERT INTO mooncat_checkpoints (namespace, storage_key, key, status, \
     owner_run_id, lease_token, lease_until, result, result_ref, error, attempts, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (namespace, storage_key) DO UPDATE SET status = excluded.status, \
     owner_run_id = excluded.owner_run_id, lease_token = excluded.lease_token, \
     lease_until = excluded.lease_until, result = excluded.result, \
     result_ref = excluded.result_ref, error = excluded.error, attempts = excluded.attempts, \
     created_at = excluded.created_at, updated_at = excluded.updated_at";

/// A step ledger in PostgreSQL (`postgres://…`, feature `postgres`):
/// mooncat's columns in the table `mooncat_checkpoints` (created on
/// connect), for workers on many hosts.
///
/// Each transition is one transaction that first takes a transaction
/// advisory lock on its step (so concurrent claims of one step queue, and
/// exactly one wins), then reads, decides and writes. Leases are judged
/// by the server's clock (`clock_timestamp()`), one clock for every
/// worker.
///
/// Like [`PostgresSaver`](crate::PostgresSaver), it may be called from
/// inside a tokio runtime: the blocking driver then runs off the runtime's
/// worker.
#[derive(Debug)]
pub struct PostgresLedger {
    /// `None` only while dropping.
    pool: Option<PostgresPool>,
}

impl Drop for PostgresLedger {
    fn drop(&mut self) {
        // Closing the connections blocks too.
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

fn db_err(operation: impl Into<String>) -> impl FnOnce(postgres::Error) -> LedgerError {
    let operation = operation.into();
    move |e| LedgerError::backend("postgres", operation, e)
}

fn row(r: &postgres::Row) -> Row {
    Row {
        namespace: r.get(0),
        key: r.get(1),
        status: r.get(2),
        owner_run_id: r.get(3),
        lease_token: r.get(4),
        lease_until: r.get(5),
        result: r.get(6),
        result_ref: r.get(7),
        error: r.get(8),
        attempts: r.get(9),
        created_at: r.get(10),
        updated_at: r.get(11),
    }
}

impl PostgresLedger {
    /// Connects (a pool of up to 4 connections) and creates the table if
    /// missing.
    pub fn connect(url: &str) -> LedgerResult<Self> {
        // The saver's pool: its timeouts, and the URL's password kept out
        // of errors.
        let pool = off_runtime(|| postgres_pool(url, PostgresOptions::new().with_pool_size(4)))
            .map_err(|e| LedgerError::backend("postgres", "connect", e))?;
        let ledger = PostgresLedger { pool: Some(pool) };
        off_runtime(|| {
            let mut conn = ledger.conn("create the table")?;
            let mut tx = conn.transaction().map_err(db_err("create the table"))?;
            tx.batch_execute(INIT_SQL)
                .map_err(db_err("create the table"))?;
            tx.commit().map_err(db_err("create the table"))
        })?;
        Ok(ledger)
    }

    fn conn(&self, operation: &str) -> LedgerResult<PostgresPooledClient> {
        let backend = |e| LedgerError::backend("postgres", operation.to_owned(), e);
        match &self.pool {
            Some(pool) => pool.get().map_err(backend),
            None => Err(LedgerError::backend(
                "postgres",
                operation.to_owned(),
                std::io::Error::other("the ledger is closed"),
            )),
        }
    }

    fn update<T>(
        &self,
        operation: &'static str,
        ns: &str,
        key: &str,
        change: impl FnOnce(Option<StepRecord>, i64) -> LedgerResult<Outcome<T>> + Send,
    ) -> LedgerResult<T>
    where
        T: Send,
    {
        off_runtime(|| self.update_here(operation, ns, key, change))
    }

    fn update_here<T>(
        &self,
        operation: &'static str,
        ns: &str,
        key: &str,
        change: impl FnOnce(Option<StepRecord>, i64) -> LedgerResult<Outcome<T>>,
    ) -> LedgerResult<T> {
        let at = about(operation, ns, key);
        let sk = storage_key(key);
        let mut conn = self.conn(&at)?;
        let mut tx = conn.transaction().map_err(db_err(at.as_str()))?;
        let now: i64 = tx
            .query_one(
                &format!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0)), {NOW_MS}"),
                &[&format!("{ns}/{sk}")],
            )
            .map_err(db_err(at.as_str()))?
            .get(1);
        let old = read(&mut tx, ns, &sk).map_err(db_err(at.as_str()))?;
        let (out, write) = change(old.map(Row::into_record).transpose()?, now)?;
        if let Some(r) = write {
            let result = result_column(&r);
            tx.execute(
                UPSERT,
                &[
                    &r.namespace,
                    &sk,
                    &r.key,
                    &r.status.as_str(),
                    &r.owner_run_id,
                    &r.lease_token,
                    &r.lease_until,
                    &result,
                    &r.result_ref,
                    &r.error,
                    &r.attempts,
                    &r.created_at,
                    &r.updated_at,
                ],
            )
            .map_err(db_err(at.as_str()))?;
        }
        tx.commit().map_err(db_err(at))?;
        Ok(out)
    }
}

fn read(tx: &mut Transaction<'_>, ns: &str, sk: &str) -> Result<Option<Row>, postgres::Error> {
    let found = tx.query_opt(SELECT_STEP.as_str(), &[&ns, &sk])?;
    Ok(found.as_ref().map(row))
}

impl StepLedger for PostgresLedger {
    ledger_transitions!();

    fn get(&self, ns: &str, key: &str) -> LedgerResult<Option<StepRecord>> {
        check_namespace("get", ns)?;
        let at = about("get", ns, key);
        off_runtime(|| {
            let found = self
                .conn(&at)?
                .query_opt(SELECT_STEP.as_str(), &[&ns, &storage_key(key)])
                .map_err(db_err(at.as_str()))?;
            found.as_ref().map(row).map(Row::into_record).transpose()
        })
    }

    fn reset(&self, ns: &str, key: &str) -> LedgerResult<bool> {
        check_namespace("reset", ns)?;
        let at = about("reset", ns, key);
        let n = off_runtime(|| {
            self.conn(&at)?
                .execute(
                    "DELETE FROM mooncat_checkpoints WHERE namespace = $1 AND storage_key = $2",
                    &[&ns, &storage_key(key)],
                )
                .map_err(db_err(at.as_str()))
        })?;
        Ok(n > 0)
    }

    fn list(&self, ns: &str, status: Option<StepStatus>) -> LedgerResult<Vec<StepRecord>> {
        check_namespace("list", ns)?;
        let at = format!("list of namespace {ns}");
        let status = status.map(StepStatus::as_str);
        let rows = off_runtime(|| {
            self.conn(&at)?
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM mooncat_checkpoints WHERE namespace = $1 \
                         AND ($2::text IS NULL OR status = $2) \
                         ORDER BY updated_at DESC, key COLLATE \"C\""
                    ),
                    &[&ns, &status],
                )
                .map_err(db_err(at.as_str()))
        })?;
        rows.iter().map(|r| row(r).into_record()).collect()
    }

    fn gc(&self, older_than_ms: u64) -> LedgerResult<usize> {
        let older = i64::try_from(older_than_ms).unwrap_or(i64::MAX);
        let n = off_runtime(|| {
            self.conn("gc")?
                .execute(
                    &format!(
                        "DELETE FROM mooncat_checkpoints WHERE status = 'claimed' \
                         AND lease_until < {NOW_MS} - $1"
                    ),
                    &[&older],
                )
                .map_err(db_err("gc"))
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
