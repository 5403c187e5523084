//! `import-langgraph` and `export-langgraph`: threads from and to a SQLite
//! file of LangGraph's `SqliteSaver` (`langgraph-checkpoint-sqlite` 3.x),
//! through [`checkpointer::saver::langgraph_sqlite`]. This module only
//! picks the files and prints.

use std::path::{Path, PathBuf};

use checkpointer::CheckpointAdmin;
use checkpointer::saver::langgraph_sqlite::{LangGraphSqliteFile, export_threads, import_file};
use clap::Args;

use super::error::CliResult;
use super::fmt::{bytes, count, escape};
use super::ids::require_thread;
use super::manage::progress;

/// `import-langgraph`.
#[derive(Debug, Args)]
pub(crate) struct ImportLangGraphArgs {
    /// The SQLite file of LangGraph's `SqliteSaver` to read (opened
    /// read-only).
    pub(crate) file: PathBuf,
}

/// `export-langgraph`.
#[derive(Debug, Args)]
pub(crate) struct ExportLangGraphArgs {
    /// The threads to write.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub(crate) threads: Vec<String>,
    /// Write every thread of the database.
    #[arg(long)]
    pub(crate) all: bool,
    /// The LangGraph SQLite file to write (created with Python's tables if
    /// missing; rows of the same checkpoints are replaced).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

/// The bytes a SQLite file takes on disk, with its WAL file.
fn disk_size(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.as_os_str().to_owned(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// `import-langgraph FILE`.
pub(crate) fn import(path: &Path, args: &ImportLangGraphArgs) -> CliResult<()> {
    let file = LangGraphSqliteFile::open(&args.file)?;
    let total = file.checkpoint_count()?;
    let file_size = disk_size(&args.file);
    let db_before = disk_size(path);
    let saver = super::open::open_or_create(path)?;
    let bar = progress(
        usize::try_from(total).unwrap_or(usize::MAX),
        "importing checkpoints",
    );
    let done = import_file(&*saver, &file, &mut |n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    drop(saver);
    outln!(
        "imported {} ({}, {}) from {} into {}{}",
        count(done.threads as u64, "thread", "threads"),
        count(done.checkpoints as u64, "checkpoint", "checkpoints"),
        count(done.writes as u64, "pending write", "pending writes"),
        args.file.display(),
        path.display(),
        if done.unchanged_threads > 0 {
            format!(
                "; {} already there in full",
                count(done.unchanged_threads as u64, "thread was", "threads were")
            )
        } else {
            String::new()
        }
    );
    outln!(
        "sizes: {} {}; {} {} before, {} after",
        args.file.display(),
        bytes(file_size),
        path.display(),
        bytes(db_before),
        bytes(disk_size(path))
    );
    Ok(())
}

/// `export-langgraph THREAD... --out FILE` (or `--all`).
pub(crate) fn export(
    saver: &dyn CheckpointAdmin,
    path: &Path,
    args: &ExportLangGraphArgs,
) -> CliResult<()> {
    let threads: Vec<String> = if args.all {
        saver
            .threads(None)?
            .into_iter()
            .map(|t| t.thread_id)
            .collect()
    } else {
        for thread in &args.threads {
            require_thread(saver, path, thread)?;
        }
        args.threads.clone()
    };
    let mut file = LangGraphSqliteFile::create(&args.out)?;
    let bar = progress(threads.len(), "exporting threads");
    let n = export_threads(saver, &threads, &mut file, &mut |n| {
        bar.set_position(n as u64);
    })?;
    bar.finish_and_clear();
    drop(file);
    outln!(
        "exported {} ({}) to {} ({}; {} is {})",
        count(threads.len() as u64, "thread", "threads"),
        count(n as u64, "checkpoint", "checkpoints"),
        args.out.display(),
        bytes(disk_size(&args.out)),
        path.display(),
        bytes(disk_size(path))
    );
    if threads.is_empty() {
        eprintln!(
            "note: {} has no threads",
            escape(&path.display().to_string())
        );
    }
    Ok(())
}
