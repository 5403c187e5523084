//! Where the database is, and opening it (never creating it for commands
//! that only read): the one module of the tool that names a backend. Every
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

/// Opens an existing database; a missing file is [`CliError::NoDatabase`].
pub(crate) fn open_existing(path: &Path) -> CliResult<Arc<dyn CheckpointAdmin>> {
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
    Ok(Arc::new(SqliteSaver::open_with(path, options())?))
}
