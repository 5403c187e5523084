//! The command line, as clap structs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Inspect and manage the checkpoints of durable graph workflows in a
/// SQLite checkpoint file.
#[derive(Debug, Parser)]
#[command(name = "checkpointer", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The checkpoint database [default: ./checkpoints.db]
    #[arg(long, global = true, env = "CHECKPOINTER_DB", value_name = "PATH")]
    pub(crate) db: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a small graph on the database (thread `demo`): steps, an
    /// interrupt it answers itself and a time-travel fork.
    Demo,
    /// List every thread with its number of checkpoints, last step and last
    /// update time.
    Threads(ThreadsArgs),
    /// The checkpoints of a thread, newest first, with their forks.
    History(HistoryArgs),
    /// The state, metadata, parent and pending writes of one checkpoint.
    Show(ShowArgs),
    /// Which channels differ between two checkpoints of a thread.
    Diff(DiffArgs),
    /// Delete a thread (all its checkpoints and writes).
    Delete(DeleteArgs),
    /// Copy a thread to a new thread.
    Copy(CopyArgs),
    /// Drop old history: whole threads, or all but the latest checkpoints.
    Prune(PruneArgs),
    /// Give unused disk space back (SQLite VACUUM).
    Vacuum(VacuumArgs),
    /// Check the database: integrity, foreign keys, every stored value and
    /// delta chain; exit 1 with a report when anything is wrong.
    Check,
    /// Write a thread as JSON Lines (checkpoints, metadata, writes).
    Export(ExportArgs),
    /// Read a thread written by `export`.
    Import(ImportArgs),
    // issue 11: LangGraph's SQLite files.
    /// Import every thread of a LangGraph `SqliteSaver` file
    /// (langgraph-checkpoint-sqlite 3.x); importing again adds only what is
    /// new.
    ImportLanggraph(super::langgraph::ImportLangGraphArgs),
    /// Write threads into a LangGraph `SqliteSaver` file, which Python
    /// then lists and resumes.
    ExportLanggraph(super::langgraph::ExportLangGraphArgs),
    /// Print a shell completion script (`source <(checkpointer
    /// completions bash)`).
    Completions(CompletionsArgs),
    // issue 14: job progress checkpoints.
    /// Job progress checkpoints (dcc-mcp-core's `CheckpointStore`): list,
    /// get, save, clear.
    Jobs(super::jobs::JobsArgs),
    // issue 12 part 2: the step ledger.
    /// The step ledger (mooncat-checkpoint's): list, get, claim, touch,
    /// done, fail, reset, gc, on a `--url` store.
    Ledger(super::ledger::LedgerArgs),
    // issue 14: the event log.
    /// The event log of agent runs (purpose-agent's checkpointers): a
    /// run's events, its latest snapshot, the runs.
    Events(super::events::EventsArgs),
    // issue 14 part 2: the MCP server.
    /// Serve MCP on stdio: the job tools of dcc-mcp-core and read-only
    /// thread tools (list threads, a thread's history, a checkpoint's
    /// state), for an agent to start as a subprocess.
    #[cfg(feature = "mcp")]
    Mcp(super::mcp::McpArgs),
    // issue 13: the HTTP service and its API keys.
    /// Serve the SnapState-compatible HTTP checkpoint API on the database.
    #[cfg(feature = "server")]
    Serve(super::serve::ServeArgs),
    /// The HTTP service's API keys: create, list, revoke.
    #[cfg(feature = "server")]
    Keys(super::keys::KeysArgs),
    // issue 13: the web page.
    /// Browse the database in a web browser: threads, each thread's
    /// branches, checkpoints and their diffs (read-only, loopback only).
    #[cfg(feature = "server")]
    Ui(super::ui::UiArgs),
}

/// `vacuum`.
#[derive(Debug, Args)]
pub(crate) struct VacuumArgs {
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

/// `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `--yes` and `--dry-run`, shared by the commands that delete.
#[derive(Debug, Args, Clone, Copy)]
pub(crate) struct Destructive {
    /// Do it without asking (needed when not on a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Print exactly what would be removed (threads, checkpoints, bytes)
    /// and remove nothing.
    #[arg(long, conflicts_with = "yes")]
    pub(crate) dry_run: bool,
    /// With --dry-run: the plan as JSON, with exact byte counts.
    #[arg(long, conflicts_with = "yes")]
    pub(crate) json: bool,
}

/// A `--limit`: a positive number (`--limit 0` would show nothing).
fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 would show nothing; leave --limit out to show everything".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// `--json`, shared by read commands.
#[derive(Debug, Args, Clone, Copy)]
pub(crate) struct JsonFlag {
    /// Print machine-readable JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `threads`.
#[derive(Debug, Args)]
pub(crate) struct ThreadsArgs {
    /// Show at most this many threads (most recently updated first).
    #[arg(long, value_name = "N", value_parser = positive)]
    pub(crate) limit: Option<usize>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

/// `history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The thread.
    pub(crate) thread: String,
    /// Only this namespace ("" is the root graph); default: all.
    #[arg(long, value_name = "NS")]
    pub(crate) ns: Option<String>,
    /// Only checkpoints older than this checkpoint (an id or a prefix).
    #[arg(long, value_name = "ID")]
    pub(crate) before: Option<String>,
    /// At most this many checkpoints.
    #[arg(long, value_name = "N", value_parser = positive)]
    pub(crate) limit: Option<usize>,
    /// Only checkpoints whose metadata has key = value (repeatable; values
    /// are JSON if they parse, else strings: `source=loop`, `step=2`).
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) filter: Vec<String>,
    /// Draw the branches as a tree, like `git log --graph`, the latest
    /// checkpoint of each branch marked.
    #[arg(long)]
    pub(crate) graph: bool,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

/// `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The thread.
    pub(crate) thread: String,
    /// The checkpoint (any unambiguous prefix of its id); default: the
    /// latest.
    pub(crate) checkpoint_id: Option<String>,
    /// The namespace; default: the root ("") for the latest, else wherever
    /// the id is.
    #[arg(long, value_name = "NS")]
    pub(crate) ns: Option<String>,
    /// Also the graph's internal channels (`branch:to:*`, `__start__`,
    /// `__pregel_tasks`) and every pending write.
    #[arg(long)]
    pub(crate) all: bool,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

/// `diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The thread.
    pub(crate) thread: String,
    /// The first (usually older) checkpoint (an id or a prefix).
    pub(crate) a: String,
    /// The second checkpoint; default: the latest of the thread.
    pub(crate) b: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

/// `delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The thread.
    pub(crate) thread: String,
    #[command(flatten)]
    pub(crate) confirm: Destructive,
}

/// `copy`.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// The thread to copy.
    pub(crate) source: String,
    /// The new thread (must not exist).
    pub(crate) target: String,
}

/// `prune`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["threads", "all"]))]
pub(crate) struct PruneArgs {
    /// The threads to prune.
    pub(crate) threads: Vec<String>,
    /// Prune every thread.
    #[arg(long)]
    pub(crate) all: bool,
    /// Keep the latest checkpoint of each namespace instead of deleting
    /// whole threads.
    #[arg(long)]
    pub(crate) keep_latest: bool,
    /// Only what is older than this (`30m`, `12h`, `7d`, `2w`): with
    /// --keep-latest, checkpoints older than that; without, threads whose
    /// latest checkpoint is older than that.
    #[arg(long, value_name = "AGE")]
    pub(crate) older_than: Option<String>,
    #[command(flatten)]
    pub(crate) confirm: Destructive,
}

/// `export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The thread.
    pub(crate) thread: String,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// `import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The export to read; default (or `-`): standard input.
    pub(crate) file: Option<PathBuf>,
    /// Import under this thread id instead of the exported one.
    #[arg(long, value_name = "ID")]
    pub(crate) thread: Option<String>,
}
