//! WAL checkpoints on a background thread, so that commits do not pay for
//! them.
//!
//! The saver's connections checkpoint the WAL themselves only when it grows
//! past a large bound (a safety net). A thread with its own connection runs
//! a `PASSIVE` checkpoint (which never blocks writers or readers) after
//! every [`EVERY`] writes of the saver (a group commit of several writes
//! fills the WAL as fast as as many commits), and when commits stop for a
//! while.
//! It stops, finishing nothing half-done, when the saver drops.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// Writes (committed calls) between two background checkpoints.
pub(crate) const EVERY: u32 = 16;

/// WAL pages at which a committing connection checkpoints by itself
/// (`wal_autocheckpoint`), should the background thread fall behind.
pub(crate) const SAFETY_NET_PAGES: i64 = 256;

/// How long the thread waits before checkpointing a quiet saver's WAL.
const IDLE: Duration = Duration::from_millis(200);

#[derive(Default)]
struct State {
    stop: bool,
    commits: u32,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The background checkpointer of one saver.
pub(crate) struct WalCheckpointer {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WalCheckpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalCheckpointer").finish_non_exhaustive()
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A counter and a flag: nothing a panic could leave half-changed.
    shared
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WalCheckpointer {
    /// Starts the thread on `conn` (a connection to the saver's file).
    pub(crate) fn start(conn: Connection) -> std::io::Result<Self> {
        let shared: Shared = Arc::default();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("checkpointer-wal".into())
            .spawn(move || run(&conn, &theirs))?;
        Ok(WalCheckpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Counts a commit of `writes` calls; wakes the thread every [`EVERY`]
    /// writes.
    pub(crate) fn committed(&self, writes: usize) {
        let mut state = lock(&self.shared);
        state.commits = state
            .commits
            .saturating_add(u32::try_from(writes).unwrap_or(u32::MAX));
        if state.commits >= EVERY {
            self.shared.1.notify_one();
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    let mut state = lock(shared);
    loop {
        if state.stop {
            return;
        }
        if state.commits >= EVERY {
            state.commits = 0;
            drop(state);
            // A failed or partial checkpoint is retried next time; the
            // committing connections' safety net bounds the WAL meanwhile.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            state = lock(shared);
            continue;
        }
        let (next, waited) = shared
            .1
            .wait_timeout(state, IDLE)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state = next;
        if waited.timed_out() && state.commits > 0 {
            // Quiet: checkpoint what there is.
            state.commits = EVERY;
        }
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_one();
        if let Some(thread) = self.thread.take() {
            // The thread only checkpoints; if it panicked there is nothing
            // to clean up.
            let _ = thread.join();
        }
    }
}
