//! What a wrapper saver sees of one call: which operation, with which
//! arguments.

use std::fmt;

use serde_json::Value;

use crate::saver::WriteBatch;
use crate::{ChannelVersions, Checkpoint, CheckpointMetadata, Config, ListOptions, PruneStrategy};

/// An operation of [`BaseCheckpointSaver`](crate::BaseCheckpointSaver),
/// named as its method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    /// `get_tuple`.
    GetTuple,
    /// `get`.
    Get,
    /// `list_iter`.
    ListIter,
    /// `list`.
    List,
    /// `put`.
    Put,
    /// `put_writes`.
    PutWrites,
    /// `put_with_writes`.
    PutWithWrites,
    /// `delete_thread`.
    DeleteThread,
    /// `delete_for_runs`.
    DeleteForRuns,
    /// `copy_thread`.
    CopyThread,
    /// `prune`.
    Prune,
}

impl Op {
    /// Every operation, in declaration order.
    pub const ALL: [Op; 11] = [
        Op::GetTuple,
        Op::Get,
        Op::ListIter,
        Op::List,
        Op::Put,
        Op::PutWrites,
        Op::PutWithWrites,
        Op::DeleteThread,
        Op::DeleteForRuns,
        Op::CopyThread,
        Op::Prune,
    ];

    /// The method's name, e.g. `put_writes`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Op::GetTuple => "get_tuple",
            Op::Get => "get",
            Op::ListIter => "list_iter",
            Op::List => "list",
            Op::Put => "put",
            Op::PutWrites => "put_writes",
            Op::PutWithWrites => "put_with_writes",
            Op::DeleteThread => "delete_thread",
            Op::DeleteForRuns => "delete_for_runs",
            Op::CopyThread => "copy_thread",
            Op::Prune => "prune",
        }
    }

    /// Whether the trait gives a default implementation of this method
    /// (built on the required ones).
    #[must_use]
    pub fn is_provided(self) -> bool {
        matches!(self, Op::Get | Op::List | Op::PutWithWrites)
    }

    /// The position of this operation in [`Op::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One call with its arguments, as the wrapper got them.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the method's parameters, named as there
pub enum Args<'a> {
    /// `get_tuple(config)`.
    GetTuple { config: &'a Config },
    /// `get(config)`.
    Get { config: &'a Config },
    /// `list_iter(config, options)`.
    ListIter {
        config: Option<&'a Config>,
        options: &'a ListOptions,
    },
    /// `list(config, options)`.
    List {
        config: Option<&'a Config>,
        options: &'a ListOptions,
    },
    /// `put(config, checkpoint, metadata, new_versions)`.
    Put {
        config: &'a Config,
        checkpoint: &'a Checkpoint,
        metadata: &'a CheckpointMetadata,
        new_versions: &'a ChannelVersions,
    },
    /// `put_writes(config, writes, task_id, task_path)`.
    PutWrites {
        config: &'a Config,
        writes: &'a [(String, Value)],
        task_id: &'a str,
        task_path: &'a str,
    },
    /// `put_with_writes(config, batches, checkpoint, metadata, new_versions)`.
    PutWithWrites {
        config: &'a Config,
        batches: &'a [WriteBatch<'a>],
        checkpoint: &'a Checkpoint,
        metadata: &'a CheckpointMetadata,
        new_versions: &'a ChannelVersions,
    },
    /// `delete_thread(thread_id)`.
    DeleteThread { thread_id: &'a str },
    /// `delete_for_runs(run_ids)`.
    DeleteForRuns { run_ids: &'a [String] },
    /// `copy_thread(source, target)`.
    CopyThread { source: &'a str, target: &'a str },
    /// `prune(thread_ids, strategy)`.
    Prune {
        thread_ids: &'a [String],
        strategy: PruneStrategy,
    },
}

impl Args<'_> {
    /// The operation called.
    #[must_use]
    pub fn op(&self) -> Op {
        match self {
            Args::GetTuple { .. } => Op::GetTuple,
            Args::Get { .. } => Op::Get,
            Args::ListIter { .. } => Op::ListIter,
            Args::List { .. } => Op::List,
            Args::Put { .. } => Op::Put,
            Args::PutWrites { .. } => Op::PutWrites,
            Args::PutWithWrites { .. } => Op::PutWithWrites,
            Args::DeleteThread { .. } => Op::DeleteThread,
            Args::DeleteForRuns { .. } => Op::DeleteForRuns,
            Args::CopyThread { .. } => Op::CopyThread,
            Args::Prune { .. } => Op::Prune,
        }
    }

    /// The config the call addresses, if it takes one.
    #[must_use]
    pub fn config(&self) -> Option<&Config> {
        match *self {
            Args::GetTuple { config }
            | Args::Get { config }
            | Args::Put { config, .. }
            | Args::PutWrites { config, .. }
            | Args::PutWithWrites { config, .. } => Some(config),
            Args::ListIter { config, .. } | Args::List { config, .. } => config,
            Args::DeleteThread { .. }
            | Args::DeleteForRuns { .. }
            | Args::CopyThread { .. }
            | Args::Prune { .. } => None,
        }
    }
}
