//! The `checkpointer` command-line tool: one module per command group.

/// `println!` to standard output that fails the command with
/// [`CliError::Io`](error::CliError::Io) instead of panicking when stdout
/// is closed (`checkpointer history t | head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
            .map_err($crate::cli::error::CliError::io("write standard output"))?
    }};
}

/// `print!` to standard output, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)
            .map_err($crate::cli::error::CliError::io("write standard output"))?
    }};
}

pub(crate) mod args;
mod check;
mod confirm;
mod demo;
mod diff;
pub(crate) mod error;
mod fmt;
mod history;
mod ids;
// issue 14: job progress checkpoints.
mod jobs;
// issue 11: LangGraph's SQLite files.
mod langgraph;
// issue 12 part 2: the step ledger.
mod ledger;
// issue 14: the event log.
mod events;
// issue 13: the HTTP service and its API keys.
#[cfg(feature = "server")]
mod keys;
mod manage;
// issue 14 part 2: the MCP server.
#[cfg(feature = "mcp")]
mod mcp;
mod open;
#[cfg(feature = "server")]
mod serve;
mod show;
mod status;
mod table;
mod transfer;
// issue 13: the web page.
#[cfg(feature = "server")]
mod ui;

use args::{Cli, Command};
use error::CliResult;

/// Runs one parsed command line. Only `demo`, `import` and `import-langgraph` may create the
/// database; every other command opens an existing one.
pub(crate) fn run(cli: &Cli) -> CliResult<()> {
    if let Command::Completions(args) = &cli.command {
        return completions(args.shell);
    }
    // issue 12 part 2: the ledger has its own --url, not --db.
    if let Command::Ledger(args) = &cli.command {
        return ledger::ledger(args);
    }
    let path = open::db_path(cli.db.as_deref());
    let path = path.as_path();
    let existing = || open::open_existing(path);
    match &cli.command {
        Command::Demo => demo::demo(path),
        Command::Import(args) => transfer::import(&*open::open_or_create(path)?, path, args),
        Command::Threads(args) => history::threads(&*existing()?, args),
        Command::History(args) => history::history(&*existing()?, path, args),
        Command::Show(args) => show::show(&*existing()?, path, args),
        Command::Diff(args) => diff::diff(&*existing()?, path, args),
        Command::Delete(args) => manage::delete(&*existing()?, path, args),
        Command::Copy(args) => manage::copy(&*existing()?, path, args),
        Command::Prune(args) => manage::prune(&*existing()?, path, args),
        Command::Vacuum(args) => manage::vacuum(&*existing()?, path, args.out.json),
        Command::Check => check::check(&*existing()?, path),
        Command::Export(args) => transfer::export(&*existing()?, path, args),
        // issue 11: LangGraph's SQLite files.
        Command::ImportLanggraph(args) => langgraph::import(path, args),
        Command::ExportLanggraph(args) => langgraph::export(&*existing()?, path, args),
        Command::Completions(_) | Command::Ledger(_) => Ok(()),
        // issue 14: job progress checkpoints.
        Command::Jobs(args) => jobs::jobs(path, args),
        // issue 14: the event log.
        Command::Events(args) => events::events(path, args),
        // issue 14 part 2: the MCP server.
        #[cfg(feature = "mcp")]
        Command::Mcp(args) => mcp::mcp(cli.db.as_deref(), path, args),
        // issue 13: the HTTP service and its API keys.
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::serve_command(path, args),
        #[cfg(feature = "server")]
        Command::Keys(args) => keys::keys(path, args),
        // issue 13: the web page.
        #[cfg(feature = "server")]
        Command::Ui(args) => ui::ui(existing()?, path, args),
    }
}

/// `completions SHELL`: the completion script on standard output.
fn completions(shell: clap_complete::Shell) -> CliResult<()> {
    use clap::CommandFactory as _;
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "checkpointer", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(())
}
