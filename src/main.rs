//! `checkpointer`: inspect and manage the checkpoints of durable graph
//! workflows in a SQLite checkpoint file. `checkpointer --help` lists the
//! commands; `checkpointer demo` makes a thread to look at.
#![warn(missing_docs)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    match cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): nothing to report.
        Err(cli::error::CliError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
