//! Choosing an event log backend by URL.

use std::sync::Arc;

use super::error::{EventError, EventResult};
use super::jsonl::JsonlEventLog;
use super::log::EventLog;
use super::memory::MemoryEventLog;

/// Opens the event log a URL names:
///
/// | URL | backend |
/// |---|---|
/// | `memory://` | [`MemoryEventLog`] (a new, empty one) |
/// | `jsonl://DIR` | [`JsonlEventLog`] on directory `DIR` |
/// | `sqlite://PATH` | `SqliteEventLog` on file `PATH` (feature `sqlite`) |
/// | `postgres://…`, `postgresql://…` | `PostgresEventLog` (feature `postgres`) |
///
/// The path is the text after the scheme, as mooncat-checkpoint reads it:
/// `jsonl:///abs/dir` is `/abs/dir`, `sqlite://./x.db` is `./x.db`.
///
/// ```
/// use checkpointer::events::{Event, EventKind, open_event_log};
///
/// let dir = tempfile::tempdir()?;
/// let log = open_event_log(&format!("jsonl://{}", dir.path().display()))?;
/// log.save_event(&Event::new("run-1", EventKind::RunStarted))?;
/// assert_eq!(log.list_events("run-1", 0)?.len(), 1);
/// assert!(open_event_log("ftp://x").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_event_log(url: &str) -> EventResult<Arc<dyn EventLog>> {
    let refuse = |reason: &str| EventError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        refuse("expected SCHEME://…: memory://, jsonl://DIR, sqlite://PATH or postgres://…")
    })?;
    match scheme {
        "memory" if rest.is_empty() => Ok(Arc::new(MemoryEventLog::new())),
        "memory" => Err(refuse("memory:// takes nothing after the scheme")),
        "jsonl" | "sqlite" if rest.is_empty() => Err(refuse("the URL names no path")),
        "jsonl" => Ok(Arc::new(JsonlEventLog::open(rest)?)),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Arc::new(super::sqlite::SqliteEventLog::open(rest)?)),
        #[cfg(not(feature = "sqlite"))]
        "sqlite" => Err(refuse("this build has no SQLite (feature `sqlite`)")),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(super::postgres::PostgresEventLog::open(url)?)),
        #[cfg(not(feature = "postgres"))]
        "postgres" | "postgresql" => {
            Err(refuse("this build has no PostgreSQL (feature `postgres`)"))
        }
        _ => Err(refuse(
            "unknown scheme: expected memory, jsonl, sqlite or postgres",
        )),
    }
}
