//! Helpers that save a job's progress from a loop.

use serde_json::Value;

use super::{JobResult, JobStore};

/// dcc-mcp-core's `checkpoint_every(n, job_id, state_fn, progress_fn)`, with
/// its real behaviour: it does nothing when `n == 0` and otherwise **saves
/// on every call** (it does not count; the caller decides when to call it).
/// For a helper that counts, see [`EveryNIterations`].
///
/// # Errors
/// The store's error.
pub fn save_on_every_call(
    store: &dyn JobStore,
    n: usize,
    job_id: &str,
    state: impl FnOnce() -> Value,
    progress: impl FnOnce() -> String,
) -> JobResult<bool> {
    if n == 0 {
        return Ok(false);
    }
    store.save(job_id, state(), &progress())?;
    Ok(true)
}

/// Counts a loop's iterations and saves on every `n`-th one.
#[derive(Debug, Clone)]
pub struct EveryNIterations {
    n: u64,
    count: u64,
}

impl EveryNIterations {
    /// Saves on the `n`-th, `2n`-th, ... call of [`tick`](Self::tick);
    /// `n == 0` never saves.
    pub fn new(n: u64) -> Self {
        EveryNIterations { n, count: 0 }
    }

    /// How many iterations were counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Counts one iteration and saves when the count is a multiple of `n`;
    /// whether it saved. `state` and `progress` run only when it saves.
    ///
    /// # Errors
    /// The store's error (the iteration is counted all the same).
    pub fn tick(
        &mut self,
        store: &dyn JobStore,
        job_id: &str,
        state: impl FnOnce() -> Value,
        progress: impl FnOnce() -> String,
    ) -> JobResult<bool> {
        self.count += 1;
        if self.n == 0 || !self.count.is_multiple_of(self.n) {
            return Ok(false);
        }
        store.save(job_id, state(), &progress())?;
        Ok(true)
    }
}
