//! Checkpoint savers: the data model, the [`BaseCheckpointSaver`] contract
//! and its implementations.
//!
//! - [`InMemorySaver`]: everything in memory, for tests and examples.
//! - [`SqliteSaver`]: a SQLite file (WAL, pooled connections): the default
//!   way to persist threads.
//! - [`AsyncSaver`]: async access to any saver.
//!
//! Beside the contract, for tools that manage a whole store:
//! [`CheckpointAdmin`] (thread summaries, light history rows, exact
//! import, pruning by age, vacuum; implemented by both savers) and
//! [`export`], a thread as JSON Lines that any saver writes and any admin
//! imports.

mod admin;
mod async_saver;
mod base;
mod checkpoint;
mod checks;
mod config;
mod error;
pub mod export;
mod id;
mod iter;
mod list;
mod memory;
mod prune;
mod sqlite;
mod timestamp;
mod tuple;
mod version;
mod writes;

pub use admin::{CheckpointAdmin, CheckpointSummary, ThreadSummary, Vacuumed, written_before};
pub use async_saver::AsyncSaver;
pub use base::BaseCheckpointSaver;
pub use checkpoint::{
    CHECKPOINT_FORMAT, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource,
};
pub use config::Config;
pub use error::{Error, Result};
pub use id::new_checkpoint_id;
pub use iter::CheckpointIter;
pub use list::ListOptions;
pub use memory::InMemorySaver;
pub use prune::PruneStrategy;
pub use sqlite::{SqliteOptions, SqliteSaver, Synchronous};
pub use tuple::{CheckpointTuple, PendingWrite};
pub use version::{ChannelVersion, ParseVersionError};
pub(crate) use writes::OwnedWriteBatch;
pub use writes::{
    ERROR, INTERRUPT, NO_WRITES, NULL_TASK_ID, RESUME, SCHEDULED, TASKS, WriteBatch,
    sort_pending_writes, special_idx, write_idx,
};
