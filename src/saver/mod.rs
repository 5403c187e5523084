//! Checkpoint savers: the data model, the [`BaseCheckpointSaver`] contract
//! and its implementations.
//!
//! - [`InMemorySaver`]: everything in memory, for tests and examples.
//! - [`SqliteSaver`]: a SQLite file (WAL, pooled connections): the default
//!   way to persist threads.
//! - `PostgresSaver` (feature `postgres`): a PostgreSQL database in
//!   LangGraph's own schema, shared with Python workers.
//! - [`AsyncSaver`]: async access to any saver.
//!
//! Beside the contract, for tools that manage a whole store:
//! [`CheckpointAdmin`] (thread summaries, light history rows, exact
//! import, pruning by age, vacuum; implemented by both savers) and
//! [`export`], a thread as JSON Lines that any saver writes and any admin
//! imports.
//!
//! # Writing a backend
//!
//! A backend implements [`BaseCheckpointSaver`] and holds only what is its
//! own: schema and migrations, statements, row mapping. What every backend
//! needs is here, public, so that it is written once:
//!
//! - [`checks`]: the input checks and the metadata merge rule of the
//!   contract (call them before writing anything; a refused call changes
//!   nothing).
//! - [`rows`]: the JSON of checkpoint, metadata and write rows
//!   ([`rows::PreparedPut`], [`rows::EncodedWrites`], the `decode_*`
//!   functions), so that every backend reads the rows of every other.
//! - [`delta`]: the append-delta encoding of channel values; a backend
//!   implements [`delta::ValueRows`] (a few statements over its value
//!   rows) and gets the encoder, the caches, the checks of a write and
//!   chain resolution.
//! - [`page`]: read assembly, the tuples of a read built one at a time
//!   from what the backend fetched ([`page::RawWrite`] decodes its write
//!   rows).
//! - [`group_commit`] and [`group_run`]: concurrent writes sharing one
//!   transaction; a backend implements [`group_run::GroupConnection`]
//!   and [`group_run::GroupTx`] over its transaction type.
//! - [`Error::backend`]: a driver's error as [`Error::Backend`], so the
//!   driver's version is not part of this crate's API.

mod admin;
mod async_saver;
mod base;
mod check;
mod checkpoint;
pub mod checks;
mod config;
pub mod delta;
// issue 13: the channel diff shared by the CLI and the web page.
pub mod diff;
mod error;
pub mod export;
pub mod group_commit;
pub mod group_run;
mod id;
mod iter;
// Thread leases (issue 12).
mod lease;
mod list;
mod memory;
// LangGraph's Python serializer (msgpack blobs, inline primitives), shared
// by the PostgreSQL saver and the LangGraph SQLite file import/export.
#[cfg(any(feature = "postgres", feature = "langgraph-sqlite"))]
pub(crate) mod langgraph_values;
// issue 11: msgpack blobs decoded straight into JSON values (one pass).
#[cfg(any(feature = "postgres", feature = "langgraph-sqlite"))]
pub(crate) mod langgraph_msgpack;
// issue 11: LangGraph's ext types (Send, Interrupt, messages) as JSON.
#[cfg(any(feature = "postgres", feature = "langgraph-sqlite"))]
pub(crate) mod langgraph_ext;
// issue 11: LangGraph's SQLite files, read and written.
#[cfg(feature = "langgraph-sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "langgraph-sqlite")))]
pub mod langgraph_sqlite;
pub mod page;
#[cfg(feature = "postgres")]
mod postgres;
mod prune;
pub mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
pub(crate) mod timestamp;
mod trace;
mod tuple;
mod version;
mod writes;

pub use admin::{CheckpointAdmin, CheckpointSummary, ThreadSummary, Vacuumed, written_before};
pub use async_saver::AsyncSaver;
pub use base::BaseCheckpointSaver;
pub use check::CheckReport;
pub use checkpoint::{
    CHECKPOINT_FORMAT, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource,
};
pub use config::Config;
pub use error::{BoxError, Error, Result};
pub use id::{new_checkpoint_id, new_checkpoint_id_after, new_checkpoint_id_at_time};
pub use iter::CheckpointIter;
pub use lease::{LEASE_TOKEN_KEY, Lease, ThreadLeases};
pub use list::ListOptions;
pub use memory::InMemorySaver;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresOptions, PostgresPool, PostgresSaver, PostgresTls, PostgresTlsMode};
// issue 14: the PostgreSQL event log (`crate::events`) shares the pool
// setup and the off-runtime helper of the saver.
#[cfg(feature = "postgres")]
pub(crate) use postgres::{
    PooledClient as PostgresPooledClient, build_pool as postgres_pool, off_runtime,
    redact as redact_url,
};
pub use prune::PruneStrategy;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteOptions, SqliteSaver, Synchronous};
pub use tuple::{CheckpointTuple, PendingWrite};
pub use version::{ChannelVersion, ParseVersionError};
pub(crate) use writes::OwnedWriteBatch;
pub use writes::{
    ERROR, INTERRUPT, NO_WRITES, NULL_TASK_ID, RESUME, SCHEDULED, TASKS, WriteBatch,
    sort_pending_writes, special_idx, write_idx,
};
