//! `CliError`: everything a command can fail with, as one line for people.

use std::path::PathBuf;

use checkpointer::GraphError;

/// A failed command. Its `Display` is the one line printed after `error: `.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A command that needs an existing database found none.
    #[error(
        "no checkpoint database at {path} (pass --db PATH or set CHECKPOINTER_DB; \
         `checkpointer demo` creates one)"
    )]
    NoDatabase {
        /// The path looked at.
        path: PathBuf,
    },
    /// The thread has no checkpoints.
    #[error("thread {thread:?} not found in {path}")]
    UnknownThread {
        /// The thread asked for.
        thread: String,
        /// The database.
        path: PathBuf,
    },
    /// The checkpoint id is not in the thread.
    #[error("checkpoint {id:?} not found in thread {thread:?}")]
    UnknownCheckpoint {
        /// The thread searched.
        thread: String,
        /// The id asked for.
        id: String,
    },
    /// The thread has no checkpoint in the namespace asked for.
    #[error("thread {thread:?} has no checkpoint in namespace {ns:?}")]
    EmptyNamespace {
        /// The thread.
        thread: String,
        /// The namespace.
        ns: String,
    },
    /// A `--filter` argument is not `key=value` or its key is not plain.
    #[error("invalid --filter {arg:?}: {reason}")]
    BadFilter {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// An `--older-than` argument is not a duration.
    #[error("invalid --older-than {arg:?}: {reason} (use e.g. 30m, 12h, 7d, 2w)")]
    BadDuration {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// `delete` without `--yes`.
    #[error("refusing to delete thread {thread:?} without --yes")]
    NotConfirmed {
        /// The thread.
        thread: String,
    },
    /// `import` into a thread that already has checkpoints.
    #[error(
        "thread {thread:?} already exists in {path}; delete it first or import under \
         another id with --thread NEW_ID"
    )]
    ThreadExists {
        /// The thread.
        thread: String,
        /// The database.
        path: PathBuf,
    },
    /// An import file is not a valid export.
    #[error("{source_name}, line {line}: {reason}")]
    BadImport {
        /// The file (or `<stdin>`).
        source_name: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file or a stream failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The demo did not go as planned.
    #[error("demo: {reason}")]
    Demo {
        /// What went wrong.
        reason: String,
    },
    /// A saver call failed.
    #[error(transparent)]
    Saver(#[from] checkpointer::Error),
    /// The demo graph failed.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl CliError {
    /// An [`CliError::Io`] saying what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }
}

/// A `Result` whose error is [`CliError`].
pub(crate) type CliResult<T> = Result<T, CliError>;
