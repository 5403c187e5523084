//! Where the database is, and opening it (never creating it for commands
//! that only read): the one module of the tool that names a backend
//! (SQLite files; PostgreSQL servers for `postgres://` URLs with the
//! `postgres` feature). Every
//! command works on what it returns, through `BaseCheckpointSaver` and
//! `CheckpointAdmin` only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use checkpointer::{CheckpointAdmin, SqliteOptions, SqliteSaver};

use super::error::{CliError, CliResult};

/// The default database file, in the current directory.
pub(crate) const DEFAULT_DB: &str = "checkpoints.db";

/// `--db`, else `CHECKPOINTER_DB` (clap reads both), else `./checkpoints.db`.
pub(crate) fn db_path(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| PathBuf::from(DEFAULT_DB), Path::to_path_buf)
}

/// A small pool: the tool makes one call at a time.
fn options() -> SqliteOptions {
    SqliteOptions::new().with_pool_size(1)
}

/// Whether `--db` names a PostgreSQL server (`postgres://` or
/// `postgresql://`) rather than a SQLite file.
fn is_postgres_url(path: &Path) -> bool {
    path.to_str()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Opens the PostgreSQL database at `url` (LangGraph's schema, set up if
/// missing: a server database is never "a missing file").
#[cfg(feature = "postgres")]
fn open_postgres(url: &Path) -> CliResult<Arc<dyn CheckpointAdmin>> {
    let url = url.to_string_lossy();
    let options = checkpointer::PostgresOptions::new().with_pool_size(1);
    Ok(Arc::new(checkpointer::PostgresSaver::open_with(
        &url, options,
    )?))
}

/// Without the `postgres` feature a server URL is an error that says how
/// to get one.
#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &Path) -> CliResult<Arc<dyn CheckpointAdmin>> {
    Err(CliError::NoPostgres)
}

/// Opens an existing database; a missing file is [`CliError::NoDatabase`].
/// `--db postgres://…` opens a PostgreSQL server instead.
pub(crate) fn open_existing(path: &Path) -> CliResult<Arc<dyn CheckpointAdmin>> {
    if is_postgres_url(path) {
        return open_postgres(path);
    }
    match SqliteSaver::open_existing(path, options()) {
        Ok(saver) => Ok(Arc::new(saver)),
        Err(checkpointer::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Err(CliError::NoDatabase {
                path: path.to_path_buf(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens the database, creating it if missing (`demo`, `import`).
pub(crate) fn open_or_create(path: &Path) -> CliResult<Arc<dyn CheckpointAdmin>> {
    if is_postgres_url(path) {
        return open_postgres(path);
    }
    Ok(Arc::new(SqliteSaver::open_with(path, options())?))
}
