//! The `checkpointer` command-line tool: one module per command group.

pub(crate) mod args;
mod demo;
mod diff;
pub(crate) mod error;
mod history;
mod manage;
mod open;
mod show;
mod table;
mod transfer;

use args::{Cli, Command};
use error::CliResult;

/// Runs one parsed command line.
pub(crate) fn run(cli: Cli) -> CliResult<()> {
    let path = open::db_path(cli.db.as_deref());
    let path = path.as_path();
    match &cli.command {
        Command::Demo => demo::demo(path),
        Command::Import(args) => transfer::import(&open::open_or_create(path)?, path, args),
        command => {
            let saver = open::open_existing(path)?;
            match command {
                Command::Threads(args) => history::threads(&saver, args),
                Command::History(args) => history::history(&saver, path, args),
                Command::Show(args) => show::show(&saver, path, args),
                Command::Diff(args) => diff::diff(&saver, path, args),
                Command::Delete(args) => manage::delete(&saver, path, args),
                Command::Copy(args) => manage::copy(&saver, path, args),
                Command::Prune(args) => manage::prune(&saver, path, args),
                Command::Vacuum => manage::vacuum(&saver, path),
                Command::Export(args) => transfer::export(&saver, path, args),
                Command::Demo | Command::Import(_) => unreachable!("handled above"),
            }
        }
    }
}
