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
    #[error("thread {} not found in {}{}", quoted(thread), path.display(), did_you_mean(suggestions))]
    UnknownThread {
        /// The thread asked for.
        thread: String,
        /// The database.
        path: PathBuf,
        /// The closest existing thread ids.
        suggestions: Vec<String>,
    },
    /// A checkpoint id prefix names several checkpoints.
    #[error(
        "checkpoint id prefix {prefix:?} is ambiguous in thread {}: it names {candidates} \
         (give more characters)",
        quoted(thread)
    )]
    AmbiguousCheckpoint {
        /// The thread searched.
        thread: String,
        /// The prefix given.
        prefix: String,
        /// The ids it names.
        candidates: String,
    },
    /// The checkpoint id is not in the thread.
    #[error("checkpoint {id:?} not found in thread {}", quoted(thread))]
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
    /// A deleting command without `--yes`, not on a terminal.
    #[error(
        "refusing to {what} without --yes (not on a terminal, so no question asked; \
         --dry-run lists what would go)"
    )]
    NotConfirmed {
        /// What it would do ("delete 1 thread (6 checkpoints, 2.1 KiB)").
        what: String,
    },
    /// `--json` on a deleting command without `--dry-run`.
    #[error("--json goes with --dry-run (what would be removed, as JSON); nothing was removed")]
    JsonNeedsDryRun,
    /// The question on the terminal was not answered yes.
    #[error("aborted: nothing was removed")]
    Aborted,
    /// `prune --all` with neither `--keep-latest` nor `--older-than`.
    #[error(
        "refusing `prune --all` without --keep-latest or --older-than: it would delete every \
         thread; add --keep-latest (keep each thread's latest checkpoint), --older-than AGE \
         (only threads idle that long), or name the threads"
    )]
    PruneEverything,
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
    /// `--db postgres://…` in a build without the `postgres` feature.
    #[cfg(not(feature = "postgres"))]
    #[error(
        "--db names a PostgreSQL server, but this checkpointer was built without the `postgres` feature (cargo install --features postgres)"
    )]
    NoPostgres,
    #[error(transparent)]
    Saver(#[from] checkpointer::Error),
    // issue 14 (jobs): the `jobs` commands.
    /// A job store failed.
    #[error(transparent)]
    Jobs(#[from] checkpointer::jobs::JobError),
    /// `jobs get` or `jobs clear` of a job that has no save.
    #[error("job {} not found in {}", quoted(job), place.display())]
    UnknownJob {
        /// The job.
        job: String,
        /// The database or file.
        place: PathBuf,
    },
    /// `jobs save --state` that is not JSON.
    #[error("jobs save {}: --state is not JSON: {reason}", quoted(job))]
    BadJobState {
        /// The job.
        job: String,
        /// The parser's message.
        reason: String,
    },
    // issue 14 (event log): the `events` commands.
    /// An event log failed.
    #[error(transparent)]
    Events(#[from] checkpointer::events::EventError),
    /// `events` on a file or directory that does not exist.
    #[error("no event log at {url} (pass --url jsonl://DIR, sqlite://PATH or postgres://…)")]
    NoEventLog {
        /// The URL.
        url: String,
    },
    /// `events snapshot` of a run that has none.
    #[error("run {} has no snapshot in {url}", quoted(run))]
    UnknownRun {
        /// The run.
        run: String,
        /// The event log.
        url: String,
    },
    /// The demo graph failed.
    #[error(transparent)]
    Graph(#[from] GraphError),
    // issue 12 part 2 (the step ledger): the `ledger` commands.
    /// A step ledger call failed.
    #[error(transparent)]
    Ledger(#[from] checkpointer::ledger::LedgerError),
    /// A `ledger` command found no record, no lease, or a bad argument.
    #[error("ledger {command} {step}: {reason}")]
    LedgerStep {
        /// The subcommand.
        command: &'static str,
        /// `namespace/key`.
        step: String,
        /// What is wrong.
        reason: String,
    },
    // issue 14 part 2: `checkpointer mcp`.
    /// The MCP session failed.
    #[cfg(feature = "mcp")]
    #[error(transparent)]
    Mcp(#[from] checkpointer::mcp::ServeError),
}

impl CliError {
    /// An [`CliError::Io`] saying what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }
}

/// A thread id for an error message: escaped, in quotes.
fn quoted(thread: &str) -> String {
    format!("{thread:?}")
}

/// `"; did you mean \"a\" or \"b\"?"`, or nothing.
fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean {one:?}?"),
        [first @ .., last] => {
            let first: Vec<String> = first.iter().map(|s| format!("{s:?}")).collect();
            format!("; did you mean {} or {last:?}?", first.join(", "))
        }
    }
}

/// A `Result` whose error is [`CliError`].
pub(crate) type CliResult<T> = Result<T, CliError>;
