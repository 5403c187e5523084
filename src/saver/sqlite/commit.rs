//! Group commit: concurrent writes of one saver share one transaction and
//! one fsync.
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

use rusqlite::Connection;

use super::values::Stored;
use crate::saver::error::{Error, Result};

/// One write: runs against the shared transaction's connection.
pub(crate) type Op = Box<dyn FnOnce(&Connection) -> Result<Stored> + Send>;

/// A write that can run again (it only reads what it owns): a group of
/// such writes first runs without savepoints, see [`Job`].
pub(crate) type RerunOp = Box<dyn Fn(&Connection) -> Result<Stored> + Send>;

/// A queued write, as the leader gets it.
///
/// A group whose writes can all run again is run *optimistically*: without
/// a savepoint per write (savepoints make SQLite copy every page a write
/// touches first). If one of them fails, the leader rolls the whole
/// transaction back and runs the group again with savepoints, so that the
/// failed write fails alone, as always.
pub(crate) enum Job {
    /// Runs once.
    Once(Op),
    /// Can run again.
    Again(RerunOp),
}

impl Job {
    /// Whether it can run twice.
    pub(crate) fn reruns(&self) -> bool {
        matches!(self, Job::Again(_))
    }

    /// Runs it, once and for all.
    pub(crate) fn run(self, conn: &Connection) -> Result<Stored> {
        match self {
            Job::Once(op) => op(conn),
            Job::Again(op) => op(conn),
        }
    }
}

/// What a queued caller hears.
enum Reply {
    /// Its write ran (and committed, if `Ok`).
    Done(Result<Stored>),
    /// It leads the next group.
    Lead,
}

/// A queued write.
struct Pending {
    what: String,
    job: Job,
    reply: Sender<Reply>,
}

/// The queue of one saver.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: Vec<Pending>,
    /// A leader is running a group.
    leading: bool,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

/// How a leader runs a group: begins, runs the writes, commits. Given the
/// writes, it returns each one's result (in order).
pub(crate) trait Runner {
    /// Runs `jobs` in one transaction; one result per job.
    fn run(&self, jobs: Vec<(String, Job)>) -> Vec<Result<Stored>>;
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is a single push, take or flag flip.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` and returns once it ran in a committed (or failed)
    /// transaction.
    pub(crate) fn submit(&self, runner: &dyn Runner, what: String, job: Job) -> Result<Stored> {
        let (reply, answer) = channel();
        let failed = || Error::GroupCommit {
            operation: what.clone(),
            reason: "the writer running this write's group stopped".into(),
        };
        let lead = {
            let mut state = self.lock();
            state.queue.push(Pending {
                what: what.clone(),
                job,
                reply,
            });
            !std::mem::replace(&mut state.leading, true)
        };
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
    fn lead(&self, runner: &dyn Runner) {
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
struct Handoff<'a> {
    group: &'a GroupCommit,
}

impl Handoff<'_> {
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

impl Drop for Handoff<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.pass();
        }
    }
}

/// The `Done` answer a leader sent itself.
fn wait_done(answer: &Receiver<Reply>) -> Option<Result<Stored>> {
    loop {
        match answer.recv() {
            Ok(Reply::Done(result)) => return Some(result),
            Ok(Reply::Lead) => continue,
            Err(_) => return None,
        }
    }
}
