//! [`CheckReport`]: what [`CheckpointAdmin::check`](crate::CheckpointAdmin::check)
//! found in a store, and the backend-neutral part of a check (every stored
//! checkpoint, value and write decodes).

use std::fmt;

use super::base::BaseCheckpointSaver;
use super::list::ListOptions;

/// The result of checking a whole store: what was read and every problem
/// found, each a line naming where (thread, checkpoint, table).
///
/// ```
/// use checkpointer::{CheckpointAdmin, InMemorySaver};
///
/// let report = InMemorySaver::new().check()?;
/// assert!(report.is_ok());
/// assert_eq!(report.checkpoints, 0);
/// # Ok::<(), checkpointer::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Checkpoints read back in full (values resolved, writes decoded).
    pub checkpoints: usize,
    /// What is wrong, one line each; empty when the store is sound.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Reads every checkpoint of every thread through `list_iter` (which
    /// decodes each checkpoint, its metadata, its channel values, resolving
    /// delta chains, and its pending writes) and records each one that
    /// fails, with the error's context.
    pub fn read_everything(&mut self, saver: &dyn BaseCheckpointSaver) {
        match saver.list_iter(None, &ListOptions::new()) {
            Ok(items) => {
                for item in items {
                    match item {
                        Ok(_) => self.checkpoints += 1,
                        Err(e) => self.problems.push(format!("read: {e}")),
                    }
                }
            }
            Err(e) => self.problems.push(format!("list of all threads: {e}")),
        }
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "ok: {} checkpoints read back", self.checkpoints);
        }
        write!(
            f,
            "{} problems ({} checkpoints read back):",
            self.problems.len(),
            self.checkpoints
        )?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}
