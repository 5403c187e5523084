//! `check`: is the database sound? Integrity and foreign keys (SQLite),
//! then every checkpoint read back (values decoded, delta chains
//! resolved, writes decoded). Prints a report; exit 1 when anything is
//! wrong. Changes nothing.

use std::path::Path;

use checkpointer::CheckpointAdmin;

use super::error::CliResult;

/// Runs the check and prints its report; a problem is an error (exit 1).
pub(crate) fn check(saver: &dyn CheckpointAdmin, path: &Path) -> CliResult<()> {
    let report = saver.check()?;
    // Problems quote stored ids and values: no control character reaches
    // the terminal raw.
    let text: String = report
        .to_string()
        .chars()
        .flat_map(|c| {
            let raw = c == '\n' || !c.is_control();
            if raw {
                vec![c]
            } else {
                c.escape_unicode().collect()
            }
        })
        .collect();
    outln!("{}: {text}", path.display());
    if report.is_ok() {
        return Ok(());
    }
    Err(checkpointer::Error::CheckFailed {
        database: path.to_path_buf(),
        problems: report.problems,
    }
    .into())
}
