//! Checkpoint savers: the data model, the [`BaseCheckpointSaver`] contract
//! and its implementations.
//!
//! - [`InMemorySaver`]: everything in memory, for tests and examples.
//! - [`SqliteSaver`]: a SQLite file (WAL, pooled connections): the default
//!   way to persist threads.
//! - [`AsyncSaver`]: async access to any saver.

mod async_saver;
mod base;
mod checkpoint;
pub mod checks;
mod config;
pub mod delta;
mod error;
pub mod group_commit;
pub mod group_run;
mod id;
mod iter;
mod list;
mod memory;
pub mod page;
mod prune;
pub mod rows;
mod sqlite;
mod trace;
mod tuple;
mod version;
mod writes;

pub use async_saver::AsyncSaver;
pub use base::BaseCheckpointSaver;
pub use checkpoint::{
    CHECKPOINT_FORMAT, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource,
};
pub use config::Config;
pub use error::{BoxError, Error, Result};
pub use id::{new_checkpoint_id, new_checkpoint_id_after, new_checkpoint_id_at_time};
pub use iter::CheckpointIter;
pub use list::ListOptions;
pub use memory::InMemorySaver;
pub use prune::PruneStrategy;
pub use sqlite::{CheckpointSummary, SqliteOptions, SqliteSaver, Synchronous, ThreadSummary};
pub use tuple::{CheckpointTuple, PendingWrite};
pub use version::{ChannelVersion, ParseVersionError};
pub(crate) use writes::OwnedWriteBatch;
pub use writes::{
    ERROR, INTERRUPT, NO_WRITES, NULL_TASK_ID, RESUME, SCHEDULED, TASKS, WriteBatch,
    sort_pending_writes, special_idx, write_idx,
};
