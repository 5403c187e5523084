//! The errors of job stores.

use std::path::PathBuf;

/// What a [`JobStore`](super::JobStore) call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The job id was empty.
    #[error("{operation}: job_id must not be empty")]
    EmptyJobId {
        /// The call.
        operation: &'static str,
    },
    /// The saver under a [`SaverJobStore`](super::SaverJobStore) failed.
    #[error("{operation} of job {job_id:?}: {source}")]
    Saver {
        /// The call.
        operation: &'static str,
        /// The job (empty for calls on all jobs).
        job_id: String,
        /// The saver's error.
        #[source]
        source: crate::Error,
    },
    /// A thread holds a checkpoint that is not a job save.
    #[error("thread {job_id:?}, checkpoint {checkpoint_id:?} is not a job save: {reason}")]
    NotAJob {
        /// The job (thread).
        job_id: String,
        /// The checkpoint.
        checkpoint_id: String,
        /// What is missing.
        reason: String,
    },
    /// Reading or writing a job file failed.
    #[error("{operation} of {path}: {source}")]
    Io {
        /// The call.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A job store's result.
pub type JobResult<T> = std::result::Result<T, JobError>;

pub(crate) fn check_job_id(operation: &'static str, job_id: &str) -> JobResult<()> {
    if job_id.is_empty() {
        return Err(JobError::EmptyJobId { operation });
    }
    Ok(())
}
