//! What `prune` keeps.

/// What `prune` keeps of each thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PruneStrategy {
    /// Keep the latest checkpoint of each namespace, with its writes and
    /// channel values; drop the rest.
    KeepLatest,
    /// Drop everything of the thread.
    Delete,
}
