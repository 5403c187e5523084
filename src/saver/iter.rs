//! `CheckpointIter`: the lazy result of a `list` call.

use std::fmt;

use super::error::Result;
use super::tuple::CheckpointTuple;

/// Checkpoints of a [`list_iter`](crate::BaseCheckpointSaver::list_iter)
/// call, newest first, decoded one at a time as the caller iterates.
///
/// A saver reads what it needs when the call is made and holds no lock or
/// connection while the caller iterates; decoding each checkpoint lazily
/// keeps memory flat when a long history is walked. An item is an error
/// when its stored data cannot be decoded.
pub struct CheckpointIter {
    inner: Box<dyn Iterator<Item = Result<CheckpointTuple>> + Send>,
}

impl CheckpointIter {
    /// Wraps any iterator of decoded checkpoints.
    pub fn new(iter: impl Iterator<Item = Result<CheckpointTuple>> + Send + 'static) -> Self {
        CheckpointIter {
            inner: Box::new(iter),
        }
    }

    /// An iterator over checkpoints already in memory.
    pub fn from_vec(tuples: Vec<CheckpointTuple>) -> Self {
        CheckpointIter::new(tuples.into_iter().map(Ok))
    }
}

impl Iterator for CheckpointIter {
    type Item = Result<CheckpointTuple>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl fmt::Debug for CheckpointIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointIter")
            .field("size_hint", &self.inner.size_hint())
            .finish_non_exhaustive()
    }
}
