//! # checkpointer
//!
//! Durable graph workflows for Rust: save the state of an agent or workflow
//! graph at every step, resume it after a crash or a restart, keep the full
//! history of each conversation ("thread") and travel in it.
//!
//! The contract follows LangGraph's checkpoint savers: a
//! [`BaseCheckpointSaver`] stores versioned [`Checkpoint`]s, their
//! [`CheckpointMetadata`] and the pending writes of their tasks, addressed
//! by a [`Config`] of `thread_id`, `checkpoint_ns` and `checkpoint_id`.
//!
//! ```
//! use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
//!     Config, InMemorySaver, ListOptions};
//! use serde_json::json;
//!
//! let saver = InMemorySaver::new();
//! let thread = Config::thread("conversation-1");
//!
//! // Two steps of a conversation; each checkpoint names its parent.
//! let first = Checkpoint::new(0).with_value("messages", json!(["hi"]), 1);
//! let cfg = saver.put(&thread, &first, &CheckpointMetadata::new(CheckpointSource::Loop, 0),
//!     &first.channel_versions)?;
//! let second = first.successor(1).with_value("messages", json!(["hi", "hello!"]), 2);
//! saver.put(&cfg, &second, &CheckpointMetadata::new(CheckpointSource::Loop, 1),
//!     &second.channel_versions)?;
//!
//! // History, newest first.
//! let history = saver.list(Some(&thread), &ListOptions::new())?;
//! assert_eq!(history.len(), 2);
//! assert_eq!(history[0].checkpoint.channel_values["messages"], json!(["hi", "hello!"]));
//! assert_eq!(history[0].parent_config.as_ref().unwrap().checkpoint_id, cfg.checkpoint_id);
//!
//! // Time travel: read the older checkpoint by id.
//! let old = saver.get(&cfg)?.expect("stored above");
//! assert_eq!(old.channel_values["messages"], json!(["hi"]));
//! # Ok::<(), checkpointer::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
// issue 14: the event log with snapshots.
#[cfg(feature = "events")]
#[cfg_attr(docsrs, doc(cfg(feature = "events")))]
pub mod events;
pub mod graph;
// issue 14: job progress checkpoints.
pub mod jobs;
// issue 12 part 2: the step ledger, compatible with mooncat-checkpoint.
#[cfg(feature = "ledger")]
#[cfg_attr(docsrs, doc(cfg(feature = "ledger")))]
pub mod ledger;
// issue 14 part 2: the MCP server.
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
pub mod saver;
// issue 13: the SnapState-compatible HTTP service and the web page.
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

pub use graph::{
    Command, CompileOptions, CompiledGraph, Durability, GraphError, Input, NodeContext, Reducer,
    RunOutcome, SendTo, State, StateGraph, StateSnapshot, StreamMode, Update,
};
// Thread leases (issue 12).
pub use saver::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersion, ChannelVersions, CheckReport, Checkpoint,
    CheckpointAdmin, CheckpointIter, CheckpointMetadata, CheckpointSource, CheckpointTuple, Config,
    Error, InMemorySaver, ListOptions, PendingWrite, PruneStrategy, Result, WriteBatch,
    new_checkpoint_id,
};
pub use saver::{LEASE_TOKEN_KEY, Lease, ThreadLeases};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use saver::{PostgresOptions, PostgresPool, PostgresSaver, PostgresTls, PostgresTlsMode};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use saver::{SqliteOptions, SqliteSaver, Synchronous};

/// The README's code blocks, compiled and run as doctests (they use the
/// default features, so a build without one of them skips them).
#[doc = include_str!("../README.md")]
#[cfg(all(
    doctest,
    feature = "sqlite",
    feature = "cli",
    feature = "ledger",
    feature = "events",
    feature = "mcp",
    feature = "server",
    feature = "derive"
))]
pub struct ReadmeDoctests;
