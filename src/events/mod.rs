//! An event log with snapshots: an agent run appends its events (model
//! request and response, tool call and result, state deltas, approvals)
//! with a sequence number, saves a snapshot of its state now and then,
//! and after a crash loads the latest snapshot and the events after it.
//!
//! This is purpose-agent's checkpointer (3.0.1), in its shapes and files:
//!
//! - [`EventLog`]: the contract (its `# Contract` section: sequence numbers
//!   from 1, one `since_seq` rule, unique `(run, lane, seq)`).
//! - [`Event`] (purpose-agent's `PAEvent`, 27 [`EventKind`]s) and
//!   [`RunState`] (its `RunState`), unknown keys kept.
//! - Backends: [`MemoryEventLog`], [`JsonlEventLog`] (purpose-agent's
//!   directory layout), `SqliteEventLog` (its tables, in WAL mode; feature
//!   `sqlite`), `PostgresEventLog` (feature `postgres`); [`open_event_log`]
//!   picks one by URL.
//! - [`AsyncEventLog`]: any of them from async code.
//!
//! ```
//! use checkpointer::events::{Event, EventKind, EventLog, JsonlEventLog, RunState, RunStatus};
//! use serde_json::json;
//!
//! let dir = tempfile::tempdir()?;
//! let log = JsonlEventLog::open(dir.path())?;
//! log.save_event(&Event::new("run-1", EventKind::ModelRequest).with_seq(1))?;
//! log.save_event(&Event::new("run-1", EventKind::ModelResponse).with_seq(2)
//!     .with_payload(json!({"text": "hello"})))?;
//! let mut state = RunState::new("run-1");
//! state.status = RunStatus::Running;
//! log.save_snapshot("run-1", &state)?;
//!
//! // purpose-agent's JSONLCheckpointer(dir) reads the same files.
//! assert!(dir.path().join("run-1/events.jsonl").exists());
//! assert_eq!(log.load_latest("run-1")?.unwrap().status, RunStatus::Running);
//! assert_eq!(log.list_events("run-1", 1)?[0].payload["text"], "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod async_log;
mod error;
mod event;
mod jsonl;
mod kind;
mod log;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod pyjson;
mod run_dir;
#[cfg(feature = "sqlite")]
mod sqlite;
mod state;
mod url;

pub use async_log::AsyncEventLog;
pub use error::{EventError, EventResult};
pub use event::{Event, MAIN_LANE, new_span_id};
pub use jsonl::{EVENTS_FILE, JsonlEventLog, RUN_ID_FILE, SNAPSHOT_FILE};
pub use kind::{EventKind, Visibility};
pub use log::{EventLog, check_event, check_run_id, duplicate, select_since};
pub use memory::MemoryEventLog;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresEventLog;
pub use run_dir::run_dir_name;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteEventLog;
pub use state::{NodeState, RunState, RunStatus};
pub use url::open_event_log;
