//! [`ThreadLeases`] for [`SqliteSaver`]: the `thread_leases` table
//! (migration 4). Expiry is judged by the local clock of the process that
//! calls, in Unix milliseconds; processes sharing a file share a machine,
//! hence a clock. Lease calls run in their own `BEGIN IMMEDIATE`
//! transaction; writes check the token with [`check`] inside theirs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{SqliteSaver, sql_context};
use crate::saver::error::{Error, Result};
use crate::saver::lease::{Lease, ThreadLeases, check_own, check_write, next_lease};

const SELECT_LEASE: &str =
    "SELECT owner, token, expires_ms FROM thread_leases WHERE thread_id = ?1";
const UPSERT_LEASE: &str = "INSERT INTO thread_leases (thread_id, owner, token, expires_ms) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (thread_id) DO UPDATE SET \
     owner = excluded.owner, token = excluded.token, expires_ms = excluded.expires_ms";

/// Unix milliseconds of `t` (saturating).
fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The lease row of `thread_id`, live or not.
fn row(tx: &Connection, thread_id: &str) -> Result<Option<Lease>> {
    let raw = tx
        .prepare_cached(SELECT_LEASE)
        .and_then(|mut s| {
            s.query_row([thread_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()
        })
        .map_err(sql_context(|| {
            format!("read of the lease of thread {thread_id:?}")
        }))?;
    raw.map(|(owner, token, expires_ms)| {
        let token = u64::try_from(token).map_err(|_| Error::Corrupt {
            thread_id: thread_id.to_owned(),
            checkpoint_id: String::new(),
            what: format!("lease token {token} is negative"),
        })?;
        Ok(Lease {
            thread_id: thread_id.to_owned(),
            owner,
            token,
            expires: from_ms(expires_ms),
        })
    })
    .transpose()
}

/// Refuses a write to `thread_id` that does not carry the token of its
/// live lease; run inside the write's transaction.
pub(super) fn check(tx: &Connection, thread_id: &str, token: Option<u64>) -> Result<()> {
    check_write(thread_id, row(tx, thread_id)?.as_ref(), now(), token)
}

/// The local clock, at the precision stored.
fn now() -> SystemTime {
    from_ms(to_ms(SystemTime::now()))
}

fn store(tx: &Connection, lease: &Lease) -> Result<()> {
    let token = i64::try_from(lease.token).unwrap_or(i64::MAX);
    tx.prepare_cached(UPSERT_LEASE)
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                lease.thread_id,
                lease.owner,
                token,
                to_ms(lease.expires)
            ])
        })
        .map_err(sql_context(|| {
            format!("write of the lease of thread {:?}", lease.thread_id)
        }))?;
    Ok(())
}

impl SqliteSaver {
    /// Runs `f` on the lease row of `thread_id` in one `BEGIN IMMEDIATE`
    /// transaction; the lease `f` returns, if any, is stored.
    fn with_lease<T>(
        &self,
        thread_id: &str,
        f: impl FnOnce(Option<&Lease>, SystemTime) -> Result<(Option<Lease>, T)>,
    ) -> Result<T> {
        let what = || format!("lease of thread {thread_id:?}");
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_context(what))?;
        let (lease, out) = f(row(&tx, thread_id)?.as_ref(), now())?;
        if let Some(lease) = lease {
            store(&tx, &lease)?;
        }
        tx.commit().map_err(sql_context(what))?;
        Ok(out)
    }
}

impl ThreadLeases for SqliteSaver {
    fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        self.with_lease(thread_id, |row, now| {
            let lease = next_lease(thread_id, owner, ttl, row, now)?;
            Ok((Some(lease.clone()), lease))
        })
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        self.with_lease(&lease.thread_id, |row, now| {
            check_own(lease, row, now, false)?;
            let renewed = Lease {
                expires: from_ms(to_ms(now.checked_add(ttl).unwrap_or(now))),
                ..lease.clone()
            };
            Ok((Some(renewed.clone()), renewed))
        })
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        self.with_lease(&lease.thread_id, |row, now| {
            check_own(lease, row, now, true)?;
            // The row stays, expired, so that the next token is greater.
            let released = Lease {
                expires: UNIX_EPOCH,
                ..lease.clone()
            };
            Ok((Some(released), ()))
        })
    }

    fn current(&self, thread_id: &str) -> Result<Option<Lease>> {
        let conn = self.conn()?;
        let now = now();
        Ok(row(&conn, thread_id)?.filter(|l| l.is_live_at(now)))
    }

    crate::saver::lease::fenced_calls!();
}
