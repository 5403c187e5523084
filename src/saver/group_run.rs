//! How a group-commit leader runs a group, for any backend with
//! transactions and savepoints: optimistically without savepoints when
//! every write can run again, else (or after one failed) with a savepoint
//! per write, so that a failed write is rolled back alone; then one
//! commit. A backend implements [`GroupConnection`] and [`GroupTx`] and
//! calls [`run_group`] from its [`Runner`](super::group_commit::Runner).

use super::error::{BoxError, Error, Result};
use super::group_commit::{Job, fail_group};

/// A connection a group runs on: begins the group's write transaction.
pub trait GroupConnection<C: ?Sized> {
    /// The transaction; dropping it without [`GroupTx::commit`] rolls it
    /// back.
    type Tx<'a>: GroupTx<C, Error = Self::Error>
    where
        Self: 'a;
    /// The engine's error.
    type Error: Into<BoxError>;

    /// Begins a write transaction (one that takes the write lock at once).
    ///
    /// # Errors
    ///
    /// The engine's.
    fn begin(&mut self) -> std::result::Result<Self::Tx<'_>, Self::Error>;
}

/// A group's write transaction.
pub trait GroupTx<C: ?Sized> {
    /// The engine's error.
    type Error: Into<BoxError>;

    /// The connection the writes run against.
    fn conn(&self) -> &C;

    /// Starts a savepoint for one write.
    ///
    /// # Errors
    ///
    /// The engine's.
    fn savepoint(&self) -> std::result::Result<(), Self::Error>;

    /// Ends the savepoint, keeping (`keep`) or rolling back the write.
    ///
    /// # Errors
    ///
    /// The engine's; the transaction is then in an unknown state.
    fn end_savepoint(&self, keep: bool) -> std::result::Result<(), Self::Error>;

    /// Commits.
    ///
    /// # Errors
    ///
    /// The engine's.
    fn commit(self) -> std::result::Result<(), Self::Error>;
}

/// The answers of a group, and whether it committed.
#[derive(Debug)]
pub struct GroupOutcome<T> {
    /// One result per job, in order.
    pub results: Vec<Result<T>>,
    /// Whether a transaction committed (then the `Ok` results are durable).
    pub committed: bool,
}

/// Runs `jobs` (each with what it is, for errors) in one transaction on
/// `conn`. Errors of the backend `backend` are named by their operation
/// and passed through `name` (which may add, say, the database file).
pub fn run_group<G, C, T>(
    backend: &'static str,
    conn: &mut G,
    jobs: Vec<(String, Job<C, T>)>,
    name: impl Fn(Error) -> Error,
) -> GroupOutcome<T>
where
    G: GroupConnection<C>,
    C: ?Sized,
{
    let whats: Vec<String> = jobs.iter().map(|(what, _)| what.clone()).collect();
    let shared = jobs.len() > 1;
    let label = |verb: &str| {
        if shared {
            format!("{verb} a group of {} writes", whats.len())
        } else {
            format!("{verb} {}", whats[0])
        }
    };
    // A failure of the whole group: the first write gets the error, the
    // others an error whose source it is.
    let spread = |operation: String, e: G::Error| GroupOutcome {
        results: fail_group(name(Error::backend(backend, operation, e)), &whats[1..]),
        committed: false,
    };
    if shared && jobs.iter().all(|(_, job)| job.reruns()) {
        match run_optimistic(conn, &jobs) {
            Ok(Some(results)) => {
                return GroupOutcome {
                    results,
                    committed: true,
                };
            }
            // A write failed and all was rolled back: again, with
            // savepoints.
            Ok(None) => {}
            Err(Optimistic::Begin(e)) => return spread(label("begin"), e),
            Err(Optimistic::Commit(e)) => return spread(label("commit"), e),
        }
    }
    let tx = match conn.begin() {
        Ok(tx) => tx,
        Err(e) => return spread(label("begin"), e),
    };
    let mut results = Vec::with_capacity(jobs.len());
    for (what, job) in jobs {
        if !shared {
            results.push(job.run(tx.conn()));
            continue;
        }
        let result = tx
            .savepoint()
            .map_err(|e| Error::backend(backend, format!("begin {what}"), e))
            .and_then(|()| job.run(tx.conn()));
        match tx.end_savepoint(result.is_ok()) {
            Ok(()) => results.push(result),
            // The transaction is in an unknown state: give up on all.
            Err(e) => return spread(format!("end {what}"), e),
        }
    }
    let named = |results: Vec<Result<T>>| results.into_iter().map(|r| r.map_err(&name)).collect();
    if !shared && results[0].is_err() {
        // Dropping the transaction rolls it back.
        return GroupOutcome {
            results: named(results),
            committed: false,
        };
    }
    if let Err(e) = tx.commit() {
        return spread(label("commit"), e);
    }
    GroupOutcome {
        results: named(results),
        committed: true,
    }
}

/// Why an optimistic group did not commit.
enum Optimistic<E> {
    Begin(E),
    Commit(E),
}

/// Runs a group of writes that can all run again in one transaction
/// without savepoints. `Ok(None)`: one failed, and the transaction was
/// rolled back (the caller runs the group again, with savepoints).
fn run_optimistic<G, C, T>(
    conn: &mut G,
    jobs: &[(String, Job<C, T>)],
) -> std::result::Result<Option<Vec<Result<T>>>, Optimistic<G::Error>>
where
    G: GroupConnection<C>,
    C: ?Sized,
{
    let tx = conn.begin().map_err(Optimistic::Begin)?;
    let mut results = Vec::with_capacity(jobs.len());
    for (_, job) in jobs {
        let Job::Again(op) = job else {
            return Ok(None);
        };
        match op(tx.conn()) {
            Ok(stored) => results.push(Ok(stored)),
            // Dropping the transaction rolls it back.
            Err(_) => return Ok(None),
        }
    }
    tx.commit().map_err(Optimistic::Commit)?;
    Ok(Some(results))
}
