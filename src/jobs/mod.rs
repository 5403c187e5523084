//! Job progress checkpoints: a long tool execution (render 200 files,
//! index a repository) saves its progress every few items and, after an
//! interruption, resumes from the last save instead of from the start.
//!
//! This is the model of dcc-mcp-core's `CheckpointStore`: one entry per
//! job, `{job_id, saved_at, progress_hint, context}`.
//!
//! - [`JobStore`]: the contract.
//! - [`SaverJobStore`]: over any [`BaseCheckpointSaver`](crate::BaseCheckpointSaver):
//!   a job is a thread and a save a checkpoint, so every job keeps its
//!   history (`checkpointer history JOB` shows the saves).
//! - [`JsonFileJobStore`]: dcc-mcp-core's JSON file, shared with a Python
//!   DCC plugin, at the path [`resolve_checkpoint_path`] gives.
//! - [`save_on_every_call`] (dcc-mcp-core's `checkpoint_every`) and
//!   [`EveryNIterations`] (a counter that saves every N-th call).
//!
//! ```
//! use checkpointer::InMemorySaver;
//! use checkpointer::jobs::{EveryNIterations, JobStore, SaverJobStore};
//! use serde_json::json;
//!
//! let store = SaverJobStore::new(InMemorySaver::new());
//! let start = store.get("render")?.map_or(0, |e| e.context["done"].as_u64().unwrap_or(0));
//! let mut every = EveryNIterations::new(50);
//! for done in start..200 {
//!     // ... render file number `done` ...
//!     every.tick(&store, "render", || json!({"done": done + 1}), || format!("{}/200", done + 1))?;
//! }
//! assert_eq!(store.get("render")?.unwrap().progress_hint, "200/200");
//! # Ok::<(), checkpointer::jobs::JobError>(())
//! ```

mod entry;
mod error;
mod every;
mod file_store;
mod path;
mod saver_store;
mod store;

pub use entry::JobEntry;
pub use error::{JobError, JobResult};
pub use every::{EveryNIterations, save_on_every_call};
pub use file_store::{DEFAULT_LOCK_TIMEOUT, JsonFileJobStore};
pub use path::{
    CHECKPOINT_FILE_NAME, ENV_CHECKPOINT_DIR, ENV_CHECKPOINT_IN_MEMORY, resolve_checkpoint_path,
    resolve_checkpoint_path_in, safe_segment,
};
pub use saver_store::SaverJobStore;
pub use store::JobStore;
