//! `mcp`: an MCP server on stdio over the database (`--db`, SQLite or
//! `postgres://`) or a dcc-mcp-core job file (`--json-file`). Standard
//! output carries the protocol only; messages go to standard error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use checkpointer::jobs::{JsonFileJobStore, SaverJobStore};
use checkpointer::mcp::McpServer;
use clap::Args;

use super::error::{CliError, CliResult};
use super::open;

/// `mcp`.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Serve the job tools over this dcc-mcp-core checkpoint file
    /// (`checkpoints.json`) instead of the database; the thread tools are
    /// there only if --db is given too.
    #[arg(long, value_name = "PATH")]
    pub(crate) json_file: Option<PathBuf>,
}

/// The variable that sets how much the server logs (`error`, `warn`,
/// `info`, `debug`, `trace`; default `warn`).
const LOG_ENV: &str = "CHECKPOINTER_LOG";

/// Log lines go to standard error (standard output is the protocol's):
/// failed tool calls at `warn`, the session at `info` and below.
fn log_to_stderr() {
    let level = std::env::var(LOG_ENV)
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    let _already_set = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .try_init();
}

/// Runs the server until the client closes standard input. `db_given` is
/// `--db` (or `CHECKPOINTER_DB`) as given; `path` the database to use.
pub(crate) fn mcp(db_given: Option<&Path>, path: &Path, args: &McpArgs) -> CliResult<()> {
    log_to_stderr();
    let server = match (&args.json_file, db_given) {
        (Some(file), None) => {
            eprintln!(
                "checkpointer mcp: job tools over {} on stdio",
                file.display()
            );
            McpServer::new(Arc::new(JsonFileJobStore::new(file)))
        }
        (file, _) => {
            let saver = open::open_existing(path)?;
            let server = match file {
                Some(file) => McpServer::new(Arc::new(JsonFileJobStore::new(file))),
                None => McpServer::new(Arc::new(SaverJobStore::new(Arc::clone(&saver)))),
            };
            eprintln!("checkpointer mcp: serving {} on stdio", shown(path));
            server.with_threads(saver)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::io("start the async runtime"))?;
    runtime.block_on(server.serve_stdio())?;
    Ok(())
}

/// The database for a message: a PostgreSQL URL without its password.
fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    match text.split_once("://") {
        Some((scheme, rest)) if scheme.starts_with("postgres") => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{host}")
        }
        _ => text,
    }
}
