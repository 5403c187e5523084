//! The errors of event logs.

use std::path::PathBuf;

use crate::saver::BoxError;

/// What an [`EventLog`](super::EventLog) call can fail with.
///
/// Each variant names the run (and lane, sequence number, file) it was
/// working on. A call refused with `EmptyRunId`, `InvalidSeq` or
/// `DuplicateSeq` has changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The run id was empty.
    #[error("{operation}: run_id must not be empty")]
    EmptyRunId {
        /// The call.
        operation: &'static str,
    },
    /// An event with sequence number 0: numbers start at 1, since
    /// `list_events(run, 0)` keeps `seq > 0` and would never return it.
    #[error("run {run_id:?}, lane {lane_id:?}: seq must be at least 1 (got 0)")]
    InvalidSeq {
        /// The run.
        run_id: String,
        /// The lane.
        lane_id: String,
    },
    /// The run already has an event with this lane and sequence number.
    #[error("run {run_id:?}, lane {lane_id:?} already has an event with seq {seq}")]
    DuplicateSeq {
        /// The run.
        run_id: String,
        /// The lane.
        lane_id: String,
        /// The sequence number.
        seq: u64,
    },
    /// A stored event or snapshot could not be read.
    #[error("run {run_id:?}: {location} is corrupt: {reason}")]
    Corrupt {
        /// The run.
        run_id: String,
        /// Where: a file and line, or a table row.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{operation} of {path}: {source}")]
    Io {
        /// The call.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A database engine failed.
    #[error("{backend}: {operation}: {source}")]
    Backend {
        /// The backend (`"sqlite"`, `"postgres"`).
        backend: &'static str,
        /// What the log was doing.
        operation: String,
        /// The engine's error.
        #[source]
        source: BoxError,
    },
    /// An event log URL that names no backend this build has.
    #[error("event log URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why it was refused.
        reason: String,
    },
}

impl EventError {
    /// A driver's error as [`EventError::Backend`].
    pub fn backend(
        backend: &'static str,
        operation: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        EventError::Backend {
            backend,
            operation: operation.into(),
            source: source.into(),
        }
    }

    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| EventError::Io {
            operation,
            path,
            source,
        }
    }
}

/// An event log's result.
pub type EventResult<T> = std::result::Result<T, EventError>;
