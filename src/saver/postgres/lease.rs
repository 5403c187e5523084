//! [`ThreadLeases`] for [`PostgresSaver`]: a table of our own,
//! `checkpointer_leases`, beside LangGraph's (created with `IF NOT EXISTS`
//! at open; LangGraph's `checkpoint_migrations` is not touched). Expiry
//! is judged by the server's clock (`now()`), so every worker agrees.
//! Writes lock the lease row `FOR SHARE` in their transaction, so a lease
//! cannot change hands between the check and the commit.

use std::time::{Duration, SystemTime};

use postgres::GenericClient;

use super::{PostgresSaver, pg_error};
use crate::saver::error::{Error, Result};
use crate::saver::lease::{Lease, ThreadLeases, check_own, check_row};

/// Creates the lease table if missing (idempotent); run under the setup
/// lock, after LangGraph's migrations.
pub(super) fn setup(conn: &mut postgres::Client, name: &str) -> Result<()> {
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS checkpointer_leases (
            thread_id TEXT PRIMARY KEY,
            owner     TEXT NOT NULL,
            token     BIGINT NOT NULL,
            expires   TIMESTAMPTZ NOT NULL
        )",
    )
    .map_err(pg_error(|| format!("create the lease table on {name}")))
}

/// Refuses a write to `thread_id` that does not carry the token of its
/// live lease, or carries a token older than its newest lease's; run
/// inside the write's transaction.
pub(super) fn check(
    tx: &mut impl GenericClient,
    thread_id: &str,
    token: Option<u64>,
) -> Result<()> {
    let row = tx
        .query_opt(
            "SELECT owner, token, expires > now() FROM checkpointer_leases \
             WHERE thread_id = $1 FOR SHARE",
            &[&thread_id],
        )
        .map_err(pg_error(|| {
            format!("check the lease of thread {thread_id:?}")
        }))?;
    let newest = row
        .map(|r| {
            let token = token_of(thread_id, r.get(1))?;
            Ok::<_, Error>((r.get::<_, String>(0), token, r.get::<_, bool>(2)))
        })
        .transpose()?;
    check_row(
        thread_id,
        newest.as_ref().map(|(o, t, live)| (o.as_str(), *t, *live)),
        token,
    )
}

fn token_of(thread_id: &str, token: i64) -> Result<u64> {
    u64::try_from(token).map_err(|_| Error::Corrupt {
        thread_id: thread_id.to_owned(),
        checkpoint_id: String::new(),
        what: format!("lease token {token} is negative"),
    })
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// The lease row of `thread_id` (a placeholder with token 0 is made if
/// none), locked `FOR UPDATE`, as a [`Lease`] judged at `now()`: its
/// `expires` and the server's `now`.
fn locked_row(tx: &mut postgres::Transaction<'_>, thread_id: &str) -> Result<(Lease, SystemTime)> {
    let what = || format!("lock the lease of thread {thread_id:?}");
    tx.execute(
        "INSERT INTO checkpointer_leases (thread_id, owner, token, expires) \
         VALUES ($1, '', 0, 'epoch') ON CONFLICT (thread_id) DO NOTHING",
        &[&thread_id],
    )
    .map_err(pg_error(what))?;
    let r = tx
        .query_one(
            "SELECT owner, token, expires, now() FROM checkpointer_leases \
             WHERE thread_id = $1 FOR UPDATE",
            &[&thread_id],
        )
        .map_err(pg_error(what))?;
    let lease = Lease {
        thread_id: thread_id.to_owned(),
        owner: r.get(0),
        token: token_of(thread_id, r.get(1))?,
        expires: r.get(2),
    };
    Ok((lease, r.get(3)))
}

/// Sets the row's owner, token and expiry (`now() + ttl`, or the epoch for
/// `None`); returns the stored expiry.
fn update(
    tx: &mut postgres::Transaction<'_>,
    lease: &Lease,
    ttl: Option<Duration>,
) -> Result<SystemTime> {
    let token = i64::try_from(lease.token).unwrap_or(i64::MAX);
    let ms = ttl.map(ttl_ms);
    let r = tx
        .query_one(
            "UPDATE checkpointer_leases SET owner = $2, token = $3, expires = \
             CASE WHEN $4::BIGINT IS NULL THEN 'epoch'::timestamptz \
             ELSE now() + $4::BIGINT * interval '1 millisecond' END \
             WHERE thread_id = $1 RETURNING expires",
            &[&lease.thread_id, &lease.owner, &token, &ms],
        )
        .map_err(pg_error(|| {
            format!("write the lease of thread {:?}", lease.thread_id)
        }))?;
    Ok(r.get(0))
}

impl ThreadLeases for PostgresSaver {
    fn acquire(&self, thread_id: &str, owner: &str, ttl: Duration) -> Result<Lease> {
        if thread_id.is_empty() {
            return Err(Error::EmptyThreadId {
                operation: "acquire",
            });
        }
        let what = format!("acquire the lease of thread {thread_id:?}");
        self.in_transaction(&what, |tx| {
            let (row, now) = locked_row(tx, thread_id)?;
            if row.is_live_at(now) {
                return Err(Error::LeaseHeld {
                    thread_id: thread_id.to_owned(),
                    holder: row.owner,
                    token: None,
                });
            }
            let mut lease = Lease {
                owner: owner.to_owned(),
                token: row.token.saturating_add(1),
                ..row
            };
            lease.expires = update(tx, &lease, Some(ttl))?;
            Ok(lease)
        })
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let what = format!("renew the lease of thread {:?}", lease.thread_id);
        self.in_transaction(&what, |tx| {
            let (row, now) = locked_row(tx, &lease.thread_id)?;
            check_own(lease, Some(&row), now, false)?;
            let expires = update(tx, lease, Some(ttl))?;
            Ok(Lease {
                expires,
                ..lease.clone()
            })
        })
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        let what = format!("release the lease of thread {:?}", lease.thread_id);
        self.in_transaction(&what, |tx| {
            let (row, now) = locked_row(tx, &lease.thread_id)?;
            check_own(lease, Some(&row), now, true)?;
            update(tx, lease, None).map(drop)
        })
    }

    fn current(&self, thread_id: &str) -> Result<Option<Lease>> {
        let what = format!("read the lease of thread {thread_id:?}");
        let row = self.with_client(&what, |client| {
            client
                .query_opt(
                    "SELECT owner, token, expires FROM checkpointer_leases \
                     WHERE thread_id = $1 AND expires > now()",
                    &[&thread_id],
                )
                .map_err(pg_error(|| what.clone()))
        })?;
        row.map(|r| {
            Ok(Lease {
                thread_id: thread_id.to_owned(),
                owner: r.get(0),
                token: token_of(thread_id, r.get(1))?,
                expires: r.get(2),
            })
        })
        .transpose()
    }

    crate::saver::lease::fenced_calls!();
}
