//! Group commit: concurrent writes of one saver share one transaction and
//! one fsync.
//!
//! Backend-neutral: the queue is generic over the backend's connection
//! (or transaction) type `C` and over what a write returns `T`. A backend
//! implements [`Runner`] (begin, run each job, commit, with whatever
//! savepoints its engine has) and calls [`GroupCommit::submit`] for each
//! write.
//!
//! A caller queues its write (already serialised, owning its data) and
//! either becomes the *leader* or waits. The leader takes every queued
//! write, runs them in one `BEGIN IMMEDIATE` transaction, each inside its
//! own savepoint (a write that fails is rolled back to its savepoint and
//! gets its own error; the others stay), commits (one fsync), answers
//! every caller, and hands the lead to the first write queued meanwhile.
//! So each call stays atomic, returns only once its data is committed, and
//! a single writer pays no thread hand-off: it leads its own one-write
//! group. There is no background thread; the queue empties with its last
//! caller.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, MutexGuard};

use std::sync::Arc;

use super::error::{BoxError, Error, Result};

/// One write: runs against the shared transaction's connection `C`.
pub type Op<C, T> = Box<dyn FnOnce(&C) -> Result<T> + Send>;

/// A write that can run again (it only reads what it owns): a group of
/// such writes first runs without savepoints, see [`Job`].
pub type RerunOp<C, T> = Box<dyn Fn(&C) -> Result<T> + Send>;

/// A queued write, as the leader gets it.
///
/// A group whose writes can all run again is run *optimistically*: without
/// a savepoint per write (savepoints make SQLite copy every page a write
/// touches first). If one of them fails, the leader rolls the whole
/// transaction back and runs the group again with savepoints, so that the
/// failed write fails alone, as always.
pub enum Job<C: ?Sized, T> {
    /// Runs once.
    Once(Op<C, T>),
    /// Can run again.
    Again(RerunOp<C, T>),
}

impl<C: ?Sized, T> std::fmt::Debug for Job<C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.reruns() {
            "Job::Again"
        } else {
            "Job::Once"
        })
    }
}

impl<C: ?Sized, T> Job<C, T> {
    /// Whether it can run twice.
    pub fn reruns(&self) -> bool {
        matches!(self, Job::Again(_))
    }

    /// Runs it, once and for all.
    pub fn run(self, conn: &C) -> Result<T> {
        match self {
            Job::Once(op) => op(conn),
            Job::Again(op) => op(conn),
        }
    }
}

/// What a queued caller hears.
enum Reply<T> {
    /// Its write ran (and committed, if `Ok`).
    Done(Result<T>),
    /// It leads the next group.
    Lead,
}

/// A queued write.
struct Pending<C: ?Sized, T> {
    what: String,
    job: Job<C, T>,
    reply: Sender<Reply<T>>,
}

/// The queue of one saver: writes over connections `C` that return `T`.
pub struct GroupCommit<C: ?Sized, T> {
    state: Mutex<State<C, T>>,
}

impl<C: ?Sized, T> Default for GroupCommit<C, T> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State {
                queue: Vec::new(),
                leading: false,
            }),
        }
    }
}

struct State<C: ?Sized, T> {
    queue: Vec<Pending<C, T>>,
    /// A leader is running a group.
    leading: bool,
}

impl<C: ?Sized, T> std::fmt::Debug for GroupCommit<C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

/// How a leader runs a group: begins, runs the writes, commits. Given the
/// writes, it returns each one's result (in order).
///
/// A failure of the whole group (begin or commit) answers every write:
/// see [`fail_group`].
pub trait Runner<C: ?Sized, T> {
    /// Runs `jobs` in one transaction; one result per job.
    fn run(&self, jobs: Vec<(String, Job<C, T>)>) -> Vec<Result<T>>;
}

impl<C: ?Sized, T> GroupCommit<C, T> {
    fn lock(&self) -> MutexGuard<'_, State<C, T>> {
        // Every change to the state is a single push, take or flag flip.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `job` and returns once it ran in a committed (or failed)
    /// transaction.
    ///
    /// # Errors
    ///
    /// The write's own error, or [`Error::GroupCommit`] if the writer
    /// running its group stopped (panicked) before answering.
    pub fn submit<R: Runner<C, T> + ?Sized>(
        &self,
        runner: &R,
        what: String,
        job: Job<C, T>,
    ) -> Result<T> {
        let (reply, answer) = channel();
        let lead = {
            let mut state = self.lock();
            state.queue.push(Pending {
                what: what.clone(),
                job,
                reply,
            });
            !std::mem::replace(&mut state.leading, true)
        };
        // Called at most once, on the way out: it takes `what`.
        let failed =
            move || Error::group_commit(what, "the writer running this write's group stopped");
        if !lead {
            match answer.recv() {
                Ok(Reply::Done(result)) => return result,
                Ok(Reply::Lead) => {}
                Err(_) => return Err(failed()),
            }
        }
        self.lead(runner);
        wait_done(&answer).unwrap_or_else(|| Err(failed()))
    }

    /// Runs groups until one was run and the lead is handed on (or no one
    /// waits).
    fn lead<R: Runner<C, T> + ?Sized>(&self, runner: &R) {
        let mut handoff = Handoff { group: self };
        let batch = std::mem::take(&mut handoff.group.lock().queue);
        let (replies, ops): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|p| (p.reply, (p.what, p.job)))
            .unzip();
        let results = runner.run(ops);
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that is gone cannot be told; its write is done.
            let _ = reply.send(Reply::Done(result));
        }
        handoff.pass();
    }
}

/// Hands the lead on when a leader is done, also if it panicked.
struct Handoff<'a, C: ?Sized, T> {
    group: &'a GroupCommit<C, T>,
}

impl<C: ?Sized, T> Handoff<'_, C, T> {
    fn pass(&mut self) {
        loop {
            let mut state = self.group.lock();
            let Some(next) = state.queue.first() else {
                state.leading = false;
                return;
            };
            if next.reply.send(Reply::Lead).is_ok() {
                return;
            }
            // The first waiter is gone (its thread died): drop its entry and
            // try the next; its write is not run.
            state.queue.remove(0);
        }
    }
}

impl<C: ?Sized, T> Drop for Handoff<'_, C, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.pass();
        }
    }
}

/// The `Done` answer a leader sent itself.
fn wait_done<T>(answer: &Receiver<Reply<T>>) -> Option<Result<T>> {
    loop {
        match answer.recv() {
            Ok(Reply::Done(result)) => return Some(result),
            Ok(Reply::Lead) => {}
            Err(_) => return None,
        }
    }
}

/// The answers of a group whose shared transaction failed with `error`
/// (it could not begin or commit): the first write gets `error`, each
/// other write (named by `others`) an [`Error::GroupCommit`] whose source
/// is that same error.
pub fn fail_group<T>(error: Error, others: &[String]) -> Vec<Result<T>> {
    if others.is_empty() {
        return vec![Err(error)];
    }
    let (first, shared): (Error, Arc<dyn std::error::Error + Send + Sync>) = match error {
        // The engine's error is shared by the first write's error and the
        // copy the others carry as their source.
        Error::Backend {
            backend,
            operation,
            source,
        } => {
            let engine: Arc<dyn std::error::Error + Send + Sync> = Arc::from(source);
            let copy = Error::backend(backend, operation.clone(), Shared(engine.clone()));
            (
                Error::backend(backend, operation, Shared(engine)),
                Arc::new(copy),
            )
        }
        other => {
            let text: BoxError = other.to_string().into();
            (other, Arc::from(text))
        }
    };
    let mut out = Vec::with_capacity(others.len() + 1);
    out.push(Err(first));
    out.extend(
        others
            .iter()
            .map(|what| Err(Error::group_commit(what.clone(), Shared(shared.clone())))),
    );
    out
}

/// An error several results hold at once.
#[derive(Debug, Clone)]
struct Shared(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_failed_group_gives_every_write_the_same_source() {
        let engine = std::io::Error::other("disk full");
        let error = Error::backend("test", "commit a group of 3 writes", engine);
        let text = error.to_string();
        let others = ["write b".to_owned(), "write c".to_owned()];
        let results = fail_group::<()>(error, &others);
        assert_eq!(results.len(), 3);
        let first = results[0].as_ref().unwrap_err();
        assert!(
            matches!(
                first,
                Error::Backend {
                    backend: "test",
                    ..
                }
            ),
            "{first:?}"
        );
        assert_eq!(first.to_string(), text);
        for (result, what) in results[1..].iter().zip(&others) {
            let err = result.as_ref().unwrap_err();
            assert!(
                matches!(err, Error::GroupCommit { operation, .. } if operation == what),
                "{err:?}"
            );
            let source = err.source().expect("the group's error is the source");
            assert_eq!(source.to_string(), text);
        }
    }

    #[test]
    fn a_lone_write_gets_its_error_unchanged() {
        let error = Error::group_commit("write a", "stopped");
        let results = fail_group::<()>(error, &[]);
        assert!(matches!(&results[..], [Err(Error::GroupCommit { .. })]));
    }
}
