//! `export` and `import`: a thread as JSON Lines, in the format of
//! [`checkpointer::saver::export`] (which documents it). This module only
//! picks the files and prints.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use checkpointer::CheckpointAdmin;
use checkpointer::saver::export::{
    EXPORT_VERSION, ExportError, ExportedThread, export_thread, read_export,
};

use super::args::{ExportArgs, ImportArgs};
use super::error::{CliError, CliResult};
use super::fmt::{count, escape, quoted};
use super::ids::require_thread;
use super::manage::progress;

/// Writes thread `thread` of `saver` to `out`; every failure is an
/// [`CliError::Io`] saying `what` (a saver error too, as it always was).
fn write_to(
    saver: &dyn CheckpointAdmin,
    thread: &str,
    out: impl Write,
    what: &str,
) -> CliResult<usize> {
    export_thread(saver, thread, out).map_err(|e| {
        let source = match e {
            ExportError::Io(e) => e,
            other => std::io::Error::other(other),
        };
        CliError::Io {
            what: what.to_owned(),
            source,
        }
    })
}

/// `export THREAD [--out FILE]`.
pub(crate) fn export(saver: &dyn CheckpointAdmin, path: &Path, args: &ExportArgs) -> CliResult<()> {
    require_thread(saver, path, &args.thread)?;
    if let Some(file) = &args.out {
        let what = format!("write {}", file.display());
        let f = File::create(file).map_err(CliError::io(what.clone()))?;
        let n = write_to(saver, &args.thread, BufWriter::new(f), &what)?;
        eprintln!(
            "exported thread {} ({}) to {}",
            quoted(&args.thread),
            count(n as u64, "checkpoint", "checkpoints"),
            file.display()
        );
    } else {
        let stdout = std::io::stdout();
        let out = BufWriter::new(stdout.lock());
        write_to(saver, &args.thread, out, "write standard output")?;
    }
    Ok(())
}

/// Reads an export, naming `source_name` in errors.
fn read_from(reader: impl BufRead, source_name: &str) -> CliResult<ExportedThread> {
    read_export(reader).map_err(|e| match e {
        ExportError::BadLine { line, reason } => CliError::BadImport {
            source_name: source_name.to_owned(),
            line,
            reason,
        },
        ExportError::Io(source) => CliError::Io {
            what: format!("read {source_name}"),
            source,
        },
        ExportError::Saver(e) => CliError::Saver(e),
        other => CliError::Io {
            what: format!("read {source_name}"),
            source: std::io::Error::other(other),
        },
    })
}

/// `import [FILE] [--thread ID]`.
pub(crate) fn import(saver: &dyn CheckpointAdmin, path: &Path, args: &ImportArgs) -> CliResult<()> {
    let export = match args.file.as_deref().filter(|f| *f != Path::new("-")) {
        Some(file) => {
            let name = file.display().to_string();
            let f = File::open(file).map_err(CliError::io(format!("open {name}")))?;
            read_from(BufReader::new(f), &name)?
        }
        None => read_from(std::io::stdin().lock(), "<stdin>")?,
    };
    if export.version < EXPORT_VERSION {
        eprintln!(
            "warning: this export is format version {} (no trailer): whether it is complete \
             cannot be checked",
            export.version
        );
    }
    let thread = args.thread.clone().unwrap_or(export.thread_id);
    if saver.has_thread(&thread)? {
        return Err(CliError::ThreadExists {
            thread: escape(&thread),
            path: path.to_path_buf(),
        });
    }
    let tuples = export.tuples;
    let bar = progress(tuples.len(), "importing checkpoints");
    saver.import_thread(&thread, &tuples, &mut |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    outln!(
        "imported thread {} ({}) into {}",
        quoted(&thread),
        count(tuples.len() as u64, "checkpoint", "checkpoints"),
        path.display()
    );
    Ok(())
}
